//! App-only tokens (client credentials) with a secret or a certificate,
//! cached and refreshed before the margin; errors typed with their AADSTS
//! code, trace id and correlation id; HTTPS with a caller-supplied client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::RsaKeyPair;
use base64::Engine as _;
use entra_client::{AssertionAlgorithm, Certificate, Client, ClientCredential, Error};
use entra_emulator::config::KeyCredential;
use entra_emulator::{Directory, Emulator};

const DEFAULT: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default";

#[tokio::test]
async fn a_daemon_gets_an_app_only_token_and_the_cache_serves_it() {
    let emulator = start().await;
    let daemon = daemon_client(&emulator);
    let token = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    assert!(!token.from_cache());
    assert!(token.account().is_none());
    assert_eq!(token.token_type(), "Bearer");
    let principal = api_validator(&emulator)
        .await
        .validate(token.secret())
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(
        principal.has_app_permission("Heroes.Read")
            && principal.has_app_permission("Heroes.Delete")
    );
    assert_eq!(principal.claims()["azpacr"], "1");

    let again = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    assert!(again.from_cache());
    assert_eq!(again.secret(), token.secret());
    assert_eq!(token_requests(&emulator, "client_credentials"), 1);
    assert!(!format!("{again:?}").contains(token.secret()));
}

#[tokio::test]
async fn the_app_token_is_replaced_before_it_expires() {
    let emulator = start().await;
    let clock = TestClock::default();
    let daemon = builder(&emulator, DAEMON)
        .clock(clock.clock())
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    let first = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    clock.advance(3000);
    assert!(
        daemon
            .acquire_token_for_client(&[DEFAULT])
            .await
            .unwrap()
            .from_cache()
    );
    clock.advance(301); // 299 seconds left < 5 minutes
    let second = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    assert!(!second.from_cache());
    assert_ne!(second.secret(), first.secret());
    assert_eq!(token_requests(&emulator, "client_credentials"), 2);
}

#[tokio::test]
async fn concurrent_requests_for_the_app_token_make_one_call() {
    let emulator = start().await;
    let daemon = daemon_client(&emulator);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let daemon = daemon.clone();
            tokio::spawn(async move { daemon.acquire_token_for_client(&[DEFAULT]).await })
        })
        .collect();
    let mut secrets = std::collections::HashSet::new();
    for task in tasks {
        secrets.insert(task.await.unwrap().unwrap().secret().to_owned());
    }
    assert_eq!(secrets.len(), 1);
    assert_eq!(token_requests(&emulator, "client_credentials"), 1);
}

#[tokio::test]
async fn concurrent_failures_are_shared_too() {
    let emulator = start().await;
    let daemon = builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::secret("wrong"))
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let daemon = daemon.clone();
            tokio::spawn(async move { daemon.acquire_token_for_client(&[DEFAULT]).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap_err().aadsts(), Some(7_000_215));
    }
    assert_eq!(token_requests(&emulator, "client_credentials"), 1);
}

#[tokio::test]
async fn a_wrong_secret_is_a_typed_error_with_trace_and_correlation_ids() {
    let emulator = start().await;
    let daemon = builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::secret("not-the-secret"))
        .unwrap();
    let err = daemon
        .acquire_token_for_client(&[DEFAULT])
        .await
        .unwrap_err();
    let Error::Authority(server) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(server.error, "invalid_client");
    assert_eq!(server.aadsts, Some(7_000_215));
    assert_eq!(server.error_codes, [7_000_215]);
    assert_eq!(server.status, Some(401));
    assert!(server.trace_id.is_some());
    assert!(server.timestamp.is_some());
    // The correlation id is the client-request-id the client sent (a GUID).
    let correlation = err.correlation_id().unwrap();
    assert_eq!(correlation.len(), 36, "{correlation}");
    let text = err.to_string();
    assert!(
        text.contains("AADSTS7000215") && text.contains(correlation),
        "{text}"
    );
    assert!(!text.contains("not-the-secret") && !format!("{err:?}").contains("not-the-secret"));
}

#[tokio::test]
async fn unknown_clients_and_scopes_are_typed_errors() {
    let emulator = start().await;
    let stranger = builder(&emulator, "00000000-1111-2222-3333-444444444444")
        .build_confidential(ClientCredential::secret("x"))
        .unwrap();
    let err = stranger
        .acquire_token_for_client(&[DEFAULT])
        .await
        .unwrap_err();
    assert_eq!(err.server_error().unwrap().error, "unauthorized_client");
    assert_eq!(err.aadsts(), Some(700_016));

    let daemon = daemon_client(&emulator);
    let err = daemon
        .acquire_token_for_client(&["api://00000000-0000-0000-0000-000000000001/.default"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Authority(_)), "{err:?}");
    // Not a .default scope: refused before any request.
    let before = all_token_requests(&emulator);
    for scopes in [
        vec![heroes("Read")],
        vec![],
        vec![DEFAULT.to_owned(), "api://other/.default".to_owned()],
    ] {
        let err = daemon.acquire_token_for_client(&scopes).await.unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err:?}");
    }
    assert_eq!(all_token_requests(&emulator), before);
}

