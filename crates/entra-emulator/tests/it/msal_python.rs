//! Microsoft's MSAL Python 1.39 against the emulator, unchanged: an HTTPS
//! authority with a tenant segment, the emulator's CA trusted through
//! `REQUESTS_CA_BUNDLE`, every access token validated with `entra-auth`.
//!
//! The client runs as a child process (`tests/it/clients/python/msal_flows.py`)
//! from the virtualenv `.ci/install-test-clients` makes. Without it the tests
//! skip locally and fail under CI (`CI` set).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::clients::*;
use crate::common::*;
use entra_emulator::Directory;
use entra_emulator::config::KeyCredential;
use serde_json::{Value, json};

fn heroes_default() -> String {
    format!("{API_URI}/.default")
}

fn heroes_read() -> String {
    format!("{API_URI}/Heroes.Read")
}

fn assert_ok(result: &Value, running: &Running) {
    assert!(
        result["access_token"].is_string(),
        "MSAL got no token: {result:#}\nemulator saw:\n{}",
        running.log()
    );
}

/// Validates an access token for the heroes API with entra-auth.
async fn validate(running: &Running, token: &str) -> entra_auth::Principal {
    validator(&running.emulator)
        .await
        .validate(token)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "entra-auth refused MSAL's token: {e}\n{:#}",
                jwt_claims(token)
            )
        })
}

#[tokio::test]
async fn client_credentials_with_a_secret() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let out = run_python(
        &running,
        &python,
        "client_credentials",
        &json!({
            "authority": running.authority(),
            "client_id": DAEMON,
            "client_secret": DAEMON_SECRET,
            "scopes": [heroes_default()],
        }),
    )
    .await;
    let first = &out["first"];
    assert_ok(first, &running);
    assert_eq!(first["token_type"], "Bearer");
    assert_eq!(first["token_source"], "identity_provider");
    assert!(first["expires_in"].as_i64().unwrap() > 0);
    // MSAL caches it: the second call never reaches the emulator.
    assert_eq!(out["second_source"], "cache", "{out:#}");
    assert_eq!(out["second_same"], true);
    let tokens_requested = running
        .emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(tokens_requested, 1, "{}", running.log());

    let principal = validate(&running, first["access_token"].as_str().unwrap()).await;
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(principal.has_app_permission("Heroes.Read"));
    assert_eq!(principal.claims()["azpacr"], "1");
    // MSAL sent the secret in the body, no instance discovery.
    let token_request = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert!(
        token_request
            .params
            .iter()
            .any(|(k, _)| k == "client_secret")
    );
    assert!(
        !running
            .emulator
            .requests()
            .iter()
            .any(|r| r.path == "/common/discovery/instance")
    );
}

#[tokio::test]
async fn client_credentials_with_instance_discovery_on_the_emulator() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let out = run_python(
        &running,
        &python,
        "client_credentials",
        &json!({
            "authority": running.authority(),
            "instance_discovery_url": format!("{}/common/discovery/instance", running.https()),
            "client_id": DAEMON,
            "client_secret": DAEMON_SECRET,
            "scopes": [heroes_default()],
        }),
    )
    .await;
    assert_ok(&out["first"], &running);
    let discovery = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path == "/common/discovery/instance")
        .unwrap_or_else(|| panic!("MSAL did not ask the emulator:\n{}", running.log()));
    assert_eq!(discovery.status, 200);
    validate(&running, out["first"]["access_token"].as_str().unwrap()).await;
}

/// A self-signed RSA certificate: (certificate PEM, PKCS#8 key PEM, SHA-1 hex).
fn certificate() -> (String, String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Heroes Daemon (test)");
    let cert = params.self_signed(&key).unwrap();
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der());
    let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    (cert.pem(), key.serialize_pem(), hex)
}

fn with_daemon_certificate(cert_pem: &str) -> Directory {
    let mut directory = directory();
    let daemon = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == DAEMON)
        .unwrap();
    daemon.key_credentials.push(KeyCredential {
        certificate_pem: cert_pem.to_owned(),
        display_name: "test certificate".into(),
    });
    directory
}

