//! `entra emulator` as a process: what it prints, what it serves, how it
//! stops, and how it explains misconfiguration (exit code 2).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

/// A unique directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("entra-cli-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `entra` with a clean environment (no `ENTRA_*` variables), run in `cwd`.
fn entra(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_") || name == "RUST_LOG" {
            command.env_remove(name);
        }
    }
    command
}

/// A running emulator process and what it printed.
struct Running {
    child: Child,
    banner: String,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts it and reads stdout up to the end of the banner.
    fn start(mut command: Command) -> Self {
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
        let banner = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(banner) => banner,
            Err(_) => {
                let _ = child.kill();
                panic!("no banner; stderr: {}", stderr.lock().unwrap());
            }
        };
        assert!(
            banner.contains("Press Ctrl-C"),
            "banner: {banner}\nstderr: {}",
            stderr.lock().unwrap()
        );
        Running {
            child,
            banner,
            stderr,
        }
    }

    /// The URL printed after `label:` (e.g. `HTTP`).
    fn url(&self, label: &str) -> String {
        self.banner
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{label}:")))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {label} line in {}", self.banner))
    }

    fn port(&self, label: &str) -> u16 {
        let url = self.url(label);
        url.rsplit(':').next().unwrap().parse().unwrap()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit, at most `limit`.
    fn wait(&mut self, limit: Duration) -> (ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
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

/// Runs to completion (a misconfigured start), with a time limit.
fn run_to_end(command: Command) -> (Option<i32>, String) {
    let mut running_child = {
        let mut command = command;
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut stderr = String::new();
    let mut pipe = running_child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let _ = pipe.read_to_string(&mut stderr);
        stderr
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = running_child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = running_child.kill();
            panic!("did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap())
}

fn http_client(ca: Option<&Path>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(20));
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

async fn discovery(client: &reqwest::Client, base: &str) -> serde_json::Value {
    let response = client
        .get(format!(
            "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_what_it_prints_and_stops_on_sigint() {
    let dir = TempDir::new("serve");
    let data = dir.0.join("data");
    let mut running = Running::start(entra(
        &dir.0,
        &[
            "emulator",
            "--http-port",
            "0",
            "--https-port",
            "0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    ));
    let http_port = running.port("HTTP");
    let https_port = running.port("HTTPS");
    assert_ne!(http_port, 0);
    assert_ne!(https_port, 0);
    assert_eq!(running.url("HTTP"), format!("http://localhost:{http_port}"));
    let banner = running.banner.clone();
    for expected in [
        "alice@contoso.onmicrosoft.com",
        "alice-dev-password",
        "bob@contoso.onmicrosoft.com",
        "Heroes Daemon",
        "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f",
        &format!("https://localhost:{https_port}/{TENANT}"),
    ] {
        assert!(banner.contains(expected), "{expected} missing: {banner}");
    }
    assert!(
        !banner.contains("heroes-daemon-dev-secret"),
        "client secrets are never printed: {banner}"
    );
    let ca = PathBuf::from(running.url("trust CA"));
    assert!(ca.starts_with(data.join("emulator")), "{}", ca.display());
    assert!(ca.is_file());

    // Discovery over HTTP and, trusting the printed CA, over HTTPS.
    let plain = discovery(&http_client(None), &format!("http://127.0.0.1:{http_port}")).await;
    // The issuer is the HTTPS base whichever listener answers.
    assert_eq!(
        plain["issuer"],
        format!("https://localhost:{https_port}/{TENANT}/v2.0")
    );
    let secure = discovery(
        &http_client(Some(&ca)),
        &format!("https://localhost:{https_port}"),
    )
    .await;
    assert_eq!(secure["issuer"], plain["issuer"]);

    // Metrics on both listeners by default.
    let metrics = http_client(Some(&ca))
        .get(format!("https://localhost:{https_port}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let family = r#"http_requests_total{route="/{tenant}/v2.0/.well-known/openid-configuration",method="GET",status="200"} 2"#;
    assert!(metrics.contains(family), "{family}: {metrics}");

    running.signal("INT");
    let (status, took) = running.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{}", running.stderr.lock().unwrap());
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(port_is_free(http_port));
    assert!(port_is_free(https_port));
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_and_dotenv_configure_it_and_sigterm_stops_it() {
    let dir = TempDir::new("env");
    std::fs::write(
        dir.0.join(".env"),
        "ENTRA_EMULATOR_NO_HTTPS=true\nENTRA_DATA_DIR=./from-dotenv\n",
    )
    .unwrap();
    let mut command = entra(&dir.0, &["emulator"]);
    command
        .env("ENTRA_EMULATOR_HTTP_PORT", "0")
        .env("ENTRA_EMULATOR_ISSUER", "https://login.example.test/");
    let mut running = Running::start(command);
    assert_eq!(running.url("HTTPS"), "off");
    assert!(dir.0.join("from-dotenv/emulator/keys").is_dir());
    let port = running.port("HTTP");
    let document = discovery(&http_client(None), &format!("http://127.0.0.1:{port}")).await;
    assert_eq!(
        document["issuer"],
        format!("https://login.example.test/{TENANT}/v2.0")
    );
    running.signal("TERM");
    let (status, took) = running.wait(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(port_is_free(port));
}

#[test]
fn a_port_in_use_is_explained_in_one_line() {
    let dir = TempDir::new("busy");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &["emulator", "--http-port", &port.to_string(), "--no-https"],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is already in use")),
        "{stderr}"
    );

    // The HTTPS port too.
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &[
            "emulator",
            "--http-port",
            "0",
            "--https-port",
            &port.to_string(),
        ],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("port {port} is already in use"))
            && stderr.contains("--https-port"),
        "{stderr}"
    );
    drop(taken);
}

#[test]
fn a_bad_configuration_file_is_explained_in_one_line() {
    let dir = TempDir::new("config");
    let config = dir.0.join("directory.toml");
    std::fs::write(&config, "[[tenants]]\ntenantId = \"x\"\ndomain = \n").unwrap();
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &[
            "emulator",
            "--http-port",
            "0",
            "--no-https",
            "--config",
            config.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(config.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("line 3"), "{stderr}");

    // Valid TOML, invalid directory.
    std::fs::write(
        &config,
        "[[tenants]]\ntenantId = \"not-a-guid\"\ndomain = \"x.test\"\n",
    )
    .unwrap();
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &["emulator", "--config", config.to_str().unwrap()],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a GUID"), "{stderr}");

    // Missing file, through the environment variable.
    let missing = dir.0.join("missing.toml");
    let mut command = entra(&dir.0, &["emulator"]);
    command.env("ENTRA_EMULATOR_CONFIG", &missing);
    let (code, stderr) = run_to_end(command);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
}

#[test]
fn an_unwritable_data_directory_is_explained() {
    let dir = TempDir::new("data");
    let file = dir.0.join("a-file");
    std::fs::write(&file, "").unwrap();
    let data = file.join("data");
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &[
            "emulator",
            "--http-port",
            "0",
            "--no-https",
            "--data-dir",
            data.to_str().unwrap(),
        ],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not writable"), "{stderr}");
}

#[test]
fn help_documents_every_option_and_its_variable() {
    let dir = TempDir::new("help");
    let output = entra(&dir.0, &["emulator", "--help"]).output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "--http-port",
        "ENTRA_EMULATOR_HTTP_PORT",
        "9000",
        "--https-port",
        "ENTRA_EMULATOR_HTTPS_PORT",
        "9443",
        "--no-https",
        "--bind",
        "127.0.0.1",
        "--public-host",
        "localhost",
        "--data-dir",
        "ENTRA_DATA_DIR",
        "./data",
        "--config",
        "ENTRA_EMULATOR_CONFIG",
        "--issuer",
        "--allowed-host",
        "ENTRA_EMULATOR_ALLOWED_HOSTS",
        "--admin-token",
        "ENTRA_EMULATOR_ADMIN_TOKEN",
        "--identity-header",
        "ENTRA_EMULATOR_IDENTITY_HEADER",
        "--no-metrics",
        "ENTRA_EMULATOR_NO_METRICS",
    ] {
        assert!(help.contains(expected), "{expected} missing: {help}");
    }
    let (code, _) = run_to_end(entra(&dir.0, &["emulator", "--http-port", "nope"]));
    assert_eq!(code, Some(2));
}

/// Issue 12, finding 6: off loopback, the administration API needs a token.
#[test]
fn finding_6_cli_refuses_a_non_loopback_bind_without_admin_token() {
    let dir = TempDir::new("bind");
    let (code, stderr) = run_to_end(entra(
        &dir.0,
        &[
            "emulator",
            "--bind",
            "0.0.0.0",
            "--http-port",
            "0",
            "--no-https",
        ],
    ));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("ENTRA_EMULATOR_ADMIN_TOKEN") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
}

/// Issue 12, finding 6: the admin token and the allowed hosts, from the
/// environment and from flags.
#[tokio::test(flavor = "multi_thread")]
async fn finding_6_cli_admin_token_and_allowed_hosts() {
    const TOKEN: &str = "cli-admin-token-42";
    let dir = TempDir::new("admin-token");
    let mut command = entra(&dir.0, &["emulator", "--http-port", "0", "--no-https"]);
    command
        .env("ENTRA_EMULATOR_ADMIN_TOKEN", TOKEN)
        .env("ENTRA_EMULATOR_ALLOWED_HOSTS", "idp,.dev.example");
    let mut running = Running::start(command);
    assert!(!running.banner.contains(TOKEN), "{}", running.banner);
    let port = running.port("HTTP");
    let http = http_client(None);
    let clock = format!("http://127.0.0.1:{port}/_emulator/clock");
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(http.get(&clock).send().await.unwrap()), 401);
    assert_eq!(
        status(http.get(&clock).bearer_auth(TOKEN).send().await.unwrap()),
        200
    );
    let discovery =
        format!("http://127.0.0.1:{port}/{TENANT}/v2.0/.well-known/openid-configuration");
    for (host, expected) in [
        ("idp", 200),
        ("api.dev.example", 200),
        ("localhost", 200),
        ("attacker.example", 421),
    ] {
        let response = http
            .get(&discovery)
            .header("host", format!("{host}:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(status(response), expected, "{host}");
    }
    running.signal("TERM");
    let (code, _) = running.wait(Duration::from_secs(5));
    assert_eq!(code.code(), Some(0));
    let stderr = running.stderr.lock().unwrap().clone();
    assert!(!stderr.contains(TOKEN), "{stderr}");

    // Flags; with a token, any address may be bound.
    let mut running = Running::start(entra(
        &dir.0,
        &[
            "emulator",
            "--bind",
            "0.0.0.0",
            "--http-port",
            "0",
            "--no-https",
            "--admin-token",
            TOKEN,
            "--allowed-host",
            "emulator",
        ],
    ));
    let port = running.port("HTTP");
    let clock = format!("http://127.0.0.1:{port}/_emulator/clock");
    assert_eq!(status(http.get(&clock).send().await.unwrap()), 401);
    let response = http
        .get(&clock)
        .bearer_auth(TOKEN)
        .header("host", format!("emulator:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(response), 200);
    running.signal("TERM");
    let (code, _) = running.wait(Duration::from_secs(5));
    assert_eq!(code.code(), Some(0));
}

/// The value of `export NAME=value` in the banner.
fn exported(banner: &str, name: &str) -> String {
    banner
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("export {name}=")))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no export {name} line in {banner}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_printed_identity_lines_get_managed_identity_tokens() {
    let dir = TempDir::new("identity");
    let data = dir.0.join("data");
    let args = [
        "emulator",
        "--http-port",
        "0",
        "--no-https",
        "--data-dir",
        data.to_str().unwrap(),
    ];
    let mut command = entra(&dir.0, &args);
    command.env(
        "ENTRA_EMULATOR_IDENTITY_HEADER",
        "header-from-the-environment",
    );
    let running = Running::start(command);
    let endpoint = exported(&running.banner, "IDENTITY_ENDPOINT");
    let header = exported(&running.banner, "IDENTITY_HEADER");
    assert_eq!(header, "header-from-the-environment");
    assert_eq!(
        endpoint,
        format!("http://localhost:{}/msi/token", running.port("HTTP"))
    );
    let url = format!(
        "{}?api-version=2019-08-01&resource=api://6e74172b-be56-4843-9ff4-e66a39bb12e3",
        endpoint.replace("localhost", "127.0.0.1")
    );
    let client = http_client(None);
    let response = client
        .get(&url)
        .header("X-IDENTITY-HEADER", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["client_id"], "5a8b6c4d-2e1f-4a3b-9c8d-7e6f5a4b3c2d");
    assert!(body["access_token"].is_string());
    let response = client
        .get(&url)
        .header("X-IDENTITY-HEADER", "another")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    for line in [
        "5a8b6c4d-2e1f-4a3b-9c8d-7e6f5a4b3c2d",
        "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f",
    ] {
        assert!(running.banner.contains(line), "{line}: {}", running.banner);
    }
    drop(running);

    // Without one, a random value per run.
    let first = Running::start(entra(&dir.0, &args));
    let random = exported(&first.banner, "IDENTITY_HEADER");
    drop(first);
    let second = Running::start(entra(&dir.0, &args));
    assert_ne!(random, exported(&second.banner, "IDENTITY_HEADER"));
    assert!(random.len() >= 32, "{random}");
    drop(second);

    // A value with a space is explained in one line.
    let mut command = entra(&dir.0, &args);
    command.env("ENTRA_EMULATOR_IDENTITY_HEADER", "has space");
    let (code, stderr) = run_to_end(command);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("ENTRA_EMULATOR_IDENTITY_HEADER"),
        "{stderr}"
    );
}
