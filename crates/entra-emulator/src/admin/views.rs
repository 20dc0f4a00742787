//! What the administration API shows: tenants, their registrations and
//! users without secrets or passwords, and the request log.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::Refusal;
use crate::config::{
    AppRole, Application, FederatedIdentityCredential, KeyCredential, ManagedIdentity, MemberType,
    PasswordCredential, PermissionScope, Platform, ResourceAccess, RoleAssignment, Tenant, User,
};
use crate::error::AdminError;
use crate::state::{RequestRecord, State, lock};

// The views list the fields they show, one by one: a field added to the
// configuration (a new secret, say) is not shown until a view names it.
// Names and order are those of the configuration's own JSON (camelCase).

/// A tenant with its registrations and users, without secrets or passwords.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TenantView<'a> {
    tenant_id: &'a str,
    domain: &'a str,
    display_name: &'a str,
    applications: Vec<ApplicationView<'a>>,
    users: Vec<UserView<'a>>,
    /// No secrets in them: shown as configured.
    managed_identities: &'a [ManagedIdentity],
}

impl<'a> From<&'a Tenant> for TenantView<'a> {
    fn from(tenant: &'a Tenant) -> Self {
        TenantView {
            tenant_id: &tenant.tenant_id,
            domain: &tenant.domain,
            display_name: &tenant.display_name,
            applications: tenant
                .applications
                .iter()
                .map(ApplicationView::from)
                .collect(),
            users: tenant.users.iter().map(UserView::from).collect(),
            managed_identities: &tenant.managed_identities,
        }
    }
}

/// A user without the password.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserView<'a> {
    object_id: &'a str,
    user_principal_name: &'a str,
    display_name: &'a str,
    given_name: Option<&'a str>,
    surname: Option<&'a str>,
    mail: Option<&'a str>,
    groups: &'a [String],
    wids: &'a [String],
    app_role_assignments: Vec<RoleAssignmentView<'a>>,
    guest: bool,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(user: &'a User) -> Self {
        UserView {
            object_id: &user.object_id,
            user_principal_name: &user.user_principal_name,
            display_name: &user.display_name,
            given_name: user.given_name.as_deref(),
            surname: user.surname.as_deref(),
            mail: user.mail.as_deref(),
            groups: &user.groups,
            wids: &user.wids,
            app_role_assignments: user
                .app_role_assignments
                .iter()
                .map(RoleAssignmentView::from)
                .collect(),
            guest: user.guest,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RoleAssignmentView<'a> {
    resource_app_id: &'a str,
    app_role: &'a str,
}

impl<'a> From<&'a RoleAssignment> for RoleAssignmentView<'a> {
    fn from(assignment: &'a RoleAssignment) -> Self {
        RoleAssignmentView {
            resource_app_id: &assignment.resource_app_id,
            app_role: &assignment.app_role,
        }
    }
}

/// An app registration without its client secrets' values.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApplicationView<'a> {
    app_id: &'a str,
    display_name: &'a str,
    identifier_uris: &'a [String],
    access_token_accepted_version: Option<u8>,
    oauth2_permission_scopes: Vec<PermissionScopeView<'a>>,
    app_roles: Vec<AppRoleView<'a>>,
    web: PlatformView<'a>,
    spa: PlatformView<'a>,
    public_client: PlatformView<'a>,
    is_fallback_public_client: bool,
    password_credentials: Vec<PasswordCredentialView<'a>>,
    key_credentials: Vec<KeyCredentialView<'a>>,
    required_resource_access: Vec<ResourceAccessView<'a>>,
    group_membership_claims: Option<&'a str>,
    service_principal_object_id: Option<&'a str>,
    /// No secrets in them: shown as configured.
    federated_identity_credentials: &'a [FederatedIdentityCredential],
}

impl<'a> From<&'a Application> for ApplicationView<'a> {
    fn from(app: &'a Application) -> Self {
        ApplicationView {
            app_id: &app.app_id,
            display_name: &app.display_name,
            identifier_uris: &app.identifier_uris,
            access_token_accepted_version: app.access_token_accepted_version,
            oauth2_permission_scopes: app
                .oauth2_permission_scopes
                .iter()
                .map(PermissionScopeView::from)
                .collect(),
            app_roles: app.app_roles.iter().map(AppRoleView::from).collect(),
            web: PlatformView::from(&app.web),
            spa: PlatformView::from(&app.spa),
            public_client: PlatformView::from(&app.public_client),
            is_fallback_public_client: app.is_fallback_public_client,
            password_credentials: app
                .password_credentials
                .iter()
                .map(PasswordCredentialView::from)
                .collect(),
            key_credentials: app
                .key_credentials
                .iter()
                .map(KeyCredentialView::from)
                .collect(),
            required_resource_access: app
                .required_resource_access
                .iter()
                .map(ResourceAccessView::from)
                .collect(),
            group_membership_claims: app.group_membership_claims.as_deref(),
            service_principal_object_id: app.service_principal_object_id.as_deref(),
            federated_identity_credentials: &app.federated_identity_credentials,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PermissionScopeView<'a> {
    value: &'a str,
    user_consent_description: &'a str,
    r#type: &'a str,
}

impl<'a> From<&'a PermissionScope> for PermissionScopeView<'a> {
    fn from(scope: &'a PermissionScope) -> Self {
        PermissionScopeView {
            value: &scope.value,
            user_consent_description: &scope.user_consent_description,
            r#type: &scope.r#type,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppRoleView<'a> {
    value: &'a str,
    display_name: &'a str,
    allowed_member_types: &'a [MemberType],
}

impl<'a> From<&'a AppRole> for AppRoleView<'a> {
    fn from(role: &'a AppRole) -> Self {
        AppRoleView {
            value: &role.value,
            display_name: &role.display_name,
            allowed_member_types: &role.allowed_member_types,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PlatformView<'a> {
    redirect_uris: &'a [String],
    logout_url: Option<&'a str>,
}

impl<'a> From<&'a Platform> for PlatformView<'a> {
    fn from(platform: &'a Platform) -> Self {
        PlatformView {
            redirect_uris: &platform.redirect_uris,
            logout_url: platform.logout_url.as_deref(),
        }
    }
}

/// A client secret's name and expiry; never its value (`secretText`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PasswordCredentialView<'a> {
    display_name: &'a str,
    end_date_time: Option<i64>,
}

impl<'a> From<&'a PasswordCredential> for PasswordCredentialView<'a> {
    fn from(credential: &'a PasswordCredential) -> Self {
        PasswordCredentialView {
            display_name: &credential.display_name,
            end_date_time: credential.end_date_time,
        }
    }
}

