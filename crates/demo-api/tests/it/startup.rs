//! Starting and stopping: the API starts before its authority and becomes
//! ready when the keys arrive; a bad configuration is refused at start;
//! data outlives a restart on both backends; the client allow-list holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::common::*;
use demo_api::{ApiConfig, DemoApi, Error};
use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::json;

async fn get(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = http_client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_starts_before_its_authority_and_is_ready_once_the_keys_load() {
    // A free port for the authority, not listening yet.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let dir = TempDir::new("late-authority");
    let config = ApiConfig::demo(
        format!("http://127.0.0.1:{port}"),
        format!("sqlite://{}", dir.0.join("api.db").display()),
    );
    let api = start_api(config).await;
    let base = api.url();

    let (status, body) = get(&format!("{base}/health"), None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["signing_keys"], "not loaded");
    assert_eq!(body["database"], "reachable");
    assert_eq!(body["status"], "not ready");

    // A well-formed token (from another emulator) while no keys can be had:
    // 503, never 401.
    let other = start_emulator().await;
    let token = other
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let response = http_client()
        .get(format!("{base}/heroes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert!(response.headers().contains_key("retry-after"));

    // The authority comes up on that port: the API gets ready by itself.
    let emulator = Emulator::start(EmulatorConfig {
        http_addr: ([127, 0, 0, 1], port).into(),
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(&format!("{base}/health"), None).await;
        if status == 200 {
            assert_eq!(body["signing_keys"], "loaded");
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let (status, body) = get(&format!("{base}/heroes"), Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    // The other emulator's keys are not this authority's.
    let stranger = other
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    assert_eq!(get(&format!("{base}/heroes"), Some(&stranger)).await.0, 401);
    api.shutdown().await;
}

#[tokio::test]
async fn a_bad_configuration_is_refused_at_start() {
    let dir = TempDir::new("bad-config");
    let sqlite = format!("sqlite://{}", dir.0.join("api.db").display());
    let start = |config: ApiConfig| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        DemoApi::start(config, listener).await
    };

    let wrong_database = ApiConfig::demo("http://localhost:9000", "mysql://db/heroes");
    assert!(matches!(start(wrong_database).await, Err(Error::Config(_))));

    let plain_http = ApiConfig::demo("http://login.example.com", sqlite.clone());
    let Err(Error::Config(reason)) = start(plain_http).await else {
        panic!("plain http off loopback was accepted");
    };
    assert!(reason.contains("http"), "{reason}");

    let mut no_tenant_policy = ApiConfig::demo("https://login.microsoftonline.com", sqlite);
    no_tenant_policy.tenant = "organizations".into();
    assert!(matches!(
        start(no_tenant_policy).await,
        Err(Error::Config(_))
    ));

    let missing_directory = ApiConfig::demo(
        "http://localhost:9000",
        format!("sqlite://{}", dir.0.join("no/such/dir/api.db").display()),
    );
    assert!(matches!(
        start(missing_directory).await,
        Err(Error::Database(_))
    ));

    let unreachable_postgres = ApiConfig::demo(
        "http://localhost:9000",
        "postgres://nobody@127.0.0.1:1/heroes",
    );
    assert!(matches!(
        start(unreachable_postgres).await,
        Err(Error::Database(_))
    ));
}

/// Data written before a graceful restart is there after it, on each backend.
async fn data_outlives_a_restart(backend: Backend) {
    let Some(storage) = Storage::create(backend).await else {
        return;
    };
    let emulator = start_emulator().await;
    let config = ApiConfig::demo(emulator.http_url(), storage.url());
    let token = emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            BOB,
            ["Heroes.Read", "Heroes.Write"],
        ))
        .unwrap();

    let api = start_api(config.clone()).await;
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();
    let client = http_client();
    let created: serde_json::Value = client
        .post(format!("{}/heroes", api.url()))
        .bearer_auth(&token)
        .json(&json!({"name": "Deadpond", "secret_name": "Dive Wilson"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let item: serde_json::Value = client
        .post(format!("{}/todoitems", api.url()))
        .bearer_auth(&token)
        .json(&json!({"title": "Walk the dog"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    api.shutdown().await;

    // Migrations run again on an up-to-date database: nothing to do.
    let api = start_api(config).await;
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();
    let (status, hero) = get(
        &format!("{}/heroes/{}", api.url(), created["id"]),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(hero, created);
    let (status, read) = get(
        &format!("{}/todoitems/{}", api.url(), item["id"]),
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(read, item);
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_outlives_a_restart_on_sqlite() {
    data_outlives_a_restart(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_outlives_a_restart_on_postgres() {
    data_outlives_a_restart(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_client_apps_may_call() {
    let dir = TempDir::new("allow-list");
    let emulator = start_emulator().await;
    let mut config = ApiConfig::demo(
        emulator.http_url(),
        format!("sqlite://{}", dir.0.join("api.db").display()),
    );
    config.allowed_client_apps = vec![DAEMON.to_owned()];
    let api = start_api(config).await;
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();

    let daemon = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    assert_eq!(
        get(&format!("{}/heroes", api.url()), Some(&daemon)).await.0,
        200
    );
    // Alice through the web app: a valid token, from a client not on the list.
    let web = emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            ALICE,
            ["Heroes.Read"],
        ))
        .unwrap();
    let (status, body) = get(&format!("{}/heroes", api.url()), Some(&web)).await;
    assert_eq!(status, 403, "{body}");
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_database_works_for_throwaway_runs() {
    let emulator = start_emulator().await;
    let api = start_api(ApiConfig::demo(emulator.http_url(), "sqlite::memory:")).await;
    tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
        .await
        .unwrap();
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let client = http_client();
    for n in 0..3 {
        let status = client
            .post(format!("{}/heroes", api.url()))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Hero {n}"), "secret_name": "s"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 201);
    }
    let (_, page) = get(&format!("{}/heroes", api.url()), Some(&token)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(api.database_backend(), "sqlite");
    api.shutdown().await;
}
