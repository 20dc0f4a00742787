//! `entra demo` as a newcomer runs it: the built binary as a separate
//! process, ready when it says so; a daemon token by client credentials;
//! heroes created and listed through the API; a browser sign-in in headless
//! Chromium through the web app; then Ctrl-C (SIGINT), a clean exit, and
//! every port free again.
//!
//! The browser part needs Debian's `chromium` and `chromium-driver`; without
//! them it is skipped with a message, unless `CI` is set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API_SCOPE: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";

/// A unique directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("entra-demo-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running `entra demo`, killed on drop if the test fails half-way.
struct Demo {
    child: Child,
    banner: String,
    stderr: mpsc::Receiver<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `entra demo` on free ports and waits for its banner's last line.
fn start_demo(data: &Path, ports: [u16; 4]) -> Demo {
    let [emulator, emulator_https, api, web] = ports.map(|p| p.to_string());
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command
        .args([
            "demo",
            "--emulator-port",
            &emulator,
            "--emulator-https-port",
            &emulator_https,
            "--api-port",
            &api,
            "--web-port",
            &web,
        ])
        // The defaults a newcomer gets: ./data under the working directory.
        .current_dir(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_")
            || name.starts_with("AZURE_")
            || name.starts_with("API_")
            || name.starts_with("WEB_")
            || name == "DATABASE_URL"
            || name == "REDIS_URL"
            || name == "SESSION_STORE"
        {
            command.env_remove(name);
        }
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (lines, banner_lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let (errors, stderr_text) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        let _ = errors.send(text);
    });
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match banner_lines.recv_timeout(left) {
            Ok(line) => {
                banner.push_str(&line);
                banner.push('\n');
                if line.starts_with("Press Ctrl-C") {
                    break;
                }
            }
            Err(_) => {
                let _ = child.kill();
                let stderr = stderr_text
                    .recv_timeout(Duration::from_secs(5))
                    .unwrap_or_default();
                panic!("entra demo did not become ready; stdout:\n{banner}\nstderr:\n{stderr}");
            }
        }
    }
    Demo {
        child,
        banner,
        stderr: stderr_text,
    }
}

/// The browser and its driver, or `None` when they are not installed and
/// `CI` is unset.
fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium =
        PathBuf::from(std::env::var_os("CHROME_BIN").unwrap_or_else(|| "/usr/bin/chromium".into()));
    let driver = PathBuf::from(
        std::env::var_os("CHROMEDRIVER").unwrap_or_else(|| "/usr/bin/chromedriver".into()),
    );
    if chromium.exists() && driver.exists() {
        return Some((chromium, driver));
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "chromium and chromedriver are needed when CI is set (apt-get install chromium chromium-driver)"
        );
    }
    eprintln!("SKIPPED the browser part: chromium or chromedriver is not installed");
    None
}

