//! The home page at `/` and `/_emulator/`, over real HTTP: the directory
//! without secrets, the discovery URLs, the recent requests with their
//! AADSTS outcome, the mint form (a token entra-auth accepts) and the decode
//! box, each form single-use and bound to the browser's cookie, cross-site
//! posts refused, and the admin token honoured when one is configured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_emulator::{Directory, Emulator, EmulatorConfig};

use crate::common::*;

/// A cookie-keeping client, as a browser.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `n`th form token of a page.
fn form_token(html: &str, n: usize) -> String {
    let marker = "name=\"formToken\" value=\"";
    let start = html
        .match_indices(marker)
        .nth(n)
        .unwrap_or_else(|| panic!("no form token #{n} in {html}"))
        .0
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// The text of the element with `id`, HTML entities of JSON undone.
fn element(html: &str, id: &str) -> String {
    let open = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let start = open + html[open..].find('>').unwrap() + 1;
    let end = start + html[start..].find("</").unwrap();
    html[start..end]
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn post(client: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = client.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn the_home_page_shows_the_directory_without_secrets_and_mints_and_decodes() {
    let emulator = start().await;
    let base = emulator.http_url();
    // A failed client-credentials request, to be seen with its AADSTS code.
    let (status, _) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "not-the-secret"),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(status, 401);

    let browser = browser();
    for path in ["/", "/_emulator/", "/_emulator"] {
        let response = browser.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(!csp.contains("script-src"), "{csp}");
    }
    let (_, html) = get(&browser, &format!("{base}/")).await;
    for shown in [
        TENANT,
        DOMAIN,
        API,
        API_URI,
        WEB,
        WEB_REDIRECT,
        SPA_REDIRECT,
        "Heroes.Read",
        ALICE,
        ALICE_OID,
    ] {
        assert!(html.contains(shown), "{shown} not shown");
    }
    for secret in [
        WEB_SECRET,
        DAEMON_SECRET,
        ALICE_PASSWORD,
        BOB_PASSWORD,
        "not-the-secret",
    ] {
        assert!(!html.contains(secret), "{secret} shown");
    }
    assert!(html.contains(&format!(
        "{base}/{TENANT}/v2.0/.well-known/openid-configuration"
    )));
    let https = emulator.https_url().unwrap();
    assert!(html.contains(&format!(
        "{https}/{TENANT}/v2.0/.well-known/openid-configuration"
    )));
    // The failed request: its grant, client and AADSTS code.
    let requests = element(&html, "requests");
    assert!(requests.contains("Recent requests"));
    let table = &html[html.find("class=\"requests\"").unwrap()..];
    assert!(table.contains("client_credentials"), "{table}");
    assert!(table.contains(DAEMON), "{table}");
    assert!(table.contains("AADSTS7000215"), "{table}");
    // The administration API's request log carries the code too.
    let log: serde_json::Value = client(&emulator)
        .get(format!("{base}/_emulator/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let failed = log
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == format!("/{TENANT}/oauth2/v2.0/token"))
        .unwrap();
    assert_eq!(failed["aadsts"], 7_000_215);
    assert_eq!(failed["status"], 401);

    // Mint: a delegated token entra-auth accepts.
    let mint_token = form_token(&html, 0);
    let (status, page) = post(
        &browser,
        &format!("{base}/_emulator/home/token"),
        &[
            ("formToken", &mint_token),
            ("tenant", DOMAIN),
            ("clientId", WEB),
            ("resource", API),
            ("user", ALICE),
            ("scopes", "Heroes.Read Heroes.Write"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let token = element(&page, "minted-token");
    let principal = validator(&emulator).await.validate(&token).await.unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));
    assert!(element(&page, "decoded-claims").contains(ALICE));

    // A form token is single-use.
    let (status, _) = post(
        &browser,
        &format!("{base}/_emulator/home/token"),
        &[
            ("formToken", &mint_token),
            ("tenant", DOMAIN),
            ("clientId", WEB),
            ("resource", API),
        ],
    )
    .await;
    assert_eq!(status, 403);

    // Decode what was minted.
    let (status, page) = post(
        &browser,
        &format!("{base}/_emulator/home/decode"),
        &[("formToken", &form_token(&page, 1)), ("token", &token)],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let claims: serde_json::Value =
        serde_json::from_str(&element(&page, "decoded-claims")).unwrap();
    assert_eq!(claims["oid"], ALICE_OID);
    assert_eq!(claims["scp"], "Heroes.Read Heroes.Write");
    let header: serde_json::Value =
        serde_json::from_str(&element(&page, "decoded-header")).unwrap();
    assert_eq!(header["alg"], "RS256");
    let times = &page[page.find("id=\"decoded-times\"").unwrap()..];
    let times = &times[..times.find("</ul>").unwrap()];
    assert!(times.contains("UTC") && times.contains("exp"), "{times}");

    // Bad input: one line on the page, 422, not a 500.
    let (status, page) = post(
        &browser,
        &format!("{base}/_emulator/home/decode"),
        &[
            ("formToken", &form_token(&page, 1)),
            ("token", "not a token"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(element(&page, "decode-error").contains("3 dot-separated parts"));
    let (status, page) = post(
        &browser,
        &format!("{base}/_emulator/home/token"),
        &[
            ("formToken", &form_token(&page, 0)),
            ("tenant", DOMAIN),
            ("clientId", WEB),
            ("resource", API),
            ("user", "nobody@contoso.onmicrosoft.com"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(element(&page, "mint-error").contains("nobody@contoso.onmicrosoft.com"));
    // The inputs are kept.
    assert!(page.contains("value=\"nobody@contoso.onmicrosoft.com\""));

    // The token pasted into the decode box never reaches the request log.
    for record in emulator.requests() {
        for (_, value) in &record.params {
            assert!(!value.contains(&token[..40]), "{record:?}");
        }
    }
}

#[tokio::test]
async fn forms_from_another_site_or_another_browser_are_refused() {
    let emulator = start().await;
    let base = emulator.http_url();
    let alice = browser();
    let (_, html) = get(&alice, &format!("{base}/_emulator/")).await;
    let token = form_token(&html, 0);
    let fields = |t: &str| {
        vec![
            ("formToken".to_owned(), t.to_owned()),
            ("tenant".to_owned(), TENANT.to_owned()),
            ("clientId".to_owned(), DAEMON.to_owned()),
            ("resource".to_owned(), API.to_owned()),
        ]
    };
    // Another browser (no cookie, or its own cookie) cannot use Alice's form.
    let (status, _) = post(
        &reqwest::Client::new(),
        &format!("{base}/_emulator/home/token"),
        &[("formToken", &token)],
    )
    .await;
    assert_eq!(status, 403);
    let mallory = browser();
    let _ = get(&mallory, &format!("{base}/")).await;
    let response = mallory
        .post(format!("{base}/_emulator/home/token"))
        .form(&fields(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Cross-site posts are refused even with the cookie and a live form.
    let (_, html) = get(&alice, &format!("{base}/")).await;
    for (name, value) in [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.example"),
    ] {
        let response = alice
            .post(format!("{base}/_emulator/home/token"))
            .header(name, value)
            .form(&fields(&form_token(&html, 0)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{name}");
    }
    // Not a form: 415.
    let response = alice
        .post(format!("{base}/_emulator/home/decode"))
        .header("content-type", "text/plain")
        .body("token=x")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    // Alice's own form still works (an app-only token).
    let (_, html) = get(&alice, &format!("{base}/")).await;
    let response = alice
        .post(format!("{base}/_emulator/home/token"))
        .header("sec-fetch-site", "same-origin")
        .header("origin", &base)
        .form(&fields(&form_token(&html, 0)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_an_admin_token_the_page_asks_for_it() {
    let mut config = EmulatorConfig::for_tests(Directory::default_demo());
    config.admin_token = Some("home-admin-token".into());
    let emulator = Emulator::start(config).await.unwrap();
    let base = emulator.http_url();
    let browser = browser();
    let (status, html) = get(&browser, &format!("{base}/")).await;
    assert_eq!(status, 401);
    assert!(html.contains("name=\"adminToken\""));
    assert!(!html.contains(API) && !html.contains(ALICE), "{html}");
    // Minting without it is refused.
    let (status, _) = post(
        &browser,
        &format!("{base}/_emulator/home/token"),
        &[
            ("formToken", &form_token(&html, 0)),
            ("tenant", TENANT),
            ("clientId", DAEMON),
            ("resource", API),
        ],
    )
    .await;
    assert_eq!(status, 401);
    // The wrong token.
    let (_, html) = get(&browser, &format!("{base}/")).await;
    let (status, html) = post(
        &browser,
        &format!("{base}/_emulator/home/sign-in"),
        &[
            ("formToken", &form_token(&html, 0)),
            ("adminToken", "wrong"),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(html.contains("That is not this emulator"), "{html}");
    // The right one: a session for this browser.
    let (status, _) = post(
        &browser,
        &format!("{base}/_emulator/home/sign-in"),
        &[
            ("formToken", &form_token(&html, 0)),
            ("adminToken", "home-admin-token"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let (status, html) = get(&browser, &format!("{base}/_emulator/")).await;
    assert_eq!(status, 200);
    assert!(html.contains(API) && html.contains(ALICE));
    let (status, _) = post(
        &browser,
        &format!("{base}/_emulator/home/token"),
        &[
            ("formToken", &form_token(&html, 0)),
            ("tenant", TENANT),
            ("clientId", DAEMON),
            ("resource", API),
        ],
    )
    .await;
    assert_eq!(status, 200);
    // Another browser is not signed in; a bearer admin token is enough.
    let (status, _) = get(&reqwest::Client::new(), &format!("{base}/")).await;
    assert_eq!(status, 401);
    let response = reqwest::Client::new()
        .get(format!("{base}/"))
        .bearer_auth("home-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
