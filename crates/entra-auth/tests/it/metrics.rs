//! What entra-auth records through the `metrics` facade (issue 16), read
//! back from a Prometheus recorder installed by the test as an application
//! would: each outcome through the layer, the cache's figures, key refreshes
//! by trigger and result, the keys' age; no token, user or tenant in it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::routing::get;
use entra_auth::Require;
use entra_auth::testing::TestKey;

use crate::common::*;

fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_cache_and_key_refreshes_are_recorded_without_tokens_or_ids() {
    // Before any validator of this test is built: they register their
    // counters with the recorder installed when they are built.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let authority = MockAuthority::start().await;
    let auth = authority.ready_validator(authority.config()).await;
    let strict = authority
        .ready_validator(
            authority
                .config()
                .allowed_client_apps(["00000000-0000-0000-0000-000000000001"]),
        )
        .await;
    let app = Router::new()
        .route(
            "/write",
            get(|| async { "ok" }).layer(auth.require(Require::scope("Heroes.Write"))),
        )
        .route("/strict", get(|| async { "ok" }).layer(strict.layer()));
    let base = serve(app).await;
    let write = format!("{base}/write");

    let writer = authority.issuer.delegated(["Heroes.Write"]).sign();
    for _ in 0..3 {
        assert_eq!(get_with_token(&write, &writer).await.status, 200);
    }
    let reader = authority.issuer.delegated(["Heroes.Read"]).sign();
    assert_eq!(get_with_token(&write, &reader).await.status, 403);
    let expired = authority
        .issuer
        .delegated(["Heroes.Write"])
        .claim("exp", 1_000_000)
        .sign();
    assert!(get_with_token(&write, &expired).await.is_invalid_token());
    let other_audience = authority
        .issuer
        .delegated(["Heroes.Write"])
        .claim("aud", "api://someone-else")
        .sign();
    assert!(
        get_with_token(&write, &other_audience)
            .await
            .is_invalid_token()
    );
    let huge = "a".repeat(20 * 1024);
    assert_eq!(get_with_token(&write, &huge).await.status, 431);
    let none = client().get(&write).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(
        get_with_token(&format!("{base}/strict"), &writer)
            .await
            .status,
        403
    );
    // A key the validator has not seen yet: refreshed on demand.
    let rotated = TestKey::generate("rotated-key");
    authority.add_key(&rotated);
    let signed_by_new_key = authority
        .issuer
        .delegated(["Heroes.Write"])
        .header("kid", rotated.kid())
        .sign_with(&rotated);
    assert_eq!(get_with_token(&write, &signed_by_new_key).await.status, 200);
    // A manual refresh, then one that fails (the last-known-good keys stay).
    auth.refresh().await.unwrap();
    authority.set_fault(Fault::Status(500));
    assert!(auth.refresh().await.is_err());
    authority.set_fault(Fault::None);
    auth.publish_metrics();

    let text = prometheus.render();
    for (prefix, at_least) in [
        (
            r#"entra_auth_outcomes_total{outcome="accepted",reason="accepted"}"#,
            5.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="insufficient_scope",reason="insufficient_scope"}"#,
            1.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="invalid_token",reason="expired"}"#,
            1.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="invalid_token",reason="audience"}"#,
            1.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="token_too_large",reason="token_too_large"}"#,
            1.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="missing_token",reason="missing_token"}"#,
            1.0,
        ),
        (
            r#"entra_auth_outcomes_total{outcome="client_not_allowed",reason="client_not_allowed"}"#,
            1.0,
        ),
        (
            r#"entra_auth_key_refreshes_total{trigger="startup",result="success"}"#,
            2.0,
        ),
        (
            r#"entra_auth_key_refreshes_total{trigger="unknown_kid",result="success"}"#,
            1.0,
        ),
        (
            r#"entra_auth_key_refreshes_total{trigger="manual",result="success"}"#,
            1.0,
        ),
        (
            r#"entra_auth_key_refreshes_total{trigger="manual",result="failure"}"#,
            1.0,
        ),
        ("entra_auth_token_cache_hits_total", 2.0),
        ("entra_auth_token_cache_misses_total", 1.0),
        ("entra_auth_token_cache_entries", 1.0),
        ("entra_auth_token_cache_bytes", 1000.0),
        ("entra_auth_keys_last_refresh_timestamp_seconds", 1.7e9),
    ] {
        let value = sample(&text, prefix);
        assert!(value >= at_least, "{prefix}: {value} < {at_least}\n{text}");
    }
    // Published now: the keys were loaded within the last few seconds.
    assert!(
        sample(&text, "entra_auth_keys_age_seconds") < 60.0,
        "{text}"
    );
    for token in [
        &writer,
        &reader,
        &expired,
        &other_audience,
        &signed_by_new_key,
    ] {
        for part in token.split('.') {
            assert!(!text.contains(part), "a token part is in the metrics");
        }
    }
    for id in [
        authority.issuer.tenant_id(),
        authority.issuer.caller_id(),
        authority.issuer.client_id(),
        "someone-else",
    ] {
        assert!(!text.contains(id), "{id} is in the metrics:\n{text}");
    }
}
