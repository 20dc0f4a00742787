//! Errors: the crate's error type, and the OAuth error answers shaped as
//! Entra sends them (JSON with an `AADSTSnnnnn:` description, error codes,
//! trace and correlation ids, timestamp).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use aws_lc_rs::error::{KeyRejected, Unspecified};
use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::util;

/// What can go wrong starting, configuring or administering the emulator.
///
/// Each variant carries what failed and the cause. The message
/// (`to_string()`) includes the cause's text, so one line explains the
/// failure; [`source`](std::error::Error::source) gives the cause itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A file in the data directory could not be read or written. Contents
    /// that cannot be parsed are an [`io::ErrorKind::InvalidData`] error
    /// wrapping the parser's error.
    #[error("data directory: {}: {source}", path.display())]
    Storage {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why (`AddrInUse`, `PermissionDenied`...).
        source: io::Error,
    },
    /// An administrative request was refused.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// A key or certificate operation failed.
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
}

impl Error {
    /// A storage error for `path`.
    pub(crate) fn storage(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Storage {
            path: path.into(),
            source,
        }
    }

    /// A storage error for a file at `path` whose contents cannot be parsed.
    pub(crate) fn unreadable(
        path: impl Into<PathBuf>,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::storage(path, io::Error::new(io::ErrorKind::InvalidData, cause))
    }
}

/// What is wrong with a directory configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not TOML of the directory's shape.
    #[error("{0}")]
    Syntax(#[source] toml::de::Error),
    /// The configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The configuration file has a problem.
    #[error("{}: {problem}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The problem.
        #[source]
        problem: Box<ConfigError>,
    },
    /// There is no tenant.
    #[error("at least one tenant is required")]
    NoTenant,
    /// An id that must be a GUID is not one.
    #[error("{field} {value:?} is not a GUID")]
    NotAGuid {
        /// Which id: `tenantId`, `appId`, `user objectId`.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A tenant, application or user appears twice.
    #[error("{what} {value} appears twice")]
    Duplicate {
        /// What: `tenant`, `appId`, `user`.
        what: &'static str,
        /// The tenant id, app id or user principal name.
        value: String,
    },
    /// An application requests access to an API the directory does not have.
    #[error("{app_id} requests access to unknown resource {resource}")]
    UnknownResource {
        /// The requesting application.
        app_id: String,
        /// The resource's app id.
        resource: String,
    },
    /// An application requests a delegated scope the API does not expose.
    #[error("{resource} exposes no scope {scope}")]
    UnknownScope {
        /// The API's app id.
        resource: String,
        /// The scope value.
        scope: String,
    },
    /// An application requests an application role the API does not have.
    #[error("{resource} has no application role {role}")]
    UnknownApplicationRole {
        /// The API's app id.
        resource: String,
        /// The role value.
        role: String,
    },
    /// A user is assigned a role the API does not offer to users.
    #[error("user {user} is assigned unknown role {role} of {resource}")]
    UnknownUserRole {
        /// The user principal name.
        user: String,
        /// The role value.
        role: String,
        /// The API's app id.
        resource: String,
    },
    /// `accessTokenAcceptedVersion` is neither 1 nor 2.
    #[error("{app_id}: accessTokenAcceptedVersion must be 1 or 2")]
    TokenVersion {
        /// The application.
        app_id: String,
        /// The version given.
        version: u8,
    },
    /// A redirect URI is not a URL.
    #[error("{app_id}: redirect URI {uri:?} is not a URL")]
    RedirectUri {
        /// The application.
        app_id: String,
        /// The URI given.
        uri: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// An allowed host name (`allowed_hosts`) is not a bare host name.
    #[error(
        "allowed host {host:?} must be a host name (letters, digits, '-', '_', '.'; a leading '.' for a domain and its subdomains), without scheme, port or wildcard"
    )]
    AllowedHost {
        /// The name given.
        host: String,
    },
    /// The admin token is empty or has characters a `Bearer` header cannot carry.
    #[error(
        "the admin token (ENTRA_EMULATOR_ADMIN_TOKEN) must be non-empty printable ASCII without spaces"
    )]
    AdminToken,
    /// A listener binds a non-loopback address and no admin token is set.
    #[error(
        "listening on {addr}, which is not a loopback address, requires an admin token for the administration API: set ENTRA_EMULATOR_ADMIN_TOKEN (EmulatorConfig::admin_token), or bind 127.0.0.1"
    )]
    AdminTokenRequired {
        /// The non-loopback address.
        addr: SocketAddr,
    },
    /// A `passwordHash` is not an Argon2id PHC string within the emulator's
    /// bounds (see [`PasswordHash`](crate::config::PasswordHash)).
    #[error("passwordHash is not an accepted Argon2id PHC string: {reason}")]
    PasswordHash {
        /// What is wrong with it.
        reason: String,
    },
    /// A user has neither a (non-empty) `password` nor a `passwordHash`.
    #[error("user {user} has no password: give a password or a passwordHash")]
    NoPassword {
        /// The user principal name.
        user: String,
    },
    /// A user has both a `password` and a `passwordHash`.
    #[error("user {user} has both a password and a passwordHash: keep one")]
    PasswordAndHash {
        /// The user principal name.
        user: String,
    },
    /// A redirect URI is neither `https` nor `http` on localhost or a loopback address.
    #[error(
        "{app_id}: redirect URI {uri:?} must use https, or http on localhost or a loopback address (127.0.0.1, [::1])"
    )]
    RedirectUriScheme {
        /// The application.
        app_id: String,
        /// The URI given.
        uri: String,
    },
    /// A federated identity credential breaks one of Graph's rules.
    #[error("{app_id}: federated identity credential {name:?}: {problem}")]
    FederatedCredential {
        /// The application.
        app_id: String,
        /// The credential's name.
        name: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A managed identity's app-role assignment names no application role.
    #[error(
        "managed identity {client_id}: app role {role:?} is not an application role of {resource}"
    )]
    UnknownManagedIdentityRole {
        /// The identity's client id.
        client_id: String,
        /// The role value.
        role: String,
        /// The API's app id.
        resource: String,
    },
    /// A managed identity's resource id is not an Azure resource id.
    #[error(
        "managed identity {client_id}: resourceId must be an Azure resource id (/subscriptions/...)"
    )]
    ManagedIdentityResourceId {
        /// The identity's client id.
        client_id: String,
    },
    /// More than one system-assigned managed identity: the emulator plays one Azure resource.
    #[error(
        "at most one managed identity may be SystemAssigned: the emulator plays one Azure resource"
    )]
    SystemAssignedTwice,
    /// The identity header (`--identity-header`) is empty or not printable ASCII.
    #[error("the managed-identity header value must be non-empty printable ASCII without spaces")]
    IdentityHeader,
}

