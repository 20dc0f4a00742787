//! Swagger UI's **Authorize** button in a real browser (headless Chromium
//! driven through ChromeDriver's WebDriver API): the authorization-code flow
//! with PKCE against the emulator, alice signs in, and the token Swagger UI
//! holds is accepted by the API.
//!
//! Needs `chromedriver` and Chromium on the PATH (Debian's `chromium` and
//! `chromium-driver`). Without them the test is skipped with a message,
//! unless `CI` is set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use demo_api::{ApiConfig, DemoApi};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::{Value, json};

/// A ChromeDriver process, stopped on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> Option<Self> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let child = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: chromedriver cannot be started ({e}); install chromium and chromium-driver, or set CI=1 to make this a failure"
                );
                return None;
            }
            Err(e) => panic!("chromedriver cannot be started (CI is set): {e}"),
        };
        Some(ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn open(driver: &ChromeDriver) -> Self {
        let http = http_client();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{}/status", driver.url)).send().await;
            if let Ok(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver never got ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1400"
            ]}
        }}});
        let created: Value = http
            .post(format!("{}/session", driver.url))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"));
        Browser {
            http,
            session: format!("{}/session/{id}", driver.url),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request.send().await.unwrap().json().await.unwrap();
        reply["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// The element matching `css`, waiting for it to appear.
    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    Some(json!({"using": "css selector", "value": css})),
                )
                .await;
            if let Some(id) = found
                .as_object()
                .and_then(|o| o.values().next())
                .and_then(Value::as_str)
            {
                return id.to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn window(&self) -> String {
        self.call(reqwest::Method::GET, "/window", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn switch_to(&self, handle: &str) {
        self.call(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": handle })),
        )
        .await;
    }

    /// A window other than `main`, waiting for it to open.
    async fn other_window(&self, main: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let handles = self
                .call(reqwest::Method::GET, "/window/handles", None)
                .await;
            if let Some(other) = handles
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|h| *h != main)
            {
                return other.to_owned();
            }
            assert!(Instant::now() < deadline, "the sign-in window never opened");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn close(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_signs_in_with_pkce_and_its_token_calls_the_api() {
    let Some(driver) = ChromeDriver::start() else {
        return;
    };
    // The API's port first: the SPA registration must name its redirect URI.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut directory = Directory::default_demo();
    let swagger = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == SWAGGER)
        .unwrap();
    swagger
        .spa
        .redirect_uris
        .push(format!("http://localhost:{port}/docs/oauth2-redirect.html"));
    let emulator = Emulator::start(EmulatorConfig {
        https_addr: None,
        ..EmulatorConfig::for_tests(directory)
    })
    .await
    .unwrap();
    let dir = TempDir::new("swagger");
    let config = ApiConfig::demo(
        emulator.http_url(),
        format!("sqlite://{}", dir.0.join("api.db").display()),
    );
    let api = DemoApi::start(config, listener).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();

    let browser = Browser::open(&driver).await;
    // localhost, as registered (the API listens on 127.0.0.1).
    browser.go(&format!("http://localhost:{port}/docs/")).await;
    let main = browser.window().await;
    browser.click("button.authorize").await;
    // The dialog lists the scheme with every scope preselected; authorize.
    browser
        .click(".auth-container .auth-btn-wrapper button.authorize")
        .await;
    let popup = browser.other_window(&main).await;
    browser.switch_to(&popup).await;
    browser.type_into("#username", ALICE).await;
    browser.type_into("#password", "alice-dev-password").await;
    browser.click("button[type=submit]").await;
    browser.switch_to(&main).await;

    // Swagger UI redeems the code (PKCE, from the browser) and holds the token.
    let deadline = Instant::now() + Duration::from_secs(30);
    let token = loop {
        let token = browser
            .script(
                "const done = arguments[arguments.length - 1];
                 const auth = window.ui.authSelectors.authorized().toJS();
                 done(auth.entra && auth.entra.token ? auth.entra.token.access_token : null);",
            )
            .await;
        if let Some(token) = token.as_str() {
            break token.to_owned();
        }
        assert!(Instant::now() < deadline, "Swagger UI never got a token");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let principal = api.validator().validate(&token).await.unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(SWAGGER));
    for scope in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] {
        assert!(
            principal.has_scope(scope),
            "{scope}: {:?}",
            principal.scopes()
        );
    }

    // And the page calls the API with it, as Try it out does.
    let status = browser
        .script(&format!(
            "const done = arguments[arguments.length - 1];
             fetch('/heroes', {{ headers: {{ Authorization: 'Bearer {token}' }} }})
                 .then(r => done(r.status), e => done(String(e)));"
        ))
        .await;
    assert_eq!(status, 200);
    browser.close().await;
    api.shutdown().await;
}
