//! Issue 12, finding 9: where the emulator accepted what Entra refuses.
//! Cross-origin redemption by a web client (AADSTS9002326), SPA redemption
//! without `Origin` (AADSTS9002327), CORS answered only for SPA origins,
//! redirect URIs that are neither `https` nor loopback, and Entra-shaped 405
//! and 413 answers from the token endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;
use entra_emulator::Directory;
use entra_emulator::error::{ConfigError, Error};
use serde_json::{Value, json};

/// A code for the web app (alice, signed in with `autoLoginWithHint`).
async fn web_code(emulator: &entra_emulator::Emulator) -> String {
    let redirect = interactive_code(
        &browser(emulator),
        emulator,
        &[
            ("client_id", WEB),
            ("response_type", "code"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", &api_scope("Read")),
            ("login_hint", ALICE),
        ],
    )
    .await;
    redirect["code"].clone()
}

/// The `Access-Control-Allow-Origin` of a token-endpoint answer to `request`.
async fn allowed_origin(request: reqwest::RequestBuilder) -> (u16, Option<String>) {
    let response = request.send().await.unwrap();
    let allowed = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), allowed)
}

#[tokio::test]
async fn finding_9_cross_origin_redemption_by_a_web_client_is_refused() {
    let emulator = start_with(auto_login_directory()).await;
    let code = web_code(&emulator).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", WEB),
        ("client_secret", WEB_SECRET),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
    ];
    let (s, b) = post_token_from(&emulator, Some("http://localhost:8000"), &form).await;
    assert_aadsts(s, &b, 400, "invalid_request", 9_002_326);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type."),
        "{b}"
    );
    // Refused before use: the code still works server-side.
    let (s, b) = post_token(&emulator, &form).await;
    assert_eq!(s, 200, "{b}");

    // CORS: never `*`; the origin echoed only for the client's SPA redirect URIs.
    let http = client(&emulator);
    let url = token_url(&emulator.http_url());
    let daemon = [
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        ("scope", &format!("{API_URI}/.default")),
    ];
    let (s, allowed) = allowed_origin(http.post(&url).form(&daemon)).await;
    assert_eq!((s, allowed), (200, None));
    let (s, allowed) = allowed_origin(
        http.post(&url)
            .header("origin", "https://evil.example")
            .form(&daemon),
    )
    .await;
    assert_eq!((s, allowed), (200, None));
    let (s, allowed) = allowed_origin(
        http.post(&url)
            .header("origin", SPA_ORIGIN)
            .form(&[("grant_type", "authorization_code"), ("client_id", WEB)]),
    )
    .await;
    assert_eq!((s, allowed), (400, None), "not the web app's origin");
    // The SPA's page: its origin, echoed (on errors too, so the page can read them).
    let (s, allowed) = allowed_origin(
        http.post(&url)
            .header("origin", SPA_ORIGIN)
            .form(&[("grant_type", "authorization_code"), ("client_id", SPA)]),
    )
    .await;
    assert_eq!((s, allowed.as_deref()), (400, Some(SPA_ORIGIN)));
    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let response = http
        .post(&url)
        .header("origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        SPA_ORIGIN
    );
    assert!(
        response.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("origin")
    );

    // The preflight: SPA origins only.
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
    };
    let (s, allowed) = allowed_origin(preflight(SPA_ORIGIN)).await;
    assert_eq!((s, allowed.as_deref()), (204, Some(SPA_ORIGIN)));
    let (s, allowed) = allowed_origin(preflight("https://evil.example")).await;
    assert_eq!((s, allowed), (204, None));
    let (s, allowed) = allowed_origin(preflight("http://localhost:8081")).await;
    assert_eq!((s, allowed), (204, None), "another port is another origin");
}

#[tokio::test]
async fn finding_9_spa_redemption_without_origin_is_refused() {
    let emulator = start_with(auto_login_directory()).await;
    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", SPA),
        ("code", code.as_str()),
        ("redirect_uri", SPA_REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let (s, b) = post_token(&emulator, &form).await;
    assert_aadsts(s, &b, 400, "invalid_request", 9_002_327);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests."),
        "{b}"
    );
    // From the browser, the same code is redeemed.
    let (s, b) = post_spa_token(&emulator, &form).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn finding_9_redirect_uris_must_be_https_or_loopback() {
    let emulator = start().await;
    let url = format!(
        "{}/_emulator/tenants/{TENANT}/applications",
        emulator.http_url()
    );
    let http = client(&emulator);
    let post = |body: Value| {
        let request = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_string());
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let before = emulator.directory();
    for (platform, uri) in [
        ("spa", "javascript:alert(document.domain)"),
        ("web", "http://example.com/callback"),
        ("web", "data:text/html,<script>alert(1)</script>"),
        ("publicClient", "file:///etc/passwd"),
        ("spa", "http://10.0.0.1/cb"),
        ("web", "ftp://localhost/cb"),
    ] {
        let (status, body) = post(json!({ platform: { "redirectUris": [uri] } })).await;
        assert_eq!(status, 422, "{uri}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("must use https, or http on localhost"),
            "{uri}: {body}"
        );
    }
    assert_eq!(emulator.directory(), before);
    for (platform, uri) in [
        ("web", "https://app.example.com/callback"),
        ("spa", "http://localhost:3000/"),
        ("spa", "http://127.0.0.1:5173/"),
        ("publicClient", "http://[::1]/"),
        ("publicClient", "http://localhost"),
    ] {
        let (status, body) = post(json!({ platform: { "redirectUris": [uri] } })).await;
        assert_eq!(status, 201, "{uri}: {body}");
    }

    // The directory file: a configuration error naming the URI.
    let text = include_str!("../../default.toml")
        .replace("http://localhost:8000/auth/callback", "javascript:alert(1)");
    let error = Directory::from_toml(&text).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Config(ConfigError::RedirectUriScheme { uri, .. }) if uri == "javascript:alert(1)"
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn finding_9_413_and_405_are_entra_shaped() {
    let emulator = start().await;
    let http = client(&emulator);
    for url in [
        token_url(&emulator.http_url()),
        format!("{}/{TENANT}/oauth2/token", emulator.http_url()),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::PUT] {
            let response = http.request(method.clone(), &url).send().await.unwrap();
            let status = response.status().as_u16();
            assert_eq!(
                response.headers()["allow"].to_str().unwrap(),
                "POST, OPTIONS"
            );
            let body: Value = response.json().await.unwrap();
            assert_aadsts(status, &body, 405, "invalid_request", 900_561);
            assert!(
                body["error_description"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("Received a {method} request.")),
                "{body}"
            );
        }

        // 2 MiB: a form (read by the request log first) and another content type.
        let big = format!("grant_type=client_credentials&x={}", "a".repeat(2 << 20));
        for content_type in ["application/x-www-form-urlencoded", "application/json"] {
            let response = http
                .post(&url)
                .header("content-type", content_type)
                .body(big.clone())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            assert_aadsts(status, &body, 413, "invalid_request", 90_015);
        }
    }
}
