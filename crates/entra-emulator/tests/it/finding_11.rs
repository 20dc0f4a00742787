//! Issue 12, finding 11: claims as in Entra's default claim sets. v1 app-only
//! access tokens carry `idp` (the issuer: the tenant's own STS); ID tokens
//! carry `email` only when the `email` scope was asked for, and always an
//! opaque `aio`; the tenant-independent discovery documents have a null
//! `tenant_region_scope`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;
use entra_emulator::{Directory, Emulator};
use serde_json::Value;

/// The demo directory with the heroes API on v1 access tokens.
fn v1_api_directory(entra_issuers: bool) -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.entra_issuers = entra_issuers;
    let api = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == API)
        .unwrap();
    api.access_token_accepted_version = None;
    directory
}

/// Alice's ID token from the SPA's code flow with `scope`; also the answer.
async fn code_flow_id_token(emulator: &Emulator, scope: &str) -> (Value, Value) {
    let (code, verifier) = spa_code(emulator, scope, "n").await;
    let (status, body) = redeem_spa(emulator, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    (claims(body["id_token"].as_str().unwrap()), body)
}

/// Alice's ID token from the password grant (the device-code grant's
/// issuing path) with `scope`.
async fn password_id_token(emulator: &Emulator, scope: &str) -> Value {
    let (status, body) = post_token(
        emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    claims(body["id_token"].as_str().unwrap())
}

fn directory_for_id_tokens() -> Directory {
    let mut directory = auto_login_directory();
    directory.settings.allow_password_grant = true;
    directory
}

#[tokio::test]
async fn finding_11_v1_app_only_tokens_carry_idp() {
    for entra_issuers in [false, true] {
        let emulator = start_with(v1_api_directory(entra_issuers)).await;
        let token = daemon_token(&emulator).await;
        let c = claims(&token);
        assert_eq!(c["ver"], "1.0", "{c}");
        assert_eq!(c["iss"], emulator.issuer_v1(TENANT), "{c}");
        // As Entra: the tenant's STS, the same as `iss`.
        assert_eq!(c["idp"], c["iss"], "{c}");
        if entra_issuers {
            assert_eq!(c["idp"], format!("https://sts.windows.net/{TENANT}/"));
        }
        // So validators do not take the daemon for a guest.
        let principal = validator(&emulator).await.validate(&token).await.unwrap();
        assert!(principal.is_app_only());
        assert!(!principal.is_guest());
    }
    // v1 user tokens of members still have none (Entra: guests and federated users only).
    let emulator = start_with({
        let mut d = v1_api_directory(false);
        d.settings.allow_password_grant = true;
        d
    })
    .await;
    let (status, body) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &api_scope("Read")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["ver"], "1.0", "{c}");
    assert!(c.get("idp").is_none(), "{c}");
}

#[tokio::test]
async fn finding_11_id_tokens_carry_email_only_with_the_email_scope() {
    let emulator = start_with(directory_for_id_tokens()).await;
    let without = format!("openid profile offline_access {}", api_scope("Read"));
    let with = format!("openid profile email offline_access {}", api_scope("Read"));

    let (id, body) = code_flow_id_token(&emulator, &without).await;
    assert!(id.get("email").is_none(), "{id}");
    // Nor after a refresh that does not ask for it.
    let (s, refreshed) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("scope", &without),
        ],
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    let id = claims(refreshed["id_token"].as_str().unwrap());
    assert!(id.get("email").is_none(), "{id}");

    let (id, _) = code_flow_id_token(&emulator, &with).await;
    assert_eq!(id["email"], "alice@contoso.onmicrosoft.com", "{id}");

    let id = password_id_token(&emulator, &without).await;
    assert!(id.get("email").is_none(), "{id}");
    let id = password_id_token(&emulator, &with).await;
    assert_eq!(id["email"], "alice@contoso.onmicrosoft.com", "{id}");
}

#[tokio::test]
async fn finding_11_id_tokens_carry_aio() {
    let emulator = start_with(directory_for_id_tokens()).await;
    let scope = format!("openid profile offline_access {}", api_scope("Read"));
    let (first, _) = code_flow_id_token(&emulator, &scope).await;
    let (second, _) = code_flow_id_token(&emulator, &scope).await;
    let third = password_id_token(&emulator, &scope).await;
    for id in [&first, &second, &third] {
        let aio = id["aio"].as_str().unwrap_or_default();
        assert!(aio.len() >= 32, "an opaque aio: {id}");
    }
    assert_ne!(first["aio"], second["aio"]);
}

#[tokio::test]
async fn finding_11_common_discovery_has_null_tenant_region_scope() {
    let emulator = start().await;
    let http = client(&emulator);
    let base = emulator.http_url();
    let document = |path: String| {
        let http = http.clone();
        async move {
            let response = http.get(path).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    for tenant in ["common", "organizations"] {
        for path in [
            format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
            format!("{base}/{tenant}/.well-known/openid-configuration"),
        ] {
            let doc = document(path.clone()).await;
            assert_eq!(
                doc.get("tenant_region_scope"),
                Some(&Value::Null),
                "{path}: {doc}"
            );
        }
    }
    // A tenant's own documents name its region.
    for path in [
        format!("{base}/{TENANT}/v2.0/.well-known/openid-configuration"),
        format!("{base}/{DOMAIN}/.well-known/openid-configuration"),
    ] {
        let doc = document(path.clone()).await;
        assert_eq!(doc["tenant_region_scope"], "WW", "{path}: {doc}");
    }
}
