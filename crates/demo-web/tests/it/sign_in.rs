//! Signing in, over real HTTP against the emulator's real pages: the happy
//! path, and every row of the security catalogue's client-side section that
//! concerns the sign-in (C1–C6, C9, C11, C12, C17, C20, C21, C26), plus the
//! failure paths (missing code, `access_denied`, PKCE mismatch).
//!
//! Rows that do not apply to this app: C7, C8, C10 and C16 are the
//! authorization server's checks (the emulator's tests); C13 (no hybrid
//! flow), C14 (no UserInfo call), C25 (no back-channel logout); C15 and C27
//! reduce to the ID token's issuer check (one authority, its issuer taken
//! from its own metadata), exercised by C11's wrong `iss`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::common::tamper::{self, Mutation};
use crate::common::*;
use serde_json::Value;

/// The callback URL with its `code` replaced.
fn with_code(callback: &str, code: &str) -> String {
    let mut url = url::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "code" {
                (k, code.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

/// Asserts that a sign-in answer created no session: no cookie for one, and
/// the start page is the signed-out one.
async fn assert_no_session(browser: &Browser, stack: &Stack, answer: &Page) {
    assert_ne!(answer.status, 303, "{}", answer.body);
    assert!(
        answer.status >= 400 && answer.status != 500,
        "{}",
        answer.status
    );
    assert!(
        answer.set_cookie(COOKIE).is_none(),
        "{:?}",
        answer.set_cookies()
    );
    assert!(answer.body.contains("Sign-in"), "{}", answer.body);
    assert_protected(answer);
    let home = browser.home(stack).await;
    assert!(home.is_signed_out_home(), "{}", home.body);
}

#[tokio::test]
async fn sign_in_shows_the_user_the_heroes_and_their_todo_items() {
    let stack = stack().await;
    let browser = Browser::new();
    let start = browser.home(&stack).await;
    assert!(start.is_signed_out_home(), "{}", start.body);

    let login = browser.start_login(&stack, None).await;
    let authorize = login.location();
    assert!(
        authorize.starts_with(&stack.emulator.http_url()),
        "{authorize}"
    );
    let params = params_of(&authorize);
    assert_eq!(params["client_id"], WEB);
    assert_eq!(params["redirect_uri"], stack.url("/auth/callback"));
    assert_eq!(params["response_type"], "code");
    for scope in [
        "openid",
        "profile",
        "offline_access",
        &format!("{API_URI}/Heroes.Delete"),
    ] {
        assert!(
            params["scope"].split(' ').any(|s| s == scope),
            "{}",
            params["scope"]
        );
    }

    // The emulator's pages: sign in, then consent (not admin-granted).
    let mut page = browser.get(&authorize).await;
    assert!(page.is_sign_in(), "{}", page.body);
    page = browser
        .submit(
            page.form(),
            &[("username", ALICE), ("password", ALICE_PASSWORD)],
        )
        .await;
    assert!(page.is_consent(), "{}", page.body);
    page = browser.submit(page.form(), &[("action", "accept")]).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let answer = browser.get(&page.location()).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.location(), "/");

    let home = browser.home(&stack).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Alice Admin"), "{}", home.body);
    assert!(home.body.contains("No heroes yet."), "{}", home.body);
    assert!(home.body.contains("Nothing to do."), "{}", home.body);

    // Create a hero, see it, delete it.
    let created = browser
        .submit(
            home.form_to("/heroes"),
            &[
                ("name", "Deadpond"),
                ("secret_name", "Dive Wilson"),
                ("age", "30"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let home = browser.home(&stack).await;
    assert!(home.body.contains("Deadpond"), "{}", home.body);
    assert!(home.body.contains("Dive Wilson"), "{}", home.body);
    let (delete, fields) = home.form_to("/delete");
    assert!(delete.contains("/heroes/"), "{delete}");
    let deleted = browser.submit((delete, fields), &[]).await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let home = browser.home(&stack).await;
    assert!(!home.body.contains("Deadpond"), "{}", home.body);

    // Add a todo item, see it, delete it.
    let added = browser
        .submit(home.form_to("/todoitems"), &[("title", "Feed the <cat>")])
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let home = browser.home(&stack).await;
    assert!(home.body.contains("Feed the &lt;cat&gt;"), "{}", home.body);
    let (action, fields) = home.form_to("/delete");
    assert!(action.contains("/todoitems/"), "{action}");
    assert_eq!(browser.submit((action, fields), &[]).await.status, 303);
    let home = browser.home(&stack).await;
    assert!(home.body.contains("Nothing to do."), "{}", home.body);
}

#[tokio::test]
async fn c1_a_callback_without_state_is_400_and_nobody_is_signed_in() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let code = params_of(&callback)["code"].clone();
    let requests_before = stack.emulator.requests().len();
    let answer = browser
        .get(&stack.url(&format!("/auth/callback?code={code}")))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("no state"), "{}", answer.body);
    assert_no_session(&browser, &stack, &answer).await;
    // No token request was made.
    let token_requests = stack.emulator.requests()[requests_before..]
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count();
    assert_eq!(token_requests, 0);
    // An error without state is refused the same way.
    let answer = browser
        .get(&stack.url("/auth/callback?error=access_denied"))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[tokio::test]
async fn c2_a_state_from_another_browser_is_400() {
    let stack = stack().await;
    // The attacker gets a callback URL for their own account...
    let attacker = Browser::new();
    let login = attacker.start_login(&stack, None).await;
    let forged = attacker
        .authorize(&login.location(), BOB, BOB_PASSWORD)
        .await;

    // ...and makes the victim open it: while a sign-in of the victim's own is
    // under way, and with none at all.
    let victim = Browser::new();
    victim.start_login(&stack, None).await;
    let answer = victim.get(&forged).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_no_session(&victim, &stack, &answer).await;

    let fresh = Browser::new();
    let answer = fresh.get(&forged).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_no_session(&fresh, &stack, &answer).await;

    // A state that matches nothing at all.
    let answer = victim
        .get(&stack.url("/auth/callback?code=x&state=forged-state"))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
}

#[tokio::test]
async fn c3_a_replayed_callback_is_400() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let pre_login = browser.cookie(&stack.base, COOKIE).unwrap();
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    assert_eq!(browser.get(&callback).await.status, 303);

    // The same URL again, in the signed-in browser: refused; still signed in.
    let again = browser.get(&callback).await;
    assert_eq!(again.status, 400, "{}", again.body);
    assert!(browser.home(&stack).await.is_signed_in_home());

    // And with the pre-login cookie (its session is gone).
    let other = Browser::new();
    other.set_cookie(&stack.base, COOKIE, &pre_login);
    let replay = other.get(&callback).await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_no_session(&other, &stack, &replay).await;
}

#[tokio::test]
async fn c4_a_sign_in_older_than_ten_minutes_is_400() {
    let stack = stack().await;
    // Anonymous: the pending sign-in's session itself has expired.
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    stack.clock.advance(601);
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_no_session(&browser, &stack, &answer).await;

    // Signed in already (the session lives on): the stale sign-in is refused.
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let login = browser.start_login(&stack, Some("/me/tokens")).await;
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    stack.clock.advance(601);
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("took too long"), "{}", answer.body);
    assert!(answer.set_cookie(COOKIE).is_none());
}

#[tokio::test]
async fn c5_access_denied_with_markup_is_an_escaped_error_page_without_session() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let state = params_of(&login.location())["state"].clone();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("error", "access_denied")
        .append_pair(
            "error_description",
            "AADSTS65004: <script>alert(document.cookie)</script><img src=x onerror=alert(1)>",
        )
        .append_pair("state", &state)
        .finish();
    let answer = browser
        .get(&stack.url(&format!("/auth/callback?{query}")))
        .await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("Sign-in cancelled"), "{}", answer.body);
    assert!(answer.body.contains("access_denied"), "{}", answer.body);
    assert!(!answer.body.contains("<script>"), "{}", answer.body);
    assert!(!answer.body.contains("<img"), "{}", answer.body);
    assert!(answer.body.contains("&lt;script&gt;"), "{}", answer.body);
    assert_no_session(&browser, &stack, &answer).await;
}

