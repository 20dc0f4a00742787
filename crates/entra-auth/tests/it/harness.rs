//! The harness itself works: a validator loads keys from the in-test
//! authority over HTTP, and a protected axum route answers as RFC 6750 says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{self, MockAuthority, get_with_token, serve};
use axum::{Router, routing::get};
use entra_auth::{Principal, Require};

#[tokio::test]
async fn keys_load_from_discovery_and_a_route_is_protected() {
    let authority = MockAuthority::start().await;
    let auth = authority.ready_validator(authority.config()).await;
    assert!(
        authority.discovery_hits() >= 2,
        "v2 and v1 metadata fetched"
    );
    let app = Router::new().route(
        "/heroes",
        get(|p: Principal| async move { p.key() })
            .layer(auth.require(Require::scope_or_app_permission("Heroes.Read"))),
    );
    let base = serve(app).await;
    let url = format!("{base}/heroes");

    let ok = get_with_token(&url, &authority.issuer.delegated(["Heroes.Read"]).sign()).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert!(ok.body.contains(authority.issuer.tenant_id()));

    let v1 = get_with_token(
        &url,
        &authority.issuer.delegated(["Heroes.Read"]).v1().sign(),
    )
    .await;
    assert_eq!(v1.status, 200, "{v1:?}");

    let daemon = get_with_token(&url, &authority.issuer.app_only(["Heroes.Read"]).sign()).await;
    assert_eq!(daemon.status, 200, "{daemon:?}");

    let forbidden =
        get_with_token(&url, &authority.issuer.delegated(["Heroes.Write"]).sign()).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        forbidden.challenge.as_deref(),
        Some("Bearer error=\"insufficient_scope\", scope=\"Heroes.Read\"")
    );

    let none = common::answer(common::client().get(&url).send().await.unwrap()).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.challenge.as_deref(), Some("Bearer"));
    assert_eq!(none.headers["content-type"], "application/problem+json");
}
