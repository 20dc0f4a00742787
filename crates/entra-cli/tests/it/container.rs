//! The container's runtime contract, tested on the binary (there is no
//! container engine here): `entra` runs as the image's non-root user, with
//! only the variables the Dockerfile sets (read from the Dockerfile itself)
//! and those a deployment sets (`AZURE_*`, `API_*`, `WEB_*`), in a working
//! directory it cannot write, keeping everything in a `/data`-like directory
//! it owns, listening on all interfaces; its probes answer and `entra health`
//! passes against it and fails against a dead port.
//!
//! Dropping to the image's user needs root: the tests skip with a message
//! otherwise, unless `CI` is set (then they fail).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

/// What the Dockerfile's last stage sets: its `ENV` and its `USER`.
struct Image {
    env: Vec<(String, String)>,
    uid: u32,
    gid: u32,
}

/// Reads the runtime stage of the workspace's Dockerfile.
fn image() -> Image {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Dockerfile");
    let text = std::fs::read_to_string(&path).unwrap();
    // Instructions, continuation lines joined, comments left out.
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.starts_with('#') || trimmed.is_empty()) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            instructions.push(std::mem::take(&mut current));
        }
    }
    let last_stage = instructions
        .iter()
        .rposition(|i| i.to_ascii_uppercase().starts_with("FROM "))
        .expect("no FROM in the Dockerfile");
    let mut image = Image {
        env: Vec::new(),
        uid: 0,
        gid: 0,
    };
    for instruction in &instructions[last_stage..] {
        let (keyword, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
        match keyword.to_ascii_uppercase().as_str() {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (name, value) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("ENV {pair}: use NAME=value"));
                    image.env.push((name.to_owned(), value.to_owned()));
                }
            }
            "USER" => {
                let (uid, gid) = rest.trim().split_once(':').expect("USER uid:gid");
                image.uid = uid.parse().expect("a numeric USER");
                image.gid = gid.parse().expect("a numeric group in USER");
            }
            _ => {}
        }
    }
    assert_ne!(image.uid, 0, "the image must not run as root");
    image
}

/// Whether this process may drop to another user; skips (false) or, with
/// `CI` set, fails when it may not.
fn privileged(test: &str) -> bool {
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        return true;
    }
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(
        !ci,
        "{test}: must run as root in CI (CI is set) to run entra as the image's user"
    );
    eprintln!("SKIPPED {test}: not running as root, so entra cannot be run as the image's user");
    false
}

/// A root-owned tree like the image's: the binary, a working directory the
/// image's user cannot write, and the data directory it owns. Removed on drop.
struct Rootfs {
    root: PathBuf,
    bin: PathBuf,
    cwd: PathBuf,
    data: PathBuf,
}

impl Rootfs {
    fn new(name: &str, image: &Image) -> Rootfs {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "entra-cli-container-{name}-{}-{nanos}",
            std::process::id()
        ));
        let cwd = root.join("work");
        let data = root.join("data");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        let bin = root.join("entra");
        std::fs::copy(env!("CARGO_BIN_EXE_entra"), &bin).unwrap();
        let mode = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        mode(&root, 0o755);
        mode(&cwd, 0o755);
        mode(&bin, 0o755);
        // As the Dockerfile makes /data: the user's, private.
        std::os::unix::fs::chown(&data, Some(image.uid), Some(image.gid)).unwrap();
        mode(&data, 0o700);
        Rootfs {
            root,
            bin,
            cwd,
            data,
        }
    }

    /// `entra ARGS` as the image runs it: its user, its variables (`/data`
    /// being this tree's), this working directory, and `extra` variables.
    fn entra(&self, image: &Image, args: &[&str], extra: &[(&str, String)]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .current_dir(&self.cwd)
            .env_clear()
            .uid(image.uid)
            .gid(image.gid)
            .stdin(Stdio::null());
        let data = self.data.display().to_string();
        for (name, value) in &image.env {
            let value = match value.strip_prefix("/data") {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{data}{rest}"),
                _ => value.clone(),
            };
            command.env(name, value);
        }
        for (name, value) in extra {
            command.env(name, value);
        }
        command
    }

    /// Files and directories under `dir`.
    fn entries(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(next) = pending.pop() {
            for entry in std::fs::read_dir(&next).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path.clone());
                }
                found.push(path);
            }
        }
        found
    }
}

impl Drop for Rootfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A running server and what it printed.
struct Running {
    child: Child,
    banner: String,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
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

