//! Where the token cache keeps its entries: a [`TokenStore`] holds opaque
//! bytes under string keys, each with an optional expiry.
//!
//! - [`MemoryStore`]: in this process (the default).
//! - `SqliteStore` (feature `sqlite`), `PostgresStore` (feature `postgres`):
//!   one table, created if missing.
//! - `RedisStore` (feature `redis`): one key per entry under a prefix, with a
//!   time to live.
//!
//! Entries hold access and refresh tokens in clear: protect the database or
//! the Redis instance as you would protect the tokens themselves.
//!
//! A store of your own implements four methods, each returning a boxed future:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use std::time::SystemTime;
//! use entra_client::store::{StoreFuture, TokenStore};
//!
//! #[derive(Debug, Default)]
//! struct Naive(Mutex<HashMap<String, Vec<u8>>>);
//!
//! impl TokenStore for Naive {
//!     fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
//!         Box::pin(async move { Ok(self.0.lock().unwrap().get(key).cloned()) })
//!     }
//!     fn put<'a>(&'a self, key: &'a str, value: &'a [u8], _expires_at: Option<SystemTime>) -> StoreFuture<'a, ()> {
//!         Box::pin(async move { self.0.lock().unwrap().insert(key.to_owned(), value.to_vec()); Ok(()) })
//!     }
//!     fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
//!         Box::pin(async move { self.0.lock().unwrap().remove(key); Ok(()) })
//!     }
//!     fn remove_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, u64> {
//!         Box::pin(async move {
//!             let mut map = self.0.lock().unwrap();
//!             let before = map.len();
//!             map.retain(|k, _| !k.starts_with(prefix));
//!             Ok((before - map.len()) as u64)
//!         })
//!     }
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use crate::error::StoreError;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// What a store's methods return: a boxed, sendable future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A key-value store for serialized cache entries.
///
/// Keys are printable strings of at most a few hundred bytes; values are
/// opaque bytes. An entry past its expiry must no longer be returned (it may
/// be deleted lazily).
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The value under `key`, unless it is absent or expired.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key` (replacing any value), until `expires_at`
    /// (`None`: until removed).
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()>;

    /// Removes `key` (removing an absent key is not an error).
    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// Removes every key that starts with `prefix` (a signed-out account's
    /// entries); returns how many were removed.
    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, u64>;
}

/// Seconds since the Unix epoch of `time` (0 before 1970).
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "redis")),
    allow(dead_code)
)]
pub(crate) fn unix(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A table name: letters, digits and `_`, starting with a letter or `_`, at
/// most 63 bytes (PostgreSQL's limit).
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
pub(crate) fn check_table_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(format!(
            "{name:?} is not a valid table name (letters, digits, _)"
        )))
    }
}
