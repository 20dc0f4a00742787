//! Persistence in the data directory: small JSON files, written atomically.
//! Without a data directory everything lives in memory only.
//!
//! Everything in the data directory is private to the user running the
//! emulator: files are written `0600` (through a temporary file, flushed,
//! renamed, and the directory flushed: `entra_core::fs::write_private`) and
//! directories are `0700`. The data directory is the emulator's own: one
//! that exists with looser permissions is tightened at start (with a
//! warning), which also covers files an older version wrote readable; a
//! shared directory such as `/tmp` itself is refused.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// Writes `bytes` to `path` as a private file (`0600`), through a temporary
/// file and a rename, so a crash never leaves a half-written file.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    entra_core::fs::write_private(path, bytes).map_err(|e| Error::storage(path, e))
}

/// Creates `dir` (and its missing parents) `0700`, or makes the existing
/// directory private, saying so.
pub(crate) fn private_dir(dir: &Path) -> Result<(), Error> {
    match entra_core::fs::make_dir_private(dir) {
        Ok(None) => Ok(()),
        Ok(Some(mode)) => {
            tracing::warn!(
                dir = %dir.display(),
                was = format_args!("{mode:o}"),
                "data directory was readable by other users; made private (0700)"
            );
            Ok(())
        }
        Err(e) => Err(Error::storage(dir, e)),
    }
}

/// A value persisted as one JSON file (or kept in memory).
#[derive(Debug)]
pub(crate) struct JsonFile<T> {
    path: Option<PathBuf>,
    value: Mutex<T>,
}

impl<T: Serialize + DeserializeOwned + Default> JsonFile<T> {
    /// Loads `dir/name`, or starts from the default value.
    pub(crate) fn load(dir: Option<&Path>, name: &str) -> Result<Self, Error> {
        let path = dir.map(|d| d.join(name));
        let value = match &path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => serde_json::from_str(&text).map_err(|e| Error::unreadable(path, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
                Err(e) => return Err(Error::storage(path, e)),
            },
            None => T::default(),
        };
        Ok(JsonFile {
            path,
            value: Mutex::new(value),
        })
    }

    /// Reads the value.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the value and saves it before returning.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, Error> {
        let mut value = self.lock();
        let result = f(&mut value);
        if let Some(path) = &self.path {
            let text = serde_json::to_vec(&*value).map_err(|e| Error::storage(path, e.into()))?;
            write_atomically(path, &text)?;
        }
        Ok(result)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, T> {
        self.value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn an_unreadable_file_is_a_storage_error_naming_it() {
        let dir = std::env::temp_dir().join(format!(
            "entra-emulator-store-{}",
            crate::util::random_guid()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("values.json"), "not json").unwrap();
        let loaded = JsonFile::<Vec<u32>>::load(Some(&dir), "values.json");
        let _ = std::fs::remove_dir_all(&dir);
        let Err(Error::Storage { path, source }) = loaded else {
            panic!("not a storage error: {loaded:?}");
        };
        assert_eq!(path, dir.join("values.json"));
        assert_eq!(source.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            source
                .get_ref()
                .is_some_and(|e| e.is::<serde_json::Error>())
        );
    }
}
