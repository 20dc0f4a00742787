//! End to end in a real browser: headless Chromium, driven through
//! ChromeDriver with fantoccini. Open demo-web, sign in on the emulator's
//! page, consent, see the heroes, create one, delete one, look at the
//! decoded tokens, sign out. A screenshot of every step is saved under
//! `target/test-artifacts/demo-web/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`; `CHROME_BIN` and `CHROMEDRIVER` override them).
//! Without them the test is skipped with a message, unless `CI` is set:
//! then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// ChromeDriver, started by the test on a free port, killed on drop.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ChromeDriver {
    async fn start(binary: &Path) -> ChromeDriver {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Ready when /status says so.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/status", driver.url))
                .await
                .ok()
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            if ready {
                return driver;
            }
            assert!(Instant::now() < deadline, "ChromeDriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The browser and its driver, or `None` when they are not installed and
/// `CI` is unset.
fn installed() -> Option<(PathBuf, PathBuf)> {
    let chromium = std::env::var_os("CHROME_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    let driver = std::env::var_os("CHROMEDRIVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromedriver"));
    let missing: Vec<String> = [&chromium, &driver]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        Some((chromium, driver))
    } else if in_ci() {
        panic!(
            "{} not installed, and CI is set (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
    } else {
        eprintln!(
            "SKIPPED: {} not installed (apt-get install chromium chromium-driver; set CI=1 to make this a failure)",
            missing.join(" and ")
        );
        None
    }
}

/// `target/test-artifacts/demo-web`, created.
fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artifacts").join("demo-web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves a screenshot of the current page as `{dir}/{name}.png`.
async fn shot(browser: &Client, dir: &Path, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Waits for an element (at most 20 seconds).
async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            let url = browser
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = browser.source().await.unwrap_or_default();
            panic!("no {css} at {url}: {e}\n{source}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_create_and_delete_a_hero_and_sign_out_in_chromium() {
    let Some((chromium, driver_binary)) = installed() else {
        return;
    };
    let stack = stack().await;
    let dir = artifacts();
    let driver = ChromeDriver::start(&driver_binary).await;
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1100,900",
                "--no-first-run",
                "--password-store=basic",
            ],
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");

    // Signed out: the sign-in button.
    browser.goto(&stack.url("/")).await.unwrap();
    let sign_in = wait_for(&browser, "#sign-in").await;
    shot(&browser, &dir, "01-signed-out").await;
    sign_in.click().await.unwrap();

    // The emulator's sign-in page.
    wait_for(&browser, "input[name=password]").await;
    let url = browser.current_url().await.unwrap();
    assert!(
        url.as_str().starts_with(&stack.emulator.http_url()),
        "{url}"
    );
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(ALICE)
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(ALICE_PASSWORD)
        .await
        .unwrap();
    shot(&browser, &dir, "02-emulator-sign-in").await;
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // Consent: Heroes Web asks for the heroes scopes.
    let accept = wait_for(&browser, "button[value=accept]").await;
    shot(&browser, &dir, "03-emulator-consent").await;
    accept.click().await.unwrap();

    // Back home, signed in, on a clean URL.
    let name = wait_for(&browser, "#user-name").await;
    assert_eq!(name.text().await.unwrap(), "Alice Admin");
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.as_str(), stack.url("/"));
    wait_for(&browser, "#no-heroes").await;
    shot(&browser, &dir, "04-heroes").await;

    // Create a hero.
    for (id, value) in [
        ("#hero-name", "Deadpond"),
        ("#hero-secret-name", "Dive Wilson"),
        ("#hero-age", "30"),
    ] {
        browser
            .find(Locator::Css(id))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    browser
        .find(Locator::Id("create-hero-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let created = wait_for(&browser, "#heroes td.hero-name").await;
    assert_eq!(created.text().await.unwrap(), "Deadpond");
    shot(&browser, &dir, "05-hero-created").await;

    // Delete it.
    browser
        .find(Locator::Css("button[id^=delete-hero-]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "#no-heroes").await;
    shot(&browser, &dir, "06-hero-deleted").await;

    // The decoded tokens, for learning.
    browser.goto(&stack.url("/me/tokens")).await.unwrap();
    let claims = wait_for(&browser, "#access-token-claims").await;
    assert!(claims.text().await.unwrap().contains("Heroes.Delete"));
    assert!(!browser.source().await.unwrap().contains("eyJ"));
    shot(&browser, &dir, "07-tokens").await;

    // Sign out: here, at the emulator, and back.
    browser.goto(&stack.url("/")).await.unwrap();
    wait_for(&browser, "#sign-out").await.click().await.unwrap();
    wait_for(&browser, "#sign-in").await;
    let url = browser.current_url().await.unwrap();
    assert_eq!(url.as_str(), stack.url("/"));
    shot(&browser, &dir, "08-signed-out").await;

    // The session cookie is HttpOnly: scripts never see it.
    let visible = browser
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("demo-web-session")
    );

    browser.close().await.unwrap();
    for name in [
        "01-signed-out",
        "04-heroes",
        "05-hero-created",
        "08-signed-out",
    ] {
        assert!(dir.join(format!("{name}.png")).exists());
    }
}
