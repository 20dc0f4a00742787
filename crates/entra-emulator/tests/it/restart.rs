//! Restarting on the same data directory: the signing keys, the TLS CA and
//! the administrative changes survive; tokens issued before still validate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use crate::common::*;
use entra_emulator::admin::MintRequest;
use entra_emulator::config::{RefreshTokenReuse, User};
use entra_emulator::{Directory, Emulator, EmulatorConfig};
use serde_json::{Value, json};

/// The issuer does not depend on the (random) port, so tokens outlive a restart.
const ISSUER_BASE: &str = "http://entra-emulator.restart.test";

async fn start_in(directory: Directory, data_dir: &Path) -> Emulator {
    Emulator::start(EmulatorConfig {
        data_dir: Some(data_dir.to_owned()),
        issuer_base: Some(ISSUER_BASE.into()),
        ..EmulatorConfig::for_tests(directory)
    })
    .await
    .unwrap()
}

async fn published_kids(emulator: &Emulator) -> Vec<String> {
    let jwks: Value = client(emulator)
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
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

fn frank() -> User {
    User {
        object_id: "f1f1f1f1-0000-4000-8000-000000000001".into(),
        user_principal_name: "frank@contoso.onmicrosoft.com".into(),
        password: "frank-dev-password".into(),
        display_name: "Frank".into(),
        ..User::default()
    }
}

#[tokio::test]
async fn keys_ca_tokens_and_admin_changes_survive_a_restart() {
    let data = TempDir::new("restart");

    // First run: a daemon token, a user added over HTTP, one removed through
    // the library, a key rotated.
    let first = start_in(Directory::default_demo(), &data.0).await;
    let old_token = daemon_token(&first).await;
    validator(&first).await.validate(&old_token).await.unwrap();
    let status = client(&first)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/users",
            first.http_url()
        ))
        .json(&json!({
            "objectId": "c0c0c0c0-0000-4000-8000-000000000001",
            "userPrincipalName": "carol@contoso.onmicrosoft.com",
            "password": "carol-dev-password",
            "displayName": "Carol",
        }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201);
    first.add_user(DOMAIN, frank()).unwrap();
    first.remove_user(TENANT, BOB).unwrap();
    let rotated = client(&first)
        .post(format!(
            "{}/_emulator/tenants/{TENANT}/keys/rotate",
            first.http_url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let kids_before = published_kids(&first).await;
    // After one rotation: the retired key (grace period), the signer, the next key.
    assert_eq!(kids_before.len(), 3);
    let ca_before = first.ca_pem().unwrap().to_owned();
    let ca_path = first.ca_path().unwrap().to_owned();
    assert!(ca_path.starts_with(&data.0));
    assert!(data.0.join("admin-journal.json").is_file());
    let journal = std::fs::read_to_string(data.0.join("admin-journal.json")).unwrap();
    assert_eq!(
        serde_json::from_str::<Vec<Value>>(&journal).unwrap().len(),
        3
    );
    first.shutdown().await;

    // Second run, same data directory.
    let second = start_in(Directory::default_demo(), &data.0).await;
    assert_eq!(published_kids(&second).await, kids_before);
    assert_eq!(second.ca_pem().unwrap(), ca_before);
    assert_eq!(second.ca_path().unwrap(), ca_path);
    assert_eq!(std::fs::read_to_string(&ca_path).unwrap(), ca_before);

    let validator = validator(&second).await;
    validator.validate(&old_token).await.unwrap();
    let new_token = daemon_token(&second).await;
    validator.validate(&new_token).await.unwrap();
    let header = new_token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], rotated, "the rotated key still signs");

    let directory = second.directory();
    let tenant = directory.tenant(TENANT).unwrap();
    let upns: Vec<&str> = tenant
        .users
        .iter()
        .map(|u| u.user_principal_name.as_str())
        .collect();
    assert!(upns.contains(&"carol@contoso.onmicrosoft.com"), "{upns:?}");
    assert!(upns.contains(&"frank@contoso.onmicrosoft.com"), "{upns:?}");
    assert!(!upns.contains(&BOB), "{upns:?}");
    let carol = second
        .mint_access_token(MintRequest::delegated(
            TENANT,
            WEB,
            API,
            "carol@contoso.onmicrosoft.com",
            ["Heroes.Read"],
        ))
        .unwrap();
    assert_eq!(
        validator.validate(&carol).await.unwrap().username(),
        Some("carol@contoso.onmicrosoft.com")
    );
    second.shutdown().await;
}

