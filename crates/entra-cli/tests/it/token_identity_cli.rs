//! `entra token --managed-identity` and `--federated-token-file` as
//! processes, against in-test servers on 127.0.0.1:0 that speak the App
//! Service managed identity protocol and a token endpoint that checks the
//! client assertion: only the token on stdout; misconfiguration one line and
//! exit code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const APP: &str = "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182";
const HEADER: &str = "cli-identity-header-value";
const ASSERTION: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVtbzp3b3JrbG9hZCJ9.c2ln";

/// A unique directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "entra-cli-identity-{name}-{}-{nanos}",
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

/// `entra {args}` with a clean environment, run in `cwd`.
fn entra(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_")
            || name.starts_with("AZURE_")
            || name.starts_with("IDENTITY_")
            || name.starts_with("MSI_")
            || name == "RUST_LOG"
        {
            command.env_remove(name);
        }
    }
    command
}

async fn run(command: Command) -> Output {
    let mut command = tokio::process::Command::from(command);
    tokio::time::timeout(std::time::Duration::from_secs(60), command.output())
        .await
        .unwrap()
        .unwrap()
}

/// One request a server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: String,
}

type Handler = Arc<dyn Fn(&Request, &str) -> (u16, String) + Send + Sync>;

/// A minimal HTTP/1.1 server (one request per connection) on 127.0.0.1:0.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn server(handler: Handler) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let task = tokio::spawn({
        let (seen, base) = (seen.clone(), base.clone());
        async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (seen, handler, base) = (seen.clone(), handler.clone(), base.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let mut lines = head.split("\r\n");
                    let mut first = lines.next().unwrap_or_default().split(' ');
                    let method = first.next().unwrap_or_default().to_owned();
                    let target = first.next().unwrap_or_default().to_owned();
                    let headers: HashMap<String, String> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let n = stream.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let request = Request {
                        method,
                        path: path.to_owned(),
                        query: url::form_urlencoded::parse(query.as_bytes())
                            .into_owned()
                            .collect(),
                        headers,
                        body,
                    };
                    seen.lock().unwrap().push(request.clone());
                    let (status, body) = handler(&request, &base);
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        }
    });
    Server { base, seen, task }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The App Service managed identity protocol (2019-08-01).
