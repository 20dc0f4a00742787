//! The home page in a real browser: headless Chromium, driven through
//! ChromeDriver with fantoccini. Open the home page, mint a token for Bob
//! with two scopes, paste it into the decode box, read its claims. A
//! screenshot of each step is saved under `target/test-artifacts/emulator-home/`.
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

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::common::*;

/// ChromeDriver on a free port, killed on drop.
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
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/status", driver.url))
                .await
                .is_ok_and(|r| r.status().is_success());
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
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let driver = std::env::var_os("CHROMEDRIVER")
        .map_or_else(|| PathBuf::from("/usr/bin/chromedriver"), PathBuf::from);
    let missing: Vec<String> = [&chromium, &driver]
        .iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some((chromium, driver));
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{} not installed, and CI is set (apt-get install chromium chromium-driver)",
        missing.join(" and ")
    );
    eprintln!(
        "SKIPPED: {} not installed (apt-get install chromium chromium-driver; set CI=1 to make this a failure)",
        missing.join(" and ")
    );
    None
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("test-artifacts").join("emulator-home");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(browser: &Client, dir: &Path, name: &str) {
    let png = browser.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

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

/// Replaces an input's value.
async fn fill(browser: &Client, css: &str, value: &str) {
    let input = browser.find(Locator::Css(css)).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_mints_a_token_and_decodes_it_in_chromium() {
    let Some((chromium, driver_binary)) = installed() else {
        return;
    };
    let emulator = start().await;
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
                "--window-size=1200,1000",
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

    // The home page: the demo tenant, its apps and users.
    browser
        .goto(&format!("{}/_emulator/", emulator.http_url()))
        .await
        .unwrap();
    wait_for(&browser, "#mint-form").await;
    let tenants = browser
        .find(Locator::Css("#tenants + section, section.tenant"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        tenants.contains(API) && tenants.contains(ALICE),
        "{tenants}"
    );
    shot(&browser, &dir, "01-home").await;

    // Mint a token for Bob with two scopes.
    fill(&browser, "#mint-user", BOB).await;
    fill(&browser, "#mint-scopes", "Heroes.Read Heroes.Delete").await;
    browser
        .find(Locator::Id("mint-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let minted = wait_for(&browser, "#minted-token").await;
    let token = minted.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(token.split('.').count(), 3, "{token}");
    shot(&browser, &dir, "02-minted").await;
    // entra-auth accepts it, as Bob's.
    let principal = validator(&emulator).await.validate(&token).await.unwrap();
    assert_eq!(principal.preferred_username(), Some(BOB));
    assert!(principal.has_scope("Heroes.Delete"));

    // Paste it into the decode box.
    fill(&browser, "#decode-token", &token).await;
    browser
        .find(Locator::Id("decode-submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(20))
        .for_url(
            &url::Url::parse(&format!(
                "{}/_emulator/home/decode#decode",
                emulator.http_url()
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let claims = wait_for(&browser, "#decoded-claims")
        .await
        .text()
        .await
        .unwrap();
    let claims: serde_json::Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(claims["preferred_username"], BOB);
    assert_eq!(claims["scp"], "Heroes.Read Heroes.Delete");
    assert_eq!(claims["aud"], API);
    let header = wait_for(&browser, "#decoded-header")
        .await
        .text()
        .await
        .unwrap();
    assert!(header.contains("RS256"), "{header}");
    // The decode page shows no minted token of its own.
    assert!(browser.find(Locator::Id("minted-token")).await.is_err());
    shot(&browser, &dir, "03-decoded").await;

    browser.close().await.unwrap();
}
