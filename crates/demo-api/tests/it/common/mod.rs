//! The test harness: an in-process emulator issuing the tokens, the API on
//! `127.0.0.1:0` with a fresh database (a SQLite file in a temporary
//! directory, or a uniquely named PostgreSQL database dropped afterwards),
//! and a real HTTP client.
//!
//! PostgreSQL is at `postgres://postgres@127.0.0.1:5432/test` (override with
//! `DEMO_API_TEST_POSTGRES`). When it is unreachable the PostgreSQL half of
//! the suite is skipped with a message, unless `CI` is set: then it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use demo_api::{ApiConfig, DemoApi};
use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;
use sqlx::Connection;

pub const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
pub const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const API_URI: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3";
pub const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
pub const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
pub const SWAGGER: &str = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
pub const ALICE: &str = "alice@contoso.onmicrosoft.com";
pub const ALICE_OID: &str = "0a5e3f1c-7b2d-4e6a-9c8f-1d2e3f4a5b6c";
pub const BOB: &str = "bob@contoso.onmicrosoft.com";
pub const BOB_OID: &str = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a";

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which database the API runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A unique directory under the system's temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!("demo-api-{name}-{}", unique()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A process-unique, run-unique suffix (hex).
pub fn unique() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:x}{:x}{:x}",
        nanos,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A PostgreSQL database made for one test, dropped when it ends (even on panic).
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    /// Creates a fresh database, or `None` (skip) when PostgreSQL is
    /// unreachable and `CI` is unset.
    pub async fn create() -> Option<Self> {
        let admin_url =
            std::env::var("DEMO_API_TEST_POSTGRES").unwrap_or_else(|_| POSTGRES_ADMIN_URL.into());
        let mut admin = match sqlx::PgConnection::connect(&admin_url).await {
            Ok(connection) => connection,
            Err(e) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "SKIPPED: PostgreSQL at {admin_url} is unreachable ({e}); set CI=1 to make this a failure"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL at {admin_url} is unreachable (CI is set): {e}"),
        };
        let name = format!("demo_api_{}", unique());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = admin.close().await;
        let base = admin_url
            .rsplit_once('/')
            .map(|(base, _)| base)
            .unwrap_or(&admin_url);
        let url = format!("{base}/{name}");
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop may run inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// Where the API keeps its data for one test.
pub enum Storage {
    Sqlite(TempDir),
    Postgres(PgDatabase),
}

impl Storage {
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => Some(Storage::Sqlite(TempDir::new("sqlite"))),
            Backend::Postgres => PgDatabase::create().await.map(Storage::Postgres),
        }
    }

    pub fn url(&self) -> String {
        match self {
            Storage::Sqlite(dir) => format!("sqlite://{}", dir.0.join("demo-api.db").display()),
            Storage::Postgres(db) => db.url.clone(),
        }
    }
}

/// Who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Alice (app roles Admin and User) through the web app, with these scopes.
    Alice(&'static [&'static str]),
    /// Bob (app role User) through the web app, with these scopes.
    Bob(&'static [&'static str]),
    /// The daemon, app-only: its granted application permissions
    /// (Heroes.Read, Heroes.Write, Heroes.Delete).
    Daemon,
}

pub const ALL_SCOPES: &[&str] = &["Heroes.Read", "Heroes.Write", "Heroes.Delete"];

/// An emulator, the API on a fresh database, and an HTTP client.
pub struct Harness {
    pub emulator: Emulator,
    pub api: Option<DemoApi>,
    pub base: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    /// Held for its `Drop`: the database goes last, after the API (fields
    /// drop in order).
    _storage: Storage,
}

/// An answer, its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The names in a problem's `errors`.
    pub fn fields(&self) -> Vec<String> {
        self.json["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts an RFC 9457 problem with this status.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        assert_eq!(self.json["status"], status, "{}", self.text);
        assert!(self.json["title"].is_string(), "{}", self.text);
        assert!(self.json["detail"].is_string(), "{}", self.text);
    }
}

