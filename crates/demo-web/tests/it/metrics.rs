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

    // The Grafana dashboard queries only families this process serves
    // (the emulator's error family once a token request failed, the cache's
    // once the validator published it).
    let refused = reqwest::Client::new()
        .post(format!(
            "{}/{TENANT}/oauth2/v2.0/token",
            stack.emulator.http_url()
        ))
        .form(&[("grant_type", "client_credentials"), ("client_id", WEB)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/grafana/entra.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut queries = Vec::new();
    collect_queries(&dashboard, &mut queries);
    assert!(queries.len() >= 15, "{queries:?}");
    let names: std::collections::BTreeSet<&str> = queries
        .iter()
        .flat_map(|q| q.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')))
        .filter(|word| word.starts_with("entra_") || word.starts_with("http_"))
        .collect();
    assert!(names.len() >= 12, "{names:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = browser.get(&stack.url("/metrics")).await.body;
        let missing: Vec<&&str> = names
            .iter()
            .filter(|name| !text.lines().any(|line| line.starts_with(**name)))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the dashboard queries {missing:?}, never served:\n{text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Every `expr` in a dashboard.
fn collect_queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_queries(value, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}