#[tokio::test]
async fn an_unreachable_authority_is_a_transport_error() {
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let daemon = Client::builder(TENANT, DAEMON)
        .authority_host(format!("http://127.0.0.1:{port}"))
        .timeouts(Duration::from_secs(2), Duration::from_secs(5))
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    let err = daemon
        .acquire_token_for_client(&[DEFAULT])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Discovery { .. }), "{err:?}");
}

/// An RSA key (PKCS#8 PEM) and its self-signed certificate (PEM).
pub(crate) fn new_certificate() -> (String, String) {
    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = key.as_der().unwrap().as_ref().to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pkcs8);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let key_pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    let signer =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["heroes-daemon".to_owned()])
        .unwrap()
        .self_signed(&signer)
        .unwrap();
    (key_pem, cert.pem())
}

/// The demo directory with `certificate_pem` registered on the daemon.
async fn start_with_certificate(certificate_pem: &str) -> Emulator {
    let mut directory = Directory::default_demo();
    let daemon = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == DAEMON)
        .unwrap();
    daemon.key_credentials.push(KeyCredential {
        certificate_pem: certificate_pem.to_owned(),
        display_name: "daemon certificate".into(),
    });
    start_with(directory).await
}

#[tokio::test]
async fn a_certificate_signs_a_fresh_assertion_for_each_request() {
    let (key_pem, cert_pem) = new_certificate();
    let emulator = start_with_certificate(&cert_pem).await;
    for algorithm in [AssertionAlgorithm::Ps256, AssertionAlgorithm::Rs256] {
        let certificate = Certificate::from_pem(&key_pem, &cert_pem)
            .unwrap()
            .with_algorithm(algorithm);
        assert!(!format!("{certificate:?}").contains("PRIVATE"));
        let daemon = builder(&emulator, DAEMON)
            .build_confidential(ClientCredential::certificate(certificate))
            .unwrap();
        let token = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
        let principal = api_validator(&emulator)
            .await
            .validate(token.secret())
            .await
            .unwrap();
        assert_eq!(principal.claims()["azpacr"], "2", "{algorithm:?}");
    }
    // The assertion went in the form, never a secret; and key and
    // certificate in one PEM work too.
    let both = format!("{key_pem}{cert_pem}");
    let daemon = builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::certificate(
            Certificate::from_pem(&both, &both).unwrap(),
        ))
        .unwrap();
    daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    for record in emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
    {
        assert!(record.params.iter().any(|(k, _)| k == "client_assertion"));
        assert!(!record.params.iter().any(|(k, _)| k == "client_secret"));
    }
}

#[tokio::test]
async fn an_unregistered_certificate_is_refused_with_700027() {
    let (key_pem, cert_pem) = new_certificate();
    let (_, registered) = new_certificate();
    let emulator = start_with_certificate(&registered).await;
    let daemon = builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::certificate(
            Certificate::from_pem(&key_pem, &cert_pem).unwrap(),
        ))
        .unwrap();
    let err = daemon
        .acquire_token_for_client(&[DEFAULT])
        .await
        .unwrap_err();
    assert_eq!(err.aadsts(), Some(700_027), "{err:?}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_a_config_error() {
    let (key_pem, _) = new_certificate();
    let (_, other_cert) = new_certificate();
    assert!(matches!(
        Certificate::from_pem(&key_pem, &other_cert),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        Certificate::from_pem("no pem here", &other_cert),
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn https_with_a_client_that_trusts_the_emulators_ca() {
    let emulator = start().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(
            reqwest::Certificate::from_pem(emulator.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    let daemon = Client::builder(DOMAIN, DAEMON)
        .authority_host(emulator.https_url().unwrap())
        .http_client(http)
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    let endpoints = daemon.endpoints().await.unwrap();
    assert!(endpoints.token.as_str().starts_with("https://"));
    let token = daemon.acquire_token_for_client(&[DEFAULT]).await.unwrap();
    assert!(!token.secret().is_empty());

    // Without the CA, the TLS handshake fails: a transport error, not a token.
    let untrusting = Client::builder(DOMAIN, DAEMON)
        .authority_host(emulator.https_url().unwrap())
        .build_confidential(ClientCredential::secret(DAEMON_SECRET))
        .unwrap();
    let err = untrusting
        .acquire_token_for_client(&[DEFAULT])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Discovery { .. }), "{err:?}");
}
