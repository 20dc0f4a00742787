//! Traces and structured logs, as an operator gets them: `entra demo
//! --log-format json` with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an
//! OTLP/HTTP receiver running in the test (axum, protobuf decoded with
//! opentelemetry-proto). After a sign-in and a page that calls the API:
//!
//! - the web app's page, its call to the API and the API's handling of that
//!   call are one trace (the API continues the web app's `traceparent`);
//! - every stderr line is a JSON object;
//! - no span and no log line holds a token, the authorization code, the
//!   state, a client secret, a client assertion, the password or the
//!   session id, and no span records a query string.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API_SCOPE: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";
const WEB_SECRET: &str = "heroes-web-dev-secret";
const ALICE: &str = "alice@contoso.onmicrosoft.com";
const ALICE_PASSWORD: &str = "alice-dev-password";
/// A client assertion (refused: it is not signed) that must not be kept.
const ASSERTION: &str = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.bm90LWEtcmVhbC1hc3NlcnRpb24";

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: i32,
    attributes: HashMap<String, String>,
    /// Everything the span holds (attributes, events and their fields).
    text: String,
}

/// The OTLP/HTTP receiver: `POST /v1/traces`, protobuf.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

async fn receive(
    State(receiver): State<Receiver>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (
            http::StatusCode::BAD_REQUEST,
            [(http::header::CONTENT_TYPE, "text/plain")],
            b"not an ExportTraceServiceRequest".to_vec(),
        );
    };
    let mut spans = receiver.0.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|a| a.key == "service.name")
            .and_then(|a| a.value.as_ref()?.value.as_ref())
            .map(|v| match v {
                AnyValue::StringValue(s) => s.clone(),
                other => format!("{other:?}"),
            })
            .unwrap_or_default();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            let attributes = span
                .attributes
                .iter()
                .map(|a| {
                    let value = match a.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(AnyValue::StringValue(s)) => s.clone(),
                        Some(AnyValue::IntValue(i)) => i.to_string(),
                        Some(other) => format!("{other:?}"),
                        None => String::new(),
                    };
                    (a.key.clone(), value)
                })
                .collect();
            spans.push(Received {
                service: service.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                name: span.name.clone(),
                kind: span.kind,
                attributes,
                text: format!("{span:?}"),
            });
        }
    }
    (
        http::StatusCode::OK,
        [(http::header::CONTENT_TYPE, "application/x-protobuf")],
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/v1/traces", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (receiver, url)
}

/// A unique directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("entra-traces-test-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `entra demo`, killed on drop if the test fails half-way.
struct Demo {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
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

fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
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
    text
}

