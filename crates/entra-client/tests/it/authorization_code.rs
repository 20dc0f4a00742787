//! Sign-in with the authorization code flow against the emulator, over real
//! HTTP, and the client-side cases of the security catalogue (§2, C1–C27)
//! that concern the library.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;

use crate::common::tamper::{self, Mutation};
use crate::common::*;
use entra_client::{
    AuthorizationRequest, Callback, ClientCredential, Error, IdTokenError, PendingAuthorization,
    SignOutRequest,
};
use entra_emulator::Directory;

fn read_write() -> Vec<String> {
    vec![heroes("Read"), heroes("Write")]
}

#[tokio::test]
async fn web_app_signs_in_through_the_pages_consents_and_calls_the_api() {
    let emulator = start().await;
    let client = web_client(&emulator);
    let start = client
        .authorize_url(AuthorizationRequest::new(read_write()))
        .await
        .unwrap();
    // The authorize URL: the discovered endpoint, every parameter.
    let params = params_of(start.url.as_str());
    assert!(
        start.url.as_str().starts_with(&format!(
            "{}/{TENANT}/oauth2/v2.0/authorize?",
            emulator.http_url()
        )),
        "{}",
        start.url
    );
    assert_eq!(params["client_id"], WEB);
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["redirect_uri"], WEB_REDIRECT);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["state"], start.pending.state());
    for s in [
        "openid",
        "profile",
        "offline_access",
        &heroes("Read"),
        &heroes("Write"),
    ] {
        assert!(
            params["scope"].split(' ').any(|x| x == s),
            "{}",
            params["scope"]
        );
    }
    // The pending authorization survives a session store.
    let stored = serde_json::to_string(&start.pending).unwrap();
    assert!(!format!("{:?}", start.pending).contains(start.pending.state()));

    let location = drive(
        &browser(),
        &emulator,
        start.url.as_str(),
        ALICE,
        ALICE_PASSWORD,
        Consent::Accept,
    )
    .await;
    assert!(location.starts_with(WEB_REDIRECT), "{location}");
    let pending: PendingAuthorization = serde_json::from_str(&stored).unwrap();
    let sign_in = client
        .complete_authorization(pending, &callback_of(&location))
        .await
        .unwrap();

    assert_eq!(sign_in.account.object_id(), ALICE_OID);
    assert_eq!(sign_in.account.tenant_id(), TENANT);
    assert_eq!(sign_in.account.username(), Some(ALICE));
    assert_eq!(sign_in.account.name(), Some("Alice Admin"));
    assert_eq!(
        sign_in.account.home_account_id(),
        format!("{ALICE_OID}.{TENANT}")
    );
    assert_eq!(sign_in.id_token.nonce(), Some(params["nonce"].as_str()));
    assert!(!sign_in.access_token.from_cache());
    let principal = api_validator(&emulator)
        .await
        .validate(sign_in.access_token.secret())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(WEB));
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));
    assert_eq!(principal.claims()["azpacr"], "1");

    // Silent acquisition for the same scopes: the cached token, no request.
    let before = all_token_requests(&emulator);
    let token = client
        .acquire_token_silent(&sign_in.account, &read_write())
        .await
        .unwrap();
    assert!(token.from_cache());
    assert_eq!(token.secret(), sign_in.access_token.secret());
    assert_eq!(all_token_requests(&emulator), before);

    // Nothing secret in the debug output of what the app handles.
    let debug = format!("{sign_in:?}");
    assert!(!debug.contains(sign_in.access_token.secret()));
    assert!(!debug.contains(sign_in.id_token.as_str()));
}

#[tokio::test]
async fn the_secret_can_go_in_http_basic() {
    let emulator = start_with(auto_login()).await;
    let client = web_builder(&emulator)
        .build_confidential(ClientCredential::Secret(
            entra_client::ClientSecret::new(WEB_SECRET).in_basic_auth(),
        ))
        .unwrap();
    let sign_in = auto_sign_in(&client, &[heroes("Read")]).await;
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
    // The form carried no client_secret.
    let redemption = emulator
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert!(!redemption.params.iter().any(|(k, _)| k == "client_secret"));
}

