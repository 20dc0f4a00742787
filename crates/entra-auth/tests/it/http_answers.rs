#![allow(clippy::unwrap_used, clippy::expect_used)]
//! HTTP answers of protected routes, over real HTTP against real axum servers
//! on 127.0.0.1:0: status codes, `WWW-Authenticate`, `Retry-After` and
//! problem-details bodies (security catalogue §0 and §1A, design §4).

use std::convert::Infallible;
use std::time::{Duration, Instant, UNIX_EPOCH};

use crate::common::{Answer, Fault, MockAuthority, answer, client, get_with_token, serve};
use axum::body::Body;
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{AuthConfig, Principal, Require, TokenSource, TokenVersion, Validator};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::{Layer, ServiceExt};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const INSUFFICIENT: &str = "Bearer error=\"insufficient_scope\"";

/// An authority and a validator whose keys are loaded from it.
async fn setup() -> (MockAuthority, Validator) {
    let authority = MockAuthority::start().await;
    let auth = authority.ready_validator(authority.config()).await;
    (authority, auth)
}

/// Serves `/r`, guarded by `requirement`, answering the caller's key.
async fn guarded(auth: &Validator, requirement: Require) -> String {
    let app = Router::new().route(
        "/r",
        get(|p: Principal| async move { p.key() }).layer(auth.require(requirement)),
    );
    format!("{}/r", serve(app).await)
}

/// Serves `/r`, authenticated only, answering the caller's key.
async fn authenticated(auth: &Validator) -> String {
    let app = Router::new().route(
        "/r",
        get(|p: Principal| async move { p.key() }).layer(auth.layer()),
    );
    format!("{}/r", serve(app).await)
}

/// GET `url` with these raw headers (appended, so a name may repeat).
async fn get_with_headers(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        map.append(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
    }
    answer(client().get(url).headers(map).send().await.unwrap()).await
}

async fn get_without_token(url: &str) -> Answer {
    answer(client().get(url).send().await.unwrap()).await
}

/// The rejection is an RFC 9457 problem: `application/problem+json`, a JSON
/// object whose `status` is the HTTP status, and nothing of `secrets` (the
/// token, or parts of it) in the body or the challenge.
fn assert_problem(a: &Answer, secrets: &[&str]) -> Value {
    assert_eq!(
        a.headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .as_deref(),
        Some("application/problem+json"),
        "{a:?}"
    );
    let body: Value = serde_json::from_str(&a.body)
        .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {:?}", a.body));
    assert!(body.is_object(), "{body}");
    assert_eq!(body["status"], json!(a.status), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(body["detail"].is_string(), "{body}");
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        assert!(!a.body.contains(secret), "the body echoes {secret:?}");
        if let Some(challenge) = &a.challenge {
            assert!(
                !challenge.contains(secret),
                "the challenge echoes {secret:?}"
            );
        }
    }
    body
}

/// The token and each of its segments: none may be echoed.
fn parts_of(token: &str) -> Vec<&str> {
    let mut parts = vec![token];
    parts.extend(token.split('.').filter(|s| !s.is_empty()));
    parts
}

fn assert_invalid_token(a: &Answer, token: &str) {
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.is_invalid_token(), "{a:?}");
    assert_problem(a, &parts_of(token));
}

fn assert_bare_401(a: &Answer) {
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.challenge.as_deref(), Some("Bearer"), "{a:?}");
    assert_problem(a, &[]);
}

fn assert_invalid_request(a: &Answer, token: &str) {
    assert_eq!(a.status, 400, "{a:?}");
    assert_eq!(
        a.challenge.as_deref(),
        Some("Bearer error=\"invalid_request\""),
        "{a:?}"
    );
    assert_problem(a, &parts_of(token));
}

/// 403 with exactly this `scope` in the challenge.
fn assert_forbidden(a: &Answer, scope: &str, token: &str) {
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(
        a.challenge.as_deref(),
        Some(format!("{INSUFFICIENT}, scope=\"{scope}\"").as_str()),
        "{a:?}"
    );
    assert_problem(a, &parts_of(token));
}

/// 403 for a requirement with no delegated scope (app roles, application
/// permissions): they are not scopes, so the challenge has no `scope` and
/// names them in `error_description`; the body names what the token lacks.
fn assert_forbidden_without_scope(a: &Answer, required: &str, token: &str) {
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(
        a.challenge.as_deref(),
        Some(format!("{INSUFFICIENT}, error_description=\"requires {required}\"").as_str()),
        "{a:?}"
    );
    let body = assert_problem(a, &parts_of(token));
    assert_eq!(body["required"], required, "{body}");
    assert_eq!(body["missing"], required, "{body}");
}

fn assert_ok(a: &Answer) {
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.challenge.is_none(), "{a:?}");
}

/// A raw HTTP/1.1 exchange: writes `request` while reading the answer, and
/// returns the status code (if one came back) and the raw answer.
async fn raw_exchange(addr: &str, request: Vec<u8>) -> (Option<u16>, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        // The server may answer and hang up before it has read everything.
        let _ = writer.write_all(&request).await;
        let _ = writer.flush().await;
        writer
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                // Connection: close is asked for; but stop once a complete
                // head and a small body are there.
                if out.len() > 64 * 1024 {
                    break;
                }
            }
        }
    }
    let _ = write.await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, text)
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned()
}

/// A validly signed delegated token padded with a claim of `size` bytes.
fn padded_token(issuer: &TestIssuer, size: usize) -> String {
    issuer
        .delegated(["Heroes.Read"])
        .claim("padding", "A".repeat(size))
        .sign()
}

// ---------------------------------------------------------------------------
// 1. Security catalogue §1 part A
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_01_no_authorization_header() {
    let (_authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let a = get_without_token(&url).await;
    assert_bare_401(&a);
    // Also with unrelated headers, and on an authenticate-only route.
    let a = get_with_headers(&url, &[("x-authorization", "Bearer abc.def.ghi")]).await;
    assert_bare_401(&a);
    let url = authenticated(&auth).await;
    assert_bare_401(&get_without_token(&url).await);
}

#[tokio::test]
async fn case_02_other_scheme_gets_a_bare_challenge() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for value in [
        "Basic dXNlcjpwYXNz".to_owned(),
        "Negotiate YIIBhwYGKwYBBQUCoII".to_owned(),
        "Digest username=\"a\"".to_owned(),
        // A valid token under another scheme is still no bearer credential.
        format!("Token {token}"),
        format!("Bearerx {token}"),
    ] {
        let a = get_with_headers(&url, &[("authorization", &value)]).await;
        assert_eq!(a.status, 401, "{value}: {a:?}");
        assert_eq!(a.challenge.as_deref(), Some("Bearer"), "{value}: {a:?}");
        assert_problem(&a, &parts_of(&token));
    }
}

