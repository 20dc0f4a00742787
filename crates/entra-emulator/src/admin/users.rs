//! Users: `POST /_emulator/tenants/{tenant}/users`, `DELETE
//! /_emulator/tenants/{tenant}/users/{objectId or upn}`, and the same as
//! library calls on [`Emulator`].

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::journal::{AdminOp, change, tenant_index};
use super::views::UserView;
use super::{Refusal, created, no_content, with_generated_id};
use crate::Error;
use crate::config::{Directory, User};
use crate::error::AdminError;
use crate::server::Emulator;
use crate::state::State;

/// Adds `user` to `tenant` (unchecked); refuses a UPN or object id the tenant has.
pub(super) fn apply_add(
    directory: &mut Directory,
    tenant: &str,
    user: Box<User>,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let upn = user.user_principal_name.trim();
    if upn.is_empty() || upn.len() != user.user_principal_name.len() {
        return Err(AdminError::UserPrincipalName {
            upn: user.user_principal_name.clone(),
        });
    }
    let t = &mut directory.tenants[index];
    if t.users
        .iter()
        .any(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
    {
        return Err(AdminError::UserExists {
            upn: upn.to_owned(),
            domain: t.domain.clone(),
        });
    }
    if t.users
        .iter()
        .any(|u| u.object_id.eq_ignore_ascii_case(&user.object_id))
    {
        return Err(AdminError::ObjectIdTaken {
            object_id: user.object_id.clone(),
            domain: t.domain.clone(),
        });
    }
    t.users.push((*user).clone());
    Ok(AdminOp::AddUser {
        tenant: t.tenant_id.clone(),
        user,
    })
}

/// Removes the user named by object id or UPN from `tenant` (unchecked).
pub(super) fn apply_remove(
    directory: &mut Directory,
    tenant: &str,
    user: &str,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let t = &mut directory.tenants[index];
    let position = t
        .users
        .iter()
        .position(|u| {
            u.object_id.eq_ignore_ascii_case(user)
                || u.user_principal_name.eq_ignore_ascii_case(user)
        })
        .ok_or_else(|| AdminError::UnknownUser {
            user: user.to_owned(),
            domain: t.domain.clone(),
        })?;
    let removed = t.users.remove(position);
    Ok(AdminOp::RemoveUser {
        tenant: t.tenant_id.clone(),
        user: removed.object_id,
    })
}

pub(super) async fn add(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
    body: Bytes,
) -> Response {
    let result = with_generated_id::<User>(&body, "objectId").and_then(|user| {
        let shown = user.clone();
        change(
            &state,
            AdminOp::AddUser {
                tenant,
                user: Box::new(user),
            },
        )
        .map(|()| shown)
        .map_err(Refusal::from)
    });
    match result {
        Ok(user) => created(&UserView::from(&user)),
        Err(refusal) => refusal.into_response(),
    }
}

pub(super) async fn remove(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, user)): UrlPath<(String, String)>,
) -> Response {
    no_content(change(&state, AdminOp::RemoveUser { tenant, user }))
}

impl Emulator {
    /// Adds a user to `tenant` (id or domain), as `POST
    /// /_emulator/tenants/{tenant}/users` does: checked and journaled.
    pub fn add_user(&self, tenant: &str, user: User) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::AddUser {
                tenant: tenant.to_owned(),
                user: Box::new(user),
            },
        )
    }

    /// Removes a user (object id or UPN) from `tenant`.
    pub fn remove_user(&self, tenant: &str, user: &str) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::RemoveUser {
                tenant: tenant.to_owned(),
                user: user.to_owned(),
            },
        )
    }
}
