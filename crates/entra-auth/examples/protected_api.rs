//! A protected API in a few lines: the Rust twin of flask-azure-oauth's minimal app.
//!
//! ```sh
//! AZURE_TENANT_ID=contoso.onmicrosoft.com AZURE_CLIENT_ID=<api app id> \
//!     cargo run -p entra-auth --example protected_api
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/heroes
//! ```
//!
//! Any OpenID Connect provider instead of Entra ID: its discovery URL (or
//! its issuer alone), the audience its tokens carry, and where it puts the
//! scopes (`scp`, Entra's claim, or `scope`):
//!
//! ```sh
//! OIDC_DISCOVERY_URL=https://id.example.com/.well-known/openid-configuration \
//!     OIDC_ISSUER=https://id.example.com AZURE_CLIENT_ID=https://heroes.example.com \
//!     cargo run -p entra-auth --example protected_api -- --scope-claim scope
//! ```
//!
//! Each setting is a flag too: `--oidc-discovery-url`, `--oidc-issuer`,
//! `--scope-claim` (`OIDC_SCOPE_CLAIM`), `--client-id`, `--audience`.
use std::env;

use axum::{Json, Router, routing::get};
use entra_auth::{AuthConfig, Principal, Require, ScopeClaim, Validator};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let setting = |flag: &str, var: &str| option(flag).or_else(|| env::var(var).ok());
    let required = |flag: &str, var: &str| {
        setting(flag, var).ok_or_else(|| format!("pass {flag} or set {var}"))
    };
    let mut config = AuthConfig::builder().scope_claim(
        setting("--scope-claim", "OIDC_SCOPE_CLAIM")
            .as_deref()
            .unwrap_or("scp")
            .parse::<ScopeClaim>()?,
    );
    let issuer = setting("--oidc-issuer", "OIDC_ISSUER");
    let discovery = setting("--oidc-discovery-url", "OIDC_DISCOVERY_URL").or_else(|| {
        issuer.as_ref().map(|i| {
            format!(
                "{}/.well-known/openid-configuration",
                i.trim_end_matches('/')
            )
        })
    });
    config = match discovery {
        // Any OpenID Connect provider.
        Some(url) => config.oidc_discovery(url, issuer),
        // Entra ID (or the emulator).
        None => config
            .authority_host(
                setting("--authority-host", "AZURE_AUTHORITY_HOST")
                    .unwrap_or("https://login.microsoftonline.com".into()),
            )
            .tenant(required("--tenant", "AZURE_TENANT_ID")?),
    };
    config = config.client_id(required("--client-id", "AZURE_CLIENT_ID")?);
    if let Some(audience) = setting("--audience", "API_AUDIENCE") {
        config = config.audience(audience);
    }
    let auth = Validator::new(config.build()?)?;

    let app = Router::new()
        .route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
        .route(
            "/heroes",
            get(heroes).layer(auth.require(Require::scope_or_app_permission("Heroes.Read"))),
        );

    let port = setting("--port", "PORT").unwrap_or_else(|| "8080".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The value of `--flag VALUE` or `--flag=VALUE` on the command line.
fn option(flag: &str) -> Option<String> {
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == flag {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            return Some(value.to_owned());
        }
    }
    None
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