#[tokio::test]
async fn c5_declining_consent_on_the_emulator_is_a_cancelled_page() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let mut page = browser.get(&login.location()).await;
    page = browser
        .submit(
            page.form(),
            &[("username", BOB), ("password", BOB_PASSWORD)],
        )
        .await;
    assert!(page.is_consent(), "{}", page.body);
    page = browser.submit(page.form(), &[("action", "cancel")]).await;
    assert_eq!(page.status, 302, "{}", page.body);
    let callback = page.location();
    assert_eq!(params_of(&callback)["error"], "access_denied");
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("Sign-in cancelled"), "{}", answer.body);
    assert_no_session(&browser, &stack, &answer).await;
}

#[tokio::test]
async fn a_callback_without_code_is_400() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let state = params_of(&login.location())["state"].clone();
    let answer = browser
        .get(&stack.url(&format!("/auth/callback?state={state}")))
        .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(
        answer.body.contains("no authorization code"),
        "{}",
        answer.body
    );
    assert_no_session(&browser, &stack, &answer).await;
}

#[tokio::test]
async fn a_repeated_callback_parameter_is_400() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, None).await;
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = browser.get(&format!("{callback}&code=second")).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_no_session(&browser, &stack, &answer).await;
}

#[tokio::test]
async fn c9_pkce_mismatch_an_injected_code_is_refused() {
    let stack = stack().await;
    // The attacker's code, not redeemed...
    let attacker = Browser::new();
    let login = attacker.start_login(&stack, None).await;
    let attackers = attacker
        .authorize(&login.location(), BOB, BOB_PASSWORD)
        .await;
    let attackers_code = params_of(&attackers)["code"].clone();
    // ...pasted into the victim's own callback (the victim's state).
    let victim = Browser::new();
    let login = victim.start_login(&stack, None).await;
    let victims = victim
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = victim.get(&with_code(&victims, &attackers_code)).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.body.contains("not accepted"), "{}", answer.body);
    assert!(answer.body.contains("invalid_grant"), "{}", answer.body);
    assert_no_session(&victim, &stack, &answer).await;
}

