//! entra-client's secretless credentials against the emulator's own
//! managed-identity endpoints and federated identity credentials: each token
//! is the one the heroes API's validator then accepts, with the identity's
//! object id and its app roles.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_client::{
    ClientAssertion, ClientCredential, Error, ManagedIdentityCredential, ManagedIdentityId,
    ManagedIdentitySource, RetryPolicy,
};
use entra_emulator::config::FederatedIdentityCredential;

use crate::common::{self, API_URI, DAEMON, TENANT};

/// The demo directory's system-assigned identity (default.toml).
const SYSTEM_PRINCIPAL: &str = "e1d2c3b4-a5f6-4789-8abc-def012345678";
/// The demo directory's user-assigned identity.
const USER_ASSIGNED_CLIENT: &str = "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f";
const USER_ASSIGNED_PRINCIPAL: &str = "b8d4f0a2-5c3e-4f9b-8a7d-2e4c6b8d0f3a";

fn api_default() -> String {
    format!("{API_URI}/.default")
}

fn app_service(emulator: &entra_emulator::Emulator) -> ManagedIdentitySource {
    ManagedIdentitySource::app_service(&emulator.identity_endpoint(), emulator.identity_header())
        .unwrap()
}

fn imds(emulator: &entra_emulator::Emulator) -> ManagedIdentitySource {
    ManagedIdentitySource::imds_at(&format!(
        "{}/metadata/identity/oauth2/token",
        emulator.http_url()
    ))
    .unwrap()
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

#[tokio::test]
async fn the_system_assigned_identity_calls_the_api_with_its_app_roles() {
    let emulator = common::start().await;
    let validator = common::api_validator(&emulator).await;
    let credential = ManagedIdentityCredential::builder()
        .source(app_service(&emulator))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let token = credential.get_token(&[api_default()]).await.unwrap();
    let principal = validator.validate(token.secret()).await.unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.object_id(), Some(SYSTEM_PRINCIPAL));
    assert_eq!(
        sorted(principal.roles()),
        ["Heroes.Delete", "Heroes.Read", "Heroes.Write"]
    );
    // Cached: the second call makes no request.
    let again = credential.get_token(&[api_default()]).await.unwrap();
    assert_eq!(again.secret(), token.secret());
}

#[tokio::test]
async fn a_user_assigned_identity_by_client_id_over_imds() {
    let emulator = common::start().await;
    let validator = common::api_validator(&emulator).await;
    let credential = ManagedIdentityCredential::builder()
        .source(imds(&emulator))
        .identity(ManagedIdentityId::ClientId(USER_ASSIGNED_CLIENT.into()))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let token = credential.get_token(&[api_default()]).await.unwrap();
    let principal = validator.validate(token.secret()).await.unwrap();
    assert_eq!(principal.object_id(), Some(USER_ASSIGNED_PRINCIPAL));
    assert_eq!(principal.client_id(), Some(USER_ASSIGNED_CLIENT));

    // An identity the resource does not have: the emulator's refusal,
    // not a token.
    let unknown = ManagedIdentityCredential::builder()
        .source(imds(&emulator))
        .identity(ManagedIdentityId::ClientId(
            "00000000-0000-4000-8000-00000000abcd".into(),
        ))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = unknown.get_token(&[api_default()]).await.unwrap_err();
    assert!(matches!(err, Error::ManagedIdentity { .. }), "{err:?}");
}

/// The daemon's registration trusts the user-assigned identity (issuer: the
/// tenant; subject: the identity's principal id), so the daemon signs in
/// with the identity's token as its assertion and keeps no secret.
#[tokio::test]
async fn a_managed_identity_is_the_daemons_federated_credential() {
    let emulator = common::start().await;
    let validator = common::api_validator(&emulator).await;
    emulator
        .add_federated_credential(
            TENANT,
            DAEMON,
            serde_json::from_value::<FederatedIdentityCredential>(serde_json::json!({
                "name": "heroes-identity",
                "issuer": emulator.issuer_v2(TENANT),
                "subject": USER_ASSIGNED_PRINCIPAL,
            }))
            .unwrap(),
        )
        .unwrap();
    let identity = |id: &str| {
        ManagedIdentityCredential::builder()
            .source(app_service(&emulator))
            .identity(ManagedIdentityId::ClientId(id.into()))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let daemon = common::builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::assertion(
            ClientAssertion::from_managed_identity(identity(USER_ASSIGNED_CLIENT)),
        ))
        .unwrap();
    let token = daemon
        .acquire_token_for_client(&[api_default()])
        .await
        .unwrap();
    let principal = validator.validate(token.secret()).await.unwrap();
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert!(principal.is_app_only());

    // The system-assigned identity's token is a real token of the same
    // issuer, but its subject is not the one the daemon trusts.
    let impostor = common::builder(&emulator, DAEMON)
        .build_confidential(ClientCredential::assertion(
            ClientAssertion::from_managed_identity(
                ManagedIdentityCredential::builder()
                    .source(app_service(&emulator))
                    .retry_policy(RetryPolicy::none())
                    .build()
                    .unwrap(),
            ),
        ))
        .unwrap();
    match impostor.acquire_token_for_client(&[api_default()]).await {
        Err(Error::Authority(server)) => {
            assert_eq!(server.error, "invalid_client", "{server:?}");
            assert!(
                server
                    .aadsts
                    .is_some_and(|code| code == 700213 || code == 70021),
                "{server:?}"
            );
        }
        other => panic!("expected the emulator's refusal, got {other:?}"),
    }
}