/// The demo directory where `login_hint` signs the user in at once, and the
/// web app's permissions consented.
fn auto_login() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    for app in &mut directory.tenants[0].applications {
        if app.app_id == WEB {
            for access in &mut app.required_resource_access {
                access.admin_consented = true;
            }
        }
    }
    directory
}

/// A sign-in with `login_hint` (no pages) on an [`auto_login`] emulator.
async fn auto_sign_in(client: &entra_client::Client, scopes: &[String]) -> entra_client::SignIn {
    let start = client
        .authorize_url(AuthorizationRequest::new(scopes.to_vec()).login_hint(ALICE))
        .await
        .unwrap();
    let page = get(&browser(), start.url.as_str()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    client
        .complete_authorization(start.pending, &callback_of(&page.location.unwrap()))
        .await
        .unwrap()
}

/// Authorizes with `login_hint` and returns the pending authorization and
/// the redirect's callback, without completing.
async fn authorize(
    client: &entra_client::Client,
    scopes: &[String],
) -> (PendingAuthorization, String) {
    let start = client
        .authorize_url(AuthorizationRequest::new(scopes.to_vec()).login_hint(ALICE))
        .await
        .unwrap();
    let page = get(&browser(), start.url.as_str()).await;
    assert_eq!(page.status, 302, "{}", page.body);
    (start.pending, page.location.unwrap())
}

#[tokio::test]
async fn c1_a_callback_without_state_is_refused_before_any_token_request() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    let code = params_of(&location)["code"].clone();
    let callback = Callback::from_query(&format!("code={code}")).unwrap();
    let err = client
        .complete_authorization(pending, &callback)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StateMismatch), "{err:?}");
    assert_eq!(all_token_requests(&emulator), 0);
}

#[tokio::test]
async fn c2_a_callback_for_another_sign_in_is_refused() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    // The victim's pending sign-in, and the attacker's own callback URL.
    let (victim, _) = authorize(&client, &[heroes("Read")]).await;
    let (_, attackers) = authorize(&client, &[heroes("Read")]).await;
    let err = client
        .complete_authorization(victim, &callback_of(&attackers))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StateMismatch), "{err:?}");
    assert_eq!(all_token_requests(&emulator), 0);
    // A state that differs only in its last character.
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    let mut params = params_of(&location);
    let state = params.remove("state").unwrap();
    let forged = format!(
        "{}{}",
        &state[..state.len() - 1],
        if state.ends_with('A') { 'B' } else { 'A' }
    );
    let callback =
        Callback::from_query(&format!("code={}&state={forged}", params["code"])).unwrap();
    assert!(matches!(
        client.complete_authorization(pending, &callback).await,
        Err(Error::StateMismatch)
    ));
}

#[tokio::test]
async fn c3_a_replayed_callback_is_refused() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    // An app that (wrongly) kept a copy of the pending authorization.
    let copy: PendingAuthorization =
        serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();
    let callback = callback_of(&location);
    client
        .complete_authorization(pending, &callback)
        .await
        .unwrap();
    let err = client
        .complete_authorization(copy, &callback)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StateReplayed), "{err:?}");
    assert_eq!(token_requests(&emulator, "authorization_code"), 1);
}

#[tokio::test]
async fn c4_a_pending_authorization_older_than_ten_minutes_is_refused() {
    let emulator = start_with(auto_login()).await;
    let clock = TestClock::default();
    let client = web_builder(&emulator)
        .clock(clock.clock())
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    clock.advance(601);
    let err = client
        .complete_authorization(pending, &callback_of(&location))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuthorizationExpired), "{err:?}");
    assert_eq!(all_token_requests(&emulator), 0);
}

