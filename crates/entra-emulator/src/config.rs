//! The directory the emulator serves: tenants, app registrations and users,
//! read from a TOML file shaped after Azure's application manifest
//! (`appId`, `identifierUris`, `accessTokenAcceptedVersion`,
//! `oauth2PermissionScopes`, `appRoles`, `web` / `spa` / `publicClient`
//! redirect URIs, `passwordCredentials`, `keyCredentials`,
//! `requiredResourceAccess`).
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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

    /// Whether the app can authenticate itself (has a secret or certificate).
    pub fn is_confidential(&self) -> bool {
        !self.password_credentials.is_empty() || !self.key_credentials.is_empty()
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
