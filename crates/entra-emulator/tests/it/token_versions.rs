//! Every token shape the emulator issues validates with entra-auth: v1 and
//! v2, emulator issuers and Entra's real issuer forms, one tenant or several
//! through the multi-tenant (`organizations`) documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use entra_auth::{AuthConfig, InvalidToken, TokenVersion, TokenVersions, Validator};
use entra_emulator::Directory;
use entra_emulator::config::{
    AppRole, Application, MemberType, PasswordCredential, ResourceAccess, Tenant,
};
use serde_json::Value;

const V1_API: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const OTHER_TENANT: &str = "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f";
const OTHER_DAEMON: &str = "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e";

/// The demo directory plus a v1 API the daemon may call, and a second
/// tenant with its own daemon calling the heroes API.
fn directory() -> Directory {
    let mut d = Directory::default_demo();
    d.tenants[0].applications.push(Application {
        app_id: V1_API.into(),
        display_name: "Legacy v1 API".into(),
        identifier_uris: vec![format!("api://{V1_API}")],
        access_token_accepted_version: None,
        app_roles: vec![AppRole {
            value: "Legacy.Read".into(),
            display_name: String::new(),
            allowed_member_types: vec![MemberType::Application],
        }],
        ..Application::default()
    });
    let daemon = d.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == DAEMON)
        .unwrap();
    daemon.required_resource_access.push(ResourceAccess {
        resource_app_id: V1_API.into(),
        scopes: vec![],
        roles: vec!["Legacy.Read".into()],
        admin_consented: true,
    });
    d.tenants.push(Tenant {
        tenant_id: OTHER_TENANT.into(),
        domain: "fabrikam.onmicrosoft.com".into(),
        display_name: "Fabrikam".into(),
        managed_identities: Vec::new(),
        applications: vec![Application {
            app_id: OTHER_DAEMON.into(),
            display_name: "Fabrikam daemon".into(),
            password_credentials: vec![PasswordCredential {
                secret_text: "fabrikam-secret".into(),
                display_name: String::new(),
                end_date_time: None,
            }],
            required_resource_access: vec![ResourceAccess {
                resource_app_id: API.into(),
                scopes: vec![],
                roles: vec!["Heroes.Read".into()],
                admin_consented: true,
            }],
            ..Application::default()
        }],
        users: vec![],
    });
    d.check().unwrap();
    d
}