    /// The port of the URL on the banner line starting with `label`.
    fn port(&self, label: &str) -> u16 {
        let url = self
            .banner
            .lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {label} line in {}", self.banner));
        let authority = url.split("://").nth(1).unwrap().split('/').next().unwrap();
        authority.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGTERM, then the exit code.
    fn stop(mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "still running after SIGTERM; stderr: {}",
                self.stderr.lock().unwrap()
            );
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

/// Runs to completion: exit code, stdout, stderr.
fn run(mut command: Command) -> (Option<i32>, String, String) {
    let output = command.output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `GET url`: status and body.
async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}

/// Polls `url` until it answers 200, for up to a minute.
async fn until_ok(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(url, None).await;
        if status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "{url}: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// 127.0.0.2 reaches a server only if it listens on all interfaces (or on
// that very address): one bound to 127.0.0.1, the binary's default, is not
// there. So each probe below also proves the 0.0.0.0 bind.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_runs_as_the_images_user_on_all_interfaces() {
    if !privileged("the_api_runs_as_the_images_user_on_all_interfaces") {
        return;
    }
    let image = image();
    let fs = Rootfs::new("api", &image);
    let emulator = Emulator::start(EmulatorConfig::for_tests(Directory::default_demo()))
        .await
        .unwrap();
    let deployment = [
        ("AZURE_AUTHORITY_HOST", emulator.http_url()),
        ("AZURE_TENANT_ID", TENANT.to_owned()),
        ("AZURE_CLIENT_ID", API.to_owned()),
        ("API_PORT", "0".to_owned()),
    ];
    let api = Running::start(fs.entra(&image, &["api"], &deployment));
    assert!(
        api.banner.contains("listening:   http://0.0.0.0:"),
        "{}",
        api.banner
    );
    let port = api.port("listening:");
    let base = format!("http://127.0.0.2:{port}");

    let (status, body) = get(&format!("{base}/health/live"), None).await;
    assert_eq!(status, 200, "{body}");
    until_ok(&format!("{base}/health/ready")).await;

    // entra health, as the health check runs it.
    let (code, stdout, stderr) =
        run(fs.entra(&image, &["health", &format!("{base}/health/ready")], &[]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("200 OK"), "{stdout}");
    let dead = format!("http://127.0.0.1:{}/health/live", dead_port());
    let (code, _, stderr) = run(fs.entra(&image, &["health", &dead], &[]));
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("entra: {dead}: ")), "{stderr}");
    // --any, as the image's HEALTHCHECK: one of the URLs answers.
    let both = format!("{dead},{base}/health/live");
    let (code, _, stderr) = run(fs.entra(&image, &["health", "--any", &both], &[]));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = run(fs.entra(&image, &["health", &both], &[]));
    assert_eq!(code, Some(1), "{stderr}");

    assert_eq!(api.stop(), Some(0));
    // Everything it wrote is under the data directory, and its user's; the
    // working directory is as it was.
    assert!(Rootfs::entries(&fs.cwd).is_empty());
    let written = Rootfs::entries(&fs.data);
    assert!(
        written.iter().any(|p| p.ends_with("api/demo-api.db")),
        "{written:?}"
    );
    for path in written {
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (image.uid, image.gid), "{path:?}");
    }
    drop(emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_as_the_images_user_with_the_admin_api_closed() {
    if !privileged("the_demo_runs_as_the_images_user_with_the_admin_api_closed") {
        return;
    }
    let image = image();
    let fs = Rootfs::new("demo", &image);
    let ports = [
        ("ENTRA_EMULATOR_HTTP_PORT", "0".to_owned()),
        ("ENTRA_EMULATOR_HTTPS_PORT", "0".to_owned()),
        ("API_PORT", "0".to_owned()),
        ("WEB_PORT", "0".to_owned()),
    ];
    let demo = Running::start(fs.entra(&image, &["demo"], &ports));
    let web = demo.port("web app");
    let api = demo.port("heroes API");
    let emulator = demo.port("Entra ID");

    until_ok(&format!("http://127.0.0.2:{web}/health/ready")).await;
    until_ok(&format!("http://127.0.0.2:{api}/health/ready")).await;
    assert_eq!(
        get(&format!("http://127.0.0.2:{web}/health/live"), None)
            .await
            .0,
        200
    );
    let discovery =
        format!("http://127.0.0.2:{emulator}/{TENANT}/v2.0/.well-known/openid-configuration");
    assert_eq!(get(&discovery, None).await.0, 200);
    // The administration API is closed: its token was never told.
    let admin = format!("http://127.0.0.2:{emulator}/_emulator/tenants");
    let (status, body) = get(&admin, None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(get(&admin, Some("guess")).await.0, 401);

    assert_eq!(demo.stop(), Some(0));
    assert!(Rootfs::entries(&fs.cwd).is_empty());
    let written = Rootfs::entries(&fs.data);
    for part in ["emulator", "api", "web"] {
        assert!(written.iter().any(|p| p.ends_with(part)), "{written:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_needs_an_admin_token_on_all_interfaces() {
    if !privileged("the_emulator_needs_an_admin_token_on_all_interfaces") {
        return;
    }
    let image = image();
    let fs = Rootfs::new("emulator", &image);
    let ports = [
        ("ENTRA_EMULATOR_HTTP_PORT", "0".to_owned()),
        ("ENTRA_EMULATOR_NO_HTTPS", "true".to_owned()),
    ];
    let (code, _, stderr) = run(fs.entra(&image, &["emulator"], &ports));
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("ENTRA_EMULATOR_ADMIN_TOKEN"), "{stderr}");

    let token = "container-test-admin-token";
    let mut with_token = ports.to_vec();
    with_token.push(("ENTRA_EMULATOR_ADMIN_TOKEN", token.to_owned()));
    let emulator = Running::start(fs.entra(&image, &["emulator"], &with_token));
    let port = emulator.port("HTTP:");
    let admin = format!("http://127.0.0.2:{port}/_emulator/tenants");
    assert_eq!(get(&admin, None).await.0, 401);
    let (status, body) = get(&admin, Some(token)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!emulator.banner.contains(token), "{}", emulator.banner);
    assert_eq!(emulator.stop(), Some(0));
}