#[tokio::test]
async fn c5_access_denied_on_the_consent_page_is_a_typed_error() {
    let emulator = start().await;
    let client = web_client(&emulator);
    let start = client
        .authorize_url(AuthorizationRequest::new(read_write()))
        .await
        .unwrap();
    let location = drive(
        &browser(),
        &emulator,
        start.url.as_str(),
        ALICE,
        ALICE_PASSWORD,
        Consent::Cancel,
    )
    .await;
    let err = client
        .complete_authorization(start.pending, &callback_of(&location))
        .await
        .unwrap_err();
    let Error::AuthorizationDenied(server) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(server.error, "access_denied");
    assert_eq!(server.aadsts, Some(65_004));
    assert_eq!(err.aadsts(), Some(65_004));
    assert!(server.summary().unwrap().contains("declined"), "{server:?}");
    assert_eq!(all_token_requests(&emulator), 0);

    // An attacker's error description is carried as text, never interpreted.
    let start = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]))
        .await
        .unwrap();
    let callback = Callback::from_query(&format!(
        "error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={}",
        start.pending.state()
    ))
    .unwrap();
    match client
        .complete_authorization(start.pending, &callback)
        .await
    {
        Err(Error::AuthorizationDenied(server)) => {
            assert_eq!(
                server.description.as_deref(),
                Some("<script>alert(1)</script>")
            );
            assert_eq!(server.aadsts, None);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn c6_pkce_is_s256_with_long_unique_verifiers() {
    let emulator = start().await;
    let client = web_client(&emulator);
    let mut challenges = HashSet::new();
    let mut states = HashSet::new();
    let mut nonces = HashSet::new();
    for _ in 0..1000 {
        let start = client
            .authorize_url(AuthorizationRequest::new([heroes("Read")]))
            .await
            .unwrap();
        let params = params_of(start.url.as_str());
        assert_eq!(params["code_challenge_method"], "S256");
        assert_eq!(params["code_challenge"].len(), 43);
        assert!(params["state"].len() >= 43 && params["nonce"].len() >= 43);
        let pending = serde_json::to_value(&start.pending).unwrap();
        let verifier = pending["code_verifier"].as_str().unwrap();
        assert!((43..=128).contains(&verifier.len()));
        assert!(challenges.insert(params["code_challenge"].clone()));
        assert!(states.insert(params["state"].clone()));
        assert!(nonces.insert(params["nonce"].clone()));
    }
    // Discovery was fetched once for all of them.
    let discoveries = emulator
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/v2.0/.well-known/openid-configuration"))
        .count();
    assert!(discoveries <= 2, "{discoveries}"); // ours, and the key cache's
}

#[tokio::test]
async fn c9_an_injected_code_fails_at_redemption_with_a_typed_pkce_error() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    // The attacker's code (their own transaction, their own verifier)...
    let (_, attackers) = authorize(&client, &[heroes("Read")]).await;
    let code = params_of(&attackers)["code"].clone();
    // ...pasted into the victim's callback, with the victim's state.
    let (victim, location) = authorize(&client, &[heroes("Read")]).await;
    let state = params_of(&location)["state"].clone();
    let callback = Callback::from_query(&format!("code={code}&state={state}")).unwrap();
    let err = client
        .complete_authorization(victim, &callback)
        .await
        .unwrap_err();
    let Error::Authority(server) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(server.error, "invalid_grant");
    assert_eq!(server.aadsts, Some(501_481));
    assert_eq!(server.status, Some(400));
    assert!(server.trace_id.is_some() && server.correlation_id.is_some());
    assert_eq!(err.trace_id(), server.trace_id.as_deref());
    let text = err.to_string();
    assert!(
        text.contains("AADSTS501481") && text.contains("trace id"),
        "{text}"
    );
    assert!(!text.contains(&code));
}

#[tokio::test]
async fn a_tampered_verifier_is_refused_by_the_authority() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    let mut value = serde_json::to_value(&pending).unwrap();
    value["code_verifier"] = "A".repeat(43).into();
    let tampered: PendingAuthorization = serde_json::from_value(value).unwrap();
    let err = client
        .complete_authorization(tampered, &callback_of(&location))
        .await
        .unwrap_err();
    assert_eq!(err.aadsts(), Some(501_481), "{err:?}");
    assert!(err.correlation_id().is_some());
}

#[tokio::test]
async fn a_callback_without_a_code_is_refused() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    let state = params_of(&location)["state"].clone();
    let callback = Callback::from_query(&format!("state={state}")).unwrap();
    assert!(matches!(
        client.complete_authorization(pending, &callback).await,
        Err(Error::MissingCode)
    ));
    assert_eq!(all_token_requests(&emulator), 0);
}

