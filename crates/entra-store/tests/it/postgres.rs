//! The PostgreSQL store, a table per test: the contract, expiry, purging.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use entra_store::{PostgresStore, Store};

use crate::contract::{contract, expiry};
use crate::services::{reachable, unique_suffix};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A store in a fresh table, dropped by [`drop_table`]; or `None`
/// (skip) when PostgreSQL is unreachable and `CI` is unset.
async fn fresh_table() -> Option<Arc<PostgresStore>> {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(URL)
        .await;
    let pool = reachable(&format!("PostgreSQL at {URL}"), pool)?;
    let table = format!("entra_store_{}", unique_suffix());
    Some(Arc::new(PostgresStore::new(pool, &table).await.unwrap()))
}

async fn drop_table(store: &PostgresStore) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP TABLE IF EXISTS {}",
        store.table()
    )))
    .execute(store.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn postgres_store_honours_the_contract() {
    let Some(store) = fresh_table().await else {
        return;
    };
    contract(store.clone()).await;
    drop_table(&store).await;
}

#[tokio::test]
async fn postgres_entries_expire_and_are_purged() {
    let Some(store) = fresh_table().await else {
        return;
    };
    expiry(store.clone()).await;
    let past = Some(SystemTime::now() - Duration::from_secs(5));
    store.put("old", None, b"x", past).await.unwrap();
    assert!(store.purge_expired().await.unwrap() >= 1);
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    // Creating the store again finds the table.
    let again = PostgresStore::new(store.pool().clone(), store.table())
        .await
        .unwrap();
    again.put("k", Some("g"), b"v", None).await.unwrap();
    assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()));
    drop_table(&store).await;
}
