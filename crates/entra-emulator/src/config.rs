//! The directory the emulator serves: tenants, app registrations, users and
//! managed identities, read from a TOML file shaped after Azure's
//! application manifest (`appId`, `identifierUris`,
//! `accessTokenAcceptedVersion`, `oauth2PermissionScopes`, `appRoles`, `web`
//! / `spa` / `publicClient` redirect URIs, `passwordCredentials`,
//! `keyCredentials`, `requiredResourceAccess`, and Microsoft Graph's
//! `federatedIdentityCredentials`).
//!
//! [`Directory::default_demo`] is the built-in configuration of the demo
//! system; its file is `crates/entra-emulator/default.toml`.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::ConfigError;
pub use crate::password::PasswordHash;

/// The built-in demo configuration, as a file.
pub const DEFAULT_CONFIG: &str = include_str!("../default.toml");

/// Everything the emulator knows: settings and tenants.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Directory {
    /// Behaviour switches.
    #[serde(default)]
    pub settings: Settings,
    /// The tenants.
    pub tenants: Vec<Tenant>,
}

/// How the emulator behaves.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Access-token lifetime in seconds (Entra: 60 to 90 minutes).
    pub access_token_lifetime: u64,
    /// ID-token lifetime in seconds.
    pub id_token_lifetime: u64,
    /// Refresh-token lifetime in seconds (Entra: 90 days).
    pub refresh_token_lifetime: u64,
    /// Authorization-code lifetime in seconds (Entra: about 10 minutes).
    pub code_lifetime: u64,
    /// Device-code lifetime in seconds (Entra: 15 minutes).
    pub device_code_lifetime: u64,
    /// Device-code polling interval in seconds.
    pub device_code_interval: u64,
    /// Whether the resource-owner password grant is enabled (tests only).
    pub allow_password_grant: bool,
    /// Whether `/authorize` signs in the user a `login_hint` names without
    /// showing the sign-in page (for tests).
    pub auto_login_with_hint: bool,
    /// Issue tokens with Entra's real issuers (`https://login.microsoftonline.com/{tid}/v2.0`,
    /// `https://sts.windows.net/{tid}/`) instead of the emulator's own base URL.
    pub entra_issuers: bool,
    /// How long a rotated-out signing key stays published, in seconds.
    pub key_rotation_grace: u64,
    /// What a refresh token that was already used is worth
    /// (`refreshTokenReuse = "allow"`, the default, or `"detect"`).
    pub refresh_token_reuse: RefreshTokenReuse,
}

/// What happens when a refresh token that was already used comes back.
///
/// Either way every use answers with a new refresh token (in the same
/// family), and a second redemption of an authorization code revokes the
/// tokens its first redemption issued (RFC 6749 §4.1.2).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RefreshTokenReuse {
    /// As Entra: a used refresh token stays valid until it expires, and
    /// nothing is revoked when it comes back. Two processes sharing one
    /// token cache (or two web servers sharing one session store) may each
    /// refresh with the same token.
    #[default]
    Allow,
    /// Strict reuse detection (RFC 9700 §4.14.2): a refresh token is good
    /// for one use; when a used one comes back, the request is refused and
    /// every token of its family (the same sign-in) is revoked (AADSTS70008).
    Detect,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access_token_lifetime: 3600,
            id_token_lifetime: 3600,
            refresh_token_lifetime: 90 * 24 * 3600,
            code_lifetime: 600,
            device_code_lifetime: 900,
            device_code_interval: 5,
            allow_password_grant: false,
            auto_login_with_hint: false,
            entra_issuers: false,
            key_rotation_grace: 24 * 3600,
            refresh_token_reuse: RefreshTokenReuse::Allow,
        }
    }
}

/// A tenant (directory).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tenant {
    /// The tenant id (GUID).
    pub tenant_id: String,
    /// Its verified domain, e.g. `contoso.onmicrosoft.com`.
    pub domain: String,
    /// Its display name.
    #[serde(default)]
    pub display_name: String,
    /// App registrations.
    #[serde(default)]
    pub applications: Vec<Application>,
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Managed identities: the system-assigned identity of the Azure
    /// resource the emulator plays (at most one in the whole directory), and
    /// user-assigned identities.
    #[serde(default)]
    pub managed_identities: Vec<ManagedIdentity>,
}

