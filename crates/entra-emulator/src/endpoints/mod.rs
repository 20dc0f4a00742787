//! HTTP endpoints, laid out exactly as Entra's (v2 and v1).
//!
//! - [`discovery`]: discovery documents, key sets, instance discovery.
//! - [`token`]: the token endpoint (the grants are in [`crate::grants`]).
//! - [`managed_identity`]: the App Service-style and IMDS-style
//!   managed-identity endpoints.
//! - [`devicecode`]: the device-code endpoint (its verification page is
//!   [`crate::pages::devicelogin`]).

pub(crate) mod devicecode;
pub(crate) mod discovery;
pub(crate) mod managed_identity;
pub(crate) mod token;

use std::sync::Arc;

use http::{HeaderMap, header};

use crate::error::OAuthError;
use crate::state::{State, TenantRef};

/// The tenant a path segment names, or Entra's answer for an unknown one
/// (AADSTS90002). `common` and `organizations` resolve to the tenant owning
/// `client_id` when one is given.
pub(crate) fn resolve_tenant(
    state: &State,
    segment: &str,
    client_id: Option<&str>,
) -> Result<TenantRef, OAuthError> {
    let lower = segment.to_ascii_lowercase();
    if matches!(lower.as_str(), "common" | "organizations") {
        let dir = state.dir();
        let single = dir.tenants.len() == 1;
        let owner = client_id.and_then(|id| {
            TenantRef::find(Arc::clone(&dir), |t| {
                t.applications
                    .iter()
                    .any(|a| a.app_id.eq_ignore_ascii_case(id))
            })
        });
        if let Some(tenant) =
            owner.or_else(|| single.then(|| TenantRef::find(dir, |_| true)).flatten())
        {
            return Ok(tenant);
        }
    }
    state.tenant(segment).ok_or_else(|| unknown_tenant(segment))
}

/// `400 invalid_tenant`, AADSTS90002.
pub(crate) fn unknown_tenant(segment: &str) -> OAuthError {
    OAuthError::new(
        "invalid_tenant",
        90_002,
        format!(
            "Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
        ),
    )
}

/// Whether the request body is `application/x-www-form-urlencoded`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| {
            t.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}