#[tokio::test]
async fn case_03_scheme_is_case_insensitive() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for scheme in ["bearer", "BEARER", "bEaReR", "Bearer"] {
        let value = format!("{scheme} {token}");
        let a = get_with_headers(&url, &[("authorization", &value)]).await;
        assert_ok(&a);
        assert!(a.body.contains(authority.issuer.tenant_id()), "{a:?}");
    }
}

#[tokio::test]
async fn case_04_empty_or_malformed_bearer_token() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for value in [
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer      ".to_owned(),
        format!("Bearer \"{token}\""),
        format!("Bearer '{token}'"),
        format!("Bearer {token},x"),
        format!("Bearer {token} extra"),
        format!("Bearer {token};"),
        format!("Bearer <{token}>"),
        format!("Bearer {token}%3D"),
        format!("Bearer ={token}"),
        "Bearer ===".to_owned(),
        "Bearer a:b".to_owned(),
        "Bearer a\\b".to_owned(),
    ] {
        let a = get_with_headers(&url, &[("authorization", &value)]).await;
        assert_eq!(a.status, 401, "{value}: {a:?}");
        assert!(a.is_invalid_token(), "{value}: {a:?}");
        assert_problem(&a, &parts_of(&token));
    }
}

#[tokio::test]
async fn case_05_token_in_header_and_query_is_invalid_request() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for query in [
        format!("?access_token={token}"),
        format!("?a=1&access_token={token}"),
        "?access_token=".to_owned(),
        "?access_token".to_owned(),
    ] {
        let a = get_with_token(&format!("{url}{query}"), &token).await;
        assert_invalid_request(&a, &token);
    }
    // A parameter that only resembles it is not the token.
    let a = get_with_token(&format!("{url}?x_access_token=1&access_tokens=2"), &token).await;
    assert_ok(&a);
}

#[tokio::test]
async fn case_05_percent_encoded_access_token_parameter_is_invalid_request() {
    // `access%5Ftoken` and `%61ccess_token` are the parameter `access_token`
    // once the query is decoded (RFC 3986 §2.3 and §6.2.2.2; any
    // form-urlencoded parser, axum's `Query` included): the token is then sent
    // by two methods, as in case 5.
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for query in [
        format!("?access%5Ftoken={token}"),
        format!("?access%5ftoken={token}"),
        format!("?%61ccess_token={token}"),
    ] {
        let a = get_with_token(&format!("{url}{query}"), &token).await;
        assert_invalid_request(&a, &token);
    }
}

#[tokio::test]
async fn case_05_two_access_token_parameters_are_invalid_request() {
    // Catalogue §1A case 5: "or two `access_token` params" → 400 invalid_request
    // (RFC 6750 §3.1: the request "repeats the same parameter").
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    let a = get_without_token(&format!("{url}?access_token={token}&access_token={token}")).await;
    assert_invalid_request(&a, &token);
}

#[tokio::test]
async fn case_05_form_body_tokens_never_authenticate() {
    // Catalogue §1A case 5 asks for 400 when a token arrives in the header and a
    // form body. The layer never reads request bodies (RFC 6750 §2.2 is not
    // supported), so a body `access_token` cannot authenticate anything and
    // cannot shadow the header: the header's token alone decides, and the body
    // reaches the handler untouched.
    let (authority, auth) = setup().await;
    let app = Router::new().route(
        "/r",
        axum::routing::post(
            |p: Principal, body: String| async move { format!("{}|{body}", p.key()) },
        )
        .layer(auth.require(Require::scope("Heroes.Read"))),
    );
    let url = format!("{}/r", serve(app).await);
    let header_token = authority.issuer.delegated(["Heroes.Read"]).sign();
    let other = TestKey::generate("attacker");
    let body_token = authority
        .issuer
        .delegated(["Heroes.Read"])
        .sign_with(&other);
    let post = |auth_header: Option<String>| {
        let mut request = client()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("access_token={body_token}"));
        if let Some(value) = auth_header {
            request = request.header("authorization", value);
        }
        request.send()
    };
    let a = answer(post(Some(format!("Bearer {header_token}"))).await.unwrap()).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body.ends_with(&format!("|access_token={body_token}")),
        "{a:?}"
    );
    // Only a body token: no credentials at all.
    let a = answer(post(None).await.unwrap()).await;
    assert_bare_401(&a);
}

#[tokio::test]
async fn case_06_token_only_in_the_query_is_no_credentials() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    let a = get_without_token(&format!("{url}?access_token={token}")).await;
    assert_bare_401(&a);
    assert_problem(&a, &parts_of(&token));
    let a = get_without_token(&format!("{url}?a=b&access_token={token}&c=d")).await;
    assert_bare_401(&a);
}

#[tokio::test]
async fn case_07_two_authorization_headers_are_invalid_request() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    let bearer = format!("Bearer {token}");

    // reqwest, with the header appended twice.
    let a = get_with_headers(
        &url,
        &[("authorization", &bearer), ("authorization", &bearer)],
    )
    .await;
    assert_invalid_request(&a, &token);
    let a = get_with_headers(
        &url,
        &[
            ("authorization", "Basic dXNlcjpwYXNz"),
            ("authorization", &bearer),
        ],
    )
    .await;
    assert_invalid_request(&a, &token);

    // And on the wire, byte for byte.
    let request = format!(
        "GET /r HTTP/1.1\r\nHost: localhost\r\nAuthorization: {bearer}\r\nAuthorization: {bearer}\r\nConnection: close\r\n\r\n"
    );
    let (status, text) = raw_exchange(&host_port(&url), request.into_bytes()).await;
    assert_eq!(status, Some(400), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("www-authenticate: bearer error=\"invalid_request\""),
        "{text}"
    );
}

