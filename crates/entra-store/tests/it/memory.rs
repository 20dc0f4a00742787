//! The memory store: the contract, expiry, and eviction when full.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use entra_store::{MemoryStore, Store};

use crate::contract::{contract, expiry};

#[tokio::test]
async fn memory_store_honours_the_contract() {
    contract(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_entries_expire() {
    expiry(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_full_memory_store_evicts_expired_then_soonest_expiring_entries() {
    let store = MemoryStore::with_capacity(3);
    let soon = Some(SystemTime::now() + Duration::from_secs(60));
    let later = Some(SystemTime::now() + Duration::from_secs(3600));
    store.put("a", Some("g"), b"a", soon).await.unwrap();
    store.put("b", Some("g"), b"b", later).await.unwrap();
    store.put("c", None, b"c", None).await.unwrap();
    store.put("d", Some("h"), b"d", later).await.unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.get("a").await.unwrap(), None);
    for key in ["b", "c", "d"] {
        assert!(store.get(key).await.unwrap().is_some(), "{key}");
    }
    // The evicted entry left its group: the group's removal takes the rest.
    store.remove_group("g").await.unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(store.get("b").await.unwrap(), None);
    // Overwriting a key of a full store evicts nothing.
    store.put("d", Some("h"), b"d2", later).await.unwrap();
    store.put("e", None, b"e", later).await.unwrap();
    store.put("e", None, b"e2", later).await.unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.get("c").await.unwrap(), Some(b"c".to_vec()));
}
