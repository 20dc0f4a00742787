//! The SQLite store, in temporary files: the contract, expiry, the table
//! (created, reopened, checked), purging, and errors that keep their source.

use std::error::Error as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use entra_store::{Operation, SqliteStore, Store, StoreError};

use crate::contract::{contract, expiry};
use crate::services::unique_suffix;

/// A database file of this test only, deleted (with its journals) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        TempDb(std::env::temp_dir().join(format!("entra-store-{}.db", unique_suffix())))
    }

    fn url(&self) -> String {
        format!("sqlite:{}", self.0.display())
    }

    async fn store(&self) -> SqliteStore {
        SqliteStore::connect(&self.url(), "entries").await.unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[tokio::test]
async fn sqlite_store_honours_the_contract() {
    let db = TempDb::new();
    contract(Arc::new(db.store().await)).await;
}

#[tokio::test]
async fn sqlite_entries_expire() {
    let db = TempDb::new();
    expiry(Arc::new(db.store().await)).await;
}

#[tokio::test]
async fn sqlite_store_purges_expired_rows_and_refuses_odd_table_names() {
    let db = TempDb::new();
    let store = db.store().await;
    let past = Some(SystemTime::now() - Duration::from_secs(5));
    store.put("old", Some("g"), b"x", past).await.unwrap();
    store.put("new", Some("g"), b"y", None).await.unwrap();
    assert_eq!(store.purge_expired().await.unwrap(), 1);
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    for odd in [
        "tokens; DROP TABLE x",
        "",
        "1tokens",
        "a-b",
        &"t".repeat(53),
    ] {
        assert!(
            matches!(
                SqliteStore::new(store.pool().clone(), odd).await,
                Err(StoreError::InvalidTableName(name)) if name == odd
            ),
            "{odd:?}"
        );
    }
    assert!(
        SqliteStore::new(store.pool().clone(), &"t".repeat(52))
            .await
            .is_ok()
    );
    // Reopening finds the table, its rows and their groups.
    drop(store);
    let again = db.store().await;
    assert_eq!(again.get("new").await.unwrap(), Some(b"y".to_vec()));
    again.remove_group("g").await.unwrap();
    assert_eq!(again.get("new").await.unwrap(), None);
}

#[tokio::test]
async fn two_stores_share_one_database() {
    let db = TempDb::new();
    let sessions = db.store().await;
    let tokens = SqliteStore::new(sessions.pool().clone(), "tokens")
        .await
        .unwrap();
    sessions.put("k", None, b"session", None).await.unwrap();
    tokens.put("k", Some("g"), b"token", None).await.unwrap();
    tokens.remove_group("g").await.unwrap();
    assert_eq!(sessions.get("k").await.unwrap(), Some(b"session".to_vec()));
    assert_eq!(tokens.table(), "tokens");
}

#[tokio::test]
async fn a_table_of_another_layout_is_refused() {
    let db = TempDb::new();
    let store = db.store().await;
    sqlx::query("CREATE TABLE web_sessions (key TEXT PRIMARY KEY, record BLOB NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let error = SqliteStore::new(store.pool().clone(), "web_sessions")
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::TableLayout { table, .. } if table == "web_sessions"),
        "{error:?}"
    );
    assert!(error.source().unwrap().is::<sqlx::Error>(), "{error:?}");
}

#[tokio::test]
async fn a_failure_keeps_the_database_error_as_its_source() {
    let missing = std::env::temp_dir()
        .join(format!("entra-store-missing-{}", unique_suffix()))
        .join("db.sqlite");
    let error = SqliteStore::connect(&format!("sqlite:{}", missing.display()), "entries")
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Backend {
                backend: "SQLite",
                operation: Operation::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    let source = error.source().unwrap();
    assert!(source.is::<sqlx::Error>(), "{source:?}");
    assert!(
        error
            .to_string()
            .starts_with("SQLite store: cannot connect: "),
        "{error}"
    );
}