#[tokio::test]
async fn c12_an_id_token_with_another_sign_ins_nonce_is_refused() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let start = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]).login_hint(ALICE))
        .await
        .unwrap();
    // The authorization request that reaches the authority carries another
    // nonce (an older sign-in's, or an attacker's).
    let mut url = start.url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "nonce" {
                "an-older-nonce".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let page = get(&browser(), url.as_str()).await;
    let err = client
        .complete_authorization(start.pending, &callback_of(&page.location.unwrap()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::IdToken(IdTokenError::Nonce)),
        "{err:?}"
    );
    // No session: nothing was cached for alice.
    assert!(matches!(
        client
            .acquire_token_silent(&alice(), &[heroes("Read")])
            .await,
        Err(Error::InteractionRequired { server: None })
    ));
}

#[tokio::test]
async fn c11_an_expired_id_token_is_refused() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    // The authority's clock runs two hours late: its ID token expired an hour ago.
    emulator.set_clock_offset(-7200);
    let err = client
        .complete_authorization(pending, &callback_of(&location))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::IdToken(IdTokenError::Invalid(entra_auth::InvalidToken::Expired))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn c11_tampered_id_tokens_are_refused_and_nothing_is_cached() {
    use entra_auth::InvalidToken;
    use serde_json::Value;

    let other_tenant_issuer =
        "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    let stranger = "00000000-1111-2222-3333-444444444444";
    let attacker_key = Arc::new(entra_auth::testing::TestKey::generate("attacker"));
    let k1 = attacker_key.clone();
    let k2 = attacker_key.clone();
    let cases: Vec<(&str, Mutation, IdTokenError)> = vec![
        (
            "wrong aud",
            Arc::new(move |e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("aud".into(), stranger.into());
                })
            }),
            IdTokenError::Invalid(InvalidToken::Audience),
        ),
        (
            "an extra untrusted aud",
            Arc::new(move |e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("aud".into(), serde_json::json!([WEB, stranger]));
                })
            }),
            IdTokenError::Invalid(InvalidToken::Audience),
        ),
        (
            "azp of another client",
            Arc::new(move |e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("azp".into(), stranger.into());
                })
            }),
            IdTokenError::AuthorizedParty,
        ),
        (
            "wrong iss",
            Arc::new(move |e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("iss".into(), other_tenant_issuer.into());
                })
            }),
            IdTokenError::Invalid(InvalidToken::Issuer),
        ),
        (
            "missing sub",
            Arc::new(|e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("sub".into(), Value::Null);
                })
            }),
            IdTokenError::Invalid(InvalidToken::Claims),
        ),
        (
            "missing iat",
            Arc::new(|e, t| {
                tamper::with_claims(e, t, |c| {
                    c.insert("iat".into(), Value::Null);
                })
            }),
            IdTokenError::Invalid(InvalidToken::Claims),
        ),
        (
            "iat far in the future",
            Arc::new(|e, t| {
                tamper::with_claims(e, t, |c| {
                    let iat = c["iat"].as_i64().unwrap() + 86_400;
                    c.insert("iat".into(), iat.into());
                })
            }),
            IdTokenError::Invalid(InvalidToken::IssuedInFuture),
        ),
        (
            "expired",
            Arc::new(|e, t| {
                tamper::with_claims(e, t, |c| {
                    let iat = c["iat"].as_i64().unwrap();
                    c.insert("exp".into(), (iat - 3600).into());
                })
            }),
            IdTokenError::Invalid(InvalidToken::Expired),
        ),
        (
            "missing nonce",
            Arc::new(|e, t| {
                tamper::with_claims(e, t, |c| {
                    c.remove("nonce");
                })
            }),
            IdTokenError::Nonce,
        ),
        (
            "bad RS256 signature",
            Arc::new(|_, t| tamper::payload_swapped(t)),
            IdTokenError::Invalid(InvalidToken::BadSignature),
        ),
        (
            "signed by another key under the tenant's kid",
            Arc::new(move |_, t| tamper::signed_by(&k1, t, None)),
            IdTokenError::Invalid(InvalidToken::BadSignature),
        ),
        (
            "signed by an unknown key",
            Arc::new(move |_, t| tamper::signed_by(&k2, t, Some("attacker"))),
            IdTokenError::Invalid(InvalidToken::UnknownKey),
        ),
        (
            "alg none",
            Arc::new(|_, t| tamper::unsigned(t)),
            IdTokenError::Invalid(InvalidToken::Algorithm),
        ),
        (
            "HS256 with the client secret",
            Arc::new(|_, t| tamper::hs256(t, WEB_SECRET.as_bytes())),
            IdTokenError::Invalid(InvalidToken::Algorithm),
        ),
    ];
    let emulator = Arc::new(start_with(auto_login()).await);
    for (name, mutation, expected) in cases {
        let idp = tamper::start(emulator.clone(), mutation).await;
        let client = builder(&emulator, WEB)
            .authority_host(idp.base.clone())
            .redirect_uri(WEB_REDIRECT)
            .build_confidential(ClientCredential::secret(WEB_SECRET))
            .unwrap();
        let (pending, location) = authorize(&client, &[heroes("Read")]).await;
        let err = client
            .complete_authorization(pending, &callback_of(&location))
            .await
            .unwrap_err();
        match &err {
            Error::IdToken(reason) => assert_eq!(reason, &expected, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        // Login failed: no tokens were cached for anyone.
        let silent = client
            .acquire_token_silent(&alice(), &[heroes("Read")])
            .await;
        assert!(
            matches!(silent, Err(Error::InteractionRequired { server: None })),
            "{name}: {silent:?}"
        );
    }
}

#[tokio::test]
async fn c26_a_key_rotated_during_sign_in_still_validates() {
    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    auto_sign_in(&client, &[heroes("Read")]).await;
    let (pending, location) = authorize(&client, &[heroes("Read")]).await;
    emulator.rotate_keys(TENANT).unwrap();
    let sign_in = client
        .complete_authorization(pending, &callback_of(&location))
        .await
        .unwrap();
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
}

#[tokio::test]
async fn c24_the_sign_out_url_ends_the_session_and_returns_to_the_app() {
    let emulator = start().await;
    let client = web_client(&emulator);
    let browser = browser();
    let start = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]))
        .await
        .unwrap();
    let location = drive(
        &browser,
        &emulator,
        start.url.as_str(),
        ALICE,
        ALICE_PASSWORD,
        Consent::Accept,
    )
    .await;
    let sign_in = client
        .complete_authorization(start.pending, &callback_of(&location))
        .await
        .unwrap();

    client.remove_account(&sign_in.account).await.unwrap();
    let url = client
        .sign_out_url(
            &SignOutRequest::new()
                .post_logout_redirect_uri("http://localhost:8000/")
                .id_token_hint(sign_in.id_token.as_str())
                .state("bye"),
        )
        .await
        .unwrap();
    assert!(
        url.as_str().starts_with(&format!(
            "{}/{TENANT}/oauth2/v2.0/logout?",
            emulator.http_url()
        )),
        "{url}"
    );
    let params = params_of(url.as_str());
    assert_eq!(params["client_id"], WEB);
    assert_eq!(params["id_token_hint"], sign_in.id_token.as_str());
    let page = get(&browser, url.as_str()).await;
    assert_eq!(page.status, 302);
    assert_eq!(
        page.location.as_deref(),
        Some("http://localhost:8000/?state=bye")
    );
    // The identity provider's session is over: the next sign-in shows the page.
    let again = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]))
        .await
        .unwrap();
    assert!(get(&browser, again.url.as_str()).await.is_sign_in());
    // And the app's tokens are gone.
    let err = client
        .acquire_token_silent(&sign_in.account, &[heroes("Read")])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InteractionRequired { server: None }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_public_client_signs_in_with_pkce_and_no_secret() {
    let emulator = start_with(auto_login()).await;
    let client = builder(&emulator, CLI)
        .redirect_uri("http://localhost")
        .build()
        .unwrap();
    assert!(!client.is_confidential());
    let sign_in = auto_sign_in(&client, &[heroes("Read")]).await;
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
    let principal = api_validator(&emulator)
        .await
        .validate(sign_in.access_token.secret())
        .await
        .unwrap();
    assert_eq!(principal.claims()["azpacr"], "0");
}

