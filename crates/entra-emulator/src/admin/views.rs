//! What the administration API shows: tenants, their registrations and
//! users without secrets or passwords, and the request log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use super::Refusal;
use crate::config::{Application, User};
use crate::error::AdminError;
use crate::state::{RequestRecord, State, lock};

pub(super) fn public_user(user: &User) -> Value {
    let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("password");
        object.remove("passwordHash");
    }
    value
}

pub(super) fn public_application(app: &Application) -> Value {
    let mut value = serde_json::to_value(app).unwrap_or(Value::Null);
    if let Some(credentials) = value
        .get_mut("passwordCredentials")
        .and_then(Value::as_array_mut)
    {
        for credential in credentials {
            if let Some(object) = credential.as_object_mut() {
                object.remove("secretText");
            }
        }
    }
    value
}

fn public_tenant(tenant: &crate::config::Tenant) -> Value {
    json!({
        "tenantId": tenant.tenant_id,
        "domain": tenant.domain,
        "displayName": tenant.display_name,
        "applications": tenant.applications.iter().map(public_application).collect::<Vec<_>>(),
        "users": tenant.users.iter().map(public_user).collect::<Vec<_>>(),
    })
}

pub(super) async fn tenants(Shared(state): Shared<Arc<State>>) -> Response {
    let directory = state.dir();
    let tenants: Vec<Value> = directory.tenants.iter().map(public_tenant).collect();
    Json(tenants).into_response()
}

pub(super) async fn tenant(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
) -> Response {
    match state.tenant(&tenant) {
        Some(t) => Json(public_tenant(&t)).into_response(),
        None => Refusal::from(AdminError::UnknownTenant { tenant }).into_response(),
    }
}

/// One record of the request log as the administration API shows it.
/// Values were redacted by allow-list and cut short when recorded
/// ([`RequestRecord`]); this is only their shape.
#[derive(Debug, Serialize)]
struct RequestView<'a> {
    time: i64,
    method: &'a str,
    path: &'a str,
    /// `[name, value]` pairs.
    params: &'a [(String, String)],
    omitted_params: usize,
    status: u16,
}

impl<'a> From<&'a RequestRecord> for RequestView<'a> {
    fn from(record: &'a RequestRecord) -> Self {
        RequestView {
            time: record.time,
            method: &record.method,
            path: &record.path,
            params: &record.params,
            omitted_params: record.omitted_params,
            status: record.status,
        }
    }
}

pub(super) async fn requests(Shared(state): Shared<Arc<State>>) -> Response {
    let log = lock(&state.log);
    let views: Vec<RequestView<'_>> = log.iter().map(RequestView::from).collect();
    Json(views).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::Directory;

    #[test]
    fn views_drop_secrets_and_passwords() {
        let d = Directory::default_demo();
        let view = public_tenant(&d.tenants[0]).to_string();
        assert!(!view.contains("dev-secret"), "{view}");
        assert!(!view.contains("dev-password"), "{view}");
        assert!(view.contains("alice@contoso.onmicrosoft.com"));

        let mut hashed = d.tenants[0].users[0]
            .clone()
            .with_hashed_password()
            .unwrap();
        let hash = hashed.password_hash.clone().unwrap();
        let view = public_user(&hashed).to_string();
        assert!(!view.contains(hash.as_str()), "{view}");
        assert!(!view.contains("passwordHash"), "{view}");
        hashed.display_name = "shown".into();
        assert!(public_user(&hashed).to_string().contains("shown"));
    }
}