async fn certificate_case(public_certificate: bool) {
    let Some(python) = python() else { return };
    let (cert_pem, key_pem, sha1_hex) = certificate();
    let running = launch(with_daemon_certificate(&cert_pem)).await;
    let mut args = json!({
        "authority": running.authority(),
        "client_id": DAEMON,
        "private_key": key_pem,
        "scopes": [heroes_default()],
    });
    if public_certificate {
        // No thumbprint: MSAL computes x5t#S256, signs PS256 and sends x5c.
        args["public_certificate"] = json!(cert_pem);
    } else {
        // A SHA-1 thumbprint: MSAL signs RS256 with x5t.
        args["thumbprint"] = json!(sha1_hex);
    }
    let out = run_python(&running, &python, "client_certificate", &args).await;
    let first = &out["first"];
    assert_ok(first, &running);
    let token_request = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert!(
        token_request
            .params
            .iter()
            .any(|(k, v)| k == "client_assertion_type"
                && v == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        "{token_request:?}"
    );
    assert!(
        !token_request
            .params
            .iter()
            .any(|(k, _)| k == "client_secret")
    );
    let principal = validate(&running, first["access_token"].as_str().unwrap()).await;
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert_eq!(principal.claims()["azpacr"], "2", "certificate: azpacr 2");
}

#[tokio::test]
async fn client_credentials_with_a_certificate_and_sha1_thumbprint() {
    certificate_case(false).await;
}

#[tokio::test]
async fn client_credentials_with_a_certificate_ps256_and_x5t_s256() {
    certificate_case(true).await;
}

#[tokio::test]
async fn wrong_secret_surfaces_as_an_aadsts_error_in_msal() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let out = run_python(
        &running,
        &python,
        "client_credentials",
        &json!({
            "authority": running.authority(),
            "client_id": DAEMON,
            "client_secret": "not-the-secret",
            "scopes": [heroes_default()],
        }),
    )
    .await;
    let first = &out["first"];
    assert_eq!(first["error"], "invalid_client", "{first:#}");
    assert_eq!(first["error_codes"][0], 7_000_215, "{first:#}");
    assert!(
        first["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:")
    );
}

#[tokio::test]
async fn authorization_code_with_pkce_then_refresh() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let out = run_python(
        &running,
        &python,
        "auth_code",
        &json!({
            "authority": running.authority(),
            "client_id": WEB,
            "client_secret": WEB_SECRET,
            "scopes": [heroes_read()],
            "redirect_uri": WEB_REDIRECT,
            "login_hint": ALICE,
        }),
    )
    .await;
    let result = &out["code_result"];
    assert_ok(result, &running);
    assert!(
        out["redirect"].as_str().unwrap().starts_with(WEB_REDIRECT),
        "{out:#}"
    );

    // What MSAL sent to /authorize: PKCE S256, client_info, a hashed nonce.
    let authorize = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/authorize"))
        .unwrap();
    let param = |name: &str| {
        authorize
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(param("login_hint").as_deref(), Some(ALICE));
    let sent_nonce = param("nonce").unwrap();

    // The ID token: MSAL checked the nonce itself; check the rest.
    let id = &result["id_token_claims"];
    assert_eq!(id["aud"], WEB, "{id:#}");
    assert_eq!(id["tid"], TENANT);
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["preferred_username"], ALICE);
    assert_eq!(id["nonce"], sent_nonce.as_str());
    assert_eq!(id["iss"], running.emulator.issuer_v2(TENANT));
    // client_info made the account `oid.tid`.
    let client = client_info(result["client_info"].as_str().unwrap());
    assert_eq!(client["uid"], ALICE_OID);
    assert_eq!(client["utid"], TENANT);
    let accounts = out["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1, "{out:#}");
    assert_eq!(
        accounts[0]["home_account_id"],
        format!("{ALICE_OID}.{TENANT}")
    );
    assert_eq!(accounts[0]["username"], ALICE);
    assert!(
        result["refresh_token"].is_string(),
        "offline_access: {result:#}"
    );

    let principal = validate(&running, result["access_token"].as_str().unwrap()).await;
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(WEB));
    assert!(
        principal.has_scope("Heroes.Read"),
        "{:?}",
        principal.scopes()
    );
    assert!(!principal.is_app_only());

    // acquire_token_silent: from the cache, then forced through the refresh token.
    assert_eq!(out["silent_source"], "cache", "{out:#}");
    let refreshed = &out["refreshed"];
    assert_ok(refreshed, &running);
    assert_eq!(refreshed["token_source"], "identity_provider");
    let refresh = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| {
            r.path.ends_with("/token")
                && r.params
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == "refresh_token")
        })
        .unwrap_or_else(|| panic!("no refresh request:\n{}", running.log()));
    assert_eq!(refresh.status, 200);
    let principal = validate(&running, refreshed["access_token"].as_str().unwrap()).await;
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert!(principal.has_scope("Heroes.Read"));
}

