//! The whole system in one test process: the emulator (on `localhost`), the
//! heroes API (SQLite in a temporary directory) and the web app; and a
//! scripted browser (a cookie-keeping HTTP client that follows no
//! redirects) that signs in on the emulator's pages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    unreachable_pub,
    missing_debug_implementations
)]

pub mod tamper;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use demo_api::{ApiConfig, DemoApi};
use demo_web::{DemoWeb, SessionBackend, WebConfig};
use entra_client::Clock;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use reqwest::cookie::{CookieStore, Jar};
use tokio::net::TcpListener;
use url::Url;

pub const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
pub const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
pub const WEB_SECRET: &str = "heroes-web-dev-secret";
pub const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const API_URI: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const ALICE_PASSWORD: &str = "alice-dev-password";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";
pub const BOB_PASSWORD: &str = "bob-dev-password";
pub const COOKIE: &str = "demo-web-session";

/// A unique temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("demo-web-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A clock the test moves.
#[derive(Clone, Default)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn clock(&self) -> Clock {
        let offset = self.0.clone();
        Clock::from_fn(move || {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            now + offset.load(Ordering::SeqCst)
        })
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

/// Whether the test must fail (CI) rather than skip when a service is missing.
pub fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The Redis URL to test against, or `None` (the test is skipped) when Redis
/// does not answer and `CI` is unset. Panics when it does not answer in CI.
pub async fn redis_url() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let reachable = async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut connection = tokio::time::timeout(
            Duration::from_secs(3),
            client.get_multiplexed_async_connection(),
        )
        .await
        .ok()?
        .ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .ok()
    }
    .await
    .is_some();
    if reachable {
        Some(url)
    } else if in_ci() {
        panic!("Redis at {url} does not answer, and CI is set: the test cannot run");
    } else {
        eprintln!("SKIPPED: Redis at {url} does not answer (set CI=1 to make this a failure)");
        None
    }
}

/// A change to the web app's configuration that needs the running emulator.
pub type EmulatorTweak = Box<dyn FnOnce(&mut WebConfig, &Emulator) + Send>;

/// How to start a [`Stack`].
pub struct StackBuilder {
    pub directory: Directory,
    pub backend: SessionBackend,
    pub tweak: Box<dyn FnOnce(&mut WebConfig) + Send>,
    /// Like `tweak`, with the running emulator (its identity endpoint...).
    pub tweak_with_emulator: EmulatorTweak,
    /// Put a tampering proxy in front of the emulator as the web app's authority.
    pub tamper: Option<tamper::Mutation>,
}

impl Default for StackBuilder {
    fn default() -> Self {
        StackBuilder {
            directory: Directory::default_demo(),
            backend: SessionBackend::Memory,
            tweak: Box::new(|_| {}),
            tweak_with_emulator: Box::new(|_, _| {}),
            tamper: None,
        }
    }
}

/// The emulator, the API and the web app, running.
pub struct Stack {
    pub emulator: Arc<Emulator>,
    /// Held so the API runs as long as the stack.
    _api: DemoApi,
    pub web: DemoWeb,
    /// `http://localhost:{port}` of the web app.
    pub base: String,
    pub clock: TestClock,
    pub proxy: Option<tamper::TamperingIdp>,
    pub config: WebConfig,
    /// Held for its `Drop`: the directory goes last (fields drop in order).
    _dir: TempDir,
}

pub async fn stack() -> Stack {
    StackBuilder::default().start().await
}

/// Registers `http(s)://localhost:{port}/auth/callback` and the logout URL for
/// Heroes Web.
pub fn register_web(directory: &mut Directory, port: u16) {
    let app = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == WEB)
        .unwrap();
    for scheme in ["http", "https"] {
        app.web
            .redirect_uris
            .push(format!("{scheme}://localhost:{port}/auth/callback"));
    }
    app.web.logout_url = Some(format!("http://localhost:{port}/"));
}

impl StackBuilder {
    pub fn backend(mut self, backend: SessionBackend) -> Self {
        self.backend = backend;
        self
    }

