//! The token stores, for real: one contract run against the memory store,
//! SQLite (a temporary file), PostgreSQL (127.0.0.1:5432, a table per test)
//! and Redis (127.0.0.1:6379, a key prefix per test); and tokens that
//! survive a restart of the client in each persistent store.
//!
//! A test needing PostgreSQL or Redis skips (and says so) when the service
//! is unreachable and `CI` is unset; with `CI` set it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::common::*;
use entra_client::store::{MemoryStore, TokenStore};
use entra_client::{AuthorizationRequest, ClientCredential, TokenCache};
use entra_emulator::Directory;

/// What every store must do.
async fn contract(store: Arc<dyn TokenStore>) {
    let future = Some(SystemTime::now() + Duration::from_secs(3600));
    let past = Some(SystemTime::now() - Duration::from_secs(1));

    assert_eq!(store.get("absent").await.unwrap(), None);

    // Round trip of arbitrary bytes, with and without expiry; overwrite.
    let bytes: Vec<u8> = (0..=255).collect();
    store.put("k|bytes", &bytes, future).await.unwrap();
    assert_eq!(store.get("k|bytes").await.unwrap(), Some(bytes));
    store.put("k|forever", b"v1", None).await.unwrap();
    store.put("k|forever", b"v2", None).await.unwrap();
    assert_eq!(store.get("k|forever").await.unwrap(), Some(b"v2".to_vec()));

    // An expired entry is never returned, even right after being written.
    store.put("k|expired", b"old", past).await.unwrap();
    assert_eq!(store.get("k|expired").await.unwrap(), None);
    // Overwriting with an expired entry hides the previous value.
    store.put("k|forever", b"v3", past).await.unwrap();
    assert_eq!(store.get("k|forever").await.unwrap(), None);

    // Remove, and removing what is absent.
    store.put("k|gone", b"x", future).await.unwrap();
    store.remove("k|gone").await.unwrap();
    assert_eq!(store.get("k|gone").await.unwrap(), None);
    store.remove("k|gone").await.unwrap();

    // Prefix removal is exact: case-sensitive, no wildcards.
    for key in [
        "c|t|u1|at|a",
        "c|t|u1|rt",
        "c|t|u10|rt",
        "c|t|u1_x|rt",
        "C|T|U1|rt",
        "c%t|u1|rt",
        "x*|1",
        "x?|1",
        "x[a]|1",
    ] {
        store.put(key, key.as_bytes(), future).await.unwrap();
    }
    assert_eq!(store.remove_prefix("c|t|u1|").await.unwrap(), 2);
    assert_eq!(store.get("c|t|u1|rt").await.unwrap(), None);
    for kept in [
        "c|t|u10|rt",
        "c|t|u1_x|rt",
        "C|T|U1|rt",
        "c%t|u1|rt",
        "x?|1",
        "x[a]|1",
    ] {
        assert_eq!(
            store.get(kept).await.unwrap(),
            Some(kept.as_bytes().to_vec()),
            "{kept}"
        );
    }
    assert_eq!(store.remove_prefix("x*").await.unwrap(), 1);
    assert_eq!(store.get("x?|1").await.unwrap(), Some(b"x?|1".to_vec()));
    assert_eq!(store.remove_prefix("nothing|").await.unwrap(), 0);

    // Concurrent writers and readers.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("n|{i}");
                store.put(&key, key.as_bytes(), None).await.unwrap();
                store.get(&key).await.unwrap()
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Some(format!("n|{i}").into_bytes()));
    }
    assert_eq!(store.remove_prefix("n|").await.unwrap(), 40);
}