#[tokio::test]
async fn case_08_oversized_authorization_header() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let addr = host_port(&url);

    // 64 KiB: a validly signed token, too large for the library's limit.
    let token = padded_token(&authority.issuer, 64 * 1024);
    let a = get_with_token(&url, &token).await;
    assert_eq!(a.status, 431, "{:?}", a.status);
    assert_problem(&a, &parts_of(&token));

    // 64 KiB of garbage.
    let garbage = "A".repeat(64 * 1024);
    let a = get_with_token(&url, &garbage).await;
    assert_eq!(a.status, 431, "{:?}", a.status);
    assert_problem(&a, &[&garbage]);

    // Just over the default limit (16 KiB) is also refused; well under passes.
    let a = get_with_token(&url, &padded_token(&authority.issuer, 17 * 1024)).await;
    assert_eq!(a.status, 431, "{:?}", a.status);
    let a = get_with_token(&url, &padded_token(&authority.issuer, 4 * 1024)).await;
    assert_ok(&a);

    // 64 KiB and 1 MiB on the raw socket: 431 (or hyper's 400), never 5xx or 200.
    for size in [64 * 1024, 1024 * 1024] {
        let token = padded_token(&authority.issuer, size);
        let request = format!(
            "GET /r HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        let (status, text) = raw_exchange(&addr, request.into_bytes()).await;
        let head: String = text.chars().take(300).collect();
        assert!(
            matches!(status, Some(431 | 400)),
            "{size} bytes: status {status:?}: {head}"
        );
        assert!(!text.contains(&token[..64]), "the token was echoed");
    }

    // The server still answers afterwards.
    let a = get_with_token(&url, &authority.issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_ok(&a);
}

// ---------------------------------------------------------------------------
// 2. Requirements
// ---------------------------------------------------------------------------

#[tokio::test]
async fn require_scope() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.delegated(["A", "Heroes.Read", "B"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).v1().sign()).await);
    let wrong = issuer.delegated(["Heroes.Write"]).sign();
    assert_forbidden(&get_with_token(&url, &wrong).await, "Heroes.Read", &wrong);
    let none = issuer.delegated(Vec::<String>::new()).sign();
    assert_forbidden(&get_with_token(&url, &none).await, "Heroes.Read", &none);
}

#[tokio::test]
async fn require_all_scopes() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::all_scopes(["Heroes.Read", "Heroes.Write"])).await;
    assert_ok(
        &get_with_token(
            &url,
            &issuer.delegated(["Heroes.Write", "Heroes.Read"]).sign(),
        )
        .await,
    );
    for scopes in [vec!["Heroes.Read"], vec!["Heroes.Write"], vec![]] {
        let t = issuer.delegated(scopes).sign();
        assert_forbidden(
            &get_with_token(&url, &t).await,
            "Heroes.Read Heroes.Write",
            &t,
        );
    }
}

#[tokio::test]
async fn require_any_scope() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::any_scope(["Heroes.Read", "Heroes.Write"])).await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Write"]).sign()).await);
    let t = issuer.delegated(["Heroes.Admin"]).sign();
    assert_forbidden(
        &get_with_token(&url, &t).await,
        "Heroes.Read Heroes.Write",
        &t,
    );
}

#[tokio::test]
async fn require_app_permission() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::app_permission("Heroes.Read")).await;
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.Read"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.Read"]).v1().sign()).await);
    let t = issuer.app_only(["Heroes.Write"]).sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app permission Heroes.Read",
        &t,
    );
    // A delegated token with the scope of the same name is not an app permission.
    let t = issuer.delegated(["Heroes.Read"]).sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app permission Heroes.Read",
        &t,
    );
}

#[tokio::test]
async fn require_any_app_permission() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(
        &auth,
        Require::any_app_permission(["Heroes.Read.All", "Heroes.ReadWrite.All"]),
    )
    .await;
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.ReadWrite.All"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.app_only(["X", "Heroes.Read.All"]).sign()).await);
    let t = issuer.app_only(["Heroes.Write.All"]).sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app permissions Heroes.Read.All or Heroes.ReadWrite.All",
        &t,
    );
}

#[tokio::test]
async fn require_role() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::role("Admin")).await;
    assert_ok(
        &get_with_token(
            &url,
            &issuer.delegated(["Heroes.Read"]).roles(["Admin"]).sign(),
        )
        .await,
    );
    let t = issuer.delegated(["Heroes.Read"]).roles(["Reader"]).sign();
    assert_forbidden_without_scope(&get_with_token(&url, &t).await, "app role Admin", &t);
    let t = issuer.delegated(["Admin"]).sign();
    assert_forbidden_without_scope(&get_with_token(&url, &t).await, "app role Admin", &t);
}

#[tokio::test]
async fn require_any_role() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::any_role(["Admin", "Editor"])).await;
    assert_ok(
        &get_with_token(
            &url,
            &issuer.delegated(["Heroes.Read"]).roles(["Editor"]).sign(),
        )
        .await,
    );
    let t = issuer
        .delegated(["Heroes.Read"])
        .roles(["Reader", "admin"])
        .sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app roles Admin or Editor",
        &t,
    );
}

#[tokio::test]
async fn require_scope_or_app_permission() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope_or_app_permission("Heroes.Read")).await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.Read"]).sign()).await);
    for t in [
        issuer.delegated(["Heroes.Write"]).sign(),
        issuer.app_only(["Heroes.Write"]).sign(),
        // A user's app role of the same name is neither.
        issuer.delegated(["Other"]).roles(["Heroes.Read"]).sign(),
    ] {
        assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read", &t);
    }
}

#[tokio::test]
async fn require_client_app() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::client_app(issuer.caller_id())).await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).sign()).await);
    // v1: appid.
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.Read"]).v1().sign()).await);
    let other = random_guid();
    for t in [
        issuer
            .delegated(["Heroes.Read"])
            .claim("azp", other.as_str())
            .sign(),
        issuer
            .app_only(["Heroes.Read"])
            .v1()
            .claim("appid", other.as_str())
            .sign(),
    ] {
        let a = get_with_token(&url, &t).await;
        assert_eq!(a.status, 403, "{a:?}");
        assert!(
            a.challenge
                .as_deref()
                .is_some_and(|c| c.starts_with(INSUFFICIENT)),
            "{a:?}"
        );
        assert_problem(&a, &parts_of(&t));
    }
}

#[tokio::test]
async fn require_and() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(
        &auth,
        Require::scope("Heroes.Write").and(Require::client_app(issuer.caller_id())),
    )
    .await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Write"]).sign()).await);
    for t in [
        issuer.delegated(["Heroes.Read"]).sign(),
        issuer
            .delegated(["Heroes.Write"])
            .claim("azp", random_guid())
            .sign(),
    ] {
        assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Write", &t);
    }

    let url = guarded(
        &auth,
        Require::scope("Heroes.Read").and(Require::role("Admin")),
    )
    .await;
    assert_ok(
        &get_with_token(
            &url,
            &issuer.delegated(["Heroes.Read"]).roles(["Admin"]).sign(),
        )
        .await,
    );
    let t = issuer.delegated(["Heroes.Read"]).sign();
    let a = get_with_token(&url, &t).await;
    // Only the delegated scope is a `scope`; the body names the role lacking.
    assert_forbidden(&a, "Heroes.Read", &t);
    let body: Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["missing"], "app role Admin", "{body}");
    assert_eq!(
        body["required"], "scope Heroes.Read and app role Admin",
        "{body}"
    );
    assert_eq!(
        body["detail"],
        "the token lacks app role Admin (the route requires scope Heroes.Read and app role Admin)"
    );
}