    pub fn tweak(mut self, tweak: impl FnOnce(&mut WebConfig) + Send + 'static) -> Self {
        self.tweak = Box::new(tweak);
        self
    }

    pub fn tweak_with_emulator(
        mut self,
        tweak: impl FnOnce(&mut WebConfig, &Emulator) + Send + 'static,
    ) -> Self {
        self.tweak_with_emulator = Box::new(tweak);
        self
    }

    pub fn tamper(mut self, mutation: tamper::Mutation) -> Self {
        self.tamper = Some(mutation);
        self
    }

    pub async fn start(self) -> Stack {
        let dir = TempDir::new("stack");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://localhost:{port}");
        let mut directory = self.directory;
        register_web(&mut directory, port);
        let emulator = Arc::new(
            Emulator::start(EmulatorConfig {
                public_host: Some("localhost".into()),
                ..EmulatorConfig::for_tests(directory)
            })
            .await
            .unwrap(),
        );
        let api = start_api(&emulator, dir.path()).await;
        let proxy = match self.tamper {
            Some(mutation) => Some(tamper::start(emulator.clone(), mutation).await),
            None => None,
        };
        let clock = TestClock::default();
        let mut config = WebConfig::demo(match &proxy {
            Some(proxy) => proxy.base.clone(),
            None => emulator.http_url(),
        });
        config.public_base_url = base.clone();
        config.api_base_url = api.url();
        config.session_backend = self.backend;
        config.clock = clock.clock();
        (self.tweak)(&mut config);
        (self.tweak_with_emulator)(&mut config, &emulator);
        let web = DemoWeb::start(config.clone(), listener).await.unwrap();
        Stack {
            emulator,
            _api: api,
            web,
            base,
            clock,
            proxy,
            config,
            _dir: dir,
        }
    }
}

/// The heroes API trusting `emulator`, its data in `dir`, keys loaded.
pub async fn start_api(emulator: &Emulator, dir: &Path) -> DemoApi {
    let database = format!("sqlite://{}", dir.join("api.db").display());
    let config = ApiConfig::demo(emulator.http_url(), database);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = DemoApi::start(config, listener).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), api.validator().ready())
        .await
        .expect("the API loads the emulator's keys");
    api
}

impl Stack {
    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Moves the emulator's clock and the web app's together.
    pub fn advance_both(&self, seconds: i64) {
        self.clock.advance(seconds);
        self.emulator
            .set_clock_offset(self.emulator.now() - now() + seconds);
    }
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A fetched page.
#[derive(Debug, Clone)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> String {
        self.headers
            .get("location")
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
            .to_str()
            .unwrap()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The `Set-Cookie` of cookie `name`.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .find(|c| c.split('=').next() == Some(name))
    }

    pub fn is_sign_in(&self) -> bool {
        self.body.contains("name=\"password\"")
    }

    pub fn is_consent(&self) -> bool {
        self.body.contains("value=\"accept\"")
    }

    pub fn is_signed_out_home(&self) -> bool {
        self.status == 200 && self.body.contains("id=\"sign-in\"")
    }

    pub fn is_signed_in_home(&self) -> bool {
        self.body.contains("id=\"sign-out\"")
    }

    /// The first form's action (absolute) and hidden fields.
    pub fn form(&self) -> (String, Vec<(String, String)>) {
        self.form_at(0)
    }

    /// The `index`-th form.
    pub fn form_at(&self, index: usize) -> (String, Vec<(String, String)>) {
        let start = self
            .body
            .match_indices("<form")
            .nth(index)
            .unwrap_or_else(|| panic!("no form {index} in {}", self.body))
            .0;
        let rest = &self.body[start..];
        let end = rest.find("</form>").unwrap();
        let html = &rest[..end];
        let tag = &html[..html.find('>').unwrap()];
        let action = attribute(tag, "action").unwrap();
        let action = Url::parse(&self.url).unwrap().join(&action).unwrap();
        (action.to_string(), hidden_inputs(html))
    }

    /// The form whose action ends with `suffix`.
    pub fn form_to(&self, suffix: &str) -> (String, Vec<(String, String)>) {
        let count = self.body.matches("<form").count();
        (0..count)
            .map(|i| self.form_at(i))
            .find(|(action, _)| action.ends_with(suffix))
            .unwrap_or_else(|| panic!("no form to {suffix} in {}", self.body))
    }

    /// The page's anti-forgery token.
    pub fn csrf_token(&self) -> String {
        self.form_to("/auth/logout")
            .1
            .into_iter()
            .find(|(k, _)| k == "csrf_token")
            .map(|(_, v)| v)
            .unwrap()
    }
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2F;", "/")
        .replace("&#x3D;", "=")
        .replace("&#x60;", "`")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

