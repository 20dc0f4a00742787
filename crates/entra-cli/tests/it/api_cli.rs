//! `entra api` as a process: it serves what it prints, a hero answered `201`
//! survives `kill -9` and a restart, SIGTERM stops it cleanly, and
//! misconfiguration is one line on stderr with exit code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::json;

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";

/// A unique directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "entra-cli-api-{name}-{}-{nanos}",
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

/// `entra api --port 0` with a clean environment, run in `cwd`.
pub(crate) fn entra_api(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command.arg("api").args(args).current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_")
            || name.starts_with("AZURE_")
            || name.starts_with("API_")
            || name == "DATABASE_URL"
            || name == "RUST_LOG"
        {
            command.env_remove(name);
        }
    }
    command
}

/// A running `entra api` and what it printed.
pub(crate) struct Running {
    child: Child,
    pub(crate) banner: String,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts it and reads stdout up to the end of the banner.
    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut banner = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                banner.push_str(&line);
                banner.push('\n');
                if line.starts_with("Press Ctrl-C") {
                    let _ = tx.send(banner.clone());
                }
            }
            let _ = tx.send(banner);
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let banner = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        if !banner.contains("Press Ctrl-C") {
            let _ = child.kill();
            panic!("no banner: {banner}\nstderr: {}", stderr.lock().unwrap());
        }
        Running {
            child,
            banner,
            stderr,
        }
    }

    /// The URL printed after `label:`.
    pub(crate) fn url(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{label}:")))
            .map(|v| v.split_whitespace().next().unwrap_or_default().to_owned())
            .unwrap_or_else(|| panic!("no {label} line in {}", self.banner))
    }

    /// SIGKILL: no chance to flush or close anything.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(!status.success());
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!(
                    "still running after {limit:?}; stderr: {}",
                    self.stderr.lock().unwrap()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs to completion (a misconfigured start): exit code and stderr.
fn run_to_end(mut command: Command) -> (Option<i32>, String) {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut child = output;
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    });
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap())
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Waits until `/health` answers 200 (keys loaded, database reachable).
pub(crate) async fn wait_until_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client().get(format!("{base}/health")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{base} never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_created_hero_survives_kill_9_and_a_restart() {
    let emulator = emulator().await;
    let dir = TempDir::new("durable");
    let database = format!("sqlite://{}", dir.0.join("db/heroes.db").display());
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let start = || {
        let mut command = entra_api(&dir.0, &["--port", "0"]);
        command
            .env("AZURE_AUTHORITY_HOST", emulator.http_url())
            .env("DATABASE_URL", &database);
        Running::start(command)
    };

    let mut created: Vec<serde_json::Value> = Vec::new();
    for round in 0..3 {
        let running = start();
        let base = running.url("listening");
        wait_until_ready(&base).await;
        // Everything answered 201 in earlier rounds is there.
        for hero in &created {
            let id = &hero["id"];
            let response = client()
                .get(format!("{base}/heroes/{id}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "hero {id} lost in round {round}");
            let read: serde_json::Value = response.json().await.unwrap();
            assert_eq!(&read, hero);
        }
        // Create some, then kill -9 the instant the last 201 arrives.
        for n in 0..3 {
            let response = client()
                .post(format!("{base}/heroes"))
                .bearer_auth(&token)
                .json(&json!({"name": format!("Hero {round}.{n}"), "secret_name": "s"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            created.push(response.json::<serde_json::Value>().await.unwrap());
        }
        running.kill_9();
    }

    let running = start();
    let base = running.url("listening");
    wait_until_ready(&base).await;
    let page: serde_json::Value = client()
        .get(format!("{base}/heroes?limit=100"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap(), &created);
}

#[tokio::test(flavor = "multi_thread")]
async fn it_serves_what_it_prints_and_stops_on_sigterm() {
    let emulator = emulator().await;
    let dir = TempDir::new("serve");
    let mut command = entra_api(&dir.0, &["--port", "0", "--data-dir", "state"]);
    command.env("AZURE_AUTHORITY_HOST", emulator.http_url());
    let mut running = Running::start(command);
    let base = running.url("listening");
    wait_until_ready(&base).await;

    // The default database: a SQLite file under the data directory.
    assert!(dir.0.join("state/api/demo-api.db").exists());
    assert!(running.banner.contains("sqlite"), "{}", running.banner);
    let docs = running.url("Swagger UI");
    assert!(docs.starts_with("http://localhost:"), "{docs}");
    assert!(docs.ends_with("/docs/"), "{docs}");
    let openapi: serde_json::Value = client()
        .get(running.url("OpenAPI"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        openapi["components"]["securitySchemes"]["entra"]["flows"]["authorizationCode"]["authorizationUrl"],
        format!("{}/{TENANT}/oauth2/v2.0/authorize", emulator.http_url())
    );
    // No token: 401 from entra-auth.
    let response = client().get(format!("{base}/heroes")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    // Metrics on by default, on the API's own port.
    let response = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let metrics = response.text().await.unwrap();
    for family in [
        r#"http_requests_total{route="/heroes",method="GET",status="401"} 1"#,
        r#"entra_auth_outcomes_total{outcome="missing_token",reason="missing_token"} 1"#,
        r#"entra_auth_key_refreshes_total{trigger="startup",result="success"}"#,
    ] {
        assert!(metrics.contains(family), "{family}: {metrics}");
    }

    running.signal("TERM");
    let status = running.wait(Duration::from_secs(10));
    assert!(
        status.success(),
        "{status:?}: {}",
        running.stderr.lock().unwrap()
    );
}

#[test]
fn misconfiguration_is_one_line_and_exit_code_2() {
    let dir = TempDir::new("misconfigured");
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = blocker.local_addr().unwrap().port().to_string();
    let file = dir.0.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let under_file = format!("sqlite://{}/api.db", file.display());

    // (arguments, environment, what the one line must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec!["--port", &busy], vec![], "already in use"),
        (
            vec![
                "--port",
                "0",
                "--authority-host",
                "http://login.example.com",
            ],
            vec![],
            "not loopback",
        ),
        (
            vec!["--port", "0"],
            vec![("AZURE_AUTHORITY_HOST", "login.microsoftonline.com")],
            "not a URL",
        ),
        (
            vec!["--port", "0", "--database-url", "mysql://db/heroes"],
            vec![],
            "must start with sqlite: or postgres://",
        ),
        (
            vec!["--port", "0"],
            vec![("DATABASE_URL", &under_file)],
            "not writable",
        ),
        (
            vec!["--port", "0", "--client-id", "heroes-api"],
            vec![],
            "--client-id",
        ),
        (
            vec!["--port", "0", "--tenant", "organizations"],
            vec![],
            "--allowed-tenants",
        ),
        (
            vec!["--port", "0"],
            vec![("API_ALLOWED_TENANTS", TENANT)],
            "multi-tenant API",
        ),
        (
            vec![
                "--port",
                "0",
                "--tenant",
                "organizations",
                "--allowed-tenants",
                "contoso",
            ],
            vec![],
            "not a tenant id",
        ),
        (
            vec!["--port", "0", "--allowed-client-apps", "web,daemon"],
            vec![],
            "--allowed-client-apps",
        ),
        (
            vec![
                "--port",
                "0",
                "--database-url",
                "postgres://heroes:s3cret@127.0.0.1:1/heroes",
            ],
            vec![],
            "cannot open the database",
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = entra_api(&dir.0, &args);
        for (name, value) in &env {
            command.env(name, value);
        }
        let (code, stderr) = run_to_end(command);
        let what = format!("{args:?} {env:?}");
        assert_eq!(code, Some(2), "{what}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("entra:")).collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        assert!(lines[0].contains(expected), "{what}: {stderr}");
        assert!(
            !stderr.contains("s3cret"),
            "a password was printed: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    drop(blocker);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_no_metrics_turns_the_metrics_route_off() {
    let emulator = emulator().await;
    let dir = TempDir::new("no-metrics");
    let mut command = entra_api(&dir.0, &["--port", "0"]);
    command
        .env("AZURE_AUTHORITY_HOST", emulator.http_url())
        .env("API_NO_METRICS", "true");
    let running = Running::start(command);
    let base = running.url("listening");
    wait_until_ready(&base).await;
    let response = client()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client().get(format!("{base}/heroes")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

#[test]
fn help_documents_every_option_and_its_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_entra"))
        .args(["api", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, var) in [
        ("--authority-host", "AZURE_AUTHORITY_HOST"),
        ("--tenant", "AZURE_TENANT_ID"),
        ("--client-id", "AZURE_CLIENT_ID"),
        ("--database-url", "DATABASE_URL"),
        ("--bind", "API_BIND"),
        ("--port", "API_PORT"),
        ("--allowed-client-apps", "API_ALLOWED_CLIENT_APPS"),
        ("--allowed-tenants", "API_ALLOWED_TENANTS"),
        ("--swagger-client-id", "API_SWAGGER_CLIENT_ID"),
        ("--data-dir", "ENTRA_DATA_DIR"),
        ("--oidc-discovery-url", "OIDC_DISCOVERY_URL"),
        ("--oidc-issuer", "OIDC_ISSUER"),
        ("--scope-claim", "OIDC_SCOPE_CLAIM"),
        ("--no-metrics", "API_NO_METRICS"),
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
        assert!(help.contains(var), "{var}: {help}");
    }
}
