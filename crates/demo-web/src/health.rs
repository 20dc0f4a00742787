//! The probes App Service and Kubernetes call: `GET /health/live` (the
//! process answers) and `GET /health/ready` (the session store answers and
//! the identity provider's metadata is loaded), as JSON.
//!
//! Readiness is `503` while a part is not ready, with a body naming it, so
//! that a load balancer sends no user to an instance that cannot sign them
//! in or keep their session. Liveness checks nothing else, so that an outage
//! of the store or of the identity provider never gets the process restarted.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::server::App;

/// How long each readiness check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The readiness answer.
#[derive(Debug, Serialize)]
struct Readiness {
    /// `ready` or `not ready`.
    status: &'static str,
    /// `reachable` or `unreachable`.
    sessions: &'static str,
    /// `reachable` (its metadata document is loaded) or `unreachable`.
    identity_provider: &'static str,
    /// `sqlite`, `redis` or `memory`.
    backend: &'static str,
}

/// `GET /health/live`: `200 {"status":"alive"}`.
pub(crate) async fn live() -> Response {
    no_store((StatusCode::OK, Json(serde_json::json!({"status": "alive"}))).into_response())
}

/// `GET /health/ready`: `200` when the session store answers and the
/// identity provider's metadata is loaded, else `503` naming which is not.
pub(crate) async fn ready(State(app): State<App>) -> Response {
    let (sessions, identity_provider) = tokio::join!(
        tokio::time::timeout(CHECK_TIMEOUT, app.sessions.ping()),
        tokio::time::timeout(CHECK_TIMEOUT, app.client.endpoints()),
    );
    let sessions = sessions.unwrap_or(false);
    let identity_provider = matches!(identity_provider, Ok(Ok(_)));
    let ready = sessions && identity_provider;
    let reachable = |ok: bool| if ok { "reachable" } else { "unreachable" };
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        sessions: reachable(sessions),
        identity_provider: reachable(identity_provider),
        backend: app.backend,
    };
    let status = if ready {
        StatusCode::OK
    } else {
        tracing::warn!(
            sessions = body.sessions,
            identity_provider = body.identity_provider,
            "not ready"
        );
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
