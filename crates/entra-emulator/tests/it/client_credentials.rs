//! Client credentials against the emulator, validated by entra-auth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;

#[tokio::test]
async fn daemon_token_validates_with_entra_auth_and_carries_app_permissions() {
    let emulator = start().await;
    let token = daemon_token(&emulator).await;
    let principal = validator(&emulator).await.validate(&token).await.unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));
    assert_eq!(principal.tenant_id(), Some(TENANT));
    let mut roles = principal.roles().to_vec();
    roles.sort();
    assert_eq!(roles, ["Heroes.Delete", "Heroes.Read", "Heroes.Write"]);
    assert_eq!(principal.version(), Some(entra_auth::TokenVersion::V2));
    assert_eq!(principal.claims()["idtyp"], "app");
    assert_eq!(principal.claims()["azpacr"], "1");
}

#[tokio::test]
async fn token_response_has_entras_fields_and_no_store() {
    let emulator = start().await;
    let response = client(&emulator)
        .post(token_url(&emulator.http_url()))
        .basic_auth(DAEMON, Some(DAEMON_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", &format!("{API}/.default")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store, no-cache");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].is_i64());
    assert!(body["ext_expires_in"].is_i64());
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("client_info").is_none());
}

#[tokio::test]
async fn https_listener_serves_the_same_tokens_with_its_own_ca() {
    let emulator = start().await;
    let https = emulator.https_url().unwrap();
    let response = client(&emulator)
        .post(token_url(&https))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("{API_URI}/.default")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let discovery: serde_json::Value = client(&emulator)
        .get(format!(
            "{https}/{TENANT}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        discovery["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    // The issuer never depends on the listener.
    assert_eq!(discovery["issuer"], emulator.issuer_v2(TENANT));
}

#[tokio::test]
async fn client_credential_errors_are_entra_shaped() {
    let emulator = start().await;
    let scope = format!("{API_URI}/.default");
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", "wrong"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_215);

    let unknown = "00000000-1111-2222-3333-444444444444";
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", unknown),
            ("client_secret", "x"),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "unauthorized_client", 700_016);

    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("scope", &format!("{API_URI}/Heroes.Read")),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_scope", 1_002_012);

    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "invalid_request", 900_144);

    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "magic"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
        ],
    )
    .await;
    assert_aadsts(s, &b, 400, "unsupported_grant_type", 70_003);

    // A confidential grant without a credential.
    let (s, b) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(s, &b, 401, "invalid_client", 7_000_218);
}

#[tokio::test]
async fn v1_endpoint_answers_with_strings_and_resource() {
    let emulator = start().await;
    let response = client(&emulator)
        .post(format!("{}/{TENANT}/oauth2/token", emulator.http_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DAEMON),
            ("client_secret", DAEMON_SECRET),
            ("resource", API_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["expires_in"].is_string(), "{body}");
    assert!(body["expires_on"].is_string(), "{body}");
    assert_eq!(body["resource"], API_URI);
}

#[tokio::test]
async fn token_endpoint_allows_cross_origin_redemption_by_single_page_applications() {
    let emulator = start().await;
    let url = token_url(&emulator.http_url());
    // The preflight a browser sends before Swagger UI's or MSAL.js's POST.
    let preflight = client(&emulator)
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-requested-with",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    // The SPA's own origin, never `*` (issue 12, finding 9).
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:8080"
    );
    let methods = preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    assert!(methods.contains("POST"), "{methods}");
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("content-type") && allowed.contains("x-requested-with"));
    // The SPA's answers, errors too, are readable from its page; a
    // confidential client's are not readable from any page.
    let response = client(&emulator)
        .post(&url)
        .header("origin", "http://localhost:8080")
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", "not-a-code"),
            ("redirect_uri", SPA_REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:8080"
    );
    for secret in [DAEMON_SECRET, "wrong"] {
        let response = client(&emulator)
            .post(&url)
            .header("origin", "http://localhost:8080")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DAEMON),
                ("client_secret", secret),
                ("scope", &format!("{API}/.default")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().is_success(), secret == DAEMON_SECRET);
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
}
