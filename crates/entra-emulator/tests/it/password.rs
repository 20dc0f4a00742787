//! The resource-owner password grant: off by default, then checked users,
//! passwords and consent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_emulator::{Directory, Emulator};

async fn start_enabled() -> Emulator {
    let mut directory = Directory::default_demo();
    directory.settings.allow_password_grant = true;
    start_with(directory).await
}

fn read_scope() -> String {
    format!("{API_URI}/Heroes.Read openid profile offline_access")
}

#[tokio::test]
async fn password_grant_is_off_by_default() {
    let emulator = start().await;
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &read_scope()),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "unsupported_grant_type", 70_003);
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("allowPasswordGrant"),
        "{b}"
    );
}

#[tokio::test]
async fn public_client_gets_user_tokens() {
    let emulator = start_enabled().await;
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", "ALICE@contoso.onmicrosoft.com"),
            ("password", ALICE_PASSWORD),
            ("scope", &read_scope()),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["scope"],
        format!("{API_URI}/Heroes.Read openid profile offline_access")
    );
    assert!(body["id_token"].is_string());
    assert!(body["refresh_token"].is_string());
    assert!(body["client_info"].is_string());
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.scopes(), ["Heroes.Read"]);
    assert_eq!(principal.client_id(), Some(CLI));
    assert!(principal.has_role("Admin"));

    // Its refresh token works at the refresh-token grant.
    let (s, refreshed) = post_token(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    assert!(refreshed["id_token"].is_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_invalid_grant_50126() {
    let emulator = start_enabled().await;
    for (user, password) in [
        (ALICE, "wrong"),
        (ALICE, BOB_PASSWORD),
        ("nobody@contoso.onmicrosoft.com", ALICE_PASSWORD),
    ] {
        let (s, b) = post_token(
            &emulator,
            &[
                ("grant_type", "password"),
                ("client_id", CLI),
                ("username", user),
                ("password", password),
                ("scope", &read_scope()),
            ],
        )
        .await;
        assert_aadsts(s, &b, 400, "invalid_grant", 50_126);
    }
}

#[tokio::test]
async fn unconsented_scopes_need_consent() {
    let emulator = start_enabled().await;
    // The web app has no admin consent and nobody consented yet.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("username", BOB),
            ("password", BOB_PASSWORD),
            ("scope", &read_scope()),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 65_001);
    assert_eq!(b["suberror"], "consent_required");
}

#[tokio::test]
async fn password_grant_errors_are_entra_shaped() {
    let emulator = start_enabled().await;
    // A confidential client must authenticate.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", WEB),
            ("username", BOB),
            ("password", BOB_PASSWORD),
            ("scope", &read_scope()),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);

    for missing in ["username", "password", "scope"] {
        let scope = read_scope();
        let form: Vec<(&str, &str)> = [
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", scope.as_str()),
        ]
        .into_iter()
        .filter(|(k, _)| *k != missing)
        .collect();
        let (s, b) = post_token(&emulator, &form).await;
        assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    }

    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &format!("{API_URI}/Heroes.Fly")),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 70_011);
}

#[tokio::test]
async fn openid_only_request_gets_an_id_token() {
    let emulator = start_enabled().await;
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", BOB),
            ("password", BOB_PASSWORD),
            ("scope", "openid profile"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["id_token"].is_string());
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "openid profile");
}
