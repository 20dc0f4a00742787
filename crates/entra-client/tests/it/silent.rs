//! Silent acquisition: a cached token while it is valid for more than the
//! margin, else a refresh (the rotated refresh token kept), else
//! "interaction required"; concurrent requests make one network call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use entra_client::{AuthorizationRequest, ClientCredential, ConfidentialClient, Error, SignIn};
use entra_emulator::config::RefreshTokenReuse;
use entra_emulator::{Directory, Emulator};

/// The demo directory with `login_hint` signing in at once.
fn auto_login() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    directory
}

/// [`auto_login`] with strict refresh-token reuse detection: a used refresh
/// token coming back revokes its family (Entra keeps it valid).
fn detecting_reuse() -> Directory {
    let mut directory = auto_login();
    directory.settings.refresh_token_reuse = RefreshTokenReuse::Detect;
    directory
}

/// The web app with a movable clock, signed in as alice for Read and Write
/// (consenting on the page).
async fn signed_in(emulator: &Emulator, clock: &TestClock) -> (ConfidentialClient, SignIn) {
    let client = web_builder(emulator)
        .clock(clock.clock())
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    let start = client
        .authorize_url(
            AuthorizationRequest::new([heroes("Read"), heroes("Write")]).login_hint(ALICE),
        )
        .await
        .unwrap();
    let location = drive(
        &browser(),
        emulator,
        start.url.as_str(),
        ALICE,
        ALICE_PASSWORD,
        Consent::Accept,
    )
    .await;
    let sign_in = client
        .complete_authorization(start.pending, &callback_of(&location))
        .await
        .unwrap();
    (client, sign_in)
}

#[tokio::test]
async fn a_cached_token_is_used_until_the_margin_then_refreshed_with_the_rotated_token() {
    // With reuse detection, so that refreshing with the used token would fail.
    let emulator = start_with(detecting_reuse()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    let scopes = [heroes("Read"), heroes("Write")];

    // Fresh: from the cache (scope order and case do not matter).
    let cached = client
        .acquire_token_silent(
            &sign_in.account,
            &[
                heroes("write").to_uppercase().replace("API://", "api://"),
                heroes("Read"),
            ],
        )
        .await
        .unwrap();
    assert!(cached.from_cache());
    assert_eq!(token_requests(&emulator, "refresh_token"), 0);

    // 55 minutes later the token has 5 minutes left: not more than the margin.
    clock.advance(3300);
    emulator.set_clock_offset(3300);
    let refreshed = client
        .acquire_token_silent(&sign_in.account, &scopes)
        .await
        .unwrap();
    assert!(!refreshed.from_cache());
    assert_ne!(refreshed.secret(), sign_in.access_token.secret());
    assert_eq!(refreshed.account(), Some(&sign_in.account));
    assert!(refreshed.expires_on() > clock.clock().now() + 3000);
    assert_eq!(token_requests(&emulator, "refresh_token"), 1);
    let principal = api_validator_at(&emulator, 3300)
        .await
        .validate(refreshed.secret())
        .await
        .unwrap();
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));

    // Again later: the refresh uses the rotated refresh token (the used one
    // would revoke the whole family here).
    clock.advance(3300);
    emulator.set_clock_offset(6600);
    let again = client
        .acquire_token_silent(&sign_in.account, &scopes)
        .await
        .unwrap();
    assert!(!again.from_cache());
    assert_eq!(token_requests(&emulator, "refresh_token"), 2);
    // And that one is served from the cache.
    assert!(
        client
            .acquire_token_silent(&sign_in.account, &scopes)
            .await
            .unwrap()
            .from_cache()
    );
}

#[tokio::test]
async fn other_scope_sets_are_refreshed_separately_and_cached_by_their_own_key() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    let read = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    assert!(!read.from_cache());
    assert_eq!(read.scopes(), [heroes("Read")]);
    let principal = api_validator(&emulator)
        .await
        .validate(read.secret())
        .await
        .unwrap();
    assert!(principal.has_scope("Heroes.Read") && !principal.has_scope("Heroes.Write"));
    assert!(
        client
            .acquire_token_silent(&sign_in.account, &[heroes("Read")])
            .await
            .unwrap()
            .from_cache()
    );
    assert_eq!(token_requests(&emulator, "refresh_token"), 1);
}

#[tokio::test]
async fn an_expired_refresh_token_means_interaction_required_and_is_forgotten() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    // 91 days later: the access token is long gone, the refresh token expired.
    emulator.set_clock_offset(91 * 24 * 3600);
    clock.advance(91 * 24 * 3600);
    let err = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read"), heroes("Write")])
        .await
        .unwrap_err();
    let Error::InteractionRequired {
        server: Some(server),
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(server.error, "invalid_grant");
    assert_eq!(server.aadsts, Some(700_082));
    assert!(server.trace_id.is_some() && server.correlation_id.is_some());
    // The dead refresh token is gone: the next attempt asks nobody.
    let before = all_token_requests(&emulator);
    let err = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InteractionRequired { server: None }),
        "{err:?}"
    );
    assert_eq!(all_token_requests(&emulator), before);
}

