//! App registrations: `POST /_emulator/tenants/{tenant}/applications`,
//! `DELETE /_emulator/tenants/{tenant}/applications/{appId}`, and the same as
//! library calls on [`Emulator`].

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::journal::{AdminOp, change, tenant_index};
use super::views::ApplicationView;
use super::{Refusal, created, no_content, with_generated_id};
use crate::Error;
use crate::config::{Application, Directory};
use crate::error::AdminError;
use crate::server::Emulator;
use crate::state::State;

/// Adds `application` to `tenant` (unchecked); refuses an app id or App ID
/// URI the directory has.
pub(super) fn apply_add(
    directory: &mut Directory,
    tenant: &str,
    application: Box<Application>,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    if directory.application(&application.app_id).is_some() {
        return Err(AdminError::ApplicationExists {
            app_id: application.app_id.clone(),
        });
    }
    for uri in &application.identifier_uris {
        if let Some(other) = directory.resource(uri) {
            return Err(AdminError::IdentifierUriTaken {
                uri: uri.clone(),
                app_id: other.app_id.clone(),
            });
        }
    }
    let t = &mut directory.tenants[index];
    t.applications.push((*application).clone());
    Ok(AdminOp::AddApplication {
        tenant: t.tenant_id.clone(),
        application,
    })
}

/// Removes the application `app_id` from `tenant` (unchecked).
pub(super) fn apply_remove(
    directory: &mut Directory,
    tenant: &str,
    app_id: &str,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let t = &mut directory.tenants[index];
    let position = t
        .applications
        .iter()
        .position(|a| a.app_id.eq_ignore_ascii_case(app_id))
        .ok_or_else(|| AdminError::UnknownApplication {
            app_id: app_id.to_owned(),
            domain: t.domain.clone(),
        })?;
    let removed = t.applications.remove(position);
    Ok(AdminOp::RemoveApplication {
        tenant: t.tenant_id.clone(),
        app_id: removed.app_id,
    })
}

pub(super) async fn add(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
    body: Bytes,
) -> Response {
    let result = with_generated_id::<Application>(&body, "appId").and_then(|application| {
        let shown = application.clone();
        change(
            &state,
            AdminOp::AddApplication {
                tenant,
                application: Box::new(application),
            },
        )
        .map(|()| shown)
        .map_err(Refusal::from)
    });
    match result {
        Ok(application) => created(&ApplicationView::from(&application)),
        Err(refusal) => refusal.into_response(),
    }
}

pub(super) async fn remove(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, app_id)): UrlPath<(String, String)>,
) -> Response {
    no_content(change(
        &state,
        AdminOp::RemoveApplication { tenant, app_id },
    ))
}

impl Emulator {
    /// Adds an app registration to `tenant`.
    pub fn add_application(&self, tenant: &str, application: Application) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::AddApplication {
                tenant: tenant.to_owned(),
                application: Box::new(application),
            },
        )
    }

    /// Removes an app registration from `tenant`.
    pub fn remove_application(&self, tenant: &str, app_id: &str) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::RemoveApplication {
                tenant: tenant.to_owned(),
                app_id: app_id.to_owned(),
            },
        )
    }
}