/// Signs alice in through the web app in headless Chromium and checks that
/// her name and the daemon's hero are on the page.
async fn browser_sign_in(web: &str, hero: &str) {
    let Some((chromium, driver_binary)) = browser_binaries() else {
        return;
    };
    let port = free_port();
    let mut driver = Command::new(&driver_binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver_url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reqwest::get(format!("{driver_url}/status"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "ChromeDriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium.display().to_string(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--no-first-run", "--password-store=basic"],
        }),
    );
    let browser = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a Chromium session");
    let wait = |css: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .wait()
                .at_most(Duration::from_secs(20))
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css}: {e}"))
        }
    };

    browser.goto(&format!("{web}/")).await.unwrap();
    wait("#sign-in").await.click().await.unwrap();
    wait("input[name=password]").await;
    browser
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys("alice@contoso.onmicrosoft.com")
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys("alice-dev-password")
        .await
        .unwrap();
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait("button[value=accept]").await.click().await.unwrap();
    let name = wait("#user-name").await;
    assert_eq!(name.text().await.unwrap(), "Alice Admin");
    let heroes = wait("#heroes").await.text().await.unwrap();
    assert!(heroes.contains(hero), "{heroes}");

    let artifacts =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts/entra-demo");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(
        artifacts.join("signed-in.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    browser.close().await.unwrap();
    let _ = driver.kill();
    let _ = driver.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_demo_runs_the_whole_system_and_stops_on_ctrl_c() {
    let dir = TempDir::new();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let [emulator_port, _, api_port, web_port] = ports;
    let mut demo = start_demo(&dir.0, ports);
    let api = format!("http://localhost:{api_port}");
    let web = format!("http://localhost:{web_port}");

    // The banner says what to open and who to sign in as.
    assert!(demo.banner.contains(&format!("{web}/")), "{}", demo.banner);
    assert!(demo.banner.contains(&format!("{api}/docs")));
    assert!(demo.banner.contains("alice@contoso.onmicrosoft.com"));
    assert!(demo.banner.contains("alice-dev-password"));
    assert!(demo.banner.contains("curl -s"));

    // Ready: the API has the emulator's keys and its database.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let health: Value = http
        .get(format!("{api}/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ready", "{health}");

    // A daemon token by client credentials, as the banner's curl gets it.
    let token: Value = http
        .post(format!(
            "http://localhost:{emulator_port}/{TENANT}/oauth2/v2.0/token"
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", API_SCOPE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();

    // A managed-identity token, got as the banner's two export lines say,
    // is accepted by the API too (the system-assigned identity holds its
    // application permissions).
    let exported = |name: &str| {
        demo.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("export {name}=")))
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no export {name} line: {}", demo.banner))
    };
    let identity: Value = http
        .get(format!(
            "{}?api-version=2019-08-01&resource={}",
            exported("IDENTITY_ENDPOINT"),
            API_SCOPE.trim_end_matches("/.default")
        ))
        .header("X-IDENTITY-HEADER", exported("IDENTITY_HEADER"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = http
        .get(format!("{api}/heroes"))
        .bearer_auth(identity["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200, "{identity}");

    // The same, without a secret, from the command line: `entra token
    // --managed-identity` in a shell where the two lines were pasted.
    let printed = Command::new(env!("CARGO_BIN_EXE_entra"))
        .args(["token", "--managed-identity"])
        .env("IDENTITY_ENDPOINT", exported("IDENTITY_ENDPOINT"))
        .env("IDENTITY_HEADER", exported("IDENTITY_HEADER"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let cli_token = String::from_utf8(printed.stdout).unwrap();
    let listed = http
        .get(format!("{api}/heroes"))
        .bearer_auth(cli_token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    // Heroes created and listed through the API.
    for name in ["Deadpond", "Rusty-Man"] {
        let created = http
            .post(format!("{api}/heroes"))
            .bearer_auth(&token)
            .json(&json!({"name": name, "secret_name": "Dive Wilson", "age": 30}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let page: Value = http
        .get(format!("{api}/heroes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Deadpond", "Rusty-Man"]);
    let anonymous = http.get(format!("{api}/heroes")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    // A user signs in through the web app and sees them.
    browser_sign_in(&web, "Rusty-Man").await;

    // Everything lives under ./data of the working directory.
    for file in ["data/api/demo-api.db", "data/web/sessions.db"] {
        assert!(dir.0.join(file).exists(), "{file}");
    }
    assert!(dir.0.join("data/emulator").is_dir());

    // Ctrl-C: a clean exit, quickly, and every port free.
    let pid = demo.child.id().to_string();
    let stopped_at = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = loop {
        if let Some(status) = demo.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(10),
            "entra demo did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = stopped_at.elapsed();
    let stderr = demo
        .stderr
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    eprintln!("entra demo stopped {took:?} after SIGINT");
    for port in ports {
        assert!(
            StdListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still bound"
        );
    }
    // No token or secret in the log.
    assert!(!stderr.contains("eyJ"), "{stderr}");
    assert!(!stderr.contains(DAEMON_SECRET));
}
