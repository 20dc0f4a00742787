//! Running external OAuth clients (MSAL Python, MSAL Node) against an
//! emulator started in-process: where the clients are installed
//! (`.ci/install-test-clients`), a unique data directory per test (so the CA
//! is a file the clients can trust), child processes with a hard timeout,
//! a directory prepared for unattended sign-in, and a small HTML form driver
//! for pages that must be clicked through (device-code verification).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    unreachable_pub
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use entra_emulator::config::{Application, PasswordCredential, PermissionScope, ResourceAccess};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long any external client may run before it is killed.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The middle-tier API of the on-behalf-of tests (added by [`directory`]).
pub const MIDDLE: &str = "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const MIDDLE_URI: &str = "api://7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
pub const MIDDLE_SECRET: &str = "heroes-bff-test-secret";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `.ci/install-test-clients` puts the clients.
pub fn clients_dir() -> PathBuf {
    std::env::var_os("ENTRA_TEST_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/test-clients"))
}

/// The scripts in `tests/it/clients/`.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/clients")
}

/// Missing tools fail under CI (`CI` set) and skip locally.
fn missing(what: &str) -> Option<PathBuf> {
    let message = format!("{what} is not installed: run .ci/install-test-clients");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message} (CI is set, so this fails instead of skipping)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The virtualenv's Python with MSAL installed, or `None` (skip) locally.
pub fn python() -> Option<PathBuf> {
    let python = clients_dir().join("venv/bin/python");
    if python.is_file() {
        Some(python)
    } else {
        missing("MSAL Python (target/test-clients/venv)")
    }
}

/// The `node_modules` holding `@azure/msal-node`, or `None` (skip) locally.
pub fn node_modules() -> Option<PathBuf> {
    let modules = clients_dir().join("node/node_modules");
    let node_ok = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !node_ok {
        return missing("node");
    }
    if modules.join("@azure/msal-node/package.json").is_file() {
        Some(modules)
    } else {
        missing("@azure/msal-node (target/test-clients/node)")
    }
}

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "entra-emulator-{tag}-{}-{nanos}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
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

/// An emulator with a data directory of its own (the CA is on disk).
#[derive(Debug)]
pub struct Running {
    pub emulator: Emulator,
    /// Held for its `Drop`: the directory goes after the emulator (fields
    /// drop in order).
    _data: TempDir,
}

impl Running {
    pub fn https(&self) -> String {
        self.emulator.https_url().unwrap()
    }

    /// `https://127.0.0.1:{port}/{tenant}`.
    pub fn authority(&self) -> String {
        format!("{}/{}", self.https(), crate::common::TENANT)
    }

    pub fn ca(&self) -> PathBuf {
        self.emulator.ca_path().unwrap().to_path_buf()
    }

