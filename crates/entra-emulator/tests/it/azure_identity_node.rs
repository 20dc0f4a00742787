//! @azure/identity (Node), unchanged, against the emulator:
//! `ManagedIdentityCredential` through `IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER`, and `WorkloadIdentityCredential` with a federated
//! token file over the emulator's HTTPS authority host (its CA trusted
//! through `NODE_EXTRA_CA_CERTS`). Every token is validated with
//! `entra-auth` for the heroes API.
//!
//! The package comes from `.ci/install-test-clients`; without it the tests
//! skip locally and fail under CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::{Value, json};

use crate::clients::*;
use crate::common::*;
use crate::managed_identity::{SYSTEM_CLIENT, USER_CLIENT, USER_PRINCIPAL};
use crate::workload_identity::{OidcIssuer, WORKLOAD, directory_trusting};

async fn run_azure_identity(
    running: &Running,
    modules: &Path,
    flow: &str,
    args: &Value,
    extra_env: &[(&'static str, String)],
) -> Value {
    let script = scripts_dir().join("node/azure_identity_flows.js");
    let mut env = vec![
        ("NODE_EXTRA_CA_CERTS", running.ca().display().to_string()),
        ("NODE_PATH", modules.display().to_string()),
        ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
    ];
    env.extend(extra_env.iter().cloned());
    run(
        running,
        Path::new("node"),
        &[
            script.display().to_string(),
            flow.to_owned(),
            args.to_string(),
        ],
        &env,
    )
    .await
}

async fn heroes_principal(running: &Running, out: &Value) -> entra_auth::Principal {
    let token = out["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {out}\nemulator saw:\n{}", running.log()));
    validator(&running.emulator)
        .await
        .validate(token)
        .await
        .unwrap_or_else(|e| panic!("entra-auth refused the token: {e}\n{:#}", jwt_claims(token)))
}

#[tokio::test]
async fn managed_identity_credential_through_the_app_service_endpoint() {
    let Some(modules) = node_modules() else {
        return;
    };
    let running = launch_with_https_issuer(directory()).await;
    let env = vec![
        ("IDENTITY_ENDPOINT", running.emulator.identity_endpoint()),
        (
            "IDENTITY_HEADER",
            running.emulator.identity_header().to_owned(),
        ),
    ];
    let scope = format!("{API_URI}/.default");
    let out = run_azure_identity(
        &running,
        &modules,
        "managed_identity",
        &json!({"scope": scope}),
        &env,
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(SYSTEM_CLIENT));
    assert!(principal.has_app_permission("Heroes.Write"));
    assert_eq!(out["second_same"], true, "@azure/identity caches the token");

    let out = run_azure_identity(
        &running,
        &modules,
        "managed_identity",
        &json!({"scope": scope, "client_id": USER_CLIENT}),
        &env,
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert_eq!(principal.client_id(), Some(USER_CLIENT));
    assert_eq!(principal.object_id(), Some(USER_PRINCIPAL));
}

#[tokio::test]
async fn workload_identity_credential_with_a_federated_token_file() {
    let Some(modules) = node_modules() else {
        return;
    };
    let idp = OidcIssuer::start().await;
    let running = launch_with_https_issuer(directory_trusting(&idp.issuer)).await;
    let token_file = crate::common::TempDir::new("federated-token-node");
    let path = token_file.0.join("token");
    std::fs::write(&path, idp.token(json!({}))).unwrap();
    let out = run_azure_identity(
        &running,
        &modules,
        "workload_identity",
        &json!({
            "tenant_id": TENANT,
            "client_id": WORKLOAD,
            "token_file": path.display().to_string(),
            "authority_host": running.https(),
            "scope": format!("{API_URI}/.default"),
        }),
        &[],
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert_eq!(principal.client_id(), Some(WORKLOAD));
    assert!(principal.has_app_permission("Heroes.Read"));
}
