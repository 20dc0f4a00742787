//! The emulator as a library inside a test: start it, mint tokens for any
//! user, client, scopes and claims, rotate keys, read the request log, move
//! the clock, change the directory, and check everything with entra-auth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_emulator::admin::MintRequest;
use entra_emulator::config::{Application, ResourceAccess, RoleAssignment, User};
use entra_emulator::{Directory, Emulator, EmulatorConfig};

#[tokio::test]
async fn starts_on_a_random_loopback_port() {
    let emulator = Emulator::start(EmulatorConfig {
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    assert!(emulator.http_addr().ip().is_loopback());
    assert_ne!(emulator.http_addr().port(), 0);
    assert!(emulator.https_url().is_none());
    assert!(
        emulator
            .http_url()
            .ends_with(&emulator.http_addr().port().to_string())
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn minted_tokens_for_any_user_client_scopes_and_claims_validate() {
    let emulator = start().await;
    let validator = validator(&emulator).await;

    let alice = emulator
        .mint_access_token(
            MintRequest::delegated(
                TENANT,
                WEB,
                API_URI,
                ALICE,
                ["Heroes.Read", "Heroes.Delete"],
            )
            .claim("ctry", "NL")
            .claim("acrs", serde_json::json!(["c1"])),
        )
        .unwrap();
    let principal = validator.validate(&alice).await.unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(WEB));
    assert_eq!(principal.tenant_id(), Some(TENANT));
    assert_eq!(principal.scopes(), ["Heroes.Read", "Heroes.Delete"]);
    assert!(principal.has_role("Admin"));
    assert_eq!(principal.claims()["ctry"], "NL");
    assert_eq!(principal.claims()["acrs"][0], "c1");
    assert!(!principal.is_app_only());

    // Bob by UPN, through the CLI client, with a full scope string.
    let bob = emulator
        .mint_access_token(MintRequest::delegated(
            DOMAIN,
            CLI,
            API,
            BOB,
            [format!("{API_URI}/Heroes.Write")],
        ))
        .unwrap();
    let principal = validator.validate(&bob).await.unwrap();
    assert_eq!(principal.username(), Some(BOB));
    assert_eq!(principal.scopes(), ["Heroes.Write"]);
    assert_eq!(principal.roles(), ["User"]);

    // App-only: the daemon's granted application permissions.
    let daemon = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    let principal = validator.validate(&daemon).await.unwrap();
    assert!(principal.is_app_only());
    let mut roles = principal.roles().to_vec();
    roles.sort();
    assert_eq!(roles, ["Heroes.Delete", "Heroes.Read", "Heroes.Write"]);

    // A client the directory does not know, with roles set by hand.
    let stranger = "0f0f0f0f-0000-4000-8000-000000000001";
    let token = emulator
        .mint_access_token(
            MintRequest::app_only(TENANT, stranger, API)
                .claim("roles", serde_json::json!(["Heroes.Read"])),
        )
        .unwrap();
    let principal = validator.validate(&token).await.unwrap();
    assert_eq!(principal.client_id(), Some(stranger));
    assert_eq!(principal.roles(), ["Heroes.Read"]);

    // Claims override the computed ones: an `aud` for another API is refused.
    let token = emulator
        .mint_access_token(
            MintRequest::app_only(TENANT, DAEMON, API)
                .claim("aud", "99999999-9999-4999-8999-999999999999"),
        )
        .unwrap();
    assert!(validator.validate(&token).await.is_err());

    // Bad requests are errors, never panics.
    for bad in [
        MintRequest::app_only("fabrikam.com", DAEMON, API),
        MintRequest::app_only(TENANT, DAEMON, "api://unknown"),
        MintRequest::app_only(TENANT, "not-a-guid", API),
        MintRequest::delegated(TENANT, WEB, API, "zed@contoso.onmicrosoft.com", ["x"]),
    ] {
        assert!(emulator.mint_access_token(bad).is_err());
    }
}

#[tokio::test]
async fn rotated_keys_sign_new_tokens_and_old_ones_stay_valid_in_the_grace_period() {
    let emulator = start().await;
    let validator = validator(&emulator).await;
    let before = daemon_token(&emulator).await;
    validator.validate(&before).await.unwrap();

    let kid = emulator.rotate_keys(TENANT).unwrap();
    let after = emulator
        .mint_access_token(MintRequest::app_only(TENANT, DAEMON, API))
        .unwrap();
    assert_eq!(header_kid(&after), kid);
    assert_ne!(header_kid(&before), kid);
    // The new signer was published before the rotation: a validator that
    // loaded the key set earlier verifies it without fetching anything.
    let fetches = validator.key_fetches();
    validator.validate(&after).await.unwrap();
    assert_eq!(validator.key_fetches(), fetches);
    validator.refresh().await.unwrap();
    validator.validate(&after).await.unwrap();
    validator.validate(&before).await.unwrap();

    // A second rotation keeps both earlier keys within the grace period.
    emulator.rotate_keys(TENANT).unwrap();
    validator.refresh().await.unwrap();
    validator.validate(&before).await.unwrap();
    validator.validate(&after).await.unwrap();
    assert!(emulator.rotate_keys("no-such-tenant").is_err());
}

#[tokio::test]
async fn grace_period_ends_and_old_tokens_stop_validating() {
    let mut directory = Directory::default_demo();
    directory.settings.key_rotation_grace = 60;
    let emulator = start_with(directory).await;
    let validator = validator(&emulator).await;
    let before = daemon_token(&emulator).await;
    emulator.rotate_keys(TENANT).unwrap();
    // Past the grace period on the emulator's clock, the old key is no longer published.
    emulator.set_clock_offset(120);
    validator.refresh().await.unwrap();
    assert!(validator.validate(&before).await.is_err());
    emulator.set_clock_offset(0);
}

fn header_kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_request_log_shows_what_clients_sent_without_secrets() {
    let emulator = start().await;
    daemon_token(&emulator).await;
    let log = emulator.requests();
    let record = log
        .iter()
        .find(|r| r.path.ends_with("/oauth2/v2.0/token"))
        .expect("the token request is logged");
    assert_eq!(record.method, "POST");
    assert_eq!(record.status, 200);
    let param = |name: &str| {
        record
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(param("grant_type"), Some("client_credentials"));
    assert_eq!(param("client_id"), Some(DAEMON));
    assert_eq!(param("client_secret"), Some("***"));
}

#[tokio::test]
async fn a_shifted_or_fixed_clock_makes_minted_tokens_expired() {
    let emulator = start().await;
    let validator = validator(&emulator).await;
    let request = || MintRequest::app_only(TENANT, DAEMON, API);

    // Two hours ago, a one-hour token: expired now.
    emulator.set_clock_offset(-2 * 3600);
    let token = emulator.mint_access_token(request()).unwrap();
    assert!(matches!(
        validator.validate(&token).await,
        Err(entra_auth::Error::InvalidToken(
            entra_auth::InvalidToken::Expired
        ))
    ));

    emulator.set_clock_offset(0);
    let now = emulator.now();
    emulator.set_clock(Some(now - 3 * 3600));
    assert_eq!(emulator.now(), now - 3 * 3600);
    let token = emulator.mint_access_token(request()).unwrap();
    assert!(matches!(
        validator.validate(&token).await,
        Err(entra_auth::Error::InvalidToken(
            entra_auth::InvalidToken::Expired
        ))
    ));

    emulator.set_clock(None);
    let token = emulator.mint_access_token(request()).unwrap();
    validator.validate(&token).await.unwrap();

    // A token minted with an explicit past expiry is refused too.
    let token = emulator
        .mint_access_token(request().claim("exp", emulator.now() - 3600))
        .unwrap();
    assert!(validator.validate(&token).await.is_err());
}

#[tokio::test]
async fn directory_changes_through_the_library() {
    let emulator = start().await;
    let validator = validator(&emulator).await;
    let erin = User {
        object_id: "e1e1e1e1-0000-4000-8000-000000000001".into(),
        user_principal_name: "erin@contoso.onmicrosoft.com".into(),
        password: "erin-dev-password".into(),
        display_name: "Erin".into(),
        app_role_assignments: vec![RoleAssignment {
            resource_app_id: API.into(),
            app_role: "Admin".into(),
        }],
        ..User::default()
    };
    emulator.add_user(DOMAIN, erin.clone()).unwrap();
    assert!(emulator.add_user(DOMAIN, erin.clone()).is_err());
    let token = emulator
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            "erin@contoso.onmicrosoft.com",
            ["Heroes.Read"],
        ))
        .unwrap();
    assert!(validator.validate(&token).await.unwrap().has_role("Admin"));
    emulator
        .remove_user(TENANT, "ERIN@contoso.onmicrosoft.com")
        .unwrap();
    assert!(
        emulator
            .remove_user(TENANT, "erin@contoso.onmicrosoft.com")
            .is_err()
    );

    let app = Application {
        app_id: "a1a1a1a1-0000-4000-8000-000000000001".into(),
        display_name: "Reporter".into(),
        required_resource_access: vec![ResourceAccess {
            resource_app_id: API.into(),
            scopes: vec![],
            roles: vec!["Heroes.Read".into()],
            admin_consented: true,
        }],
        ..Application::default()
    };
    emulator.add_application(TENANT, app.clone()).unwrap();
    assert!(emulator.add_application(TENANT, app.clone()).is_err());
    let token = emulator
        .mint_access_token(MintRequest::app_only(TENANT, &app.app_id, API))
        .unwrap();
    assert_eq!(
        validator.validate(&token).await.unwrap().roles(),
        ["Heroes.Read"]
    );
    // Invalid: a role the API does not have; nothing changes.
    let before = emulator.directory();
    let mut bad = app.clone();
    bad.app_id = "a1a1a1a1-0000-4000-8000-000000000002".into();
    bad.required_resource_access[0].roles = vec!["Heroes.Fly".into()];
    assert!(emulator.add_application(TENANT, bad).is_err());
    assert_eq!(emulator.directory(), before);
    // Removing the API others depend on is refused.
    assert!(emulator.remove_application(TENANT, API).is_err());
    emulator.remove_application(TENANT, &app.app_id).unwrap();
    assert!(emulator.remove_application(TENANT, &app.app_id).is_err());
    assert!(emulator.add_user("fabrikam.com", erin).is_err());
}