/// A client certificate (public).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct KeyCredentialView<'a> {
    certificate_pem: &'a str,
    display_name: &'a str,
}

impl<'a> From<&'a KeyCredential> for KeyCredentialView<'a> {
    fn from(credential: &'a KeyCredential) -> Self {
        KeyCredentialView {
            certificate_pem: &credential.certificate_pem,
            display_name: &credential.display_name,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceAccessView<'a> {
    resource_app_id: &'a str,
    scopes: &'a [String],
    roles: &'a [String],
    admin_consented: bool,
}

impl<'a> From<&'a ResourceAccess> for ResourceAccessView<'a> {
    fn from(access: &'a ResourceAccess) -> Self {
        ResourceAccessView {
            resource_app_id: &access.resource_app_id,
            scopes: &access.scopes,
            roles: &access.roles,
            admin_consented: access.admin_consented,
        }
    }
}

pub(super) async fn tenants(Shared(state): Shared<Arc<State>>) -> Response {
    let directory = state.dir();
    let tenants: Vec<TenantView<'_>> = directory.tenants.iter().map(TenantView::from).collect();
    Json(tenants).into_response()
}

pub(super) async fn tenant(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
) -> Response {
    match state.tenant(&tenant) {
        Some(t) => Json(TenantView::from(&*t)).into_response(),
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
    /// The AADSTS code of an error answer, if any.
    aadsts: Option<u32>,
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
            aadsts: record.aadsts,
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

    use serde_json::Value;

    use super::*;
    use crate::config::Directory;

    /// A directory with every field set, secrets included.
    fn full() -> Directory {
        let mut d = Directory::default_demo();
        let tenant = &mut d.tenants[0];
        let user = &mut tenant.users[0];
        user.given_name = Some("Alice".into());
        user.surname = Some("Smith".into());
        user.mail = Some("alice@example.com".into());
        user.groups = vec!["g1".into()];
        user.wids = vec!["w1".into()];
        user.guest = true;
        let app = &mut tenant.applications[0];
        app.password_credentials.push(PasswordCredential {
            secret_text: "another-secret-value".into(),
            display_name: "ci".into(),
            end_date_time: Some(2_000_000_000),
        });
        app.key_credentials.push(KeyCredential {
            certificate_pem: "-----BEGIN CERTIFICATE-----".into(),
            display_name: "cert".into(),
        });
        app.web.logout_url = Some("https://app.example/logout".into());
        app.group_membership_claims = Some("All".into());
        app.service_principal_object_id = Some("sp".into());
        app.access_token_accepted_version = Some(2);
        d
    }

    /// The configuration's own JSON with the secrets taken out: what the
    /// views showed before they were views.
    fn config_without_secrets(tenant: &Tenant) -> Value {
        let mut value = serde_json::to_value(tenant).unwrap();
        for user in value["users"].as_array_mut().unwrap() {
            user.as_object_mut().unwrap().remove("password");
            user.as_object_mut().unwrap().remove("passwordHash");
        }
        for app in value["applications"].as_array_mut().unwrap() {
            for credential in app["passwordCredentials"].as_array_mut().unwrap() {
                credential.as_object_mut().unwrap().remove("secretText");
            }
        }
        value
    }

    #[test]
    fn views_drop_secrets_and_passwords() {
        let d = full();
        let view = serde_json::to_string(&TenantView::from(&d.tenants[0])).unwrap();
        assert!(!view.contains("dev-secret"), "{view}");
        assert!(!view.contains("another-secret-value"), "{view}");
        assert!(!view.contains("dev-password"), "{view}");
        assert!(!view.contains("secretText") && !view.contains("\"password\""));
        assert!(view.contains("alice@contoso.onmicrosoft.com"));

        let hashed = d.tenants[0].users[0]
            .clone()
            .with_hashed_password()
            .unwrap();
        let hash = hashed.password_hash.clone().unwrap();
        let view = serde_json::to_string(&UserView::from(&hashed)).unwrap();
        assert!(!view.contains(hash.as_str()), "{view}");
        assert!(!view.contains("passwordHash"), "{view}");
    }

    #[test]
    fn views_show_every_other_field_as_the_configuration_does() {
        for d in [full(), Directory::default_demo()] {
            for tenant in &d.tenants {
                let view = serde_json::to_value(TenantView::from(tenant)).unwrap();
                assert_eq!(view, config_without_secrets(tenant));
            }
        }
    }
}
