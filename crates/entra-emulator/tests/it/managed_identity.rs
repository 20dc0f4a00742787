//! The managed-identity endpoints: App Service-style (`/msi/token`,
//! `X-IDENTITY-HEADER`) and IMDS-style (`/metadata/identity/oauth2/token`,
//! `Metadata: true`), their answers' exact shapes, their refusals, the
//! selection of user-assigned identities, the identities' roles, and the
//! administration API's identities surviving a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use entra_emulator::config::{ManagedIdentity, ManagedIdentityType, RoleAssignment};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::{Value, json};

use crate::clients::jwt_claims;
use crate::common::*;

pub(crate) const SYSTEM_CLIENT: &str = "5a8b6c4d-2e1f-4a3b-9c8d-7e6f5a4b3c2d";
pub(crate) const SYSTEM_PRINCIPAL: &str = "e1d2c3b4-a5f6-4789-8abc-def012345678";
pub(crate) const USER_CLIENT: &str = "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f";
pub(crate) const USER_PRINCIPAL: &str = "b8d4f0a2-5c3e-4f9b-8a7d-2e4c6b8d0f3a";
pub(crate) const USER_RESOURCE: &str = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/heroes/providers/Microsoft.ManagedIdentity/userAssignedIdentities/heroes-identity";
const SYSTEM_RESOURCE: &str = "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/heroes/providers/Microsoft.Web/sites/heroes-worker";

