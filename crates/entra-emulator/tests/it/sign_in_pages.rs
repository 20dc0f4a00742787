//! The authorize endpoint's pages over real HTTP: errors shown here versus
//! sent to the client, sign-in and consent forms, response modes, single
//! sign-on, session fixation, forgery, logout, headers and escaping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::*;
use crate::common::*;

fn web_params<'a>(scope: &'a str, state: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", WEB),
        ("response_type", "code"),
        ("redirect_uri", WEB_REDIRECT),
        ("scope", scope),
        ("state", state),
    ]
}

#[tokio::test]
async fn redirect_uri_variants_get_the_50011_page_never_a_redirect() {
    let emulator = start().await;
    let browser = browser(&emulator);
    // C16: exact string match only.
    for variant in [
        "http://localhost:8000/auth/callbac",
        "http://localhost:8000/auth/callback/extra",
        "http://localhost:8000/auth/callback/../callback",
        "http://localhost:8000/auth/../auth/callback",
        "http://LOCALHOST:8000/auth/callback",
        "http://localhost:8000/Auth/Callback",
        "http://localhost:8001/auth/callback",
        "http://localhost/auth/callback",
        "https://localhost:8000/auth/callback",
        "http://evil@localhost:8000/auth/callback",
        "http://localhost:8000@evil.example/auth/callback",
        "http://localhost:8000/auth/callback?next=https://evil.example",
        "http://localhost:8000/auth/callback#x",
        "http://localhost:8000/auth/callback/",
        "https://evil.example/auth/callback",
    ] {
        let scope = api_scope("Read");
        let mut params = web_params(&scope, "s");
        params[2] = ("redirect_uri", variant);
        let page = get(&browser, &authorize_url(&emulator, &params)).await;
        assert_eq!(page.status, 400, "{variant}: {}", page.body);
        assert!(page.location().is_none(), "{variant} redirected");
        assert!(
            page.body.contains("AADSTS50011"),
            "{variant}: {}",
            page.body
        );
        assert_protected(&page);
    }
}

#[tokio::test]
async fn an_unknown_client_or_tenant_gets_an_error_page() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let page = get(
        &browser,
        &authorize_url(
            &emulator,
            &[
                ("client_id", "00000000-1111-2222-3333-444444444444"),
                ("response_type", "code"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", "openid"),
            ],
        ),
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(page.location().is_none());
    assert!(page.body.contains("AADSTS700016"), "{}", page.body);
    assert_protected(&page);

    let page = get(
        &browser,
        &format!(
            "{}/nowhere.example/oauth2/v2.0/authorize?client_id={WEB}",
            emulator.http_url()
        ),
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains("AADSTS90002"), "{}", page.body);
}

#[tokio::test]
async fn request_errors_after_the_redirect_check_go_back_to_the_client() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, u64);
    let cases: Vec<Case<'_>> = vec![
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
            700_054,
        ),
        (
            vec![("scope", "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Nope")],
            "invalid_scope",
            70_011,
        ),
        (
            vec![
                ("code_challenge", "x".repeat(43).leak()),
                ("code_challenge_method", "S512"),
            ],
            "invalid_request",
            900_144,
        ),
        (
            vec![("code_challenge", "short")],
            "invalid_request",
            501_491,
        ),
        (vec![("prompt", "sometimes")], "invalid_request", 900_144),
        (
            vec![("response_mode", "smoke_signal")],
            "invalid_request",
            900_144,
        ),
    ];
    for (overrides, error, code) in cases {
        let mut params = web_params(&scope, "keep-me");
        for (k, v) in &overrides {
            params.retain(|(name, _)| name != k);
            params.push((k, v));
        }
        let page = get(&browser, &authorize_url(&emulator, &params)).await;
        assert_eq!(page.status, 302, "{overrides:?}: {}", page.body);
        assert!(page.location().unwrap().starts_with(WEB_REDIRECT));
        assert_protected(&page);
        assert_redirect_error(&page.redirect_params(), error, code, Some("keep-me"));
    }
    // The SPA platform requires PKCE.
    let page = get(
        &browser,
        &authorize_url(
            &emulator,
            &[
                ("client_id", SPA),
                ("response_type", "code"),
                ("redirect_uri", SPA_REDIRECT),
                ("scope", &scope),
            ],
        ),
    )
    .await;
    assert_redirect_error(&page.redirect_params(), "invalid_request", 9_002_325, None);
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_shows_50126_on_the_page() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    let page = get(
        &browser,
        &authorize_url(&emulator, &web_params(&scope, "s")),
    )
    .await;
    for (user, password) in [
        (ALICE, "wrong"),
        ("nobody@contoso.onmicrosoft.com", ALICE_PASSWORD),
        (ALICE, ""),
        (BOB, ALICE_PASSWORD),
    ] {
        let again = sign_in_as(&browser, &emulator, &page, user, password).await;
        assert!(again.status == 200 || again.status == 400);
        assert!(again.location().is_none());
        assert!(again.body.contains("AADSTS50126"), "{}", again.body);
        assert!(again.is_sign_in());
        assert!(
            again
                .set_cookies()
                .iter()
                .all(|c| !c.starts_with("entra_emulator_session="))
        );
        assert_protected(&again);
    }
    // The same form still works with the right password.
    let page = sign_in_as(&browser, &emulator, &page, BOB, BOB_PASSWORD).await;
    assert!(page.is_consent(), "{}", page.body);
}

