//! Workload identities: federated identity credentials of applications
//! (`POST /_emulator/tenants/{tenant}/applications/{appId}/federatedIdentityCredentials`,
//! `DELETE …/federatedIdentityCredentials/{name}`) and managed identities
//! (`POST /_emulator/tenants/{tenant}/managedIdentities`, `DELETE
//! …/managedIdentities/{clientId}`), and the same as library calls on
//! [`Emulator`].

use std::sync::Arc;

use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::journal::{AdminOp, change, tenant_index};
use super::{Refusal, created, from_value, json_value, no_content};
use crate::Error;
use crate::config::{Directory, FederatedIdentityCredential, ManagedIdentity};
use crate::error::AdminError;
use crate::server::Emulator;
use crate::state::State;
use crate::util;

/// The application `app_id` of tenant `index`, mutably.
fn application_mut<'a>(
    directory: &'a mut Directory,
    index: usize,
    app_id: &str,
) -> Result<&'a mut crate::config::Application, AdminError> {
    let t = &mut directory.tenants[index];
    let domain = t.domain.clone();
    t.applications
        .iter_mut()
        .find(|a| a.app_id.eq_ignore_ascii_case(app_id))
        .ok_or_else(|| AdminError::UnknownApplication {
            app_id: app_id.to_owned(),
            domain,
        })
}

/// Adds a federated identity credential to an application (unchecked).
pub(super) fn apply_add_federated(
    directory: &mut Directory,
    tenant: &str,
    app_id: &str,
    credential: FederatedIdentityCredential,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let tenant_id = directory.tenants[index].tenant_id.clone();
    let app = application_mut(directory, index, app_id)?;
    if app
        .federated_identity_credentials
        .iter()
        .any(|c| c.name.eq_ignore_ascii_case(&credential.name))
    {
        return Err(AdminError::FederatedCredentialExists {
            app_id: app.app_id.clone(),
            name: credential.name,
        });
    }
    app.federated_identity_credentials.push(credential.clone());
    Ok(AdminOp::AddFederatedCredential {
        tenant: tenant_id,
        app_id: app.app_id.clone(),
        credential,
    })
}

/// Removes an application's federated identity credential by name (unchecked).
pub(super) fn apply_remove_federated(
    directory: &mut Directory,
    tenant: &str,
    app_id: &str,
    name: &str,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let tenant_id = directory.tenants[index].tenant_id.clone();
    let app = application_mut(directory, index, app_id)?;
    let position = app
        .federated_identity_credentials
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| AdminError::UnknownFederatedCredential {
            app_id: app.app_id.clone(),
            name: name.to_owned(),
        })?;
    let removed = app.federated_identity_credentials.remove(position);
    Ok(AdminOp::RemoveFederatedCredential {
        tenant: tenant_id,
        app_id: app.app_id.clone(),
        name: removed.name,
    })
}

/// Adds a managed identity to `tenant` (unchecked); refuses a client id
/// the directory has (as an identity or an application).
pub(super) fn apply_add_managed(
    directory: &mut Directory,
    tenant: &str,
    identity: ManagedIdentity,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let taken = directory.application(&identity.client_id).is_some()
        || directory
            .tenants
            .iter()
            .flat_map(|t| &t.managed_identities)
            .any(|mi| mi.client_id.eq_ignore_ascii_case(&identity.client_id));
    if taken {
        return Err(AdminError::ManagedIdentityExists {
            client_id: identity.client_id,
        });
    }
    let t = &mut directory.tenants[index];
    t.managed_identities.push(identity.clone());
    Ok(AdminOp::AddManagedIdentity {
        tenant: t.tenant_id.clone(),
        identity: Box::new(identity),
    })
}

/// Removes the managed identity with this client id from `tenant` (unchecked).
pub(super) fn apply_remove_managed(
    directory: &mut Directory,
    tenant: &str,
    client_id: &str,
) -> Result<AdminOp, AdminError> {
    let index = tenant_index(directory, tenant)?;
    let t = &mut directory.tenants[index];
    let position = t
        .managed_identities
        .iter()
        .position(|mi| mi.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| AdminError::UnknownManagedIdentity {
            client_id: client_id.to_owned(),
            domain: t.domain.clone(),
        })?;
    let removed = t.managed_identities.remove(position);
    Ok(AdminOp::RemoveManagedIdentity {
        tenant: t.tenant_id.clone(),
        client_id: removed.client_id,
    })
}

pub(super) async fn add_federated(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, app_id)): UrlPath<(String, String)>,
    body: Bytes,
) -> Response {
    let result = json_value(&body)
        .and_then(from_value::<FederatedIdentityCredential>)
        .and_then(|credential| {
            let shown = credential.clone();
            change(
                &state,
                AdminOp::AddFederatedCredential {
                    tenant,
                    app_id,
                    credential,
                },
            )
            .map(|()| shown)
            .map_err(Refusal::from)
        });
    match result {
        Ok(credential) => created(&credential),
        Err(refusal) => refusal.into_response(),
    }
}

pub(super) async fn remove_federated(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, app_id, name)): UrlPath<(String, String, String)>,
) -> Response {
    no_content(change(
        &state,
        AdminOp::RemoveFederatedCredential {
            tenant,
            app_id,
            name,
        },
    ))
}

pub(super) async fn add_managed(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
    body: Bytes,
) -> Response {
    let result = json_value(&body)
        .map(|mut value| {
            if let Some(object) = value.as_object_mut() {
                for field in ["clientId", "principalId"] {
                    object
                        .entry(field)
                        .or_insert_with(|| util::random_guid().into());
                }
            }
            value
        })
        .and_then(from_value::<ManagedIdentity>)
        .and_then(|identity| {
            let shown = identity.clone();
            change(
                &state,
                AdminOp::AddManagedIdentity {
                    tenant,
                    identity: Box::new(identity),
                },
            )
            .map(|()| shown)
            .map_err(Refusal::from)
        });
    match result {
        Ok(identity) => created(&identity),
        Err(refusal) => refusal.into_response(),
    }
}

pub(super) async fn remove_managed(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, client_id)): UrlPath<(String, String)>,
) -> Response {
    no_content(change(
        &state,
        AdminOp::RemoveManagedIdentity { tenant, client_id },
    ))
}

impl Emulator {
    /// Adds a federated identity credential to application `app_id` of `tenant`.
    pub fn add_federated_credential(
        &self,
        tenant: &str,
        app_id: &str,
        credential: FederatedIdentityCredential,
    ) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::AddFederatedCredential {
                tenant: tenant.to_owned(),
                app_id: app_id.to_owned(),
                credential,
            },
        )
    }

    /// Removes application `app_id`'s federated identity credential `name`.
    pub fn remove_federated_credential(
        &self,
        tenant: &str,
        app_id: &str,
        name: &str,
    ) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::RemoveFederatedCredential {
                tenant: tenant.to_owned(),
                app_id: app_id.to_owned(),
                name: name.to_owned(),
            },
        )
    }

    /// Adds a managed identity to `tenant`.
    pub fn add_managed_identity(
        &self,
        tenant: &str,
        identity: ManagedIdentity,
    ) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::AddManagedIdentity {
                tenant: tenant.to_owned(),
                identity: Box::new(identity),
            },
        )
    }

    /// Removes the managed identity with this client id from `tenant`.
    pub fn remove_managed_identity(&self, tenant: &str, client_id: &str) -> Result<(), Error> {
        change(
            &self.state,
            AdminOp::RemoveManagedIdentity {
                tenant: tenant.to_owned(),
                client_id: client_id.to_owned(),
            },
        )
    }
}