#[tokio::test]
async fn c6_every_sign_in_sends_a_fresh_s256_challenge() {
    let stack = stack().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (mut challenges, mut states, mut nonces) = (HashSet::new(), HashSet::new(), HashSet::new());
    for _ in 0..1000 {
        let response = http.get(stack.url("/auth/login")).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let params = params_of(&location);
        assert_eq!(params["code_challenge_method"], "S256");
        let challenge = &params["code_challenge"];
        // base64url of a SHA-256: 43 characters.
        assert_eq!(challenge.len(), 43, "{challenge}");
        assert!(params["state"].len() >= 43 && params["nonce"].len() >= 43);
        assert!(challenges.insert(challenge.clone()), "challenge reused");
        assert!(states.insert(params["state"].clone()), "state reused");
        assert!(nonces.insert(params["nonce"].clone()), "nonce reused");
    }
}

/// Each way an ID token can be wrong, sent by a tampering identity
/// provider: the sign-in fails and creates no session.
#[tokio::test]
async fn c11_c12_invalid_id_tokens_create_no_session() {
    let stack = StackBuilder::default()
        .tamper(tamper::genuine())
        .start()
        .await;
    let proxy = stack.proxy.as_ref().unwrap();

    // Controls: the genuine token, and one re-minted unchanged, sign in.
    for control in [tamper::genuine(), tamper::claims(|_| {})] {
        proxy.set(control);
        let browser = Browser::new();
        let answer = browser.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
        assert_eq!(answer.status, 303, "{}", answer.body);
        assert!(browser.home(&stack).await.is_signed_in_home());
    }

    let now = now();
    let other_key = Arc::new(entra_auth::testing::TestKey::generate(
        "not-the-tenants-key",
    ));
    let unknown_key = other_key.clone();
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "wrong iss",
            tamper::claims(|c| {
                c.insert(
                    "iss".into(),
                    format!("https://login.evil.example/{TENANT}/v2.0").into(),
                );
            }),
        ),
        (
            "wrong aud",
            tamper::claims(|c| {
                c.insert("aud".into(), API.into());
            }),
        ),
        (
            "extra untrusted aud",
            tamper::claims(|c| {
                c.insert(
                    "aud".into(),
                    serde_json::json!([WEB, "https://evil.example"]),
                );
            }),
        ),
        (
            "azp mismatch",
            tamper::claims(|c| {
                c.insert("azp".into(), "00000000-0000-4000-8000-000000000bad".into());
            }),
        ),
        // The minting API fills in absent claims: null removes them.
        (
            "missing sub",
            tamper::claims(|c| {
                c.insert("sub".into(), Value::Null);
            }),
        ),
        (
            "missing iat",
            tamper::claims(|c| {
                c.insert("iat".into(), Value::Null);
            }),
        ),
        (
            "expired",
            tamper::claims(move |c| {
                c.insert("iat".into(), (now - 7200).into());
                c.insert("nbf".into(), (now - 7200).into());
                c.insert("exp".into(), (now - 3600).into());
            }),
        ),
        (
            "iat far in the future",
            tamper::claims(move |c| {
                c.insert("iat".into(), (now + 86_400).into());
                c.insert("nbf".into(), (now + 86_400).into());
                c.insert("exp".into(), (now + 90_000).into());
            }),
        ),
        (
            "bad RS256 signature",
            Arc::new(|_, t: &str| tamper::payload_swapped(t)),
        ),
        (
            "signed by another key under the tenant's kid",
            Arc::new(move |_, t: &str| tamper::signed_by(&other_key, t, None)),
        ),
        (
            "signed by an unknown key",
            Arc::new(move |_, t: &str| tamper::signed_by(&unknown_key, t, Some("attacker"))),
        ),
        ("alg none", Arc::new(|_, t: &str| tamper::unsigned(t))),
        (
            "HS256 with the client secret",
            Arc::new(|_, t: &str| tamper::hs256(t, WEB_SECRET.as_bytes())),
        ),
        (
            "nonce missing",
            tamper::claims(|c| {
                c.insert("nonce".into(), Value::Null);
            }),
        ),
        (
            "nonce different",
            tamper::claims(|c| {
                c.insert("nonce".into(), "someone-elses-nonce".into());
            }),
        ),
    ];
    for (name, mutation) in cases {
        proxy.set(mutation);
        let browser = Browser::new();
        let answer = browser.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
        assert_ne!(answer.status, 303, "{name}: signed in");
        assert!(
            answer.body.contains("Sign-in failed"),
            "{name}: {}",
            answer.body
        );
        assert_no_session(&browser, &stack, &answer).await;
    }
}