async fn token(
    emulator: &entra_emulator::Emulator,
    tenant: &str,
    client_id: &str,
    secret: &str,
    scope: &str,
) -> String {
    let response = client(emulator)
        .post(format!(
            "{}/{tenant}/oauth2/v2.0/token",
            emulator.http_url()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn ready(config: AuthConfig) -> Validator {
    let validator = Validator::new(config).unwrap();
    tokio::time::timeout(Duration::from_secs(10), validator.ready())
        .await
        .unwrap();
    validator
}

fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn v1_tokens_follow_the_resource_manifest_and_validate() {
    let emulator = start_with(directory()).await;
    // Asked through the v2 endpoint: the resource's manifest decides the version.
    let token = token(
        &emulator,
        TENANT,
        DAEMON,
        DAEMON_SECRET,
        &format!("api://{V1_API}/.default"),
    )
    .await;
    let c = claims(&token);
    assert_eq!(c["ver"], "1.0");
    assert_eq!(c["aud"], format!("api://{V1_API}"));
    assert_eq!(c["iss"], emulator.issuer_v1(TENANT));
    assert_eq!(c["appid"], DAEMON);
    assert_eq!(c["appidacr"], "1");
    assert!(c.get("azp").is_none());

    let validator = ready(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant(TENANT)
            .client_id(V1_API)
            .build()
            .unwrap(),
    )
    .await;
    let principal = validator.validate(&token).await.unwrap();
    assert_eq!(principal.version(), Some(TokenVersion::V1));
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert_eq!(principal.roles(), ["Legacy.Read"]);

    // An API configured for v2 only refuses it.
    let v2_only = ready(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant(TENANT)
            .client_id(V1_API)
            .versions(TokenVersions::V2)
            .build()
            .unwrap(),
    )
    .await;
    assert!(matches!(
        v2_only.validate(&token).await,
        Err(entra_auth::Error::InvalidToken(InvalidToken::Version))
    ));
}

#[tokio::test]
async fn entra_issuer_forms_validate_against_the_emulators_metadata() {
    let mut d = directory();
    d.settings.entra_issuers = true;
    let emulator = start_with(d).await;
    let v2 = token(
        &emulator,
        TENANT,
        DAEMON,
        DAEMON_SECRET,
        &format!("{API_URI}/.default"),
    )
    .await;
    let v1 = token(
        &emulator,
        TENANT,
        DAEMON,
        DAEMON_SECRET,
        &format!("api://{V1_API}/.default"),
    )
    .await;
    assert_eq!(
        claims(&v2)["iss"],
        format!("https://login.microsoftonline.com/{TENANT}/v2.0")
    );
    assert_eq!(
        claims(&v1)["iss"],
        format!("https://sts.windows.net/{TENANT}/")
    );

    let heroes = validator(&emulator).await;
    assert!(heroes.validate(&v2).await.is_ok());
    let legacy = ready(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant("contoso.onmicrosoft.com")
            .client_id(V1_API)
            .build()
            .unwrap(),
    )
    .await;
    assert!(legacy.validate(&v1).await.is_ok());
}

#[tokio::test]
async fn multi_tenant_apis_accept_allowed_tenants_through_the_common_documents() {
    let emulator = start_with(directory()).await;
    let contoso = token(
        &emulator,
        TENANT,
        DAEMON,
        DAEMON_SECRET,
        &format!("{API_URI}/.default"),
    )
    .await;
    let fabrikam = token(
        &emulator,
        OTHER_TENANT,
        OTHER_DAEMON,
        "fabrikam-secret",
        &format!("{API_URI}/.default"),
    )
    .await;
    assert_eq!(claims(&fabrikam)["tid"], OTHER_TENANT);

    let both = ready(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant("organizations")
            .client_id(API)
            .allowed_tenants([TENANT, OTHER_TENANT])
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(
        both.validate(&contoso).await.unwrap().tenant_id(),
        Some(TENANT)
    );
    assert_eq!(
        both.validate(&fabrikam).await.unwrap().tenant_id(),
        Some(OTHER_TENANT)
    );

    let contoso_only = ready(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant("organizations")
            .client_id(API)
            .allowed_tenants([TENANT])
            .build()
            .unwrap(),
    )
    .await;
    assert!(contoso_only.validate(&contoso).await.is_ok());
    assert!(matches!(
        contoso_only.validate(&fabrikam).await,
        Err(entra_auth::Error::InvalidToken(InvalidToken::Tenant))
    ));

    // A single-tenant API of Contoso refuses Fabrikam's token outright.
    let single = validator(&emulator).await;
    assert!(single.validate(&fabrikam).await.is_err());
}

#[tokio::test]
async fn discovery_documents_have_entras_shape() {
    let emulator = start_with(directory()).await;
    let http = client(&emulator);
    let base = emulator.http_url();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (
                status,
                content_type,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, content_type, v2) = get(format!(
        "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json; charset=utf-8");
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "device_authorization_endpoint",
        "end_session_endpoint",
        "response_types_supported",
        "subject_types_supported",
        "id_token_signing_alg_values_supported",
    ] {
        assert!(
            v2[field].is_string() || v2[field].is_array(),
            "{field}: {v2}"
        );
    }
    assert!(
        v2.get("grant_types_supported").is_none(),
        "Entra's document has none"
    );
    // By domain: the same tenant, endpoints by tenant id.
    let (_, _, by_domain) = get(format!(
        "{base}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(by_domain["issuer"], emulator.issuer_v2(OTHER_TENANT));
    // Multi-tenant documents publish the {tenantid} template.
    let (_, _, common) = get(format!(
        "{base}/organizations/v2.0/.well-known/openid-configuration"
    ))
    .await;
    assert_eq!(common["issuer"], emulator.issuer_v2("{tenantid}"));
    let (_, _, v1) = get(format!("{base}/{TENANT}/.well-known/openid-configuration")).await;
    assert_eq!(v1["issuer"], emulator.issuer_v1(TENANT));
    // Keys: kid = x5t, a real certificate, the issuer property.
    let (_, _, keys) = get(v2["jwks_uri"].as_str().unwrap().to_owned()).await;
    let key = &keys["keys"][0];
    assert_eq!(key["kid"], key["x5t"]);
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["issuer"], emulator.issuer_v2(TENANT));
    assert!(key["x5c"][0].as_str().unwrap().len() > 500);
    // Unknown tenants get Entra's AADSTS90002.
    let response = http
        .get(format!(
            "{base}/nope.example/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_codes"][0], 90_002);
}
