//! Issue 12, finding 8: files on disk. Everything in the data directory is
//! readable by its owner only (`0600` files in `0700` directories), the
//! administration journal keeps no password in clear, and the local CA can
//! certify the emulator's own names only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::browser::*;
use crate::common::*;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use rustls::client::danger::ServerCertVerifier as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde_json::{Value, json};

const CAROL: &str = "carol@contoso.onmicrosoft.com";
const CAROL_PASSWORD: &str = "carol-secret-passphrase-8";

/// The demo directory with the password grant on.
fn directory() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.allow_password_grant = true;
    directory
}

async fn start_in(data_dir: &Path, public_host: Option<&str>) -> Emulator {
    Emulator::start(EmulatorConfig {
        data_dir: Some(data_dir.to_owned()),
        public_host: public_host.map(str::to_owned),
        ..EmulatorConfig::for_tests(directory())
    })
    .await
    .unwrap()
}

/// Signs `user` in with the password grant; returns the status and body.
async fn password_grant(emulator: &Emulator, user: &str, password: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", user),
            ("password", password),
            (
                "scope",
                &format!("{API_URI}/Heroes.Read openid offline_access"),
            ),
        ],
    )
    .await
}

/// Adds carol through the administration API.
async fn add_carol(emulator: &Emulator) {
    let response = client(emulator)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/users",
            emulator.http_url()
        ))
        .json(&json!({
            "userPrincipalName": CAROL,
            "password": CAROL_PASSWORD,
            "displayName": "Carol",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let shown = response.text().await.unwrap();
    assert!(!shown.contains(CAROL_PASSWORD), "{shown}");
    assert!(!shown.contains("argon2"), "{shown}");
}

/// Every file and directory under `dir` (and `dir` itself), with its mode.
#[cfg(unix)]
fn modes(dir: &Path) -> Vec<(PathBuf, bool, u32)> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
        found.push((path, meta.is_dir(), meta.permissions().mode() & 0o7777));
    }
    found.sort();
    found
}

