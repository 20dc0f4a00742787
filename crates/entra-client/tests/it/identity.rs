//! Secretless credentials (issue 14): managed identity over the App Service
//! and IMDS protocols (selectors, retries with back-off), client assertions
//! from a callback, a rotating federated token file and a managed identity,
//! and the DefaultAzureCredential chain and its error. Every endpoint is a
//! real HTTP server on 127.0.0.1:0 speaking the real protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_client::{
    ClientAssertion, ClientCredential, DefaultAzureCredential, EnvironmentSettings, Error,
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, RetryPolicy,
};
use serde_json::json;

use crate::common::{TENANT, TestClock};

const APP: &str = "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182";
const API_DEFAULT: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default";
const OTHER_DEFAULT: &str = "https://vault.azure.net/.default";
const IDENTITY_HEADER: &str = "identity-header-secret-value";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A JWT-shaped assertion (unsigned: the in-test token endpoint compares it
/// whole) with `exp` and a marker.
fn jwt(marker: &str, exp: i64) -> String {
    let payload = URL_SAFE_NO_PAD.encode(json!({"exp": exp, "sub": marker}).to_string());
    format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2lnbmF0dXJl")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn query_of(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// A server on 127.0.0.1:0, stopped when dropped.
struct Server<S> {
    base: String,
    state: Arc<S>,
    task: tokio::task::JoinHandle<()>,
}

impl<S> Drop for Server<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S: Send + Sync + 'static>(state: Arc<S>, router: Router) -> Server<S> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server { base, state, task }
}

/// A loopback URL nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    base
}

// --- A managed identity endpoint ---------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    AppService,
    Imds,
}

/// One request the endpoint received.
#[derive(Debug, Clone)]
struct Seen {
    query: HashMap<String, String>,
    metadata: Option<String>,
    identity_header: Option<String>,
    forwarded: bool,
}

struct MiState {
    protocol: Protocol,
    /// Statuses answered before any success.
    script: Mutex<VecDeque<u16>>,
    seen: Mutex<Vec<Seen>>,
    issued: Mutex<Vec<(String, String)>>,
    lifetime: i64,
}

