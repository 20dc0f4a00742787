//! The pages and the API calls behind them: `/me/tokens` (decoded claims,
//! never tokens: C22), protective headers on every page (C23, C28), silent
//! refresh, a failed refresh leading to a new sign-in, and every refusal of
//! the API as a clear page (401, 403 naming the missing scope, 404, 422,
//! unreachable), never a 500.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::Value;

/// The JSON in `<pre id="{id}">`.
fn pre_json(page: &Page, id: &str) -> Value {
    let html = page
        .body
        .split(&format!("<pre id=\"{id}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {id} in {}", page.body))
        .split("</pre>")
        .next()
        .unwrap();
    serde_json::from_str(&unescape(html)).unwrap()
}

#[tokio::test]
async fn me_tokens_shows_decoded_claims_and_never_the_tokens() {
    let stack = stack().await;
    let browser = Browser::new();

    // Anonymous: sign in first, then come back here.
    let anonymous = browser.get(&stack.url("/me/tokens")).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.location(), "/auth/login?return_to=%2Fme%2Ftokens");

    browser.sign_in(&stack).await;
    let page = browser.get(&stack.url("/me/tokens")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_protected(&page);

    let id_header = pre_json(&page, "id-token-header");
    let id_claims = pre_json(&page, "id-token-claims");
    assert_eq!(id_header["alg"], "RS256");
    assert_eq!(id_claims["aud"], WEB);
    assert_eq!(id_claims["name"], "Alice Admin");
    assert_eq!(id_claims["preferred_username"], ALICE);
    assert!(id_claims["nonce"].is_string());

    let at_claims = pre_json(&page, "access-token-claims");
    assert_eq!(at_claims["aud"], API);
    assert_eq!(at_claims["azp"], WEB);
    let scp = at_claims["scp"].as_str().unwrap();
    for scope in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] {
        assert!(scp.split(' ').any(|s| s == scope), "{scp}");
    }
    assert!(
        at_claims["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "Admin")
    );

    // Decoded JSON only: no compact token, no signature.
    assert!(!page.body.contains("eyJ"), "{}", page.body);
}

#[tokio::test]
async fn c22_no_token_ever_reaches_the_browser() {
    let stack = stack().await;
    let browser = Browser::new();
    let mut seen: Vec<Page> = Vec::new();
    seen.push(browser.home(&stack).await);
    let login = browser.start_login(&stack, None).await;
    seen.push(login.clone());
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    seen.push(browser.get(&callback).await);
    let home = browser.home(&stack).await;
    seen.push(home.clone());
    seen.push(
        browser
            .submit(
                home.form_to("/heroes"),
                &[("name", "Jade"), ("secret_name", "Jen")],
            )
            .await,
    );
    seen.push(browser.home(&stack).await);
    seen.push(browser.get(&stack.url("/me/tokens")).await);
    let home = browser.home(&stack).await;
    seen.push(browser.submit(home.form_to("/auth/logout"), &[]).await);

    for page in &seen {
        assert!(!page.body.contains("eyJ"), "{}: {}", page.url, page.body);
        for (name, value) in &page.headers {
            let value = value.to_str().unwrap();
            assert!(!value.contains("eyJ"), "{}: {name}: {value}", page.url);
        }
        // The only cookie this app sets is the opaque session id.
        for cookie in page.set_cookies() {
            assert!(cookie.starts_with("demo-web-session="), "{cookie}");
            let value = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
            assert!(value.is_empty() || value.len() == 43, "{cookie}");
        }
    }
}

#[tokio::test]
async fn c28_every_page_refuses_framing_and_caching() {
    let stack = stack().await;
    let browser = Browser::new();
    let mut pages = vec![
        browser.home(&stack).await,
        browser.get(&stack.url("/nowhere")).await,
        browser.get(&stack.url("/auth/logout")).await,
        browser
            .get(&stack.url("/auth/callback?code=x&state=y"))
            .await,
        browser.post(&stack.url("/heroes"), &[]).await,
        browser.start_login(&stack, None).await,
    ];
    browser.sign_in(&stack).await;
    pages.push(browser.home(&stack).await);
    pages.push(browser.get(&stack.url("/me/tokens")).await);
    pages.push(browser.post(&stack.url("/heroes"), &[]).await);
    for page in &pages {
        assert_protected(page);
        assert_ne!(page.status, 500, "{}", page.url);
    }
    assert_eq!(pages[1].status, 404);
    assert_eq!(pages[2].status, 405);
}

