//! `private_key_jwt`: client assertions signed with a registered certificate,
//! shaped as MSAL sends them (PS256 with a padded `x5t#S256`, float times),
//! and the ways they go wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use entra_emulator::config::KeyCredential;
use entra_emulator::{Directory, Emulator};
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An RSA key and its self-signed certificate.
struct Cert {
    key: RsaKeyPair,
    der: Vec<u8>,
    pem: String,
}

fn new_cert() -> Cert {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = key.as_der().unwrap().as_ref().to_vec();
    let signer = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8),
        &rcgen::PKCS_RSA_SHA256,
    )
    .unwrap();
    let cert = rcgen::CertificateParams::new(vec!["heroes-daemon".to_owned()])
        .unwrap()
        .self_signed(&signer)
        .unwrap();
    Cert {
        key,
        der: cert.der().to_vec(),
        pem: cert.pem(),
    }
}

/// The demo directory with `cert` registered on the daemon (which keeps its secret).
async fn start_with_cert(cert: &Cert) -> Emulator {
    let mut directory = Directory::default_demo();
    let daemon = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == DAEMON)
        .unwrap();
    daemon.key_credentials.push(KeyCredential {
        certificate_pem: cert.pem.clone(),
        display_name: "daemon certificate".into(),
    });
    start_with(directory).await
}

/// How an assertion's header names the certificate and which algorithm signs it.
#[derive(Clone, Copy)]
enum Style {
    /// MSAL's default: PS256, `x5t#S256` base64url with `=` padding.
    Msal,
    /// PS256, unpadded `x5t#S256`.
    Ps256,
    /// RS256 with the SHA-1 `x5t`.
    Rs256Sha1,
}

fn header(style: Style, cert: &Cert) -> Value {
    let sha256 = digest::digest(&digest::SHA256, &cert.der);
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der);
    match style {
        Style::Msal => json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE.encode(sha256)}),
        Style::Ps256 => {
            json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(sha256)})
        }
        Style::Rs256Sha1 => {
            json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(sha1)})
        }
    }
}

fn claims(emulator: &Emulator, now: f64) -> Value {
    json!({
        "aud": token_url(&emulator.http_url()),
        "iss": DAEMON,
        "sub": DAEMON,
        "jti": "0b3b5e0e-6f0f-4c63-9d0a-4a7e0e3b9a11",
        "iat": now,
        "exp": now + 600.25,
    })
}

fn sign(header: &Value, claims: &Value, key: &RsaKeyPair, alg: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let encoding: &'static dyn RsaEncoding = if alg == "PS256" {
        &RSA_PSS_SHA256
    } else {
        &RSA_PKCS1_SHA256
    };
    let mut signature = vec![0u8; key.public_modulus_len()];
    key.sign(
        encoding,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn assertion(emulator: &Emulator, cert: &Cert, style: Style) -> String {
    let header = header(style, cert);
    let alg = header["alg"].as_str().unwrap().to_owned();
    sign(
        &header,
        &claims(emulator, now_f64(emulator)),
        &cert.key,
        &alg,
    )
}

fn now_f64(emulator: &Emulator) -> f64 {
    emulator.now() as f64 + 0.325_074
}

async fn with_assertion(emulator: &Emulator, client_id: &str, assertion: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await
}

#[tokio::test]
async fn certificate_assertions_in_every_style_authenticate_the_daemon() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let validator = validator(&emulator).await;
    for style in [Style::Msal, Style::Ps256, Style::Rs256Sha1] {
        let (s, body) =
            with_assertion(&emulator, DAEMON, &assertion(&emulator, &cert, style)).await;
        assert_eq!(s, 200, "{body}");
        let principal = validator
            .validate(body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert!(principal.is_app_only());
        assert_eq!(principal.client_id(), Some(DAEMON));
        assert_eq!(principal.claims()["azpacr"], "2");
    }
}

#[tokio::test]
async fn client_id_may_come_from_the_assertion_alone() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            (
                "client_assertion",
                &assertion(&emulator, &cert, Style::Msal),
            ),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn assertion_signed_with_another_key_is_refused() {
    let cert = new_cert();
    let other = new_cert();
    let emulator = start_with_cert(&cert).await;
    // The registered certificate's thumbprint, another key's signature.
    let header = header(Style::Msal, &cert);
    let token = sign(
        &header,
        &claims(&emulator, now_f64(&emulator)),
        &other.key,
        "PS256",
    );
    let (s, b) = with_assertion(&emulator, DAEMON, &token).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700_027);
}