/// The audience Entra expects in a federated assertion by default, and the
/// resource a managed identity names to get one (`api://AzureADTokenExchange`).
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// A federated identity credential of an application, shaped as Microsoft
/// Graph's `federatedIdentityCredential`: a token from `issuer` whose `sub`
/// is `subject` and whose `aud` is one of `audiences` authenticates the
/// application at the token endpoint (workload identity federation).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedIdentityCredential {
    /// Graph's object id (generated by Graph; optional here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A name unique within the application (at most 120 characters).
    pub name: String,
    /// The issuer's URL, compared exactly (case-sensitively) with the
    /// assertion's `iss`; its discovery document is at
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// The assertion's `sub`, compared exactly.
    pub subject: String,
    /// The accepted `aud` (one value; default `api://AzureADTokenExchange`).
    #[serde(default = "default_fic_audiences")]
    pub audiences: Vec<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

fn default_fic_audiences() -> Vec<String> {
    vec![TOKEN_EXCHANGE_AUDIENCE.to_owned()]
}

/// The two kinds of managed identity.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum ManagedIdentityType {
    /// The identity of the Azure resource itself: used when a request names
    /// no identity.
    SystemAssigned,
    /// A standalone identity assigned to the resource, selected by its
    /// client id, principal (object) id or resource id.
    UserAssigned,
}

/// A managed identity: a service principal without credentials whose
/// tokens the emulator's managed-identity endpoints (App Service-style and
/// IMDS-style) hand out.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedIdentity {
    /// `SystemAssigned` or `UserAssigned`.
    pub r#type: ManagedIdentityType,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Client (application) id: `appid` / `azp` of its tokens (GUID).
    pub client_id: String,
    /// Principal (object) id: `oid` and `sub` of its tokens (GUID).
    pub principal_id: String,
    /// Azure resource id: of the resource for a system-assigned identity
    /// (`/subscriptions/…/providers/Microsoft.Web/sites/{name}`), of the
    /// identity for a user-assigned one
    /// (`/subscriptions/…/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}`).
    /// Tokens carry it as `xms_mirid`.
    pub resource_id: String,
    /// Application permissions (app roles) granted to the identity.
    #[serde(default)]
    pub app_role_assignments: Vec<RoleAssignment>,
}

/// An app registration, as in Azure's application manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// Application (client) id: a GUID.
    pub app_id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// App ID URIs (`api://{appId}`...).
    #[serde(default)]
    pub identifier_uris: Vec<String>,
    /// Access-token version for this API: 1 (also when absent) or 2.
    #[serde(default)]
    pub access_token_accepted_version: Option<u8>,
    /// Delegated permissions the app exposes as an API.
    #[serde(default)]
    pub oauth2_permission_scopes: Vec<PermissionScope>,
    /// App roles (for users and/or applications).
    #[serde(default)]
    pub app_roles: Vec<AppRole>,
    /// Web platform: confidential client redirect URIs.
    #[serde(default)]
    pub web: Platform,
    /// Single-page application platform: public client redirect URIs.
    #[serde(default)]
    pub spa: Platform,
    /// Mobile and desktop platform: public client redirect URIs.
    #[serde(default)]
    pub public_client: Platform,
    /// Allow public-client flows (device code) without a redirect URI.
    #[serde(default)]
    pub is_fallback_public_client: bool,
    /// Client secrets.
    #[serde(default)]
    pub password_credentials: Vec<PasswordCredential>,
    /// Client certificates (PEM), for `private_key_jwt` client assertions.
    #[serde(default)]
    pub key_credentials: Vec<KeyCredential>,
    /// API permissions the app requests, and whether an admin granted them.
    #[serde(default)]
    pub required_resource_access: Vec<ResourceAccess>,
    /// `SecurityGroup`, `All`... : emit `groups` (and `wids` with `All` or
    /// `DirectoryRole`) in this API's tokens.
    #[serde(default)]
    pub group_membership_claims: Option<String>,
    /// The service principal's object id in its tenant (derived from the
    /// app id when absent).
    #[serde(default)]
    pub service_principal_object_id: Option<String>,
    /// Federated identity credentials (workload identity federation), as in
    /// Microsoft Graph.
    #[serde(default)]
    pub federated_identity_credentials: Vec<FederatedIdentityCredential>,
}