// Time moves for the web app and the emulator together, by less than the
// API's five minutes of clock skew (the API keeps the real time): tokens are
// short-lived instead.

#[tokio::test]
async fn the_access_token_is_refreshed_silently_near_its_expiry() {
    let mut builder = StackBuilder::default();
    builder.directory.settings.access_token_lifetime = 500;
    let stack = builder.start().await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let refreshes = || {
        stack
            .emulator
            .requests()
            .iter()
            .filter(|r| {
                r.path.ends_with("/token")
                    && r.params
                        .iter()
                        .any(|(k, v)| k == "grant_type" && v == "refresh_token")
            })
            .count()
    };
    assert_eq!(refreshes(), 0);
    assert!(browser.home(&stack).await.body.contains("No heroes yet."));
    assert_eq!(refreshes(), 0, "a fresh token is used from the cache");
    // Within the five-minute margin of the 500-second token.
    stack.advance_both(250);
    let home = browser.home(&stack).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("No heroes yet."), "{}", home.body);
    assert_eq!(refreshes(), 1);
    // The refreshed token is cached: no second refresh.
    assert!(browser.home(&stack).await.body.contains("No heroes yet."));
    assert_eq!(refreshes(), 1);
}

#[tokio::test]
async fn a_failed_refresh_leads_to_a_new_sign_in() {
    let mut builder = StackBuilder::default();
    builder.directory.settings.access_token_lifetime = 500;
    builder.directory.settings.refresh_token_lifetime = 100;
    let stack = builder.start().await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;

    // The access token nears its expiry, and the refresh token has expired:
    // only a new sign-in helps.
    stack.advance_both(250);
    let home = browser.home(&stack).await;
    assert_eq!(home.status, 303, "{}", home.body);
    assert_eq!(home.location(), "/auth/login?return_to=%2F");
    let tokens = browser.get(&stack.url("/me/tokens")).await;
    assert_eq!(tokens.location(), "/auth/login?return_to=%2Fme%2Ftokens");

    let login = browser.get(&stack.url(&tokens.location())).await;
    assert_eq!(login.status, 303);
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let answer = browser.get(&callback).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(answer.location(), "/me/tokens");
    assert_eq!(browser.get(&stack.url("/me/tokens")).await.status, 200);
    let home = browser.home(&stack).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("No heroes yet."), "{}", home.body);
}

#[tokio::test]
async fn an_api_403_names_the_missing_scope() {
    let stack = StackBuilder::default()
        .tweak(|config| {
            config.api_scopes = ["Heroes.Read", "Heroes.Write"]
                .iter()
                .map(|s| format!("{API_URI}/{s}"))
                .collect();
        })
        .start()
        .await;
    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    let created = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", "Deadpond"), ("secret_name", "Dive")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let home = browser.home(&stack).await;
    let refused = browser.submit(home.form_to("/delete"), &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("id=\"missing-permission\""),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("<strong>Heroes.Delete</strong> is required"),
        "{}",
        refused.body
    );
    assert!(browser.home(&stack).await.body.contains("Deadpond"));
}

