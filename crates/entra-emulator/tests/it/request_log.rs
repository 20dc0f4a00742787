//! Issue 12, finding 7: the request log is bounded by bytes and redacts by
//! allow-list, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_emulator::Emulator;
use serde_json::Value;

/// The most a logged value takes: 256 bytes and a note of its full length.
const MAX_VALUE: usize = 256 + "…(1000000 bytes)".len();

/// `GET /_emulator/requests`: the raw body and its JSON.
async fn request_log(emulator: &Emulator) -> (String, Vec<Value>) {
    let body = client(emulator)
        .get(format!("{}/_emulator/requests", emulator.http_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let log: Vec<Value> = serde_json::from_str(&body).unwrap();
    (body, log)
}

/// The `[name, value]` pairs of a logged record.
fn params(record: &Value) -> Vec<(String, String)> {
    serde_json::from_value(record["params"].clone()).unwrap()
}

#[tokio::test]
async fn finding_7_the_request_log_is_bounded_by_bytes() {
    let emulator = start().await;
    let http = client(&emulator);
    let url = token_url(&emulator.http_url());
    // 100 requests with 1 MB form bodies (under the 1 MiB body limit).
    let large = "x".repeat(1_000_000);
    for _ in 0..100 {
        let status = http
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("scope", large.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{status}");
    }
    // One request with many small parameters.
    let many = vec![("p", "1"); 100_000];
    http.post(&url).form(&many).send().await.unwrap();

    let (body, log) = request_log(&emulator).await;
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
    assert_eq!(log.len(), 101);
    for record in &log {
        for (name, value) in params(record) {
            assert!(name.len() <= 64, "{name}");
            assert!(value.len() <= MAX_VALUE, "{name}: {} bytes", value.len());
        }
    }
    // The full length is noted, and the kept part is the value's start.
    let scope = params(&log[0])
        .into_iter()
        .find(|(k, _)| k == "scope")
        .unwrap()
        .1;
    assert!(scope.starts_with(&"x".repeat(200)), "{scope}");
    assert!(scope.ends_with("…(1000000 bytes)"), "{scope}");
    // Parameters beyond a few dozen are counted, not kept.
    let last = &log[100];
    assert!(params(last).len() <= 64);
    assert_eq!(
        params(last).len() as u64 + last["omitted_params"].as_u64().unwrap(),
        100_000
    );
    // The library view is the same log (and the GET of it).
    let records = emulator.requests();
    assert_eq!(records.len(), 102);
    assert!(records[0].params.iter().all(|(_, v)| v.len() <= MAX_VALUE));
}

#[tokio::test]
async fn finding_7_the_request_log_redacts_by_allow_list() {
    let emulator = start().await;
    let http = client(&emulator);
    let url = token_url(&emulator.http_url());
    let (status, _) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("{API_URI}/.default")),
            ("my_new_secret", "xyz-not-on-the-allow-list"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // In a query string too, and as a body that is a bare value (it parses
    // as a parameter name).
    http.get(format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={WEB}&my_new_secret=xyz-in-a-query",
        emulator.http_url()
    ))
    .send()
    .await
    .unwrap();
    http.post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("xyz-a-bare-secret-value")
        .send()
        .await
        .unwrap();

    let (body, log) = request_log(&emulator).await;
    for secret in [
        "xyz-not-on-the-allow-list",
        "xyz-in-a-query",
        "xyz-a-bare-secret-value",
        DAEMON_SECRET,
    ] {
        assert!(!body.contains(secret), "{secret} logged: {body}");
    }
    let token = params(&log[0]);
    let param = |name: &str| {
        token
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    // Known-safe parameters keep their values; every other one is redacted.
    assert_eq!(param("grant_type"), Some("client_credentials"));
    assert_eq!(param("client_id"), Some(DAEMON));
    assert_eq!(param("client_secret"), Some("***"));
    assert_eq!(param("my_new_secret"), Some("***"));
    let authorize = params(&log[1]);
    assert!(authorize.contains(&("client_id".to_owned(), WEB.to_owned())));
    assert!(authorize.contains(&("my_new_secret".to_owned(), "***".to_owned())));
    // The library view holds no more than the admin API.
    for record in emulator.requests() {
        for (_, value) in &record.params {
            assert!(!value.starts_with("xyz-"), "{value}");
        }
    }
}
