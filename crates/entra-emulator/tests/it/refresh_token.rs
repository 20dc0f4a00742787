//! Refresh tokens over real HTTP: rotation, reuse revoking the family (with
//! `refreshTokenReuse = "detect"`; Entra's default, where a used token stays
//! valid, is in `finding_10`), expiry, client binding, consent,
//! multi-resource scopes, storage by digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;
use entra_emulator::config::RefreshTokenReuse;
use entra_emulator::{Emulator, EmulatorConfig};
use serde_json::Value;

/// A SPA refresh token for alice (with `openid` and `offline_access`).
async fn spa_refresh_token(emulator: &Emulator) -> String {
    let scope = format!("openid profile offline_access {}", api_scope("Read"));
    let (code, verifier) = spa_code(emulator, &scope, "n").await;
    let (status, body) = redeem_spa(emulator, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_owned()
}

async fn refresh(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("grant_type", "refresh_token")];
    all.extend_from_slice(form);
    post_token(emulator, &all).await
}

#[tokio::test]
async fn each_use_rotates_and_with_reuse_detection_a_reuse_revokes_the_family() {
    let mut directory = auto_login_directory();
    directory.settings.refresh_token_reuse = RefreshTokenReuse::Detect;
    let emulator = start_with(directory).await;
    let first = spa_refresh_token(&emulator).await;
    let scope = format!("openid profile offline_access {}", api_scope("Read"));
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", SPA),
            ("refresh_token", &first),
            ("scope", &scope),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let second = b["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(b["client_info"].is_string());
    let id = b["id_token"].as_str().unwrap();
    assert_signed_by_tenant(&emulator, id).await;
    assert_eq!(claims(id)["aud"], SPA);
    let principal = validator(&emulator)
        .await
        .validate(b["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.has_scope("Heroes.Read"));
    assert!(principal.has_role("Admin"));

    // The rotated token keeps working (and rotates again).
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", SPA),
            ("refresh_token", &second),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let third = b["refresh_token"].as_str().unwrap().to_owned();

    // Replaying the first (spent) token revokes the whole family.
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", SPA),
            ("refresh_token", &first),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", SPA),
            ("refresh_token", &third),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
}

#[tokio::test]
async fn a_refresh_token_serves_any_consented_scope_and_only_those() {
    let emulator = start_with(auto_login_directory()).await;
    let token = spa_refresh_token(&emulator).await;
    // Heroes.Delete was not asked at sign-in but is (admin-)consented for the SPA.
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", SPA),
            ("refresh_token", &token),
            ("scope", &api_scope("Delete")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["scp"],
        "Heroes.Delete"
    );
    assert!(b["refresh_token"].is_string());
    // No scope: the sign-in scopes.
    let next = b["refresh_token"].as_str().unwrap();
    let (s, b) = refresh(&emulator, &[("client_id", SPA), ("refresh_token", next)]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        claims(b["access_token"].as_str().unwrap())["scp"],
        "Heroes.Read"
    );
}

#[tokio::test]
async fn a_confidential_client_authenticates_and_needs_consent() {
    let emulator = start_with(auto_login_directory()).await;
    let browser = browser(&emulator);
    let scope = format!("openid offline_access {}", api_scope("Read"));
    let redirect = interactive_code(
        &browser,
        &emulator,
        &[
            ("client_id", WEB),
            ("response_type", "code"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", &scope),
            ("login_hint", ALICE),
        ],
    )
    .await;
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("code", &redirect["code"]),
            ("redirect_uri", WEB_REDIRECT),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let token = b["refresh_token"].as_str().unwrap().to_owned();

    // Without the secret.
    let (s, b) = refresh(&emulator, &[("client_id", WEB), ("refresh_token", &token)]).await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);
    // A scope the user never consented to.
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("refresh_token", &token),
            ("scope", &api_scope("Delete")),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 65_001);
    assert_eq!(b["suberror"], "consent_required");
    // The refused attempts did not spend the token.
    let (s, b) = refresh(
        &emulator,
        &[
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("refresh_token", &token),
            ("scope", &api_scope("Read")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(claims(b["access_token"].as_str().unwrap())["azpacr"], "1");
}

#[tokio::test]
async fn expired_foreign_and_unknown_tokens_are_refused() {
    let emulator = start_with(auto_login_directory()).await;
    let token = spa_refresh_token(&emulator).await;
    // Another client.
    let (s, b) = refresh(&emulator, &[("client_id", CLI), ("refresh_token", &token)]).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_000);
    // Unknown.
    let (s, b) = refresh(
        &emulator,
        &[("client_id", SPA), ("refresh_token", "made-up-token")],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "invalid_grant");
    // Missing.
    let (s, b) = refresh(&emulator, &[("client_id", SPA)]).await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
    // Expired (90 days by default).
    emulator.set_clock_offset(91 * 24 * 3600);
    let (s, b) = refresh(&emulator, &[("client_id", SPA), ("refresh_token", &token)]).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 700_082);
}

#[tokio::test]
async fn only_digests_of_refresh_tokens_are_stored() {
    let dir = std::env::temp_dir().join(format!(
        "entra-emulator-refresh-{}-{}",
        std::process::id(),
        emulator_nonce()
    ));
    let mut config = EmulatorConfig::for_tests(auto_login_directory());
    config.data_dir = Some(dir.clone());
    let emulator = Emulator::start(config).await.unwrap();
    let token = spa_refresh_token(&emulator).await;
    let stored = std::fs::read_to_string(dir.join("refresh-tokens.json")).unwrap();
    assert!(!stored.contains(&token));
    let digest = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            token.as_bytes(),
        ))
    };
    assert!(stored.contains(&digest));
    drop(emulator);
    let _ = std::fs::remove_dir_all(&dir);
}

fn emulator_nonce() -> String {
    let (verifier, _) = pkce();
    verifier[..12].to_owned()
}
