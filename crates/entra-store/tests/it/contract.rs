//! What every store must do: [`contract`] and [`expiry`], run by each
//! backend's module against a fresh store.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use entra_store::{Store, StoreError};

/// Values, overwrites, expiry at write time, removal, groups, refused
/// names and concurrent use.
pub(crate) async fn contract(store: Arc<dyn Store>) {
    let future = Some(SystemTime::now() + Duration::from_secs(3600));
    let past = Some(SystemTime::now() - Duration::from_secs(1));

    assert_eq!(store.get("absent").await.unwrap(), None);

    // Round trip of arbitrary bytes, with and without expiry; overwrite.
    let bytes: Vec<u8> = (0..=255).collect();
    store.put("k|bytes", None, &bytes, future).await.unwrap();
    assert_eq!(store.get("k|bytes").await.unwrap(), Some(bytes));
    store.put("k|forever", None, b"v1", None).await.unwrap();
    store.put("k|forever", None, b"v2", None).await.unwrap();
    assert_eq!(store.get("k|forever").await.unwrap(), Some(b"v2".to_vec()));
    store.put("k|empty", None, b"", None).await.unwrap();
    assert_eq!(store.get("k|empty").await.unwrap(), Some(Vec::new()));
    store.put("k|é ✓", None, b"utf-8", None).await.unwrap();
    assert_eq!(store.get("k|é ✓").await.unwrap(), Some(b"utf-8".to_vec()));

    // An expired entry is never returned, even right after being written.
    store.put("k|expired", None, b"old", past).await.unwrap();
    assert_eq!(store.get("k|expired").await.unwrap(), None);
    // Overwriting with an expired entry hides the previous value.
    store.put("k|forever", None, b"v3", past).await.unwrap();
    assert_eq!(store.get("k|forever").await.unwrap(), None);

    // Remove, and removing what is absent.
    store.put("k|gone", None, b"x", future).await.unwrap();
    store.remove("k|gone").await.unwrap();
    assert_eq!(store.get("k|gone").await.unwrap(), None);
    store.remove("k|gone").await.unwrap();

    groups(&*store, future).await;
    refused_names(&*store).await;

    // Concurrent writers and readers, then their group goes at once.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("n|{i}");
                store
                    .put(&key, Some("n|"), key.as_bytes(), None)
                    .await
                    .unwrap();
                store.get(&key).await.unwrap()
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Some(format!("n|{i}").into_bytes()));
    }
    store.remove_group("n|").await.unwrap();
    for i in 0..40 {
        assert_eq!(store.get(&format!("n|{i}")).await.unwrap(), None);
    }
}

/// A group goes as a whole, and nothing else does: not the keys that look
/// like its keys, not its former entries.
async fn groups(store: &dyn Store, future: Option<SystemTime>) {
    let entries = [
        ("c|t|u1|at|a", Some("c|t|u1|")),
        ("c|t|u1|rt", Some("c|t|u1|")),
        ("c|t|u10|rt", Some("c|t|u10|")),
        ("c|t|u1_x|rt", Some("c|t|u1_x|")),
        ("C|T|U1|rt", Some("C|T|U1|")),
        ("c%t|u1|rt", Some("c%t|u1|")),
        // Shaped like the group's keys, but in no group.
        ("c|t|u1|loose", None),
        ("x*|1", Some("x*")),
        ("x?|1", Some("x?")),
        ("x[a]|1", Some("x[a]")),
    ];
    for (key, group) in entries {
        store.put(key, group, key.as_bytes(), future).await.unwrap();
    }
    // One without expiry: the group still goes as a whole.
    store
        .put("c|t|u1|id", Some("c|t|u1|"), b"id", None)
        .await
        .unwrap();
    store.remove_group("c|t|u1|").await.unwrap();
    for gone in ["c|t|u1|at|a", "c|t|u1|rt", "c|t|u1|id"] {
        assert_eq!(store.get(gone).await.unwrap(), None, "{gone}");
    }
    let kept = |key: &'static str| async move {
        assert_eq!(
            store.get(key).await.unwrap(),
            Some(key.as_bytes().to_vec()),
            "{key}"
        );
    };
    for key in [
        "c|t|u10|rt",
        "c|t|u1_x|rt",
        "C|T|U1|rt",
        "c%t|u1|rt",
        "c|t|u1|loose",
        "x?|1",
        "x[a]|1",
    ] {
        kept(key).await;
    }
    // Group names are exact: no wildcards.
    store.remove_group("x*").await.unwrap();
    assert_eq!(store.get("x*|1").await.unwrap(), None);
    kept("x?|1").await;
    kept("x[a]|1").await;
    // Removing an empty or unknown group is not an error.
    store.remove_group("c|t|u1|").await.unwrap();
    store.remove_group("nothing").await.unwrap();

    // An entry belongs to the group of its last write.
    store.put("moving", Some("a"), b"1", future).await.unwrap();
    store.put("moving", Some("b"), b"2", future).await.unwrap();
    store.remove_group("a").await.unwrap();
    assert_eq!(store.get("moving").await.unwrap(), Some(b"2".to_vec()));
    store.put("moving", None, b"3", future).await.unwrap();
    store.remove_group("b").await.unwrap();
    assert_eq!(store.get("moving").await.unwrap(), Some(b"3".to_vec()));
    // A removed entry leaves its group; the group keeps its other entries.
    store.put("moving", Some("a"), b"4", future).await.unwrap();
    store.put("staying", Some("a"), b"5", future).await.unwrap();
    store.remove("moving").await.unwrap();
    assert_eq!(store.get("staying").await.unwrap(), Some(b"5".to_vec()));
    // Written again, the removed entry is in no group unless named.
    store.put("moving", None, b"6", future).await.unwrap();
    store.remove_group("a").await.unwrap();
    assert_eq!(store.get("staying").await.unwrap(), None);
    assert_eq!(store.get("moving").await.unwrap(), Some(b"6".to_vec()));
}

/// Keys and groups with a NUL character are refused, by every operation.
async fn refused_names(store: &dyn Store) {
    let key = |r: Result<_, StoreError>| matches!(r, Err(StoreError::InvalidKey));
    let group = |r: Result<_, StoreError>| matches!(r, Err(StoreError::InvalidGroup));
    assert!(key(store.get("a\0b").await.map(drop)));
    assert!(key(store.put("a\0b", None, b"x", None).await));
    assert!(key(store.remove("a\0b").await));
    assert!(group(store.put("k|nul", Some("g\0"), b"x", None).await));
    assert!(group(store.remove_group("g\0").await));
    assert_eq!(store.get("k|nul").await.unwrap(), None);
}

/// Entries expire when their time comes, grouped or not.
pub(crate) async fn expiry(store: Arc<dyn Store>) {
    let soon = Some(SystemTime::now() + Duration::from_millis(500));
    store.put("short", None, b"x", soon).await.unwrap();
    store
        .put("short|g", Some("short"), b"y", soon)
        .await
        .unwrap();
    store
        .put("long|g", Some("short"), b"z", None)
        .await
        .unwrap();
    assert_eq!(store.get("short").await.unwrap(), Some(b"x".to_vec()));
    assert_eq!(store.get("short|g").await.unwrap(), Some(b"y".to_vec()));
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(store.get("short").await.unwrap(), None);
    assert_eq!(store.get("short|g").await.unwrap(), None);
    assert_eq!(store.get("long|g").await.unwrap(), Some(b"z".to_vec()));
    store.remove_group("short").await.unwrap();
    assert_eq!(store.get("long|g").await.unwrap(), None);
}
