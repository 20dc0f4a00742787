//! Workload identity federation: an application's federated identity
//! credentials (Graph's shape) let a token from another issuer, an OIDC
//! provider served here on 127.0.0.1:0 or another tenant of the emulator,
//! authenticate it at the token endpoint, with Entra's AADSTS answers for
//! each mismatch.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_auth::testing::TestKey;
use entra_emulator::config::{Application, FederatedIdentityCredential, ResourceAccess, Tenant};
use entra_emulator::{Directory, Emulator};
use serde_json::{Value, json};

use crate::clients::jwt_claims;
use crate::common::*;

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The workload app of these tests.
pub(crate) const WORKLOAD: &str = "2b9e4f6a-1c3d-4e5f-8a7b-9c0d1e2f3a4b";
pub(crate) const SUBJECT: &str = "system:serviceaccount:heroes:worker";
pub(crate) const EXCHANGE: &str = "api://AzureADTokenExchange";

/// An OpenID Connect provider on 127.0.0.1:0: discovery and a key set,
/// and tokens it signs.
pub(crate) struct OidcIssuer {
    pub(crate) issuer: String,
    pub(crate) key: TestKey,
    _server: tokio::task::JoinHandle<()>,
}

impl OidcIssuer {
    pub(crate) async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let key = TestKey::generate(format!("k{}", addr.port()));
        let discovery = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/openid/v1/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let jwks = json!({ "keys": [key.jwk()] });
        let app = Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || {
                    let d = discovery.clone();
                    async move { Json(d) }
                }),
            )
            .route(
                "/openid/v1/jwks",
                get(move || {
                    let j = jwks.clone();
                    async move { Json(j) }
                }),
            );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OidcIssuer {
            issuer,
            key,
            _server: server,
        }
    }

    /// A token of this issuer with `claims` over the defaults (`iss`, `sub`
    /// [`SUBJECT`], `aud` [`EXCHANGE`], an hour of life).
    pub(crate) fn token(&self, claims: Value) -> String {
        sign(&self.key, &self.claims(claims))
    }

    pub(crate) fn claims(&self, overrides: Value) -> Value {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let mut claims = json!({
            "iss": self.issuer,
            "sub": SUBJECT,
            "aud": EXCHANGE,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
        });
        for (k, v) in overrides.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    }
}

