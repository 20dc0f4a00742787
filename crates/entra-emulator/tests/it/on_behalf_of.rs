//! On-behalf-of: a middle-tier API exchanges the user's token it received
//! for a token to the heroes API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_emulator::config::{
    Application, PasswordCredential, PermissionScope, ResourceAccess, Tenant, User,
};
use entra_emulator::{Directory, Emulator};
use serde_json::Value;

const MIDDLE: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const MIDDLE_URI: &str = "api://7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const MIDDLE_SECRET: &str = "middle-tier-dev-secret";
const OBO: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const OTHER_TENANT: &str = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f";
const OTHER_CLI: &str = "2b3c4d5e-6f70-4a8b-9c0d-1e2f3a4b5c6d";
const CAROL: &str = "carol@fabrikam.onmicrosoft.com";
const CAROL_PASSWORD: &str = "carol-dev-password";

/// The demo directory plus a middle-tier API (v2 tokens unless `version`
/// says otherwise) that calls the heroes API, the web app consented to the
/// middle tier, and a second tenant whose users can also call it.
fn directory(version: Option<u8>) -> Directory {
    let mut d = Directory::default_demo();
    d.settings.allow_password_grant = true;
    d.tenants[0].applications.push(Application {
        app_id: MIDDLE.into(),
        display_name: "Heroes Middle Tier".into(),
        identifier_uris: vec![MIDDLE_URI.into()],
        access_token_accepted_version: version,
        oauth2_permission_scopes: vec![PermissionScope {
            value: "access_as_user".into(),
            user_consent_description: "Call the middle tier as you".into(),
            r#type: "User".into(),
        }],
        password_credentials: vec![PasswordCredential {
            secret_text: MIDDLE_SECRET.into(),
            display_name: "dev".into(),
            end_date_time: None,
        }],
        required_resource_access: vec![ResourceAccess {
            resource_app_id: API.into(),
            scopes: vec!["Heroes.Read".into(), "Heroes.Write".into()],
            roles: vec![],
            admin_consented: true,
        }],
        ..Application::default()
    });
    let web = d.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == WEB)
        .unwrap();
    web.required_resource_access.push(ResourceAccess {
        resource_app_id: MIDDLE.into(),
        scopes: vec!["access_as_user".into()],
        roles: vec![],
        admin_consented: true,
    });
    d.tenants.push(Tenant {
        tenant_id: OTHER_TENANT.into(),
        domain: "fabrikam.onmicrosoft.com".into(),
        display_name: "Fabrikam".into(),
        managed_identities: Vec::new(),
        applications: vec![Application {
            app_id: OTHER_CLI.into(),
            display_name: "Fabrikam CLI".into(),
            is_fallback_public_client: true,
            required_resource_access: vec![ResourceAccess {
                resource_app_id: MIDDLE.into(),
                scopes: vec!["access_as_user".into()],
                roles: vec![],
                admin_consented: true,
            }],
            ..Application::default()
        }],
        users: vec![User {
            object_id: "3c4d5e6f-7081-4a9b-8c0d-2e3f4a5b6c7d".into(),
            user_principal_name: CAROL.into(),
            password: CAROL_PASSWORD.into(),
            display_name: "Carol".into(),
            ..User::default()
        }],
    });
    d
}

async fn start_obo() -> Emulator {
    start_with(directory(Some(2))).await
}

/// Alice's token for the middle tier, as the web app got it.
async fn user_token_for_middle(emulator: &Emulator) -> String {
    let (s, body) = post_token(
        emulator,
        &[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &format!("{MIDDLE_URI}/access_as_user")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn obo(emulator: &Emulator, assertion: &str, scope: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", OBO),
            ("client_id", MIDDLE),
            ("client_secret", MIDDLE_SECRET),
            ("requested_token_use", "on_behalf_of"),
            ("assertion", assertion),
            ("scope", scope),
        ],
    )
    .await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn middle_tier_gets_a_downstream_token_for_the_user() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    assert_eq!(claims(&assertion)["aud"], MIDDLE);
    let (s, body) = obo(
        &emulator,
        &assertion,
        &format!("{API_URI}/Heroes.Read openid profile offline_access"),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        format!("{API_URI}/Heroes.Read openid profile offline_access")
    );
    assert!(body["expires_in"].is_i64());
    assert!(body["ext_expires_in"].is_i64());
    assert!(body["refresh_token"].is_string());
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], MIDDLE);
    assert_eq!(id["oid"], ALICE_OID);

    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!principal.is_app_only());
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(MIDDLE));
    assert_eq!(principal.scopes(), ["Heroes.Read"]);
    assert_eq!(principal.claims()["azpacr"], "1");
    assert!(principal.has_role("Admin"));
}

#[tokio::test]
async fn default_scope_gives_the_middle_tiers_consented_scopes() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    let (s, body) = obo(&emulator, &assertion, &format!("{API}/.default")).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let mut scopes = principal.scopes().to_vec();
    scopes.sort();
    assert_eq!(scopes, ["Heroes.Read", "Heroes.Write"]);
}

