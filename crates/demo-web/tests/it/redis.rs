//! Sessions in Redis: two instances of the web app behind one public
//! address share sessions and tokens, so a user signed in through one is
//! served by the other; sign-out through either ends the session for both.
//!
//! Needs Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`): skipped with
//! a message when it does not answer, unless `CI` is set (then it fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use demo_web::{DemoWeb, SessionBackend};

/// A key prefix of this test run only.
fn prefix(test: &str) -> String {
    format!("demo-web-test:{test}:{}:{}:", std::process::id(), now())
}

/// `GET {base}/` with the session cookie.
async fn home_with(base: &str, cookie: &str) -> (u16, String) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/"))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_session_is_shared_by_two_instances_through_redis() {
    let Some(url) = redis_url().await else { return };
    let prefix = prefix("shared");
    let shared_prefix = prefix.clone();
    let stack = StackBuilder::default()
        .backend(SessionBackend::Redis(url.clone()))
        .tweak(move |config| config.redis_key_prefix = shared_prefix)
        .start()
        .await;
    // The second instance: same configuration (same public address, same
    // Redis, same prefix), another process in real life.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = DemoWeb::start(stack.config.clone(), listener)
        .await
        .unwrap();
    let second_base = format!("http://localhost:{}", second.local_addr().port());

    // Sign in through the first.
    let browser = Browser::new();
    browser.sign_in(&stack).await;
    let cookie = browser.cookie(&stack.base, COOKIE).unwrap();

    // The second serves the same user, with the tokens the first obtained.
    let (status, body) = home_with(&second_base, &cookie).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Alice Admin") && body.contains("No heroes yet."),
        "{body}"
    );
    let tokens_before = stack
        .emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count();
    assert_eq!(
        tokens_before, 1,
        "the second instance asked for no token of its own"
    );

    // A form of the first page, sent to the second: the same session, the
    // same anti-forgery token.
    let home = browser.home(&stack).await;
    let (_, fields) = home.form_to("/heroes");
    let mut fields = fields;
    fields.push(("name".into(), "Shared".into()));
    fields.push(("secret_name".into(), "Redis".into()));
    let created = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{second_base}/heroes"))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 303);
    assert!(browser.home(&stack).await.body.contains("Shared"));

    // The session lives in Redis under the id's digest, with a time to live.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let digest = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        cookie.as_bytes(),
    ));
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("{prefix}session:{digest}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 8 * 3600, "{ttl}");
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}session:{cookie}"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(raw.is_none(), "the cookie's value is never a key");
    let token_keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}token:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(token_keys.len() >= 2, "{token_keys:?}");

    // Sign out through the second: the first no longer knows the session.
    let page = home_with(&second_base, &cookie).await.1;
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let out = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{second_base}/auth/logout"))
        .header("cookie", format!("{COOKIE}={cookie}"))
        .form(&[("csrf_token", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let (status, body) = home_with(&stack.base, &cookie).await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"sign-in\""), "{body}");
    let token_keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}token:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(token_keys.is_empty(), "{token_keys:?}");
    second.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_redis_stops_the_start_with_an_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut config = demo_web::WebConfig::demo("http://localhost:9000");
    config.session_backend = SessionBackend::Redis(url);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = DemoWeb::start(config, listener).await.unwrap_err();
    assert!(error.to_string().contains("Redis"), "{error}");
}