/// A compact RS256 JWS of `claims` signed by `key` (its `kid` in the header).
pub(crate) fn sign(key: &TestKey, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign_rs256(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

pub(crate) fn credential(name: &str, issuer: &str, subject: &str) -> FederatedIdentityCredential {
    FederatedIdentityCredential {
        id: None,
        name: name.into(),
        issuer: issuer.into(),
        subject: subject.into(),
        audiences: vec![EXCHANGE.into()],
        description: None,
    }
}

/// The workload app: no secret, only federated credentials, and the heroes
/// API's application permissions.
pub(crate) fn workload_app(credentials: Vec<FederatedIdentityCredential>) -> Application {
    Application {
        app_id: WORKLOAD.into(),
        display_name: "Heroes Workload".into(),
        required_resource_access: vec![ResourceAccess {
            resource_app_id: API.into(),
            scopes: vec![],
            roles: vec!["Heroes.Read".into()],
            admin_consented: true,
        }],
        federated_identity_credentials: credentials,
        ..Application::default()
    }
}

/// The demo directory with the workload app trusting `issuer` for [`SUBJECT`].
pub(crate) fn directory_trusting(issuer: &str) -> Directory {
    let mut directory = Directory::default_demo();
    directory.tenants[0]
        .applications
        .push(workload_app(vec![credential("k8s", issuer, SUBJECT)]));
    directory
}

async fn exchange(emulator: &Emulator, assertion: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", WORKLOAD),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await
}

#[tokio::test]
async fn an_assertion_from_a_trusted_oidc_issuer_authenticates_the_app() {
    let idp = OidcIssuer::start().await;
    let emulator = start_with(directory_trusting(&idp.issuer)).await;
    let (status, body) = exchange(&emulator, &idp.token(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(WORKLOAD));
    assert!(principal.has_app_permission("Heroes.Read"));
    assert!(!principal.has_app_permission("Heroes.Write"));
    // The keys were fetched once: a second exchange uses the cache.
    let (status, body) = exchange(&emulator, &idp.token(json!({}))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn an_audience_array_naming_the_credentials_audience_is_accepted() {
    let idp = OidcIssuer::start().await;
    let emulator = start_with(directory_trusting(&idp.issuer)).await;
    let token = idp.token(json!({"aud": ["https://kubernetes.default.svc", EXCHANGE]}));
    let (status, body) = exchange(&emulator, &token).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn each_mismatch_gets_entras_code() {
    let idp = OidcIssuer::start().await;
    let other = OidcIssuer::start().await;
    let mut directory = directory_trusting(&idp.issuer);
    // A second credential of the same issuer, for another subject and audience.
    let mut second = credential("other", &idp.issuer, "system:serviceaccount:heroes:other");
    second.audiences = vec!["api://custom-audience".into()];
    directory.tenants[0]
        .applications
        .last_mut()
        .unwrap()
        .federated_identity_credentials
        .push(second);
    let emulator = start_with(directory).await;

    // An issuer no credential names.
    let (status, body) = exchange(&emulator, &other.token(json!({}))).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_211);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains(&other.issuer),
        "{body}"
    );
    // The issuer's subject is case-sensitive.
    let token = idp.token(json!({"sub": SUBJECT.to_uppercase()}));
    let (status, body) = exchange(&emulator, &token).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_213);
    // An audience no credential of the issuer names.
    let token = idp.token(json!({"aud": "api://elsewhere"}));
    let (status, body) = exchange(&emulator, &token).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_212);
    // Subject of one credential, audience of the other: no single record.
    let token = idp.token(json!({"aud": "api://custom-audience"}));
    let (status, body) = exchange(&emulator, &token).await;
    assert_aadsts(status, &body, 400, "invalid_request", 70_021);
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(SUBJECT), "{description}");
    // The second credential itself works.
    let token = idp.token(json!({
        "aud": "api://custom-audience",
        "sub": "system:serviceaccount:heroes:other",
    }));
    let (status, body) = exchange(&emulator, &token).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn expired_and_forged_assertions_are_refused() {
    let idp = OidcIssuer::start().await;
    let emulator = start_with(directory_trusting(&idp.issuer)).await;
    let now = emulator.now();
    let expired = idp.token(json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}));
    let (status, body) = exchange(&emulator, &expired).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_024);

    let not_yet = idp.token(json!({"nbf": now + 3600, "exp": now + 7200}));
    let (status, body) = exchange(&emulator, &not_yet).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_024);

    // Signed with another key under the issuer's kid.
    let forger = TestKey::generate(idp.key.kid());
    let forged = sign(&forger, &idp.claims(json!({})));
    let (status, body) = exchange(&emulator, &forged).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_027);

    // A key the issuer never published.
    let stranger = TestKey::generate("not-published");
    let unknown = sign(&stranger, &idp.claims(json!({})));
    let (status, body) = exchange(&emulator, &unknown).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_027);

    // A tampered payload keeps the signature of another one.
    let good = idp.token(json!({}));
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(idp.claims(json!({"exp": now + 999_999})).to_string());
    let (status, body) = exchange(&emulator, &parts.join(".")).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_027);
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_signature_failure_not_a_server_error() {
    // A credential for an issuer that is not running.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let emulator = start_with(directory_trusting(&issuer)).await;
    let key = TestKey::generate("k");
    let now = emulator.now();
    let token = sign(
        &key,
        &json!({"iss": issuer, "sub": SUBJECT, "aud": EXCHANGE, "iat": now, "exp": now + 600}),
    );
    let (status, body) = exchange(&emulator, &token).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_027);
}