/// Why an administrative change or token request was refused. The
/// administration API answers 404 for the unknown tenant, user and
/// application variants, 409 for those that exist already, 422 for the rest.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No tenant has this id or domain.
    #[error("no tenant {tenant}")]
    UnknownTenant {
        /// The id or domain given.
        tenant: String,
    },
    /// The tenant has no user with this object id or user principal name.
    #[error("no user {user} in {domain}")]
    UnknownUser {
        /// The object id or user principal name given.
        user: String,
        /// The tenant's domain.
        domain: String,
    },
    /// The tenant has no application with this app id.
    #[error("no application {app_id} in {domain}")]
    UnknownApplication {
        /// The app id given.
        app_id: String,
        /// The tenant's domain.
        domain: String,
    },
    /// No managed identity with this client id in the tenant.
    #[error("no managed identity {client_id} in {domain}")]
    UnknownManagedIdentity {
        /// The client id given.
        client_id: String,
        /// The tenant's domain.
        domain: String,
    },
    /// A managed identity or application with this client id exists.
    #[error("a managed identity or application with client id {client_id} already exists")]
    ManagedIdentityExists {
        /// The client id.
        client_id: String,
    },
    /// The application has a federated identity credential of this name.
    #[error("application {app_id} already has a federated identity credential named {name:?}")]
    FederatedCredentialExists {
        /// The application.
        app_id: String,
        /// The name.
        name: String,
    },
    /// The application has no federated identity credential of this name.
    #[error("application {app_id} has no federated identity credential named {name:?}")]
    UnknownFederatedCredential {
        /// The application.
        app_id: String,
        /// The name.
        name: String,
    },
    /// A user with this user principal name exists.
    #[error("user {upn} already exists in {domain}")]
    UserExists {
        /// The user principal name.
        upn: String,
        /// The tenant's domain.
        domain: String,
    },
    /// A user with this object id exists.
    #[error("a user with objectId {object_id} already exists in {domain}")]
    ObjectIdTaken {
        /// The object id.
        object_id: String,
        /// The tenant's domain.
        domain: String,
    },
    /// An application with this app id exists (in any tenant).
    #[error("application {app_id} already exists")]
    ApplicationExists {
        /// The app id.
        app_id: String,
    },
    /// Another application has this App ID URI.
    #[error("identifier URI {uri} is already used by {app_id}")]
    IdentifierUriTaken {
        /// The App ID URI.
        uri: String,
        /// The application that has it.
        app_id: String,
    },
    /// The user principal name is empty or has surrounding spaces.
    #[error("userPrincipalName must be non-empty, without surrounding spaces")]
    UserPrincipalName {
        /// The value given.
        upn: String,
    },
    /// The change would leave the directory invalid.
    #[error("{0}")]
    InvalidDirectory(#[source] ConfigError),
    /// A token request that cannot be minted.
    #[error(transparent)]
    Mint(#[from] MintError),
}

/// Why a request to mint a token directly was refused (answered 422).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// `clientId` names no application and is not a GUID.
    #[error("clientId {client_id:?} is not a GUID")]
    ClientIdNotAGuid {
        /// The value given.
        client_id: String,
    },
    /// `resource` names no API.
    #[error("no resource {resource:?}")]
    UnknownResource {
        /// The value given.
        resource: String,
    },
    /// `user` names no user of the tenant.
    #[error("no user {user} in {domain}")]
    UnknownUser {
        /// The object id or user principal name given.
        user: String,
        /// The tenant's domain.
        domain: String,
    },
    /// Scopes were asked for an app-only token.
    #[error(
        "scopes are for user tokens: app-only tokens carry the client's application permissions (or set \"roles\" in claims)"
    )]
    ScopesWithoutUser,
}

