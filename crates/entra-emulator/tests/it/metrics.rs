//! `/metrics` (issue 16) on the emulator's listeners: tokens issued by
//! grant, token endpoint errors by AADSTS code, requests by route template,
//! method and status, and, from a validator in the same process, entra-auth's
//! outcomes; no token, secret, user or tenant in any label.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_grants_and_aadsts_codes_and_name_nobody() {
    entra_metrics::install().unwrap();
    let emulator = start().await;
    let validator = validator(&emulator).await;

    let token = daemon_token(&emulator).await;
    assert!(validator.validate(&token).await.is_ok());
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let forged = format!(
        "{rest}.{}{}",
        if signature.starts_with('A') { "B" } else { "A" },
        &signature[1..]
    );
    assert!(validator.validate(&forged).await.is_err());

    let wrong_secret = "not-the-daemon-secret-9c1e";
    let (status, body) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", wrong_secret),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_aadsts(status, &body, 401, "invalid_client", 7_000_215);
    let (status, body) = post_token(
        &emulator,
        &[
            ("grant_type", "urn:example:made-up-grant"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
        ],
    )
    .await;
    assert_aadsts(status, &body, 400, "unsupported_grant_type", 70_003);

    let client = client(&emulator);
    let unknown = format!("/nothing-{}", std::process::id());
    let answer = client
        .get(format!("{}{unknown}", emulator.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);

    let answer = client
        .get(format!("{}/metrics", emulator.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    for prefix in [
        r#"entra_emulator_tokens_issued_total{grant="client_credentials"}"#,
        r#"entra_emulator_errors_total{code="7000215",error="invalid_client"}"#,
        r#"entra_emulator_errors_total{code="70003",error="unsupported_grant_type"}"#,
        r#"http_requests_total{route="/{tenant}/oauth2/v2.0/token",method="POST",status="200"}"#,
        r#"http_requests_total{route="/{tenant}/oauth2/v2.0/token",method="POST",status="401"}"#,
        r#"http_requests_total{route="/{tenant}/v2.0/.well-known/openid-configuration",method="GET",status="200"}"#,
        r#"http_requests_total{route="unmatched",method="GET",status="404"}"#,
        r#"http_request_duration_seconds_count{route="/{tenant}/oauth2/v2.0/token",method="POST",status="200"}"#,
        r#"entra_auth_outcomes_total{outcome="accepted",reason="accepted"}"#,
        r#"entra_auth_outcomes_total{outcome="invalid_token",reason="bad_signature"}"#,
        r#"entra_auth_key_refreshes_total{trigger="startup",result="success"}"#,
    ] {
        assert!(
            sample(&text, prefix).is_some_and(|v| v >= 1.0),
            "{prefix} in\n{text}"
        );
    }
    for part in token.split('.').chain(forged.split('.')) {
        assert!(!text.contains(part), "a token part is in the metrics");
    }
    for secret in [
        wrong_secret,
        DAEMON_SECRET,
        DAEMON,
        TENANT,
        "made-up-grant",
        &unknown,
    ] {
        assert!(
            !text.contains(secret),
            "{secret} is in the metrics:\n{text}"
        );
    }
}