/// Tokens in `store` outlive the client: a new client (a restarted app)
/// finds the app token and the user's tokens, and refreshes with the stored
/// refresh token.
async fn survives_a_restart(store: Arc<dyn TokenStore>) {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    let emulator = start_with(directory).await;
    let cache = || TokenCache::new(store.clone());
    let default = format!("{API_URI}/.default");

    let daemon = builder(&emulator, DAEMON)
        .token_cache(cache())
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    daemon.acquire_token_for_client(&[&default]).await.unwrap();
    drop(daemon);
    let restarted = builder(&emulator, DAEMON)
        .token_cache(cache())
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    assert!(
        restarted
            .acquire_token_for_client(&[&default])
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(token_requests(&emulator, "client_credentials"), 1);

    // A user signs in with the SPA-like public CLI client (PKCE, loopback).
    let cli = builder(&emulator, CLI)
        .redirect_uri("http://localhost")
        .token_cache(cache())
        .build()
        .unwrap();
    let start = cli
        .authorize_url(AuthorizationRequest::new([heroes("Read")]).login_hint(ALICE))
        .await
        .unwrap();
    let page = get(&browser(), start.url.as_str()).await;
    let sign_in = cli
        .complete_authorization(start.pending, &callback_of(&page.location.unwrap()))
        .await
        .unwrap();
    drop(cli);
    let clock = TestClock::default();
    let restarted = builder(&emulator, CLI)
        .clock(clock.clock())
        .token_cache(cache())
        .build()
        .unwrap();
    let token = restarted
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    assert!(token.from_cache());
    assert_eq!(token.secret(), sign_in.access_token.secret());
    clock.advance(3400);
    let refreshed = restarted
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    assert!(!refreshed.from_cache());
    // Local sign-out removes the user's entries from the store.
    restarted.remove_account(&sign_in.account).await.unwrap();
    assert!(
        restarted
            .acquire_token_silent(&sign_in.account, &[heroes("Read")])
            .await
            .unwrap_err()
            .is_interaction_required()
    );
    // The app token is untouched.
    let daemon = builder(&emulator, DAEMON)
        .token_cache(cache())
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    assert!(
        daemon
            .acquire_token_for_client(&[&default])
            .await
            .unwrap()
            .from_cache()
    );
}

#[tokio::test]
async fn memory_store_honours_the_contract() {
    contract(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn a_full_memory_store_evicts_expired_then_soonest_expiring_entries() {
    let store = MemoryStore::with_capacity(3);
    let soon = Some(SystemTime::now() + Duration::from_secs(60));
    let later = Some(SystemTime::now() + Duration::from_secs(3600));
    store.put("a", b"a", soon).await.unwrap();
    store.put("b", b"b", later).await.unwrap();
    store.put("c", b"c", None).await.unwrap();
    store.put("d", b"d", later).await.unwrap();
    assert_eq!(store.len(), 3);
    assert_eq!(store.get("a").await.unwrap(), None);
    for key in ["b", "c", "d"] {
        assert!(store.get(key).await.unwrap().is_some(), "{key}");
    }
}

#[tokio::test]
async fn memory_store_survives_a_restart_of_the_client() {
    survives_a_restart(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use entra_client::store::SqliteStore;

    /// A store in a fresh temporary database file, and the file's path.
    async fn temporary() -> (Arc<dyn TokenStore>, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!("entra-client-{}.db", unique_suffix()));
        let store = SqliteStore::connect(&format!("sqlite:{}", path.display()))
            .await
            .unwrap();
        (Arc::new(store), path)
    }

    fn remove(path: &std::path::Path) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[tokio::test]
    async fn sqlite_store_honours_the_contract() {
        let (store, path) = temporary().await;
        contract(store).await;
        remove(&path);
    }

    #[tokio::test]
    async fn sqlite_store_survives_a_restart_of_the_client() {
        let (store, path) = temporary().await;
        survives_a_restart(store).await;
        remove(&path);
    }

    #[tokio::test]
    async fn sqlite_store_purges_expired_rows_and_refuses_odd_table_names() {
        let path = std::env::temp_dir().join(format!("entra-client-{}.db", unique_suffix()));
        let url = format!("sqlite:{}", path.display());
        let store = SqliteStore::connect(&url).await.unwrap();
        store
            .put(
                "old",
                b"x",
                Some(SystemTime::now() - Duration::from_secs(5)),
            )
            .await
            .unwrap();
        store.put("new", b"y", None).await.unwrap();
        assert_eq!(store.purge_expired().await.unwrap(), 1);
        assert!(
            SqliteStore::new(store.pool().clone(), "tokens; DROP TABLE x")
                .await
                .is_err()
        );
        // Reopening finds the table and its rows.
        drop(store);
        let again = SqliteStore::connect(&url).await.unwrap();
        assert_eq!(again.get("new").await.unwrap(), Some(b"y".to_vec()));
        remove(&path);
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use entra_client::store::PostgresStore;

    const URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    /// A store in a fresh table, or `None` (skip) when PostgreSQL is
    /// unreachable and `CI` is unset.
    async fn fresh_table() -> Option<(Arc<PostgresStore>, String)> {
        let pool = match sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(URL)
            .await
        {
            Ok(pool) => pool,
            Err(e) if !services_required() => {
                eprintln!("skipped: PostgreSQL at {URL} is unreachable ({e}) and CI is unset");
                return None;
            }
            Err(e) => panic!("PostgreSQL at {URL} is required (CI is set): {e}"),
        };
        let table = format!("entra_tokens_{}", unique_suffix());
        let store = PostgresStore::new(pool, &table).await.unwrap();
        Some((Arc::new(store), table))
    }

    async fn drop_table(store: &PostgresStore, table: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(store.pool())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn postgres_store_honours_the_contract() {
        let Some((store, table)) = fresh_table().await else {
            return;
        };
        contract(store.clone()).await;
        drop_table(&store, &table).await;
    }

    #[tokio::test]
    async fn postgres_store_survives_a_restart_of_the_client() {
        let Some((store, table)) = fresh_table().await else {
            return;
        };
        survives_a_restart(store.clone()).await;
        assert!(store.purge_expired().await.is_ok());
        drop_table(&store, &table).await;
    }
}

#[cfg(feature = "redis")]
mod redis_store {
    use super::*;
    use entra_client::store::RedisStore;

    const URL: &str = "redis://127.0.0.1:6379";

    /// A store under a fresh key prefix, or `None` (skip) when Redis is
    /// unreachable and `CI` is unset.
    async fn fresh_prefix() -> Option<Arc<RedisStore>> {
        let prefix = format!("entra-client-test-{}:", unique_suffix());
        match tokio::time::timeout(Duration::from_secs(5), RedisStore::connect(URL, prefix)).await {
            Ok(Ok(store)) => Some(Arc::new(store)),
            Ok(Err(e)) if !services_required() => {
                eprintln!("skipped: Redis at {URL} is unreachable ({e}) and CI is unset");
                None
            }
            Err(_) if !services_required() => {
                eprintln!("skipped: Redis at {URL} did not answer and CI is unset");
                None
            }
            Ok(Err(e)) => panic!("Redis at {URL} is required (CI is set): {e}"),
            Err(_) => panic!("Redis at {URL} is required (CI is set): no answer"),
        }
    }

    #[tokio::test]
    async fn redis_store_honours_the_contract() {
        let Some(store) = fresh_prefix().await else {
            return;
        };
        contract(store.clone()).await;
        store.remove_prefix("").await.unwrap();
    }

    #[tokio::test]
    async fn redis_store_survives_a_restart_of_the_client() {
        let Some(store) = fresh_prefix().await else {
            return;
        };
        survives_a_restart(store.clone()).await;
        store.remove_prefix("").await.unwrap();
    }

    #[tokio::test]
    async fn redis_entries_expire_with_their_token() {
        let Some(store) = fresh_prefix().await else {
            return;
        };
        store
            .put(
                "short",
                b"x",
                Some(SystemTime::now() + Duration::from_millis(300)),
            )
            .await
            .unwrap();
        assert!(store.get("short").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(store.get("short").await.unwrap(), None);
        store.remove_prefix("").await.unwrap();
    }
}