#[tokio::test]
async fn the_sign_in_page_is_accessible_and_script_free() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    let page = get(
        &browser,
        &authorize_url(&emulator, &web_params(&scope, "s")),
    )
    .await;
    assert_eq!(page.status, 200);
    assert_protected(&page);
    assert!(page.body.contains("<label for=\"username\">"));
    assert!(page.body.contains("<label for=\"password\">"));
    assert!(page.body.contains("id=\"username\""));
    assert!(page.body.contains("id=\"password\""));
    assert!(!page.body.contains("<script"));
    assert!(page.body.contains("Heroes Web"));
    let (action, fields) = page.form();
    assert_eq!(action, format!("/{TENANT}/login"));
    for name in ["client_id", "redirect_uri", "scope", "state", "txn"] {
        assert!(fields.iter().any(|(k, _)| k == name), "{name} missing");
    }
}

#[tokio::test]
async fn declining_consent_sends_access_denied() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = format!("openid {}", api_scope("Write"));
    let page = get(
        &browser,
        &authorize_url(&emulator, &web_params(&scope, "d1")),
    )
    .await;
    let page = sign_in_as(&browser, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert!(page.is_consent());
    assert_protected(&page);
    let page = submit(&browser, &emulator, &page, &[("action", "cancel")]).await;
    assert_eq!(page.status, 302);
    assert_redirect_error(&page.redirect_params(), "access_denied", 65_004, Some("d1"));
    // Nothing was recorded: the next sign-in asks again.
    let page = get(
        &browser,
        &authorize_url(&emulator, &web_params(&scope, "d2")),
    )
    .await;
    assert!(page.is_consent(), "{}", page.body);
}

#[tokio::test]
async fn prompt_none_needs_a_session_and_consent() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    let mut params = web_params(&scope, "quiet");
    params.push(("prompt", "none"));
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert_eq!(page.status, 302);
    assert_redirect_error(
        &page.redirect_params(),
        "login_required",
        50_058,
        Some("quiet"),
    );

    // Signed in (SPA, admin-consented), but the web app has no consent yet.
    let (_, challenge) = pkce();
    interactive_code(
        &browser,
        &emulator,
        &[
            ("client_id", SPA),
            ("response_type", "code"),
            ("redirect_uri", SPA_REDIRECT),
            ("scope", &scope),
            ("code_challenge", &challenge),
        ],
    )
    .await;
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert_redirect_error(
        &page.redirect_params(),
        "consent_required",
        65_001,
        Some("quiet"),
    );

    // prompt=consent shows the page even when consent exists.
    interactive_code(&browser, &emulator, &web_params(&scope, "c")).await;
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert!(page.redirect_params().contains_key("code"));
    let mut forced = web_params(&scope, "c");
    forced.push(("prompt", "consent"));
    let page = get(&browser, &authorize_url(&emulator, &forced)).await;
    assert!(page.is_consent(), "{}", page.body);
    // prompt=login shows the sign-in page despite the session.
    let mut login = web_params(&scope, "c");
    login.push(("prompt", "login"));
    let page = get(&browser, &authorize_url(&emulator, &login)).await;
    assert!(page.is_sign_in(), "{}", page.body);
}

