//! `entra inspect` as a process, against an in-process emulator: each check
//! reported on its own line, entra-auth's verdict last, exit code 1 when the
//! token is not valid for the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";

async fn emulator() -> Emulator {
    let mut config = EmulatorConfig::for_tests(Directory::default_demo());
    config.https_addr = None;
    Emulator::start(config).await.unwrap()
}

/// Runs `entra inspect` off the async runtime, with no AZURE_* variables
/// from the environment.
async fn inspect(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_entra"));
        command.arg("inspect").args(&args);
        for name in [
            "AZURE_CLIENT_ID",
            "AZURE_TENANT_ID",
            "AZURE_AUTHORITY_HOST",
            "ENTRA_CA_FILE",
        ] {
            command.env_remove(name);
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

/// Standard output, then standard error (for failure messages).
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn line<'a>(stdout: &'a str, check: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(check))
        .unwrap_or_else(|| panic!("no {check} line in:\n{stdout}"))
}

#[tokio::test]
async fn a_valid_token_passes_every_check_and_entra_auth_agrees() {
    let emulator = emulator().await;
    let token = emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            "alice@contoso.onmicrosoft.com",
            ["Heroes.Read"],
        ))
        .unwrap();
    let output = inspect(vec![
        token,
        "--authority-host".into(),
        emulator.http_url(),
        "--client-id".into(),
        API.into(),
        "--require".into(),
        "Heroes.Read".into(),
    ])
    .await;
    let stdout = text(&output);
    assert!(output.status.success(), "{stdout}");
    for check in [
        "signature",
        "issuer",
        "audience",
        "lifetime",
        "tenant",
        "scopes",
    ] {
        assert!(
            line(&stdout, check).trim_start().starts_with("ok"),
            "{stdout}"
        );
    }
    assert!(line(&stdout, "scopes").contains("delegated; scp: Heroes.Read"));
    // Times are shown for people, with the raw value.
    assert!(stdout.contains(" UTC, in 6"), "{stdout}");
    assert!(
        stdout.contains("entra-auth: valid: a delegated token"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_tampered_token_fails_the_signature_check_and_exits_1() {
    let emulator = emulator().await;
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    // Re-sign nothing: swap the payload for one with more roles.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let forged = emulator
        .mint_access_token(
            MintRequest::app_only(TENANT, DAEMON, API).claim("roles", serde_json::json!(["Admin"])),
        )
        .unwrap();
    parts[1] = forged.split('.').nth(1).unwrap().to_owned();
    let output = inspect(vec![
        parts.join("."),
        "--authority-host".into(),
        emulator.http_url(),
        "--client-id".into(),
        API.into(),
    ])
    .await;
    let stdout = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(line(&stdout, "signature").contains("FAIL"), "{stdout}");
    assert!(line(&stdout, "audience").trim_start().starts_with("ok"));
    assert!(stdout.contains("entra-auth: rejected (401"), "{stdout}");
}

#[tokio::test]
async fn wrong_audience_and_missing_permission_are_named() {
    let emulator = emulator().await;
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let other_api = "11111111-2222-3333-4444-555555555555";
    let output = inspect(vec![
        token.clone(),
        "--authority-host".into(),
        emulator.http_url(),
        "--client-id".into(),
        other_api.into(),
    ])
    .await;
    let stdout = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(line(&stdout, "audience").contains(&format!("api://{other_api}")));

    let output = inspect(vec![
        token,
        "--authority-host".into(),
        emulator.http_url(),
        "--client-id".into(),
        API.into(),
        "--require".into(),
        "Heroes.Admin".into(),
    ])
    .await;
    let stdout = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        line(&stdout, "scopes").contains("missing: Heroes.Admin"),
        "{stdout}"
    );
    assert!(stdout.contains("lacks what was required: Heroes.Admin"));
}

#[tokio::test]
async fn without_a_client_id_it_only_decodes_and_garbage_is_explained() {
    let emulator = emulator().await;
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let output = inspect(vec![format!("Bearer {token}")]).await;
    let stdout = text(&output);
    assert!(output.status.success());
    assert!(stdout.contains("alg  RS256"), "{stdout}");
    assert!(stdout.contains("decoded only"));
    assert!(!stdout.contains("Checks"));

    let output = inspect(vec!["not-a-token".into()]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("3 dot-separated parts"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1);
}