#[cfg(unix)]
#[tokio::test]
async fn finding_8_data_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = TempDir::new("finding-8-private");
    // The data directory exists already, readable by everyone: it is the
    // emulator's own, so it is made private.
    std::fs::set_permissions(&data.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let emulator = start_in(&data.0, None).await;

    // Every kind of file: keys (rotated), TLS, refresh tokens, consents, the journal.
    add_carol(&emulator).await;
    let (status, body) = password_grant(&emulator, ALICE, ALICE_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let rotate = client(&emulator)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/keys/rotate",
            emulator.http_url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(rotate.status(), 200);
    let redirect = interactive_code(
        &browser(&emulator),
        &emulator,
        &[
            ("client_id", WEB),
            ("response_type", "code"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", &api_scope("Read")),
            ("state", "s"),
        ],
    )
    .await;
    assert!(redirect.contains_key("code"), "{redirect:?}");

    let found = modes(&data.0);
    for expected in [
        "admin-journal.json",
        "refresh-tokens.json",
        "consents.json",
        "tls/ca.pem",
        "tls/ca.key",
        "tls/server.pem",
        "tls/server.key",
        &format!("keys/{TENANT}.json"),
    ] {
        assert!(
            found
                .iter()
                .any(|(path, _, _)| *path == data.0.join(expected)),
            "{expected} missing: {found:?}"
        );
    }
    for (path, is_dir, mode) in &found {
        let wanted = if *is_dir { 0o700 } else { 0o600 };
        assert_eq!(
            *mode,
            wanted,
            "{} is {mode:o}, not {wanted:o}",
            path.display()
        );
    }
    // No temporary file is left behind.
    assert!(
        found
            .iter()
            .all(|(path, _, _)| !path.to_string_lossy().ends_with(".tmp")),
        "{found:?}"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn finding_8_journal_stores_no_clear_password() {
    let data = TempDir::new("finding-8-journal");
    let emulator = start_in(&data.0, None).await;
    add_carol(&emulator).await;
    let journal = std::fs::read_to_string(data.0.join("admin-journal.json")).unwrap();
    assert!(!journal.contains(CAROL_PASSWORD), "{journal}");
    assert!(journal.contains("$argon2id$"), "{journal}");
    // The running emulator signs carol in.
    let (status, body) = password_grant(&emulator, CAROL, CAROL_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    emulator.shutdown().await;

    // After a restart, from the journal's hash: the right password only.
    let emulator = start_in(&data.0, None).await;
    let (status, body) = password_grant(&emulator, CAROL, CAROL_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = password_grant(&emulator, CAROL, "carol-wrong-password").await;
    assert_aadsts(status, &body, 400, "invalid_grant", 50_126);
    // Neither the administration API nor the directory shows the hash.
    let shown = client(&emulator)
        .get(format!(
            "{}/_emulator/tenants/{TENANT}",
            emulator.http_url()
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains(CAROL), "{shown}");
    assert!(
        !shown.contains("argon2") && !shown.contains("passwordHash"),
        "{shown}"
    );
    emulator.shutdown().await;

    // A journal an older version wrote, with the password in clear, still
    // replays, and is rewritten with a hash.
    let old = TempDir::new("finding-8-old-journal");
    std::fs::write(
        old.0.join("admin-journal.json"),
        json!([{
            "op": "addUser",
            "tenant": TENANT,
            "user": {
                "objectId": "d0d0d0d0-0000-4000-8000-000000000008",
                "userPrincipalName": CAROL,
                "password": CAROL_PASSWORD,
            },
        }])
        .to_string(),
    )
    .unwrap();
    let emulator = start_in(&old.0, None).await;
    let journal = std::fs::read_to_string(old.0.join("admin-journal.json")).unwrap();
    assert!(!journal.contains(CAROL_PASSWORD), "{journal}");
    assert!(journal.contains("$argon2id$"), "{journal}");
    let (status, body) = password_grant(&emulator, CAROL, CAROL_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    emulator.shutdown().await;
}

/// The local CA's subject.
const CA_NAME: &str = "entra-emulator local CA";

/// The parameters of a CA named [`CA_NAME`], without name constraints.
fn unconstrained_ca() -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, CA_NAME);
    params
}

/// A leaf certificate for `name`, signed with the key of the CA in
/// `tls_dir` (what anyone who copies that key can make).
fn leaf_signed_by_ca(tls_dir: &Path, name: &str) -> CertificateDer<'static> {
    let ca_key = std::fs::read_to_string(tls_dir.join("ca.key")).unwrap();
    let ca_key = rcgen::KeyPair::from_pem(&ca_key).unwrap();
    // The issuer's name and key are all a signature needs.
    let issuer = rcgen::Issuer::new(unconstrained_ca(), ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::NoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    params.signed_by(&key, &issuer).unwrap().der().clone()
}

/// Whether a client trusting `ca_pem` accepts `leaf` for `name`.
fn accepted(ca_pem: &str, leaf: &CertificateDer<'_>, name: &str) -> Result<(), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
    verifier
        .verify_server_cert(
            leaf,
            &[],
            &ServerName::try_from(name.to_owned()).unwrap(),
            &[],
            UnixTime::now(),
        )
        .map(|_| ())
}

#[tokio::test]
async fn finding_8_ca_has_name_constraints() {
    let data = TempDir::new("finding-8-ca");
    let tls = data.0.join("tls");
    let emulator = start_in(&data.0, Some("emulator.internal.test")).await;
    let ca = emulator.ca_pem().unwrap().to_owned();

    // Whoever copies the CA's key can make certificates for the emulator's
    // names only: a client trusting the CA refuses any other site.
    for name in [
        "localhost",
        "tenant.localhost",
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "emulator.internal.test",
    ] {
        let leaf = leaf_signed_by_ca(&tls, name);
        accepted(&ca, &leaf, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    for name in [
        "evil.example",
        "login.microsoftonline.com",
        "10.0.0.1",
        "2001:db8::1",
    ] {
        let leaf = leaf_signed_by_ca(&tls, name);
        assert!(accepted(&ca, &leaf, name).is_err(), "{name} was accepted");
    }
    // The emulator's own HTTPS listener answers for the public host too.
    let served = std::fs::read_to_string(tls.join("server.pem")).unwrap();
    let served = CertificateDer::from_pem_slice(served.as_bytes()).unwrap();
    accepted(&ca, &served, "emulator.internal.test").unwrap();
    accepted(&ca, &served, "localhost").unwrap();
    emulator.shutdown().await;

    // A CA stored without constraints (an older version's) is replaced.
    let old = TempDir::new("finding-8-old-ca");
    let old_tls = old.0.join("tls");
    std::fs::create_dir_all(&old_tls).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let params = unconstrained_ca();
    let unconstrained = params.self_signed(&ca_key).unwrap().pem();
    std::fs::write(old_tls.join("ca.pem"), &unconstrained).unwrap();
    std::fs::write(old_tls.join("ca.key"), ca_key.serialize_pem()).unwrap();
    let issuer = rcgen::Issuer::new(params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(old_tls.join("server.pem"), leaf.pem()).unwrap();
    std::fs::write(old_tls.join("server.key"), leaf_key.serialize_pem()).unwrap();

    let emulator = start_in(&old.0, None).await;
    let ca = emulator.ca_pem().unwrap().to_owned();
    assert_ne!(ca, unconstrained);
    assert_eq!(std::fs::read_to_string(old_tls.join("ca.pem")).unwrap(), ca);
    let evil = leaf_signed_by_ca(&old_tls, "evil.example");
    assert!(accepted(&ca, &evil, "evil.example").is_err());
    // And HTTPS works with the new CA.
    let discovery = client(&emulator)
        .get(format!(
            "{}/{TENANT}/v2.0/.well-known/openid-configuration",
            emulator.https_url().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.status(), 200);
    emulator.shutdown().await;
}
