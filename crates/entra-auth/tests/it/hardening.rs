#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the outside security review found in entra-auth (issue 12, items
//! 1-5), each named after its finding.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use entra_auth::explain::Rule;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{InvalidToken, Principal, Require, Validator};

use crate::common::{Fault, MockAuthority, client, get_with_token, serve};

/// Finding 1: the newest key had never been fetched, an on-demand refresh
/// failed during an outage, and once the endpoint was back its tokens were
/// refused for five minutes. A failed fetch must not use up the on-demand
/// budget, and the retry must come on the promised backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_1_keys_after_an_outage_are_accepted_within_seconds_of_the_restart() {
    let authority = MockAuthority::start().await;
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let config = authority
        .config()
        .refresh_interval(Duration::from_secs(3600))
        .min_refresh_interval(Duration::from_secs(300))
        .build()
        .unwrap();
    let validator = Validator::with_http_client(config, unpooled).unwrap();
    tokio::time::timeout(Duration::from_secs(10), validator.ready())
        .await
        .unwrap();
    let issuer = &authority.issuer;
    let rotated = TestKey::generate(random_guid());
    let token = issuer
        .delegated(["Heroes.Read"])
        .header("kid", rotated.kid())
        .header("x5t", rotated.kid())
        .sign_with(&rotated);

    // The key endpoint hangs, then is killed: the on-demand refreshes fail.
    authority.set_fault(Fault::Hang);
    let hung = validator.validate(&token).await;
    assert!(hung.is_err(), "{hung:?}");
    authority.set_fault(Fault::Refuse);
    let killed = validator.validate(&token).await;
    assert!(killed.is_err(), "{killed:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // It comes back with the rotated key published.
    authority.add_key(&rotated);
    authority.set_fault(Fault::None);
    let restarted = Instant::now();
    let accepted = loop {
        if validator.validate(&token).await.is_ok() {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(20),
            "the rotated key's token was still refused 20 s after the restart: {:?}",
            validator.validate(&token).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(accepted < Duration::from_secs(20), "{accepted:?}");
}

/// Finding 1, the other half: nothing but the background task retries (no
/// request names the new key during the outage's end), and it does so on the
/// backoff, not after the refresh interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_1_a_failed_on_demand_refresh_wakes_the_background_retry() {
    let authority = MockAuthority::start().await;
    let unpooled = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let config = authority
        .config()
        .refresh_interval(Duration::from_secs(3600))
        .min_refresh_interval(Duration::from_secs(300))
        .build()
        .unwrap();
    let validator = Validator::with_http_client(config, unpooled).unwrap();
    tokio::time::timeout(Duration::from_secs(10), validator.ready())
        .await
        .unwrap();
    let rotated = TestKey::generate(random_guid());
    let token = authority
        .issuer
        .delegated(["Heroes.Read"])
        .header("kid", rotated.kid())
        .sign_with(&rotated);
    authority.set_fault(Fault::Status(503));
    assert!(validator.validate(&token).await.is_err());
    let fetches = validator.key_fetches();
    authority.add_key(&rotated);
    authority.set_fault(Fault::None);
    // No request for 5 s: the background task alone must have loaded the key.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        validator.key_fetches() > fetches,
        "no background retry after the failed refresh"
    );
    assert!(validator.is_ready());
    let before = validator.key_fetches();
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(
        validator.key_fetches(),
        before,
        "the background retry had already loaded the rotated key"
    );
}

/// Finding 2: an inner layer trusted any principal in the request extensions,
/// even one made by another validator (another audience): a token for API A
/// passed routes meant for API B.
#[tokio::test]
async fn finding_2_an_inner_layer_never_trusts_another_validators_principal() {
    let issuer = TestIssuer::new();
    let api_a = issuer.validator();
    let other_api = random_guid();
    let api_b = Validator::new(
        issuer
            .config()
            .client_id(other_api.clone())
            .build()
            .unwrap(),
    )
    .unwrap();
    let app = Router::new()
        .route(
            "/b",
            get(|p: Principal| async move { p.key() })
                .layer(api_b.require(Require::authenticated())),
        )
        .route("/a", get(|p: Principal| async move { p.key() }))
        .layer(api_a.layer());
    let base = serve(app).await;
    let for_a = issuer.delegated(["Heroes.Read"]).sign();
    assert_eq!(
        get_with_token(&format!("{base}/a"), &for_a).await.status,
        200
    );
    let answer = get_with_token(&format!("{base}/b"), &for_a).await;
    assert!(answer.is_invalid_token(), "{answer:?}");
    assert!(answer.body.contains(InvalidToken::Audience.description()));

    // A token for B passes B's route, validated again by B (A refuses it
    // first, so it needs a router where A is not outside).
    let for_b = issuer
        .delegated(["Heroes.Read"])
        .claim("aud", other_api.as_str())
        .sign();
    let app = Router::new()
        .route("/b", get(|p: Principal| async move { p.key() }))
        .layer(api_b.require(Require::authenticated()))
        .layer(api_b.layer());
    let base = serve(app).await;
    assert_eq!(
        get_with_token(&format!("{base}/b"), &for_b).await.status,
        200
    );
}

