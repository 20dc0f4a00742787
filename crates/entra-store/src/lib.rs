//! Bytes under a key, with an expiry: the one store abstraction behind
//! entra-client's token cache and demo-web's sessions.
//!
//! A [`Store`] keeps opaque values under string keys. Each entry may expire
//! (an expired entry is never returned) and may belong to a *group*: all the
//! entries of a group go at once with [`Store::remove_group`]. The token
//! cache groups a user's access and refresh tokens, so that signing the user
//! out removes them all; sessions use no group.
//!
//! # Groups
//!
//! The group is named when an entry is written
//! (`put(key, group, value, expires_at)`), not derived from the key, so that
//! every backend can find a group's entries without looking at other keys:
//!
//! - [`MemoryStore`]: a map from each group to its keys, next to the entries.
//! - `SqliteStore`, `PostgresStore`: a `group_name` column with an index;
//!   `DELETE ... WHERE group_name = $1`.
//! - `RedisStore`: a set per group naming its entries, updated in the same
//!   script as the entries (atomically), and expiring with its
//!   longest-lived entry. Removing a group reads that set: no `SCAN`, no
//!   `KEYS`.
//!
//! An entry belongs to at most one group: writing it again with another
//! group (or none) moves it. A group is meant to be small (one user's
//! tokens): on Redis, each write or removal in a group reads its index.
//!
//! # Keys, values and expiry
//!
//! Keys and groups are strings without a NUL character (`\0`): every store
//! of this crate refuses one with [`StoreError::InvalidKey`] or
//! [`StoreError::InvalidGroup`]. Values are bytes. An expiry is a
//! [`SystemTime`], compared with the system clock at millisecond precision;
//! an entry past its expiry is never returned (a store may delete it later).
//!
//! Stores hold what they are given in clear: protect the database or the
//! Redis instance as you would protect the values themselves (tokens,
//! sessions). The SQL stores take a pool the caller opened: for SQLite,
//! make the file readable by its owner only before connecting
//! (`entra_core::fs::make_file_private` creates it `0600`; SQLite keeps an
//! existing file's mode and gives its `-wal` and `-shm` files the same), as
//! demo-web does.
//!
//! # Layout
//!
//! - [`Store`], [`StoreFuture`]: the trait every store implements (this file).
//! - `error`: [`StoreError`] and the [`Operation`] that failed.
//! - `memory`: [`MemoryStore`], bounded, in this process.
//! - `sql` (features `sqlite`, `postgres`): `SqlStore`, one implementation
//!   for `SqliteStore` and `PostgresStore`: one table, created if missing.
//! - `redis` (feature `redis`): `RedisStore`, a hash per entry and a set per
//!   group, written by the Lua scripts in `src/redis/`.
//!
//! # A store of your own
//!
//! A store implements four methods, each returning a boxed future
//! ([`StoreFuture`]), so that `Arc<dyn Store>` works:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use std::time::SystemTime;
//! use entra_store::{Store, StoreFuture};
//!
//! /// Entries: (group, value, expiry) by key.
//! #[derive(Debug, Default)]
//! struct Naive(Mutex<HashMap<String, (Option<String>, Vec<u8>, Option<SystemTime>)>>);
//!
//! impl Store for Naive {
//!     fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
//!         let map = self.0.lock().unwrap();
//!         let live = map.get(key).filter(|(_, _, at)| at.is_none_or(|at| at > SystemTime::now()));
//!         let value = live.map(|(_, value, _)| value.clone());
//!         Box::pin(async move { Ok(value) })
//!     }
//!     fn put<'a>(
//!         &'a self,
//!         key: &'a str,
//!         group: Option<&'a str>,
//!         value: &'a [u8],
//!         expires_at: Option<SystemTime>,
//!     ) -> StoreFuture<'a, ()> {
//!         let entry = (group.map(str::to_owned), value.to_vec(), expires_at);
//!         self.0.lock().unwrap().insert(key.to_owned(), entry);
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
//!         self.0.lock().unwrap().remove(key);
//!         Box::pin(async { Ok(()) })
//!     }
//!     fn remove_group<'a>(&'a self, group: &'a str) -> StoreFuture<'a, ()> {
//!         self.0.lock().unwrap().retain(|_, (g, _, _)| g.as_deref() != Some(group));
//!         Box::pin(async { Ok(()) })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store: Arc<dyn Store> = Arc::new(Naive::default());
//! store.put("alice|rt", Some("alice"), b"refresh", None).await?;
//! store.put("alice|at", Some("alice"), b"access", None).await?;
//! store.put("bob|rt", Some("bob"), b"refresh", None).await?;
//! store.remove_group("alice").await?;
//! assert_eq!(store.get("alice|at").await?, None);
//! assert_eq!(store.get("bob|rt").await?, Some(b"refresh".to_vec()));
//! # Ok::<(), entra_store::StoreError>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

mod error;
mod memory;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

pub use error::{Operation, StoreError};
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
#[cfg(feature = "postgres")]
pub use sql::PostgresStore;
#[cfg(feature = "sqlite")]
pub use sql::SqliteStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sql::{SqlDatabase, SqlStore};

/// What a store's methods return: a boxed, sendable future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Bytes under a key, with an optional expiry and an optional group.
///
/// Keys and groups contain no NUL character; an entry past its expiry must
/// never be returned (it may be deleted lazily). See the [crate] docs for
/// how each backend keeps groups.
pub trait Store: Send + Sync + fmt::Debug {
    /// The value under `key`, unless it is absent or expired.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key` (replacing any entry), in `group` (`None`:
    /// in no group), until `expires_at` (`None`: until removed). An expiry
    /// already past removes the entry.
    fn put<'a>(
        &'a self,
        key: &'a str,
        group: Option<&'a str>,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()>;

    /// Removes `key` (removing an absent key is not an error).
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// Removes every entry of `group` (a signed-out user's tokens). Entries
    /// of other groups, and entries in no group, stay, whatever their keys.
    fn remove_group<'a>(&'a self, group: &'a str) -> StoreFuture<'a, ()>;
}

/// Refuses a key with a NUL character (see the [crate] docs).
pub(crate) fn check_key(key: &str) -> Result<(), StoreError> {
    if key.contains('\0') {
        Err(StoreError::InvalidKey)
    } else {
        Ok(())
    }
}

/// Refuses a group with a NUL character (see the [crate] docs).
pub(crate) fn check_group(group: Option<&str>) -> Result<(), StoreError> {
    if group.is_some_and(|g| g.contains('\0')) {
        Err(StoreError::InvalidGroup)
    } else {
        Ok(())
    }
}

/// Milliseconds since the Unix epoch of `time` (0 before 1970).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn unix_millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