#[tokio::test]
async fn journal_entries_that_no_longer_apply_are_skipped() {
    let data = TempDir::new("journal");
    let first = start_in(Directory::default_demo(), &data.0).await;
    first.remove_user(TENANT, BOB).unwrap();
    first.add_user(TENANT, frank()).unwrap();
    first.shutdown().await;

    // The file changed meanwhile: Bob is gone from it, and Frank is in it.
    let mut changed = Directory::default_demo();
    let tenant = &mut changed.tenants[0];
    tenant.users.retain(|u| u.user_principal_name != BOB);
    let mut file_frank = frank();
    file_frank.display_name = "Frank from the file".into();
    tenant.users.push(file_frank);
    let second = start_in(changed, &data.0).await;
    let directory = second.directory();
    let users = &directory.tenant(TENANT).unwrap().users;
    assert_eq!(
        users
            .iter()
            .filter(|u| u.user_principal_name == "frank@contoso.onmicrosoft.com")
            .map(|u| u.display_name.as_str())
            .collect::<Vec<_>>(),
        ["Frank from the file"]
    );
    assert!(users.iter().all(|u| u.user_principal_name != BOB));
    second.shutdown().await;

    // A journal that is not JSON is an error, not silently dropped changes.
    std::fs::write(data.0.join("admin-journal.json"), "not json").unwrap();
    let error = Emulator::start(EmulatorConfig {
        data_dir: Some(data.0.clone()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap_err();
    assert!(error.to_string().contains("admin-journal.json"), "{error}");
}

/// POSTs a form to the tenant's v2 token endpoint.
async fn token_request(emulator: &Emulator, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client(emulator)
        .post(token_url(&emulator.http_url()))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn refresh_tokens_and_their_rotation_survive_a_restart() {
    let data = TempDir::new("refresh");
    let mut directory = Directory::default_demo();
    directory.settings.allow_password_grant = true;
    directory.settings.refresh_token_reuse = RefreshTokenReuse::Detect;
    let scope = format!("{API_URI}/Heroes.Read openid offline_access");

    let emulator = start_in(directory.clone(), &data.0).await;
    let (status, first) = token_request(
        &emulator,
        &[
            ("grant_type", "password"),
            ("client_id", CLI),
            ("username", ALICE),
            ("password", ALICE_PASSWORD),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let original = first["refresh_token"].as_str().unwrap().to_owned();
    // Rotate once before the restart: the original is now spent.
    let (status, second) = token_request(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", &original),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{second}");
    let current = second["refresh_token"].as_str().unwrap().to_owned();
    emulator.shutdown().await;

    let emulator = start_in(directory, &data.0).await;
    // The live token still works after the restart, and its access token validates.
    let (status, third) = token_request(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", &current),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{third}");
    let principal = validator(&emulator)
        .await
        .validate(third["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(principal.object_id(), Some(ALICE_OID));
    // The spent one is remembered as spent: with reuse detection, presenting
    // it revokes the family, so the newest token dies with it.
    let (status, reuse) = token_request(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", &original),
            ("scope", &scope),
        ],
    )
    .await;
    assert_aadsts(status, &reuse, 400, "invalid_grant", 70_008);
    let newest = third["refresh_token"].as_str().unwrap();
    let (status, after) = token_request(
        &emulator,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", CLI),
            ("refresh_token", newest),
            ("scope", &scope),
        ],
    )
    .await;
    assert_eq!(status, 400, "{after}");
    emulator.shutdown().await;
}