    /// What the emulator received, for failure messages.
    pub fn log(&self) -> String {
        self.emulator
            .requests()
            .iter()
            .map(|r| {
                let params: Vec<String> = r
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", truncate(v, 120)))
                    .collect();
                format!(
                    "  {} {} -> {} [{}]",
                    r.method,
                    r.path,
                    r.status,
                    params.join(" ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

pub async fn launch(directory: Directory) -> Running {
    let data = TempDir::new("interop");
    let emulator = Emulator::start(EmulatorConfig {
        data_dir: Some(data.0.join("data")),
        ..EmulatorConfig::for_tests(directory)
    })
    .await
    .unwrap();
    assert!(emulator.ca_path().is_some_and(Path::is_file));
    Running {
        emulator,
        _data: data,
    }
}

/// An emulator whose issuer is its HTTPS base URL (`https://127.0.0.1:{port}`):
/// MSAL Node (7.x) refuses a discovery document whose `issuer` has another
/// scheme or host:port than the authority (`issuer_validation_failed`),
/// unless the issuer is a Microsoft host or an HTTPS host in
/// `knownAuthorities`; the default issuer is the plain-HTTP listener's.
pub async fn launch_with_https_issuer(directory: Directory) -> Running {
    let data = TempDir::new("interop");
    let mut last_error = None;
    for _ in 0..5 {
        // Pick a free port for HTTPS first, so the issuer can name it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let https = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        match Emulator::start(EmulatorConfig {
            data_dir: Some(data.0.join("data")),
            https_addr: Some(https),
            issuer_base: Some(format!("https://127.0.0.1:{port}")),
            ..EmulatorConfig::for_tests(directory.clone())
        })
        .await
        {
            Ok(emulator) => {
                return Running {
                    emulator,
                    _data: data,
                };
            }
            Err(e) => last_error = Some(e),
        }
    }
    panic!("cannot start the emulator: {last_error:?}");
}

/// The demo directory, prepared for unattended runs: `/authorize` signs in
/// the `login_hint` user, every client's permissions are admin-consented
/// (no consent page), device codes poll every second, and a middle-tier API
/// (`MIDDLE`, confidential, exposing `access_as_user` and calling the heroes
/// API) exists for on-behalf-of, with the web client allowed to call it.
pub fn directory() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    directory.settings.device_code_interval = 1;
    let tenant = &mut directory.tenants[0];
    tenant.applications.push(Application {
        app_id: MIDDLE.into(),
        display_name: "Heroes BFF (middle tier)".into(),
        identifier_uris: vec![MIDDLE_URI.into()],
        access_token_accepted_version: Some(2),
        oauth2_permission_scopes: vec![PermissionScope {
            value: "access_as_user".into(),
            user_consent_description: "Call the heroes BFF as you".into(),
            r#type: "User".into(),
        }],
        password_credentials: vec![PasswordCredential {
            secret_text: MIDDLE_SECRET.into(),
            display_name: "test".into(),
            end_date_time: None,
        }],
        required_resource_access: vec![ResourceAccess {
            resource_app_id: crate::common::API.into(),
            scopes: vec!["Heroes.Read".into(), "Heroes.Write".into()],
            roles: vec![],
            admin_consented: true,
        }],
        ..Application::default()
    });
    for app in &mut tenant.applications {
        for access in &mut app.required_resource_access {
            access.admin_consented = true;
        }
        if app.app_id == crate::common::WEB {
            app.required_resource_access.push(ResourceAccess {
                resource_app_id: MIDDLE.into(),
                scopes: vec!["access_as_user".into()],
                roles: vec![],
                admin_consented: true,
            });
        }
    }
    directory.check().unwrap();
    directory
}

/// A client process: its JSON stdout lines, its stderr, killed on drop.
#[derive(Debug)]
pub struct ClientProcess {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    pub seen: Vec<String>,
}

impl ClientProcess {
    /// The next stdout line as JSON (within the child timeout).
    pub async fn next_json(&mut self) -> Option<Value> {
        loop {
            let line = tokio::time::timeout(CHILD_TIMEOUT, self.lines.next_line())
                .await
                .ok()?
                .ok()??;
            self.seen.push(line.clone());
            if let Ok(value) = serde_json::from_str(&line) {
                return Some(value);
            }
        }
    }

    /// Waits for the exit (killing after the timeout); returns stderr.
    pub async fn finish(mut self) -> (Vec<String>, String) {
        while let Ok(Ok(Some(line))) =
            tokio::time::timeout(CHILD_TIMEOUT, self.lines.next_line()).await
        {
            self.seen.push(line);
        }
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ =
                tokio::time::timeout(Duration::from_secs(5), err.read_to_string(&mut stderr)).await;
        }
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(_) => {}
            Err(_) => {
                let _ = self.child.kill().await;
            }
        }
        (self.seen, stderr)
    }
}

/// Starts `program args...` with `env`, stdout/stderr piped, killed on drop.
pub fn spawn(program: &Path, args: &[String], env: &[(&str, String)]) -> ClientProcess {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let stdout = child.stdout.take().unwrap();
    ClientProcess {
        child,
        lines: BufReader::new(stdout).lines(),
        seen: Vec::new(),
    }
}

/// Runs a client to completion (killed after [`CHILD_TIMEOUT`]); returns
/// its last JSON line, panicking with stdout, stderr and the emulator's
/// request log when there is none.
pub async fn run(
    running: &Running,
    program: &Path,
    args: &[String],
    env: &[(&str, String)],
) -> Value {
    let process = spawn(program, args, env);
    let (lines, stderr) =
        tokio::time::timeout(CHILD_TIMEOUT + Duration::from_secs(15), process.finish())
            .await
            .unwrap_or_else(|_| panic!("{} did not finish in time", program.display()));
    if std::env::var_os("INTEROP_SHOW_STDERR").is_some() {
        eprintln!("--- {} stderr ---\n{stderr}", program.display());
    }
    let last = lines
        .iter()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok());
    match last {
        Some(v) if v.get("exception").is_some() => panic!(
            "{} raised {}\nstderr:\n{stderr}\nemulator saw:\n{}",
            program.display(),
            v["exception"],
            running.log()
        ),
        Some(v) => v,
        None => panic!(
            "no JSON from {}\nstdout:\n{}\nstderr:\n{}\nemulator saw:\n{}",
            program.display(),
            lines.join("\n"),
            stderr,
            running.log()
        ),
    }
}

