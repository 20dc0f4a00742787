//! Private files: what the emulator and the demo keep on disk (signing keys,
//! TLS keys, refresh tokens, the administration journal, sessions) is
//! readable by its owner only.
//!
//! On Unix, files are created with mode `0600` and directories with `0700`;
//! elsewhere they get the platform's defaults. [`write_private`] replaces a
//! file atomically and durably: a temporary file in the same directory,
//! written and flushed to disk, renamed over the target, then the directory
//! flushed so the rename itself survives a crash.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join(format!("entra-core-doc-{}", entra_core::random_guid().map_err(|_| std::io::Error::other("no random"))?));
//! entra_core::fs::make_dir_private(&dir)?;
//! entra_core::fs::write_private(&dir.join("secret.json"), b"{}")?;
//! assert_eq!(std::fs::read(dir.join("secret.json"))?, b"{}");
//! # std::fs::remove_dir_all(&dir)
//! # }
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The mode of private files.
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// The mode of private directories.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents, each new one private (`0700`).
/// Directories that exist already are left as they are.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Creates `dir` like [`create_private_dir`], and makes `dir` itself private
/// if it exists with looser permissions: for a directory that is the
/// caller's own (a data directory). Returns the mode it had when it was
/// changed (Unix only; `None` when nothing changed).
///
/// A shared directory (world-writable or with the sticky bit, like `/tmp`)
/// is refused with [`io::ErrorKind::PermissionDenied`] rather than changed:
/// it is not the caller's to take over. Use a directory of its own inside it.
pub fn make_dir_private(dir: &Path) -> io::Result<Option<u32>> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(None);
        }
        if mode & 0o1002 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is a shared directory (mode {mode:o}); use a directory of its own inside it",
                    dir.display()
                ),
            ));
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))?;
        Ok(Some(mode))
    }
    #[cfg(not(unix))]
    Ok(None)
}

/// Makes sure the file at `path` exists and is private (`0600`): creates it
/// empty if missing, or tightens its mode if it is looser. Returns the mode
/// it had when it was changed (Unix only). For files another library opens
/// afterwards, such as a SQLite database (SQLite keeps an existing file's
/// mode and gives its `-wal` and `-shm` files the same).
pub fn make_file_private(path: &Path) -> io::Result<Option<u32>> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = file.metadata()?.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
            return Ok(Some(mode));
        }
    }
    drop(file);
    Ok(None)
}

/// Replaces the file at `path` with `bytes`, atomically and durably, as a
/// private file (`0600`): a temporary file in the same directory is
/// written, flushed to disk, renamed over `path`, and the directory is
/// flushed. A crash leaves either the old file or the new one, never half
/// of one; on failure the temporary file is removed. The directory must
/// exist.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temporary_path(path)?;
    let written = write_new(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path)
}

/// A name beside `path` no other writer uses: `.{name}.{pid}.{n}.tmp`.
fn temporary_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp))
}

/// Creates `path` (which must not exist) privately, writes and syncs it.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Flushes the directory holding `path`, so a rename in it is on disk.
fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A fresh directory under the system's temporary directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new() -> Self {
            let dir = std::env::temp_dir()
                .join(format!("entra-core-fs-{}", crate::random_guid().unwrap()));
            std::fs::create_dir(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn written_files_are_private_and_replaced_whole() {
        let scratch = Scratch::new();
        let path = scratch.0.join("keys.json");
        write_private(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        write_private(&path, b"second, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        // No temporary file is left behind.
        assert_eq!(entries(&scratch.0), ["keys.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_loose_file_is_replaced_by_a_private_one() {
        use std::os::unix::fs::PermissionsExt as _;
        let scratch = Scratch::new();
        let path = scratch.0.join("old.json");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary_file() {
        let scratch = Scratch::new();
        let path = scratch.0.join("target");
        // A directory in the way: the rename fails after the write.
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("inside"), b"kept").unwrap();
        assert!(write_private(&path, b"new").is_err());
        assert_eq!(entries(&scratch.0), ["target"]);
        assert_eq!(std::fs::read(path.join("inside")).unwrap(), b"kept");
        // A missing directory: nothing is created.
        let missing = scratch.0.join("missing").join("file");
        assert_eq!(
            write_private(&missing, b"x").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(entries(&scratch.0), ["target"]);
        // A path without a file name is refused.
        assert_eq!(
            write_private(Path::new("/"), b"x").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[cfg(unix)]
    #[test]
    fn directories_are_created_private_and_made_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let scratch = Scratch::new();
        let nested = scratch.0.join("a").join("b");
        create_private_dir(&nested).unwrap();
        assert_eq!(mode(&scratch.0.join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);

        // An existing loose directory: left alone by create, tightened by make.
        let loose = scratch.0.join("loose");
        std::fs::create_dir(&loose).unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&loose).unwrap();
        assert_eq!(mode(&loose), 0o755);
        assert_eq!(make_dir_private(&loose).unwrap(), Some(0o755));
        assert_eq!(mode(&loose), 0o700);
        assert_eq!(make_dir_private(&loose).unwrap(), None);

        // A shared directory is refused, not taken over.
        let shared = scratch.0.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert_eq!(
            make_dir_private(&shared).unwrap_err().kind(),
            io::ErrorKind::PermissionDenied
        );
        assert_eq!(mode(&shared), 0o1777);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_created_private_or_made_private_keeping_their_contents() {
        use std::os::unix::fs::PermissionsExt as _;
        let scratch = Scratch::new();
        let new = scratch.0.join("sessions.db");
        assert_eq!(make_file_private(&new).unwrap(), None);
        assert_eq!(mode(&new), 0o600);
        assert_eq!(std::fs::read(&new).unwrap(), b"");

        let old = scratch.0.join("old.db");
        std::fs::write(&old, b"rows").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(make_file_private(&old).unwrap(), Some(0o644));
        assert_eq!(mode(&old), 0o600);
        assert_eq!(std::fs::read(&old).unwrap(), b"rows");
    }
}
