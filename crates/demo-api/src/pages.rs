//! The public routes: `GET /` (what this is, where the docs are), and the
//! probes: `GET /health` and `GET /health/ready` (readiness: signing keys
//! loaded and database reachable), `GET /health/live` (liveness: the process
//! answers), as App Service's health check and Kubernetes' probes expect.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::server::AppState;

/// How long the database may take to answer the health check.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The index page.
#[utoipa::path(
    get,
    path = "/",
    tag = "service",
    responses((status = 200, description = "What this API is, and where its documentation is", content_type = "text/html"))
)]
pub(crate) async fn index() -> Html<&'static str> {
    Html(INDEX)
}

const INDEX: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Heroes API</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 44rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5; }
code { background: #f2f2f2; padding: 0 .25rem; }
</style>
</head>
<body>
<h1>Heroes API</h1>
<p>The reference API protected by <code>entra-auth</code>: heroes and todo items behind
Microsoft Entra ID (or the local emulator) access tokens.</p>
<ul>
<li><a href="/docs/">Swagger UI</a>: try every route; <b>Authorize</b> signs you in (authorization code with PKCE).</li>
<li><a href="/openapi.json">OpenAPI document</a>: the routes, their scopes and answers.</li>
<li><a href="/health">Health</a>: ready when the signing keys are loaded and the database answers
(also <a href="/health/ready">/health/ready</a>; <a href="/health/live">/health/live</a> answers while the process runs).</li>
</ul>
<p>Every route under <code>/heroes</code> and <code>/todoitems</code> needs
<code>Authorization: Bearer &lt;access token&gt;</code>.</p>
</body>
</html>
"#;

/// Whether the API can serve protected requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ready` or `not ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `loaded`, or `not loaded` while the authority cannot be reached.
    #[schema(example = "loaded")]
    pub signing_keys: &'static str,
    /// `reachable` or `unreachable`.
    #[schema(example = "reachable")]
    pub database: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub backend: &'static str,
}

/// Readiness: ready when the signing keys are loaded and the database answers.
///
/// `200` when ready, else `503` with the body saying which part is not.
#[utoipa::path(
    get,
    path = "/health",
    tag = "service",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready: the body says which part", body = Health),
    )
)]
pub(crate) async fn health(State(state): State<AppState>) -> Response {
    readiness(&state).await
}

/// Readiness probe (Kubernetes `readinessProbe`, App Service health check):
/// ready when the signing keys are loaded and the database answers.
///
/// `200` when ready, else `503` with the body saying which part is not;
/// the same answer as `/health`.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "service",
    responses(
        (status = 200, description = "Ready: signing keys loaded, database reachable", body = Health),
        (status = 503, description = "Not ready: the body says which part (`signing_keys`, `database`)", body = Health),
    )
)]
pub(crate) async fn ready(State(state): State<AppState>) -> Response {
    readiness(&state).await
}

/// That the process is alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct Liveness {
    /// Always `alive`.
    #[schema(example = "alive")]
    pub status: &'static str,
}

/// Liveness probe (Kubernetes `livenessProbe`): the process answers. It
/// checks nothing else, so that a database or identity-provider outage never
/// gets the process restarted.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "service",
    responses((status = 200, description = "The process answers", body = Liveness))
)]
pub(crate) async fn live() -> Response {
    no_store((StatusCode::OK, Json(Liveness { status: "alive" })).into_response())
}

/// The readiness answer: `200` or `503`, and which part is not ready.
async fn readiness(state: &AppState) -> Response {
    let keys = state.auth.is_ready();
    let database = tokio::time::timeout(PING_TIMEOUT, state.db.ping())
        .await
        .unwrap_or(false);
    let ready = keys && database;
    let body = Health {
        status: if ready { "ready" } else { "not ready" },
        signing_keys: if keys { "loaded" } else { "not loaded" },
        database: if database { "reachable" } else { "unreachable" },
        backend: state.db.backend(),
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    no_store((status, Json(body)).into_response())
}

/// Probes are never cached.
fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
