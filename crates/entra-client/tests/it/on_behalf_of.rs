//! On-behalf-of: a middle-tier API exchanges the user's token it received
//! for a token to the heroes API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_client::{ClientCredential, ConfidentialClient, Error};
use entra_emulator::admin::MintRequest;
use entra_emulator::config::{Application, PasswordCredential, PermissionScope, ResourceAccess};
use entra_emulator::{Directory, Emulator};

const MIDDLE: &str = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const MIDDLE_URI: &str = "api://7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const MIDDLE_SECRET: &str = "middle-tier-dev-secret";
const OBO_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The demo directory plus a middle-tier API allowed to call the heroes
/// API for its users (Read and Write, admin-consented).
async fn start_obo() -> Emulator {
    let mut d = Directory::default_demo();
    d.tenants[0].applications.push(Application {
        app_id: MIDDLE.into(),
        display_name: "Heroes Middle Tier".into(),
        identifier_uris: vec![MIDDLE_URI.into()],
        access_token_accepted_version: Some(2),
        oauth2_permission_scopes: vec![PermissionScope {
            value: "access_as_user".into(),
            user_consent_description: "Call the middle tier as you".into(),
            r#type: "User".into(),
        }],
        password_credentials: vec![PasswordCredential {
            secret_text: MIDDLE_SECRET.into(),
            display_name: "dev".into(),
            end_date_time: None,
        }],
        required_resource_access: vec![ResourceAccess {
            resource_app_id: API.into(),
            scopes: vec!["Heroes.Read".into(), "Heroes.Write".into()],
            roles: vec![],
            admin_consented: true,
        }],
        ..Application::default()
    });
    start_with(d).await
}

fn middle_tier(emulator: &Emulator) -> ConfidentialClient {
    builder(emulator, MIDDLE)
        .build_confidential(ClientCredential::secret(MIDDLE_SECRET))
        .unwrap()
}

/// Alice's token for the middle tier, as the web app would send it.
fn incoming(emulator: &Emulator, user: &str) -> String {
    emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            MIDDLE,
            user,
            ["access_as_user"],
        ))
        .unwrap()
}

#[tokio::test]
async fn the_middle_tier_gets_a_downstream_token_for_the_user_and_caches_it() {
    let emulator = start_obo().await;
    let api = middle_tier(&emulator);
    let assertion = incoming(&emulator, ALICE);
    let token = api
        .acquire_token_on_behalf_of(&assertion, &[heroes("Read")])
        .await
        .unwrap();
    assert!(!token.from_cache());
    let principal = api_validator(&emulator)
        .await
        .validate(token.secret())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(MIDDLE));
    assert!(principal.has_scope("Heroes.Read") && !principal.has_scope("Heroes.Write"));

    // The same incoming token again: the cache, no request.
    let again = api
        .acquire_token_on_behalf_of(&assertion, &[heroes("Read")])
        .await
        .unwrap();
    assert!(again.from_cache());
    assert_eq!(token_requests(&emulator, OBO_GRANT), 1);

    // Another user's token never gets alice's cached token.
    let bobs = api
        .acquire_token_on_behalf_of(&incoming(&emulator, BOB), &[heroes("Read")])
        .await
        .unwrap();
    assert!(!bobs.from_cache());
    let bob = api_validator(&emulator)
        .await
        .validate(bobs.secret())
        .await
        .unwrap();
    assert_ne!(bob.object_id(), Some(ALICE_OID));
    assert_eq!(token_requests(&emulator, OBO_GRANT), 2);
}

#[tokio::test]
async fn concurrent_exchanges_of_one_token_make_one_request() {
    let emulator = start_obo().await;
    let api = middle_tier(&emulator);
    let assertion = incoming(&emulator, ALICE);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let api = api.clone();
            let assertion = assertion.clone();
            tokio::spawn(async move {
                api.acquire_token_on_behalf_of(&assertion, &[heroes("Write")])
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(token_requests(&emulator, OBO_GRANT), 1);
}

#[tokio::test]
async fn refusals_are_typed() {
    let emulator = start_obo().await;
    let api = middle_tier(&emulator);
    // A token for another audience (the heroes API itself): AADSTS50013.
    let foreign = emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            ALICE,
            ["Heroes.Read"],
        ))
        .unwrap();
    let err = api
        .acquire_token_on_behalf_of(&foreign, &[heroes("Read")])
        .await
        .unwrap_err();
    let Error::Authority(server) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(server.error, "invalid_grant");
    assert_eq!(server.aadsts, Some(50_013));
    assert!(server.trace_id.is_some() && server.correlation_id.is_some());
    // A scope the middle tier holds no consent for: interaction (consent) is needed upstream.
    let err = api
        .acquire_token_on_behalf_of(&incoming(&emulator, ALICE), &[heroes("Delete")])
        .await
        .unwrap_err();
    assert!(err.is_interaction_required(), "{err:?}");
    assert_eq!(err.aadsts(), Some(65_001));
    // No token, no scopes: refused before any request.
    let before = token_requests(&emulator, OBO_GRANT);
    assert!(matches!(
        api.acquire_token_on_behalf_of("  ", &[heroes("Read")])
            .await,
        Err(Error::Config(_))
    ));
    assert!(matches!(
        api.acquire_token_on_behalf_of::<&str>(&foreign, &[]).await,
        Err(Error::Config(_))
    ));
    assert_eq!(token_requests(&emulator, OBO_GRANT), before);
}