/// The query parameters of a URL.
pub fn params_of(url: &str) -> std::collections::HashMap<String, String> {
    Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// A browser: keeps cookies, follows no redirects.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser { http, jar }
    }

    pub async fn get(&self, url: &str) -> Page {
        page(url, self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, fields: &[(String, String)]) -> Page {
        page(url, self.http.post(url).form(fields).send().await.unwrap()).await
    }

    /// Submits a form with its hidden fields and `extra`.
    pub async fn submit(
        &self,
        form: (String, Vec<(String, String)>),
        extra: &[(&str, &str)],
    ) -> Page {
        let (action, mut fields) = form;
        fields.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.post(&action, &fields).await
    }

    /// The value of cookie `name` this browser would send to `url`.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        let header = self.jar.cookies(&Url::parse(url).unwrap())?;
        header
            .to_str()
            .unwrap()
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Replaces cookie `name` for `base`.
    pub fn set_cookie(&self, base: &str, name: &str, value: &str) {
        self.jar.add_cookie_str(
            &format!("{name}={value}; Path=/"),
            &Url::parse(base).unwrap(),
        );
    }

    /// `GET /auth/login` (with `return_to`): the `303` to the authority.
    pub async fn start_login(&self, stack: &Stack, return_to: Option<&str>) -> Page {
        let url = match return_to {
            Some(r) => format!(
                "{}/auth/login?{}",
                stack.base,
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", r)
                    .finish()
            ),
            None => format!("{}/auth/login", stack.base),
        };
        let page = self.get(&url).await;
        assert_eq!(page.status, 303, "{}", page.body);
        page
    }

    /// From the authorize URL to the redirect back to the web app, signing in
    /// as `user` and accepting consent when asked: the callback URL.
    pub async fn authorize(&self, authorize_url: &str, user: &str, password: &str) -> String {
        let mut page = self.get(authorize_url).await;
        if page.is_sign_in() {
            page = self
                .submit(page.form(), &[("username", user), ("password", password)])
                .await;
        }
        if page.is_consent() {
            page = self.submit(page.form(), &[("action", "accept")]).await;
        }
        assert_eq!(page.status, 302, "{}", page.body);
        page.location()
    }

    /// The whole sign-in: login, the emulator's pages, the callback. Returns
    /// the callback's answer.
    pub async fn sign_in_as(&self, stack: &Stack, user: &str, password: &str) -> Page {
        let login = self.start_login(stack, None).await;
        let callback = self.authorize(&login.location(), user, password).await;
        assert!(
            callback.starts_with(&format!("{}/auth/callback?", stack.base)),
            "{callback}"
        );
        self.get(&callback).await
    }

    /// Signs in as alice and returns the start page.
    pub async fn sign_in(&self, stack: &Stack) -> Page {
        let answer = self.sign_in_as(stack, ALICE, ALICE_PASSWORD).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        let home = self.get(&stack.url("/")).await;
        assert!(home.is_signed_in_home(), "{}", home.body);
        home
    }

    /// The start page.
    pub async fn home(&self, stack: &Stack) -> Page {
        self.get(&stack.url("/")).await
    }
}

async fn page(url: &str, response: reqwest::Response) -> Page {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    Page {
        url: url.to_owned(),
        status,
        headers,
        body,
    }
}

/// Asserts the protective headers of a page of the web app.
pub fn assert_protected(page: &Page) {
    assert_eq!(
        page.header("x-frame-options").as_deref(),
        Some("DENY"),
        "{}",
        page.url
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(
        page.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        page.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert!(page.header("cache-control").unwrap().contains("no-store"));
}
