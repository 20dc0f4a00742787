//! The probes App Service and Kubernetes call: `/health/live` answers while
//! the process runs; `/health/ready` (like `/health`) is `503`, naming what
//! is not ready, while the signing keys cannot be had or the database does
//! not answer, and `200` again once they are back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use demo_api::ApiConfig;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

async fn get(url: &str) -> (u16, String, Value) {
    let response = http_client().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, cache, response.json().await.unwrap_or_default())
}

/// Polls `url` until it answers `status`, for up to a minute.
async fn eventually(url: &str, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (got, _, body) = get(url).await;
        if got == status {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{url} never answered {status}: {got} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_waits_for_the_signing_keys_and_live_does_not() {
    // A free port for the authority, not listening yet.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let dir = TempDir::new("probes-keys");
    let api = start_api(ApiConfig::demo(
        format!("http://127.0.0.1:{port}"),
        format!("sqlite://{}", dir.0.join("api.db").display()),
    ))
    .await;
    let base = api.url();

    let (status, cache, body) = get(&format!("{base}/health/live")).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"), "{body}");
    assert_eq!(body["status"], "alive");

    for path in ["/health/ready", "/health"] {
        let (status, cache, body) = get(&format!("{base}{path}")).await;
        assert_eq!(
            (status, cache.as_str()),
            (503, "no-store"),
            "{path}: {body}"
        );
        assert_eq!(body["status"], "not ready", "{path}: {body}");
        assert_eq!(body["signing_keys"], "not loaded", "{path}: {body}");
        assert_eq!(body["database"], "reachable", "{path}: {body}");
    }

    // The authority comes up: ready by itself.
    let _emulator = Emulator::start(EmulatorConfig {
        http_addr: ([127, 0, 0, 1], port).into(),
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["signing_keys"], "loaded", "{body}");
    assert_eq!(body["database"], "reachable", "{body}");
    assert_eq!(get(&format!("{base}/health")).await.0, 200);
    assert_eq!(get(&format!("{base}/health/live")).await.0, 200);

    // Probes take GET only.
    let response = http_client()
        .post(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    api.shutdown().await;
}

/// A TCP relay to `upstream` that can be cut: while down it closes every
/// relayed connection and refuses new ones (accepts and closes them).
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Relay {
    async fn start(upstream: String) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let relay = Relay {
            addr,
            up: up.clone(),
            cut: cut.clone(),
        };
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let upstream = upstream.clone();
                let mut cut = cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        relay
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            self.cut.send_modify(|n| *n += 1);
        }
    }
}

/// `postgres://user@host:port/db` with `host:port` replaced by `addr`.
fn through(url: &str, addr: std::net::SocketAddr) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (format!("{userinfo}@"), host),
        None => (String::new(), authority),
    };
    let upstream = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (format!("{scheme}://{userinfo}{addr}/{path}"), upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_while_the_database_is_unreachable_and_back() {
    let Some(database) = PgDatabase::create().await else {
        return;
    };
    let (_, upstream) = through(&database.url, "127.0.0.1:1".parse().unwrap());
    let relay = Relay::start(upstream).await;
    let (url, _) = through(&database.url, relay.addr);
    let emulator = start_emulator().await;
    let api = start_api(ApiConfig::demo(emulator.http_url(), url)).await;
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();
    let base = api.url();
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["backend"], "postgres", "{body}");

    relay.set_up(false);
    let body = eventually(&format!("{base}/health/ready"), 503).await;
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["database"], "unreachable", "{body}");
    assert_eq!(body["signing_keys"], "loaded", "{body}");
    let (status, _, body) = get(&format!("{base}/health")).await;
    assert_eq!(status, 503, "{body}");
    // Liveness does not depend on the database.
    assert_eq!(get(&format!("{base}/health/live")).await.0, 200);

    relay.set_up(true);
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["database"], "reachable", "{body}");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probes_are_in_the_openapi_document_without_security() {
    let h = Harness::start(Backend::Sqlite).await.unwrap();
    let doc = h.get("/openapi.json", None).await.json;
    for (path, statuses) in [
        ("/health/live", &["200"][..]),
        ("/health/ready", &["200", "503"][..]),
        ("/health", &["200", "503"][..]),
    ] {
        let op = &doc["paths"][path]["get"];
        assert!(op.is_object(), "GET {path} is not documented");
        assert!(op["security"].is_null(), "{path} is public: {op}");
        let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(documented, statuses, "{path}");
    }
}