#[tokio::test]
async fn someone_elses_todo_item_is_a_403_page() {
    let stack = stack().await;
    let bob = Browser::new();
    let answer = bob.sign_in_as(&stack, BOB, BOB_PASSWORD).await;
    assert_eq!(answer.status, 303);
    let home = bob.home(&stack).await;
    assert_eq!(
        bob.submit(home.form_to("/todoitems"), &[("title", "Bob's chore")])
            .await
            .status,
        303
    );
    let home = bob.home(&stack).await;
    let (bobs_item, _) = home.form_to("/delete");

    // Alice is an Admin: she sees and may delete every item, so Bob tries
    // hers instead.
    let alice = Browser::new();
    let home = alice.sign_in(&stack).await;
    assert_eq!(
        alice
            .submit(home.form_to("/todoitems"), &[("title", "Alice's chore")])
            .await
            .status,
        303
    );
    let home = alice.home(&stack).await;
    let alices_item = home
        .body
        .match_indices("action=\"/todoitems/")
        .map(|(i, _)| &home.body[i + 8..])
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .find(|action| format!("{}{action}", stack.base) != bobs_item)
        .unwrap();
    let token = bob.home(&stack).await.csrf_token();
    let refused = bob
        .post(
            &stack.url(&alices_item),
            &[("csrf_token".into(), token.clone())],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("belongs to someone else"),
        "{}",
        refused.body
    );

    // An item that does not exist: 404.
    let missing = bob
        .post(
            &stack.url("/todoitems/999999/delete"),
            &[("csrf_token".into(), token.clone())],
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    let missing = bob
        .post(
            &stack.url("/heroes/not-a-number/delete"),
            &[("csrf_token".into(), token)],
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

#[tokio::test]
async fn invalid_input_is_a_422_page_naming_the_fields() {
    let stack = stack().await;
    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    let refused = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", ""), ("secret_name", "x"), ("age", "-4")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("<strong>name</strong>"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("<strong>age</strong>"),
        "{}",
        refused.body
    );
    let refused = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", "a"), ("secret_name", "b"), ("age", "old")],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("whole number"), "{}", refused.body);
    let markup = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", &"<b>".repeat(40)), ("secret_name", "b")],
        )
        .await;
    assert_eq!(markup.status, 422, "{}", markup.body);
    assert!(!markup.body.contains("<b>"), "{}", markup.body);
}

#[tokio::test]
async fn an_api_401_is_explained() {
    // The API trusts another identity provider: it refuses our tokens.
    let other = Emulator::start(EmulatorConfig::for_tests(Directory::default_demo()))
        .await
        .unwrap();
    let dir = TempDir::new("other-api");
    let other_api = start_api(&other, dir.path()).await;
    let url = other_api.url();
    let stack = StackBuilder::default()
        .tweak(move |config| config.api_base_url = url)
        .start()
        .await;
    let browser = Browser::new();
    let answer = browser.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
    assert_eq!(answer.status, 303);
    let home = browser.home(&stack).await;
    assert_eq!(home.status, 401, "{}", home.body);
    assert!(
        home.body.contains("did not accept your sign-in"),
        "{}",
        home.body
    );
    assert!(home.body.contains("Sign in again"), "{}", home.body);
    // Still the user's page: name, sign-out.
    assert!(home.is_signed_in_home());
}

#[tokio::test]
async fn an_unreachable_api_is_a_502_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stack = StackBuilder::default()
        .tweak(move |config| config.api_base_url = url)
        .start()
        .await;
    let browser = Browser::new();
    let answer = browser.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
    assert_eq!(answer.status, 303);
    let home = browser.home(&stack).await;
    assert_eq!(home.status, 502, "{}", home.body);
    assert!(home.body.contains("cannot be reached"), "{}", home.body);
    let created = browser
        .submit(
            home.form_to("/heroes"),
            &[("name", "x"), ("secret_name", "y")],
        )
        .await;
    assert_eq!(created.status, 502, "{}", created.body);
    assert!(
        created.body.contains("cannot be reached"),
        "{}",
        created.body
    );
}

#[tokio::test]
async fn an_unreachable_authority_is_a_502_page() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stack = StackBuilder::default()
        .tweak(move |config| config.authority_host = url)
        .start()
        .await;
    let browser = Browser::new();
    let login = browser.get(&stack.url("/auth/login")).await;
    assert_eq!(login.status, 502, "{}", login.body);
    assert!(login.body.contains("cannot be reached"), "{}", login.body);
}