/// Runs `msal_flows.py FLOW ARGS` in the virtualenv, trusting the CA.
pub async fn run_python(running: &Running, python: &Path, flow: &str, args: &Value) -> Value {
    let (program, argv, env) = python_command(running, python, flow, args);
    run(running, &program, &argv, &env).await
}

pub fn python_command(
    running: &Running,
    python: &Path,
    flow: &str,
    args: &Value,
) -> (PathBuf, Vec<String>, Vec<(&'static str, String)>) {
    let script = scripts_dir().join("python/msal_flows.py");
    let ca = running.ca().display().to_string();
    (
        python.to_path_buf(),
        vec![
            script.display().to_string(),
            flow.to_owned(),
            args.to_string(),
        ],
        vec![
            ("REQUESTS_CA_BUNDLE", ca.clone()),
            ("SSL_CERT_FILE", ca),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
            ("PYTHONUNBUFFERED", "1".to_owned()),
        ],
    )
}

/// Runs `node msal_flows.js FLOW ARGS`, trusting the CA.
pub async fn run_node(running: &Running, modules: &Path, flow: &str, args: &Value) -> Value {
    let script = scripts_dir().join("node/msal_flows.js");
    let ca = running.ca().display().to_string();
    run(
        running,
        Path::new("node"),
        &[
            script.display().to_string(),
            flow.to_owned(),
            args.to_string(),
        ],
        &[
            ("NODE_EXTRA_CA_CERTS", ca),
            ("NODE_PATH", modules.display().to_string()),
            ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
        ],
    )
    .await
}

/// Decodes a JWT's payload without checking anything.
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The `client_info` of a token response: `{"uid": oid, "utid": tid}`.
pub fn client_info(encoded: &str) -> Value {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

// ---------------------------------------------------------------------------
// A minimal HTML form driver.

/// A form on a page.
#[derive(Debug, Clone, Default)]
pub struct HtmlForm {
    pub action: String,
    pub method: String,
    /// Named fields in order: (name, value, type).
    pub fields: Vec<(String, String, String)>,
    /// Submit buttons: (name, value, text).
    pub buttons: Vec<(String, String, String)>,
}

fn decode_entities(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// The attributes of the tag starting at `tag` (text after `<name`).
fn attributes(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let bytes = tag.as_bytes();
    let mut i = 0;
    while i < bytes.len() && bytes[i] != b'>' {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'>' {
            break;
        }
        let start = i;
        while i < bytes.len() && !matches!(bytes[i], b'=' | b'>' | b' ' | b'\t' | b'\n' | b'/') {
            i += 1;
        }
        let name = tag[start..i].to_ascii_lowercase();
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                i += 1;
                let vstart = i;
                while i < bytes.len() && bytes[i] != quote {
                    i += 1;
                }
                value = decode_entities(&tag[vstart..i.min(bytes.len())]);
                i += 1;
            } else {
                let vstart = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&tag[vstart..i]);
            }
        }
        if !name.is_empty() {
            out.insert(name, value);
        }
    }
    out
}

/// Every `<form>` of a page.
pub fn forms(html: &str) -> Vec<HtmlForm> {
    let lower = html.to_ascii_lowercase();
    let mut result = Vec::new();
    let mut pos = 0;
    while let Some(start) = lower[pos..].find("<form").map(|p| p + pos) {
        let end = lower[start..]
            .find("</form")
            .map_or(lower.len(), |p| p + start);
        let attrs = attributes(&html[start + 5..]);
        let mut form = HtmlForm {
            action: attrs.get("action").cloned().unwrap_or_default(),
            method: attrs
                .get("method")
                .cloned()
                .unwrap_or_else(|| "get".into())
                .to_ascii_lowercase(),
            ..HtmlForm::default()
        };
        let body = &html[start..end];
        let body_lower = &lower[start..end];
        let mut p = 0;
        while let Some(tag_start) = body_lower[p..].find('<').map(|x| x + p) {
            let rest = &body_lower[tag_start + 1..];
            if rest.starts_with("input") {
                let a = attributes(&body[tag_start + 6..]);
                let kind = a.get("type").cloned().unwrap_or_else(|| "text".into());
                let name = a.get("name").cloned().unwrap_or_default();
                let value = a.get("value").cloned().unwrap_or_default();
                if kind == "submit" {
                    form.buttons.push((name, value.clone(), value));
                } else if !name.is_empty()
                    && (!matches!(kind.as_str(), "checkbox" | "radio") || a.contains_key("checked"))
                {
                    form.fields.push((name, value, kind));
                }
            } else if rest.starts_with("button") {
                let a = attributes(&body[tag_start + 7..]);
                let close = body_lower[tag_start..]
                    .find("</button")
                    .map_or(body.len(), |x| x + tag_start);
                let open_end = body[tag_start..]
                    .find('>')
                    .map_or(close, |x| x + tag_start + 1);
                let text = strip_tags(&body[open_end.min(close)..close]);
                let kind = a.get("type").cloned().unwrap_or_else(|| "submit".into());
                if kind == "submit" {
                    form.buttons.push((
                        a.get("name").cloned().unwrap_or_default(),
                        a.get("value").cloned().unwrap_or_default(),
                        text,
                    ));
                }
            }
            p = tag_start + 1;
        }
        result.push(form);
        pos = end.max(start + 5);
    }
    result
}