#[tokio::test]
async fn require_or() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(
        &auth,
        Require::scope("Heroes.Admin").or(Require::app_permission("Heroes.Manage.All")),
    )
    .await;
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Admin"]).sign()).await);
    assert_ok(&get_with_token(&url, &issuer.app_only(["Heroes.Manage.All"]).sign()).await);
    for t in [
        issuer.delegated(["Heroes.Manage.All"]).sign(),
        issuer.app_only(["Heroes.Admin"]).sign(),
    ] {
        assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Admin", &t);
    }
}

#[tokio::test]
async fn require_scope_is_exact_and_case_sensitive() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    for scopes in [
        "heroes.read",
        "HEROES.READ",
        "Heroes.read",
        "Heroes.Read.All",
        "Heroes.Rea",
        "Heroes",
        "Heroes.ReadWrite",
        "Heroes.Read,Heroes.Write",
        "xHeroes.Read",
    ] {
        let t = issuer.delegated([scopes]).sign();
        assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read", &t);
    }
    // The other way round: holding a prefix of the required scope is not enough.
    let url = guarded(&auth, Require::scope("Heroes.Read.All")).await;
    let t = issuer.delegated(["Heroes.Read"]).sign();
    assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read.All", &t);
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read.All"]).sign()).await);
}

#[tokio::test]
async fn require_scope_is_not_met_by_an_app_permission() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let t = authority.issuer.app_only(["Heroes.Read"]).sign();
    assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read", &t);
    // Same without idtyp (app-only by Microsoft's rule: no scp, oid == sub).
    let t = authority
        .issuer
        .app_only(["Heroes.Read"])
        .without("idtyp")
        .sign();
    assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read", &t);
}

#[tokio::test]
async fn require_app_permission_is_not_met_by_a_user_role() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::app_permission("Heroes.Read")).await;
    let t = authority
        .issuer
        .delegated(["User.Read"])
        .roles(["Heroes.Read"])
        .sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app permission Heroes.Read",
        &t,
    );
    let t = authority
        .issuer
        .delegated(["User.Read"])
        .roles(["Heroes.Read"])
        .claim("idtyp", "user")
        .sign();
    assert_forbidden_without_scope(
        &get_with_token(&url, &t).await,
        "app permission Heroes.Read",
        &t,
    );
}

#[tokio::test]
async fn require_role_is_not_met_by_an_app_permission() {
    let (authority, auth) = setup().await;
    let url = guarded(&auth, Require::role("Admin")).await;
    let t = authority.issuer.app_only(["Admin"]).sign();
    assert_forbidden_without_scope(&get_with_token(&url, &t).await, "app role Admin", &t);
    let t = authority.issuer.app_only(["Admin"]).without("idtyp").sign();
    assert_forbidden_without_scope(&get_with_token(&url, &t).await, "app role Admin", &t);
}

// ---------------------------------------------------------------------------
// 3. Forged tokens: 401, never 403
// ---------------------------------------------------------------------------

#[tokio::test]
async fn forged_token_with_the_wrong_scope_is_401() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let attacker = TestKey::generate(issuer.key().kid());
    for t in [
        issuer.delegated(["Heroes.Write"]).sign_with(&attacker),
        issuer.delegated(["Heroes.Read"]).sign_with(&attacker),
        issuer.app_only(["Heroes.Write"]).sign_with(&attacker),
        // An unknown kid, and the wrong scope.
        issuer
            .delegated(["Heroes.Write"])
            .header("kid", random_guid())
            .sign_with(&attacker),
    ] {
        assert_invalid_token(&get_with_token(&url, &t).await, &t);
    }
}

#[tokio::test]
async fn expired_token_lacking_the_scope_is_401() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let t = issuer.delegated(["Heroes.Write"]).expired().sign();
    let a = get_with_token(&url, &t).await;
    assert_invalid_token(&a, &t);
    assert!(a.challenge.as_deref().unwrap().contains("expired"), "{a:?}");
    // Also on an app-permission route, and for a token of another audience.
    let url = guarded(&auth, Require::app_permission("Heroes.Read")).await;
    let t = issuer.app_only(["Heroes.Write"]).expired().sign();
    assert_invalid_token(&get_with_token(&url, &t).await, &t);
    let t = issuer
        .app_only(["Heroes.Write"])
        .claim("aud", random_guid())
        .sign();
    assert_invalid_token(&get_with_token(&url, &t).await, &t);
}

// ---------------------------------------------------------------------------
// 4. Client-application allow-list
// ---------------------------------------------------------------------------

#[tokio::test]
async fn allowed_client_apps() {
    let authority = MockAuthority::start().await;
    let issuer = &authority.issuer;
    let second = random_guid();
    let auth = authority
        .ready_validator(
            authority
                .config()
                .allowed_client_apps([issuer.caller_id().to_owned(), second.clone()]),
        )
        .await;
    let url = guarded(&auth, Require::scope_or_app_permission("Heroes.Read")).await;

    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).sign()).await);
    assert_ok(
        &get_with_token(
            &url,
            &issuer
                .app_only(["Heroes.Read"])
                .claim("azp", second.as_str())
                .sign(),
        )
        .await,
    );
    assert_ok(&get_with_token(&url, &issuer.delegated(["Heroes.Read"]).v1().sign()).await);

    let stranger = random_guid();
    for t in [
        issuer
            .delegated(["Heroes.Read"])
            .claim("azp", stranger.as_str())
            .sign(),
        issuer
            .delegated(["Heroes.Read"])
            .v1()
            .claim("appid", stranger.as_str())
            .sign(),
    ] {
        let a = get_with_token(&url, &t).await;
        assert_eq!(a.status, 403, "{a:?}");
        assert!(
            a.challenge
                .as_deref()
                .is_some_and(|c| c.starts_with(INSUFFICIENT)),
            "{a:?}"
        );
        assert_problem(&a, &parts_of(&t));
    }

    // A forged token from a client that is not allowed: 401, not 403.
    let attacker = TestKey::generate(issuer.key().kid());
    let t = issuer
        .delegated(["Heroes.Read"])
        .claim("azp", stranger.as_str())
        .sign_with(&attacker);
    assert_invalid_token(&get_with_token(&url, &t).await, &t);
    let t = issuer
        .delegated(["Heroes.Read"])
        .claim("azp", stranger.as_str())
        .expired()
        .sign();
    assert_invalid_token(&get_with_token(&url, &t).await, &t);
}

// ---------------------------------------------------------------------------
// 5. Principal contents
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
struct Custom {
    ctry: Option<String>,
    favourite_hero: Option<String>,
    #[serde(default)]
    level: u32,
}

