//! The device-code flow over real HTTP: the device-code endpoint, the
//! verification page driven like a browser (forms, hidden step tokens, the
//! browser cookie), and every polling answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::common::*;
use entra_emulator::{Directory, Emulator};
use serde_json::Value;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The demo directory with an interval of 0 (no `slow_down` between polls).
async fn start_fast() -> Emulator {
    let mut directory = Directory::default_demo();
    directory.settings.device_code_interval = 0;
    start_with(directory).await
}

fn api_scope(value: &str) -> String {
    format!("{API_URI}/{value}")
}

/// POSTs to the v2 device-code endpoint.
async fn devicecode(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client(emulator)
        .post(format!(
            "{}/{TENANT}/oauth2/v2.0/devicecode",
            emulator.http_url()
        ))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn start_flow(emulator: &Emulator, client_id: &str, scope: &str) -> Value {
    let (status, body) = devicecode(emulator, &[("client_id", client_id), ("scope", scope)]).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls like MSAL: the code in both `device_code` and `code`.
async fn poll(emulator: &Emulator, client_id: &str, device_code: &str) -> (u16, Value) {
    post_token(
        emulator,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", client_id),
            ("device_code", device_code),
            ("code", device_code),
            ("client_info", "1"),
        ],
    )
    .await
}

/// A browser: keeps cookies, follows no redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of the hidden input `name` in a page.
fn hidden_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

async fn get_page(browser: &reqwest::Client, url: &str) -> (u16, String) {
    let response = browser.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn post_page(browser: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = browser.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Drives the page up to the consent step; returns the consent page.
async fn to_consent(
    browser: &reqwest::Client,
    uri: &str,
    user_code: &str,
    user: &str,
    password: &str,
) -> String {
    let (status, page) = get_page(browser, uri).await;
    assert_eq!(status, 200, "{page}");
    let token = hidden_value(&page, "flowToken").unwrap();
    // Codes are case- and dash-insensitive.
    let typed = format!(
        "{}-{}",
        &user_code[..4].to_lowercase(),
        &user_code[4..].to_lowercase()
    );
    let (status, page) = post_page(browser, uri, &[("flowToken", &token), ("code", &typed)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"password\""), "{page}");
    let token = hidden_value(&page, "flowToken").unwrap();
    let (status, page) = post_page(
        browser,
        uri,
        &[
            ("flowToken", &token),
            ("username", user),
            ("password", password),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"continue\""), "{page}");
    page
}

/// Signs in on the verification page and continues (or cancels).
async fn complete(flow: &Value, user: &str, password: &str, action: &str) -> String {
    let browser = browser();
    let uri = flow["verification_uri"].as_str().unwrap();
    let page = to_consent(
        &browser,
        uri,
        flow["user_code"].as_str().unwrap(),
        user,
        password,
    )
    .await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (status, page) =
        post_page(&browser, uri, &[("flowToken", &token), ("action", action)]).await;
    assert_eq!(status, 200, "{page}");
    page
}

fn decode_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn devicecode_response_is_shaped_like_entras() {
    let emulator = start().await;
    let flow = start_flow(
        &emulator,
        CLI,
        &format!("{} openid offline_access", api_scope("Heroes.Read")),
    )
    .await;
    let user_code = flow["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 8);
    assert!(
        user_code
            .chars()
            .all(|c| "BCDFGHJKMNPQRSTVWXZ23456789".contains(c)),
        "{user_code}"
    );
    let uri = format!("{}/devicelogin", emulator.http_url());
    assert_eq!(flow["verification_uri"], uri);
    assert_eq!(flow["expires_in"], 900);
    assert_eq!(flow["interval"], 5);
    assert!(flow["device_code"].as_str().unwrap().len() >= 40);
    assert!(flow.get("verification_uri_complete").is_none());
    assert_eq!(
        flow["message"],
        format!(
            "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
        )
    );
    // Every flow gets its own codes.
    let other = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    assert_ne!(other["user_code"], flow["user_code"]);
    assert_ne!(other["device_code"], flow["device_code"]);
}

#[tokio::test]
async fn v1_devicecode_takes_a_resource_and_answers_with_strings() {
    let emulator = start().await;
    let response = client(&emulator)
        .post(format!(
            "{}/{DOMAIN}/oauth2/devicecode",
            emulator.http_url()
        ))
        .form(&[("client_id", CLI), ("resource", API_URI)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], "900");
    assert_eq!(body["interval"], "5");
    assert!(
        body["verification_url"]
            .as_str()
            .unwrap()
            .ends_with("/devicelogin")
    );
}

#[tokio::test]
async fn approved_flow_yields_tokens_once() {
    let emulator = start_fast().await;
    let flow = start_flow(
        &emulator,
        CLI,
        &format!(
            "{} {} openid profile offline_access",
            api_scope("Heroes.Read"),
            api_scope("Heroes.Write")
        ),
    )
    .await;
    let device_code = flow["device_code"].as_str().unwrap();

    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_aadsts(s, &b, 400, "authorization_pending", 70_016);

    let page = complete(&flow, ALICE, ALICE_PASSWORD, "continue").await;
    assert!(
        page.contains("You have signed in to <strong>Entra CLI</strong>"),
        "{page}"
    );

    let (s, body) = poll(&emulator, CLI, device_code).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        format!(
            "{} {} openid profile offline_access",
            api_scope("Heroes.Read"),
            api_scope("Heroes.Write")
        )
    );
    assert!(body["expires_in"].is_i64());
    assert!(body["refresh_token"].is_string());
    assert!(body["client_info"].is_string());

    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(!principal.is_app_only());
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(CLI));
    assert!(principal.has_scope("Heroes.Read"));
    assert!(principal.has_scope("Heroes.Write"));
    assert!(!principal.has_scope("Heroes.Delete"));
    assert_eq!(principal.claims()["azpacr"], "0");

    let id = decode_claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], CLI);
    assert_eq!(id["oid"], ALICE_OID);
    assert_eq!(id["preferred_username"], ALICE);

    // The code is spent.
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_aadsts(s, &b, 400, "bad_verification_code", 70_018);

    // The refresh token works at the refresh-token grant.
    let (s, refreshed) = post_token(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            (
                "scope",
                &format!("{} openid offline_access", api_scope("Heroes.Read")),
            ),
        ],
    )
    .await;
    assert_eq!(s, 200, "{refreshed}");
    assert!(refreshed["access_token"].is_string());
}

