//! `/metrics` (issue 16) on the web app's own port: after a real sign-in
//! (which calls the API with alice's token), a forged callback and an
//! unknown page, every request is counted by route template, method and
//! status, and nothing in the output names a code, a state, a session, a
//! user or a tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_sites_requests_by_route_and_name_nobody() {
    entra_metrics::install().unwrap();
    let stack = stack().await;
    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    assert!(home.is_signed_in_home(), "{}", home.body);
    let code = "forged-authorization-code-4b1d";
    let callback = browser
        .get(&stack.url(&format!(
            "/auth/callback?code={code}&state=forged-state-77e1"
        )))
        .await;
    assert_eq!(callback.status, 400, "{}", callback.body);
    let unknown = format!("/nothing-{}", now());
    assert_eq!(browser.get(&stack.url(&unknown)).await.status, 404);

    let metrics = browser.get(&stack.url("/metrics")).await;
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/plain")),
        "{:?}",
        metrics.headers
    );
    let text = metrics.body;
    for prefix in [
        r#"http_requests_total{route="/",method="GET",status="200"}"#,
        r#"http_requests_total{route="/auth/login",method="GET",status="303"}"#,
        r#"http_requests_total{route="/auth/callback",method="GET",status="303"}"#,
        r#"http_requests_total{route="/auth/callback",method="GET",status="400"}"#,
        r#"http_requests_total{route="unmatched",method="GET",status="404"}"#,
        r#"http_request_duration_seconds_count{route="/",method="GET",status="200"}"#,
        // The API in this process validated alice's token.
        r#"entra_auth_outcomes_total{outcome="accepted",reason="accepted"}"#,
        // And the emulator issued it.
        r#"entra_emulator_tokens_issued_total{grant="authorization_code"}"#,
    ] {
        assert!(
            sample(&text, prefix).is_some_and(|v| v >= 1.0),
            "{prefix} in\n{text}"
        );
    }
    let session = browser
        .cookie(&stack.base, COOKIE)
        .unwrap_or_else(|| "no-session-cookie".into());
    for secret in [code, "forged-state-77e1", &session, ALICE, TENANT, &unknown] {
        assert!(
            !text.contains(secret),
            "{secret} is in the metrics:\n{text}"
        );
    }
}
