//! A misbehaving identity provider (security catalogue §2: "the IdP
//! emulator should be able to misbehave on request"): a proxy in front of
//! the emulator that serves its metadata with the token endpoint pointing at
//! itself, forwards token requests to the emulator, and hands back the
//! answer with the ID token replaced by a tampered one. The browser still
//! signs in on the emulator's real pages.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_emulator::Emulator;
use entra_emulator::admin::MintRequest;
use serde_json::{Map, Value, json};

use super::{ALICE, API, TENANT, WEB};

/// Turns the genuine ID token into the one the client receives.
pub type Mutation = Arc<dyn Fn(&Emulator, &str) -> String + Send + Sync>;

/// The ID token as the emulator issued it.
pub fn genuine() -> Mutation {
    Arc::new(|_, token| token.to_owned())
}

/// Entra's side of a federated identity credential, played by the proxy:
/// a token request whose client assertion is the expected one goes on to
/// the emulator with the app's secret instead; any other assertion is
/// refused as Entra does (AADSTS700211).
#[derive(Default)]
struct Federation {
    expected: Option<(String, String)>,
    seen: Vec<String>,
}

#[derive(Clone)]
struct Proxy {
    emulator: Arc<Emulator>,
    http: reqwest::Client,
    base: String,
    mutate: Arc<Mutex<Mutation>>,
    federation: Arc<Mutex<Federation>>,
}

/// A running tampering proxy; its base URL is the authority host to use.
pub struct TamperingIdp {
    pub base: String,
    mutate: Arc<Mutex<Mutation>>,
    federation: Arc<Mutex<Federation>>,
    task: tokio::task::JoinHandle<()>,
}

impl TamperingIdp {
    /// Tampers from now on with `mutation`.
    pub fn set(&self, mutation: Mutation) {
        *self.mutate.lock().unwrap() = mutation;
    }

    /// From now on accepts `assertion` as the client's federated credential,
    /// forwarding the request to the emulator with `secret` instead.
    pub fn accept_assertion(&self, assertion: &str, secret: &str) {
        self.federation.lock().unwrap().expected = Some((assertion.to_owned(), secret.to_owned()));
    }

    /// Every client assertion the client sent, in order.
    pub fn assertions(&self) -> Vec<String> {
        self.federation.lock().unwrap().seen.clone()
    }
}

impl Drop for TamperingIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start(emulator: Arc<Emulator>, mutation: Mutation) -> TamperingIdp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let mutate = Arc::new(Mutex::new(mutation));
    let federation = Arc::new(Mutex::new(Federation::default()));
    let state = Proxy {
        emulator,
        http: reqwest::Client::new(),
        base: base.clone(),
        mutate: mutate.clone(),
        federation: federation.clone(),
    };
    let app = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    TamperingIdp {
        base,
        mutate,
        federation,
        task,
    }
}

async fn discovery(State(proxy): State<Proxy>, Path(tenant): Path<String>) -> Response {
    let url = format!(
        "{}/{tenant}/v2.0/.well-known/openid-configuration",
        proxy.emulator.http_url()
    );
    let mut doc: Value = proxy
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    doc["token_endpoint"] = format!("{}/{tenant}/oauth2/v2.0/token", proxy.base).into();
    axum::Json(doc).into_response()
}

async fn token(
    State(proxy): State<Proxy>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let body = match form.iter().position(|(k, _)| k == "client_assertion") {
        None => body,
        Some(at) => {
            let assertion = form.remove(at).1;
            let mut federation = proxy.federation.lock().unwrap();
            federation.seen.push(assertion.clone());
            let typed = form.iter().any(|(k, v)| {
                k == "client_assertion_type"
                    && v == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            });
            match &federation.expected {
                Some((expected, secret)) if typed && *expected == assertion => {
                    form.retain(|(k, _)| k != "client_assertion_type");
                    form.push(("client_secret".into(), secret.clone()));
                    Bytes::from(
                        url::form_urlencoded::Serializer::new(String::new())
                            .extend_pairs(&form)
                            .finish(),
                    )
                }
                _ => {
                    return (
                        StatusCode::UNAUTHORIZED,
                        axum::Json(json!({
                            "error": "invalid_client",
                            "error_description": "AADSTS700211: No matching federated identity record found for presented assertion issuer.",
                            "error_codes": [700211],
                        })),
                    )
                        .into_response();
                }
            }
        }
    };
    let mut request = proxy
        .http
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            proxy.emulator.http_url()
        ))
        .body(body);
    for name in ["content-type", "authorization", "client-request-id"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.to_str().unwrap());
        }
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let mut body: Value = response.json().await.unwrap();
    if let Some(id_token) = body.get("id_token").and_then(Value::as_str) {
        let mutate = proxy.mutate.lock().unwrap().clone();
        let tampered = mutate(&proxy.emulator, id_token);
        body["id_token"] = tampered.into();
    }
    (status, axum::Json(body)).into_response()
}

// --- Tampered tokens -----------------------------------------------------------

pub fn decode(segment: &str) -> Map<String, Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// The ID token's claims changed by `change`, signed with the tenant's real
/// key (through the emulator's minting API): every check but the claims pass.
pub fn with_claims(
    emulator: &Emulator,
    id_token: &str,
    change: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let mut claims = decode(id_token.split('.').nth(1).unwrap());
    change(&mut claims);
    let mut request = MintRequest::delegated(TENANT, WEB, API, ALICE, Vec::<String>::new());
    request.claims = claims;
    emulator.mint_access_token(request).unwrap()
}

/// A mutation changing the claims.
pub fn claims(change: impl Fn(&mut Map<String, Value>) + Send + Sync + 'static) -> Mutation {
    Arc::new(move |emulator, token| with_claims(emulator, token, &change))
}

/// The same header and claims, signed by another key.
pub fn signed_by(key: &entra_auth::testing::TestKey, id_token: &str, kid: Option<&str>) -> String {
    let mut parts = id_token.split('.');
    let mut header = decode(parts.next().unwrap());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        parts.next().unwrap()
    );
    let signature = key.sign_rs256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The claims changed after signing (the signature no longer holds).
pub fn payload_swapped(id_token: &str) -> String {
    let mut parts = id_token.split('.');
    let header = parts.next().unwrap();
    let mut claims = decode(parts.next().unwrap());
    let signature = parts.next().unwrap();
    claims.insert("name".into(), "Mallory".into());
    format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string())
    )
}

/// `alg: none`, no signature.
pub fn unsigned(id_token: &str) -> String {
    let payload = id_token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    format!("{header}.{payload}.")
}

/// HS256 with `secret` as the key (the client secret: a classic confusion).
pub fn hs256(id_token: &str, secret: &[u8]) -> String {
    let payload = id_token.split('.').nth(1).unwrap();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let input = format!("{header}.{payload}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}