#[tokio::test]
async fn a_revoked_refresh_token_family_means_interaction_required() {
    let emulator = start_with(detecting_reuse()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    // Another holder of the same (stolen) refresh token family uses it twice:
    // simulate by replaying the refresh token the cache holds, once rotated.
    let store = client.token_cache().store().clone();
    let rt_key = format!(
        "{WEB}|{TENANT}|{}|rt",
        sign_in.account.home_account_id().to_lowercase()
    );
    let stolen = store.get(&rt_key).await.unwrap().unwrap();
    clock.advance(3300);
    client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    // The spent token comes back: the authority revokes the family.
    store.put(&rt_key, None, &stolen, None).await.unwrap();
    let err = client
        .acquire_token_silent(&sign_in.account, &[heroes("Write")])
        .await
        .unwrap_err();
    assert!(err.is_interaction_required(), "{err:?}");
    assert_eq!(err.aadsts(), Some(70_008));
}

#[tokio::test]
async fn scopes_the_user_never_consented_to_need_interaction_but_keep_the_refresh_token() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    let err = client
        .acquire_token_silent(&sign_in.account, &[heroes("Delete")])
        .await
        .unwrap_err();
    let server = err.server_error().unwrap();
    assert!(err.is_interaction_required(), "{err:?}");
    assert_eq!(server.aadsts, Some(65_001));
    assert_eq!(server.suberror.as_deref(), Some("consent_required"));
    // The refresh token still serves the consented scopes.
    let read = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    assert!(!read.from_cache());
}

#[tokio::test]
async fn an_unknown_account_needs_interaction_without_a_request() {
    let emulator = start().await;
    let client = web_client(&emulator);
    let err = client
        .acquire_token_silent(&alice(), &[heroes("Read")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InteractionRequired { server: None }),
        "{err:?}"
    );
    assert!(err.to_string().contains("no refresh token"), "{err}");
    assert_eq!(all_token_requests(&emulator), 0);
}

#[tokio::test]
async fn concurrent_silent_requests_for_one_token_make_one_refresh() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    clock.advance(3300);
    let tasks: Vec<_> = (0..24)
        .map(|_| {
            let client = client.clone();
            let account = sign_in.account.clone();
            tokio::spawn(async move {
                client
                    .acquire_token_silent(&account, &[heroes("Read"), heroes("Write")])
                    .await
            })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for task in tasks {
        secrets.insert(task.await.unwrap().unwrap().secret().to_owned());
    }
    assert_eq!(secrets.len(), 1, "every caller got the one refreshed token");
    assert_eq!(token_requests(&emulator, "refresh_token"), 1);
}

#[tokio::test]
async fn concurrent_refreshes_for_other_scopes_take_turns_with_the_refresh_token() {
    // Strict reuse detection: two refreshes with one token would revoke it.
    let emulator = start_with(detecting_reuse()).await;
    let clock = TestClock::default();
    let (client, sign_in) = signed_in(&emulator, &clock).await;
    clock.advance(3300);
    let sets = [
        vec![heroes("Read")],
        vec![heroes("Write")],
        vec![heroes("Read"), heroes("Write")],
    ];
    let tasks: Vec<_> = sets
        .iter()
        .cycle()
        .take(9)
        .cloned()
        .map(|scopes| {
            let client = client.clone();
            let account = sign_in.account.clone();
            tokio::spawn(async move { client.acquire_token_silent(&account, &scopes).await })
        })
        .collect();
    for task in tasks {
        // Had two refreshes used one refresh token, the family would be revoked.
        task.await.unwrap().unwrap();
    }
    assert_eq!(token_requests(&emulator, "refresh_token"), 3);
}

#[tokio::test]
async fn the_margin_is_configurable() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let client = web_builder(&emulator)
        .clock(clock.clock())
        .expiry_margin(Duration::from_secs(3590))
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    let start = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]).login_hint(ALICE))
        .await
        .unwrap();
    let location = drive(
        &browser(),
        &emulator,
        start.url.as_str(),
        ALICE,
        ALICE_PASSWORD,
        Consent::Accept,
    )
    .await;
    let sign_in = client
        .complete_authorization(start.pending, &callback_of(&location))
        .await
        .unwrap();
    clock.advance(20);
    // 3580 seconds left, margin 3590: refreshed.
    let token = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap();
    assert!(!token.from_cache());
}
