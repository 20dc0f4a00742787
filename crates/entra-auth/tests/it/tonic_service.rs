//! The layer protects a service answering with tonic's body type, as a tonic
//! server's routes do: rejections are real HTTP answers with a tonic body.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use entra_auth::testing::TestIssuer;
use entra_auth::{Principal, Require};
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt, service_fn};

async fn grpc_like(
    req: Request<tonic::body::Body>,
) -> Result<Response<tonic::body::Body>, Infallible> {
    let who = req
        .extensions()
        .get::<Principal>()
        .map(|p| p.key())
        .unwrap_or_default();
    Ok(Response::new(tonic::body::Body::new(
        http_body_util::Full::new(bytes::Bytes::from(who)),
    )))
}

#[tokio::test]
async fn tonic_bodied_services_are_protected() {
    let issuer = TestIssuer::new();
    let auth = issuer.validator();
    let service = auth
        .require(Require::scope("Heroes.Read"))
        .layer(service_fn(grpc_like));
    let call = |token: Option<String>| {
        let mut req = Request::builder().uri("/heroes.Heroes/List");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        service
            .clone()
            .oneshot(req.body(tonic::body::Body::default()).unwrap())
    };

    let ok = call(Some(issuer.delegated(["Heroes.Read"]).sign()))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let body = ok.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).starts_with(issuer.tenant_id()));

    let missing = call(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let problem = missing.into_body().collect().await.unwrap().to_bytes();
    let problem: serde_json::Value = serde_json::from_slice(&problem).unwrap();
    assert_eq!(problem["status"], 401);

    let forbidden = call(Some(issuer.delegated(["Heroes.Write"]).sign()))
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
}