async fn whoami(p: Principal) -> Json<Value> {
    let custom = p.claims_as::<Custom>();
    Json(json!({
        "object_id": p.object_id(),
        "tenant_id": p.tenant_id(),
        "subject": p.subject(),
        "name": p.name(),
        "username": p.username(),
        "preferred_username": p.preferred_username(),
        "upn": p.upn(),
        "client_id": p.client_id(),
        "scopes": p.scopes(),
        "roles": p.roles(),
        "groups": p.groups(),
        "groups_overage": p.groups_overage(),
        "wids": p.wids(),
        "version": match p.version() {
            Some(TokenVersion::V1) => "1.0",
            Some(TokenVersion::V2) => "2.0",
            None => "none",
        },
        "is_app_only": p.is_app_only(),
        "is_guest": p.is_guest(),
        "expires_at": p.expires_at().duration_since(UNIX_EPOCH).unwrap().as_secs(),
        "key": p.key(),
        "ctry": custom.as_ref().ok().and_then(|c| c.ctry.clone()),
        "favourite_hero": custom.as_ref().ok().and_then(|c| c.favourite_hero.clone()),
        "level": custom.as_ref().map(|c| c.level).unwrap_or(u32::MAX),
        "custom_error": custom.as_ref().err().map(ToString::to_string),
        "claims": p.claims(),
    }))
}

async fn whoami_url(auth: &Validator) -> String {
    let app = Router::new().route("/me", get(whoami).layer(auth.layer()));
    format!("{}/me", serve(app).await)
}

async fn me(url: &str, token: &str) -> Value {
    let a = get_with_token(url, token).await;
    assert_ok(&a);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{a:?}"
    );
    serde_json::from_str(&a.body).unwrap()
}

#[tokio::test]
async fn principal_v2_delegated_fields() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = whoami_url(&auth).await;
    let oid = random_guid();
    let sub = "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ";
    let group = random_guid();
    let wid = "b79fbf4d-3ef9-4689-8143-76b194e85509";
    let builder = issuer
        .delegated(["Heroes.Read", "Heroes.Write"])
        .roles(["Admin", "Editor"])
        .claim("oid", oid.as_str())
        .claim("sub", sub)
        .claim("name", "Ada Lovelace")
        .claim("preferred_username", "ada@contoso.example")
        .claim("groups", json!([group]))
        .claim("wids", json!([wid]))
        .claim("ctry", "NL")
        .claim("favourite_hero", "Batman")
        .claim("level", 7);
    let exp = builder.claims_json()["exp"].as_u64().unwrap();
    let sent = Value::Object(builder.claims_json().clone());
    let p = me(&url, &builder.sign()).await;

    assert_eq!(p["object_id"], json!(oid));
    assert_eq!(p["tenant_id"], json!(issuer.tenant_id()));
    assert_eq!(p["subject"], json!(sub));
    assert_eq!(p["name"], json!("Ada Lovelace"));
    assert_eq!(p["username"], json!("ada@contoso.example"));
    assert_eq!(p["preferred_username"], json!("ada@contoso.example"));
    assert_eq!(p["upn"], Value::Null);
    assert_eq!(p["client_id"], json!(issuer.caller_id()));
    assert_eq!(p["scopes"], json!(["Heroes.Read", "Heroes.Write"]));
    assert_eq!(p["roles"], json!(["Admin", "Editor"]));
    assert_eq!(p["groups"], json!([group]));
    assert_eq!(p["groups_overage"], json!(false));
    assert_eq!(p["wids"], json!([wid]));
    assert_eq!(p["version"], json!("2.0"));
    assert_eq!(p["is_app_only"], json!(false));
    assert_eq!(p["is_guest"], json!(false));
    assert_eq!(p["expires_at"], json!(exp));
    assert_eq!(p["key"], json!(format!("{}/{oid}", issuer.tenant_id())));
    assert_eq!(p["ctry"], json!("NL"));
    assert_eq!(p["favourite_hero"], json!("Batman"));
    assert_eq!(p["level"], json!(7));
    assert_eq!(p["custom_error"], Value::Null);
    // Every claim as sent, those validation reads and those it only skips.
    assert_eq!(p["claims"], sent);
}

#[tokio::test]
async fn principal_v1_fields() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = whoami_url(&auth).await;
    let p = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .v1()
            .claim("upn", "grace@contoso.example")
            .sign(),
    )
    .await;
    assert_eq!(p["version"], json!("1.0"));
    assert_eq!(p["username"], json!("grace@contoso.example"));
    assert_eq!(p["upn"], json!("grace@contoso.example"));
    assert_eq!(p["preferred_username"], Value::Null);
    assert_eq!(p["client_id"], json!(issuer.caller_id()));
    assert_eq!(p["scopes"], json!(["Heroes.Read"]));
    assert_eq!(p["is_app_only"], json!(false));
    // Custom claims absent: the optional fields are None, the default applies.
    assert_eq!(p["ctry"], Value::Null);
    assert_eq!(p["level"], json!(0));

    // v2 takes preferred_username over upn; v1 app-only takes appid.
    let p = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("upn", "old@contoso.example")
            .sign(),
    )
    .await;
    assert_eq!(p["username"], json!("test.user@contoso.example"));
    let p = me(&url, &issuer.app_only(["Heroes.Read"]).v1().sign()).await;
    assert_eq!(p["client_id"], json!(issuer.caller_id()));
    assert_eq!(p["version"], json!("1.0"));
    assert_eq!(p["is_app_only"], json!(true));
}

#[tokio::test]
async fn principal_groups_overage() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = whoami_url(&auth).await;
    let p = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("_claim_names", json!({ "groups": "src1" }))
            .claim(
                "_claim_sources",
                json!({ "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } }),
            )
            .sign(),
    )
    .await;
    assert_eq!(p["groups_overage"], json!(true));
    assert_eq!(p["groups"], json!([]));

    let p = me(&url, &issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_eq!(p["groups_overage"], json!(false));
    assert_eq!(p["groups"], json!([]));
    assert_eq!(p["wids"], json!([]));
}

#[tokio::test]
async fn principal_app_only_detection() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = whoami_url(&auth).await;

    let app = me(&url, &issuer.app_only(["Heroes.Read"]).sign()).await;
    assert_eq!(app["is_app_only"], json!(true));
    assert_eq!(app["scopes"], json!([]));
    assert_eq!(app["roles"], json!(["Heroes.Read"]));
    assert_eq!(app["subject"], app["object_id"]);

    // Without idtyp: no scp and oid == sub.
    let app = me(
        &url,
        &issuer.app_only(["Heroes.Read"]).without("idtyp").sign(),
    )
    .await;
    assert_eq!(app["is_app_only"], json!(true));

    // Without idtyp, oid != sub: a user.
    let user = me(
        &url,
        &issuer
            .app_only(["Heroes.Read"])
            .without("idtyp")
            .claim("sub", random_guid())
            .sign(),
    )
    .await;
    assert_eq!(user["is_app_only"], json!(false));

    // A delegated token (scp present) is never app-only, even with oid == sub.
    let oid = random_guid();
    let user = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("oid", oid.as_str())
            .claim("sub", oid.as_str())
            .sign(),
    )
    .await;
    assert_eq!(user["is_app_only"], json!(false));
    let user = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("idtyp", "user")
            .sign(),
    )
    .await;
    assert_eq!(user["is_app_only"], json!(false));
}