#[tokio::test]
async fn configuration_mistakes_are_config_errors() {
    let emulator = start().await;
    let client = builder(&emulator, WEB)
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    // No redirect URI anywhere.
    assert!(matches!(
        client
            .authorize_url(AuthorizationRequest::new([heroes("Read")]))
            .await,
        Err(Error::Config(_))
    ));
    // Scopes of two resources.
    assert!(matches!(
        client
            .authorize_url(
                AuthorizationRequest::new([heroes("Read"), "User.Read".to_owned()])
                    .redirect_uri(WEB_REDIRECT)
            )
            .await,
        Err(Error::Config(_))
    ));
    // Plain http to a remote authority.
    assert!(matches!(
        entra_client::Client::builder(TENANT, WEB)
            .authority_host("http://login.example.com")
            .build(),
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn c27_a_metadata_document_naming_another_issuer_is_refused() {
    let emulator = Arc::new(start_with(auto_login()).await);
    let other = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
    let idp = tamper::start_with_document(
        emulator.clone(),
        Arc::new(|_, t: &str| t.to_owned()),
        Some(Arc::new(move |doc: &mut serde_json::Value| {
            doc["issuer"] = other.into();
        })),
    )
    .await;
    // A tenant configured by id: its id must be in the issuer.
    let client = builder(&emulator, WEB)
        .authority_host(idp.base.clone())
        .redirect_uri(WEB_REDIRECT)
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    let err = client
        .authorize_url(AuthorizationRequest::new([heroes("Read")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Discovery { .. }), "{err:?}");
    assert!(err.to_string().contains(TENANT), "{err}");

    // With the issuer configured, only that exact issuer is accepted.
    let genuine = builder(&emulator, WEB)
        .redirect_uri(WEB_REDIRECT)
        .expected_issuer(emulator.issuer_v2(TENANT))
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    auto_sign_in(&genuine, &[heroes("Read")]).await;
    let misconfigured = builder(&emulator, WEB)
        .redirect_uri(WEB_REDIRECT)
        .expected_issuer(other)
        .build_confidential(ClientCredential::secret(WEB_SECRET))
        .unwrap();
    assert!(matches!(
        misconfigured.endpoints().await,
        Err(Error::Discovery { .. })
    ));
}

#[tokio::test]
async fn form_post_keeps_the_code_out_of_the_url() {
    use entra_client::ResponseMode;

    let emulator = start_with(auto_login()).await;
    let client = web_client(&emulator);
    let start = client
        .authorize_url(
            AuthorizationRequest::new([heroes("Read")])
                .login_hint(ALICE)
                .response_mode(ResponseMode::FormPost),
        )
        .await
        .unwrap();
    assert_eq!(params_of(start.url.as_str())["response_mode"], "form_post");
    let page = get(&browser(), start.url.as_str()).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(WEB_REDIRECT), "{}", page.body);
    // The auto-submitting form's fields are the POST body the app receives.
    let body: String = page
        .body
        .split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            let field = |name: &str| {
                let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
                let end = tag[start..].find('"')? + start;
                Some(
                    tag[start..end]
                        .replace("&amp;", "&")
                        .replace("&quot;", "\""),
                )
            };
            Some(format!(
                "{}={}&",
                field("name")?,
                url::form_urlencoded::byte_serialize(field("value")?.as_bytes())
                    .collect::<String>()
            ))
        })
        .collect();
    let callback = Callback::from_query(&body).unwrap();
    let sign_in = client
        .complete_authorization(start.pending, &callback)
        .await
        .unwrap();
    assert_eq!(sign_in.account.object_id(), ALICE_OID);
}

/// Every public future is `Send`: axum handlers and `tokio::spawn` need it.
#[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
fn public_futures_are_send(
    client: &entra_client::ConfidentialClient,
    account: &entra_client::Account,
    pending: PendingAuthorization,
    callback: &Callback,
    flow: &mut entra_client::DeviceCodeFlow,
) {
    fn send<T: Send>(_: T) {}
    send(client.authorize_url(AuthorizationRequest::new(["a/b"])));
    send(client.complete_authorization(pending, callback));
    send(client.acquire_token_silent(account, &["a/b"]));
    send(client.acquire_token_for_client(&["a/.default"]));
    send(client.acquire_token_on_behalf_of("t", &["a/b"]));
    send(client.start_device_code(&["a/b"]));
    send(client.sign_out_url(&SignOutRequest::new()));
    send(client.remove_account(account));
    send(client.endpoints());
    send(flow.poll());
    send(flow.poll_once());
}
