//! The authorization-code grant against the emulator over real HTTP: the
//! web client (consent page, secret) and the SPA (PKCE, no secret), tokens
//! validated by entra-auth, and every refusal with its AADSTS code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;
use base64::Engine as _;

#[tokio::test]
async fn web_client_signs_in_consents_and_redeems_with_its_secret() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let (verifier, challenge) = pkce();
    let scope = format!(
        "openid profile offline_access {} {}",
        api_scope("Read"),
        api_scope("Write")
    );
    let nonce = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6abcd";
    let params = [
        ("client_id", WEB),
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", scope.as_str()),
        ("state", "st-123"),
        ("nonce", nonce),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    // Sign-in page, then the consent page listing the scopes.
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert_eq!(page.status, 200);
    assert!(page.is_sign_in());
    let page = sign_in_as(&browser, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.is_consent(), "{}", page.body);
    assert!(page.body.contains("Heroes.Read") && page.body.contains("Heroes.Write"));
    assert!(!page.body.contains("Heroes.Delete"));
    let page = submit(&browser, &emulator, &page, &[("action", "accept")]).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location().unwrap();
    assert!(
        location.starts_with(&format!("{WEB_REDIRECT}?")),
        "{location}"
    );
    let redirect = page.redirect_params();
    assert_eq!(redirect["state"], "st-123");
    assert!(redirect["code"].len() >= 43);
    assert!(redirect.contains_key("session_state"));

    let (status, body) = post_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("code", &redirect["code"]),
            ("redirect_uri", WEB_REDIRECT),
            ("code_verifier", &verifier),
            ("client_info", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_i64() && body["ext_expires_in"].is_i64());
    let granted = body["scope"].as_str().unwrap();
    for s in [
        &api_scope("Read"),
        &api_scope("Write"),
        "openid",
        "offline_access",
    ] {
        assert!(granted.split(' ').any(|g| g == s), "{granted}");
    }
    assert!(body["refresh_token"].is_string());

    let access = body["access_token"].as_str().unwrap();
    let principal = validator(&emulator).await.validate(access).await.unwrap();
    assert!(!principal.is_app_only());
    assert_eq!(principal.client_id(), Some(WEB));
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));
    assert!(!principal.has_scope("Heroes.Delete"));
    assert!(principal.has_role("Admin") && principal.has_role("User"));
    assert_eq!(principal.claims()["azpacr"], "1");

    let id_token = body["id_token"].as_str().unwrap();
    assert_signed_by_tenant(&emulator, id_token).await;
    let id = claims(id_token);
    assert_eq!(id["nonce"], nonce);
    assert_eq!(id["aud"], WEB);
    assert_eq!(id["iss"], emulator.issuer_v2(TENANT));
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["preferred_username"], ALICE);
    assert!(id.get("at_hash").is_none() && id.get("c_hash").is_none());

    let info = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body["client_info"].as_str().unwrap())
        .unwrap();
    let info: serde_json::Value = serde_json::from_slice(&info).unwrap();
    assert_eq!(info["uid"], ALICE_OID);
    assert_eq!(info["utid"], TENANT);

    // Single sign-on, consent remembered: straight back with a code.
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(page.redirect_params().contains_key("code"));
}

#[tokio::test]
async fn spa_redeems_with_pkce_and_no_secret() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let (verifier, challenge) = pkce();
    // The SPA's permissions are admin-consented: no consent page.
    let scope = format!("openid profile {}", api_scope("Read"));
    let page = get(
        &browser,
        &authorize_url(
            &emulator,
            &[
                ("client_id", SPA),
                ("response_type", "code"),
                ("redirect_uri", SPA_REDIRECT),
                ("scope", &scope),
                ("state", "x"),
                ("nonce", "n-0S6_WzA2Mj"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("response_mode", "fragment"),
            ],
        ),
    )
    .await;
    let page = sign_in_as(&browser, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location().unwrap();
    assert!(
        location.starts_with(&format!("{SPA_REDIRECT}#code=")),
        "{location}"
    );
    let code = page.redirect_params()["code"].clone();
    let (status, body) = redeem_spa(&emulator, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.client_id(), Some(SPA));
    assert_eq!(principal.claims()["azpacr"], "0");
    assert!(principal.has_scope("Heroes.Read"));
    // No offline_access: no refresh token.
    assert!(body.get("refresh_token").is_none());
    assert_eq!(
        claims(body["id_token"].as_str().unwrap())["nonce"],
        "n-0S6_WzA2Mj"
    );
}

#[tokio::test]
async fn openid_only_gives_a_graph_token_and_the_scope_defaults_to_the_authorize_one() {
    let emulator = start_with(auto_login_directory()).await;
    let (code, verifier) = spa_code(&emulator, "openid profile", "n").await;
    let (status, body) = redeem_spa(&emulator, &code, &verifier).await;
    assert_eq!(status, 200, "{body}");
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(access["aud"], "00000003-0000-0000-c000-000000000000");
    assert!(body["id_token"].is_string());
    assert_eq!(body["scope"], "openid profile");
}

#[tokio::test]
async fn token_scope_must_be_a_subset_of_the_authorize_scopes() {
    let emulator = start_with(auto_login_directory()).await;
    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let (s, b) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &verifier),
            ("scope", &api_scope("Delete")),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 70_011);

    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let (s, b) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &verifier),
            ("scope", &api_scope("Read")),
        ],
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], api_scope("Read"));
}

