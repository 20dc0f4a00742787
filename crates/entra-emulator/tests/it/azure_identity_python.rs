//! azure-identity (Python), unchanged, against the emulator:
//! `ManagedIdentityCredential` through `IDENTITY_ENDPOINT` +
//! `IDENTITY_HEADER` (App Service), and `WorkloadIdentityCredential` with a
//! token file from another issuer that the app's federated credential
//! trusts, over the emulator's HTTPS authority with its CA trusted. Every
//! token is validated with `entra-auth` for the heroes API.
//!
//! The client runs from the virtualenv `.ci/install-test-clients` makes;
//! without it the tests skip locally and fail under CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use serde_json::{Value, json};

use crate::clients::*;
use crate::common::*;
use crate::managed_identity::{SYSTEM_CLIENT, SYSTEM_PRINCIPAL, USER_CLIENT, USER_PRINCIPAL};
use crate::workload_identity::{OidcIssuer, WORKLOAD, directory_trusting};

async fn run_azure_identity(
    running: &Running,
    python: &Path,
    flow: &str,
    args: &Value,
    extra_env: &[(&'static str, String)],
) -> Value {
    let script = scripts_dir().join("python/azure_identity_flows.py");
    let ca = running.ca().display().to_string();
    let mut env = vec![
        ("REQUESTS_CA_BUNDLE", ca.clone()),
        ("SSL_CERT_FILE", ca),
        ("NO_PROXY", "127.0.0.1,localhost".to_owned()),
        ("PYTHONUNBUFFERED", "1".to_owned()),
    ];
    env.extend(extra_env.iter().cloned());
    run(
        running,
        python,
        &[
            script.display().to_string(),
            flow.to_owned(),
            args.to_string(),
        ],
        &env,
    )
    .await
}

fn app_service_env(running: &Running) -> Vec<(&'static str, String)> {
    vec![
        ("IDENTITY_ENDPOINT", running.emulator.identity_endpoint()),
        (
            "IDENTITY_HEADER",
            running.emulator.identity_header().to_owned(),
        ),
    ]
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
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let scope = format!("{API_URI}/.default");
    let env = app_service_env(&running);

    // The system-assigned identity.
    let out = run_azure_identity(
        &running,
        &python,
        "managed_identity",
        &json!({"scope": scope}),
        &env,
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(SYSTEM_CLIENT));
    assert_eq!(principal.object_id(), Some(SYSTEM_PRINCIPAL));
    assert!(principal.has_app_permission("Heroes.Read"));
    assert!(out["expires_on"].as_i64().unwrap() > running.emulator.now());
    assert_eq!(out["second_same"], true, "azure-identity caches the token");
    let requests: Vec<_> = running
        .emulator
        .requests()
        .into_iter()
        .filter(|r| r.path == "/msi/token")
        .collect();
    assert_eq!(requests.len(), 1, "{}", running.log());
    assert_eq!(requests[0].status, 200);

    // The user-assigned identity, by client id.
    let out = run_azure_identity(
        &running,
        &python,
        "managed_identity",
        &json!({"scope": scope, "client_id": USER_CLIENT}),
        &env,
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert_eq!(principal.client_id(), Some(USER_CLIENT));
    assert_eq!(principal.object_id(), Some(USER_PRINCIPAL));
    assert!(principal.has_app_permission("Heroes.Delete"));
}

#[tokio::test]
async fn a_wrong_identity_header_fails_in_azure_identity() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let script = scripts_dir().join("python/azure_identity_flows.py");
    let ca = running.ca().display().to_string();
    let process = spawn(
        &python,
        &[
            script.display().to_string(),
            "managed_identity".to_owned(),
            json!({"scope": format!("{API_URI}/.default")}).to_string(),
        ],
        &[
            ("REQUESTS_CA_BUNDLE", ca),
            ("IDENTITY_ENDPOINT", running.emulator.identity_endpoint()),
            ("IDENTITY_HEADER", "not-the-header".to_owned()),
        ],
    );
    let (lines, _stderr) = process.finish().await;
    let last: Value = lines
        .iter()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap();
    assert!(last["exception"].is_string(), "{last}");
    assert!(last.get("access_token").is_none());
}

#[tokio::test]
async fn workload_identity_credential_with_a_federated_token_file() {
    let Some(python) = python() else { return };
    let idp = OidcIssuer::start().await;
    let running = launch(directory_trusting(&idp.issuer)).await;
    let token_file = crate::common::TempDir::new("federated-token");
    let path = token_file.0.join("token");
    std::fs::write(&path, idp.token(json!({}))).unwrap();

    let out = run_azure_identity(
        &running,
        &python,
        "workload_identity",
        &json!({
            "tenant_id": TENANT,
            "client_id": WORKLOAD,
            "token_file": path.display().to_string(),
            "authority": running.https(),
            "scope": format!("{API_URI}/.default"),
        }),
        &[],
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(WORKLOAD));
    assert!(principal.has_app_permission("Heroes.Read"));
    // azure-identity sent the file's token as a jwt-bearer client assertion.
    let token_request = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .unwrap();
    assert!(
        token_request
            .params
            .iter()
            .any(|(k, v)| k == "client_assertion_type" && v.ends_with("jwt-bearer")),
        "{}",
        running.log()
    );
    assert_eq!(token_request.status, 200);
}

#[tokio::test]
async fn managed_identity_credential_through_the_imds_endpoint() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    // azure-identity's IMDS client, pointed at the emulator as at a pod
    // identity endpoint: it probes without `Metadata` (the emulator refuses
    // that as IMDS does) and then asks with it.
    let env = vec![(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST",
        running.emulator.http_url(),
    )];
    let out = run_azure_identity(
        &running,
        &python,
        "managed_identity",
        &json!({"scope": format!("{API_URI}/.default"), "client_id": USER_CLIENT}),
        &env,
    )
    .await;
    let principal = heroes_principal(&running, &out).await;
    assert_eq!(principal.client_id(), Some(USER_CLIENT));
    assert!(
        running
            .emulator
            .requests()
            .iter()
            .any(|r| r.path == "/metadata/identity/oauth2/token" && r.status == 200),
        "{}",
        running.log()
    );
}
