//! `entra token` and `entra web` as processes, against an emulator and an
//! API running in the test: `entra token` prints a token (and only a token)
//! that the API's validator accepts, by client credentials and by device
//! code; `entra web` serves the sign-in it prints and stops on SIGTERM; a
//! non-local authority without a secret is one line on stderr and exit 2;
//! `entra web --managed-identity-assertion` signs in with no secret at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use entra_auth::{AuthConfig, Validator};

use crate::process::{Running, TempDir, entra};
use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const CLI: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const ALICE_PASSWORD: &str = "alice-dev-password";

async fn emulator(directory: Directory) -> Emulator {
    Emulator::start(EmulatorConfig {
        https_addr: None,
        public_host: Some("localhost".into()),
        ..EmulatorConfig::for_tests(directory)
    })
    .await
    .unwrap()
}

/// A validator for the heroes API, trusting `emulator`, keys loaded.
async fn api_validator(emulator: &Emulator) -> Validator {
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

#[tokio::test(flavor = "multi_thread")]
async fn entra_token_prints_only_an_app_token_that_validates() {
    let emulator = emulator(Directory::default_demo()).await;
    let dir = TempDir::new("token");
    let mut running = Running::start(entra(
        &dir.0,
        &["token", "--authority-host", &emulator.http_url()],
    ));
    let status = running.wait(Duration::from_secs(60)).await;
    let stdout = running.stdout.lock().unwrap().clone();
    let stderr = running.stderr.lock().unwrap().clone();
    assert!(status.success(), "{stderr}");
    // One line: the token, nothing else.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let token = stdout.trim();
    assert!(token.starts_with("eyJ"), "{stdout}");
    assert!(!stderr.contains(token), "the token is never logged");
    let principal = api_validator(&emulator)
        .await
        .validate(token)
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(
        principal.has_app_permission("Heroes.Read"),
        "{:?}",
        principal.roles()
    );

    // The same with the flag spelled out, and through the environment.
    let mut command = entra(&dir.0, &["token", "--client-credentials"]);
    command.env("AZURE_AUTHORITY_HOST", emulator.http_url());
    let mut running = Running::start(command);
    assert!(running.wait(Duration::from_secs(60)).await.success());
    assert!(running.stdout.lock().unwrap().trim().starts_with("eyJ"));
}

/// The parameters of the device-code message printed on stderr.
fn device_message(stderr: &str) -> Option<(String, String)> {
    let line = stderr.lines().find(|l| l.contains("enter the code"))?;
    let uri = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))?
        .to_owned();
    let code = line
        .split("enter the code ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .to_owned();
    Some((uri, code))
}

