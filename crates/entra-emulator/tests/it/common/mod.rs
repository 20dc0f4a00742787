//! Shared helpers for the emulator's tests: the demo directory's ids, an
//! emulator on random loopback ports, HTTP clients that trust its CA, and an
//! `entra-auth` validator pointed at it.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::PathBuf;
use std::time::Duration;

use entra_auth::{AuthConfig, Validator};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;

pub const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const API_URI: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
pub const WEB_SECRET: &str = "heroes-web-dev-secret";
pub const WEB_REDIRECT: &str = "http://localhost:8000/auth/callback";
pub const SPA: &str = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
pub const SPA_REDIRECT: &str = "http://localhost:8080/docs/oauth2-redirect.html";
/// The origin of [`SPA_REDIRECT`]: the `Origin` a browser sends from the SPA.
pub const SPA_ORIGIN: &str = "http://localhost:8080";
pub const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
pub const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";
pub const CLI: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const ALICE_PASSWORD: &str = "alice-dev-password";
pub const ALICE_OID: &str = "0a5e3f1c-7b2d-4e6a-9c8f-1d2e3f4a5b6c";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";
pub const BOB_PASSWORD: &str = "bob-dev-password";

/// The demo directory, in memory, on random loopback ports (HTTP and HTTPS).
pub async fn start() -> Emulator {
    start_with(Directory::default_demo()).await
}

pub async fn start_with(directory: Directory) -> Emulator {
    Emulator::start(EmulatorConfig::for_tests(directory))
        .await
        .unwrap()
}

/// An HTTP client that trusts the emulator's CA, follows no redirects.
pub fn client(emulator: &Emulator) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = emulator.ca_pem() {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// `{base}/{tenant}/oauth2/v2.0/token`.
pub fn token_url(base: &str) -> String {
    format!("{base}/{TENANT}/oauth2/v2.0/token")
}

/// POSTs a form to the token endpoint; returns status and JSON body.
pub async fn post_token(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    post_token_from(emulator, None, form).await
}

/// POSTs a form to the token endpoint as the SPA's page does: cross-origin,
/// from [`SPA_ORIGIN`].
pub async fn post_spa_token(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    post_token_from(emulator, Some(SPA_ORIGIN), form).await
}

/// POSTs a form to the token endpoint, with an `Origin` header when given.
pub async fn post_token_from(
    emulator: &Emulator,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = client(emulator)
        .post(token_url(&emulator.http_url()))
        .form(form);
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// A daemon token for the heroes API (client credentials).
pub async fn daemon_token(emulator: &Emulator) -> String {
    let (status, body) = post_token(
        emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// An `entra-auth` validator for the heroes API, trusting the emulator.
pub async fn validator(emulator: &Emulator) -> Validator {
    let config = AuthConfig::builder()
        .authority_host(emulator.http_url())
        .tenant(TENANT)
        .client_id(API)
        .build()
        .unwrap();
    let validator = Validator::new(config).unwrap();
    tokio::time::timeout(Duration::from_secs(10), validator.ready())
        .await
        .unwrap();
    validator
}

/// Asserts an Entra-shaped error body with this `error` and AADSTS code.
pub fn assert_aadsts(status: u16, body: &Value, expected_status: u16, error: &str, code: u64) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"][0], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}:")),
        "{description}"
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(body[field].is_string(), "{field} missing: {body}");
    }
}

/// A unique directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "entra-emulator-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
