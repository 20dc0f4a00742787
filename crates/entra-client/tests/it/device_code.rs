//! The device-code flow against the emulator: the user approves (or
//! declines) on the verification page, driven like a browser; the client
//! polls honouring `interval`, `slow_down` and expiry.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use entra_client::{Client, ClientCredential, DeviceCodeFlow, Error};
use entra_emulator::{Directory, Emulator};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The demo directory with a 1-second polling interval.
async fn start_fast() -> Emulator {
    let mut directory = Directory::default_demo();
    directory.settings.device_code_interval = 1;
    start_with(directory).await
}

fn cli(emulator: &Emulator) -> Client {
    builder(emulator, CLI).build().unwrap()
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap() + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

async fn post(browser: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> String {
    let response = browser.post(url).form(form).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The user opens the verification page, types the code, signs in, and
/// continues or cancels.
async fn user_answers(flow_uri: String, user_code: String, action: &'static str) {
    let browser = browser();
    let page = browser
        .get(&flow_uri)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let page = post(
        &browser,
        &flow_uri,
        &[
            ("flowToken", &hidden_value(&page, "flowToken")),
            ("code", &user_code),
        ],
    )
    .await;
    let page = post(
        &browser,
        &flow_uri,
        &[
            ("flowToken", &hidden_value(&page, "flowToken")),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ],
    )
    .await;
    post(
        &browser,
        &flow_uri,
        &[
            ("flowToken", &hidden_value(&page, "flowToken")),
            ("action", action),
        ],
    )
    .await;
}

fn approve_later(flow: &DeviceCodeFlow, action: &'static str) -> tokio::task::JoinHandle<()> {
    let uri = flow.verification_uri().to_owned();
    let code = flow.user_code().to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        user_answers(uri, code, action).await;
    })
}

#[tokio::test]
async fn the_user_approves_on_the_page_and_the_cli_gets_tokens() {
    let emulator = start_fast().await;
    let client = cli(&emulator);
    let mut flow = client
        .start_device_code(&[heroes("Read"), heroes("Write")])
        .await
        .unwrap();
    assert_eq!(flow.user_code().len(), 8);
    assert_eq!(
        flow.verification_uri(),
        format!("{}/devicelogin", emulator.http_url())
    );
    assert!(flow.message().contains(flow.user_code()));
    assert_eq!(flow.interval(), Duration::from_secs(1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now + 890..=now + 900).contains(&flow.expires_at()));

    let user = approve_later(&flow, "continue");
    let sign_in = flow.poll().await.unwrap();
    user.await.unwrap();
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
    assert_eq!(sign_in.account.username(), Some(ALICE));
    let principal = api_validator(&emulator)
        .await
        .validate(sign_in.access_token.secret())
        .await
        .unwrap();
    assert_eq!(principal.client_id(), Some(CLI));
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));
    // It polled while the user was busy, at least a second apart.
    let polls: Vec<i64> = emulator
        .requests()
        .iter()
        .filter(|r| {
            r.path.ends_with("/token")
                && r.params
                    .iter()
                    .any(|(k, v)| k == "grant_type" && v == DEVICE_GRANT)
        })
        .map(|r| r.time)
        .collect();
    assert!(polls.len() >= 2, "{polls:?}");
    assert!(polls.windows(2).all(|w| w[1] - w[0] >= 1), "{polls:?}");
    // Silent acquisition afterwards: the cached token.
    let token = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read"), heroes("Write")])
        .await
        .unwrap();
    assert!(token.from_cache());
}

#[tokio::test]
async fn slow_down_lengthens_the_interval_by_five_seconds() {
    let emulator = start().await; // interval 5
    let client = cli(&emulator);
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    assert_eq!(flow.interval(), Duration::from_secs(5));
    // The authority's clock stands still: the second poll is too fast for it.
    emulator.set_clock(Some(emulator.now()));
    assert!(flow.poll_once().await.unwrap().is_none()); // authorization_pending
    assert_eq!(flow.interval(), Duration::from_secs(5));
    assert!(flow.poll_once().await.unwrap().is_none()); // slow_down
    assert_eq!(flow.interval(), Duration::from_secs(10));
    assert!(flow.poll_once().await.unwrap().is_none());
    assert_eq!(flow.interval(), Duration::from_secs(15));
}

#[tokio::test]
async fn the_poll_loop_survives_slow_down_and_completes() {
    let emulator = start_fast().await;
    let client = cli(&emulator);
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    // A poll the authority finds too fast: the loop must back off by 5 s.
    emulator.set_clock(Some(emulator.now()));
    assert!(flow.poll_once().await.unwrap().is_none());
    assert!(flow.poll_once().await.unwrap().is_none());
    assert_eq!(flow.interval(), Duration::from_secs(6));
    emulator.set_clock(None);
    user_answers(
        flow.verification_uri().to_owned(),
        flow.user_code().to_owned(),
        "continue",
    )
    .await;
    let started = std::time::Instant::now();
    let sign_in = flow.poll().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(6));
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
}

#[tokio::test]
async fn a_declined_sign_in_is_device_code_declined() {
    let emulator = start_fast().await;
    let client = cli(&emulator);
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    let user = approve_later(&flow, "cancel");
    let err = flow.poll().await.unwrap_err();
    user.await.unwrap();
    assert!(matches!(err, Error::DeviceCodeDeclined), "{err:?}");
}

#[tokio::test]
async fn an_expired_code_ends_the_flow() {
    // The authority says the code expired.
    let emulator = start_fast().await;
    let client = cli(&emulator);
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    emulator.set_clock_offset(901);
    assert!(matches!(flow.poll().await, Err(Error::DeviceCodeExpired)));

    // The client's own deadline: past expires_in, no request is made.
    let emulator = start_fast().await;
    let clock = TestClock::default();
    let client = builder(&emulator, CLI)
        .clock(clock.clock())
        .build()
        .unwrap();
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    clock.advance(900);
    let before = token_requests(&emulator, DEVICE_GRANT);
    assert!(matches!(flow.poll().await, Err(Error::DeviceCodeExpired)));
    assert_eq!(token_requests(&emulator, DEVICE_GRANT), before);
}

#[tokio::test]
async fn devicecode_endpoint_errors_are_typed() {
    let emulator = start().await;
    let client = cli(&emulator);
    let err = client
        .start_device_code(&[format!("{API_URI}/Heroes.Fly")])
        .await
        .unwrap_err();
    assert_eq!(err.server_error().unwrap().error, "invalid_scope");
    assert_eq!(err.aadsts(), Some(70_011));
    assert!(err.trace_id().is_some());
}

#[tokio::test]
async fn a_confidential_client_polls_with_its_credential() {
    let emulator = start_fast().await;
    let client = builder(&emulator, WEB)
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    let mut flow = client.start_device_code(&[heroes("Read")]).await.unwrap();
    let user = approve_later(&flow, "continue");
    let sign_in = flow.poll().await.unwrap();
    user.await.unwrap();
    let principal = api_validator(&emulator)
        .await
        .validate(sign_in.access_token.secret())
        .await
        .unwrap();
    assert_eq!(principal.claims()["azpacr"], "1");
}