/// A key or certificate operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// A new signing key could not be generated.
    #[error("key generation: {0}")]
    KeyGeneration(#[source] Unspecified),
    /// A new signing key could not be encoded as PKCS#8.
    #[error("key encoding: {0}")]
    KeyEncoding(#[source] Unspecified),
    /// A stored signing key is not a usable RSA key.
    #[error("stored key: {0}")]
    StoredKey(#[source] KeyRejected),
    /// A token could not be signed.
    #[error("signing: {0}")]
    Signing(#[source] Unspecified),
    /// A signing key's certificate could not be made.
    #[error("certificate: {0}")]
    Certificate(#[source] rcgen::Error),
    /// The TLS certificate authority or server certificate could not be made.
    #[error("TLS certificate generation: {0}")]
    TlsGeneration(#[source] rcgen::Error),
    /// A TLS certificate or key just made could not be read back.
    #[error("TLS PEM: {0}")]
    TlsPem(#[source] rustls::pki_types::pem::Error),
    /// rustls refused the TLS settings or the certificate.
    #[error("TLS configuration: {0}")]
    Tls(#[source] rustls::Error),
    /// The tenant has no signing key.
    #[error("no signing key for tenant {tenant}")]
    NoSigningKey {
        /// The tenant id.
        tenant: String,
    },
    /// The system's random number generator failed.
    #[error("random numbers: {0}")]
    Random(#[source] Unspecified),
    /// A password could not be hashed.
    #[error("password hashing: {0}")]
    PasswordHashing(#[source] argon2::password_hash::Error),
}

/// An OAuth 2.0 error answer from the token, device-code or authorize endpoints.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status (400, or 401 for `invalid_client`).
    pub status: StatusCode,
    /// The OAuth `error` code.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The human-readable description, without the `AADSTS` prefix.
    pub description: String,
    /// MSAL's `suberror` (`consent_required`, `bad_token`...).
    pub suberror: Option<&'static str>,
}

impl OAuthError {
    /// A new error answered with HTTP 400.
    pub fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            description: description.into(),
            suberror: None,
        }
    }

    /// With another HTTP status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// With another AADSTS code and description.
    pub fn with_code(mut self, code: u32, description: impl Into<String>) -> Self {
        self.code = code;
        self.description = description.into();
        self
    }

    /// With a `suberror`.
    pub fn suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// `invalid_request`: a missing or malformed parameter (AADSTS900144).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", 900_144, description)
    }

    /// `invalid_client`, AADSTS7000215: wrong secret.
    pub fn invalid_secret() -> Self {
        Self::new(
            "invalid_client",
            7_000_215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        )
        .status(StatusCode::UNAUTHORIZED)
    }

    /// `unauthorized_client`, AADSTS700016: unknown application.
    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        )
    }

    /// `invalid_scope`, AADSTS70011.
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            "invalid_scope",
            70_011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    /// `invalid_grant`.
    pub fn invalid_grant(code: u32, description: impl Into<String>) -> Self {
        Self::new("invalid_grant", code, description)
    }

    /// `unsupported_grant_type`, AADSTS70003.
    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// `invalid_request`, AADSTS9002326: an `Origin` header on the redemption
    /// of a code issued to a redirect URI that is not a single-page application's.
    pub fn cross_origin_not_spa() -> Self {
        Self::new(
            "invalid_request",
            9_002_326,
            "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.",
        )
    }

    /// `invalid_request`, AADSTS9002327: a code issued to a single-page
    /// application's redirect URI redeemed without an `Origin` header.
    pub fn spa_without_origin() -> Self {
        Self::new(
            "invalid_request",
            9_002_327,
            "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.",
        )
    }

    /// `invalid_request`, AADSTS900561, HTTP 405: the token endpoint answered
    /// a method other than POST (Entra's code and text for `GET /token`).
    pub fn method_not_allowed(method: &http::Method) -> Self {
        Self::new(
            "invalid_request",
            900_561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request."
            ),
        )
        .status(StatusCode::METHOD_NOT_ALLOWED)
    }

    /// `invalid_request`, HTTP 413: a request body over `limit` bytes. Entra
    /// documents no code for an oversized body; this is AADSTS90015
    /// (`QueryStringTooLong`), its documented code for an oversized request.
    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            "invalid_request",
            90_015,
            format!("The request is too large: the body may be at most {limit} bytes."),
        )
        .status(StatusCode::PAYLOAD_TOO_LARGE)
    }

    /// The JSON body, with fresh trace and correlation ids.
    pub fn body(&self, correlation_id: Option<&str>, now: i64) -> serde_json::Value {
        let trace_id = util::random_guid();
        let correlation_id = correlation_id
            .filter(|c| crate::config::is_guid(c))
            .map_or_else(util::random_guid, str::to_owned);
        let timestamp = util::entra_timestamp(now);
        let mut body = serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(suberror) = self.suberror {
            body["suberror"] = suberror.into();
        }
        body
    }

    /// The full HTTP answer.
    pub fn into_response_at(self, correlation_id: Option<&str>, now: i64) -> Response {
        let mut response = (self.status, Json(self.body(correlation_id, now))).into_response();
        no_store(response.headers_mut());
        response
            .extensions_mut()
            .insert(crate::state::AadstsCode(self.code));
        response
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.into_response_at(None, now)
    }
}