#[tokio::test]
async fn bare_device_code_parameter_is_accepted() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    complete(&flow, BOB, BOB_PASSWORD, "continue").await;
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", CLI),
            ("device_code", flow["device_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // Neither openid nor offline_access: only the access token.
    assert!(body.get("id_token").is_none());
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("client_info").is_none());
}

#[tokio::test]
async fn declined_flow_answers_authorization_declined() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    let page = complete(&flow, ALICE, ALICE_PASSWORD, "cancel").await;
    assert!(page.contains("You declined"), "{page}");
    let device_code = flow["device_code"].as_str().unwrap();
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"], "authorization_declined");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );
}

#[tokio::test]
async fn expired_flow_answers_expired_token_and_the_page_refuses_it() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    emulator.set_clock_offset(901);
    let (s, b) = poll(&emulator, CLI, flow["device_code"].as_str().unwrap()).await;
    assert_aadsts(s, &b, 400, "expired_token", 70_019);

    let browser = browser();
    let uri = flow["verification_uri"].as_str().unwrap();
    let (_, page) = get_page(&browser, uri).await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, page) = post_page(
        &browser,
        uri,
        &[
            ("flowToken", &token),
            ("code", flow["user_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("AADSTS70018"), "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
}

#[tokio::test]
async fn approval_after_expiry_is_refused() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    let browser = browser();
    let uri = flow["verification_uri"].as_str().unwrap();
    let page = to_consent(
        &browser,
        uri,
        flow["user_code"].as_str().unwrap(),
        ALICE,
        ALICE_PASSWORD,
    )
    .await;
    emulator.set_clock_offset(901);
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, page) = post_page(
        &browser,
        uri,
        &[("flowToken", &token), ("action", "continue")],
    )
    .await;
    assert_eq!(s, 400);
    assert!(page.contains("AADSTS70019"), "{page}");
    let (s, b) = poll(&emulator, CLI, flow["device_code"].as_str().unwrap()).await;
    assert_aadsts(s, &b, 400, "expired_token", 70_019);
}

#[tokio::test]
async fn unknown_and_missing_device_codes_are_refused() {
    let emulator = start_fast().await;
    let (s, b) = poll(&emulator, CLI, "not-a-device-code").await;
    assert_aadsts(s, &b, 400, "bad_verification_code", 70_018);

    let (s, b) = post_token(
        &emulator,
        &[("grant_type", DEVICE_GRANT), ("client_id", CLI)],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);

    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", CLI),
            ("device_code", "a"),
            ("code", "b"),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);
}

#[tokio::test]
async fn polling_faster_than_the_interval_answers_slow_down() {
    let emulator = start().await; // interval 5
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    let device_code = flow["device_code"].as_str().unwrap();
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_aadsts(s, &b, 400, "authorization_pending", 70_016);
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"], "slow_down");
    // Waiting the interval (on the emulator's clock) is fine again.
    emulator.set_clock_offset(6);
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_aadsts(s, &b, 400, "authorization_pending", 70_016);
}

