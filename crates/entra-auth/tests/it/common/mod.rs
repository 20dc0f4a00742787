//! Shared test harness: an in-test Entra-shaped authority (discovery v2 + v1,
//! key sets, single- and multi-tenant) on 127.0.0.1:0 with fault injection,
//! and helpers to call a protected axum app over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use entra_auth::testing::{TestIssuer, TestKey};
use entra_auth::{AuthConfigBuilder, Validator};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// How the authority misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Serve normally.
    None,
    /// Close every connection as soon as it is accepted (like a refused connection).
    Refuse,
    /// Accept and never answer.
    Hang,
    /// Answer with this status and an empty body.
    Status(u16),
    /// Answer 200 with this body on the key set endpoints only (garbage JWKS).
    KeysBody(String),
    /// Answer 200 with this body on every endpoint.
    Body(String),
}

#[derive(Debug)]
struct Shared {
    keys: Mutex<Vec<Value>>,
    fault: Mutex<Fault>,
    discovery_hits: AtomicU64,
    keys_hits: AtomicU64,
    base: String,
    tenant_id: String,
}

/// An Entra-shaped authority serving discovery documents and key sets for
/// one tenant (and the multi-tenant `organizations` / `common` forms).
///
/// Issuers are Entra's real forms (`https://login.microsoftonline.com/{tid}/v2.0`,
/// `https://sts.windows.net/{tid}/`), so tokens minted by the `TestIssuer`
/// validate against it.
#[derive(Debug, Clone)]
pub struct MockAuthority {
    pub issuer: TestIssuer,
    shared: Arc<Shared>,
}

impl MockAuthority {
    /// Starts an authority publishing the issuer's key.
    pub async fn start() -> Self {
        Self::start_with(TestIssuer::new()).await
    }

    pub async fn start_with(issuer: TestIssuer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            keys: Mutex::new(vec![issuer.key().jwk()]),
            fault: Mutex::new(Fault::None),
            discovery_hits: AtomicU64::new(0),
            keys_hits: AtomicU64::new(0),
            base: format!("http://{addr}"),
            tenant_id: issuer.tenant_id().to_owned(),
        });
        let app = Router::new()
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery_v2),
            )
            .route(
                "/{tenant}/.well-known/openid-configuration",
                get(discovery_v1),
            )
            .route("/{tenant}/discovery/v2.0/keys", get(keys))
            .route("/{tenant}/discovery/keys", get(keys))
            .with_state(shared.clone());
        let listener = FaultyListener {
            inner: listener,
            shared: shared.clone(),
        };
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        MockAuthority { issuer, shared }
    }

    /// `http://127.0.0.1:port`.
    pub fn base(&self) -> String {
        self.shared.base.clone()
    }

    /// A configuration for this authority and the issuer's API (single tenant).
    pub fn config(&self) -> AuthConfigBuilder {
        entra_auth::AuthConfig::builder()
            .authority_host(self.base())
            .tenant(self.issuer.tenant_id())
            .client_id(self.issuer.client_id())
            .fetch_timeout(Duration::from_secs(2))
    }

    /// A multi-tenant configuration (`organizations`) for the issuer's API.
    pub fn multi_tenant_config(&self) -> AuthConfigBuilder {
        entra_auth::AuthConfig::builder()
            .authority_host(self.base())
            .tenant("organizations")
            .client_id(self.issuer.client_id())
            .fetch_timeout(Duration::from_secs(2))
    }

    /// Builds a validator from `config` and waits until its keys are loaded.
    pub async fn ready_validator(&self, config: AuthConfigBuilder) -> Validator {
        let validator = Validator::new(config.build().unwrap()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), validator.ready())
            .await
            .expect("keys loaded");
        validator
    }

    /// Replaces the published keys (JWK objects).
    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.shared.keys.lock().unwrap() = keys;
    }

    /// Publishes one more key.
    pub fn add_key(&self, key: &TestKey) {
        self.shared.keys.lock().unwrap().push(key.jwk());
    }

    /// Stops publishing the key with this `kid`.
    pub fn remove_key(&self, kid: &str) {
        self.shared
            .keys
            .lock()
            .unwrap()
            .retain(|k| k.get("kid").and_then(Value::as_str) != Some(kid));
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    /// Requests served or refused on the discovery endpoints.
    pub fn discovery_hits(&self) -> u64 {
        self.shared.discovery_hits.load(Ordering::SeqCst)
    }

    /// Requests served or refused on the key set endpoints.
    pub fn keys_hits(&self) -> u64 {
        self.shared.keys_hits.load(Ordering::SeqCst)
    }
}

fn fault(shared: &Shared) -> Fault {
    shared.fault.lock().unwrap().clone()
}

async fn apply_fault(shared: &Shared, keys_endpoint: bool) -> Option<Response> {
    match fault(shared) {
        Fault::None | Fault::Refuse => None,
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            None
        }
        Fault::Status(code) => Some(StatusCode::from_u16(code).unwrap().into_response()),
        Fault::KeysBody(body) if keys_endpoint => {
            Some(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
        Fault::KeysBody(_) => None,
        Fault::Body(body) => {
            Some(([(header::CONTENT_TYPE, "application/json")], body).into_response())
        }
    }
}

fn issuer_tid(shared: &Shared, tenant: &str) -> String {
    match tenant {
        "common" | "organizations" => "{tenantid}".to_owned(),
        _ => shared.tenant_id.clone(),
    }
}

async fn discovery_v2(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    shared.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = apply_fault(&shared, false).await {
        return r;
    }
    let tid = issuer_tid(&shared, &tenant);
    let base = &shared.base;
    let keys_tenant = if tid == "{tenantid}" {
        "common"
    } else {
        tenant.as_str()
    };
    axum::Json(json!({
        "issuer": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{keys_tenant}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn discovery_v1(State(shared): State<Arc<Shared>>, Path(tenant): Path<String>) -> Response {
    shared.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = apply_fault(&shared, false).await {
        return r;
    }
    let tid = issuer_tid(&shared, &tenant);
    let base = &shared.base;
    axum::Json(json!({
        "issuer": format!("https://sts.windows.net/{tid}/"),
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/token"),
        "jwks_uri": format!("{base}/common/discovery/keys"),
    }))
    .into_response()
}

async fn keys(State(shared): State<Arc<Shared>>) -> Response {
    shared.keys_hits.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = apply_fault(&shared, true).await {
        return r;
    }
    let keys = shared.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys })).into_response()
}

/// A listener that drops connections while the fault is `Refuse`.
struct FaultyListener {
    inner: TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for FaultyListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((socket, addr)) = self.inner.accept().await else {
                continue;
            };
            if fault(&self.shared) == Fault::Refuse {
                // Hang up without a byte.
                drop(socket);
                continue;
            }
            return (socket, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Serves `app` on 127.0.0.1:0 and returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    format!("http://{addr}")
}

/// A plain HTTP client for calling test servers.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The answer of a protected endpoint, for assertions.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub retry_after: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn is_invalid_token(&self) -> bool {
        self.status == 401
            && self
                .challenge
                .as_deref()
                .is_some_and(|c| c.starts_with("Bearer") && c.contains("error=\"invalid_token\""))
    }
}

/// GET `url` with `Authorization: Bearer {token}`.
pub async fn get_with_token(url: &str, token: &str) -> Answer {
    answer(
        client()
            .get(url)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let body = response.text().await.unwrap();
    Answer {
        status,
        challenge,
        retry_after,
        headers,
        body,
    }
}
