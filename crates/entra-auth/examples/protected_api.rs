//! A protected API in a few lines: the Rust twin of flask-azure-oauth's minimal app.
//!
//! ```sh
//! AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=<api app id> \
//!     cargo run -p entra-auth --example protected_api
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/heroes
//! ```
use std::env;

use axum::{Json, Router, routing::get};
use entra_auth::{AuthConfig, Principal, Require, Validator};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str| env::var(name).map_err(|_| format!("set {name}"));
    let auth = Validator::new(
        AuthConfig::builder()
            .authority_host(
                env::var("AZURE_AUTHORITY_HOST")
                    .unwrap_or("https://login.microsoftonline.com".into()),
            )
            .tenant(var("AZURE_TENANT_ID")?)
            .client_id(var("AZURE_CLIENT_ID")?)
            .build()?,
    )?;

    let app = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route(
            "/heroes",
            get(heroes).layer(auth.require(Require::scope_or_app_permission("Heroes.Read"))),
        );

    let port = env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn heroes(caller: Principal) -> Json<Value> {
    Json(json!({
        "caller": caller.name().or(caller.client_id()),
        "heroes": [
            { "name": "Deadpond", "secret_name": "Dive Wilson" },
            { "name": "Spider-Boy", "secret_name": "Pedro Parqueador" },
        ],
    }))
}
