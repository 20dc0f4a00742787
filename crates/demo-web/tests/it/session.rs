//! Sessions and forms: the cookie's attributes (C18, C19), sign-out (C24),
//! the anti-forgery token on every form, idle and absolute expiry, and the
//! SQLite store (sessions and tokens survive a restart).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use demo_web::{DemoWeb, SessionBackend};
use sqlx::sqlite::SqlitePoolOptions;

/// The value of a `Set-Cookie` line.
fn value_of(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

/// The attributes of a `Set-Cookie` line, lower-cased, without the value.
fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn c18_the_session_cookie_is_hardened_over_http() {
    let stack = stack().await;
    let browser = Browser::new();
    let answer = browser.sign_in_as(&stack, ALICE, ALICE_PASSWORD).await;
    let set = answer
        .set_cookie(COOKIE)
        .expect("the signed-in session's cookie");
    let attributes = attributes(&set);
    for expected in ["path=/", "httponly", "samesite=lax", "max-age=86400"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected}: {set}"
        );
    }
    assert!(!attributes.iter().any(|a| a.starts_with("domain")), "{set}");
    // Plain http: a Secure cookie would never come back.
    assert!(!attributes.iter().any(|a| a == "secure"), "{set}");
    // Opaque: 256 random bits, nothing readable.
    let value = value_of(&set);
    assert_eq!(URL_SAFE_NO_PAD.decode(&value).unwrap().len(), 32);
}

#[tokio::test]
async fn c18_the_session_cookie_is_host_prefixed_and_secure_under_https() {
    // Browsers reach the app over https (a TLS proxy in front of it); the
    // test talks plain http to it and carries the cookies by hand, as a
    // browser would over https.
    let stack = StackBuilder::default()
        .tweak(|config| {
            config.public_base_url = config.public_base_url.replace("http://", "https://");
        })
        .start()
        .await;
    const NAME: &str = "__Host-demo-web-session";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http.get(stack.url("/auth/login")).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let set = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with(&format!("{NAME}=")), "{set}");
    let authorize = login.headers()["location"].to_str().unwrap().to_owned();
    let https_base = stack.base.replace("http://", "https://");
    assert_eq!(
        params_of(&authorize)["redirect_uri"],
        format!("{https_base}/auth/callback")
    );

    let browser = Browser::new();
    let callback = browser.authorize(&authorize, ALICE, ALICE_PASSWORD).await;
    assert!(callback.starts_with(&https_base), "{callback}");
    let callback = callback.replace(&https_base, &stack.base);
    let answer = http
        .get(&callback)
        .header("cookie", format!("{NAME}={}", value_of(&set)))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 303);
    let set = answer.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with(&format!("{NAME}=")), "{set}");
    let attributes = attributes(&set);
    for expected in [
        "path=/",
        "httponly",
        "samesite=lax",
        "secure",
        "max-age=86400",
    ] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected}: {set}"
        );
    }
    assert!(!attributes.iter().any(|a| a.starts_with("domain")), "{set}");

    let home = http
        .get(stack.url("/"))
        .header("cookie", format!("{NAME}={}", value_of(&set)))
        .send()
        .await
        .unwrap();
    assert!(home.text().await.unwrap().contains("Alice Admin"));
    // The unprefixed name means nothing under https.
    let home = http
        .get(stack.url("/"))
        .header("cookie", format!("{COOKIE}={}", value_of(&set)))
        .send()
        .await
        .unwrap();
    assert!(home.text().await.unwrap().contains("id=\"sign-in\""));
}

#[tokio::test]
async fn c19_the_sign_in_transaction_stays_on_the_server() {
    let stack = stack().await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, Some("/me/tokens")).await;
    let params = params_of(&login.location());
    let cookies = login.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let set = &cookies[0];
    assert!(set.starts_with("demo-web-session="), "{set}");
    let attributes = attributes(set);
    for expected in ["path=/", "httponly", "samesite=lax", "max-age=600"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected}: {set}"
        );
    }
    for secret in [
        &params["state"],
        &params["nonce"],
        &params["code_challenge"],
    ] {
        assert!(!set.contains(secret.as_str()), "{set}");
    }
    assert!(!set.contains("me%2Ftokens") && !set.contains("/me/tokens"));
}