impl MiState {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn mi_endpoint(
    State(state): State<Arc<MiState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    };
    let query = query_of(&uri);
    state.seen.lock().unwrap().push(Seen {
        query: query.clone(),
        metadata: header("metadata"),
        identity_header: header("x-identity-header"),
        forwarded: headers.contains_key("x-forwarded-for"),
    });
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let imds_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            axum::Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let app_error = |status: StatusCode, message: &str| {
        (
            status,
            axum::Json(json!({"statusCode": status.as_u16(), "message": message, "correlationId": "c0ffee"})),
        )
            .into_response()
    };
    match state.protocol {
        Protocol::Imds => {
            if header("metadata").as_deref() != Some("true") {
                return imds_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Required metadata header not specified",
                );
            }
            if query.get("api-version").map(String::as_str) != Some("2018-02-01") {
                return imds_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Unsupported api-version",
                );
            }
        }
        Protocol::AppService => {
            if header("x-identity-header").as_deref() != Some(IDENTITY_HEADER) {
                return app_error(StatusCode::UNAUTHORIZED, "Invalid X-IDENTITY-HEADER");
            }
            if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
                return app_error(StatusCode::BAD_REQUEST, "Unsupported api-version");
            }
        }
    }
    let selectors = [
        "client_id",
        "object_id",
        "principal_id",
        "msi_res_id",
        "mi_res_id",
    ];
    if selectors
        .iter()
        .filter_map(|s| query.get(*s))
        .any(|v| v == "unknown")
    {
        return match state.protocol {
            Protocol::Imds => imds_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Identity not found",
            ),
            Protocol::AppService => app_error(
                StatusCode::BAD_REQUEST,
                "Unable to load the proper Managed Identity.",
            ),
        };
    }
    if let Some(status) = state.script.lock().unwrap().pop_front() {
        let status = StatusCode::from_u16(status).unwrap();
        return imds_error(status, "temporarily_unavailable", "try again");
    }
    let Some(resource) = query.get("resource").cloned() else {
        return imds_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };
    let n = state.issued.lock().unwrap().len();
    let token = jwt(&format!("mi-{n}"), now() + state.lifetime);
    state
        .issued
        .lock()
        .unwrap()
        .push((resource.clone(), token.clone()));
    let expires_on = (now() + state.lifetime).to_string();
    let body = match state.protocol {
        Protocol::Imds => json!({
            "access_token": token,
            "refresh_token": "",
            "expires_in": state.lifetime.to_string(),
            "expires_on": expires_on,
            "not_before": now().to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
        Protocol::AppService => json!({
            "access_token": token,
            "expires_on": expires_on,
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "5e29463d-71da-4fe0-8e69-999b57db23b0",
        }),
    };
    axum::Json(body).into_response()
}

async fn mi_server(protocol: Protocol, script: &[u16]) -> Server<MiState> {
    let state = Arc::new(MiState {
        protocol,
        script: Mutex::new(script.iter().copied().collect()),
        seen: Mutex::new(Vec::new()),
        issued: Mutex::new(Vec::new()),
        lifetime: 86_399,
    });
    let router = Router::new()
        .fallback(mi_endpoint)
        .with_state(state.clone());
    serve(state, router).await
}

impl Server<MiState> {
    fn source(&self) -> ManagedIdentitySource {
        match self.state.protocol {
            Protocol::AppService => ManagedIdentitySource::app_service(
                &format!("{}/msi/token", self.base),
                IDENTITY_HEADER,
            )
            .unwrap(),
            Protocol::Imds => ManagedIdentitySource::imds_at(&format!(
                "{}/metadata/identity/oauth2/token",
                self.base
            ))
            .unwrap(),
        }
    }

    fn credential(&self, id: ManagedIdentityId) -> ManagedIdentityCredential {
        ManagedIdentityCredential::builder()
            .source(self.source())
            .identity(id)
            .retry_policy(fast_retries())
            .build()
            .unwrap()
    }
}

/// Back-off in milliseconds, so that the tests are quick.
fn fast_retries() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(10))
        .max_delay(Duration::from_millis(40))
        .gone_for(Duration::from_millis(150))
}

// --- A token endpoint that checks client assertions ---------------------------

struct AuthorityState {
    base: Mutex<String>,
    /// Which assertions are accepted.
    accept: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// The form of every token request.
    forms: Mutex<Vec<HashMap<String, String>>>,
}

impl AuthorityState {
    fn assertions(&self) -> Vec<String> {
        self.forms
            .lock()
            .unwrap()
            .iter()
            .filter_map(|f| f.get("client_assertion").cloned())
            .collect()
    }
}

async fn authority(
    State(state): State<Arc<AuthorityState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let base = state.base.lock().unwrap().clone();
    let path = uri.path();
    if method == Method::GET && path == format!("/{TENANT}/v2.0/.well-known/openid-configuration") {
        return axum::Json(json!({
            "issuer": format!("https://login.microsoftonline.com/{TENANT}/v2.0"),
            "authorization_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("{base}/{TENANT}/oauth2/v2.0/token"),
            "jwks_uri": format!("{base}/{TENANT}/discovery/v2.0/keys"),
        }))
        .into_response();
    }
    if method != Method::POST || path != format!("/{TENANT}/oauth2/v2.0/token") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    state.forms.lock().unwrap().push(form.clone());
    let refuse = |code: u32, text: &str| {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({
                "error": "invalid_client",
                "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: t-1\r\nCorrelation ID: c-1"),
                "error_codes": [code],
                "trace_id": "t-1",
                "correlation_id": "c-1",
            })),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("client_id").map(String::as_str) != Some(APP)
    {
        return refuse(700_016, "Application not found in the directory.");
    }
    if form.contains_key("client_secret") {
        return refuse(7_000_215, "Invalid client secret provided.");
    }
    if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
        return refuse(7_000_218, "The request body must contain client_assertion.");
    }
    let assertion = form.get("client_assertion").cloned().unwrap_or_default();
    if !(state.accept)(&assertion) {
        return refuse(
            700_211,
            "No matching federated identity record found for presented assertion issuer.",
        );
    }
    let n = state.forms.lock().unwrap().len();
    axum::Json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": format!("app-token-{n}"),
    }))
    .into_response()
}

