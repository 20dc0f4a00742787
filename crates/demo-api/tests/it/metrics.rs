//! `/metrics` (issue 16): after real requests (a valid token, forged and
//! expired ones, a missing scope, none at all, an unknown path) the API's
//! own port serves every family in Prometheus's text format: requests by
//! route template, method and status, and entra-auth's outcomes, cache and
//! key figures; and nothing in it names a token, a user or a tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::*;

/// The value of the sample whose line starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_outcomes_and_name_no_token_user_or_tenant() {
    // Installed before the API builds its validator, as `entra api` does.
    entra_metrics::install().unwrap();
    let h = Harness::start(Backend::Sqlite).await.unwrap();

    let valid = h.token(Who::Alice(ALL_SCOPES));
    for _ in 0..3 {
        assert_eq!(h.get("/heroes", Some(&valid)).await.status, 200);
    }
    let forged = h.tampered_token();
    assert_eq!(h.get("/heroes", Some(&forged)).await.status, 401);
    let expired = h.expired_token();
    assert_eq!(h.get("/heroes", Some(&expired)).await.status, 401);
    let narrow = h.token(Who::Bob(&["Heroes.Write"]));
    assert_eq!(h.get("/heroes", Some(&narrow)).await.status, 403);
    assert_eq!(h.get("/heroes", None).await.status, 401);
    let unknown = format!("/nothing-{}", unique());
    assert_eq!(h.get(&unknown, None).await.status, 404);

    // The cache's figures are published every few seconds, not per request.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let reply = h.get("/metrics", None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(
            reply.header("content-type").starts_with("text/plain"),
            "{:?}",
            reply.headers
        );
        if sample(&reply.text, "entra_auth_token_cache_hits_total").unwrap_or(0.0) >= 2.0 {
            break reply.text;
        }
        assert!(
            Instant::now() < deadline,
            "the cache figures never showed:\n{}",
            reply.text
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    for prefix in [
        r#"http_requests_total{route="/heroes",method="GET",status="200"}"#,
        r#"http_requests_total{route="/heroes",method="GET",status="401"}"#,
        r#"http_requests_total{route="/heroes",method="GET",status="403"}"#,
        r#"http_requests_total{route="unmatched",method="GET",status="404"}"#,
        r#"http_request_duration_seconds_bucket{route="/heroes",method="GET",status="200",le="+Inf"}"#,
        r#"http_request_duration_seconds_count{route="/heroes",method="GET",status="200"}"#,
        r#"entra_auth_outcomes_total{outcome="accepted",reason="accepted"}"#,
        r#"entra_auth_outcomes_total{outcome="invalid_token",reason="bad_signature"}"#,
        r#"entra_auth_outcomes_total{outcome="invalid_token",reason="expired"}"#,
        r#"entra_auth_outcomes_total{outcome="insufficient_scope",reason="insufficient_scope"}"#,
        r#"entra_auth_outcomes_total{outcome="missing_token",reason="missing_token"}"#,
        "entra_auth_token_cache_hits_total",
        "entra_auth_token_cache_misses_total",
        "entra_auth_token_cache_entries",
        "entra_auth_token_cache_bytes",
        r#"entra_auth_key_refreshes_total{trigger="#,
        "entra_auth_keys_age_seconds",
        "entra_auth_keys_last_refresh_timestamp_seconds",
    ] {
        let value = sample(&text, prefix);
        assert!(
            value.is_some_and(|v| v >= 1.0
                || prefix.contains("age")
                || prefix.contains("entries")
                || prefix.contains("bytes")),
            "{prefix}: {value:?} in\n{text}"
        );
    }
    assert!(sample(&text, "entra_auth_token_cache_entries").unwrap() >= 1.0);
    assert!(sample(&text, "entra_auth_token_cache_bytes").unwrap() >= 1.0);
    assert!(text.contains(r#"result="success""#), "{text}");
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{text}"
    );

    // Nothing a caller sent or a token says reaches a label.
    for token in [&valid, &forged, &expired, &narrow] {
        for part in token.split('.') {
            assert!(!text.contains(part), "a token part is in the metrics");
        }
    }
    for secret in [ALICE, ALICE_OID, BOB, BOB_OID, TENANT, &unknown] {
        assert!(
            !text.contains(secret),
            "{secret} is in the metrics:\n{text}"
        );
    }
    h.stop().await;
}