#[tokio::test]
async fn c24_sign_out_ends_the_session_here_and_at_the_authority() {
    let stack = StackBuilder::default()
        .backend(SessionBackend::Sqlite(std::env::temp_dir().join(format!(
            "demo-web-c24-{}-{}.db",
            std::process::id(),
            now()
        ))))
        .start()
        .await;
    let SessionBackend::Sqlite(db) = &stack.config.session_backend else {
        unreachable!()
    };
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let tokens = || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM entra_token_cache")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    };

    let browser = Browser::new();
    let home = browser.sign_in(&stack).await;
    let cookie = browser.cookie(&stack.base, COOKIE).unwrap();
    assert!(
        tokens().await >= 2,
        "an access and a refresh token are cached"
    );

    // Not by a GET (a cross-site image or link cannot sign anyone out).
    let get = browser.get(&stack.url("/auth/logout")).await;
    assert_eq!(get.status, 405);
    // Not without the anti-forgery token.
    let forged = browser.post(&stack.url("/auth/logout"), &[]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let forged = browser
        .post(
            &stack.url("/auth/logout"),
            &[("csrf_token".into(), "forged".into())],
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(browser.home(&stack).await.is_signed_in_home());

    let answer = browser.submit(home.form_to("/auth/logout"), &[]).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let location = answer.location();
    assert!(
        location.starts_with(&format!(
            "{}/{TENANT}/oauth2/v2.0/logout?",
            stack.emulator.http_url()
        )),
        "{location}"
    );
    let params = params_of(&location);
    assert_eq!(params["post_logout_redirect_uri"], stack.url("/"));
    assert!(!params.contains_key("id_token_hint"), "no token in a URL");
    assert!(!location.contains("eyJ"), "{location}");
    // The cookie is cleared with the attributes it was set with.
    let clear = answer.set_cookie(COOKIE).unwrap();
    assert_eq!(
        clear,
        "demo-web-session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax"
    );
    assert_eq!(tokens().await, 0, "the user's tokens are forgotten");

    // The authority ends its session and comes back here.
    let back = browser.get(&location).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(back.location(), stack.url("/"));
    let home = browser.get(&back.location()).await;
    assert!(home.is_signed_out_home(), "{}", home.body);
    // Signing in again asks for the password: the authority's session is over.
    let login = browser.start_login(&stack, None).await;
    assert!(browser.get(&login.location()).await.is_sign_in());

    // The old cookie, replayed, is anonymous.
    let replay = Browser::new();
    replay.set_cookie(&stack.base, COOKIE, &cookie);
    assert!(replay.home(&stack).await.is_signed_out_home());
    let tokens_page = replay.get(&stack.url("/me/tokens")).await;
    assert_eq!(tokens_page.status, 303);
    assert_eq!(
        tokens_page.location(),
        "/auth/login?return_to=%2Fme%2Ftokens"
    );
    let _ = std::fs::remove_file(db);
}

/// The heroes the API holds (as the signed-in page lists them).
async fn hero_rows(browser: &Browser, stack: &Stack) -> usize {
    browser
        .home(stack)
        .await
        .body
        .matches("<tr id=\"hero-")
        .count()
}

#[tokio::test]
async fn forms_without_the_right_anti_forgery_token_change_nothing() {
    let stack = stack().await;
    let alice = Browser::new();
    let home = alice.sign_in(&stack).await;
    let bob = Browser::new();
    let bobs = {
        let answer = bob.sign_in_as(&stack, BOB, BOB_PASSWORD).await;
        assert_eq!(answer.status, 303);
        bob.home(&stack).await.csrf_token()
    };
    let create = stack.url("/heroes");
    let hero = |token: Option<&str>| {
        let mut fields = vec![
            ("name".to_owned(), "Deadpond".to_owned()),
            ("secret_name".to_owned(), "Dive Wilson".to_owned()),
        ];
        if let Some(token) = token {
            fields.push(("csrf_token".to_owned(), token.to_owned()));
        }
        fields
    };
    // Missing, wrong, and another session's token.
    for token in [None, Some("wrong"), Some(bobs.as_str())] {
        let answer = alice.post(&create, &hero(token)).await;
        assert_eq!(answer.status, 403, "{token:?}: {}", answer.body);
        assert!(
            answer.body.contains("Nothing was changed"),
            "{}",
            answer.body
        );
        assert_protected(&answer);
    }
    // The right token, sent from another site.
    let token = home.csrf_token();
    for headers in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "http://localhost:1")],
        &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "cross-site")],
        // Another port of localhost: same site, not same origin.
        &[("sec-fetch-site", "same-site")],
    ] {
        let mut request = alice.http.post(&create).form(&hero(Some(&token)));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 403, "{headers:?}");
    }
    assert_eq!(hero_rows(&alice, &stack).await, 0);

    // The right token, from this site: with its origin, or with `null` (what
    // a browser sends under `Referrer-Policy: no-referrer`).
    for origin in [stack.base.as_str(), "null"] {
        let answer = alice
            .http
            .post(&create)
            .header("origin", origin)
            .header("sec-fetch-site", "same-origin")
            .form(&hero(Some(&token)))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 303, "{origin}");
    }
    assert_eq!(hero_rows(&alice, &stack).await, 2);

    // Deleting with a wrong token deletes nothing.
    let home = alice.home(&stack).await;
    let (action, _) = home.form_to("/delete");
    let answer = alice
        .post(&action, &[("csrf_token".into(), bobs.clone())])
        .await;
    assert_eq!(answer.status, 403);
    assert_eq!(hero_rows(&alice, &stack).await, 2);

    // A form without any session.
    let stranger = Browser::new();
    let answer = stranger.post(&create, &hero(Some(&token))).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("session has ended"), "{}", answer.body);
    assert_eq!(hero_rows(&alice, &stack).await, 2);
}