#[tokio::test]
async fn unregistered_certificate_is_refused() {
    let cert = new_cert();
    let other = new_cert();
    let emulator = start_with_cert(&cert).await;
    for style in [Style::Msal, Style::Rs256Sha1] {
        let (s, b) = with_assertion(&emulator, DAEMON, &assertion(&emulator, &other, style)).await;
        assert_aadsts(s, &b, 401, "invalid_client", 700_027);
    }
    // No thumbprint at all.
    let token = sign(
        &json!({"alg": "PS256", "typ": "JWT"}),
        &claims(&emulator, now_f64(&emulator)),
        &cert.key,
        "PS256",
    );
    let (s, b) = with_assertion(&emulator, DAEMON, &token).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700_027);
}

#[tokio::test]
async fn expired_assertion_is_refused() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let mut c = claims(&emulator, now_f64(&emulator));
    c["exp"] = json!(now_f64(&emulator) - 3600.0);
    c["iat"] = json!(now_f64(&emulator) - 4200.0);
    let token = sign(&header(Style::Msal, &cert), &c, &cert.key, "PS256");
    let (s, b) = with_assertion(&emulator, DAEMON, &token).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700_024);

    // A valid assertion, presented after the emulator's clock moved on.
    let token = assertion(&emulator, &cert, Style::Msal);
    emulator.set_clock_offset(3600);
    let (s, b) = with_assertion(&emulator, DAEMON, &token).await;
    assert_aadsts(s, &b, 401, "invalid_client", 700_024);
}

#[tokio::test]
async fn wrong_audience_or_issuer_is_refused() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let base = claims(&emulator, now_f64(&emulator));
    let mut cases = Vec::new();
    for (name, value) in [
        (
            "aud",
            json!("https://login.microsoftonline.com/common/oauth2/v2.0/token"),
        ),
        ("aud", json!(API)),
        ("iss", json!(WEB)),
        ("sub", json!(WEB)),
    ] {
        let mut c = base.clone();
        c[name] = value;
        cases.push(c);
    }
    let mut no_aud = base.clone();
    no_aud.as_object_mut().unwrap().remove("aud");
    cases.push(no_aud);
    for c in cases {
        let token = sign(&header(Style::Msal, &cert), &c, &cert.key, "PS256");
        let (s, b) = with_assertion(&emulator, DAEMON, &token).await;
        assert_aadsts(s, &b, 401, "invalid_client", 700_027);
    }
}

#[tokio::test]
async fn symmetric_unsigned_and_garbage_assertions_are_refused() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let c = claims(&emulator, now_f64(&emulator));
    let good = assertion(&emulator, &cert, Style::Msal);
    let parts: Vec<&str> = good.split('.').collect();
    let with_alg = |alg: &str, signature: &str| {
        let mut h = header(Style::Msal, &cert);
        h["alg"] = alg.into();
        format!(
            "{}.{}.{signature}",
            URL_SAFE_NO_PAD.encode(h.to_string()),
            URL_SAFE_NO_PAD.encode(c.to_string())
        )
    };
    let hs256 = with_alg("HS256", parts[2]);
    let none = with_alg("none", "");
    let none_upper = with_alg("None", "");
    for bad in [
        hs256.as_str(),
        none.as_str(),
        none_upper.as_str(),
        "garbage",
        "a.b.c",
        "e30.e30.e30",
        "....",
        &format!("{}.{}", parts[0], parts[1]),
    ] {
        let (s, b) = with_assertion(&emulator, DAEMON, bad).await;
        assert_aadsts(s, &b, 401, "invalid_client", 700_027);
    }
}

#[tokio::test]
async fn public_client_may_not_send_an_assertion() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let mut c = claims(&emulator, now_f64(&emulator));
    c["iss"] = json!(CLI);
    c["sub"] = json!(CLI);
    let token = sign(&header(Style::Msal, &cert), &c, &cert.key, "PS256");
    let (s, b) = with_assertion(&emulator, CLI, &token).await;
    assert_aadsts(s, &b, 400, "invalid_client", 700_025);
}

#[tokio::test]
async fn assertion_and_secret_together_or_a_wrong_type_are_refused() {
    let cert = new_cert();
    let emulator = start_with_cert(&cert).await;
    let token = assertion(&emulator, &cert, Style::Msal);
    let scope = format!("{API_URI}/.default");
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &token),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", &token),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_assertion", &token),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
}
