//! The web app with its managed identity as the federated credential of its
//! app registration (`entra web --managed-identity-assertion`): Heroes Web
//! has no secret at all in the emulator's directory, trusts the demo's
//! user-assigned identity, and the web app redeems codes with that
//! identity's token (from the emulator's App Service-style endpoint) as its
//! client assertion. Once the registration no longer trusts the identity,
//! the sign-in ends on an error page naming Entra's refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_client::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, RetryPolicy,
};
use entra_emulator::Directory;
use entra_emulator::config::FederatedIdentityCredential;

use crate::common::*;

/// The demo directory's user-assigned identity (default.toml).
const IDENTITY_CLIENT_ID: &str = "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f";
const IDENTITY_PRINCIPAL_ID: &str = "b8d4f0a2-5c3e-4f9b-8a7d-2e4c6b8d0f3a";
const CREDENTIAL_NAME: &str = "heroes-web-identity";
/// The demo directory's system-assigned identity: not the web app's.
const OTHER_PRINCIPAL_ID: &str = "e1d2c3b4-a5f6-4789-8abc-def012345678";

/// The demo directory without Heroes Web's secret.
fn directory_without_web_secret() -> Directory {
    let mut directory = Directory::default_demo();
    let web = directory.tenants[0]
        .applications
        .iter_mut()
        .find(|a| a.app_id == WEB)
        .unwrap();
    assert!(
        !web.password_credentials.is_empty(),
        "the demo has a secret"
    );
    web.password_credentials.clear();
    directory
}

async fn start() -> Stack {
    let stack = StackBuilder {
        directory: directory_without_web_secret(),
        ..StackBuilder::default()
    }
    .tweak_with_emulator(|config, emulator| {
        config.client_secret.clear();
        config.managed_identity_assertion = Some(
            ManagedIdentityCredential::builder()
                .source(
                    ManagedIdentitySource::app_service(
                        &emulator.identity_endpoint(),
                        emulator.identity_header(),
                    )
                    .unwrap(),
                )
                .identity(ManagedIdentityId::ClientId(IDENTITY_CLIENT_ID.into()))
                .retry_policy(RetryPolicy::none())
                .build()
                .unwrap(),
        );
    })
    .start()
    .await;
    stack
        .emulator
        .add_federated_credential(
            TENANT,
            WEB,
            serde_json::from_value::<FederatedIdentityCredential>(serde_json::json!({
                "name": CREDENTIAL_NAME,
                "issuer": stack.emulator.issuer_v2(TENANT),
                "subject": IDENTITY_PRINCIPAL_ID,
                "audiences": ["api://AzureADTokenExchange"],
            }))
            .unwrap(),
        )
        .unwrap();
    stack
}

#[tokio::test]
async fn the_web_app_signs_in_with_its_managed_identity_and_no_secret() {
    let stack = start().await;
    assert!(stack.config.client_secret.is_empty());
    let rendered = format!("{:?}", stack.config);
    assert!(
        rendered.contains(IDENTITY_CLIENT_ID),
        "the identity is shown: {rendered}"
    );
    assert!(
        !rendered.contains(stack.emulator.identity_header()),
        "the identity header is not: {rendered}"
    );

    // Sign-in: the code is redeemed with the identity's token as the
    // assertion (Heroes Web has no secret to redeem it with).
    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    assert!(home.body.contains("Alice Admin"), "{}", home.body);
    // The start page lists the heroes with the user's token from the API.
    assert!(home.body.contains("No heroes yet."), "{}", home.body);

    // The same session keeps calling the API: a hero is created.
    let created = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", "Ada Lovelace"), ("secret_name", "Countess")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let home = browser.home(&stack).await;
    assert!(home.body.contains("Ada Lovelace"), "{}", home.body);

    // The registration stops trusting the identity (its federated
    // credential is removed; another identity's remains, so that the app
    // stays a confidential client): the next sign-in fails with Entra's
    // refusal on an error page, not a session and not a 500.
    stack
        .emulator
        .add_federated_credential(
            TENANT,
            WEB,
            serde_json::from_value::<FederatedIdentityCredential>(serde_json::json!({
                "name": "another-identity",
                "issuer": stack.emulator.issuer_v2(TENANT),
                "subject": OTHER_PRINCIPAL_ID,
            }))
            .unwrap(),
        )
        .unwrap();
    stack
        .emulator
        .remove_federated_credential(TENANT, WEB, CREDENTIAL_NAME)
        .unwrap();
    let other = Browser::new();
    let answer = other.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("Sign-in failed"), "{}", answer.body);
    assert!(answer.body.contains("invalid_client"), "{}", answer.body);
    assert!(
        answer.body.contains("AADSTS700211") || answer.body.contains("AADSTS700213"),
        "{}",
        answer.body
    );
    let home = other.home(&stack).await;
    assert!(!home.is_signed_in_home(), "{}", home.body);
}

#[tokio::test]
async fn one_credential_only() {
    let identity = ManagedIdentityCredential::builder()
        .source(
            ManagedIdentitySource::imds_at("http://127.0.0.1:9/metadata/identity/oauth2/token")
                .unwrap(),
        )
        .build()
        .unwrap();
    // The demo secret and the identity together: refused at start.
    let mut both = demo_web::WebConfig::demo("http://localhost:9000");
    both.session_backend = demo_web::SessionBackend::Memory;
    both.managed_identity_assertion = Some(identity.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = demo_web::DemoWeb::start(both, listener)
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("set one"), "{error}");

    // The identity alone: starts (nothing is asked before a sign-in).
    let mut alone = demo_web::WebConfig::demo("http://localhost:9000");
    alone.session_backend = demo_web::SessionBackend::Memory;
    alone.client_secret.clear();
    alone.managed_identity_assertion = Some(identity);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let web = demo_web::DemoWeb::start(alone, listener).await.unwrap();
    web.shutdown().await;
}