#[tokio::test]
async fn an_idle_session_ends_and_the_visitor_is_anonymous() {
    let stack = StackBuilder::default()
        .tweak(|config| config.session_idle_timeout = Duration::from_secs(1800))
        .start()
        .await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    // Used within the timeout, it lives on.
    stack.clock.advance(1700);
    assert!(browser.home(&stack).await.is_signed_in_home());
    stack.clock.advance(1700);
    assert!(browser.home(&stack).await.is_signed_in_home());
    // Idle for longer, it ends: a sign-in page, the cookie cleared.
    stack.clock.advance(1801);
    let home = browser.home(&stack).await;
    assert!(home.is_signed_out_home(), "{}", home.body);
    assert!(
        home.body.contains("Your session has ended"),
        "{}",
        home.body
    );
    let clear = home.set_cookie(COOKIE).unwrap();
    assert!(clear.contains("Max-Age=0"), "{clear}");
    // Forms of the ended session change nothing.
    let answer = browser
        .post(
            &stack.url("/heroes"),
            &[
                ("name".into(), "Late".into()),
                ("secret_name".into(), "Late".into()),
            ],
        )
        .await;
    assert_eq!(answer.status, 403);
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_busy() {
    let stack = StackBuilder::default()
        .tweak(|config| {
            config.session_idle_timeout = Duration::from_secs(200);
            config.session_lifetime = Duration::from_secs(600);
        })
        .start()
        .await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    for _ in 0..3 {
        stack.clock.advance(150);
        let home = browser.home(&stack).await;
        assert_eq!(home.status, 200, "{}", home.body);
        assert!(home.body.contains("No heroes yet."), "{}", home.body);
    }
    // 600 s after sign-in, never idle for more than 150 s: over.
    stack.clock.advance(150);
    let home = browser.home(&stack).await;
    assert!(home.is_signed_out_home(), "{}", home.body);
    assert!(
        home.body.contains("Your session has ended"),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn sqlite_sessions_and_tokens_survive_a_restart() {
    let dir = TempDir::new("sqlite-restart");
    let db = dir.path().join("web").join("sessions.db");
    let stack = StackBuilder::default()
        .backend(SessionBackend::Sqlite(db.clone()))
        .start()
        .await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let cookie = browser.cookie(&stack.base, COOKIE).unwrap();

    // The store keeps the SHA-256 of the id, never the id.
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let keys: Vec<(String,)> = sqlx::query_as("SELECT key FROM web_sessions")
        .fetch_all(&pool)
        .await
        .unwrap();
    let digest = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cookie.as_bytes(),
    ));
    assert!(keys.iter().any(|(k,)| *k == digest), "{keys:?}");
    assert!(keys.iter().all(|(k,)| *k != cookie));
    pool.close().await;

    // Restart on the same port with the same file.
    let Stack { web, config, .. } = stack;
    let addr = web.local_addr();
    web.shutdown().await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let web = DemoWeb::start(config, listener).await.unwrap();
    let home = reqwest::Client::new()
        .get(format!("http://localhost:{}/", addr.port()))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let body = home.text().await.unwrap();
    assert!(
        body.contains("Alice Admin") && body.contains("No heroes yet."),
        "{body}"
    );
    web.shutdown().await;
}