/// `GET /msi/token` with the query and, when given, `X-IDENTITY-HEADER`.
async fn app_service(
    emulator: &Emulator,
    header: Option<&str>,
    query: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = client(emulator)
        .get(format!("{}/msi/token", emulator.http_url()))
        .query(query);
    if let Some(header) = header {
        request = request.header("X-IDENTITY-HEADER", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store, no-cache",
        "never cached"
    );
    (status, response.json().await.unwrap())
}

/// `GET /metadata/identity/oauth2/token` with the query and headers.
async fn imds(
    emulator: &Emulator,
    headers: &[(&str, &str)],
    query: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = client(emulator)
        .get(format!(
            "{}/metadata/identity/oauth2/token",
            emulator.http_url()
        ))
        .query(query);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn keys(body: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn app_service_answers_in_its_shape_with_the_system_assigned_identity() {
    let emulator = start().await;
    let header = emulator.identity_header().to_owned();
    let (status, body) = app_service(
        &emulator,
        Some(&header),
        &[("api-version", "2019-08-01"), ("resource", API_URI)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "client_id",
            "expires_on",
            "resource",
            "token_type"
        ]
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["resource"], API_URI);
    assert_eq!(body["client_id"], SYSTEM_CLIENT);
    let expires_on: i64 = body["expires_on"].as_str().unwrap().parse().unwrap();
    assert!(expires_on > emulator.now() + 3000);

    let token = body["access_token"].as_str().unwrap();
    let principal = validator(&emulator).await.validate(token).await.unwrap();
    assert!(principal.is_app_only());
    assert_eq!(principal.object_id(), Some(SYSTEM_PRINCIPAL));
    assert_eq!(principal.client_id(), Some(SYSTEM_CLIENT));
    for role in ["Heroes.Read", "Heroes.Write", "Heroes.Delete"] {
        assert!(principal.has_app_permission(role), "{role}");
    }
    let claims = jwt_claims(token);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["xms_mirid"], SYSTEM_RESOURCE);
    assert_eq!(claims["sub"], SYSTEM_PRINCIPAL);
    assert_eq!(claims["ver"], "2.0", "the heroes API takes v2 tokens");
    assert_eq!(claims["azpacr"], "2");
}

#[tokio::test]
async fn app_service_refusals() {
    let emulator = start().await;
    let header = emulator.identity_header().to_owned();
    let good = [("api-version", "2019-08-01"), ("resource", API_URI)];
    let refused = |status: u16, body: &Value, expected: u16| {
        assert_eq!(status, expected, "{body}");
        assert_eq!(body["statusCode"], expected, "{body}");
        assert!(body["message"].is_string(), "{body}");
        assert!(body["correlationId"].is_string(), "{body}");
        assert!(body.get("access_token").is_none());
    };
    let (status, body) = app_service(&emulator, None, &good).await;
    refused(status, &body, 401);
    let (status, body) = app_service(&emulator, Some("not-the-header"), &good).await;
    refused(status, &body, 401);
    let (status, body) = app_service(
        &emulator,
        Some(&header),
        &[("api-version", "2017-09-01"), ("resource", API_URI)],
    )
    .await;
    refused(status, &body, 400);
    let (status, body) =
        app_service(&emulator, Some(&header), &[("api-version", "2019-08-01")]).await;
    refused(status, &body, 400);
    // Two selectors at once.
    let (status, body) = app_service(
        &emulator,
        Some(&header),
        &[
            ("api-version", "2019-08-01"),
            ("resource", API_URI),
            ("client_id", USER_CLIENT),
            ("mi_res_id", USER_RESOURCE),
        ],
    )
    .await;
    refused(status, &body, 400);
    // An identity the resource does not have.
    let (status, body) = app_service(
        &emulator,
        Some(&header),
        &[
            ("api-version", "2019-08-01"),
            ("resource", API_URI),
            ("client_id", "00000000-1111-4222-8333-444444444444"),
        ],
    )
    .await;
    refused(status, &body, 400);
    // An unknown resource.
    let (status, body) = app_service(
        &emulator,
        Some(&header),
        &[
            ("api-version", "2019-08-01"),
            ("resource", "api://nothing-here"),
        ],
    )
    .await;
    refused(status, &body, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS500011:"),
        "{body}"
    );
    // POST is not the protocol.
    let response = client(&emulator)
        .post(format!("{}/msi/token", emulator.http_url()))
        .header("X-IDENTITY-HEADER", &header)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
}

#[tokio::test]
async fn user_assigned_identities_are_selected_by_each_id_kind() {
    let emulator = start().await;
    let header = emulator.identity_header().to_owned();
    for (name, value) in [
        ("client_id", USER_CLIENT),
        ("principal_id", USER_PRINCIPAL),
        ("object_id", USER_PRINCIPAL),
        ("mi_res_id", USER_RESOURCE),
    ] {
        let (status, body) = app_service(
            &emulator,
            Some(&header),
            &[
                ("api-version", "2019-08-01"),
                ("resource", API_URI),
                (name, value),
            ],
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["client_id"], USER_CLIENT, "{name}");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["oid"], USER_PRINCIPAL, "{name}");
        assert_eq!(claims["azp"], USER_CLIENT, "{name}");
        assert_eq!(claims["xms_mirid"], USER_RESOURCE, "{name}");
    }
    for (name, value) in [
        ("client_id", USER_CLIENT),
        ("object_id", USER_PRINCIPAL),
        ("msi_res_id", USER_RESOURCE),
    ] {
        let (status, body) = imds(
            &emulator,
            &[("Metadata", "true")],
            &[
                ("api-version", "2018-02-01"),
                ("resource", API_URI),
                (name, value),
            ],
        )
        .await;
        assert_eq!(status, 200, "{name}: {body}");
        assert_eq!(body["client_id"], USER_CLIENT, "{name}");
        let claims = jwt_claims(body["access_token"].as_str().unwrap());
        assert_eq!(claims["oid"], USER_PRINCIPAL, "{name}");
    }
    // The system-assigned identity's ids select no user-assigned identity.
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", API_URI),
            ("client_id", SYSTEM_CLIENT),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "Identity not found");
}

#[tokio::test]
async fn imds_answers_in_its_shape_and_refuses_unsafe_requests() {
    let emulator = start().await;
    let query = [("api-version", "2018-02-01"), ("resource", API_URI)];
    let (status, body) = imds(&emulator, &[("Metadata", "true")], &query).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        keys(&body),
        [
            "access_token",
            "client_id",
            "expires_in",
            "expires_on",
            "ext_expires_in",
            "not_before",
            "resource",
            "token_type"
        ]
    );
    for field in ["expires_in", "expires_on", "ext_expires_in", "not_before"] {
        let text = body[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} is a string: {body}"));
        text.parse::<i64>().unwrap();
    }
    assert_eq!(body["client_id"], SYSTEM_CLIENT);

    // No Metadata header, or not exactly "true".
    for headers in [
        &[][..],
        &[("Metadata", "false")][..],
        &[("Metadata", "True")][..],
    ] {
        let (status, body) = imds(&emulator, headers, &query).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "bad_request_102", "{body}");
        assert_eq!(
            body["error_description"],
            "Required metadata header not specified"
        );
    }
    // A relayed request (SSRF through a proxy).
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true"), ("X-Forwarded-For", "10.0.0.7")],
        &query,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(body.get("access_token").is_none());
    // No api-version, no resource, an unknown resource.
    let (status, body) = imds(&emulator, &[("Metadata", "true")], &[("resource", API_URI)]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[("api-version", "2018-02-01")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://vault.azure.net"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_resource")),
        "{body}"
    );
}