#[tokio::test]
async fn another_client_cannot_redeem_the_code() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    complete(&flow, ALICE, ALICE_PASSWORD, "continue").await;
    let device_code = flow["device_code"].as_str().unwrap();
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("device_code", device_code),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_grant", 70_000);
    // The rightful client still can.
    let (s, b) = poll(&emulator, CLI, device_code).await;
    assert_eq!(s, 200, "{b}");
}

#[tokio::test]
async fn confidential_client_authenticates_and_the_page_records_consent() {
    let emulator = start_fast().await;
    // The web app has no admin consent: the page's Continue is the user's consent.
    let flow = start_flow(&emulator, WEB, &api_scope("Heroes.Read")).await;
    let page = {
        let browser = browser();
        let uri = flow["verification_uri"].as_str().unwrap();
        let page = to_consent(
            &browser,
            uri,
            flow["user_code"].as_str().unwrap(),
            BOB,
            BOB_PASSWORD,
        )
        .await;
        assert!(page.contains("List and view heroes"), "{page}");
        assert!(page.contains("Heroes Web"), "{page}");
        let token = hidden_value(&page, "flowToken").unwrap();
        post_page(
            &browser,
            uri,
            &[("flowToken", &token), ("action", "continue")],
        )
        .await
        .1
    };
    assert!(page.contains("You have signed in"), "{page}");
    let device_code = flow["device_code"].as_str().unwrap();
    let (s, b) = poll(&emulator, WEB, device_code).await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);
    let (s, body) = post_token(
        &emulator,
        &[
            ("grant_type", DEVICE_GRANT),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
            ("device_code", device_code),
        ],
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.scopes(), ["Heroes.Read"]);
    assert_eq!(principal.claims()["azpacr"], "1");
}

#[tokio::test]
async fn default_scope_grants_the_configured_permissions() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope(".default")).await;
    complete(&flow, ALICE, ALICE_PASSWORD, "continue").await;
    let (s, body) = poll(&emulator, CLI, flow["device_code"].as_str().unwrap()).await;
    assert_eq!(s, 200, "{body}");
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    let mut scopes = principal.scopes().to_vec();
    scopes.sort();
    assert_eq!(scopes, ["Heroes.Delete", "Heroes.Read", "Heroes.Write"]);
}

#[tokio::test]
async fn devicecode_endpoint_errors_are_entra_shaped() {
    let emulator = start().await;
    let unknown = "00000000-1111-2222-3333-444444444444";
    let (s, b) = devicecode(
        &emulator,
        &[("client_id", unknown), ("scope", &api_scope("Heroes.Read"))],
    )
    .await;
    assert_aadsts(s, &b, 400, "unauthorized_client", 700_016);

    // The SPA is neither a public client nor confidential.
    let (s, b) = devicecode(
        &emulator,
        &[("client_id", SPA), ("scope", &api_scope("Heroes.Read"))],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_client", 7_000_218);

    let (s, b) = devicecode(
        &emulator,
        &[("client_id", CLI), ("scope", &api_scope("Heroes.Fly"))],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 70_011);

    let (s, b) = devicecode(&emulator, &[("client_id", CLI)]).await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);

    let (s, b) = devicecode(&emulator, &[("scope", "openid")]).await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);

    let response = client(&emulator)
        .post(format!(
            "{}/nowhere.example/oauth2/v2.0/devicecode",
            emulator.http_url()
        ))
        .form(&[("client_id", CLI), ("scope", "openid")])
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_aadsts(status, &body, 400, "invalid_tenant", 90_002);

    let response = client(&emulator)
        .post(format!(
            "{}/{TENANT}/oauth2/v2.0/devicecode",
            emulator.http_url()
        ))
        .body("{\"client_id\":\"x\"}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_aadsts(status, &body, 400, "invalid_request", 900_144);
}

