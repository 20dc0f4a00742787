//! The probes App Service and Kubernetes call: `/health/live` answers while
//! the process runs; `/health/ready` is `503`, naming what is not ready,
//! while the identity provider cannot be reached or the session store does
//! not answer, and `200` again once they are back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use demo_web::{DemoWeb, SessionBackend, WebConfig};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

async fn get(url: &str) -> (u16, String, Value) {
    let response = reqwest::get(url).await.unwrap();
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

fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}

async fn start_web(config: WebConfig) -> DemoWeb {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    DemoWeb::start(config, listener).await.unwrap()
}

async fn start_emulator_on(port: u16) -> Emulator {
    Emulator::start(EmulatorConfig {
        http_addr: ([127, 0, 0, 1], port).into(),
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_waits_for_the_identity_provider_and_live_does_not() {
    let port = free_port();
    let mut config = WebConfig::demo(format!("http://127.0.0.1:{port}"));
    config.session_backend = SessionBackend::Memory;
    let web = start_web(config).await;
    let base = web.url();

    let (status, cache, body) = get(&format!("{base}/health/live")).await;
    assert_eq!((status, cache.as_str()), (200, "no-store"), "{body}");
    assert_eq!(body["status"], "alive");

    let (status, cache, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!((status, cache.as_str()), (503, "no-store"), "{body}");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["identity_provider"], "unreachable", "{body}");
    assert_eq!(body["sessions"], "reachable", "{body}");
    assert_eq!(body["backend"], "memory", "{body}");

    let _emulator = start_emulator_on(port).await;
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["identity_provider"], "reachable", "{body}");

    let response = reqwest::Client::new()
        .post(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    web.shutdown().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_while_the_session_store_is_unreachable_and_back() {
    let Some(url) = redis_url().await else { return };
    let upstream = url
        .strip_prefix("redis://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    let relay = Relay::start(upstream).await;
    let emulator = start_emulator_on(0).await;
    let mut config = WebConfig::demo(emulator.http_url());
    config.session_backend = SessionBackend::Redis(format!("redis://{}", relay.addr));
    config.redis_key_prefix = format!("demo-web-test:probes:{}:{}:", std::process::id(), now());
    let web = start_web(config).await;
    let base = web.url();
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["backend"], "redis", "{body}");

    relay.set_up(false);
    let body = eventually(&format!("{base}/health/ready"), 503).await;
    assert_eq!(body["sessions"], "unreachable", "{body}");
    assert_eq!(body["identity_provider"], "reachable", "{body}");
    assert_eq!(get(&format!("{base}/health/live")).await.0, 200);

    relay.set_up(true);
    let body = eventually(&format!("{base}/health/ready"), 200).await;
    assert_eq!(body["sessions"], "reachable", "{body}");
    web.shutdown().await;
}