#[tokio::test]
async fn c12_an_id_token_replayed_from_an_older_sign_in_is_refused() {
    let stack = StackBuilder::default()
        .tamper(tamper::genuine())
        .start()
        .await;
    let proxy = stack.proxy.as_ref().unwrap();
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let kept = first.clone();
    proxy.set(Arc::new(move |_, token: &str| {
        kept.lock()
            .unwrap()
            .get_or_insert_with(|| token.to_owned())
            .clone()
    }));
    let browser = Browser::new();
    assert_eq!(
        browser
            .sign_in_as(&stack, ALICE, ALICE_PASSWORD)
            .await
            .status,
        303
    );
    let old_nonce = {
        let token = first.lock().unwrap().clone().unwrap();
        let claims = tamper::decode(token.split('.').nth(1).unwrap());
        claims["nonce"].as_str().unwrap().to_owned()
    };

    let later = Browser::new();
    let login = later.start_login(&stack, None).await;
    assert_ne!(params_of(&login.location())["nonce"], old_nonce);
    let callback = later
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = later.get(&callback).await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert!(answer.body.contains("ID token"), "{}", answer.body);
    assert_no_session(&later, &stack, &answer).await;
}

#[tokio::test]
async fn c17_after_sign_in_only_local_paths() {
    let stack = stack().await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let evil = [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F%2Fevil.example",
        "http:evil.example",
        "javascript:alert(1)",
        "/\r\nSet-Cookie: x=y",
        "/auth/logout",
    ];
    for target in evil {
        let login = browser.start_login(&stack, Some(target)).await;
        let callback = browser
            .authorize(&login.location(), ALICE, ALICE_PASSWORD)
            .await;
        let answer = browser.get(&callback).await;
        assert_eq!(answer.status, 303, "{target:?}: {}", answer.body);
        assert_eq!(answer.location(), "/", "{target:?}");
    }
    let login = browser
        .start_login(&stack, Some("/me/tokens?view=all"))
        .await;
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = browser.get(&callback).await;
    assert_eq!(answer.location(), "/me/tokens?view=all");
}

