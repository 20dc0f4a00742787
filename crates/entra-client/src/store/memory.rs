//! The in-memory store: a map in this process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use super::{StoreFuture, TokenStore};

/// Entries kept in this process's memory (the default store). Bounded: when
/// full, expired entries go first, then those expiring soonest.
#[derive(Debug)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Entry>>,
    max_entries: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires_at: Option<SystemTime>,
}

impl Entry {
    fn live(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store holding at most 100,000 entries.
    pub fn new() -> Self {
        MemoryStore::with_capacity(100_000)
    }

    /// An empty store holding at most `max_entries` entries.
    pub fn with_capacity(max_entries: usize) -> Self {
        MemoryStore {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
        }
    }

    /// How many entries it holds (expired ones included until evicted).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl TokenStore for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        let now = SystemTime::now();
        let mut entries = self.lock();
        let value = match entries.get(key) {
            Some(entry) if entry.live(now) => Some(entry.value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        };
        Box::pin(std::future::ready(Ok(value)))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        let now = SystemTime::now();
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(key) {
            entries.retain(|_, e| e.live(now));
            if entries.len() >= self.max_entries {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, e)| (e.expires_at.is_none(), e.expires_at))
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    entries.remove(&k);
                }
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires_at,
            },
        );
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.lock().remove(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, u64> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|k, _| !k.starts_with(prefix));
        let removed = (before - entries.len()) as u64;
        Box::pin(std::future::ready(Ok(removed)))
    }
}
