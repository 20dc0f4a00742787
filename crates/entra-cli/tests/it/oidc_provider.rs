//! Generic OpenID Connect against an outside provider: panva's
//! oidc-provider (npm, pinned in `tests/it/oidc_provider/package.json`,
//! installed by `.ci/install-test-clients` into
//! `target/test-clients/oidc-provider`), started by the test on a free
//! port. `entra inspect --oidc-discovery-url` verifies its JWT access token
//! and refuses a tampered one; `entra api` with the same flags serves a
//! request that carries it.
//!
//! Without node or the package the tests are skipped with a message, unless
//! `CI` is set: then they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use crate::api_cli::{Running, TempDir, client, entra_api, wait_until_ready};

/// The running provider, killed on drop.
struct Provider {
    child: Child,
    issuer: String,
    client_id: String,
    client_secret: String,
    resource: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts `provider.mjs`, or `None` (skip) when it is not installed and
    /// `CI` is unset.
    fn start() -> Option<Provider> {
        let modules = node_modules()?;
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/oidc_provider/provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(&modules)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let started: Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("oidc-provider did not start ({e}): {first:?}"));
        let field = |name: &str| started[name].as_str().unwrap().to_owned();
        Some(Provider {
            issuer: field("issuer"),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
            resource: field("resource"),
            child,
        })
    }

    fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// A JWT access token for the resource, by client credentials.
    async fn token(&self, scope: &str) -> String {
        let response = client()
            .post(format!("{}/token", self.issuer))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("resource", &self.resource),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        let token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(token.split('.').count(), 3, "a JWT access token");
        token
    }
}

/// `target/test-clients/oidc-provider/node_modules` with oidc-provider, or
/// `None` (skip) locally.
fn node_modules() -> Option<PathBuf> {
    let root = std::env::var_os("ENTRA_TEST_CLIENTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-clients"));
    let modules = root.join("oidc-provider/node_modules");
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if node && modules.join("oidc-provider/package.json").is_file() {
        return Some(modules);
    }
    let message = "node and oidc-provider (target/test-clients/oidc-provider) are not installed: run .ci/install-test-clients";
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message} (CI is set, so this fails instead of skipping)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The token with its payload's `scope` changed, signature kept.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = entra_core::jws::split(token).unwrap().claims().unwrap();
    claims.insert("scope".into(), "Heroes.Read Heroes.Write".into());
    let payload = entra_core::jws::encode_segment(&serde_json::to_vec(&claims).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// `entra inspect` with no OIDC_*, AZURE_* or ENTRA_* variables.
async fn inspect(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
        command.arg("inspect").args(&args);
        for (name, _) in std::env::vars() {
            if name.starts_with("OIDC_") || name.starts_with("AZURE_") || name.starts_with("ENTRA_")
            {
                command.env_remove(name);
            }
        }
        command.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_verifies_an_oidc_provider_token_and_refuses_a_tampered_one() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let token = provider.token("Heroes.Read").await;
    let args = |token: &str, extra: &[&str]| {
        let mut args = vec![
            token.to_owned(),
            "--oidc-discovery-url".into(),
            provider.discovery_url(),
            "--oidc-issuer".into(),
            provider.issuer.clone(),
            "--audience".into(),
            provider.resource.clone(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };

    let valid = inspect(args(
        &token,
        &["--scope-claim", "scope", "--require", "Heroes.Read"],
    ))
    .await;
    let out = text(&valid);
    assert!(valid.status.success(), "{out}");
    assert!(
        out.contains(&format!("Checks against {}", provider.discovery_url())),
        "{out}"
    );
    assert!(out.contains("entra-auth: valid"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");

    // The payload changed under the provider's signature.
    let forged = inspect(args(&tampered(&token), &["--scope-claim", "scope"])).await;
    let out = text(&forged);
    assert_eq!(forged.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL signature"), "{out}");
    assert!(out.contains("entra-auth: rejected (401"), "{out}");

    // Its scopes are in `scope`: read as Entra's `scp`, the token grants nothing.
    let as_entra = inspect(args(&token, &[])).await;
    let out = text(&as_entra);
    assert_eq!(as_entra.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL kind"), "{out}");

    // Valid, but not what was required.
    let lacking = inspect(args(
        &token,
        &["--scope-claim", "scope", "--require", "Heroes.Write"],
    ))
    .await;
    let out = text(&lacking);
    assert_eq!(lacking.status.code(), Some(1), "{out}");
    assert!(out.contains("missing: Heroes.Write"), "{out}");

    // Another audience is refused.
    let mut other = args(&token, &["--scope-claim", "scope"]);
    other[6] = "https://other.example.test".into();
    let output = inspect(other).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("FAIL audience"), "{}", text(&output));

    // A discovery document naming another issuer is not trusted.
    let mut wrong_issuer = args(&token, &["--scope-claim", "scope"]);
    wrong_issuer[4] = "https://issuer.example.test".into();
    let output = inspect(wrong_issuer).await;
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        !text(&output).contains("entra-auth: valid"),
        "{}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn entra_api_accepts_an_oidc_provider_token() {
    let Some(provider) = Provider::start() else {
        return;
    };
    let token = provider.token("Heroes.Read").await;
    let dir = TempDir::new("oidc");
    let discovery = provider.discovery_url();
    let mut command = entra_api(&dir.0, &["--port", "0", "--audience", &provider.resource]);
    // The variables, as the issue names them; --scope-claim as a flag.
    command
        .env("OIDC_DISCOVERY_URL", &discovery)
        .env("OIDC_ISSUER", &provider.issuer)
        .args(["--scope-claim", "scope"]);
    let running = Running::start(command);
    assert!(
        running
            .banner
            .contains(&format!("OIDC:        {discovery}")),
        "{}",
        running.banner
    );
    let base = running.url("listening");
    wait_until_ready(&base).await;

    let heroes = client()
        .get(format!("{base}/heroes"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(heroes.status(), 200);

    let forged = client()
        .get(format!("{base}/heroes"))
        .bearer_auth(tampered(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    // Heroes.Write is not granted: 403 for a create.
    let create = client()
        .post(format!("{base}/heroes"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "Deadpond", "secret_name": "Dive Wilson"}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status(), 403);
}