#[tokio::test]
async fn principal_guest_detection() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = whoami_url(&auth).await;

    let guest = me(
        &url,
        &issuer.delegated(["Heroes.Read"]).claim("acct", 1).sign(),
    )
    .await;
    assert_eq!(guest["is_guest"], json!(true));
    let member = me(
        &url,
        &issuer.delegated(["Heroes.Read"]).claim("acct", 0).sign(),
    )
    .await;
    assert_eq!(member["is_guest"], json!(false));

    let home = format!("https://sts.windows.net/{}/", random_guid());
    let guest = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("idp", home.as_str())
            .sign(),
    )
    .await;
    assert_eq!(guest["is_guest"], json!(true));
    let member = me(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("idp", issuer.issuer_v2())
            .sign(),
    )
    .await;
    assert_eq!(member["is_guest"], json!(false));
    let member = me(&url, &issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_eq!(member["is_guest"], json!(false));
}

#[tokio::test]
async fn principal_claims_as_custom_struct() {
    let (authority, auth) = setup().await;
    let url = whoami_url(&auth).await;
    let p = me(
        &url,
        &authority
            .issuer
            .app_only(["Heroes.Read"])
            .claim("ctry", "FR")
            .claim("level", 3)
            .sign(),
    )
    .await;
    assert_eq!(p["ctry"], json!("FR"));
    assert_eq!(p["level"], json!(3));
    assert_eq!(p["custom_error"], Value::Null);

    // A claim of the wrong type is a deserialization error, not a panic.
    let p = me(
        &url,
        &authority
            .issuer
            .delegated(["Heroes.Read"])
            .claim("level", "high")
            .sign(),
    )
    .await;
    assert!(p["custom_error"].is_string(), "{p}");
}

#[tokio::test]
async fn principal_key_is_tenant_and_object_id() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = authenticated(&auth).await;
    let oid = random_guid();
    let a = get_with_token(
        &url,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("oid", oid.as_str())
            .claim("preferred_username", "someone@else.example")
            .sign(),
    )
    .await;
    assert_ok(&a);
    assert_eq!(a.body, format!("{}/{oid}", issuer.tenant_id()));
}

#[tokio::test]
async fn optional_principal_on_unprotected_route_is_none() {
    let (authority, _auth) = setup().await;
    let app = Router::new().route(
        "/open",
        get(|p: Option<Principal>| async move {
            match p {
                Some(p) => format!("some {}", p.key()),
                None => "none".to_owned(),
            }
        }),
    );
    let url = format!("{}/open", serve(app).await);
    let a = get_without_token(&url).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, "none");
    // A valid token on a route no layer covers is not looked at.
    let a = get_with_token(&url, &authority.issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, "none");
}

#[tokio::test]
async fn principal_extractor_on_unprotected_route_is_500() {
    let (authority, _auth) = setup().await;
    let app = Router::new().route("/open", get(|p: Principal| async move { p.key() }));
    let url = format!("{}/open", serve(app).await);
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    for a in [
        get_without_token(&url).await,
        get_with_token(&url, &token).await,
    ] {
        assert_eq!(a.status, 500, "{a:?}");
        let body = assert_problem(&a, &parts_of(&token));
        assert_eq!(body["detail"], json!("internal error"), "{body}");
    }
}

// ---------------------------------------------------------------------------
// 6. Layering and token sources
// ---------------------------------------------------------------------------

