//! The Rust `openidconnect` crate (4.x) against the emulator's HTTPS
//! listener, trusting its CA: discovery (the issuer must equal the discovery
//! base, `{https}/{tenant}/v2.0`), client credentials, authorization code with PKCE
//! and a nonce (authorize driven over HTTP, the `login_hint` user signed in
//! without a page), ID token verification (signature from the discovered key
//! set, `iss`, `aud`, `nonce`, `exp`), refresh; access tokens validated with
//! `entra-auth`. The crate is used with its HTTP client off: a small adapter
//! sends its requests with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::*;
use entra_emulator::{Directory, Emulator};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, HttpRequest, HttpResponse, IssuerUrl,
    Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

/// An HTTP error for openidconnect.
#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// Sends one of openidconnect's requests with reqwest (no redirects).
async fn send(client: reqwest::Client, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let err = |e: &dyn std::fmt::Display| HttpError(e.to_string());
    let (parts, body) = request.into_parts();
    let mut builder = client
        .request(parts.method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await.map_err(|e| err(&e))?;
    let mut out = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let body = response.bytes().await.map_err(|e| err(&e))?.to_vec();
    out.body(body).map_err(|e| err(&e))
}

fn test_directory() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    for app in &mut directory.tenants[0].applications {
        for access in &mut app.required_resource_access {
            access.admin_consented = true;
        }
    }
    directory
}

async fn discover(emulator: &Emulator, http: &reqwest::Client) -> CoreProviderMetadata {
    let issuer = format!("{}/{TENANT}/v2.0", emulator.https_url().unwrap());
    let client = http.clone();
    let fetch = move |request: HttpRequest| send(client.clone(), request);
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &fetch)
            .await
            .unwrap_or_else(|e| panic!("discovery of {issuer} failed: {e:?}"));
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert!(!metadata.jwks().keys().is_empty());
    metadata
}

#[tokio::test]
async fn discovery_and_client_credentials() {
    let emulator = start_with(test_directory()).await;
    let http = client(&emulator);
    let metadata = discover(&emulator, &http).await;
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(DAEMON.into()),
        Some(ClientSecret::new(DAEMON_SECRET.into())),
    );
    let fetch = move |request: HttpRequest| send(http.clone(), request);
    // openidconnect authenticates with HTTP Basic by default.
    let token = oidc
        .exchange_client_credentials()
        .unwrap()
        .add_scope(Scope::new(format!("{API_URI}/.default")))
        .request_async(&fetch)
        .await
        .unwrap_or_else(|e| panic!("client credentials failed: {e:?}"));
    let principal = validator(&emulator)
        .await
        .validate(token.access_token().secret())
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(token.expires_in().is_some_and(|d| d > Duration::ZERO));
}

#[tokio::test]
async fn authorization_code_with_pkce_and_nonce_then_refresh() {
    let emulator = start_with(test_directory()).await;
    let http = client(&emulator);
    let metadata = discover(&emulator, &http).await;
    let oidc = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(WEB.into()),
        Some(ClientSecret::new(WEB_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.into()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = oidc
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new(format!("{API_URI}/Heroes.Read")))
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param("login_hint", ALICE)
        .set_pkce_challenge(challenge)
        .url();

    // The browser: GET /authorize; the login_hint user is signed in at once.
    let mut url = auth_url.to_string();
    let location = loop {
        let response = http.get(&url).send().await.unwrap();
        let status = response.status();
        let Some(location) = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            panic!(
                "authorize answered {status} without a redirect: {}\nemulator saw: {:?}",
                response.text().await.unwrap_or_default(),
                emulator.requests()
            );
        };
        let next = url::Url::parse(&url).unwrap().join(&location).unwrap();
        if next.as_str().starts_with(WEB_REDIRECT) {
            break next;
        }
        url = next.to_string();
    };
    let params: std::collections::HashMap<String, String> =
        location.query_pairs().into_owned().collect();
    assert_eq!(params.get("state"), Some(csrf.secret()), "{location}");
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code: {location}"));

    let fetch = {
        let http = http.clone();
        move |request: HttpRequest| send(http.clone(), request)
    };
    let token = oidc
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&fetch)
        .await
        .unwrap_or_else(|e| panic!("code redemption failed: {e:?}"));

    // The ID token: signature against the discovered keys, iss, aud, nonce, exp.
    let id_token = token.id_token().expect("an ID token (scope openid)");
    let claims = id_token
        .claims(&oidc.id_token_verifier(), &nonce)
        .unwrap_or_else(|e| panic!("ID token refused: {e:?}"));
    assert_eq!(claims.issuer().as_str(), emulator.issuer_v2(TENANT));
    assert_eq!(claims.audiences()[0].as_str(), WEB);
    assert_eq!(claims.nonce().map(Nonce::secret), Some(nonce.secret()));
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some(ALICE));

    let validator = validator(&emulator).await;
    let principal = validator
        .validate(token.access_token().secret())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(WEB));
    assert!(principal.has_scope("Heroes.Read"));

    // Refresh (openidconnect sends no scope unless asked).
    let refresh = token
        .refresh_token()
        .expect("a refresh token (offline_access)");
    let refreshed = oidc
        .exchange_refresh_token(refresh)
        .unwrap()
        .request_async(&fetch)
        .await
        .unwrap_or_else(|e| panic!("refresh failed: {e:?}"));
    let principal = validator
        .validate(refreshed.access_token().secret())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert!(principal.has_scope("Heroes.Read"));

    // A second redemption of the same code is refused.
    let again = oidc
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(openidconnect::PkceCodeVerifier::new("x".repeat(43)))
        .request_async(&fetch)
        .await;
    assert!(again.is_err());
}