#[tokio::test]
async fn device_code_flow_approved_on_the_verification_page() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let (program, argv, env) = python_command(
        &running,
        &python,
        "device",
        &json!({
            "authority": running.authority(),
            "client_id": CLI,
            "scopes": [heroes_read()],
        }),
    );
    let mut process = spawn(&program, &argv, &env);
    let first = process.next_json().await;
    let Some(flow) = first.as_ref().map(|v| v["device_flow"].clone()) else {
        let (lines, stderr) = process.finish().await;
        panic!(
            "no device flow from MSAL\n{}\n{stderr}\n{}",
            lines.join("\n"),
            running.log()
        );
    };
    let (Some(user_code), Some(verification_uri)) = (
        flow["user_code"].as_str(),
        flow["verification_uri"].as_str(),
    ) else {
        let (lines, stderr) = process.finish().await;
        panic!(
            "initiate_device_flow failed: {flow:#}\n{}\n{stderr}\n{}",
            lines.join("\n"),
            running.log()
        );
    };
    assert!(flow["message"].as_str().unwrap().contains(user_code));
    assert!(flow.get("verification_uri_complete").is_none());

    // The person at the browser: enters the code, signs in as alice, accepts.
    let pages = click_through(
        &browser(&running),
        verification_uri,
        &Answers {
            user_code: user_code.to_owned(),
            username: ALICE.to_owned(),
            password: ALICE_PASSWORD.to_owned(),
        },
    )
    .await;
    let (lines, stderr) = process.finish().await;
    let result = lines
        .iter()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["result"].clone())
        .unwrap_or(Value::Null);
    let trail: Vec<String> = pages
        .iter()
        .map(|(s, u, h)| format!("{s} {u}: {}", strip_tags(h)))
        .collect();
    assert!(
        result["access_token"].is_string(),
        "device flow failed: {result:#}\npages:\n{}\nstderr:\n{stderr}\nemulator saw:\n{}",
        trail.join("\n"),
        running.log()
    );
    let principal = validate(&running, result["access_token"].as_str().unwrap()).await;
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(CLI));
    assert!(principal.has_scope("Heroes.Read"));
    assert_eq!(principal.claims()["azpacr"], "0", "public client");
    // MSAL polled with the device-code grant, sent both `device_code` and `code`.
    let polls: Vec<_> = running
        .emulator
        .requests()
        .into_iter()
        .filter(|r| {
            r.params
                .iter()
                .any(|(k, v)| k == "grant_type" && v.ends_with("device_code"))
        })
        .collect();
    assert!(!polls.is_empty());
    assert_eq!(polls.last().unwrap().status, 200);
}

#[tokio::test]
async fn on_behalf_of_a_signed_in_user() {
    let Some(python) = python() else { return };
    let running = launch(directory()).await;
    let middle_scope = format!("{MIDDLE_URI}/access_as_user");
    let out = run_python(
        &running,
        &python,
        "on_behalf_of",
        &json!({
            "web": {
                "authority": running.authority(),
                "client_id": WEB,
                "client_secret": WEB_SECRET,
                "scopes": [middle_scope],
                "redirect_uri": WEB_REDIRECT,
                "login_hint": ALICE,
            },
            "middle": {
                "authority": running.authority(),
                "client_id": MIDDLE,
                "client_secret": MIDDLE_SECRET,
                "scopes": [heroes_read()],
            },
        }),
    )
    .await;
    let user = &out["user"];
    assert_ok(user, &running);
    let user_claims = jwt_claims(user["access_token"].as_str().unwrap());
    assert_eq!(user_claims["aud"], MIDDLE, "{user_claims:#}");
    let obo = &out["obo"];
    assert_ok(obo, &running);
    let principal = validate(&running, obo["access_token"].as_str().unwrap()).await;
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(MIDDLE));
    assert!(principal.has_scope("Heroes.Read"));
    assert_eq!(principal.claims()["azpacr"], "1");
    // A second exchange of the same assertion works too (MSAL Python 1.39
    // goes to the token endpoint again: its OBO does not read the cache).
    assert_eq!(out["obo_again_ok"], true, "{out:#}");
    let exchange = running
        .emulator
        .requests()
        .into_iter()
        .find(|r| {
            r.params.iter().any(|(k, v)| {
                k == "grant_type" && v == "urn:ietf:params:oauth:grant-type:jwt-bearer"
            })
        })
        .unwrap();
    assert!(
        exchange
            .params
            .iter()
            .any(|(k, v)| k == "requested_token_use" && v == "on_behalf_of")
    );
}
