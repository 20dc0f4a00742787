//! The `protected_api` example, run as its own process and configured only by
//! environment variables, protects `/heroes` exactly as documented.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::{self, MockAuthority, get_with_token};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `cargo test` builds examples next to the test binaries: target/<profile>/examples.
fn example_binary() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let path = deps
        .parent()
        .unwrap()
        .join("examples")
        .join("protected_api");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test`",
        path.display()
    );
    path
}

#[tokio::test]
async fn example_protects_heroes_configured_by_environment_alone() {
    let authority = MockAuthority::start().await;
    let mut child = Command::new(example_binary())
        .env("AZURE_AUTHORITY_HOST", authority.base())
        .env("AZURE_TENANT_ID", authority.issuer.tenant_id())
        .env("AZURE_CLIENT_ID", authority.issuer.client_id())
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the example prints its address")
        .to_owned();

    let health = common::client()
        .get(format!("{base}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let url = format!("{base}/heroes");
    let none = common::answer(common::client().get(&url).send().await.unwrap()).await;
    assert_eq!(
        (none.status, none.challenge.as_deref()),
        (401, Some("Bearer"))
    );

    let user = get_with_token(&url, &authority.issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_eq!(user.status, 200, "{user:?}");
    assert!(user.body.contains("Deadpond"));

    let daemon = get_with_token(&url, &authority.issuer.app_only(["Heroes.Read"]).sign()).await;
    assert_eq!(daemon.status, 200, "{daemon:?}");

    let wrong = get_with_token(&url, &authority.issuer.delegated(["Heroes.Write"]).sign()).await;
    assert_eq!(wrong.status, 403);

    let forged = get_with_token(
        &url,
        &authority.issuer.delegated(["Heroes.Read"]).expired().sign(),
    )
    .await;
    assert!(forged.is_invalid_token(), "{forged:?}");
    drop(child);
}

#[test]
fn example_refuses_to_start_without_its_configuration() {
    let output = Command::new(example_binary())
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("AZURE_TENANT_ID"));
}

/// Generic OpenID Connect, by flags alone: the discovery URL, the issuer it
/// must name, and scopes read from `scope` (RFC 9068).
#[tokio::test]
async fn example_accepts_any_oidc_provider_by_flags() {
    let authority = MockAuthority::start().await;
    let tid = authority.issuer.tenant_id().to_owned();
    let mut command = Command::new(example_binary());
    for name in ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_AUTHORITY_HOST"] {
        command.env_remove(name);
    }
    let mut child = command
        .args([
            "--oidc-discovery-url",
            &format!(
                "{}/{tid}/v2.0/.well-known/openid-configuration",
                authority.base()
            ),
            "--oidc-issuer",
            &authority.issuer.issuer_v2(),
            "--client-id",
            authority.issuer.client_id(),
            "--scope-claim",
            "scope",
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Killed(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .expect("the example prints its address")
        .to_owned();
    let url = format!("{base}/heroes");
    let rfc9068 = |scope: &str| {
        authority
            .issuer
            .delegated(Vec::<String>::new())
            .without("scp")
            .claim("scope", scope)
            .sign()
    };
    let ok = get_with_token(&url, &rfc9068("Heroes.Read")).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    let lacking = get_with_token(&url, &rfc9068("Heroes.Write")).await;
    assert_eq!(lacking.status, 403, "{lacking:?}");
    // Entra's `scp` is not read for this provider.
    let entra = get_with_token(&url, &authority.issuer.delegated(["Heroes.Read"]).sign()).await;
    assert!(entra.is_invalid_token(), "{entra:?}");
    drop(child);
}