#[tokio::test]
async fn web_codes_need_the_client_secret() {
    let emulator = start_with(auto_login_directory()).await;
    let browser = browser(&emulator);
    let scope = format!("openid {}", api_scope("Read"));
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
            ("code", &redirect["code"]),
            ("redirect_uri", WEB_REDIRECT),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);
    // The code is still good for its owner with the secret.
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
}

#[tokio::test]
async fn an_expired_code_is_refused_with_70008() {
    let emulator = start_with(auto_login_directory()).await;
    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    emulator.set_clock_offset(601);
    let (s, b) = redeem_spa(&emulator, &code, &verifier).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
}

#[tokio::test]
async fn a_reused_code_is_refused_with_54005_and_revokes_the_first_tokens() {
    let emulator = start_with(auto_login_directory()).await;
    let scope = format!("openid offline_access {}", api_scope("Read"));
    let (code, verifier) = spa_code(&emulator, &scope, "n").await;
    let (s, first) = redeem_spa(&emulator, &code, &verifier).await;
    assert_eq!(s, 200, "{first}");
    let refresh = first["refresh_token"].as_str().unwrap();

    let (s, b) = redeem_spa(&emulator, &code, &verifier).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 54_005);

    // The refresh token of the first redemption is dead.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", refresh),
            ("scope", &api_scope("Read")),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_008);
}

#[tokio::test]
async fn pkce_mismatch_missing_verifier_and_downgrade_are_refused() {
    let emulator = start_with(auto_login_directory()).await;
    // Wrong verifier.
    let (code, _) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let (other, _) = pkce();
    let (s, b) = redeem_spa(&emulator, &code, &other).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 501_481);
    // The code is gone after a failed verification.
    let (s, b) = redeem_spa(&emulator, &code, &other).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_000);

    // Missing verifier.
    let (code, _) = spa_code(&emulator, &api_scope("Read"), "n").await;
    let (s, b) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 501_481);

    // Downgrade: no challenge at authorize (the web client), a verifier at the token endpoint.
    let browser = browser(&emulator);
    let redirect = interactive_code(
        &browser,
        &emulator,
        &[
            ("client_id", WEB),
            ("response_type", "code"),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", &api_scope("Read")),
            ("login_hint", ALICE),
        ],
    )
    .await;
    let (verifier, _) = pkce();
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("code", &redirect["code"]),
            ("redirect_uri", WEB_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 501_481);
}

#[tokio::test]
async fn plain_pkce_works_when_asked_and_is_assumed_without_a_method() {
    let emulator = start_with(auto_login_directory()).await;
    let verifier = "plain-verifier-0123456789-0123456789-0123456789";
    let page = get(
        &browser(&emulator),
        &authorize_url(
            &emulator,
            &[
                ("client_id", SPA),
                ("response_type", "code"),
                ("redirect_uri", SPA_REDIRECT),
                ("scope", &api_scope("Read")),
                ("code_challenge", verifier),
                ("login_hint", ALICE),
            ],
        ),
    )
    .await;
    let code = page.redirect_params()["code"].clone();
    let (s, b) = redeem_spa(&emulator, &code, verifier).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn redirect_uri_and_client_must_match_at_redemption() {
    let emulator = start_with(auto_login_directory()).await;
    let (code, verifier) = spa_code(&emulator, &api_scope("Read"), "n").await;
    // Another client presenting the SPA's code.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLI),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_000);
    // Another redirect URI.
    let (s, b) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", "http://localhost:8000/oauth2-redirect"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 500_112);
    // Unknown code, missing code.
    let (s, b) = redeem_spa(&emulator, "not-a-code", &verifier).await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_000);
    let (s, b) = post_spa_token(
        &emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("redirect_uri", SPA_REDIRECT),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
}

#[tokio::test]
async fn the_v1_endpoints_issue_and_redeem_codes_with_a_resource() {
    let emulator = start_with(auto_login_directory()).await;
    let (verifier, challenge) = pkce();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", SPA),
            ("response_type", "code"),
            ("redirect_uri", SPA_REDIRECT),
            ("resource", API_URI),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("login_hint", ALICE),
        ])
        .finish();
    let page = get(
        &browser(&emulator),
        &format!("{}/{DOMAIN}/oauth2/authorize?{query}", emulator.http_url()),
    )
    .await;
    let code = page.redirect_params()["code"].clone();
    let response = client(&emulator)
        .post(format!("{}/{TENANT}/oauth2/token", emulator.http_url()))
        .header("origin", SPA_ORIGIN)
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", &code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", &verifier),
            ("resource", API_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["expires_in"].is_string(), "{body}");
    assert_eq!(body["resource"], API_URI);
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.has_scope("Heroes.Delete"));
}