pub async fn start_emulator() -> Emulator {
    Emulator::start(EmulatorConfig::for_tests(Directory::default_demo()))
        .await
        .unwrap()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Harness {
    /// Starts everything, or `None` when the backend is unavailable (skipped).
    pub async fn start(backend: Backend) -> Option<Self> {
        let storage = Storage::create(backend).await?;
        let emulator = start_emulator().await;
        let config = ApiConfig::demo(emulator.http_url(), storage.url());
        let api = start_api(config).await;
        tokio::time::timeout(Duration::from_secs(20), api.validator().ready())
            .await
            .expect("the API never loaded the emulator's keys");
        Some(Harness {
            base: api.url(),
            api: Some(api),
            emulator,
            client: http_client(),
            backend,
            _storage: storage,
        })
    }

    /// Stops the API gracefully (closing its database).
    pub async fn stop(mut self) {
        if let Some(api) = self.api.take() {
            api.shutdown().await;
        }
    }

    /// A valid access token for the API.
    pub fn token(&self, who: Who) -> String {
        let request = match who {
            Who::Alice(scopes) => MintRequest::delegated(TENANT, WEB, API, ALICE, scopes.to_vec()),
            Who::Bob(scopes) => MintRequest::delegated(TENANT, WEB, API, BOB, scopes.to_vec()),
            Who::Daemon => MintRequest::app_only(TENANT, DAEMON, API),
        };
        self.emulator.mint_access_token(request).unwrap()
    }

    /// A delegated token for alice with every scope, but for another API
    /// (the web app's id as audience).
    pub fn token_for_another_api(&self) -> String {
        self.emulator
            .mint_access_token(MintRequest::delegated(
                TENANT,
                DAEMON,
                WEB,
                ALICE,
                ALL_SCOPES.to_vec(),
            ))
            .unwrap()
    }

    /// Alice's token with a signature that does not verify.
    pub fn tampered_token(&self) -> String {
        let token = self.token(Who::Alice(ALL_SCOPES));
        let (rest, signature) = token.rsplit_once('.').unwrap();
        let mut signature = signature.as_bytes().to_vec();
        signature[10] = if signature[10] == b'A' { b'B' } else { b'A' };
        format!("{rest}.{}", String::from_utf8(signature).unwrap())
    }

    /// Alice's token, expired an hour ago.
    pub fn expired_token(&self) -> String {
        let now = self.emulator.now();
        self.emulator
            .mint_access_token(
                MintRequest::delegated(TENANT, WEB, API, ALICE, ALL_SCOPES.to_vec())
                    .claim("iat", now - 7200)
                    .claim("nbf", now - 7200)
                    .claim("exp", now - 3600),
            )
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            if !content_type.is_empty() {
                request = request.header("content-type", content_type);
            }
            request = request.body(bytes);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::GET, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::DELETE, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(
            reqwest::Method::POST,
            path,
            token,
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// Creates a hero as alice; its id.
    pub async fn create_hero(&self, name: &str) -> i64 {
        let token = self.token(Who::Alice(&["Heroes.Write"]));
        let reply = self
            .post(
                "/heroes",
                Some(&token),
                &serde_json::json!({"name": name, "secret_name": format!("{name}'s secret")}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["id"].as_i64().unwrap()
    }

    /// Creates a todo item as `who`; its id.
    pub async fn create_todo(&self, who: Who, title: &str) -> i64 {
        let token = self.token(who);
        let reply = self
            .post(
                "/todoitems",
                Some(&token),
                &serde_json::json!({ "title": title }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["id"].as_i64().unwrap()
    }

    /// Every hero, read page by page.
    pub async fn all_heroes(&self) -> Vec<Value> {
        self.all("/heroes", &self.token(Who::Daemon)).await
    }

    /// Every item `path` lists for `token`, read page by page.
    pub async fn all(&self, path: &str, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut after: Option<i64> = None;
        loop {
            let url = match after {
                Some(after) => format!("{path}?limit=100&after={after}"),
                None => format!("{path}?limit=100"),
            };
            let reply = self.get(&url, Some(token)).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            items.extend(reply.json["items"].as_array().unwrap().iter().cloned());
            match reply.json["next_after"].as_i64() {
                Some(next) => after = Some(next),
                None => return items,
            }
        }
    }
}

/// Starts the API on a free loopback port.
pub async fn start_api(config: ApiConfig) -> DemoApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    DemoApi::start(config, listener).await.unwrap()
}

/// Runs each named scenario (an `async fn(&Harness)`) twice: on SQLite and
/// on PostgreSQL, each run with its own emulator, API and database.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let harness = Harness::start(Backend::Sqlite).await.unwrap();
                    super::$scenario(&harness).await;
                    harness.stop().await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(harness) = Harness::start(Backend::Postgres).await else {
                        return;
                    };
                    super::$scenario(&harness).await;
                    harness.stop().await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends;
