//! Where session records live: the [`SessionStore`] trait and its three
//! implementations ([`MemorySessions`], [`SqliteSessions`](super::SqliteSessions),
//! [`RedisSessions`](super::RedisSessions)).
//!
//! A store keeps opaque records under opaque keys (the SHA-256 of a session
//! id: a stolen store gives no usable cookie), each with an expiry. The
//! session logic (idle timeout, absolute lifetime) is not the store's
//! business: the expiry is a clean-up bound.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use crate::error::StoreError;

/// What a store's methods return: a boxed, sendable future.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A key-value store for session records, with an expiry per record.
///
/// Times are Unix seconds on the web app's clock, passed in so that a store
/// and the sessions it keeps agree on what "expired" means.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use demo_web::session::{SessionStore, StoreFuture};
///
/// #[derive(Debug, Default)]
/// struct Naive(Mutex<HashMap<String, (Vec<u8>, i64)>>);
///
/// impl SessionStore for Naive {
///     fn load<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
///         Box::pin(async move {
///             let map = self.0.lock().unwrap();
///             Ok(map.get(key).filter(|(_, exp)| *exp > now).map(|(v, _)| v.clone()))
///         })
///     }
///     fn save<'a>(&'a self, key: &'a str, record: &'a [u8], _now: i64, expires_at: i64) -> StoreFuture<'a, ()> {
///         Box::pin(async move { self.0.lock().unwrap().insert(key.into(), (record.to_vec(), expires_at)); Ok(()) })
///     }
///     fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
///         Box::pin(async move { self.0.lock().unwrap().remove(key); Ok(()) })
///     }
/// }
/// ```
pub trait SessionStore: Send + Sync + fmt::Debug {
    /// The record under `key`, unless it is absent or expired at `now`.
    fn load<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `record` under `key` (replacing any), until `expires_at`.
    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a [u8],
        now: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()>;

    /// Removes `key` (removing an absent key is not an error).
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;
}

/// Sessions in this process's memory, bounded: when full, expired records
/// go first, then those expiring soonest.
#[derive(Debug)]
pub struct MemorySessions {
    records: Mutex<HashMap<String, (Vec<u8>, i64)>>,
    max_records: usize,
}

impl Default for MemorySessions {
    fn default() -> Self {
        MemorySessions::new()
    }
}

impl MemorySessions {
    /// An empty store of at most 100,000 sessions.
    pub fn new() -> Self {
        MemorySessions {
            records: Mutex::new(HashMap::new()),
            max_records: 100_000,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Vec<u8>, i64)>> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionStore for MemorySessions {
    fn load<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            Ok(self
                .lock()
                .get(key)
                .filter(|(_, expires_at)| *expires_at > now)
                .map(|(record, _)| record.clone()))
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a [u8],
        now: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut records = self.lock();
            if records.len() >= self.max_records && !records.contains_key(key) {
                records.retain(|_, (_, expires_at)| *expires_at > now);
                if records.len() >= self.max_records {
                    let soonest = records
                        .iter()
                        .min_by_key(|(_, (_, expires_at))| *expires_at)
                        .map(|(k, _)| k.clone());
                    if let Some(soonest) = soonest {
                        records.remove(&soonest);
                    }
                }
            }
            records.insert(key.to_owned(), (record.to_vec(), expires_at));
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.lock().remove(key);
            Ok(())
        })
    }
}