/// Finding 3: the README promised `Option<Principal>` on routes where
/// authentication is optional, but a covered route answered 401 without a
/// token. No token gives `None`; a bad token is still 401.
#[tokio::test]
async fn finding_3_optional_authentication_none_without_a_token_401_with_a_bad_one() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let app = Router::new()
        .route(
            "/maybe",
            get(|p: Option<Principal>| async move {
                p.map_or_else(|| "anonymous".to_owned(), |p| p.key())
            }),
        )
        .route("/must", get(|p: Principal| async move { p.key() }))
        .layer(validator.optional());
    let base = serve(app).await;

    let anonymous = client().get(format!("{base}/maybe")).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.text().await.unwrap(), "anonymous");

    let good = issuer.delegated(["Heroes.Read"]).sign();
    let signed_in = get_with_token(&format!("{base}/maybe"), &good).await;
    assert_eq!(signed_in.status, 200);
    assert_ne!(signed_in.body, "anonymous");

    let bad = issuer.delegated(["Heroes.Read"]).expired().sign();
    let refused = get_with_token(&format!("{base}/maybe"), &bad).await;
    assert!(refused.is_invalid_token(), "{refused:?}");

    // A handler that insists on a principal answers 401, not 500.
    let insists = client().get(format!("{base}/must")).send().await.unwrap();
    assert_eq!(insists.status(), 401);
    assert_eq!(insists.headers()["www-authenticate"], "Bearer");
}

/// Finding 4: a token with neither `scp` nor `roles` was refused with the ID
/// token's message. It has its own reason, and the explanation (what
/// `entra inspect` prints) marks that rule as failing.
#[tokio::test]
async fn finding_4_a_token_with_neither_scp_nor_roles_has_its_own_reason() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    for token in [
        issuer.delegated(["Heroes.Read"]).without("scp").sign(),
        issuer.app_only(["Heroes.Write"]).without("roles").sign(),
    ] {
        let refused = validator.validate(&token).await;
        assert!(
            matches!(
                refused,
                Err(entra_auth::Error::InvalidToken(
                    InvalidToken::NoScopeOrRoles
                ))
            ),
            "{refused:?}"
        );
        let explanation = validator.explain(&token).await;
        let kind = explanation
            .checks
            .iter()
            .find(|c| c.rule == Rule::Kind)
            .unwrap();
        assert_eq!(kind.result, Err(InvalidToken::NoScopeOrRoles), "{kind:?}");
    }
    assert_ne!(
        InvalidToken::NoScopeOrRoles.description(),
        InvalidToken::IdToken.description()
    );
}

/// Finding 5: a validator built outside a tokio runtime never refreshes its
/// keys in the background. It must say so, at `warn`; one built inside a
/// runtime must not.
#[test]
fn finding_5_a_validator_built_outside_a_runtime_warns_that_it_never_refreshes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let authority = runtime.block_on(MockAuthority::start());

    let outside = Logs::default();
    let validator = tracing::subscriber::with_default(outside.subscriber(), || {
        Validator::new(authority.config().build().unwrap()).unwrap()
    });
    let text = outside.text();
    assert!(
        text.contains("WARN") && text.contains("outside a tokio runtime"),
        "{text:?}"
    );
    drop(validator);

    let inside = Logs::default();
    let _entered = runtime.enter();
    let validator = tracing::subscriber::with_default(inside.subscriber(), || {
        Validator::new(authority.config().build().unwrap()).unwrap()
    });
    let text = inside.text();
    assert!(!text.contains("outside a tokio runtime"), "{text:?}");
    drop(validator);
}

/// Issue 16: a failed first load says there are no keys yet, never that it
/// keeps "last-known-good" keys it never had.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_first_load_does_not_claim_last_known_good_keys() {
    let logs = Logs::default();
    let _default = tracing::subscriber::set_default(logs.subscriber());
    let config = entra_auth::AuthConfig::builder()
        .authority_host("http://127.0.0.1:1")
        .tenant(random_guid())
        .client_id(random_guid())
        .build()
        .unwrap();
    let validator = Validator::new(config).unwrap();
    assert!(validator.refresh().await.is_err());
    let text = logs.text();
    assert!(text.contains("no keys yet"), "{text:?}");
    assert!(!text.contains("last-known-good"), "{text:?}");
}

/// Log lines written through a `tracing` subscriber, kept for a test to read.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
