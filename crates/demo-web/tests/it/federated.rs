//! The web app with a federated credential instead of a secret
//! (`AZURE_FEDERATED_TOKEN_FILE`): the code is redeemed with the token in the
//! file as the client assertion, and a token rotated on disk is used for the
//! next sign-in without a restart. The proxy in front of the emulator plays
//! Entra's part: it accepts only the expected assertion (AADSTS700211
//! otherwise) and passes the request on with the app's secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::tamper;
use crate::common::*;

/// Signs Alice in with a fresh browser; the page the callback leads to.
async fn sign_in(stack: &Stack) -> Page {
    let browser = Browser::new();
    let login = browser.start_login(stack, None).await;
    let mut page = browser.get(&login.location()).await;
    assert!(page.is_sign_in(), "{}", page.body);
    page = browser
        .submit(
            page.form(),
            &[("username", ALICE), ("password", ALICE_PASSWORD)],
        )
        .await;
    if page.is_consent() {
        page = browser.submit(page.form(), &[("action", "accept")]).await;
    }
    assert_eq!(page.status, 302, "{}", page.body);
    let answer = browser.get(&page.location()).await;
    if answer.status != 303 {
        return answer;
    }
    browser.home(stack).await
}

#[tokio::test]
async fn the_web_app_signs_users_in_with_a_rotating_federated_token_file() {
    let dir = TempDir::new("federated");
    let file = dir.path().join("azure-identity-token");
    let first = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3ZWItMSJ9.c2lnLTE";
    let second = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3ZWItMiJ9.c2lnLTI";
    std::fs::write(&file, first).unwrap();
    let stack = StackBuilder::default()
        .tamper(tamper::genuine())
        .tweak({
            let file = file.clone();
            move |config| {
                config.client_secret.clear();
                config.federated_token_file = Some(file);
            }
        })
        .start()
        .await;
    let proxy = stack.proxy.as_ref().unwrap();
    proxy.accept_assertion(first, WEB_SECRET);

    let home = sign_in(&stack).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Alice Admin"), "{}", home.body);
    assert!(home.body.contains("No heroes yet."), "{}", home.body);
    assert_eq!(proxy.assertions(), [first]);

    // The token is rotated on disk; Entra now trusts only the new one.
    std::fs::write(dir.path().join("staged"), second).unwrap();
    std::fs::rename(dir.path().join("staged"), &file).unwrap();
    proxy.accept_assertion(second, WEB_SECRET);
    let home = sign_in(&stack).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("Alice Admin"), "{}", home.body);
    assert_eq!(proxy.assertions(), [first, second]);

    // An assertion Entra does not trust: the sign-in fails with an error
    // page, not a session.
    proxy.accept_assertion("eyJ.bm90LXRoaXM.c2ln", WEB_SECRET);
    let refused = sign_in(&stack).await;
    assert!(
        refused.status >= 400,
        "{}: {}",
        refused.status,
        refused.body
    );
    assert!(
        !refused.body.contains(second),
        "the assertion is never shown"
    );
    assert!(!refused.body.contains("Alice Admin"), "{}", refused.body);
    assert_eq!(proxy.assertions(), [first, second, second]);
}

#[tokio::test]
async fn the_secret_or_the_file_not_both_and_the_file_must_be_readable() {
    let dir = TempDir::new("federated-config");
    let file = dir.path().join("token");
    std::fs::write(&file, "a.b.c").unwrap();
    let mut both = demo_web::WebConfig::demo("http://localhost:9000");
    both.session_backend = demo_web::SessionBackend::Memory;
    both.federated_token_file = Some(file.clone());
    let rendered = format!("{both:?}");
    assert!(rendered.contains("federated_token_file"), "{rendered}");
    assert!(!rendered.contains(WEB_SECRET));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = demo_web::DemoWeb::start(both.clone(), listener)
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("set one"), "{error}");

    let mut missing = both;
    missing.client_secret.clear();
    missing.federated_token_file = Some(dir.path().join("absent"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = demo_web::DemoWeb::start(missing, listener)
        .await
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("cannot read the federated token file"),
        "{error}"
    );
}