#[tokio::test]
async fn v1_middle_tier_tokens_name_it_by_app_id_uri() {
    let emulator = start_with(directory(None)).await;
    let assertion = user_token_for_middle(&emulator).await;
    assert_eq!(claims(&assertion)["aud"], MIDDLE_URI);
    let (s, body) = obo(&emulator, &assertion, &format!("{API_URI}/Heroes.Write")).await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn unconsented_downstream_scope_needs_consent() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    let (s, b) = obo(&emulator, &assertion, &format!("{API_URI}/Heroes.Delete")).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 65_001);
    assert_eq!(b["suberror"], "consent_required");
}

#[tokio::test]
async fn assertion_for_another_audience_is_refused() {
    let emulator = start_obo().await;
    // Alice's token for the heroes API, not for the middle tier.
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &format!("{API_URI}/Heroes.Read")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, b) = obo(
        &emulator,
        body["access_token"].as_str().unwrap(),
        &format!("{API_URI}/Heroes.Read"),
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50_013);
}

#[tokio::test]
async fn forged_and_malformed_assertions_are_refused() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    let scope = format!("{API_URI}/Heroes.Read");
    let parts: Vec<&str> = assertion.split('.').collect();

    // Claims changed after signing (another user).
    let mut forged = claims(&assertion);
    forged["oid"] = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    // Another signature.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let bad_sig = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    // HS256 and none.
    let header = |alg: &str| {
        let mut h: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        h["alg"] = alg.into();
        URL_SAFE_NO_PAD.encode(h.to_string())
    };
    let hs256 = format!("{}.{}.{}", header("HS256"), parts[1], parts[2]);
    let none = format!("{}.{}.", header("none"), parts[1]);
    // An unknown key id.
    let unknown_kid = {
        let mut h: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        h["kid"] = "unknown".into();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            parts[1],
            parts[2]
        )
    };
    for bad in [
        tampered.as_str(),
        bad_sig.as_str(),
        hs256.as_str(),
        none.as_str(),
        unknown_kid.as_str(),
        "garbage",
        "a.b.c",
        "a.b.c.d",
        "....",
    ] {
        let (s, b) = obo(&emulator, bad, &scope).await;
        assert_aadsts(s, &b, 400, "invalid_grant", 50_013);
    }
}

#[tokio::test]
async fn expired_assertion_is_refused() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    emulator.set_clock_offset(3601);
    let (s, b) = obo(&emulator, &assertion, &format!("{API_URI}/Heroes.Read")).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 500_133);
}

#[tokio::test]
async fn app_only_assertion_is_refused() {
    let emulator = start_obo().await;
    // A daemon's app-only token whose audience is the middle tier.
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("{MIDDLE_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, b) = obo(
        &emulator,
        body["access_token"].as_str().unwrap(),
        &format!("{API_URI}/Heroes.Read"),
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50_013);
}

#[tokio::test]
async fn assertion_from_another_tenant_is_refused() {
    let emulator = start_obo().await;
    // Carol, of the other tenant, got a token for the middle tier there.
    let response = client(&emulator)
        .post(format!(
            "{}/{OTHER_TENANT}/oauth2/v2.0/token",
            emulator.http_url()
        ))
        .form(&[
            ("grant_type", "password"),
            ("client_id", OTHER_CLI),
            ("username", CAROL),
            ("password", CAROL_PASSWORD),
            ("scope", &format!("{MIDDLE_URI}/access_as_user")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let assertion = body["access_token"].as_str().unwrap();
    assert_eq!(claims(assertion)["tid"], OTHER_TENANT);
    let (s, b) = obo(&emulator, assertion, &format!("{API_URI}/Heroes.Read")).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 50_013);
}

#[tokio::test]
async fn obo_request_errors_are_entra_shaped() {
    let emulator = start_obo().await;
    let assertion = user_token_for_middle(&emulator).await;
    let scope = format!("{API_URI}/Heroes.Read");
    // No credential.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", OBO),
            ("client_id", MIDDLE),
            ("requested_token_use", "on_behalf_of"),
            ("assertion", &assertion),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);
    // Wrong secret.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", OBO),
            ("client_id", MIDDLE),
            ("client_secret", "wrong"),
            ("requested_token_use", "on_behalf_of"),
            ("assertion", &assertion),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_215);
    // Missing or unknown requested_token_use, missing assertion or scope.
    let full = [
        ("grant_type", OBO),
        ("client_id", MIDDLE),
        ("client_secret", MIDDLE_SECRET),
        ("requested_token_use", "on_behalf_of"),
        ("assertion", assertion.as_str()),
        ("scope", scope.as_str()),
    ];
    for missing in ["requested_token_use", "assertion", "scope"] {
        let form: Vec<(&str, &str)> = full
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let (s, b) = post_token(&emulator, &form).await;
        assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    }
    let form: Vec<(&str, &str)> = full
        .iter()
        .map(|&(k, v)| {
            if k == "requested_token_use" {
                (k, "other")
            } else {
                (k, v)
            }
        })
        .collect();
    let (s, b) = post_token(&emulator, &form).await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    // Only OpenID Connect scopes, or two resources.
    let (s, b) = obo(&emulator, &assertion, "openid profile").await;
    assert_aadsts(s, &b, 400, "invalid_scope", 70_011);
    let (s, b) = obo(
        &emulator,
        &assertion,
        &format!("{API_URI}/Heroes.Read {MIDDLE_URI}/access_as_user"),
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 28_000);
}
