//! Scope strings: OpenID Connect scopes, `{resource}/{scope}` delegated
//! scopes, `{resource}/.default`, and what a client was consented.

use crate::config::{Application, Directory, Tenant};
use crate::error::OAuthError;
use crate::state::{ConsentStore, State};

/// The scopes every OpenID Connect client may ask for.
pub(crate) const OIDC: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// Microsoft Graph's app id: tokens asked with only OpenID Connect scopes are for it.
pub(crate) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// One requested resource scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceScope {
    /// The resource's app id.
    pub resource_app_id: String,
    /// How the request named the resource (App ID URI or app id): the v1 `aud`.
    pub identifier: String,
    /// The scope value, or `.default`.
    pub value: String,
}

/// A parsed `scope` parameter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requested {
    /// `openid`, `profile`, `email`, `offline_access` as asked.
    pub oidc: Vec<String>,
    /// Resource scopes, in order.
    pub resource: Vec<ResourceScope>,
}

impl Requested {
    /// Whether `name` (an OpenID Connect scope) was asked for.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.oidc.iter().any(|s| s == name)
    }

    /// The resource of the first resource scope, and the scopes asked of it.
    pub(crate) fn first_resource(&self) -> Option<(&ResourceScope, Vec<&ResourceScope>)> {
        let first = self.resource.first()?;
        let same = self
            .resource
            .iter()
            .filter(|s| s.resource_app_id == first.resource_app_id)
            .collect();
        Some((first, same))
    }

    /// Whether every resource scope names one resource.
    pub(crate) fn single_resource(&self) -> bool {
        self.resource
            .windows(2)
            .all(|w| w[0].resource_app_id == w[1].resource_app_id)
    }

    /// The full scope strings, as they were asked.
    pub(crate) fn to_strings(&self) -> Vec<String> {
        self.oidc
            .iter()
            .cloned()
            .chain(
                self.resource
                    .iter()
                    .map(|s| format!("{}/{}", s.identifier, s.value)),
            )
            .collect()
    }
}

/// Parses a space-separated `scope` parameter against the directory.
pub(crate) fn parse(directory: &Directory, scope: &str) -> Result<Requested, OAuthError> {
    let mut requested = Requested::default();
    for item in scope.split(' ').filter(|s| !s.is_empty()) {
        if OIDC.contains(&item) {
            if !requested.oidc.iter().any(|s| s == item) {
                requested.oidc.push(item.to_owned());
            }
            continue;
        }
        let Some((identifier, value)) = item.rsplit_once('/') else {
            // A bare scope names Microsoft Graph, which the emulator does not serve.
            return Err(OAuthError::invalid_scope(item));
        };
        let Some(resource) = directory.resource(identifier) else {
            return Err(OAuthError::new(
                "invalid_resource",
                500_011,
                format!("The resource principal named {identifier} was not found in the tenant."),
            ));
        };
        if value != ".default"
            && !resource
                .oauth2_permission_scopes
                .iter()
                .any(|s| s.value == value)
        {
            return Err(OAuthError::invalid_scope(item));
        }
        let scope = ResourceScope {
            resource_app_id: resource.app_id.clone(),
            identifier: identifier.to_owned(),
            value: value.to_owned(),
        };
        if !requested.resource.contains(&scope) {
            requested.resource.push(scope);
        }
    }
    Ok(requested)
}

/// The delegated scopes `client` holds on `resource` for `user`: admin
/// consent plus the user's own consent.
pub(crate) fn consented(
    state: &State,
    tenant: &Tenant,
    client: &Application,
    user_id: &str,
    resource: &Application,
) -> Vec<String> {
    let mut scopes: Vec<String> = client
        .required_resource_access
        .iter()
        .filter(|a| a.admin_consented && a.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
        .flat_map(|a| a.scopes.iter().cloned())
        .collect();
    let key = ConsentStore::key(&tenant.tenant_id, user_id, &client.app_id, &resource.app_id);
    state.consents.read(|c| {
        if let Some(granted) = c.grants.get(&key) {
            scopes.extend(granted.iter().cloned());
        }
    });
    // Only scopes the resource still exposes count.
    scopes.retain(|s| {
        resource
            .oauth2_permission_scopes
            .iter()
            .any(|p| &p.value == s)
    });
    scopes.sort();
    scopes.dedup();
    scopes
}

/// The delegated scopes to grant for `asked` (all on one resource), or the
/// scopes that still need the user's consent.
pub(crate) fn grant(
    consented: &[String],
    asked: &[&ResourceScope],
) -> Result<Vec<String>, Vec<String>> {
    if asked.iter().any(|s| s.value == ".default") {
        return Ok(consented.to_vec());
    }
    let missing: Vec<String> = asked
        .iter()
        .filter(|s| !consented.contains(&s.value))
        .map(|s| s.value.clone())
        .collect();
    if missing.is_empty() {
        Ok(asked.iter().map(|s| s.value.clone()).collect())
    } else {
        Err(missing)
    }
}

/// The application permissions `client` was granted on `resource` (admin consent only).
pub(crate) fn app_permissions(client: &Application, resource: &Application) -> Vec<String> {
    let mut roles: Vec<String> = client
        .required_resource_access
        .iter()
        .filter(|a| a.admin_consented && a.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
        .flat_map(|a| a.roles.iter().cloned())
        .filter(|r| resource.has_role(r, crate::config::MemberType::Application))
        .collect();
    roles.sort();
    roles.dedup();
    roles
}
