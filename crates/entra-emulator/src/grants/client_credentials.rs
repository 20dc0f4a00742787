//! Client credentials: an application calling as itself, with the
//! application permissions an admin granted it on one resource.

use super::{Ctx, GrantResult, TokenResponse, default_required};
use crate::error::OAuthError;
use crate::tokens::{self, AccessTokenRequest};

/// `grant_type=client_credentials`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    ctx.client.require_credential()?;
    let scope = ctx.scope_param().ok_or_else(|| {
        OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        )
    })?;
    let items: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    // Exactly one `{resource}/.default`.
    let [item] = items.as_slice() else {
        return Err(default_required(&scope));
    };
    let Some(identifier) = item.strip_suffix("/.default") else {
        return Err(default_required(item));
    };
    let directory = ctx.state.dir();
    let resource = directory.resource(identifier).ok_or_else(|| {
        OAuthError::new(
            "invalid_resource",
            500_011,
            format!(
                "The resource principal named {identifier} was not found in the tenant named {}.",
                ctx.tenant.tenant_id
            ),
        )
    })?;
    let issued = tokens::access_token(
        ctx.state,
        &AccessTokenRequest {
            tenant: ctx.tenant,
            client: ctx.client.app,
            resource: Some(resource),
            identifier,
            user: None,
            scopes: &[],
            acr: ctx.client.acr,
            extra: None,
        },
    )
    .map_err(|e| OAuthError::new("server_error", 90_000, e.to_string()))?;
    Ok(TokenResponse {
        access: Some(issued),
        resource: Some(identifier.to_owned()),
        ..TokenResponse::default()
    })
}
