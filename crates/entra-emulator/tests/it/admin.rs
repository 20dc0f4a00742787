//! The administration API over real HTTP: every endpoint and its error statuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::*;
use entra_emulator::Emulator;
use serde_json::{Value, json};

fn admin(emulator: &Emulator, path: &str) -> String {
    format!("{}/_emulator{path}", emulator.http_url())
}

async fn get(emulator: &Emulator, path: &str) -> (u16, Value) {
    let response = client(emulator)
        .get(admin(emulator, path))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(emulator: &Emulator, path: &str, body: &Value) -> (u16, Value) {
    post_raw(emulator, path, body.to_string()).await
}

async fn post_raw(emulator: &Emulator, path: &str, body: String) -> (u16, Value) {
    let response = client(emulator)
        .post(admin(emulator, path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn delete(emulator: &Emulator, path: &str) -> u16 {
    client(emulator)
        .delete(admin(emulator, path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn assert_refused(status: u16, body: &Value, expected: u16) {
    assert_eq!(status, expected, "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert!(
        !body["message"].as_str().unwrap_or_default().is_empty(),
        "{body}"
    );
}

fn carol() -> Value {
    json!({
        "objectId": "11111111-2222-4333-8444-555555555555",
        "userPrincipalName": "carol@contoso.onmicrosoft.com",
        "password": "carol-secret-password",
        "displayName": "Carol Contractor",
        "appRoleAssignments": [{"resourceAppId": API, "appRole": "User"}],
    })
}

#[tokio::test]
async fn tenant_view_lists_registrations_and_users_without_secrets() {
    let emulator = start().await;
    for name in [TENANT, DOMAIN] {
        let (status, body) = get(&emulator, &format!("/tenants/{name}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["tenantId"], TENANT);
        assert_eq!(body["domain"], DOMAIN);
        let apps: Vec<&str> = body["applications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["appId"].as_str().unwrap())
            .collect();
        assert!(apps.contains(&API) && apps.contains(&DAEMON) && apps.contains(&WEB));
        let users: Vec<&str> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userPrincipalName"].as_str().unwrap())
            .collect();
        assert!(users.contains(&ALICE) && users.contains(&BOB));
        let text = body.to_string();
        for secret in [DAEMON_SECRET, WEB_SECRET, ALICE_PASSWORD, BOB_PASSWORD] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(!text.contains("secretText") && !text.contains("\"password\""));
    }
    let (status, body) = get(&emulator, "/tenants").await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert!(!body.to_string().contains(DAEMON_SECRET));

    let (status, body) = get(&emulator, "/tenants/nowhere.onmicrosoft.com").await;
    assert_refused(status, &body, 404);
}

#[tokio::test]
async fn users_are_added_and_removed_and_can_get_tokens() {
    let emulator = start().await;
    let path = format!("/tenants/{DOMAIN}/users");
    let (status, body) = post(&emulator, &path, &carol()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["userPrincipalName"], "carol@contoso.onmicrosoft.com");
    assert!(body.get("password").is_none(), "{body}");

    // The new user is listed (without a password) and can get a token.
    let (_, tenant) = get(&emulator, &format!("/tenants/{TENANT}")).await;
    assert!(tenant.to_string().contains("carol@contoso.onmicrosoft.com"));
    assert!(!tenant.to_string().contains("carol-secret-password"));
    let (status, minted) = post(
        &emulator,
        "/tokens",
        &json!({
            "tenant": TENANT,
            "clientId": WEB,
            "resource": API_URI,
            "user": "carol@contoso.onmicrosoft.com",
            "scopes": ["Heroes.Read"],
        }),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    let principal = validator(&emulator)
        .await
        .validate(minted["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.username(), Some("carol@contoso.onmicrosoft.com"));
    assert_eq!(principal.roles(), ["User"]);

    // Same UPN (any case), same object id: conflicts.
    let mut again = carol();
    again["objectId"] = json!("21111111-2222-4333-8444-555555555555");
    again["userPrincipalName"] = json!("CAROL@contoso.onmicrosoft.com");
    let (status, body) = post(&emulator, &path, &again).await;
    assert_refused(status, &body, 409);
    let mut same_id = carol();
    same_id["userPrincipalName"] = json!("carol2@contoso.onmicrosoft.com");
    let (status, body) = post(&emulator, &path, &same_id).await;
    assert_refused(status, &body, 409);

    // Invalid users: 422, and nothing changes.
    let before = emulator.directory();
    for bad in [
        json!({"objectId": "not-a-guid", "userPrincipalName": "d@contoso.onmicrosoft.com", "password": "x"}),
        json!({"userPrincipalName": "", "password": "x"}),
        json!({"userPrincipalName": "e@contoso.onmicrosoft.com"}),
        json!({"userPrincipalName": "e@contoso.onmicrosoft.com", "passwordHash": "x"}),
        json!({"userPrincipalName": "e@contoso.onmicrosoft.com", "password": "x",
               "passwordHash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"}),
        json!({"userPrincipalName": "f@contoso.onmicrosoft.com", "password": "x", "shoeSize": 44}),
        json!({"userPrincipalName": "g@contoso.onmicrosoft.com", "password": "x",
               "appRoleAssignments": [{"resourceAppId": API, "appRole": "Emperor"}]}),
        json!(["not", "an", "object"]),
    ] {
        let (status, body) = post(&emulator, &path, &bad).await;
        assert_refused(status, &body, 422);
    }
    assert_eq!(emulator.directory(), before);

    // An object id is generated when absent.
    let (status, body) = post(
        &emulator,
        &path,
        &json!({"userPrincipalName": "dan@contoso.onmicrosoft.com", "password": "x"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let dan_oid = body["objectId"].as_str().unwrap().to_owned();

    // Malformed JSON: 400. Unknown tenant: 404.
    let (status, body) = post_raw(&emulator, &path, "{\"userPrincipalName\":".into()).await;
    assert_refused(status, &body, 400);
    let (status, body) = post_raw(&emulator, &path, String::new()).await;
    assert_refused(status, &body, 400);
    let (status, body) = post(&emulator, "/tenants/fabrikam.com/users", &carol()).await;
    assert_refused(status, &body, 404);

    // Removal by UPN or object id: 204, then 404.
    let user_path = |who: &str| format!("/tenants/{TENANT}/users/{who}");
    assert_eq!(
        delete(&emulator, &user_path("carol@contoso.onmicrosoft.com")).await,
        204
    );
    assert_eq!(
        delete(&emulator, &user_path("carol@contoso.onmicrosoft.com")).await,
        404
    );
    assert_eq!(delete(&emulator, &user_path(&dan_oid)).await, 204);
    assert_eq!(delete(&emulator, &user_path(&dan_oid)).await, 404);
    assert_eq!(
        delete(&emulator, "/tenants/fabrikam.com/users/someone").await,
        404
    );
    let (status, body) = post(
        &emulator,
        "/tokens",
        &json!({"tenant": TENANT, "clientId": WEB, "resource": API,
                "user": "carol@contoso.onmicrosoft.com", "scopes": ["Heroes.Read"]}),
    )
    .await;
    assert_refused(status, &body, 422);
}

#[tokio::test]
async fn applications_are_added_and_removed_and_used_by_the_token_endpoint() {
    let emulator = start().await;
    let reporter = "7a7a7a7a-1b1b-4c2c-8d3d-4e4e4e4e4e4e";
    let path = format!("/tenants/{TENANT}/applications");
    let app = json!({
        "appId": reporter,
        "displayName": "Heroes Reporter",
        "passwordCredentials": [{"secretText": "reporter-dev-secret", "displayName": "dev"}],
        "requiredResourceAccess": [
            {"resourceAppId": API, "roles": ["Heroes.Read"], "adminConsented": true}
        ],
    });
    let (status, body) = post(&emulator, &path, &app).await;
    assert_eq!(status, 201, "{body}");
    assert!(!body.to_string().contains("reporter-dev-secret"), "{body}");

    // The token endpoint knows the new client at once.
    let (status, token) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", reporter),
            ("client_secret", "reporter-dev-secret"),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let principal = validator(&emulator)
        .await
        .validate(token["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.roles(), ["Heroes.Read"]);

    let (_, tenant) = get(&emulator, &format!("/tenants/{TENANT}")).await;
    assert!(tenant.to_string().contains(reporter));
    assert!(!tenant.to_string().contains("reporter-dev-secret"));

    // Conflicts: same app id (in any case), or an App ID URI in use.
    let (status, body) = post(&emulator, &path, &json!({"appId": reporter.to_uppercase()})).await;
    assert_refused(status, &body, 409);
    let (status, body) = post(&emulator, &path, &json!({"identifierUris": [API_URI]})).await;
    assert_refused(status, &body, 409);

    // Invalid registrations: 422, nothing changes.
    let before = emulator.directory();
    for bad in [
        json!({"appId": "nope"}),
        json!({"web": {"redirectUris": ["not a url"]}}),
        json!({"accessTokenAcceptedVersion": 3}),
        json!({"requiredResourceAccess": [{"resourceAppId": "99999999-9999-4999-8999-999999999999"}]}),
        json!({"requiredResourceAccess": [{"resourceAppId": API, "roles": ["Heroes.Fly"]}]}),
        json!({"appId": 12}),
    ] {
        let (status, body) = post(&emulator, &path, &bad).await;
        assert_refused(status, &body, 422);
    }
    assert_eq!(emulator.directory(), before);
    let (status, body) = post_raw(&emulator, &path, "not json".into()).await;
    assert_refused(status, &body, 400);
    let (status, body) = post(&emulator, "/tenants/fabrikam.com/applications", &app).await;
    assert_refused(status, &body, 404);

    // The API is used by the other registrations: removing it is refused.
    let status = delete(&emulator, &format!("/tenants/{TENANT}/applications/{API}")).await;
    assert_eq!(status, 422);
    assert!(emulator.directory().application(API).is_some());

    let app_path = format!("/tenants/{TENANT}/applications/{reporter}");
    assert_eq!(delete(&emulator, &app_path).await, 204);
    assert_eq!(delete(&emulator, &app_path).await, 404);
    let (status, body) = post_token(
        &emulator,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", reporter),
            ("client_secret", "reporter-dev-secret"),
            ("scope", &format!("{API_URI}/.default")),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn key_rotation_publishes_a_new_key() {
    let emulator = start().await;
    let token_before = daemon_token(&emulator).await;
    let (status, body) = post(
        &emulator,
        &format!("/tenants/{DOMAIN}/keys/rotate"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kid = body["kid"].as_str().unwrap().to_owned();
    let jwks: Value = client(&emulator)
        .get(format!(
            "{}/{TENANT}/discovery/v2.0/keys",
            emulator.http_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(kids.contains(&kid.as_str()), "{jwks}");
    assert_eq!(
        kids.len(),
        3,
        "the old key (grace period), the new signer and a fresh next key: {jwks}"
    );
    let validator = validator(&emulator).await;
    validator.refresh().await.unwrap();
    validator.validate(&token_before).await.unwrap();
    let after = daemon_token(&emulator).await;
    validator.validate(&after).await.unwrap();

    let (status, body) = post(&emulator, "/tenants/fabrikam.com/keys/rotate", &json!({})).await;
    assert_refused(status, &body, 404);
}

#[tokio::test]
async fn request_log_is_served_with_secrets_redacted() {
    let emulator = start().await;
    daemon_token(&emulator).await;
    let (status, body) = get(&emulator, "/requests").await;
    assert_eq!(status, 200, "{body}");
    let token_request = body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == format!("/{TENANT}/oauth2/v2.0/token"))
        .expect("the token request is logged");
    assert_eq!(token_request["method"], "POST");
    assert_eq!(token_request["status"], 200);
    assert!(
        token_request["params"]
            .as_array()
            .unwrap()
            .contains(&json!(["client_secret", "***"])),
        "{token_request}"
    );
    assert!(!body.to_string().contains(DAEMON_SECRET));
}

#[tokio::test]
async fn clock_can_be_shifted_fixed_and_restored() {
    let emulator = start().await;
    let real = emulator.now();
    let (status, body) = post(&emulator, "/clock", &json!({"offsetSeconds": -7200})).await;
    assert_eq!(status, 200, "{body}");
    let shifted = body["now"].as_i64().unwrap();
    assert!((real - 7200 - shifted).abs() <= 2, "{real} {shifted}");

    let (status, body) = post(
        &emulator,
        "/clock",
        &json!({"fixed": 1_700_000_000, "offsetSeconds": 0}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["now"], 1_700_000_000);
    assert_eq!(emulator.now(), 1_700_000_000);
    let (_, body) = get(&emulator, "/clock").await;
    assert_eq!(body["now"], 1_700_000_000);

    let (status, body) = post(&emulator, "/clock", &json!({"fixed": null})).await;
    assert_eq!(status, 200, "{body}");
    assert!((emulator.now() - real).abs() <= 2);

    for bad in [
        json!({}),
        json!({"offsetSeconds": "soon"}),
        json!({"fixed": 1.5}),
        json!({"speed": 2}),
        json!(42),
    ] {
        let (status, body) = post(&emulator, "/clock", &bad).await;
        assert_refused(status, &body, 422);
    }
    let (status, body) = post_raw(&emulator, "/clock", "{".into()).await;
    assert_refused(status, &body, 400);
    assert!((emulator.now() - real).abs() <= 2);
}

#[tokio::test]
async fn tokens_are_minted_for_users_and_apps_with_extra_claims() {
    let emulator = start().await;
    let validator = validator(&emulator).await;

    let (status, body) = post(
        &emulator,
        "/tokens",
        &json!({
            "tenant": DOMAIN,
            "clientId": SPA,
            "resource": API,
            "user": ALICE_OID,
            "scopes": [format!("{API_URI}/Heroes.Read"), "Heroes.Write"],
            "claims": {"ctry": "NL", "acrs": ["c1"]},
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let principal = validator
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    assert_eq!(principal.client_id(), Some(SPA));
    assert_eq!(principal.scopes(), ["Heroes.Read", "Heroes.Write"]);
    assert_eq!(principal.claims()["ctry"], "NL");

    let (status, body) = post(
        &emulator,
        "/tokens",
        &json!({"tenant": TENANT, "clientId": DAEMON, "resource": API_URI}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let principal = validator
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.client_id(), Some(DAEMON));

    let cases = [
        (
            json!({"tenant": "fabrikam.com", "clientId": DAEMON, "resource": API}),
            404,
        ),
        (
            json!({"tenant": TENANT, "clientId": DAEMON, "resource": "api://nothing"}),
            422,
        ),
        (
            json!({"tenant": TENANT, "clientId": "daemon", "resource": API}),
            422,
        ),
        (
            json!({"tenant": TENANT, "clientId": WEB, "resource": API, "user": "zed@contoso.onmicrosoft.com"}),
            422,
        ),
        (
            json!({"tenant": TENANT, "clientId": DAEMON, "resource": API, "scopes": ["Heroes.Read"]}),
            422,
        ),
        (
            json!({"tenant": TENANT, "clientId": DAEMON, "resource": API, "claims": "x"}),
            422,
        ),
        (
            json!({"tenant": TENANT, "clientId": DAEMON, "resource": API, "colour": "red"}),
            422,
        ),
        (json!({"clientId": DAEMON, "resource": API}), 422),
    ];
    for (request, expected) in cases {
        let (status, body) = post(&emulator, "/tokens", &request).await;
        assert_refused(status, &body, expected);
    }
    let (status, body) = post_raw(&emulator, "/tokens", "tenant=x".into()).await;
    assert_refused(status, &body, 400);
}

#[tokio::test]
async fn wrong_methods_and_paths_are_not_server_errors() {
    let emulator = start().await;
    let status = client(&emulator)
        .get(admin(&emulator, "/tokens"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 405);
    let status = client(&emulator)
        .put(admin(&emulator, &format!("/tenants/{TENANT}")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 405);
    // A form-encoded body is not JSON: 415 (issue 12, finding 6).
    let status = client(&emulator)
        .post(admin(&emulator, &format!("/tenants/{TENANT}/users")))
        .form(&[("userPrincipalName", "x@y")])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 415);
}
