//! The token cache in each kind of store, for real: tokens survive a
//! restart of the client, and local sign-out removes the user's tokens
//! (their group) and nothing else. The stores' own contract is entra-store's
//! to test (crates/entra-store/tests).
//!
//! SQLite runs in a temporary file; Redis (127.0.0.1:6379, a key prefix per
//! test) skips (and says so) when the service is unreachable and `CI` is
//! unset; with `CI` set it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

use crate::common::*;
use entra_client::store::{MemoryStore, Store};
use entra_client::{AuthorizationRequest, ClientCredential, TokenCache};
use entra_emulator::Directory;

/// Tokens in `store` outlive the client: a new client (a restarted app)
/// finds the app token and the user's tokens, and refreshes with the stored
/// refresh token.
async fn survives_a_restart(store: Arc<dyn Store>) {
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
    // Local sign-out removes the user's entries (their group) from the store.
    let home = sign_in.account.home_account_id().to_lowercase();
    let refresh_key = format!("{CLI}|{TENANT}|{home}|rt");
    assert!(store.get(&refresh_key).await.unwrap().is_some());
    restarted.remove_account(&sign_in.account).await.unwrap();
    assert_eq!(store.get(&refresh_key).await.unwrap(), None);
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
async fn memory_store_survives_a_restart_of_the_client() {
    survives_a_restart(Arc::new(MemoryStore::new())).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_store_survives_a_restart_of_the_client() {
    use entra_client::store::SqliteStore;
    let path = std::env::temp_dir().join(format!("entra-client-{}.db", unique_suffix()));
    let store = SqliteStore::connect(&format!("sqlite:{}", path.display()), "entra_token_cache")
        .await
        .unwrap();
    survives_a_restart(Arc::new(store)).await;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store_survives_a_restart_of_the_client() {
    use entra_client::store::RedisStore;
    const URL: &str = "redis://127.0.0.1:6379";
    let prefix = format!("entra-client-test-{}:", unique_suffix());
    let store =
        match tokio::time::timeout(Duration::from_secs(10), RedisStore::connect(URL, prefix)).await
        {
            Ok(Ok(store)) => Arc::new(store),
            Ok(Err(e)) if !services_required() => {
                eprintln!("skipped: Redis at {URL} is unreachable ({e}) and CI is unset");
                return;
            }
            Err(_) if !services_required() => {
                eprintln!("skipped: Redis at {URL} did not answer and CI is unset");
                return;
            }
            Ok(Err(e)) => panic!("Redis at {URL} is required (CI is set): {e}"),
            Err(_) => panic!("Redis at {URL} is required (CI is set): no answer"),
        };
    survives_a_restart(store.clone()).await;
    // What sign-out left: the app token.
    let default = format!("{API_URI}/.default").to_lowercase();
    store
        .remove(&format!("{DAEMON}|{TENANT}|app|at|{default}"))
        .await
        .unwrap();
}
