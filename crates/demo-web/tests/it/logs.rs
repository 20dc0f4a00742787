//! C21: nothing secret reaches the logs. Every log line of the whole system
//! (web app, entra-client, emulator, API, at TRACE level) is captured across
//! a full sign-in, API calls, `/me/tokens` and sign-out, then searched for
//! any JWT (`eyJ`), the authorization code, the state, the refresh token
//! and the session id.
//!
//! The capture installs the process-wide subscriber, which would also collect
//! (and slow down) every other test of this binary. So the test runs again in
//! a process of its own: this test binary, with only this test selected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::Command;
use std::sync::{Arc, Mutex};

use crate::common::*;
use demo_web::SessionBackend;
use sqlx::sqlite::SqlitePoolOptions;

/// A writer into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in the process that does the capture.
const CAPTURE: &str = "DEMO_WEB_TEST_LOG_CAPTURE";

#[test]
fn c21_no_code_token_state_or_session_id_in_any_log_line() {
    if std::env::var_os(CAPTURE).is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(capture());
        return;
    }
    // The name libtest knows this test by: its path without the crate's name.
    let path = concat!(
        module_path!(),
        "::c21_no_code_token_state_or_session_id_in_any_log_line"
    );
    let name = path.split_once("::").map_or(path, |(_, name)| name);
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact"])
        .env(CAPTURE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the capture, run as `{name}` in a process of its own:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A full sign-in, API calls, `/me/tokens`, a refresh and sign-out, every log
/// line captured and searched.
async fn capture() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        // Everything, except the test's own scripted browser (its cookie
        // jar logs the cookies it receives: it stands for the user's
        // browser, not for the system under test).
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace,cookie_store=off"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = TempDir::new("logs");
    let db = dir.path().join("web.db");
    let stack = StackBuilder::default()
        .backend(SessionBackend::Sqlite(db.clone()))
        .start()
        .await;
    let browser = Browser::new();
    let login = browser.start_login(&stack, Some("/me/tokens")).await;
    let state = params_of(&login.location())["state"].clone();
    let callback = browser
        .authorize(&login.location(), ALICE, ALICE_PASSWORD)
        .await;
    let code = params_of(&callback)["code"].clone();
    assert_eq!(browser.get(&callback).await.status, 303);
    let session = browser.cookie(&stack.base, COOKIE).unwrap();
    let home = browser.home(&stack).await;
    assert!(home.is_signed_in_home());
    assert_eq!(
        browser
            .submit(
                home.form_to("/heroes"),
                &[("name", "Logged"), ("secret_name", "Not")]
            )
            .await
            .status,
        303
    );
    assert_eq!(browser.get(&stack.url("/me/tokens")).await.status, 200);

    // The refresh token, from the token store.
    let pool = SqlitePoolOptions::new()
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT key, value FROM entra_token_cache WHERE key LIKE '%|rt'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let entry: serde_json::Value = serde_json::from_slice(&rows[0].1).unwrap();
    let refresh_token = entry["secret"].as_str().unwrap().to_owned();
    assert!(refresh_token.len() > 20);
    pool.close().await;

    // A silent refresh (the refresh token is sent), then sign-out.
    stack.clock.advance(3400);
    assert!(browser.home(&stack).await.is_signed_in_home());
    let home = browser.home(&stack).await;
    assert_eq!(
        browser
            .submit(home.form_to("/auth/logout"), &[])
            .await
            .status,
        303
    );

    let logs = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("demo_web::access"),
        "the access log is captured"
    );
    assert!(
        logs.contains("/auth/callback"),
        "the callback is logged, without its query"
    );
    for (what, secret) in [
        ("a JWT", "eyJ"),
        ("the authorization code", code.as_str()),
        ("the state", state.as_str()),
        ("the refresh token", refresh_token.as_str()),
        ("the session id", session.as_str()),
        ("the client secret", WEB_SECRET),
    ] {
        let hits: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(hits.is_empty(), "{what} in the logs: {hits:#?}");
    }
}