/// The value of the hidden input `name`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name}: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_token_device_code_prints_the_instructions_to_stderr_and_the_token_to_stdout() {
    let mut directory = Directory::default_demo();
    directory.settings.device_code_interval = 1;
    let emulator = emulator(directory).await;
    let dir = TempDir::new("device");
    let mut running = Running::start(entra(
        &dir.0,
        &[
            "token",
            "--device-code",
            "--authority-host",
            &emulator.http_url(),
        ],
    ));
    running
        .until("device-code message", |_, err| {
            device_message(err).is_some()
        })
        .await;
    let (uri, code) = device_message(&running.stderr.lock().unwrap()).unwrap();
    assert!(
        running.stdout.lock().unwrap().is_empty(),
        "nothing on stdout yet"
    );

    // The user, in a browser elsewhere: the code, the sign-in, continue.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(&uri)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = browser
        .post(&uri)
        .form(&[("flowToken", hidden(&page, "flowToken")), ("code", code)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = browser
        .post(&uri)
        .form(&[
            ("flowToken", hidden(&page, "flowToken")),
            ("username", ALICE.to_owned()),
            ("password", ALICE_PASSWORD.to_owned()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = browser
        .post(&uri)
        .form(&[
            ("flowToken", hidden(&page, "flowToken")),
            ("action", "continue".to_owned()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    let status = running.wait(Duration::from_secs(60)).await;
    let stdout = running.stdout.lock().unwrap().clone();
    assert!(status.success(), "{}", running.stderr.lock().unwrap());
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let principal = api_validator(&emulator)
        .await
        .validate(stdout.trim())
        .await
        .unwrap();
    assert!(!principal.is_app_only());
    // The default scope, `.default`: every permission consented to the CLI app.
    for scope in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] {
        assert!(principal.has_scope(scope), "{:?}", principal.scopes());
    }
    assert_eq!(principal.client_id(), Some(CLI));
}

#[tokio::test(flavor = "multi_thread")]
async fn misconfiguration_is_one_line_and_exit_code_2() {
    let dir = TempDir::new("misconfigured");
    for args in [
        &[
            "web",
            "--authority-host",
            "https://login.microsoftonline.com",
        ][..],
        &[
            "token",
            "--authority-host",
            "https://login.microsoftonline.com",
        ],
        &["web", "--authority-host", "http://login.example.com"],
        &["web", "--session-store", "redis"],
        &["web", "--public-url", "http://localhost:8000/app"],
    ] {
        let mut running = Running::start(entra(&dir.0, args));
        let status = running.wait(Duration::from_secs(30)).await;
        let stderr = running.stderr.lock().unwrap().clone();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("entra: "), "{stderr}");
        assert!(running.stdout.lock().unwrap().is_empty());
    }
    // The first says what is missing.
    let mut running = Running::start(entra(
        &dir.0,
        &[
            "web",
            "--authority-host",
            "https://login.microsoftonline.com",
        ],
    ));
    running.wait(Duration::from_secs(30)).await;
    assert!(
        running
            .stderr
            .lock()
            .unwrap()
            .contains("AZURE_CLIENT_SECRET")
    );
}

/// The URL after `label:` in a banner.
fn banner_url(banner: &str, label: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{label}:")))
        .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("no {label} line in {banner}"))
}

fn params_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn form_action_and_hidden(base: &str, html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").unwrap();
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let action = tag
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut fields = Vec::new();
    for rest in html[start..].split("<input").skip(1) {
        let tag = &rest[..rest.find('>').unwrap()];
        if tag.contains("type=\"hidden\"") {
            let name = tag
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            let value = tag
                .split("value=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            fields.push((name.to_owned(), value.replace("&amp;", "&")));
        }
    }
    let action = if action.starts_with('/') {
        format!("{base}{action}")
    } else {
        action.to_owned()
    };
    (action, fields)
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_web_serves_a_sign_in_and_stops_on_sigterm() {
    // A port for the web app, registered in the emulator's directory.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut directory = Directory::default_demo();
    let app = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == WEB)
        .unwrap();
    app.web
        .redirect_uris
        .push(format!("http://localhost:{port}/auth/callback"));
    let emulator = emulator(directory).await;
    let dir = TempDir::new("web");
    let mut running = Running::start(entra(
        &dir.0,
        &[
            "web",
            "--port",
            &port.to_string(),
            "--authority-host",
            &emulator.http_url(),
            "--data-dir",
            &dir.0.join("data").display().to_string(),
        ],
    ));
    running
        .until("banner", |out, _| out.contains("Press Ctrl-C"))
        .await;
    let banner = running.stdout.lock().unwrap().clone();
    let base = banner_url(&banner, "open").trim_end_matches('/').to_owned();
    assert_eq!(base, format!("http://localhost:{port}"));
    assert!(
        banner.contains(&format!("{base}/auth/callback")),
        "{banner}"
    );
    assert!(!banner.contains("heroes-web-dev-secret"), "{banner}");
    assert!(dir.0.join("data/web/sessions.db").exists());

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let home = browser.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("id=\"sign-in\""));

    // Sign in as alice on the emulator's pages.
    let login = browser
        .get(format!("{base}/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        params_of(&authorize)["redirect_uri"],
        format!("{base}/auth/callback")
    );
    let page = browser
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator.http_url(), &page);
    fields.push(("username".into(), ALICE.into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let page = browser.post(&action).form(&fields).send().await.unwrap();
    let page = page.text().await.unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator.http_url(), &page);
    fields.push(("action".into(), "accept".into()));
    let redirect = browser.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let callback = redirect.headers()["location"].to_str().unwrap().to_owned();
    let answer = browser.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let home = browser.get(format!("{base}/")).send().await.unwrap();
    // No API is running: the signed-in page says so, with a 502.
    assert_eq!(home.status(), 502);
    let body = home.text().await.unwrap();
    assert!(body.contains("Alice Admin"), "{body}");
    assert!(body.contains("cannot be reached"), "{body}");

    running.signal("TERM");
    let status = running.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "{}", running.stderr.lock().unwrap());
    // Nothing secret in what it printed.
    let stderr = running.stderr.lock().unwrap().clone();
    let code = params_of(&callback)["code"].clone();
    for secret in ["eyJ", code.as_str()] {
        assert!(!stderr.contains(secret), "{stderr}");
    }
}

/// `entra web --managed-identity-assertion` on "App Service": Heroes Web has
/// no secret in the emulator's directory, only a federated credential
/// trusting the demo's user-assigned identity; the process gets that
/// identity's token from IDENTITY_ENDPOINT (with IDENTITY_HEADER) and signs
/// alice in with it as the client assertion.
#[tokio::test(flavor = "multi_thread")]
async fn entra_web_signs_in_with_its_managed_identity_and_no_secret() {
    const IDENTITY_CLIENT_ID: &str = "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f";
    const IDENTITY_PRINCIPAL_ID: &str = "b8d4f0a2-5c3e-4f9b-8a7d-2e4c6b8d0f3a";
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut directory = Directory::default_demo();
    let app = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == WEB)
        .unwrap();
    app.web
        .redirect_uris
        .push(format!("http://localhost:{port}/auth/callback"));
    app.password_credentials.clear();
    let emulator = emulator(directory).await;
    emulator
        .add_federated_credential(
            TENANT,
            WEB,
            serde_json::from_value(serde_json::json!({
                "name": "app-service-managed-identity",
                "issuer": emulator.issuer_v2(TENANT),
                "subject": IDENTITY_PRINCIPAL_ID,
            }))
            .unwrap(),
        )
        .unwrap();
    let dir = TempDir::new("web-mi");
    let mut command = entra(
        &dir.0,
        &[
            "web",
            "--port",
            &port.to_string(),
            "--authority-host",
            &emulator.http_url(),
            "--session-store",
            "memory",
        ],
    );
    command
        .env("WEB_MANAGED_IDENTITY_ASSERTION", "true")
        .env("WEB_MANAGED_IDENTITY_CLIENT_ID", IDENTITY_CLIENT_ID)
        .env("IDENTITY_ENDPOINT", emulator.identity_endpoint())
        .env("IDENTITY_HEADER", emulator.identity_header());
    let mut running = Running::start(command);
    running
        .until("banner", |out, _| out.contains("Press Ctrl-C"))
        .await;
    let banner = running.stdout.lock().unwrap().clone();
    assert!(
        banner.contains(&format!("managed identity {IDENTITY_CLIENT_ID}")),
        "{banner}"
    );
    let base = banner_url(&banner, "open").trim_end_matches('/').to_owned();

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .get(format!("{base}/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let page = browser
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator.http_url(), &page);
    fields.push(("username".into(), ALICE.into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let page = browser.post(&action).form(&fields).send().await.unwrap();
    let page = page.text().await.unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator.http_url(), &page);
    fields.push(("action".into(), "accept".into()));
    let redirect = browser.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let callback = redirect.headers()["location"].to_str().unwrap().to_owned();
    let answer = browser.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 303, "{}", answer.text().await.unwrap());
    let home = browser.get(format!("{base}/")).send().await.unwrap();
    let body = home.text().await.unwrap();
    assert!(body.contains("Alice Admin"), "{body}");

    running.signal("TERM");
    let status = running.wait(Duration::from_secs(10)).await;
    assert!(status.success(), "{}", running.stderr.lock().unwrap());
    let stderr = running.stderr.lock().unwrap().clone();
    for secret in ["eyJ", emulator.identity_header()] {
        assert!(!stderr.contains(secret), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_web_credential_or_exit_code_2() {
    let dir = TempDir::new("web-mi-misconfigured");
    for (args, expected) in [
        (
            &[
                "web",
                "--managed-identity-assertion",
                "--client-secret",
                "s",
            ][..],
            "set one",
        ),
        (
            &[
                "web",
                "--managed-identity-client-id",
                "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f",
            ],
            "WEB_MANAGED_IDENTITY_ASSERTION",
        ),
        (
            &[
                "web",
                "--managed-identity-assertion",
                "--identity-header",
                "h",
            ],
            "go together",
        ),
    ] {
        let mut running = Running::start(entra(&dir.0, args));
        let status = running.wait(Duration::from_secs(30)).await;
        let stderr = running.stderr.lock().unwrap().clone();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(running.stdout.lock().unwrap().is_empty());
    }
}
