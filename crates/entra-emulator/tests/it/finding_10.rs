//! Issue 12, finding 10: refresh tokens as Entra treats them. A used refresh
//! token stays valid until it expires (every use still answers with a new
//! one), so two processes sharing one token cache both refresh; the strict
//! reuse detection of RFC 9700 §4.14.2 (a spent token revokes its family) is
//! the `refreshTokenReuse = "detect"` setting. A second redemption of an
//! authorization code still revokes what the first issued, and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;
use entra_emulator::{Directory, Emulator};
use serde_json::Value;

/// Alice's SPA refresh token (`openid profile offline_access Heroes.Read`).
async fn spa_refresh_token(emulator: &Emulator) -> String {
    let scope = format!("openid profile offline_access {}", api_scope("Read"));
    let (code, verifier) = spa_code(emulator, &scope, "n").await;
    let (status, body) = redeem_spa(emulator, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_owned()
}

/// Uses `token` as the SPA would (cross-origin).
async fn refresh(emulator: &Emulator, token: &str) -> (u16, Value) {
    post_spa_token(
        emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", token),
            (
                "scope",
                &format!("openid profile offline_access {}", api_scope("Read")),
            ),
        ],
    )
    .await
}

/// A successful refresh: its new refresh token, after checking the access
/// token validates for the API.
async fn refreshed(emulator: &Emulator, token: &str) -> String {
    let (status, body) = refresh(emulator, token).await;
    assert_eq!(status, 200, "{body}");
    let principal = validator(emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.has_scope("Heroes.Read"));
    let next = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, token, "each use answers with a new refresh token");
    next
}

/// The demo directory (auto sign-in) with `refreshTokenReuse = "detect"`,
/// set by name as in the configuration file.
fn detecting_directory() -> Directory {
    let mut directory = serde_json::to_value(auto_login_directory()).unwrap();
    directory["settings"]["refreshTokenReuse"] = "detect".into();
    serde_json::from_value(directory).unwrap()
}

#[tokio::test]
async fn finding_10_a_used_refresh_token_stays_valid_by_default() {
    let emulator = start_with(auto_login_directory()).await;
    let first = spa_refresh_token(&emulator).await;
    let second = refreshed(&emulator, &first).await;
    // The used token again: still good, as in Entra, and rotated again.
    let third = refreshed(&emulator, &first).await;
    assert_ne!(third, second);
    // Nothing was revoked: the siblings work, and the first still does.
    refreshed(&emulator, &second).await;
    refreshed(&emulator, &third).await;
    refreshed(&emulator, &first).await;
    // Until it expires (90 days by default).
    emulator.set_clock_offset(91 * 24 * 3600);
    let (s, b) = refresh(&emulator, &first).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 700_082);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finding_10_two_clients_sharing_a_cache_both_refresh() {
    let emulator = start_with(auto_login_directory()).await;
    let mut shared = spa_refresh_token(&emulator).await;
    // Two processes hold the one cached token and refresh at the same time,
    // round after round; the cache keeps whichever answer was written last.
    for _ in 0..5 {
        let ((s1, b1), (s2, b2)) =
            tokio::join!(refresh(&emulator, &shared), refresh(&emulator, &shared));
        assert_eq!(s1, 200, "{b1}");
        assert_eq!(s2, 200, "{b2}");
        let (r1, r2) = (
            b1["refresh_token"].as_str().unwrap(),
            b2["refresh_token"].as_str().unwrap(),
        );
        assert_ne!(r1, r2);
        // The one that lost the cache race is not poisoned either.
        refreshed(&emulator, r1).await;
        shared = r2.to_owned();
    }
    refreshed(&emulator, &shared).await;
}

#[tokio::test]
async fn finding_10_strict_reuse_detection_is_a_setting() {
    let emulator = start_with(detecting_directory()).await;
    let first = spa_refresh_token(&emulator).await;
    let second = refreshed(&emulator, &first).await;
    // The spent token comes back: refused, and its family revoked.
    let (s, b) = refresh(&emulator, &first).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
    let description = b["error_description"].as_str().unwrap();
    assert!(description.contains("already used"), "{description}");
    let (s, b) = refresh(&emulator, &second).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
    // Another sign-in is another family, untouched.
    let other = spa_refresh_token(&emulator).await;
    refreshed(&emulator, &other).await;
}

#[tokio::test]
async fn finding_10_code_reuse_has_its_own_message() {
    let emulator = start_with(auto_login_directory()).await;
    let scope = format!("openid offline_access {}", api_scope("Read"));
    let (code, verifier) = spa_code(&emulator, &scope, "n").await;
    let (s, first) = redeem_spa(&emulator, &code, &verifier).await;
    assert_eq!(s, 200, "{first}");
    let token = first["refresh_token"].as_str().unwrap();
    let rotated = refreshed(&emulator, token).await;

    // The code again: Entra's AADSTS54005.
    let (s, b) = redeem_spa(&emulator, &code, &verifier).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 54_005);
    let description = b["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(
            "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token."
        ),
        "{description}"
    );

    // What the first redemption issued is revoked (RFC 6749 §4.1.2), and the
    // refusal says why: the code, not a reused refresh token.
    for dead in [token, rotated.as_str()] {
        let (s, b) = refresh(&emulator, dead).await;
        assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
        let description = b["error_description"].as_str().unwrap();
        assert!(
            description.contains("authorization code") && description.contains("redeemed twice"),
            "{description}"
        );
        assert!(!description.contains("already used"), "{description}");
    }
}