#[tokio::test]
async fn form_post_answers_with_a_self_submitting_form() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    let mut params = web_params(&scope, "fp");
    params.push(("response_mode", "form_post"));
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    let page = sign_in_as(&browser, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    let page = submit(&browser, &emulator, &page, &[("action", "accept")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_protected(&page);
    let (action, fields) = page.form();
    assert_eq!(action, WEB_REDIRECT);
    assert!(fields.iter().any(|(k, v)| k == "code" && v.len() >= 43));
    assert!(fields.iter().any(|(k, v)| k == "state" && v == "fp"));
    assert!(page.body.contains("<noscript>"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
}

#[tokio::test]
async fn the_session_id_changes_at_every_sign_in() {
    let emulator = start().await;
    let scope = api_scope("Read");
    let url = authorize_url(&emulator, &web_params(&scope, "s"));
    // A browser carrying an attacker-chosen session id (C20).
    let plain = client(&emulator);
    let fixated = "attacker-chosen-session-id";
    let page = Page::from(
        plain
            .get(&url)
            .header("cookie", format!("entra_emulator_session={fixated}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(page.is_sign_in());
    let browser_cookie = page.cookie("entra_emulator_browser").unwrap();
    let (action, mut fields) = page.form();
    fields.push(("username".into(), ALICE.into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let page = Page::from(
        plain
            .post(format!("{}{action}", emulator.http_url()))
            .header(
                "cookie",
                format!(
                    "entra_emulator_session={fixated}; entra_emulator_browser={browser_cookie}"
                ),
            )
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let first = page.cookie("entra_emulator_session").unwrap();
    assert_ne!(first, fixated);
    assert!(first.len() >= 43);
    let set = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("entra_emulator_session="))
        .unwrap();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));

    // Signing in again (prompt=login) issues another id and ends the first.
    let mut params = web_params(&scope, "s");
    params.push(("prompt", "login"));
    let cookies =
        format!("entra_emulator_session={first}; entra_emulator_browser={browser_cookie}");
    let page = Page::from(
        plain
            .get(authorize_url(&emulator, &params))
            .header("cookie", &cookies)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (action, mut fields) = page.form();
    fields.push(("username".into(), ALICE.into()));
    fields.push(("password".into(), ALICE_PASSWORD.into()));
    let page = Page::from(
        plain
            .post(format!("{}{action}", emulator.http_url()))
            .header("cookie", &cookies)
            .form(&fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let second = page.cookie("entra_emulator_session").unwrap();
    assert_ne!(second, first);

    let mut quiet = web_params(&scope, "s");
    quiet.push(("prompt", "none"));
    for (sid, alive) in [
        (first.as_str(), false),
        (fixated, false),
        (second.as_str(), true),
    ] {
        let page = Page::from(
            plain
                .get(authorize_url(&emulator, &quiet))
                .header("cookie", format!("entra_emulator_session={sid}"))
                .send()
                .await
                .unwrap(),
        )
        .await;
        let error = page.redirect_params().get("error").cloned();
        if alive {
            // Alive, but consent is still missing.
            assert_eq!(error.as_deref(), Some("consent_required"));
        } else {
            assert_eq!(error.as_deref(), Some("login_required"));
        }
    }
}

#[tokio::test]
async fn forged_or_replayed_forms_are_refused() {
    let emulator = start().await;
    let scope = api_scope("Read");
    let victim = browser(&emulator);
    let page = get(&victim, &authorize_url(&emulator, &web_params(&scope, "s"))).await;

    // The form posted from another browser (login CSRF: no browser cookie).
    let other = browser(&emulator);
    let forged = sign_in_as(&other, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert_eq!(forged.status, 400);
    assert!(forged.cookie("entra_emulator_session").is_none());

    // A hidden field altered.
    let (action, fields) = page.form();
    let mut altered: Vec<(String, String)> = fields
        .into_iter()
        .map(|(k, v)| {
            if k == "scope" {
                (k, format!("{} {}", v, api_scope("Delete")))
            } else {
                (k, v)
            }
        })
        .collect();
    altered.push(("username".into(), ALICE.into()));
    altered.push(("password".into(), ALICE_PASSWORD.into()));
    let response = victim
        .post(format!("{}{action}", emulator.http_url()))
        .form(&altered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    // The real form works once; its consent form works once.
    let consent = sign_in_as(&victim, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert!(consent.is_consent());
    let replay = sign_in_as(&victim, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert_eq!(replay.status, 400);
    let done = submit(&victim, &emulator, &consent, &[("action", "accept")]).await;
    assert_eq!(done.status, 302);
    let again = submit(&victim, &emulator, &consent, &[("action", "accept")]).await;
    assert_eq!(again.status, 400);
    // And no one else's browser can post it.
    let consent_elsewhere = submit(&other, &emulator, &consent, &[("action", "accept")]).await;
    assert_eq!(consent_elsewhere.status, 400);
}

#[tokio::test]
async fn hostile_state_and_login_hint_are_escaped() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    let hostile_state = "\"><script>alert(1)</script>";
    let hostile_hint = "<img src=x onerror=alert(2)>\"'";
    let mut params = web_params(&scope, hostile_state);
    params.push(("login_hint", hostile_hint));
    let page = get(&browser, &authorize_url(&emulator, &params)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(!page.body.contains("<img src=x"));
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // The values survive the round trip intact.
    let fields = page.form().1;
    assert!(
        fields
            .iter()
            .any(|(k, v)| k == "state" && v == hostile_state)
    );
    let page = sign_in_as(&browser, &emulator, &page, ALICE, ALICE_PASSWORD).await;
    assert!(!page.body.contains("<script>alert(1)"));
    let page = submit(&browser, &emulator, &page, &[("action", "accept")]).await;
    assert_eq!(page.redirect_params()["state"], hostile_state);

    // The unknown user typed back on the page is escaped too.
    let page = get(
        &browser,
        &authorize_url(
            &emulator,
            &[
                ("client_id", WEB),
                ("response_type", "code"),
                ("redirect_uri", WEB_REDIRECT),
                ("scope", &scope),
                ("prompt", "login"),
            ],
        ),
    )
    .await;
    let again = sign_in_as(&browser, &emulator, &page, "<b>x</b>", "pw").await;
    assert!(!again.body.contains("<b>x</b>"));
    assert!(again.body.contains("&lt;b&gt;x&lt;/b&gt;"));
}

#[tokio::test]
async fn logout_ends_the_session_and_returns_only_to_registered_addresses() {
    let emulator = start().await;
    let browser = browser(&emulator);
    let scope = api_scope("Read");
    interactive_code(&browser, &emulator, &web_params(&scope, "s")).await;
    let mut quiet = web_params(&scope, "q");
    quiet.push(("prompt", "none"));
    let page = get(&browser, &authorize_url(&emulator, &quiet)).await;
    assert!(page.redirect_params().contains_key("code"));

    // The web app's logout URL is registered: back there, with the state.
    let page = get(
        &browser,
        &format!(
            "{}/{TENANT}/oauth2/v2.0/logout?post_logout_redirect_uri={}&state=bye",
            emulator.http_url(),
            "http%3A%2F%2Flocalhost%3A8000%2F"
        ),
    )
    .await;
    assert_eq!(page.status, 302);
    assert_eq!(page.location().unwrap(), "http://localhost:8000/?state=bye");
    assert_protected(&page);
    let cleared = page
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("entra_emulator_session="))
        .unwrap();
    assert!(cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"));
    let page = get(&browser, &authorize_url(&emulator, &quiet)).await;
    assert_redirect_error(&page.redirect_params(), "login_required", 50_058, Some("q"));

    // An unregistered address: the signed-out page, no redirect (POST, v1 path too).
    interactive_code(&browser, &emulator, &web_params(&scope, "s")).await;
    let response = browser
        .post(format!("{}/{TENANT}/oauth2/logout", emulator.http_url()))
        .form(&[("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    let page = Page::from(response).await;
    assert_eq!(page.status, 200);
    assert!(page.location().is_none());
    assert!(page.body.contains("You signed out"));
    assert!(page.body.contains("https://evil.example/"));
    assert_protected(&page);
    let page = get(&browser, &authorize_url(&emulator, &quiet)).await;
    assert_redirect_error(&page.redirect_params(), "login_required", 50_058, Some("q"));

    // A registered redirect URI also counts; no state, no query.
    let page = get(
        &browser,
        &format!(
            "{}/common/oauth2/v2.0/logout?post_logout_redirect_uri={}",
            emulator.http_url(),
            "http%3A%2F%2Flocalhost%3A8080%2Fdocs%2Foauth2-redirect.html"
        ),
    )
    .await;
    assert_eq!(page.location().unwrap(), SPA_REDIRECT);
}

#[tokio::test]
async fn desktop_loopback_redirects_accept_any_port_and_nothing_else() {
    let emulator = start().await;
    let browser = browser(&emulator);
    for (uri, ok) in [
        ("http://localhost", true),
        ("http://localhost:51234", true),
        ("http://localhost:51234/", true),
        ("http://localhost:51234/x", false),
        ("http://localhost:51234@evil.example", false),
        ("http://localhost.evil.example:51234", false),
        ("https://localhost:51234", false),
    ] {
        let page = get(
            &browser,
            &authorize_url(
                &emulator,
                &[
                    ("client_id", CLI),
                    ("response_type", "code"),
                    ("redirect_uri", uri),
                    ("scope", "openid"),
                ],
            ),
        )
        .await;
        if ok {
            assert!(page.is_sign_in(), "{uri}: {}", page.body);
        } else {
            assert!(page.body.contains("AADSTS50011"), "{uri}: {}", page.body);
        }
    }
}

#[tokio::test]
async fn authorize_accepts_post_and_tenant_aliases() {
    let emulator = start_with(auto_login_directory()).await;
    let browser = browser(&emulator);
    let (_, challenge) = pkce();
    for tenant in ["common", "organizations", DOMAIN, TENANT] {
        let response = browser
            .post(format!(
                "{}/{tenant}/oauth2/v2.0/authorize",
                emulator.http_url()
            ))
            .form(&[
                ("client_id", SPA),
                ("response_type", "code"),
                ("redirect_uri", SPA_REDIRECT),
                ("scope", "openid"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", ALICE),
            ])
            .send()
            .await
            .unwrap();
        let page = Page::from(response).await;
        assert_eq!(page.status, 302, "{tenant}: {}", page.body);
        assert!(page.redirect_params().contains_key("code"));
    }
}