#[tokio::test]
async fn an_issuer_of_another_emulator_tenant_is_trusted_through_its_own_keys() {
    // The workload app lives in a second tenant and trusts the first
    // tenant's issuer for the user-assigned managed identity.
    let mut directory = Directory::default_demo();
    let ua = directory.tenants[0]
        .managed_identities
        .iter()
        .find(|mi| mi.display_name == "heroes-identity")
        .unwrap()
        .clone();
    directory.tenants.push(Tenant {
        tenant_id: "4c1b2a3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d".into(),
        domain: "fabrikam.onmicrosoft.com".into(),
        display_name: "Fabrikam".into(),
        applications: vec![],
        users: vec![],
        managed_identities: vec![],
    });
    let emulator = start_with(directory).await;
    let issuer = emulator.issuer_v2(TENANT);
    emulator
        .add_application(
            "fabrikam.onmicrosoft.com",
            workload_app(vec![credential(
                "heroes-identity",
                &issuer,
                &ua.principal_id,
            )]),
        )
        .unwrap();

    // The managed identity's token for api://AzureADTokenExchange...
    let http = client(&emulator);
    let response = http
        .get(format!("{}/msi/token", emulator.http_url()))
        .query(&[
            ("api-version", "2019-08-01"),
            ("resource", EXCHANGE),
            ("client_id", ua.client_id.as_str()),
        ])
        .header("X-IDENTITY-HEADER", emulator.identity_header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let assertion = body["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_claims(&assertion);
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["sub"], ua.principal_id.as_str());
    assert_eq!(claims["aud"], EXCHANGE);

    // ...is the workload app's credential in the other tenant.
    let fabrikam_token = format!(
        "{}/4c1b2a3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d/oauth2/v2.0/token",
        emulator.http_url()
    );
    let post = |assertion: String| {
        let http = http.clone();
        let url = fabrikam_token.clone();
        async move {
            let response = http
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", WORKLOAD),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", assertion.as_str()),
                    ("scope", &format!("{API_URI}/.default")),
                ])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = post(assertion.clone()).await;
    assert_eq!(status, 200, "{body}");
    let token = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(token["azp"], WORKLOAD);
    assert_eq!(token["tid"], "4c1b2a3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d");

    // The system-assigned identity's token has another subject: refused.
    let response = http
        .get(format!("{}/msi/token", emulator.http_url()))
        .query(&[("api-version", "2019-08-01"), ("resource", EXCHANGE)])
        .header("X-IDENTITY-HEADER", emulator.identity_header())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    let (status, body) = post(body["access_token"].as_str().unwrap().to_owned()).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_213);

    // A token the emulator signed for the heroes API is not for the exchange audience.
    let daemon = daemon_token(&emulator).await;
    let (status, body) = post(daemon).await;
    assert_aadsts(status, &body, 401, "invalid_client", 700_213);
}

#[tokio::test]
async fn federated_credentials_are_checked_as_graph_checks_them() {
    let base = || Directory::default_demo();
    let bad = |fic: FederatedIdentityCredential| {
        let mut d = base();
        d.tenants[0].applications.push(workload_app(vec![fic]));
        d.check().is_err()
    };
    assert!(
        bad(credential("ok", "http://issuer.example", SUBJECT)),
        "http off loopback"
    );
    assert!(bad(credential(
        "has space",
        "https://issuer.example",
        SUBJECT
    )));
    assert!(bad(credential("ok", "https://issuer.example", "")));
    let mut two = credential("two", "https://issuer.example", SUBJECT);
    two.audiences.push("api://second".into());
    assert!(bad(two));
    let mut d = base();
    d.tenants[0].applications.push(workload_app(vec![
        credential("same", "https://a.example", SUBJECT),
        credential("SAME", "https://b.example", SUBJECT),
    ]));
    assert!(d.check().is_err(), "names are unique");
    let mut d = base();
    d.tenants[0].applications.push(workload_app(vec![credential(
        "fine",
        "https://token.actions.githubusercontent.com",
        "repo:contoso/heroes:ref:refs/heads/main",
    )]));
    assert!(d.check().is_ok());
    // The default audience of Graph's shape.
    let fic: FederatedIdentityCredential = serde_json::from_value(json!({
        "name": "gh", "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:x/y:ref:refs/heads/main"
    }))
    .unwrap();
    assert_eq!(fic.audiences, vec![EXCHANGE.to_owned()]);
}

#[tokio::test]
async fn an_application_posted_with_graph_shaped_credentials_can_use_them() {
    let idp = OidcIssuer::start().await;
    let emulator = start().await;
    let app = json!({
        "appId": WORKLOAD,
        "displayName": "Heroes Workload",
        "requiredResourceAccess": [
            {"resourceAppId": API, "roles": ["Heroes.Read"], "adminConsented": true}
        ],
        "federatedIdentityCredentials": [{
            "name": "k8s",
            "issuer": idp.issuer,
            "subject": SUBJECT,
            "audiences": [EXCHANGE],
            "description": "the worker's service account",
        }],
    });
    let response = client(&emulator)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/applications",
            emulator.http_url()
        ))
        .json(&app)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let shown: Value = response.json().await.unwrap();
    assert_eq!(shown["federatedIdentityCredentials"][0]["subject"], SUBJECT);
    let (status, body) = exchange(&emulator, &idp.token(json!({}))).await;
    assert_eq!(status, 200, "{body}");
    // A Graph-shaped credential with an http issuer off loopback is refused.
    let mut bad = app.clone();
    bad["appId"] = json!("3c0a5f7b-2d4e-4f6a-9b8c-0d1e2f3a4b5c");
    bad["federatedIdentityCredentials"][0]["issuer"] = json!("http://issuer.example.com");
    let response = client(&emulator)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/applications",
            emulator.http_url()
        ))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}