#[tokio::test]
async fn layer_on_router_and_require_on_route_validate_once() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    // The outer layer reads the token from `x-token` only; the inner
    // requirement layers read the Authorization header only. A request with
    // the token in `x-token` can only pass the inner layers if they reuse the
    // outer layer's principal instead of validating again.
    let outer = auth
        .layer()
        .token_sources([TokenSource::custom(|headers, _| {
            headers
                .get("x-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })]);
    let app = Router::new()
        .route(
            "/read",
            get(|p: Principal| async move { format!("read {}", p.key()) })
                .layer(auth.require(Require::scope("Heroes.Read"))),
        )
        .route(
            "/daemon",
            get(|p: Principal| async move { format!("daemon {}", p.key()) })
                .layer(auth.require(Require::app_permission("Heroes.Read"))),
        )
        .route(
            "/any",
            get(|p: Principal| async move { format!("any {}", p.key()) }),
        )
        .layer(outer);
    let base = serve(app).await;

    let oid = random_guid();
    let user = issuer
        .delegated(["Heroes.Read"])
        .claim("oid", oid.as_str())
        .sign();
    let key = format!("{}/{oid}", issuer.tenant_id());

    let a = get_with_headers(&format!("{base}/read"), &[("x-token", &user)]).await;
    assert_ok(&a);
    assert_eq!(a.body, format!("read {key}"));
    let a = get_with_headers(&format!("{base}/any"), &[("x-token", &user)]).await;
    assert_ok(&a);
    assert_eq!(a.body, format!("any {key}"));
    // The inner requirement still applies to the outer principal.
    let a = get_with_headers(&format!("{base}/daemon"), &[("x-token", &user)]).await;
    assert_forbidden_without_scope(&a, "app permission Heroes.Read", &user);
    let daemon = issuer.app_only(["Heroes.Read"]).sign();
    let a = get_with_headers(&format!("{base}/daemon"), &[("x-token", &daemon)]).await;
    assert_ok(&a);
    assert!(a.body.starts_with("daemon "), "{a:?}");

    // The outer layer rejects before any route: no token, a bad token.
    assert_bare_401(&get_without_token(&format!("{base}/any")).await);
    let forged = issuer
        .delegated(["Heroes.Read"])
        .sign_with(&TestKey::generate(issuer.key().kid()));
    let a = get_with_headers(&format!("{base}/read"), &[("x-token", &forged)]).await;
    assert_invalid_token(&a, &forged);

    // And the common form: both layers reading the Authorization header.
    let app = Router::new()
        .route(
            "/read",
            get(|p: Principal| async move { p.key() })
                .layer(auth.require(Require::scope("Heroes.Read"))),
        )
        .layer(auth.layer());
    let url = format!("{}/read", serve(app).await);
    let a = get_with_token(&url, &user).await;
    assert_ok(&a);
    assert_eq!(a.body, key);
    let t = issuer.delegated(["Heroes.Write"]).sign();
    assert_forbidden(&get_with_token(&url, &t).await, "Heroes.Read", &t);
    assert_bare_401(&get_without_token(&url).await);
}

#[tokio::test]
async fn cookie_token_source() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let app = Router::new().route(
        "/r",
        get(|p: Principal| async move { p.key() }).layer(
            auth.layer()
                .token_sources([TokenSource::Cookie("access_token".into())]),
        ),
    );
    let url = format!("{}/r", serve(app).await);
    let oid = random_guid();
    let token = issuer
        .delegated(["Heroes.Read"])
        .claim("oid", oid.as_str())
        .sign();

    let a = get_with_headers(
        &url,
        &[(
            "cookie",
            &format!("theme=dark; access_token={token}; lang=en"),
        )],
    )
    .await;
    assert_ok(&a);
    assert_eq!(a.body, format!("{}/{oid}", issuer.tenant_id()));
    let a = get_with_headers(&url, &[("cookie", &format!("access_token={token}"))]).await;
    assert_ok(&a);

    // Another cookie name, or only the header (not a configured source): no token.
    assert_bare_401(&get_with_headers(&url, &[("cookie", &format!("id_token={token}"))]).await);
    assert_bare_401(&get_with_token(&url, &token).await);
    assert_bare_401(&get_without_token(&url).await);

    // A bad token in the cookie.
    let forged = issuer
        .delegated(["Heroes.Read"])
        .sign_with(&TestKey::generate(issuer.key().kid()));
    let a = get_with_headers(&url, &[("cookie", &format!("access_token={forged}"))]).await;
    assert_invalid_token(&a, &forged);

    // The cookie and the query at once.
    let a = get_with_headers(
        &format!("{url}?access_token={token}"),
        &[("cookie", &format!("access_token={token}"))],
    )
    .await;
    assert_invalid_request(&a, &token);

    // With both sources, the header is tried first.
    let app = Router::new().route(
        "/r",
        get(|p: Principal| async move { p.key() }).layer(auth.layer().token_sources([
            TokenSource::AuthorizationHeader,
            TokenSource::Cookie("access_token".into()),
        ])),
    );
    let url = format!("{}/r", serve(app).await);
    assert_ok(&get_with_headers(&url, &[("cookie", &format!("access_token={token}"))]).await);
    assert_ok(&get_with_token(&url, &token).await);
}

#[derive(Clone)]
struct SessionToken(String);

#[tokio::test]
async fn custom_token_source() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let oid = random_guid();
    let token = issuer
        .delegated(["Heroes.Read"])
        .claim("oid", oid.as_str())
        .sign();
    let key = format!("{}/{oid}", issuer.tenant_id());

    // From a header.
    let app = Router::new().route(
        "/r",
        get(|p: Principal| async move { p.key() }).layer(
            auth.require(Require::scope("Heroes.Read"))
                .token_sources([TokenSource::custom(|headers, _| {
                    headers
                        .get("x-api-token")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                })]),
        ),
    );
    let url = format!("{}/r", serve(app).await);
    let a = get_with_headers(&url, &[("x-api-token", &token)]).await;
    assert_ok(&a);
    assert_eq!(a.body, key);
    assert_bare_401(&get_with_token(&url, &token).await);
    let t = issuer.delegated(["Heroes.Write"]).sign();
    assert_forbidden(
        &get_with_headers(&url, &[("x-api-token", &t)]).await,
        "Heroes.Read",
        &t,
    );

    // From the extensions, where an earlier (session) layer put it.
    let session = token.clone();
    let app = Router::new()
        .route("/r", get(|p: Principal| async move { p.key() }))
        .layer(
            auth.layer()
                .token_sources([TokenSource::custom(|_, extensions| {
                    extensions.get::<SessionToken>().map(|t| t.0.clone())
                })]),
        )
        .layer(tower::util::MapRequestLayer::new(
            move |mut req: http::Request<Body>| {
                if req.headers().contains_key("x-session") {
                    req.extensions_mut().insert(SessionToken(session.clone()));
                }
                req
            },
        ));
    let url = format!("{}/r", serve(app).await);
    let a = get_with_headers(&url, &[("x-session", "1")]).await;
    assert_ok(&a);
    assert_eq!(a.body, key);
    assert_bare_401(&get_without_token(&url).await);
}

// ---------------------------------------------------------------------------
// 7. The tower layer around a plain service
// ---------------------------------------------------------------------------

type Plain = http::Response<Full<Bytes>>;

async fn plain_service(req: http::Request<Full<Bytes>>) -> Result<Plain, Infallible> {
    let body = match req.extensions().get::<Principal>() {
        Some(p) => format!("principal {}", p.key()),
        None => "no principal".to_owned(),
    };
    Ok(http::Response::new(Full::new(Bytes::from(body))))
}

fn plain_request(token: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder().uri("/rpc/Heroes/List");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Full::new(Bytes::new())).unwrap()
}

async fn plain_body(response: Plain) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn tower_layer_on_a_plain_service() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let oid = random_guid();
    let token = issuer
        .delegated(["Heroes.Read"])
        .claim("oid", oid.as_str())
        .sign();

    let service = validator.layer().layer(tower::service_fn(plain_service));
    let response = service
        .clone()
        .oneshot(plain_request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("www-authenticate").is_none());
    assert_eq!(
        plain_body(response).await,
        format!("principal {}/{oid}", issuer.tenant_id())
    );

    let response = service.clone().oneshot(plain_request(None)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = serde_json::from_str(&plain_body(response).await).unwrap();
    assert_eq!(body["status"], json!(401));

    let expired = issuer.delegated(["Heroes.Read"]).expired().sign();
    let response = service
        .clone()
        .oneshot(plain_request(Some(&expired)))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );

    // With a requirement.
    let service = validator
        .require(Require::app_permission("Heroes.Read"))
        .layer(tower::service_fn(plain_service));
    let response = service
        .clone()
        .oneshot(plain_request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"insufficient_scope\", error_description=\"requires app permission Heroes.Read\""
    );
    let daemon = issuer.app_only(["Heroes.Read"]).sign();
    let response = service.oneshot(plain_request(Some(&daemon))).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(plain_body(response).await.starts_with("principal "));
}

#[tokio::test]
async fn tower_layer_on_a_plain_service_with_a_cold_cache() {
    // Keys not loaded yet: the first call takes the slow path and fetches them.
    let authority = MockAuthority::start().await;
    let validator = Validator::new(authority.config().build().unwrap()).unwrap();
    let service = validator.layer().layer(tower::service_fn(plain_service));
    let oid = random_guid();
    let token = authority
        .issuer
        .delegated(["Heroes.Read"])
        .claim("oid", oid.as_str())
        .sign();
    let response = service
        .clone()
        .oneshot(plain_request(Some(&token)))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        plain_body(response).await,
        format!("principal {}/{oid}", authority.issuer.tenant_id())
    );
    let response = service.oneshot(plain_request(None)).await.unwrap();
    assert_eq!(response.status(), 401);
}