/// `Cache-Control: no-store, no-cache` and `Pragma: no-cache`, as Entra's
/// token responses carry.
pub(crate) fn no_store(headers: &mut http::HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_failed_and_sources_keep_the_cause() {
        let denied = Error::storage(
            "/data/keys",
            io::Error::from(io::ErrorKind::PermissionDenied),
        );
        assert!(
            denied
                .to_string()
                .starts_with("data directory: /data/keys: "),
            "{denied}"
        );
        let cause = std::error::Error::source(&denied).and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(
            cause.map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );

        let corrupt = Error::unreadable("/data/consents.json", "not JSON");
        assert!(matches!(
            &corrupt,
            Error::Storage { source, .. } if source.kind() == io::ErrorKind::InvalidData
        ));

        let config = Error::from(ConfigError::NotAGuid {
            field: "appId",
            value: "x".into(),
        });
        assert_eq!(
            config.to_string(),
            "invalid configuration: appId \"x\" is not a GUID"
        );

        // Refusals read as they did when they were strings.
        let admin = Error::from(AdminError::UnknownTenant {
            tenant: "fabrikam.com".into(),
        });
        assert_eq!(admin.to_string(), "no tenant fabrikam.com");
        let mint = Error::from(AdminError::Mint(MintError::UnknownResource {
            resource: "api://x".into(),
        }));
        assert_eq!(mint.to_string(), "no resource \"api://x\"");

        let crypto = Error::from(CryptoError::NoSigningKey { tenant: "t".into() });
        assert_eq!(crypto.to_string(), "crypto: no signing key for tenant t");
    }
}