async fn app_service() -> Server {
    server(Arc::new(|request: &Request, _: &str| {
        if request.headers.get("x-identity-header").map(String::as_str) != Some(HEADER) {
            return (
                401,
                serde_json::json!({"statusCode": 401, "message": "Invalid X-IDENTITY-HEADER"})
                    .to_string(),
            );
        }
        if request.query.get("api-version").map(String::as_str) != Some("2019-08-01") {
            return (
                400,
                r#"{"statusCode":400,"message":"bad api-version"}"#.into(),
            );
        }
        let who = request
            .query
            .get("client_id")
            .cloned()
            .unwrap_or_else(|| "system".into());
        (
            200,
            serde_json::json!({
                "access_token": format!("eyJ.mi-token-for-{who}.sig"),
                "expires_on": (now() + 86_399).to_string(),
                "resource": request.query.get("resource"),
                "token_type": "Bearer",
                "client_id": "5e29463d-71da-4fe0-8e69-999b57db23b0",
            })
            .to_string(),
        )
    }))
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_token_managed_identity_prints_only_the_token() {
    let mi = app_service().await;
    let dir = TempDir::new("mi");
    let mut command = entra(&dir.0, &["token", "--managed-identity"]);
    command
        .env("IDENTITY_ENDPOINT", format!("{}/msi/token", mi.base))
        .env("IDENTITY_HEADER", HEADER);
    let output = run(command).await;
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout, "eyJ.mi-token-for-system.sig\n");
    assert!(!stderr.contains("mi-token") && !stderr.contains(HEADER));
    let seen = mi.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/msi/token");
    assert_eq!(
        seen.query["resource"],
        "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
    );

    // A user-assigned identity by --client-id, the endpoint by flags.
    let endpoint = format!("{}/msi/token", mi.base);
    let output = run(entra(
        &dir.0,
        &[
            "token",
            "--managed-identity",
            "--client-id",
            "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
            "--identity-endpoint",
            &endpoint,
            "--identity-header",
            HEADER,
            "--scope",
            "https://vault.azure.net/.default",
        ],
    ))
    .await;
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        "eyJ.mi-token-for-a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d.sig"
    );
    assert_eq!(
        mi.seen.lock().unwrap()[1].query["resource"],
        "https://vault.azure.net"
    );

    // A wrong header is the endpoint's refusal: one line, exit code 2.
    let mut command = entra(&dir.0, &["token", "--managed-identity"]);
    command
        .env("IDENTITY_ENDPOINT", &endpoint)
        .env("IDENTITY_HEADER", "wrong");
    let output = run(command).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("Invalid X-IDENTITY-HEADER"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_token_with_a_federated_token_file_sends_it_as_the_assertion() {
    let authority = server(Arc::new(|request: &Request, base: &str| {
        if request.method == "GET" {
            return (
                200,
                serde_json::json!({
                    "issuer": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
                    "authorization_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/authorize"),
                    "token_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/token"),
                })
                .to_string(),
            );
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(request.body.as_bytes())
            .into_owned()
            .collect();
        let ok = form.get("client_assertion").map(String::as_str) == Some(ASSERTION)
            && form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && form.get("client_id").map(String::as_str) == Some(APP)
            && !form.contains_key("client_secret");
        if ok {
            (
                200,
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.federated-app-token.sig"}"#
                    .into(),
            )
        } else {
            (
                401,
                r#"{"error":"invalid_client","error_description":"AADSTS700211: No matching federated identity record found for presented assertion issuer.","error_codes":[700211]}"#
                    .into(),
            )
        }
    }))
    .await;
    let dir = TempDir::new("wi");
    let file = dir.0.join("azure-identity-token");
    std::fs::write(&file, format!("{ASSERTION}\n")).unwrap();
    let mut command = entra(
        &dir.0,
        &[
            "token",
            "--authority-host",
            &authority.base,
            "--client-id",
            APP,
        ],
    );
    command.env("AZURE_FEDERATED_TOKEN_FILE", &file);
    let output = run(command).await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "eyJ.federated-app-token.sig\n"
    );
    assert!(!stderr.contains(ASSERTION));
    let token_requests = authority
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(token_requests, 1);

    // Another token in the file is refused by the authority: exit code 2,
    // one line with the AADSTS code.
    std::fs::write(&file, "eyJ.b3RoZXI.c2ln").unwrap();
    let output = run(entra(
        &dir.0,
        &[
            "token",
            "--authority-host",
            &authority.base,
            "--client-id",
            APP,
            "--federated-token-file",
            file.to_str().unwrap(),
        ],
    ))
    .await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("AADSTS700211"), "{stderr}");
}

/// Arguments, environment, and what stderr must say.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[tokio::test(flavor = "multi_thread")]
async fn identity_misconfiguration_is_one_line_and_exit_code_2() {
    let dir = TempDir::new("misconfigured");
    let missing = dir.0.join("no-such-token-file");
    let cases: Vec<Case<'_>> = vec![
        (
            vec!["token", "--managed-identity"],
            vec![("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")],
            "IDENTITY_HEADER",
        ),
        (
            vec!["token", "--managed-identity"],
            vec![
                ("IDENTITY_ENDPOINT", "http://mi.example.com/msi/token"),
                ("IDENTITY_HEADER", "h"),
            ],
            "neither loopback nor link-local",
        ),
        (
            vec!["token", "--client-id", APP],
            vec![("AZURE_FEDERATED_TOKEN_FILE", missing.to_str().unwrap())],
            "no-such-token-file",
        ),
        (
            vec!["token", "--client-id", APP, "--client-secret", "s"],
            vec![("AZURE_FEDERATED_TOKEN_FILE", missing.to_str().unwrap())],
            "set one",
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = entra(&dir.0, &args);
        for (k, v) in &env {
            command.env(k, v);
        }
        let output = run(command).await;
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("entra: "), "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_absent_imds_fails_in_seconds_with_one_line() {
    // A loopback port nothing listens on stands for 169.254.169.254 off Azure.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = TempDir::new("no-imds");
    let started = std::time::Instant::now();
    let output = run(entra(
        &dir.0,
        &["token", "--managed-identity", "--imds-host", &host],
    ))
    .await;
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no managed identity endpoint answered at"),
        "{stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(output.stdout.is_empty());
}