/// The visible text of an HTML fragment.
pub fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What to type into a field, by its name and type.
#[derive(Debug, Clone)]
pub struct Answers {
    pub user_code: String,
    pub username: String,
    pub password: String,
}

impl Answers {
    fn value_for(&self, name: &str, kind: &str, current: &str) -> String {
        let n = name.to_ascii_lowercase();
        if kind == "hidden" {
            return current.to_owned();
        }
        if kind == "password" || n.contains("passw") || n == "passwd" {
            return self.password.clone();
        }
        if n.contains("code") || n == "otc" {
            return self.user_code.clone();
        }
        if n.contains("login")
            || n.contains("user")
            || n.contains("email")
            || n.contains("upn")
            || n.contains("hint")
        {
            return self.username.clone();
        }
        current.to_owned()
    }
}

fn is_negative(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["cancel", "deny", "decline", "no", "back", "other", "switch"]
        .iter()
        .any(|w| t.split(|c: char| !c.is_alphanumeric()).any(|x| x == *w))
}

/// Fills and submits forms page after page, as a person approving the
/// request would: types the user code, the user name and password, accepts
/// consent. Stops when a page has no form left, and returns every page seen.
pub async fn click_through(
    client: &reqwest::Client,
    start_url: &str,
    answers: &Answers,
) -> Vec<(u16, String, String)> {
    let mut pages = Vec::new();
    let mut url = url::Url::parse(start_url).unwrap();
    let mut response = client.get(url.clone()).send().await.unwrap();
    for _ in 0..8 {
        url = response.url().clone();
        let status = response.status().as_u16();
        let html = response.text().await.unwrap_or_default();
        pages.push((status, url.to_string(), html.clone()));
        let Some(form) = forms(&html)
            .into_iter()
            .find(|f| f.fields.iter().any(|(_, _, k)| k != "hidden") || !f.buttons.is_empty())
        else {
            break;
        };
        let mut fields: Vec<(String, String)> = form
            .fields
            .iter()
            .map(|(n, v, k)| (n.clone(), answers.value_for(n, k, v)))
            .collect();
        let button = form
            .buttons
            .iter()
            .find(|(n, v, t)| !is_negative(&format!("{n} {v} {t}")))
            .or(form.buttons.first());
        if let Some((name, value, _)) = button {
            if !name.is_empty() {
                fields.push((name.clone(), value.clone()));
            }
        }
        let action = if form.action.is_empty() {
            url.clone()
        } else {
            url.join(&form.action).unwrap()
        };
        response = if form.method == "post" {
            client.post(action).form(&fields).send().await.unwrap()
        } else {
            let mut action = action;
            action.query_pairs_mut().extend_pairs(&fields);
            client.get(action).send().await.unwrap()
        };
    }
    pages
}

/// A browser-like client: trusts the emulator, keeps cookies, follows redirects.
pub fn browser(running: &Running) -> reqwest::Client {
    let pem = running.emulator.ca_pem().unwrap();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(10))
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

#[cfg(test)]
mod html_tests {
    use super::*;

    #[test]
    fn forms_are_parsed() {
        let html = r#"<form method="post" action="/devicelogin?x=1&amp;y=2"><input type="hidden" name="flowToken" value="a&quot;b"><label>Code<input type=text name=user_code></label><button type="submit" name="action" value="continue">Next</button><button name="action" value="cancel">Cancel</button></form>"#;
        let f = forms(html);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].action, "/devicelogin?x=1&y=2");
        assert_eq!(f[0].method, "post");
        assert_eq!(
            f[0].fields[0],
            ("flowToken".into(), "a\"b".into(), "hidden".into())
        );
        assert_eq!(f[0].fields[1].0, "user_code");
        assert_eq!(f[0].buttons.len(), 2);
        assert!(is_negative("action cancel Cancel"));
        assert!(!is_negative("action continue Next"));
    }
}