/// Redirect URIs of one platform.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Platform {
    /// Exact-match redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Front-channel logout URL.
    #[serde(default)]
    pub logout_url: Option<String>,
}

/// A delegated permission (scope) an API exposes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionScope {
    /// The scope name, e.g. `Heroes.Read`.
    pub value: String,
    /// Description shown on the consent page.
    #[serde(default)]
    pub user_consent_description: String,
    /// Whether only an admin can consent (`"Admin"`) or users too (`"User"`).
    #[serde(default = "default_consent_type")]
    pub r#type: String,
}

fn default_consent_type() -> String {
    "User".to_owned()
}

/// Who an app role can be given to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum MemberType {
    /// Users and groups (the `roles` claim of delegated tokens).
    User,
    /// Applications (application permissions: `roles` of app-only tokens).
    Application,
}

/// An app role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRole {
    /// The role value, e.g. `Admin` or `Heroes.Read`.
    pub value: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Who can be assigned the role.
    pub allowed_member_types: Vec<MemberType>,
}

/// A client secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordCredential {
    /// The secret value.
    pub secret_text: String,
    /// Display name (`hint`).
    #[serde(default)]
    pub display_name: String,
    /// Expiry as seconds since the Unix epoch (AADSTS7000222 after it).
    #[serde(default)]
    pub end_date_time: Option<i64>,
}

/// A client certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyCredential {
    /// The certificate, PEM (`-----BEGIN CERTIFICATE-----`).
    pub certificate_pem: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
}

/// API permissions requested from one resource.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceAccess {
    /// The resource (API) app id.
    pub resource_app_id: String,
    /// Delegated permissions (scope values).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Application permissions (app role values).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Whether an admin consented for the whole tenant (no consent page;
    /// application permissions are only granted with it).
    #[serde(default)]
    pub admin_consented: bool,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Object id (GUID).
    pub object_id: String,
    /// Sign-in name (`upn`, `preferred_username`).
    pub user_principal_name: String,
    /// Password for the sign-in page, in clear: a developer's own
    /// configuration file may keep it so. Empty when, and only when,
    /// `password_hash` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// The password as an Argon2id hash (PHC string): what the
    /// administration journal stores for users added through it, and what a
    /// configuration file may hold instead of `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<PasswordHash>,
    /// Display name (`name`).
    #[serde(default)]
    pub display_name: String,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Surname.
    #[serde(default)]
    pub surname: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub mail: Option<String>,
    /// Group object ids.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Directory role template ids (`wids`).
    #[serde(default)]
    pub wids: Vec<String>,
    /// App roles assigned to the user.
    #[serde(default)]
    pub app_role_assignments: Vec<RoleAssignment>,
    /// A B2B guest (`acct: 1`).
    #[serde(default)]
    pub guest: bool,
}

/// An app role given to a user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAssignment {
    /// The API app id.
    pub resource_app_id: String,
    /// The role value.
    pub app_role: String,
}