#[tokio::test]
async fn verification_page_is_accessible_and_script_free() {
    let emulator = start().await;
    let response = browser()
        .get(format!("{}/devicelogin", emulator.http_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let page = response.text().await.unwrap();
    assert!(!page.to_lowercase().contains("<script"), "{page}");
    assert!(page.contains("<label for=\"code\">"), "{page}");
    assert!(page.contains("lang=\"en\""), "{page}");
}

#[tokio::test]
async fn wrong_code_and_wrong_password_show_the_form_again() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    let browser = browser();
    let uri = flow["verification_uri"].as_str().unwrap();
    let (_, page) = get_page(&browser, uri).await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, page) = post_page(
        &browser,
        uri,
        &[("flowToken", &token), ("code", "<script>alert(1)</script>")],
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("role=\"alert\""), "{page}");
    assert!(!page.contains("<script>"), "{page}");

    let token = hidden_value(&page, "flowToken").unwrap();
    let (_, page) = post_page(
        &browser,
        uri,
        &[
            ("flowToken", &token),
            ("code", flow["user_code"].as_str().unwrap()),
        ],
    )
    .await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, page) = post_page(
        &browser,
        uri,
        &[
            ("flowToken", &token),
            ("username", ALICE),
            ("password", "wrong"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("AADSTS50126"), "{page}");
    assert!(page.contains(&format!("value=\"{ALICE}\"")), "{page}");
    // Still pending; the right password then works.
    let (s, b) = poll(&emulator, CLI, flow["device_code"].as_str().unwrap()).await;
    assert_aadsts(s, &b, 400, "authorization_pending", 70_016);
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, page) = post_page(
        &browser,
        uri,
        &[
            ("flowToken", &token),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
        ],
    )
    .await;
    assert_eq!(s, 200);
    assert!(page.contains("value=\"continue\""), "{page}");
    // The request log never holds the password or the user code.
    let requests = emulator.requests();
    assert!(requests.iter().any(|r| r.path == "/devicelogin"));
    for record in requests {
        for (name, value) in &record.params {
            assert!(
                value != ALICE_PASSWORD && value != "wrong",
                "{name} logged in clear"
            );
            assert!(
                value != flow["user_code"].as_str().unwrap(),
                "{name} logged in clear"
            );
        }
    }
}

#[tokio::test]
async fn step_tokens_are_single_use_and_bound_to_the_browser() {
    let emulator = start_fast().await;
    let flow = start_flow(&emulator, CLI, &api_scope("Heroes.Read")).await;
    let uri = flow["verification_uri"].as_str().unwrap();
    let user_code = flow["user_code"].as_str().unwrap();
    let browser = browser();
    let page = to_consent(&browser, uri, user_code, ALICE, ALICE_PASSWORD).await;
    let consent_token = hidden_value(&page, "flowToken").unwrap();

    // Another browser (no cookie, or its own cookie) cannot use the token.
    let (s, page) = post_page(
        &client(&emulator),
        uri,
        &[("flowToken", &consent_token), ("action", "continue")],
    )
    .await;
    assert_eq!(s, 400, "{page}");
    let other = self::browser();
    get_page(&other, uri).await;
    let (s, _) = post_page(
        &other,
        uri,
        &[("flowToken", &consent_token), ("action", "continue")],
    )
    .await;
    assert_eq!(s, 400);
    // The token was consumed by that attempt: even the right browser cannot reuse it.
    let (s, _) = post_page(
        &browser,
        uri,
        &[("flowToken", &consent_token), ("action", "continue")],
    )
    .await;
    assert_eq!(s, 400);
    // A made-up token, or none, is refused.
    for form in [
        vec![("flowToken", "forged"), ("action", "continue")],
        vec![("action", "continue")],
    ] {
        let (s, page) = post_page(&browser, uri, &form).await;
        assert_eq!(s, 400, "{page}");
    }
    // Nothing was approved.
    let (s, b) = poll(&emulator, CLI, flow["device_code"].as_str().unwrap()).await;
    assert_aadsts(s, &b, 400, "authorization_pending", 70_016);

    // A new pass through the page, in one browser, approves it.
    let page = to_consent(&browser, uri, user_code, ALICE, ALICE_PASSWORD).await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (s, _) = post_page(
        &browser,
        uri,
        &[("flowToken", &token), ("action", "continue")],
    )
    .await;
    assert_eq!(s, 200);
    // The code cannot be entered again once approved.
    let (_, page) = get_page(&browser, uri).await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let (_, page) = post_page(&browser, uri, &[("flowToken", &token), ("code", user_code)]).await;
    assert!(page.contains("AADSTS70018"), "{page}");
}

#[tokio::test]
async fn a_step_token_of_one_emulator_is_refused_by_another() {
    let first = start_fast().await;
    let second = start_fast().await;
    let browser = browser();
    let (_, page) = get_page(&browser, &format!("{}/devicelogin", first.http_url())).await;
    let token = hidden_value(&page, "flowToken").unwrap();
    let flow = start_flow(&second, CLI, &api_scope("Heroes.Read")).await;
    // Cookies ignore ports: the same browser cookie goes to both emulators.
    let (s, page) = post_page(
        &browser,
        &format!("{}/devicelogin", second.http_url()),
        &[
            ("flowToken", token.as_str()),
            ("code", flow["user_code"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(s, 400, "{page}");
}
