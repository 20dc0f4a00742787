//! `POST /_emulator/tenants/{tenant}/keys/rotate`: rotates a tenant's
//! signing key (the key files are persisted: no journal entry).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Refusal;
use crate::error::AdminError;
use crate::state::State;

pub(super) async fn rotate(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
) -> Response {
    let Some(t) = state.tenant(&tenant) else {
        return Refusal::from(AdminError::UnknownTenant { tenant }).into_response();
    };
    match state.keys.rotate(&t.tenant_id, state.now()) {
        Ok(kid) => {
            tracing::info!(tenant = %t.tenant_id, %kid, "signing key rotated");
            Json(json!({"kid": kid})).into_response()
        }
        Err(e) => Refusal::from(e).into_response(),
    }
}
