//! Minting access tokens directly: `POST /_emulator/tokens` and
//! [`Emulator::mint_access_token`].

use std::sync::Arc;

use axum::Json;
use axum::extract::State as Shared;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Refusal, parse};
use crate::Error;
use crate::config::Application;
use crate::error::{AdminError, MintError};
use crate::server::Emulator;
use crate::state::State;
use crate::tokens::{AccessTokenRequest, ClientAcr, Issued};

/// A request to mint an access token directly (tests): any user or none,
/// any scopes, extra claims.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MintRequest {
    /// The issuing tenant (id or domain).
    pub tenant: String,
    /// The client application (`azp` / `appid`). An app id the directory
    /// does not know is accepted as a bare registration (no permissions).
    pub client_id: String,
    /// The API the token is for: its app id or an App ID URI (the `aud` of
    /// v1 tokens is this value as given).
    pub resource: String,
    /// The signed-in user (UPN or object id); `None`: an app-only token
    /// carrying the client's granted application permissions.
    #[serde(default)]
    pub user: Option<String>,
    /// Delegated scopes (`scp`) of a user token, as `Heroes.Read` or
    /// `api://.../Heroes.Read`. Any value is accepted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claims added last (they replace the computed ones: `exp`, `roles`...).
    #[serde(default)]
    pub claims: Map<String, Value>,
}

impl MintRequest {
    /// An app-only token for `client_id` on `resource`.
    pub fn app_only(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        MintRequest {
            tenant: tenant.into(),
            client_id: client_id.into(),
            resource: resource.into(),
            ..MintRequest::default()
        }
    }

    /// A delegated token for `user` (UPN or object id) with `scopes`.
    pub fn delegated<S: Into<String>>(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        resource: impl Into<String>,
        user: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        MintRequest {
            user: Some(user.into()),
            scopes: scopes.into_iter().map(Into::into).collect(),
            ..Self::app_only(tenant, client_id, resource)
        }
    }

    /// Adds (or replaces) a claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }
}

/// Mints what `request` asks for, with the tenant and registrations
/// borrowed from the current directory snapshot.
pub(crate) fn mint(state: &State, request: &MintRequest) -> Result<Issued, Error> {
    let refused = |e: MintError| Error::Admin(AdminError::Mint(e));
    let directory = state.dir();
    let tenant = directory
        .tenant(&request.tenant)
        .ok_or_else(|| AdminError::UnknownTenant {
            tenant: request.tenant.clone(),
        })?;
    let bare;
    let client = match directory.application(&request.client_id) {
        Some(app) => app,
        None if crate::config::is_guid(&request.client_id) => {
            bare = Application {
                app_id: request.client_id.clone(),
                ..Application::default()
            };
            &bare
        }
        None => {
            return Err(refused(MintError::ClientIdNotAGuid {
                client_id: request.client_id.clone(),
            }));
        }
    };
    let resource = directory.resource(&request.resource).ok_or_else(|| {
        refused(MintError::UnknownResource {
            resource: request.resource.clone(),
        })
    })?;
    let user = match &request.user {
        Some(name) => Some(
            tenant
                .users
                .iter()
                .find(|u| {
                    u.object_id.eq_ignore_ascii_case(name)
                        || u.user_principal_name.eq_ignore_ascii_case(name)
                })
                .ok_or_else(|| {
                    refused(MintError::UnknownUser {
                        user: name.clone(),
                        domain: tenant.domain.clone(),
                    })
                })?,
        ),
        None => None,
    };
    if user.is_none() && !request.scopes.is_empty() {
        return Err(refused(MintError::ScopesWithoutUser));
    }
    let scopes: Vec<String> = request
        .scopes
        .iter()
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let identifier = request.resource.trim_end_matches('/');
    let acr = if client.is_confidential() {
        ClientAcr::Secret
    } else {
        ClientAcr::Public
    };
    crate::tokens::access_token(
        state,
        &AccessTokenRequest {
            tenant,
            client,
            resource: Some(resource),
            identifier,
            user,
            scopes: &scopes,
            acr,
            extra: Some(&request.claims),
        },
    )
}

pub(super) async fn endpoint(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let issued = parse::<MintRequest>(&body)
        .and_then(|request| mint(&state, &request).map_err(Refusal::from));
    match issued {
        Ok(issued) => {
            crate::metrics::minted();
            let mut response = Json(json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "expires_on": issued.expires_on,
            }))
            .into_response();
            crate::error::no_store(response.headers_mut());
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

impl Emulator {
    /// Mints an access token directly, as `POST /_emulator/tokens` does,
    /// signed with the tenant's active key on the emulator's clock.
    pub fn mint_access_token(&self, request: MintRequest) -> Result<String, Error> {
        Ok(mint(&self.state, &request)?.token)
    }
}