#[tokio::test]
async fn without_a_system_assigned_identity_a_request_must_name_one() {
    let mut directory = Directory::default_demo();
    directory.tenants[0]
        .managed_identities
        .retain(|mi| mi.r#type == ManagedIdentityType::UserAssigned);
    let emulator = start_with(directory).await;
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[("api-version", "2018-02-01"), ("resource", API_URI)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn v1_resources_get_v1_tokens_with_the_identity_as_appid() {
    let emulator = start().await;
    // A v1 API (no accessTokenAcceptedVersion) with an application role,
    // given to the user-assigned identity through the administration API.
    let api = json!({
        "appId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "displayName": "Legacy API",
        "identifierUris": ["https://legacy.contoso.example"],
        "appRoles": [{"value": "Legacy.Read", "allowedMemberTypes": ["Application"]}],
    });
    let http = client(&emulator);
    let admin = |path: &str| format!("{}/_emulator/tenants/{TENANT}/{path}", emulator.http_url());
    let response = http
        .post(admin("applications"))
        .json(&api)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let identity = json!({
        "type": "UserAssigned",
        "displayName": "legacy-reader",
        "resourceId": "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/heroes/providers/Microsoft.ManagedIdentity/userAssignedIdentities/legacy-reader",
        "appRoleAssignments": [{"resourceAppId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "appRole": "Legacy.Read"}],
    });
    let response = http
        .post(admin("managedIdentities"))
        .json(&identity)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let client_id = created["clientId"].as_str().unwrap().to_owned();
    let principal_id = created["principalId"].as_str().unwrap().to_owned();

    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", "https://legacy.contoso.example"),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["ver"], "1.0");
    assert_eq!(claims["aud"], "https://legacy.contoso.example");
    assert_eq!(claims["iss"], emulator.issuer_v1(TENANT));
    assert_eq!(claims["appid"], client_id.as_str());
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["oid"], principal_id.as_str());
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["roles"], json!(["Legacy.Read"]));
    // Its assignment holds nothing on the heroes API.
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", API_URI),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        jwt_claims(body["access_token"].as_str().unwrap())
            .get("roles")
            .is_none()
    );

    // A role the API does not have, or a taken client id: refused.
    let bad = json!({
        "type": "UserAssigned",
        "resourceId": "/subscriptions/x/y",
        "appRoleAssignments": [{"resourceAppId": API, "appRole": "Admin"}],
    });
    let response = http
        .post(admin("managedIdentities"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let taken = json!({"type": "UserAssigned", "clientId": USER_CLIENT, "resourceId": "/subscriptions/x/z"});
    let response = http
        .post(admin("managedIdentities"))
        .json(&taken)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let second_system = json!({"type": "SystemAssigned", "resourceId": "/subscriptions/x/w"});
    let response = http
        .post(admin("managedIdentities"))
        .json(&second_system)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[tokio::test]
async fn the_identity_header_can_be_chosen_and_must_be_printable() {
    let emulator = Emulator::start(EmulatorConfig {
        identity_header: Some("chosen-header-value".into()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    assert_eq!(emulator.identity_header(), "chosen-header-value");
    assert_eq!(
        emulator.identity_endpoint(),
        format!("{}/msi/token", emulator.http_url())
    );
    let (status, body) = app_service(
        &emulator,
        Some("chosen-header-value"),
        &[("api-version", "2019-08-01"), ("resource", API_URI)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // By default a random value per start.
    let a = start().await;
    let b = start().await;
    assert_ne!(a.identity_header(), b.identity_header());
    assert!(a.identity_header().len() >= 32);
    for bad in ["", "has space", "tab\there"] {
        let error = Emulator::start(EmulatorConfig {
            identity_header: Some(bad.into()),
            ..EmulatorConfig::for_tests(Directory::default_demo())
        })
        .await
        .unwrap_err();
        assert!(
            error.to_string().contains("managed-identity header"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn identities_and_federated_credentials_survive_a_restart() {
    let data = TempDir::new("mi-restart");
    let config = || EmulatorConfig {
        data_dir: Some(data.0.join("data")),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    };
    let added_client = "6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f";
    {
        let emulator = Emulator::start(config()).await.unwrap();
        let http = client(&emulator);
        let admin =
            |path: &str| format!("{}/_emulator/tenants/{DOMAIN}/{path}", emulator.http_url());
        let identity = json!({
            "type": "UserAssigned",
            "clientId": added_client,
            "resourceId": "/subscriptions/00000000-0000-4000-8000-000000000000/resourceGroups/heroes/providers/Microsoft.ManagedIdentity/userAssignedIdentities/added",
            "appRoleAssignments": [{"resourceAppId": API, "appRole": "Heroes.Read"}],
        });
        let response = http
            .post(admin("managedIdentities"))
            .json(&identity)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let fic = json!({
            "name": "github-main",
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": "repo:contoso/heroes:ref:refs/heads/main",
        });
        let response = http
            .post(admin(&format!(
                "applications/{DAEMON}/federatedIdentityCredentials"
            )))
            .json(&fic)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let shown: Value = response.json().await.unwrap();
        assert_eq!(shown["audiences"], json!(["api://AzureADTokenExchange"]));
        // The same name again: 409; an invalid one: 422.
        let response = http
            .post(admin(&format!(
                "applications/{DAEMON}/federatedIdentityCredentials"
            )))
            .json(&fic)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409);
        let response = http
            .post(admin(&format!(
                "applications/{DAEMON}/federatedIdentityCredentials"
            )))
            .json(&json!({"name": "bad", "issuer": "http://example.com", "subject": "s"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422);
        // The tenant view shows both (they hold no secrets).
        let view: Value = http
            .get(format!(
                "{}/_emulator/tenants/{DOMAIN}",
                emulator.http_url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            view["managedIdentities"]
                .as_array()
                .unwrap()
                .iter()
                .any(|mi| mi["clientId"] == added_client)
        );
        emulator.shutdown().await;
    }
    let emulator = Emulator::start(config()).await.unwrap();
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", API_URI),
            ("client_id", added_client),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["roles"],
        json!(["Heroes.Read"])
    );
    let directory = emulator.directory();
    let daemon = directory.application(DAEMON).unwrap();
    assert_eq!(daemon.federated_identity_credentials[0].name, "github-main");

    // Removal is journaled too.
    emulator
        .remove_managed_identity(TENANT, added_client)
        .unwrap();
    emulator
        .remove_federated_credential(TENANT, DAEMON, "github-main")
        .unwrap();
    assert!(matches!(
        emulator.remove_managed_identity(TENANT, added_client),
        Err(entra_emulator::Error::Admin(_))
    ));
    emulator.shutdown().await;
    let emulator = Emulator::start(config()).await.unwrap();
    let directory = emulator.directory();
    assert!(
        directory
            .application(DAEMON)
            .unwrap()
            .federated_identity_credentials
            .is_empty()
    );
    assert!(
        !directory.tenants[0]
            .managed_identities
            .iter()
            .any(|mi| mi.client_id == added_client)
    );
}

#[tokio::test]
async fn library_calls_add_identities() {
    let emulator = start().await;
    emulator
        .add_managed_identity(
            TENANT,
            ManagedIdentity {
                r#type: ManagedIdentityType::UserAssigned,
                display_name: "lib".into(),
                client_id: "7e6f5a4b-3c2d-4e1f-8a9b-0c1d2e3f4a5b".into(),
                principal_id: "8f7e6d5c-4b3a-4291-8a7b-6c5d4e3f2a1b".into(),
                resource_id: "/subscriptions/x/lib".into(),
                app_role_assignments: vec![RoleAssignment {
                    resource_app_id: API.into(),
                    app_role: "Heroes.Delete".into(),
                }],
            },
        )
        .unwrap();
    let (status, body) = imds(
        &emulator,
        &[("Metadata", "true")],
        &[
            ("api-version", "2018-02-01"),
            ("resource", API),
            ("client_id", "7e6f5a4b-3c2d-4e1f-8a9b-0c1d2e3f4a5b"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let principal = validator(&emulator)
        .await
        .validate(body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert!(principal.has_app_permission("Heroes.Delete"));
    assert!(!principal.has_app_permission("Heroes.Read"));
}