// ---------------------------------------------------------------------------
// 8. Keys unobtainable on a cold start
// ---------------------------------------------------------------------------

fn assert_unavailable(a: &Answer, token: &str) {
    assert_eq!(a.status, 503, "{a:?}");
    let retry: u64 = a
        .retry_after
        .as_deref()
        .unwrap_or_else(|| panic!("no Retry-After: {a:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not delta-seconds: {a:?}"));
    assert!(retry >= 1, "{a:?}");
    assert_problem(a, &parts_of(token));
}

#[tokio::test]
async fn cold_start_with_keys_unobtainable_is_503_then_recovers() {
    let authority = MockAuthority::start().await;
    authority.set_fault(Fault::Status(500));
    let auth = Validator::new(authority.config().build().unwrap()).unwrap();
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();

    let a = get_with_token(&url, &token).await;
    assert_unavailable(&a, &token);
    // Not a 401 or 403, whatever the token: the keys decide nothing yet.
    let wrong = authority.issuer.delegated(["Heroes.Write"]).sign();
    assert_unavailable(&get_with_token(&url, &wrong).await, &wrong);

    authority.set_fault(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(12);
    let mut last;
    loop {
        last = get_with_token(&url, &token).await;
        if last.status == 200 || Instant::now() > deadline {
            break;
        }
        assert_eq!(last.status, 503, "{last:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_ok(&last);
    assert!(auth.is_ready());
    assert_forbidden(&get_with_token(&url, &wrong).await, "Heroes.Read", &wrong);
}

#[tokio::test]
async fn cold_start_with_a_closed_port_is_503() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let issuer = TestIssuer::new();
    let auth = Validator::new(
        AuthConfig::builder()
            .authority_host(format!("http://{closed}"))
            .tenant(issuer.tenant_id())
            .client_id(issuer.client_id())
            .fetch_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    )
    .unwrap();
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = issuer.delegated(["Heroes.Read"]).sign();
    for _ in 0..3 {
        assert_unavailable(&get_with_token(&url, &token).await, &token);
    }
    // A request without a token is still a plain 401: no keys are needed to say so.
    assert_bare_401(&get_without_token(&url).await);
}

#[tokio::test]
async fn keys_unavailable_answer_does_not_reveal_the_upstream() {
    // A server-side problem: the crate's own rule ("Server-side problems get
    // no detail: it would only help an attacker") applies. The 503 must not
    // tell the caller which internal URL was fetched or what it answered.
    let authority = MockAuthority::start().await;
    authority.set_fault(Fault::Status(500));
    let auth = Validator::new(authority.config().build().unwrap()).unwrap();
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    let a = get_with_token(&url, &token).await;
    assert_unavailable(&a, &token);
    for secret in [
        authority.base().as_str(),
        "openid-configuration",
        "127.0.0.1",
        "HTTP 500",
    ] {
        assert!(
            !a.body.contains(secret),
            "the 503 reveals {secret:?}: {}",
            a.body
        );
    }
}

// ---------------------------------------------------------------------------
// 9. Every rejection is a problem document that never echoes the token
// ---------------------------------------------------------------------------

#[tokio::test]
async fn every_rejection_is_problem_json_without_the_token() {
    let (authority, auth) = setup().await;
    let issuer = &authority.issuer;
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let attacker = TestKey::generate(issuer.key().kid());
    let evil_kid = format!("evil-kid-{}", random_guid());

    let mut cases: Vec<(String, Answer)> = Vec::new();
    let mut add = |token: String, a: Answer| cases.push((token, a));

    add(String::new(), get_without_token(&url).await);
    let t = issuer.delegated(["Heroes.Read"]).sign();
    add(
        t.clone(),
        get_with_headers(&url, &[("authorization", &format!("Basic {t}"))]).await,
    );
    add(
        t.clone(),
        get_with_headers(&url, &[("authorization", &format!("Bearer \"{t}\""))]).await,
    );
    add(
        t.clone(),
        get_with_token(&format!("{url}?access_token={t}"), &t).await,
    );
    add(
        t.clone(),
        get_with_headers(
            &url,
            &[
                ("authorization", &format!("Bearer {t}")),
                ("authorization", &format!("Bearer {t}")),
            ],
        )
        .await,
    );
    let t = issuer.delegated(["Heroes.Read"]).sign_with(&attacker);
    add(t.clone(), get_with_token(&url, &t).await);
    let t = issuer.delegated(["Heroes.Read"]).expired().sign();
    add(t.clone(), get_with_token(&url, &t).await);
    let t = issuer
        .delegated(["Heroes.Read"])
        .claim("aud", random_guid())
        .sign();
    add(t.clone(), get_with_token(&url, &t).await);
    let t = issuer
        .delegated(["Heroes.Read"])
        .header("kid", evil_kid.as_str())
        .sign_with(&attacker);
    add(t.clone(), get_with_token(&url, &t).await);
    let t = issuer.delegated(["Heroes.Read"]).unsigned("none");
    add(t.clone(), get_with_token(&url, &t).await);
    let t = "not-a-jwt-but-a-secret-value".to_owned();
    add(t.clone(), get_with_token(&url, &t).await);
    let t = issuer.delegated(["Heroes.Write"]).sign();
    add(t.clone(), get_with_token(&url, &t).await);
    let t = padded_token(issuer, 20 * 1024);
    add(t.clone(), get_with_token(&url, &t).await);

    let mut statuses: Vec<u16> = Vec::new();
    for (token, a) in &cases {
        assert!(a.status >= 400 && a.status < 500, "{a:?}");
        let mut secrets = if token.is_empty() {
            Vec::new()
        } else {
            parts_of(token)
        };
        secrets.push(&evil_kid);
        assert_problem(a, &secrets);
        statuses.push(a.status);
    }
    statuses.sort_unstable();
    statuses.dedup();
    assert_eq!(statuses, vec![400, 401, 403, 431]);

    // And the 503 of a cold start.
    let cold = MockAuthority::start().await;
    cold.set_fault(Fault::Status(503));
    let auth = Validator::new(cold.config().build().unwrap()).unwrap();
    let url = guarded(&auth, Require::scope("Heroes.Read")).await;
    let t = cold.issuer.delegated(["Heroes.Read"]).sign();
    let a = get_with_token(&url, &t).await;
    assert_eq!(a.status, 503, "{a:?}");
    assert_problem(&a, &parts_of(&t));
}
