//! The in-memory store: a map in this process, and a map from each group to
//! its keys.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crate::{Store, StoreError, StoreFuture, check_group, check_key};

/// Entries kept in this process's memory. Bounded: when full, expired
/// entries go first, then those expiring soonest.
#[derive(Debug)]
pub struct MemoryStore {
    state: Mutex<State>,
    max_entries: usize,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// The keys of each group's entries (no empty set).
    groups: HashMap<String, HashSet<String>>,
}

#[derive(Debug)]
struct Entry {
    value: Vec<u8>,
    group: Option<String>,
    expires_at: Option<SystemTime>,
}

impl Entry {
    fn live(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

impl State {
    /// Removes `key`'s entry, and the key from its group.
    fn take(&mut self, key: &str) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        if let Some(group) = &entry.group
            && let Some(keys) = self.groups.get_mut(group)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.groups.remove(group);
            }
        }
        Some(entry)
    }

    /// Makes room for one more entry: drops the expired entries, then, if
    /// still full, the one expiring soonest.
    fn evict(&mut self, max_entries: usize, now: SystemTime) {
        let expired: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.live(now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            self.take(&key);
        }
        if self.entries.len() >= max_entries {
            let soonest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.expires_at.is_none(), e.expires_at))
                .map(|(k, _)| k.clone());
            if let Some(key) = soonest {
                self.take(&key);
            }
        }
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
            state: Mutex::new(State::default()),
            max_entries: max_entries.max(1),
        }
    }

    /// How many entries it holds (expired ones included until dropped).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        check_key(key)?;
        let mut state = self.lock();
        match state.entries.get(key) {
            Some(entry) if entry.live(SystemTime::now()) => Ok(Some(entry.value.clone())),
            Some(_) => {
                state.take(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn put_now(
        &self,
        key: &str,
        group: Option<&str>,
        value: &[u8],
        expires_at: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        check_key(key)?;
        check_group(group)?;
        let now = SystemTime::now();
        let mut state = self.lock();
        state.take(key);
        if expires_at.is_some_and(|at| at <= now) {
            return Ok(());
        }
        if state.entries.len() >= self.max_entries {
            state.evict(self.max_entries, now);
        }
        if let Some(group) = group {
            state
                .groups
                .entry(group.to_owned())
                .or_default()
                .insert(key.to_owned());
        }
        state.entries.insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                group: group.map(str::to_owned),
                expires_at,
            },
        );
        Ok(())
    }

    fn remove_group_now(&self, group: &str) -> Result<(), StoreError> {
        check_group(Some(group))?;
        let mut state = self.lock();
        for key in state.groups.remove(group).unwrap_or_default() {
            state.entries.remove(&key);
        }
        Ok(())
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(std::future::ready(self.get_now(key)))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        group: Option<&'a str>,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(
            self.put_now(key, group, value, expires_at),
        ))
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        let result = check_key(key).map(|()| {
            self.lock().take(key);
        });
        Box::pin(std::future::ready(result))
    }

    fn remove_group<'a>(&'a self, group: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.remove_group_now(group)))
    }
}