async fn authority_server(
    accept: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> Server<AuthorityState> {
    let state = Arc::new(AuthorityState {
        base: Mutex::new(String::new()),
        accept: Box::new(accept),
        forms: Mutex::new(Vec::new()),
    });
    let router = Router::new().fallback(authority).with_state(state.clone());
    let server = serve(state, router).await;
    *server.state.base.lock().unwrap() = server.base.clone();
    server
}

// --- Managed identity ---------------------------------------------------------

#[tokio::test]
async fn app_service_protocol_system_and_user_assigned() {
    let server = mi_server(Protocol::AppService, &[]).await;
    let system = server.credential(ManagedIdentityId::SystemAssigned);
    let token = system.get_token(&[API_DEFAULT]).await.unwrap();
    assert!(!token.from_cache());
    assert!(token.expires_on() > now() + 86_000);
    let again = system.get_token(&[API_DEFAULT]).await.unwrap();
    assert!(again.from_cache());
    assert_eq!(again.secret(), token.secret());
    let seen = server.state.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query["api-version"], "2019-08-01");
    assert_eq!(
        seen[0].query["resource"],
        "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
    );
    assert_eq!(seen[0].identity_header.as_deref(), Some(IDENTITY_HEADER));
    assert!(seen[0].metadata.is_none());
    for selector in ["client_id", "principal_id", "mi_res_id"] {
        assert!(!seen[0].query.contains_key(selector));
    }

    // Each user-assigned selector under the App Service protocol's name.
    for (id, name, value) in [
        (
            ManagedIdentityId::ClientId("c-1".into()),
            "client_id",
            "c-1",
        ),
        (
            ManagedIdentityId::ObjectId("o-1".into()),
            "principal_id",
            "o-1",
        ),
        (
            ManagedIdentityId::ResourceId("/subscriptions/s/rg/x".into()),
            "mi_res_id",
            "/subscriptions/s/rg/x",
        ),
    ] {
        let user = server.credential(id);
        let token = user.get_token(&[OTHER_DEFAULT]).await.unwrap();
        assert!(!token.from_cache());
        let last = server.state.requests().pop().unwrap();
        assert_eq!(last.query[name], value, "{name}");
        assert_eq!(last.query["resource"], "https://vault.azure.net");
    }

    // A wrong header is the endpoint's 401, not retried; an unknown
    // identity its 400.
    let wrong = ManagedIdentityCredential::builder()
        .source(
            ManagedIdentitySource::app_service(&format!("{}/msi/token", server.base), "wrong")
                .unwrap(),
        )
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let before = server.state.requests().len();
    match wrong.get_token(&[API_DEFAULT]).await {
        Err(Error::ManagedIdentity { status, reason, .. }) => {
            assert_eq!(status, 401);
            assert!(reason.contains("Invalid X-IDENTITY-HEADER"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.state.requests().len(), before + 1);
    let unknown = server.credential(ManagedIdentityId::ClientId("unknown".into()));
    match unknown.get_token(&[API_DEFAULT]).await {
        Err(Error::ManagedIdentity {
            status: 400,
            reason,
            ..
        }) => {
            assert!(
                reason.contains("Unable to load the proper Managed Identity"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // One resource at a time.
    assert!(matches!(
        system.get_token(&[API_DEFAULT, OTHER_DEFAULT]).await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn imds_protocol_with_string_numbers_and_each_selector() {
    let server = mi_server(Protocol::Imds, &[]).await;
    let clock = TestClock::default();
    let credential = ManagedIdentityCredential::builder()
        .source(server.source())
        .clock(clock.clock())
        .retry_policy(fast_retries())
        .build()
        .unwrap();
    let token = credential.get_token(&[API_DEFAULT]).await.unwrap();
    // expires_in ("86399", a string) counts from the client's clock.
    assert!((token.expires_on() - (now() + 86_399)).abs() <= 2);
    let seen = server.state.requests();
    assert_eq!(seen[0].metadata.as_deref(), Some("true"));
    assert_eq!(seen[0].query["api-version"], "2018-02-01");
    assert!(!seen[0].forwarded);
    assert!(
        credential
            .get_token(&[API_DEFAULT])
            .await
            .unwrap()
            .from_cache()
    );
    // Renewed once within the margin of its expiry.
    clock.advance(86_399 - 299);
    let renewed = credential.get_token(&[API_DEFAULT]).await.unwrap();
    assert!(!renewed.from_cache());
    assert_ne!(renewed.secret(), token.secret());
    assert_eq!(server.state.requests().len(), 2);

    for (id, name, value) in [
        (
            ManagedIdentityId::ClientId("c-2".into()),
            "client_id",
            "c-2",
        ),
        (
            ManagedIdentityId::ObjectId("o-2".into()),
            "object_id",
            "o-2",
        ),
        (
            ManagedIdentityId::ResourceId("/sub/r".into()),
            "msi_res_id",
            "/sub/r",
        ),
    ] {
        server
            .credential(id)
            .get_token(&[API_DEFAULT])
            .await
            .unwrap();
        assert_eq!(server.state.requests().pop().unwrap().query[name], value);
    }
}

#[tokio::test]
async fn imds_410_429_and_500_are_retried_with_back_off_then_succeed() {
    let server = mi_server(Protocol::Imds, &[410, 429, 500, 503]).await;
    let credential = ManagedIdentityCredential::builder()
        .source(server.source())
        .retry_policy(
            RetryPolicy::new()
                .max_retries(4)
                .initial_delay(Duration::from_millis(20))
                .max_delay(Duration::from_millis(200))
                .gone_for(Duration::ZERO),
        )
        .build()
        .unwrap();
    let started = Instant::now();
    let token = credential.get_token(&[API_DEFAULT]).await.unwrap();
    // Four failures, then the success; waits of 20, 40, 80 and 160 ms.
    assert_eq!(server.state.requests().len(), 5);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert!(!token.secret().is_empty());
}

#[tokio::test]
async fn imds_gives_up_after_its_retries_and_never_retries_a_400() {
    let server = mi_server(Protocol::Imds, &[500; 10]).await;
    let credential = ManagedIdentityCredential::builder()
        .source(server.source())
        .retry_policy(fast_retries().max_retries(2))
        .build()
        .unwrap();
    match credential.get_token(&[API_DEFAULT]).await {
        Err(Error::ManagedIdentity { status: 500, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.state.requests().len(), 3);

    let fresh = mi_server(Protocol::Imds, &[]).await;
    let unknown = fresh.credential(ManagedIdentityId::ClientId("unknown".into()));
    match unknown.get_token(&[API_DEFAULT]).await {
        Err(Error::ManagedIdentity {
            status: 400,
            reason,
            ..
        }) => {
            assert_eq!(reason, "invalid_request: Identity not found")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fresh.state.requests().len(), 1);
}

#[tokio::test]
async fn imds_410_is_retried_for_its_whole_window_whatever_the_retry_count() {
    let server = mi_server(Protocol::Imds, &[410; 100]).await;
    let credential = ManagedIdentityCredential::builder()
        .source(server.source())
        .retry_policy(
            RetryPolicy::new()
                .max_retries(0)
                .initial_delay(Duration::from_millis(10))
                .max_delay(Duration::from_millis(30))
                .gone_for(Duration::from_millis(200)),
        )
        .build()
        .unwrap();
    let started = Instant::now();
    match credential.get_token(&[API_DEFAULT]).await {
        Err(Error::ManagedIdentity { status: 410, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    // 10 + 20 + 30 + 30 ... ms: several attempts although max_retries is 0.
    assert!(
        server.state.requests().len() >= 5,
        "{}",
        server.state.requests().len()
    );
}

// --- Client assertions --------------------------------------------------------

#[tokio::test]
async fn a_callback_assertion_is_reused_until_it_nears_expiry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let made = Arc::new(Mutex::new(Vec::new()));
    let lifetime = Arc::new(AtomicUsize::new(3600));
    let authority = authority_server(|a| a.contains('.')).await;
    let assertion = ClientAssertion::from_callback({
        let (calls, seen, made, lifetime) =
            (calls.clone(), seen.clone(), made.clone(), lifetime.clone());
        move |request| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            seen.lock().unwrap().push(request);
            let exp = now() + lifetime.load(Ordering::SeqCst) as i64;
            let assertion = jwt(&format!("cb-{n}"), exp);
            made.lock().unwrap().push(assertion.clone());
            async move { Ok::<_, std::io::Error>(assertion) }
        }
    });
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .build_confidential(ClientCredential::assertion(assertion))
        .unwrap();
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    client
        .acquire_token_for_client(&[OTHER_DEFAULT])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1, "valid for an hour: reused");
    let forms = authority.state.forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 2);
    let made = made.lock().unwrap().clone();
    assert_eq!(made.len(), 1);
    for form in &forms {
        assert_eq!(form["client_assertion_type"], ASSERTION_TYPE);
        assert_eq!(form["client_assertion"], made[0]);
    }
    let request = seen.lock().unwrap()[0].clone();
    assert_eq!(request.client_id, APP);
    assert_eq!(
        request.token_endpoint,
        format!("{}/{TENANT}/oauth2/v2.0/token", authority.base)
    );

    // An assertion about to expire is fetched again for each request.
    lifetime.store(60, Ordering::SeqCst);
    let short = ClientAssertion::from_callback({
        let calls = calls.clone();
        let lifetime = lifetime.clone();
        move |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            let exp = now() + lifetime.load(Ordering::SeqCst) as i64;
            async move { Ok::<_, std::io::Error>(jwt("short", exp)) }
        }
    });
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .build_confidential(ClientCredential::assertion(short))
        .unwrap();
    calls.store(0, Ordering::SeqCst);
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    client
        .acquire_token_for_client(&[OTHER_DEFAULT])
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // A failing callback is a credential error, and nothing is sent.
    let failing = ClientAssertion::from_callback(|_| async {
        Err::<String, _>("the CI system is down".to_owned())
    });
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .build_confidential(ClientCredential::assertion(failing))
        .unwrap();
    let before = authority.state.forms.lock().unwrap().len();
    match client.acquire_token_for_client(&[API_DEFAULT]).await {
        Err(Error::Credential(reason)) => assert!(reason.contains("the CI system is down")),
        other => panic!("{other:?}"),
    }
    assert_eq!(authority.state.forms.lock().unwrap().len(), before);
}

#[tokio::test]
async fn a_rotated_federated_token_file_is_picked_up_without_a_restart() {
    let dir = std::env::temp_dir().join(format!(
        "entra-client-wi-{}",
        crate::common::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("azure-identity-token");
    let first = jwt("service-account-1", now() + 3600);
    let second = jwt("service-account-2", now() + 7200);
    std::fs::write(&file, format!("{first}\n")).unwrap();
    let accepted = Arc::new(Mutex::new(vec![first.clone()]));
    let authority = authority_server({
        let accepted = accepted.clone();
        move |a| accepted.lock().unwrap().iter().any(|x| x == a)
    })
    .await;
    let clock = TestClock::default();
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .clock(clock.clock())
        .build_confidential(ClientCredential::federated_token_file(&file))
        .unwrap();
    let token = client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    assert_eq!(authority.state.assertions(), std::slice::from_ref(&first));

    // The kubelet rotates the token: a new file renamed over the old one.
    let staged = dir.join(".token-staged");
    std::fs::write(&staged, &second).unwrap();
    std::fs::rename(&staged, &file).unwrap();
    accepted.lock().unwrap().push(second.clone());
    clock.advance(3600); // the app token is due for renewal
    let renewed = client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    assert_ne!(renewed.secret(), token.secret());
    assert_eq!(
        authority.state.assertions(),
        [first.clone(), second.clone()]
    );

    // Unchanged, the file's token is sent as it is; rewritten in place, it
    // is read again.
    clock.advance(3600);
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    let third = jwt("service-account-3-longer", now() + 9000);
    std::fs::write(&file, &third).unwrap();
    accepted.lock().unwrap().push(third.clone());
    clock.advance(3600);
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    assert_eq!(
        authority.state.assertions(),
        [first, second.clone(), second, third]
    );

    // A missing file is a credential error naming it, never a panic.
    std::fs::remove_file(&file).unwrap();
    clock.advance(3600);
    match client.acquire_token_for_client(&[API_DEFAULT]).await {
        Err(Error::Credential(reason)) => {
            assert!(reason.contains("azure-identity-token"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_managed_identity_is_the_federated_credential_of_an_app() {
    let mi = mi_server(Protocol::AppService, &[]).await;
    let issued = mi.state.clone();
    let authority = authority_server(move |a| {
        issued
            .issued
            .lock()
            .unwrap()
            .iter()
            .any(|(resource, token)| resource == "api://AzureADTokenExchange" && token == a)
    })
    .await;
    let credential = mi.credential(ManagedIdentityId::ClientId("c-3".into()));
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .build_confidential(ClientCredential::managed_identity(credential))
        .unwrap();
    let token = client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    assert!(token.secret().starts_with("app-token-"));
    client
        .acquire_token_for_client(&[OTHER_DEFAULT])
        .await
        .unwrap();
    // One managed identity token, used as the assertion twice.
    let seen = mi.state.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].query["resource"], "api://AzureADTokenExchange");
    assert_eq!(seen[0].query["client_id"], "c-3");
    let assertions = authority.state.assertions();
    assert_eq!(assertions.len(), 2);
    assert_eq!(assertions[0], mi.state.issued.lock().unwrap()[0].1);
}

// --- The chain ----------------------------------------------------------------

fn settings(vars: &[(&str, &str)]) -> EnvironmentSettings {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    EnvironmentSettings::from_lookup(|name| vars.get(name).cloned())
}

#[tokio::test]
async fn the_chains_error_lists_every_credential_and_why() {
    let nowhere = closed_port().await;
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &nowhere),
    ]))
    .retry_policy(fast_retries())
    .build();
    let error = chain.get_token(&[API_DEFAULT]).await.unwrap_err();
    let Error::CredentialChain(chain_error) = &error else {
        panic!("{error:?}")
    };
    let names: Vec<_> = chain_error
        .attempts
        .iter()
        .map(|a| a.credential.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "EnvironmentCredential",
            "WorkloadIdentityCredential",
            "ManagedIdentityCredential"
        ]
    );
    assert!(chain_error.attempts.iter().all(|a| a.unavailable));
    let message = error.to_string();
    assert!(message.starts_with(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n\tEnvironmentCredential: EnvironmentCredential authentication unavailable."
    ), "{message}");
    assert!(message.contains("AZURE_CLIENT_ID unset"), "{message}");
    assert!(
        message.contains("AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE unset"),
        "{message}"
    );
    assert!(message.contains("\n\tManagedIdentityCredential: ManagedIdentityCredential authentication unavailable. no managed identity endpoint answered at"), "{message}");
    assert_eq!(chain.selected(), None);

    // IMDS answering 400 (no such identity) is unavailable too.
    let imds = mi_server(Protocol::Imds, &[]).await;
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_CLIENT_ID", "unknown"),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.base),
    ]))
    .build();
    let message = chain
        .get_token(&[API_DEFAULT])
        .await
        .unwrap_err()
        .to_string();
    assert!(message.contains("not the requested user-assigned identity (HTTP 400: invalid_request: Identity not found)"), "{message}");
}

#[tokio::test]
async fn a_configured_credential_that_fails_ends_the_chain() {
    let authority = authority_server(|_| true).await;
    let imds = mi_server(Protocol::Imds, &[]).await;
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_CLIENT_SECRET", "a-wrong-secret-value"),
        ("AZURE_AUTHORITY_HOST", &authority.base),
        ("AZURE_POD_IDENTITY_AUTHORITY_HOST", &imds.base),
    ]))
    .build();
    let error = chain.get_token(&[API_DEFAULT]).await.unwrap_err();
    let Error::CredentialChain(chain_error) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(chain_error.attempts.len(), 1);
    assert!(!chain_error.attempts[0].unavailable);
    let message = error.to_string();
    assert!(
        message.contains(
            "EnvironmentCredential authentication failed: invalid_client (AADSTS7000215)"
        ),
        "{message}"
    );
    assert!(!message.contains("a-wrong-secret-value"));
    assert!(imds.state.requests().is_empty(), "the chain stopped");
}

#[tokio::test]
async fn workload_identity_in_the_chain_then_always_the_same_credential() {
    let dir = std::env::temp_dir().join(format!(
        "entra-client-chain-{}",
        crate::common::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    let assertion = jwt("sa", now() + 3600);
    std::fs::write(&file, &assertion).unwrap();
    let authority = authority_server({
        let assertion = assertion.clone();
        move |a| a == assertion
    })
    .await;
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_FEDERATED_TOKEN_FILE", file.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", &authority.base),
    ]))
    .build();
    let token = chain.get_token(&[API_DEFAULT]).await.unwrap();
    assert!(token.secret().starts_with("app-token-"));
    assert_eq!(chain.selected(), Some("WorkloadIdentityCredential"));
    assert!(chain.get_token(&[API_DEFAULT]).await.unwrap().from_cache());
    assert_eq!(authority.state.assertions(), [assertion]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_chain_falls_through_to_the_managed_identity() {
    let server = mi_server(Protocol::AppService, &[]).await;
    let endpoint = format!("{}/msi/token", server.base);
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_CLIENT_ID", "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"),
        ("IDENTITY_ENDPOINT", &endpoint),
        ("IDENTITY_HEADER", IDENTITY_HEADER),
    ]))
    .build();
    let token = chain.get_token(&[API_DEFAULT]).await.unwrap();
    assert_eq!(chain.selected(), Some("ManagedIdentityCredential"));
    assert!(chain.get_token(&[API_DEFAULT]).await.unwrap().from_cache());
    assert_eq!(server.state.requests().len(), 1);
    // AZURE_CLIENT_ID names the user-assigned identity, as in azure-identity.
    assert_eq!(
        server.state.requests()[0].query["client_id"],
        "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d"
    );
    assert!(!format!("{token:?}").contains(token.secret()));
}

#[tokio::test]
async fn no_secret_or_assertion_in_debug_output() {
    let header = "debug-identity-header-value";
    let source =
        ManagedIdentitySource::app_service("http://127.0.0.1:1/msi/token", header).unwrap();
    let mi = ManagedIdentityCredential::builder()
        .source(source.clone())
        .build()
        .unwrap();
    let file = ClientCredential::federated_token_file(
        "/var/run/secrets/azure/tokens/azure-identity-token",
    );
    let callback = ClientCredential::assertion(ClientAssertion::from_callback(|_| async {
        Ok::<_, std::io::Error>("callback-assertion-value".to_owned())
    }));
    let federated = ClientCredential::managed_identity(mi.clone());
    let environment = settings(&[
        ("AZURE_CLIENT_SECRET", "environment-secret-value"),
        ("IDENTITY_HEADER", header),
        ("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token"),
    ]);
    let chain = DefaultAzureCredential::builder(environment.clone()).build();
    let outputs = [
        format!("{source:?}"),
        format!("{mi:?}"),
        format!("{file:?}"),
        format!("{callback:?}"),
        format!("{federated:?}"),
        format!("{environment:?}"),
        format!("{chain:?}"),
    ];
    for output in &outputs {
        for secret in [
            header,
            "callback-assertion-value",
            "environment-secret-value",
        ] {
            assert!(!output.contains(secret), "{output}");
        }
    }
    assert!(
        outputs[2].contains("azure-identity-token"),
        "the path is not a secret"
    );
    assert!(outputs[1].contains("App Service"));
}

/// Kubernetes' atomic writer: the file is a symlink through `..data`, a
/// symlink to a timestamped directory that is swapped on rotation.
#[cfg(unix)]
#[tokio::test]
async fn a_token_rotated_by_swapping_the_kubelets_symlink_is_picked_up() {
    use std::os::unix::fs::symlink;

    let dir = std::env::temp_dir().join(format!(
        "entra-client-k8s-{}",
        crate::common::unique_suffix()
    ));
    std::fs::create_dir_all(dir.join("..2026_01_01_00_00_00.1")).unwrap();
    std::fs::create_dir_all(dir.join("..2026_01_01_00_48_00.2")).unwrap();
    // Same length, and possibly the same modification time: only the
    // target changes.
    let first = jwt("k8s-token-1", now() + 3600);
    let second = jwt("k8s-token-2", now() + 3600);
    assert_eq!(first.len(), second.len());
    std::fs::write(
        dir.join("..2026_01_01_00_00_00.1/azure-identity-token"),
        &first,
    )
    .unwrap();
    std::fs::write(
        dir.join("..2026_01_01_00_48_00.2/azure-identity-token"),
        &second,
    )
    .unwrap();
    symlink("..2026_01_01_00_00_00.1", dir.join("..data")).unwrap();
    symlink(
        "..data/azure-identity-token",
        dir.join("azure-identity-token"),
    )
    .unwrap();

    let authority = authority_server(|_| true).await;
    let clock = TestClock::default();
    let client = entra_client::Client::builder(TENANT, APP)
        .authority_host(authority.base.clone())
        .clock(clock.clock())
        .build_confidential(ClientCredential::federated_token_file(
            dir.join("azure-identity-token"),
        ))
        .unwrap();
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    symlink("..2026_01_01_00_48_00.2", dir.join("..data_tmp")).unwrap();
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
    clock.advance(3600);
    client
        .acquire_token_for_client(&[API_DEFAULT])
        .await
        .unwrap();
    assert_eq!(authority.state.assertions(), [first, second]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_chains_environment_step_takes_a_certificate_file() {
    let (key_pem, cert_pem) = crate::client_credentials::new_certificate();
    let dir = std::env::temp_dir().join(format!(
        "entra-client-cert-{}",
        crate::common::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("app.pem");
    std::fs::write(&pem, format!("{key_pem}{cert_pem}")).unwrap();
    let thumbprint = entra_client::Certificate::from_pem(&key_pem, &cert_pem)
        .unwrap()
        .thumbprint_sha256()
        .to_owned();
    let authority = authority_server(|_| true).await;
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()),
        ("AZURE_AUTHORITY_HOST", &authority.base),
    ]))
    .build();
    chain.get_token(&[API_DEFAULT]).await.unwrap();
    assert_eq!(chain.selected(), Some("EnvironmentCredential"));
    let assertion = authority.state.assertions().pop().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(assertion.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["x5t#S256"], thumbprint.as_str());

    // An unreadable certificate file is the step's failure, and ends the chain.
    std::fs::remove_file(&pem).unwrap();
    let chain = DefaultAzureCredential::builder(settings(&[
        ("AZURE_TENANT_ID", TENANT),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()),
    ]))
    .build();
    let message = chain
        .get_token(&[API_DEFAULT])
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("EnvironmentCredential authentication failed: invalid configuration: cannot read AZURE_CLIENT_CERTIFICATE_PATH"),
        "{message}"
    );
    assert!(!message.contains("WorkloadIdentityCredential"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn concurrent_requests_for_a_managed_identity_token_make_one_call() {
    let server = mi_server(Protocol::Imds, &[]).await;
    let credential = server.credential(ManagedIdentityId::SystemAssigned);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let credential = credential.clone();
            tokio::spawn(async move { credential.get_token(&[API_DEFAULT]).await })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for task in tasks {
        secrets.insert(task.await.unwrap().unwrap().secret().to_owned());
    }
    assert_eq!(secrets.len(), 1);
    assert_eq!(server.state.requests().len(), 1);
}