/// `entra demo --log-format json` on free ports, exporting its spans to
/// `otlp`; returns once its banner is out.
async fn start_demo(data: &Path, ports: [u16; 4], otlp: &str) -> Demo {
    let [emulator, emulator_https, api, web] = ports.map(|p| p.to_string());
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command
        .args([
            "demo",
            "--log-format",
            "json",
            "--emulator-port",
            &emulator,
            "--emulator-https-port",
            &emulator_https,
            "--api-port",
            &api,
            "--web-port",
            &web,
        ])
        .current_dir(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_")
            || name.starts_with("AZURE_")
            || name.starts_with("API_")
            || name.starts_with("WEB_")
            || name.starts_with("OTEL_")
            || name == "DATABASE_URL"
            || name == "REDIS_URL"
            || name == "SESSION_STORE"
            || name == "RUST_LOG"
        {
            command.env_remove(name);
        }
    }
    command
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
        .env("OTEL_SERVICE_NAME", "heroes-demo")
        // Batches go out every 100 ms (the SDK reads it), not every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let mut child = command.spawn().unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let demo = Demo {
        child,
        stdout,
        stderr,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !demo.stdout.lock().unwrap().contains("Press Ctrl-C") {
        assert!(
            Instant::now() < deadline,
            "entra demo did not become ready; stdout:\n{}\nstderr:\n{}",
            demo.stdout.lock().unwrap(),
            demo.stderr.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    demo
}

fn params_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The first form's action (absolute) and hidden fields.
fn form_action_and_hidden(base: &str, html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").unwrap();
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let attribute = |tag: &str, name: &str| -> Option<String> {
        Some(
            tag.split(&format!("{name}=\""))
                .nth(1)?
                .split('"')
                .next()?
                .replace("&amp;", "&"),
        )
    };
    let action = attribute(tag, "action").unwrap();
    let fields = html[start..]
        .split("<input")
        .skip(1)
        .map(|rest| &rest[..rest.find('>').unwrap()])
        .filter(|tag| tag.contains("type=\"hidden\""))
        .map(|tag| {
            (
                attribute(tag, "name").unwrap(),
                attribute(tag, "value").unwrap(),
            )
        })
        .collect();
    let action = if action.starts_with('/') {
        format!("{base}{action}")
    } else {
        action
    };
    (action, fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sign_in_and_api_call_is_one_trace_with_nothing_secret_in_spans_or_logs() {
    let (receiver, otlp) = start_receiver().await;
    let dir = TempDir::new();
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let [emulator_port, _, api_port, web_port] = ports;
    let mut demo = start_demo(&dir.0, ports, &otlp).await;
    let emulator = format!("http://localhost:{emulator_port}");
    let api = format!("http://localhost:{api_port}");
    let web = format!("http://localhost:{web_port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    // The API is ready once it has the emulator's keys.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{api}/health/ready"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "the API never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Token requests whose forms carry a client secret and a client assertion.
    let token = format!("{emulator}/{TENANT}/oauth2/v2.0/token");
    let answer = http
        .post(&token)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", API_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let daemon_token = answer.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = http
        .post(&token)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", ASSERTION),
            ("scope", API_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());

    // Alice signs in to the web app on the emulator's pages.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let login = browser
        .get(format!("{web}/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let state = params_of(&authorize)["state"].clone();
    let page = browser
        .get(&authorize)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator, &page);
    fields.push(("username".into(), ALICE.into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let page = browser.post(&action).form(&fields).send().await.unwrap();
    let page = page.text().await.unwrap();
    let (action, mut fields) = form_action_and_hidden(&emulator, &page);
    fields.push(("action".into(), "accept".into()));
    let redirect = browser.post(&action).form(&fields).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let callback = redirect.headers()["location"].to_str().unwrap().to_owned();
    let code = params_of(&callback)["code"].clone();
    assert!(
        callback.starts_with(&format!("{web}/auth/callback?")),
        "{callback}"
    );
    let answer = browser.get(&callback).send().await.unwrap();
    assert_eq!(answer.status(), 303);
    let session = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()?
                .split_once('=')
                .map(|(_, v)| v.to_owned())
        })
        .unwrap();
    assert!(session.len() > 10, "{session}");

    // The signed-in home page lists heroes and todo items from the API.
    let home = browser.get(format!("{web}/")).send().await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("Alice"));

    // One trace: the page (web, server), its API call (web, client) and the
    // API's handling of it (server), each the parent of the next.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (page, call, handled) = loop {
        let spans = receiver.0.lock().unwrap().clone();
        let found = spans
            .iter()
            .filter(|s| s.name == "GET /" && s.kind == SpanKind::Server as i32)
            .find_map(|page| {
                let call = spans.iter().find(|s| {
                    s.trace_id == page.trace_id
                        && s.parent_span_id == page.span_id
                        && s.kind == SpanKind::Client as i32
                        && s.name == "GET /heroes"
                })?;
                let handled = spans.iter().find(|s| {
                    s.trace_id == page.trace_id
                        && s.parent_span_id == call.span_id
                        && s.kind == SpanKind::Server as i32
                })?;
                Some((page.clone(), call.clone(), handled.clone()))
            });
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no trace of GET / → GET /heroes among {} spans: {:#?}",
            spans.len(),
            spans
                .iter()
                .map(|s| (&s.name, s.kind, &s.trace_id, &s.span_id, &s.parent_span_id))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(page.service, "heroes-demo", "OTEL_SERVICE_NAME is honoured");
    assert_eq!(page.attributes["http.route"], "/");
    assert_eq!(page.attributes["http.response.status_code"], "200");
    assert_eq!(call.attributes["http.request.method"], "GET");
    assert_eq!(call.attributes["server.address"], "localhost");
    assert_eq!(handled.name, "GET /heroes");
    assert_eq!(handled.attributes["http.route"], "/heroes");
    assert_eq!(handled.attributes["http.response.status_code"], "200");
    assert_ne!(page.trace_id, "0".repeat(32));

    // Stop (SIGINT): the last spans are flushed on the way out.
    let status = Command::new("kill")
        .args(["-INT", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = demo.child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "entra demo did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stderr = demo.stderr.lock().unwrap().clone();
    assert!(exit.success(), "{stderr}");

    // The spans of the callback and of the emulator's /authorize and token
    // endpoint are there, with their paths and without their queries.
    let spans = receiver.0.lock().unwrap().clone();
    for route in [
        "/auth/callback",
        "/{tenant}/oauth2/v2.0/authorize",
        "/{tenant}/oauth2/v2.0/token",
    ] {
        assert!(
            spans
                .iter()
                .any(|s| s.attributes.get("http.route").map(String::as_str) == Some(route)),
            "no span for {route}: {:#?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        );
    }
    for span in &spans {
        for (key, value) in &span.attributes {
            assert!(
                !value.contains('?'),
                "{key} of span {} records a query: {value}",
                span.name
            );
        }
    }

    // Structured logs: every line on stderr is one JSON object.
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() > 5, "{stderr}");
    for line in &lines {
        let value: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            value["level"].is_string() && value["target"].is_string(),
            "{line}"
        );
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("demo_web::access") && l.contains("/auth/callback")),
        "the callback is in the access log: {stderr}"
    );
    // The page's access log line names its trace.
    assert!(
        lines.iter().any(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["target"] == "demo_web::access"
                && line["path"] == "/"
                && line["spans"]
                    .as_array()
                    .is_some_and(|spans| spans.iter().any(|s| s["trace_id"] == page.trace_id))
        }),
        "no access log line for GET / with trace id {}: {stderr}",
        page.trace_id
    );

    // Nothing secret anywhere.
    let everything: Vec<(String, &str)> = spans
        .iter()
        .map(|s| (format!("span {}", s.name), s.text.as_str()))
        .chain(lines.iter().map(|l| ("log line".to_owned(), *l)))
        .collect();
    for (what, secret) in [
        ("a JWT", "eyJ"),
        ("the daemon's access token", daemon_token.as_str()),
        ("the client assertion", ASSERTION),
        ("the authorization code", code.as_str()),
        ("the state", state.as_str()),
        ("the session id", session.as_str()),
        ("the web app's client secret", WEB_SECRET),
        ("the daemon's client secret", DAEMON_SECRET),
        ("alice's password", ALICE_PASSWORD),
    ] {
        let hits: Vec<&String> = everything
            .iter()
            .filter(|(_, text)| text.contains(secret))
            .map(|(where_, _)| where_)
            .collect();
        assert!(hits.is_empty(), "{what} in {hits:?}");
    }
}

#[test]
fn a_wrong_log_format_or_otlp_endpoint_is_one_line_and_exit_code_2() {
    let entra = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
        command.args(args);
        for (name, _) in std::env::vars() {
            if name.starts_with("OTEL_") || name.starts_with("ENTRA_") || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        command.envs(env.iter().copied()).output().unwrap()
    };
    let output = entra(
        &["health", "http://127.0.0.1:1/"],
        &[("ENTRA_LOG_FORMAT", "yaml")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("possible values: text, json"), "{stderr}");

    let output = entra(
        &["inspect", "not-a-token"],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("entra: cannot export traces over OTLP:"),
        "{stderr}"
    );
}