impl Directory {
    /// Parses and checks a TOML configuration.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Ok(Self::parse(text)?)
    }

    /// Reads a TOML configuration file.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::parse(&text).map_err(|problem| ConfigError::File {
            path: path.to_owned(),
            problem: Box::new(problem),
        })?)
    }

    fn parse(text: &str) -> Result<Self, ConfigError> {
        let directory: Directory = toml::from_str(text).map_err(ConfigError::Syntax)?;
        directory.check()?;
        Ok(directory)
    }

    /// The built-in demo configuration (`default.toml`).
    #[allow(clippy::expect_used)]
    pub fn default_demo() -> Self {
        Self::from_toml(DEFAULT_CONFIG).expect("the built-in configuration is valid")
    }

    /// Checks ids, uniqueness and references.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.tenants.is_empty() {
            return Err(ConfigError::NoTenant);
        }
        let mut tenant_ids = HashSet::new();
        let mut app_ids = HashSet::new();
        for tenant in &self.tenants {
            if !is_guid(&tenant.tenant_id) {
                return Err(ConfigError::NotAGuid {
                    field: "tenantId",
                    value: tenant.tenant_id.clone(),
                });
            }
            if !tenant_ids.insert(tenant.tenant_id.to_ascii_lowercase()) {
                return Err(ConfigError::Duplicate {
                    what: "tenant",
                    value: tenant.tenant_id.clone(),
                });
            }
            for app in &tenant.applications {
                app.check()?;
                if !app_ids.insert(app.app_id.to_ascii_lowercase()) {
                    return Err(ConfigError::Duplicate {
                        what: "appId",
                        value: app.app_id.clone(),
                    });
                }
            }
            let mut users = HashSet::new();
            for user in &tenant.users {
                if !is_guid(&user.object_id) {
                    return Err(ConfigError::NotAGuid {
                        field: "user objectId",
                        value: user.object_id.clone(),
                    });
                }
                if !users.insert(user.user_principal_name.to_ascii_lowercase()) {
                    return Err(ConfigError::Duplicate {
                        what: "user",
                        value: user.user_principal_name.clone(),
                    });
                }
                // Exactly one of a password in clear and its hash.
                match (user.password.is_empty(), user.password_hash.is_some()) {
                    (false, true) => {
                        return Err(ConfigError::PasswordAndHash {
                            user: user.user_principal_name.clone(),
                        });
                    }
                    (true, false) => {
                        return Err(ConfigError::NoPassword {
                            user: user.user_principal_name.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        self.check_managed_identities(&app_ids)?;
        // References: permissions and role assignments name existing APIs and values.
        for tenant in &self.tenants {
            for app in &tenant.applications {
                for access in &app.required_resource_access {
                    let Some(resource) = self.application(&access.resource_app_id) else {
                        return Err(ConfigError::UnknownResource {
                            app_id: app.app_id.clone(),
                            resource: access.resource_app_id.clone(),
                        });
                    };
                    for scope in &access.scopes {
                        if !resource
                            .oauth2_permission_scopes
                            .iter()
                            .any(|s| &s.value == scope)
                        {
                            return Err(ConfigError::UnknownScope {
                                resource: resource.app_id.clone(),
                                scope: scope.clone(),
                            });
                        }
                    }
                    for role in &access.roles {
                        if !resource.has_role(role, MemberType::Application) {
                            return Err(ConfigError::UnknownApplicationRole {
                                resource: resource.app_id.clone(),
                                role: role.clone(),
                            });
                        }
                    }
                }
            }
            for identity in &tenant.managed_identities {
                for assignment in &identity.app_role_assignments {
                    let ok = self
                        .application(&assignment.resource_app_id)
                        .is_some_and(|a| a.has_role(&assignment.app_role, MemberType::Application));
                    if !ok {
                        return Err(ConfigError::UnknownManagedIdentityRole {
                            client_id: identity.client_id.clone(),
                            role: assignment.app_role.clone(),
                            resource: assignment.resource_app_id.clone(),
                        });
                    }
                }
            }
            for user in &tenant.users {
                for assignment in &user.app_role_assignments {
                    let ok = self
                        .application(&assignment.resource_app_id)
                        .is_some_and(|a| a.has_role(&assignment.app_role, MemberType::User));
                    if !ok {
                        return Err(ConfigError::UnknownUserRole {
                            user: user.user_principal_name.clone(),
                            role: assignment.app_role.clone(),
                            resource: assignment.resource_app_id.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Managed identities: GUIDs, ids unique (client ids also among app
    /// ids), a resource id each, at most one system-assigned identity.
    fn check_managed_identities(&self, app_ids: &HashSet<String>) -> Result<(), ConfigError> {
        let mut client_ids = HashSet::new();
        let mut principal_ids = HashSet::new();
        let mut resource_ids = HashSet::new();
        let mut system_assigned = 0usize;
        for identity in self.tenants.iter().flat_map(|t| &t.managed_identities) {
            for (field, value) in [
                ("managed identity clientId", &identity.client_id),
                ("managed identity principalId", &identity.principal_id),
            ] {
                if !is_guid(value) {
                    return Err(ConfigError::NotAGuid {
                        field,
                        value: value.clone(),
                    });
                }
            }
            let client_id = identity.client_id.to_ascii_lowercase();
            if app_ids.contains(&client_id) || !client_ids.insert(client_id) {
                return Err(ConfigError::Duplicate {
                    what: "managed identity clientId",
                    value: identity.client_id.clone(),
                });
            }
            if !principal_ids.insert(identity.principal_id.to_ascii_lowercase()) {
                return Err(ConfigError::Duplicate {
                    what: "managed identity principalId",
                    value: identity.principal_id.clone(),
                });
            }
            if !identity.resource_id.starts_with('/') || identity.resource_id.trim().len() < 2 {
                return Err(ConfigError::ManagedIdentityResourceId {
                    client_id: identity.client_id.clone(),
                });
            }
            if !resource_ids.insert(identity.resource_id.to_ascii_lowercase()) {
                return Err(ConfigError::Duplicate {
                    what: "managed identity resourceId",
                    value: identity.resource_id.clone(),
                });
            }
            if identity.r#type == ManagedIdentityType::SystemAssigned {
                system_assigned += 1;
                if system_assigned > 1 {
                    return Err(ConfigError::SystemAssignedTwice);
                }
            }
        }
        Ok(())
    }

    /// The tenant and managed identity a managed-identity request selects:
    /// the system-assigned identity without a selector, else the
    /// user-assigned identity with that client id, principal (object) id or
    /// resource id (ids case-insensitively).
    pub fn managed_identity(
        &self,
        selector: &IdentitySelector,
    ) -> Option<(&Tenant, &ManagedIdentity)> {
        self.tenants.iter().find_map(|tenant| {
            tenant
                .managed_identities
                .iter()
                .find(|mi| match selector {
                    IdentitySelector::SystemAssigned => {
                        mi.r#type == ManagedIdentityType::SystemAssigned
                    }
                    IdentitySelector::ClientId(id) => {
                        mi.r#type == ManagedIdentityType::UserAssigned
                            && mi.client_id.eq_ignore_ascii_case(id)
                    }
                    IdentitySelector::PrincipalId(id) => {
                        mi.r#type == ManagedIdentityType::UserAssigned
                            && mi.principal_id.eq_ignore_ascii_case(id)
                    }
                    IdentitySelector::ResourceId(id) => {
                        mi.r#type == ManagedIdentityType::UserAssigned
                            && mi.resource_id.eq_ignore_ascii_case(id)
                    }
                })
                .map(|mi| (tenant, mi))
        })
    }

    /// The tenant named by id (GUID) or domain, case-insensitively.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|t| t.tenant_id.eq_ignore_ascii_case(name) || t.domain.eq_ignore_ascii_case(name))
    }

    /// The application with this app id, in any tenant.
    pub fn application(&self, app_id: &str) -> Option<&Application> {
        self.tenants
            .iter()
            .flat_map(|t| &t.applications)
            .find(|a| a.app_id.eq_ignore_ascii_case(app_id))
    }

    /// The application an App ID URI or app id names (a scope's resource).
    pub fn resource(&self, identifier: &str) -> Option<&Application> {
        let identifier = identifier.trim_end_matches('/');
        self.tenants.iter().flat_map(|t| &t.applications).find(|a| {
            a.app_id.eq_ignore_ascii_case(identifier)
                || a.identifier_uris
                    .iter()
                    .any(|u| u.trim_end_matches('/') == identifier)
        })
    }
}

/// Which managed identity a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySelector {
    /// None named: the system-assigned identity.
    SystemAssigned,
    /// A user-assigned identity by client id.
    ClientId(String),
    /// A user-assigned identity by principal (object) id.
    PrincipalId(String),
    /// A user-assigned identity by Azure resource id.
    ResourceId(String),
}

impl User {
    /// Whether `password` is the user's: compared in constant time with a
    /// password in clear, or verified against the hash. An empty password
    /// never matches.
    pub fn password_matches(&self, password: &str) -> bool {
        if password.is_empty() {
            return false;
        }
        match &self.password_hash {
            Some(hash) => hash.verify(password),
            None => crate::util::secrets_equal(&self.password, password),
        }
    }

    /// The user with its password in clear replaced by a hash (unchanged
    /// when it has none).
    pub(crate) fn with_hashed_password(mut self) -> Result<Self, Error> {
        if !self.password.is_empty() {
            self.password_hash = Some(PasswordHash::new(&self.password)?);
            self.password.clear();
        }
        Ok(self)
    }
}

impl Tenant {
    /// The user with this object id.
    pub fn user(&self, object_id: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.object_id.eq_ignore_ascii_case(object_id))
    }
}

/// Entra's rule for redirect URIs: `https`, or `http` on `localhost` or a
/// loopback address (`127.0.0.0/8`, `[::1]`). Anything else (`javascript:`,
/// `data:`, `http://example.com`...) is refused.
fn is_allowed_redirect(url: &url::Url) -> bool {
    match (url.scheme(), url.host()) {
        ("https", Some(_)) => true,
        ("http", Some(url::Host::Domain(domain))) => domain.eq_ignore_ascii_case("localhost"),
        ("http", Some(url::Host::Ipv4(ip))) => ip.is_loopback(),
        ("http", Some(url::Host::Ipv6(ip))) => ip.is_loopback(),
        _ => false,
    }
}

impl Application {
    fn check(&self) -> Result<(), ConfigError> {
        if !is_guid(&self.app_id) {
            return Err(ConfigError::NotAGuid {
                field: "appId",
                value: self.app_id.clone(),
            });
        }
        if let Some(version) = self.access_token_accepted_version {
            if version != 1 && version != 2 {
                return Err(ConfigError::TokenVersion {
                    app_id: self.app_id.clone(),
                    version,
                });
            }
        }
        self.check_federated_credentials()?;
        for uri in self.all_redirect_uris() {
            let url = url::Url::parse(uri).map_err(|source| ConfigError::RedirectUri {
                app_id: self.app_id.clone(),
                uri: uri.clone(),
                source,
            })?;
            if !is_allowed_redirect(&url) {
                return Err(ConfigError::RedirectUriScheme {
                    app_id: self.app_id.clone(),
                    uri: uri.clone(),
                });
            }
        }
        Ok(())
    }

    /// Graph's rules for federated identity credentials: at most 20, names
    /// unique (case-insensitively), at most 120 characters and URL-friendly;
    /// an `https` issuer (`http` on loopback only, for local issuers); a
    /// subject; exactly one audience.
    fn check_federated_credentials(&self) -> Result<(), ConfigError> {
        let bad = |name: &str, problem: &'static str| ConfigError::FederatedCredential {
            app_id: self.app_id.clone(),
            name: name.to_owned(),
            problem,
        };
        if self.federated_identity_credentials.len() > 20 {
            return Err(bad(
                "",
                "an application has at most 20 federated identity credentials",
            ));
        }
        let mut names = HashSet::new();
        for fic in &self.federated_identity_credentials {
            let url_friendly = fic
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b));
            if fic.name.is_empty() || fic.name.len() > 120 || !url_friendly {
                return Err(bad(
                    &fic.name,
                    "the name must be 1 to 120 URL-friendly characters (letters, digits, - _ . ~)",
                ));
            }
            if !names.insert(fic.name.to_ascii_lowercase()) {
                return Err(bad(&fic.name, "the name is used twice"));
            }
            let issuer_ok = url::Url::parse(&fic.issuer)
                .is_ok_and(|u| entra_core::authority::check_scheme(&u, false).is_ok());
            if !issuer_ok {
                return Err(bad(
                    &fic.name,
                    "the issuer must be an https URL (http only on loopback)",
                ));
            }
            if fic.subject.trim().is_empty() || fic.subject.len() > 600 {
                return Err(bad(&fic.name, "the subject must be 1 to 600 characters"));
            }
            if fic.audiences.len() != 1 || fic.audiences[0].trim().is_empty() {
                return Err(bad(&fic.name, "audiences must hold exactly one value"));
            }
        }
        Ok(())
    }

    /// Whether `origin` (a browser's `Origin` header) is the origin of one
    /// of the app's single-page-application redirect URIs.
    pub fn is_spa_origin(&self, origin: &str) -> bool {
        self.spa.redirect_uris.iter().any(|uri| {
            url::Url::parse(uri).is_ok_and(|u| {
                u.origin()
                    .ascii_serialization()
                    .eq_ignore_ascii_case(origin)
            })
        })
    }

    /// Every registered redirect URI with its platform.
    pub fn all_redirect_uris(&self) -> impl Iterator<Item = &String> {
        self.web
            .redirect_uris
            .iter()
            .chain(&self.spa.redirect_uris)
            .chain(&self.public_client.redirect_uris)
    }

    /// Whether the app has this role for this kind of member.
    pub fn has_role(&self, value: &str, member: MemberType) -> bool {
        self.app_roles
            .iter()
            .any(|r| r.value == value && r.allowed_member_types.contains(&member))
    }

    /// Whether the app can authenticate itself (has a secret, a
    /// certificate or a federated identity credential).
    pub fn is_confidential(&self) -> bool {
        !self.password_credentials.is_empty()
            || !self.key_credentials.is_empty()
            || !self.federated_identity_credentials.is_empty()
    }

    /// Access-token version for this API.
    pub fn token_version(&self) -> u8 {
        self.access_token_accepted_version.unwrap_or(1)
    }
}

pub(crate) use entra_core::is_guid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_is_valid() {
        let d = Directory::default_demo();
        assert_eq!(d.tenants.len(), 1);
        assert!(d.tenants[0].users.len() >= 2);
    }

    #[test]
    fn refresh_token_reuse_is_allowed_unless_the_file_says_detect() {
        assert_eq!(
            Settings::default().refresh_token_reuse,
            RefreshTokenReuse::Allow
        );
        assert_eq!(
            Directory::default_demo().settings.refresh_token_reuse,
            RefreshTokenReuse::Allow
        );
        let allow = "refreshTokenReuse = \"allow\"";
        assert!(DEFAULT_CONFIG.contains(allow));
        let text = DEFAULT_CONFIG.replace(allow, "refreshTokenReuse = \"detect\"");
        assert_eq!(
            Directory::from_toml(&text)
                .map(|d| d.settings.refresh_token_reuse)
                .ok(),
            Some(RefreshTokenReuse::Detect)
        );
        let text = DEFAULT_CONFIG.replace(allow, "refreshTokenReuse = \"sometimes\"");
        assert!(matches!(
            Directory::from_toml(&text),
            Err(Error::Config(ConfigError::Syntax(_)))
        ));
    }

    #[test]
    fn bad_references_are_refused() {
        let mut d = Directory::default_demo();
        let api = d.tenants[0].applications[0].app_id.clone();
        d.tenants[0].users[0]
            .app_role_assignments
            .push(RoleAssignment {
                resource_app_id: api,
                app_role: "Nope".into(),
            });
        assert!(matches!(
            d.check(),
            Err(ConfigError::UnknownUserRole { role, .. }) if role == "Nope"
        ));
        assert!(matches!(
            Directory::from_toml("tenants = []"),
            Err(Error::Config(ConfigError::NoTenant))
        ));
        assert!(matches!(
            Directory::from_toml("nonsense"),
            Err(Error::Config(ConfigError::Syntax(_)))
        ));
    }

    #[test]
    fn managed_identities_are_checked() {
        let demo = Directory::default_demo;
        let system = || demo().tenants[0].managed_identities[0].clone();
        assert_eq!(system().r#type, ManagedIdentityType::SystemAssigned);
        let with = |identity: ManagedIdentity| {
            let mut d = demo();
            d.tenants[0].managed_identities.push(identity);
            d.check()
        };
        let mut second = system();
        second.client_id = "11111111-2222-4333-8444-555555555555".into();
        second.principal_id = "21111111-2222-4333-8444-555555555555".into();
        second.resource_id = "/subscriptions/x/other".into();
        assert!(matches!(
            with(second.clone()),
            Err(ConfigError::SystemAssignedTwice)
        ));
        second.r#type = ManagedIdentityType::UserAssigned;
        assert!(with(second.clone()).is_ok());

        let mut app_id = second.clone();
        app_id.client_id = d_api();
        assert!(matches!(
            with(app_id),
            Err(ConfigError::Duplicate {
                what: "managed identity clientId",
                ..
            })
        ));
        let mut not_guid = second.clone();
        not_guid.principal_id = "nope".into();
        assert!(matches!(with(not_guid), Err(ConfigError::NotAGuid { .. })));
        let mut no_resource = second.clone();
        no_resource.resource_id = "heroes".into();
        assert!(matches!(
            with(no_resource),
            Err(ConfigError::ManagedIdentityResourceId { .. })
        ));
        // A user role (not for applications) cannot be given to an identity.
        let mut user_role = second;
        user_role.app_role_assignments = vec![RoleAssignment {
            resource_app_id: d_api(),
            app_role: "Admin".into(),
        }];
        assert!(matches!(
            with(user_role),
            Err(ConfigError::UnknownManagedIdentityRole { role, .. }) if role == "Admin"
        ));
        // Selection: none named is the system-assigned one; a user-assigned
        // one by each of its ids; the system-assigned one by none of them.
        let d = demo();
        let ua = d.tenants[0].managed_identities[1].clone();
        for selector in [
            IdentitySelector::ClientId(ua.client_id.to_uppercase()),
            IdentitySelector::PrincipalId(ua.principal_id.clone()),
            IdentitySelector::ResourceId(ua.resource_id.clone()),
        ] {
            assert_eq!(
                d.managed_identity(&selector).map(|(_, mi)| &mi.client_id),
                Some(&ua.client_id)
            );
        }
        assert_eq!(
            d.managed_identity(&IdentitySelector::SystemAssigned)
                .map(|(_, mi)| mi.r#type),
            Some(ManagedIdentityType::SystemAssigned)
        );
        assert!(
            d.managed_identity(&IdentitySelector::ClientId(system().client_id))
                .is_none()
        );
    }

    fn d_api() -> String {
        Directory::default_demo().tenants[0].applications[0]
            .app_id
            .clone()
    }

    /// The demo configuration with alice's `password` line replaced.
    fn with_alice_password(line: &str) -> String {
        DEFAULT_CONFIG.replace("password = \"alice-dev-password\"", line)
    }

    #[test]
    fn a_user_has_a_password_or_its_hash_never_both_nor_neither() {
        #![allow(clippy::unwrap_used)]
        // A file may hold a hash instead of the password (what the journal stores).
        let hash = PasswordHash::new("alice-dev-password").unwrap();
        let d = Directory::from_toml(&with_alice_password(&format!(
            "passwordHash = \"{}\"",
            hash.as_str()
        )))
        .unwrap();
        let alice = &d.tenants[0].users[0];
        assert!(alice.password.is_empty());
        assert!(alice.password_matches("alice-dev-password"));
        assert!(!alice.password_matches("bob-dev-password"));
        assert!(!alice.password_matches(""));
        // The clear password of a developer's file still works.
        let d = Directory::default_demo();
        assert!(d.tenants[0].users[0].password_matches("alice-dev-password"));
        assert!(!d.tenants[0].users[0].password_matches("alice-dev-passwor"));

        let both = with_alice_password(&format!(
            "password = \"alice-dev-password\"\npasswordHash = \"{}\"",
            hash.as_str()
        ));
        assert!(matches!(
            Directory::from_toml(&both),
            Err(Error::Config(ConfigError::PasswordAndHash { user })) if user.starts_with("alice@")
        ));
        assert!(matches!(
            Directory::from_toml(&with_alice_password("")),
            Err(Error::Config(ConfigError::NoPassword { user })) if user.starts_with("alice@")
        ));
        assert!(matches!(
            Directory::from_toml(&with_alice_password("password = \"\"")),
            Err(Error::Config(ConfigError::NoPassword { .. }))
        ));
        let Err(Error::Config(ConfigError::Syntax(e))) = Directory::from_toml(
            &with_alice_password("passwordHash = \"alice-dev-password\""),
        ) else {
            panic!("a hash that is not one is a syntax error");
        };
        assert!(e.to_string().contains("passwordHash"), "{e}");
    }
}