#[tokio::test]
async fn c20_the_session_id_changes_at_sign_in_and_the_old_one_is_dead() {
    let stack = stack().await;
    let browser = Browser::new();
    // An id the attacker chose is ignored: a session of the server's making.
    let fixed = "A".repeat(43);
    browser.set_cookie(&stack.base, COOKIE, &fixed);
    let login = browser.start_login(&stack, None).await;
    let pre_login = login.set_cookie(COOKIE).expect("a pre-login session");
    let pre_login = pre_login
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert_ne!(pre_login, fixed);

    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 303);
    let signed_in = browser.cookie(&stack.base, COOKIE).unwrap();
    assert_ne!(signed_in, pre_login);
    assert_ne!(signed_in, fixed);
    assert_eq!(signed_in.len(), 43);

    for old in [pre_login.as_str(), fixed.as_str()] {
        let other = Browser::new();
        other.set_cookie(&stack.base, COOKIE, old);
        let home = other.home(&stack).await;
        assert!(home.is_signed_out_home(), "{}", home.body);
    }
    assert!(browser.home(&stack).await.is_signed_in_home());
}

#[tokio::test]
async fn c21_c23_the_callback_answers_a_clean_303_that_is_not_stored_or_referred() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, Some("/me/tokens")).await;
    assert!(login.header("cache-control").unwrap().contains("no-store"));
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let code = params_of(&callback)["code"].clone();
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 303);
    let location = answer.location();
    assert_eq!(location, "/me/tokens");
    assert!(!location.contains(&code) && !location.contains("code="));
    assert_eq!(
        answer.header("referrer-policy").as_deref(),
        Some("no-referrer")
    );
    assert!(answer.header("cache-control").unwrap().contains("no-store"));
    assert_protected(&answer);
}

#[tokio::test]
async fn c26_sign_in_works_across_a_key_rotation() {
    let stack = stack().await;
    let first = Browser::new();
    first.sign_in(&stack).await;
    let kid = stack.emulator.rotate_keys(TENANT).unwrap();
    let second = Browser::new();
    let answer = second.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let tokens = second.get(&stack.url("/me/tokens")).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let header: Value = serde_json::from_str(&unescape(
        tokens
            .body
            .split("<pre id=\"id-token-header\">")
            .nth(1)
            .unwrap()
            .split("</pre>")
            .next()
            .unwrap(),
    ))
    .unwrap();
    assert_eq!(header["kid"], kid.as_str());
    // The first browser, signed in under the old key, still works.
    assert!(first.home(&stack).await.is_signed_in_home());
}
