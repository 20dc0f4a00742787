//! Microsoft's MSAL Node (`@azure/msal-node`) against the emulator,
//! unchanged: an HTTPS authority with a tenant segment listed in
//! `knownAuthorities` (so no instance discovery at login.microsoftonline.com),
//! the CA trusted through `NODE_EXTRA_CA_CERTS`, every access token
//! validated with `entra-auth`.
//!
//! The client runs as a child process (`tests/it/clients/node/msal_flows.js`)
//! with the packages `.ci/install-test-clients` installs. Without them the
//! tests skip locally and fail under CI (`CI` set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::clients::*;
use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn client_credentials_with_a_secret() {
    let Some(modules) = node_modules() else {
        return;
    };
    let running = launch_with_https_issuer(directory()).await;
    let out = run_node(
        &running,
        &modules,
        "client_credentials",
        &json!({
            "authority": running.authority(),
            "client_id": DAEMON,
            "client_secret": DAEMON_SECRET,
            "scopes": [format!("{API_URI}/.default")],
        }),
    )
    .await;
    let first = &out["first"];
    assert!(
        first["accessToken"].is_string(),
        "MSAL Node got no token: {out:#}\nemulator saw:\n{}",
        running.log()
    );
    assert_eq!(first["tokenType"], "Bearer");
    assert_eq!(first["fromCache"], false);
    assert_eq!(out["secondFromCache"], true, "{out:#}");
    // No request left the emulator: discovery came from it too.
    let log = running.emulator.requests();
    assert!(
        log.iter()
            .any(|r| r.path == format!("/{TENANT}/v2.0/.well-known/openid-configuration")),
        "{}",
        running.log()
    );
    let principal = validator(&running.emulator)
        .await
        .validate(first["accessToken"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(principal.has_app_permission("Heroes.Read"));
}

#[tokio::test]
async fn authorization_code_with_pkce_then_refresh() {
    let Some(modules) = node_modules() else {
        return;
    };
    let running = launch_with_https_issuer(directory()).await;
    let out = run_node(
        &running,
        &modules,
        "auth_code",
        &json!({
            "authority": running.authority(),
            "client_id": WEB,
            "client_secret": WEB_SECRET,
            "scopes": [format!("{API_URI}/Heroes.Read")],
            "redirect_uri": WEB_REDIRECT,
            "login_hint": ALICE,
        }),
    )
    .await;
    let result = &out["result"];
    assert!(
        result["accessToken"].is_string(),
        "MSAL Node got no token: {out:#}\nemulator saw:\n{}",
        running.log()
    );
    assert_eq!(out["stateEchoed"], true);
    let claims = &result["idTokenClaims"];
    assert_eq!(claims["aud"], WEB, "{claims:#}");
    assert_eq!(claims["oid"], ALICE_OID);
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["iss"], running.emulator.issuer_v2(TENANT));
    // msal-node builds the account from client_info: uid.utid.
    assert_eq!(
        result["account"]["homeAccountId"],
        format!("{ALICE_OID}.{TENANT}"),
        "{:#}",
        result["account"]
    );
    assert_eq!(result["account"]["username"], ALICE);
    assert_eq!(result["tenantId"], TENANT);

    let authorize = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/authorize"))
        .unwrap();
    assert!(
        authorize
            .params
            .iter()
            .any(|(k, v)| k == "code_challenge_method" && v == "S256")
    );

    let validator = validator(&running.emulator).await;
    let principal = validator
        .validate(result["accessToken"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(WEB));
    assert!(principal.has_scope("Heroes.Read"));

    let refreshed = &out["refreshed"];
    assert!(
        refreshed["accessToken"].is_string(),
        "no refreshed token: {out:#}\nemulator saw:\n{}",
        running.log()
    );
    assert_eq!(refreshed["fromCache"], false);
    assert!(
        running.emulator.requests().iter().any(|r| r.status == 200
            && r.params
                .iter()
                .any(|(k, v)| k == "grant_type" && v == "refresh_token")),
        "{}",
        running.log()
    );
    let principal = validator
        .validate(refreshed["accessToken"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
}
