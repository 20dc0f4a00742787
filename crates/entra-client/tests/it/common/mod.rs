//! Shared helpers for entra-client's tests: the demo directory's ids, an
//! emulator on random loopback ports, clients pointed at it, a scripted
//! browser for the sign-in pages, a movable clock, request counting.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

pub mod tamper;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use entra_auth::{AuthConfig, Validator};
use entra_client::{Callback, Client, ClientBuilder, ClientCredential, Clock, ConfidentialClient};
use entra_emulator::{Directory, Emulator, EmulatorConfig};

pub const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const API_URI: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
pub const WEB_SECRET: &str = "heroes-web-dev-secret";
pub const WEB_REDIRECT: &str = "http://localhost:8000/auth/callback";
pub const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
pub const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";
pub const CLI: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const ALICE_PASSWORD: &str = "alice-dev-password";
pub const ALICE_OID: &str = "0a5e3f1c-7b2d-4e6a-9c8f-1d2e3f4a5b6c";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";

/// Alice's account, as an app would have kept it in a session.
pub fn alice() -> entra_client::Account {
    serde_json::from_value(serde_json::json!({
        "object_id": ALICE_OID,
        "tenant_id": TENANT,
        "username": ALICE,
    }))
    .unwrap()
}

/// `api://{heroes}/Heroes.{name}`.
pub fn heroes(name: &str) -> String {
    format!("{API_URI}/Heroes.{name}")
}

/// The demo directory, in memory, on random loopback ports.
pub async fn start() -> Emulator {
    start_with(Directory::default_demo()).await
}

pub async fn start_with(directory: Directory) -> Emulator {
    Emulator::start(EmulatorConfig::for_tests(directory))
        .await
        .unwrap()
}

/// A clock the test moves: system time plus an offset.
#[derive(Debug, Clone, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Clock::from_fn(move || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
                + offset.load(Ordering::SeqCst)
        })
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// A client builder for `client_id` pointed at the emulator's HTTP listener.
pub fn builder(emulator: &Emulator, client_id: &str) -> ClientBuilder {
    Client::builder(TENANT, client_id).authority_host(emulator.http_url())
}

/// The web app (confidential, secret), redirect URI set.
pub fn web_client(emulator: &Emulator) -> ConfidentialClient {
    web_builder(emulator)
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap()
}

pub fn web_builder(emulator: &Emulator) -> ClientBuilder {
    builder(emulator, WEB).redirect_uri(WEB_REDIRECT)
}

/// The daemon (confidential, secret).
pub fn daemon_client(emulator: &Emulator) -> ConfidentialClient {
    builder(emulator, DAEMON)
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap()
}

/// An `entra-auth` validator for the heroes API, trusting the emulator.
pub async fn api_validator(emulator: &Emulator) -> Validator {
    api_validator_at(emulator, 0).await
}

/// The same, on a clock `offset` seconds ahead (an emulator moved as far).
pub async fn api_validator_at(emulator: &Emulator, offset: i64) -> Validator {
    let config = AuthConfig::builder()
        .authority_host(emulator.http_url())
        .tenant(TENANT)
        .client_id(API)
        .clock(entra_auth::Clock::offset(offset))
        .build()
        .unwrap();
    let validator = Validator::new(config).unwrap();
    tokio::time::timeout(Duration::from_secs(10), validator.ready())
        .await
        .unwrap();
    validator
}

/// Requests to the token endpoint with this grant type.
pub fn token_requests(emulator: &Emulator, grant_type: &str) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("/oauth2/v2.0/token")
                && r.params
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == grant_type)
        })
        .count()
}

/// Every request to a token endpoint.
pub fn all_token_requests(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count()
}

// --- A scripted browser -------------------------------------------------------

/// A browser: keeps cookies, follows no redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A fetched page.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    async fn from(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().await.unwrap();
        Page {
            status,
            location,
            body,
        }
    }

    pub fn is_sign_in(&self) -> bool {
        self.body.contains("name=\"password\"")
    }

    pub fn is_consent(&self) -> bool {
        self.body.contains("value=\"accept\"")
    }
}

pub async fn get(browser: &reqwest::Client, url: &str) -> Page {
    Page::from(browser.get(url).send().await.unwrap()).await
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The first form's action and hidden inputs.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let rest = &html[html.find("<form").expect("a form")..];
    let tag = &rest[..rest.find('>').unwrap()];
    let action = attribute(tag, "action").unwrap();
    let hidden = html
        .split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect();
    (action, hidden)
}

/// POSTs a page's first form with extra fields.
pub async fn submit(
    browser: &reqwest::Client,
    emulator: &Emulator,
    page: &Page,
    extra: &[(&str, &str)],
) -> Page {
    let (action, mut fields) = form(&page.body);
    for (k, v) in extra {
        fields.push(((*k).to_owned(), (*v).to_owned()));
    }
    let url = if action.starts_with('/') {
        format!("{}{action}", emulator.http_url())
    } else {
        action
    };
    Page::from(browser.post(url).form(&fields).send().await.unwrap()).await
}

/// What the user does on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Accept,
    Cancel,
}

/// Drives the emulator's pages for `url` (sign in as `user`, answer consent)
/// and returns where it finally redirects to.
pub async fn drive(
    browser: &reqwest::Client,
    emulator: &Emulator,
    url: &str,
    user: &str,
    password: &str,
    consent: Consent,
) -> String {
    let mut page = get(browser, url).await;
    if page.is_sign_in() {
        page = submit(
            browser,
            emulator,
            &page,
            &[("username", user), ("password", password)],
        )
        .await;
    }
    if page.is_consent() {
        let action = match consent {
            Consent::Accept => "accept",
            Consent::Cancel => "cancel",
        };
        page = submit(browser, emulator, &page, &[("action", action)]).await;
    }
    assert_eq!(page.status, 302, "{}", page.body);
    page.location.unwrap()
}

/// The callback of a redirect location.
pub fn callback_of(location: &str) -> Callback {
    Callback::from_url(&url::Url::parse(location).unwrap()).unwrap()
}

/// The query parameters of a URL.
pub fn params_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Whether an external service is required (`CI` set): then a missing one fails.
pub fn services_required() -> bool {
    std::env::var_os("CI").is_some()
}

/// A random lowercase suffix for table names and key prefixes.
pub fn unique_suffix() -> String {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
