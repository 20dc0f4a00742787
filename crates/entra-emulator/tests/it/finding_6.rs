//! Issue 12, finding 6: the administration API could be driven from any web
//! page. A `text/plain` POST (a "simple" request a page sends without a
//! CORS preflight) changed the directory; `Origin` and `Sec-Fetch-Site` were
//! ignored; and any `Host` was answered, so a page on a DNS-rebound name
//! could read every route, minting tokens included. Now admin bodies must be
//! JSON (415), cross-site admin requests are refused (403), a `Host` that
//! is not a loopback name, an IP address or a configured name is refused on
//! every route (421), and an optional admin token (required off loopback)
//! guards the admin API (401).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use crate::common::*;
use entra_emulator::error::{ConfigError, Error};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn dave() -> Value {
    json!({
        "userPrincipalName": "dave@contoso.onmicrosoft.com",
        "password": "dave-dev-password",
    })
}

fn has_user(emulator: &Emulator, upn: &str) -> bool {
    emulator.directory().tenants[0]
        .users
        .iter()
        .any(|u| u.user_principal_name == upn)
}

/// Sends `request`; returns the status, the JSON body (`Null` when not
/// JSON) and the `WWW-Authenticate` header.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value, Option<String>) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        challenge,
    )
}

/// Asserts the administration API's `{"error", "message"}` refusal.
fn assert_admin_refusal(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert!(
        !body["message"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
}

/// One raw HTTP/1.1 exchange (for request lines and `Host` headers a client
/// library would not send); returns the status and the JSON body.
async fn raw(addr: SocketAddr, request: &str) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {answer}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn finding_6_text_plain_admin_post_is_refused() {
    let emulator = start().await;
    let http = client(&emulator);
    let users = format!("{}/_emulator/tenants/{TENANT}/users", emulator.http_url());
    let clock = format!("{}/_emulator/clock", emulator.http_url());
    let rotate = format!(
        "{}/_emulator/tenants/{TENANT}/keys/rotate",
        emulator.http_url()
    );
    let now = emulator.now();

    // What a page's <form> or fetch() sends without a preflight.
    for content_type in [
        Some("text/plain"),
        Some("text/plain;charset=UTF-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        None,
    ] {
        let with = |request: reqwest::RequestBuilder| match content_type {
            Some(t) => request.header("content-type", t),
            None => request,
        };
        let (status, body, _) = send(with(http.post(&users)).body(dave().to_string())).await;
        assert_admin_refusal(status, &body, 415);
        assert_eq!(body["error"], "unsupported_media_type", "{body}");
        let (status, body, _) =
            send(with(http.post(&clock)).body(r#"{"offsetSeconds": 86400}"#)).await;
        assert_admin_refusal(status, &body, 415);
        let (status, body, _) = send(with(http.post(&rotate))).await;
        assert_admin_refusal(status, &body, 415);
    }
    assert!(!has_user(&emulator, "dave@contoso.onmicrosoft.com"));
    assert!(
        emulator.now() - now < 3600,
        "the clock moved: {}",
        emulator.now() - now
    );

    // JSON, with parameters and in any case, is accepted.
    let (status, body, _) = send(
        http.post(&users)
            .header("content-type", "Application/JSON; charset=utf-8")
            .body(dave().to_string()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(has_user(&emulator, "dave@contoso.onmicrosoft.com"));
    let (status, body, _) = send(http.post(&rotate).json(&json!({}))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn finding_6_cross_site_admin_requests_are_refused() {
    let emulator = start().await;
    let http = client(&emulator);
    let base = emulator.http_url();
    let users = format!("{base}/_emulator/tenants/{TENANT}/users");
    let port = emulator.http_addr().port();
    let same_site = format!("http://localhost:{}", port + 1);

    let cross: &[(&str, &str)] = &[
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", &same_site),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (name, value) in cross {
        for path in ["/tenants", "/requests", "/clock"] {
            let (status, body, _) = send(
                http.get(format!("{base}/_emulator{path}"))
                    .header(*name, *value),
            )
            .await;
            assert_admin_refusal(status, &body, 403);
            assert_eq!(body["error"], "cross_site", "{name}: {value}: {body}");
        }
        let (status, body, _) = send(http.post(&users).header(*name, *value).json(&dave())).await;
        assert_admin_refusal(status, &body, 403);
        let (status, body, _) = send(
            http.post(format!("{base}/_emulator/tokens"))
                .header(*name, *value)
                .json(
                    &json!({"tenant": TENANT, "clientId": WEB, "resource": API_URI, "user": ALICE}),
                ),
        )
        .await;
        assert_admin_refusal(status, &body, 403);
        assert!(body.get("access_token").is_none(), "{body}");
    }
    // Even when the other header says same-origin.
    let (status, body, _) = send(
        http.post(&users)
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "same-origin")
            .json(&dave()),
    )
    .await;
    assert_admin_refusal(status, &body, 403);
    assert!(!has_user(&emulator, "dave@contoso.onmicrosoft.com"));

    // Same-origin browsers, typed URLs and non-browser clients pass.
    let (status, body, _) = send(
        http.get(format!("{base}/_emulator/tenants"))
            .header("origin", &base)
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = send(
        http.get(format!("{base}/_emulator/requests"))
            .header("sec-fetch-site", "none"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let https = emulator.https_url().unwrap();
    let (status, body, _) = send(
        http.get(format!("{https}/_emulator/clock"))
            .header("origin", &https)
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = send(
        http.post(&users)
            .header("origin", &base)
            .header("sec-fetch-site", "same-origin")
            .json(&dave()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = send(
        http.post(format!("{base}/_emulator/clock"))
            .json(&json!({"offsetSeconds": 0})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Cross-site requests to the protocol routes are none of this check's business.
    let (status, body, _) = send(
        http.get(format!(
            "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn finding_6_foreign_host_is_refused_on_every_route() {
    let emulator = start().await;
    let http = client(&emulator);
    let base = emulator.http_url();
    let port = emulator.http_addr().port();
    let discovery = format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration");
    let authorize = format!(
        "{base}/{TENANT}/oauth2/v2.0/authorize?client_id={WEB}&response_type=code&redirect_uri={WEB_REDIRECT}&scope=openid"
    );
    let daemon = [
        ("grant_type", "client_credentials"),
        ("client_id", DAEMON),
        ("client_secret", DAEMON_SECRET),
        ("scope", &format!("{API_URI}/.default")),
    ];
    let mint = json!({"tenant": TENANT, "clientId": WEB, "resource": API_URI, "user": ALICE});

    // A page on attacker.example, re-resolved to 127.0.0.1, is same-origin
    // with itself: its requests carry its own Host and no Origin.
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".to_owned(),
        format!("ATTACKER.example.:{port}"),
        format!("localhost.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        let (status, body, _) = send(http.get(&discovery).header("host", &host)).await;
        assert_aadsts(status, &body, 421, "invalid_request", 90_100);
        let (status, body, _) = send(http.get(&authorize).header("host", &host)).await;
        assert_aadsts(status, &body, 421, "invalid_request", 90_100);
        let (status, body, _) = send(
            http.post(token_url(&base))
                .header("host", &host)
                .form(&daemon),
        )
        .await;
        assert_aadsts(status, &body, 421, "invalid_request", 90_100);
        assert!(body.get("access_token").is_none(), "{body}");
        let (status, body, _) = send(
            http.get(format!("{base}/_emulator/tenants"))
                .header("host", &host),
        )
        .await;
        assert_admin_refusal(status, &body, 421);
        assert_eq!(body["error"], "misdirected_request", "{body}");
        let (status, body, _) = send(
            http.post(format!("{base}/_emulator/tokens"))
                .header("host", &host)
                .json(&mint),
        )
        .await;
        assert_admin_refusal(status, &body, 421);
        assert!(body.get("access_token").is_none(), "{body}");
    }

    // The absolute form of the request target names the host too (as
    // HTTP/2's :authority does).
    let (status, body) = raw(
        emulator.http_addr(),
        &format!(
            "GET http://attacker.example:{port}/{TENANT}/v2.0/.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_aadsts(status, &body, 421, "invalid_request", 90_100);
    // No Host at all (HTTP/1.0, or a malformed HTTP/1.1 request): 400.
    for version in ["1.0", "1.1"] {
        let (status, body) = raw(
            emulator.http_addr(),
            &format!(
                "GET /{TENANT}/v2.0/.well-known/openid-configuration HTTP/{version}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert_aadsts(status, &body, 400, "invalid_request", 90_100);
        let (status, body) = raw(
            emulator.http_addr(),
            &format!("GET /_emulator/tenants HTTP/{version}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_admin_refusal(status, &body, 400);
    }
    // Two Host headers: 400.
    let (status, _) = raw(
        emulator.http_addr(),
        &format!(
            "GET /_emulator/tenants HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: attacker.example\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 400);

    // Loopback names and IP addresses are answered.
    for host in [
        format!("localhost:{port}"),
        format!("LocalHost.:{port}"),
        format!("app.localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("127.1.2.3:{port}"),
        format!("[::1]:{port}"),
        format!("192.0.2.10:{port}"),
        "localhost".to_owned(),
    ] {
        let (status, body, _) = send(http.get(&discovery).header("host", &host)).await;
        assert_eq!(status, 200, "{host}: {body}");
        let (status, body, _) = send(
            http.get(format!("{base}/_emulator/clock"))
                .header("host", &host),
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    let (status, body) = raw(
        emulator.http_addr(),
        &format!(
            "GET /_emulator/clock HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn finding_6_configured_hosts_are_answered() {
    let emulator = Emulator::start(EmulatorConfig {
        public_host: Some("emulator.example".into()),
        issuer_base: Some("https://login.example.net".into()),
        allowed_hosts: vec!["idp".into(), ".dev.example".into()],
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    let http = client(&emulator);
    let port = emulator.http_addr().port();
    // The listener is reached by address; the Host names the configured names.
    let base = format!("http://127.0.0.1:{port}");
    let discovery = format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration");
    for host in [
        "emulator.example",
        "login.example.net",
        "idp",
        "dev.example",
        "api.dev.example",
        "localhost",
    ] {
        let (status, body, _) = send(
            http.get(&discovery)
                .header("host", format!("{host}:{port}")),
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    for host in ["attacker.example", "idp.attacker.example", "xdev.example"] {
        let (status, body, _) = send(
            http.get(&discovery)
                .header("host", format!("{host}:{port}")),
        )
        .await;
        assert_aadsts(status, &body, 421, "invalid_request", 90_100);
    }
    // A same-origin page on a configured name may use the admin API.
    let (status, body, _) = send(
        http.get(format!("{base}/_emulator/clock"))
            .header("host", format!("idp:{port}"))
            .header("origin", format!("http://idp:{port}"))
            .header("sec-fetch-site", "same-origin"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let error = Emulator::start(EmulatorConfig {
        allowed_hosts: vec!["*.example".into()],
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap_err();
    assert!(
        matches!(error, Error::Config(ConfigError::AllowedHost { .. })),
        "{error}"
    );
}

const ADMIN_TOKEN: &str = "admin-token-0123456789";

#[tokio::test]
async fn finding_6_admin_token_is_required_when_set() {
    let emulator = Emulator::start(EmulatorConfig {
        admin_token: Some(ADMIN_TOKEN.into()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    assert!(!format!("{emulator:?}").contains(ADMIN_TOKEN));
    let http = client(&emulator);
    let base = emulator.http_url();
    let users = format!("{base}/_emulator/tenants/{TENANT}/users");
    let mint = json!({"tenant": TENANT, "clientId": WEB, "resource": API_URI, "user": ALICE});

    for authorization in [
        None,
        Some("Bearer wrong-token".to_owned()),
        Some(format!("Bearer {ADMIN_TOKEN}x")),
        Some(format!("Basic {ADMIN_TOKEN}")),
        Some(ADMIN_TOKEN.to_owned()),
        Some("Bearer ".to_owned()),
    ] {
        let with = |request: reqwest::RequestBuilder| match &authorization {
            Some(value) => request.header("authorization", value),
            None => request,
        };
        for path in ["/tenants", "/requests", "/clock"] {
            let (status, body, challenge) =
                send(with(http.get(format!("{base}/_emulator{path}")))).await;
            assert_admin_refusal(status, &body, 401);
            assert_eq!(body["error"], "unauthorized", "{body}");
            assert!(
                challenge
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Bearer")),
                "{challenge:?}"
            );
            assert!(!body.to_string().contains(ADMIN_TOKEN), "{body}");
        }
        let (status, body, _) = send(with(http.post(&users)).json(&dave())).await;
        assert_admin_refusal(status, &body, 401);
        let (status, body, _) =
            send(with(http.post(format!("{base}/_emulator/tokens"))).json(&mint)).await;
        assert_admin_refusal(status, &body, 401);
        assert!(body.get("access_token").is_none(), "{body}");
    }
    assert!(!has_user(&emulator, "dave@contoso.onmicrosoft.com"));

    // With the token: answered (the scheme in any case).
    let (status, body, _) = send(
        http.get(format!("{base}/_emulator/tenants"))
            .bearer_auth(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body, _) = send(
        http.post(&users)
            .header("authorization", format!("bearer {ADMIN_TOKEN}"))
            .json(&dave()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body, _) = send(
        http.post(format!("{base}/_emulator/tokens"))
            .bearer_auth(ADMIN_TOKEN)
            .json(&mint),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The token does not make a cross-site request acceptable.
    let (status, body, _) = send(
        http.get(format!("{base}/_emulator/tenants"))
            .bearer_auth(ADMIN_TOKEN)
            .header("sec-fetch-site", "cross-site"),
    )
    .await;
    assert_admin_refusal(status, &body, 403);

    // The protocol routes and the library calls need no token.
    let (status, body, _) = send(http.get(format!(
        "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    )))
    .await;
    assert_eq!(status, 200, "{body}");
    daemon_token(&emulator).await;
    emulator.rotate_keys(TENANT).unwrap();
    // The request log never shows the token.
    let log = format!("{:?}", emulator.requests());
    assert!(!log.contains(ADMIN_TOKEN), "{log}");
}

#[tokio::test]
async fn finding_6_admin_token_is_required_off_loopback() {
    let any_v4 = SocketAddr::from(([0, 0, 0, 0], 0));
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    for (http_addr, https_addr) in [
        (any_v4, None),
        (loopback, Some(any_v4)),
        (SocketAddr::from(([0u16; 8], 0)), None),
    ] {
        let error = Emulator::start(EmulatorConfig {
            http_addr,
            https_addr,
            ..EmulatorConfig::for_tests(Directory::default_demo())
        })
        .await
        .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Config(ConfigError::AdminTokenRequired { addr }) if !addr.ip().is_loopback()
            ),
            "{error}"
        );
        assert!(
            error.to_string().contains("ENTRA_EMULATOR_ADMIN_TOKEN"),
            "{error}"
        );
    }
    for token in ["", "two words", "tab\there", "caf\u{e9}"] {
        let error = Emulator::start(EmulatorConfig {
            admin_token: Some(token.into()),
            ..EmulatorConfig::for_tests(Directory::default_demo())
        })
        .await
        .unwrap_err();
        assert!(
            matches!(error, Error::Config(ConfigError::AdminToken)),
            "{error}"
        );
    }
    // With a token, it starts; the admin API then needs it.
    let emulator = Emulator::start(EmulatorConfig {
        http_addr: any_v4,
        https_addr: None,
        admin_token: Some(ADMIN_TOKEN.into()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    let port = emulator.http_addr().port();
    let http = client(&emulator);
    let url = format!("http://127.0.0.1:{port}/_emulator/clock");
    let (status, body, _) = send(http.get(&url)).await;
    assert_admin_refusal(status, &body, 401);
    let (status, body, _) = send(http.get(&url).bearer_auth(ADMIN_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
}
