//! [`ApiConfig`]: what the API needs to know, as typed values.
//!
//! The library reads no environment variable and no file: `entra api` (or
//! your own binary) loads the settings and fills an [`ApiConfig`].

use std::fmt;
use std::time::Duration;

use entra_auth::{AuthConfig, ScopeClaim};

use crate::Error;

/// The ids of the emulator's built-in demo directory (`entra emulator`), so
/// that `entra api` works against it with no configuration at all.
pub mod demo {
    /// The local emulator's plain-HTTP base URL.
    pub const AUTHORITY_HOST: &str = "http://localhost:9000";
    /// The demo tenant (`contoso.onmicrosoft.com`).
    pub const TENANT_ID: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    /// The Heroes API app registration: this API's own client id.
    pub const API_CLIENT_ID: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
    /// The Swagger UI single-page application (PKCE, redirect
    /// `http://localhost:8080/docs/oauth2-redirect.html`).
    pub const SWAGGER_CLIENT_ID: &str = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
}

/// The largest request body accepted by default (16 KiB): a hero or a todo
/// item is a few hundred bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024;

/// How the API is run: who issues its tokens, which tokens it accepts, where
/// it keeps its data, and how Swagger UI signs in.
///
/// ```
/// use demo_api::ApiConfig;
///
/// let mut config = ApiConfig::new(
///     "https://login.microsoftonline.com",
///     "contoso.onmicrosoft.com",
///     "6e74172b-be56-4843-9ff4-e66a39bb12e3",
///     "postgres://heroes@db.internal/heroes",
/// );
/// // Only the web app and the daemon may call it.
/// config.allowed_client_apps = vec![
///     "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10".into(),
///     "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f".into(),
/// ];
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ApiConfig {
    /// The authority host: `https://login.microsoftonline.com` for Entra ID,
    /// `http://localhost:9000` for the local emulator.
    pub authority_host: String,
    /// The tenant: a GUID or verified domain, or `organizations` / `common`
    /// for a multi-tenant API (then set [`allowed_tenants`](Self::allowed_tenants)).
    pub tenant: String,
    /// The API's own application (client) id: tokens must be for it (`aud` is
    /// this id or `api://{id}`).
    pub client_id: String,
    /// Another accepted audience: the API's App ID URI when it is not
    /// `api://{client_id}`. Swagger UI then asks for scopes under it too.
    pub audience: Option<String>,
    /// Accept tokens obtained by these client applications only (`azp` /
    /// `appid`); empty: any client.
    pub allowed_client_apps: Vec<String>,
    /// Multi-tenant APIs: the tenant ids whose tokens are accepted; `["*"]`
    /// accepts any tenant. Empty for a single-tenant API.
    pub allowed_tenants: Vec<String>,
    /// Allow an `http` authority on a host that is not loopback. Loopback
    /// hosts (the emulator) never need it; anything else should be `https`.
    pub allow_insecure_http: bool,
    /// `sqlite://path/to/file.db` (created if missing) or
    /// `postgres://user@host/database`.
    pub database_url: String,
    /// The client id Swagger UI signs in with (a single-page application
    /// registration whose redirect URI is `{this API}/docs/oauth2-redirect.html`).
    pub swagger_client_id: String,
    /// The largest request body accepted, in bytes; larger ones get `413`.
    pub max_body_bytes: usize,
    /// Any OpenID Connect provider instead of Entra ID: its discovery
    /// document (`…/.well-known/openid-configuration`). The tenant and the
    /// authority host then only serve Swagger UI's sign-in.
    pub oidc_discovery_url: Option<String>,
    /// The issuer the discovery document must name (with
    /// [`oidc_discovery_url`](Self::oidc_discovery_url)).
    pub oidc_issuer: Option<String>,
    /// The claim holding the scopes: `scp` (Entra ID) or `scope` (RFC 9068).
    pub scope_claim: ScopeClaim,
}

/// Everything but the database password, which never reaches a log.
impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("authority_host", &self.authority_host)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("allowed_client_apps", &self.allowed_client_apps)
            .field("allowed_tenants", &self.allowed_tenants)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("database_url", &redact_password(&self.database_url))
            .field("swagger_client_id", &self.swagger_client_id)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("oidc_discovery_url", &self.oidc_discovery_url)
            .field("oidc_issuer", &self.oidc_issuer)
            .field("scope_claim", &self.scope_claim)
            .finish()
    }
}

/// `url` with its password, if any, replaced by `****`.
pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl ApiConfig {
    /// A single-tenant API, any client app, Swagger UI with the demo SPA id.
    pub fn new(
        authority_host: impl Into<String>,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        database_url: impl Into<String>,
    ) -> Self {
        ApiConfig {
            authority_host: authority_host.into(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            audience: None,
            allowed_client_apps: Vec::new(),
            allowed_tenants: Vec::new(),
            allow_insecure_http: false,
            database_url: database_url.into(),
            swagger_client_id: demo::SWAGGER_CLIENT_ID.to_owned(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            oidc_discovery_url: None,
            oidc_issuer: None,
            scope_claim: ScopeClaim::Scp,
        }
    }

    /// The API of the emulator's demo directory, its tokens issued by the
    /// emulator at `authority_host` (for example
    /// [`Emulator::http_url`](https://docs.rs/entra-emulator)).
    pub fn demo(authority_host: impl Into<String>, database_url: impl Into<String>) -> Self {
        Self::new(
            authority_host,
            demo::TENANT_ID,
            demo::API_CLIENT_ID,
            database_url,
        )
    }

    /// The `entra-auth` configuration this API validates tokens with.
    pub fn auth_config(&self) -> Result<AuthConfig, Error> {
        let mut builder = AuthConfig::builder()
            .authority_host(self.authority_host.trim_end_matches('/'))
            .tenant(&self.tenant)
            .client_id(&self.client_id)
            .allow_insecure_http(self.allow_insecure_http)
            // While the keys are not loaded, a request waits for this fetch:
            // give up quickly and answer 503 rather than hang.
            .fetch_timeout(Duration::from_secs(5))
            .scope_claim(self.scope_claim);
        if let Some(url) = &self.oidc_discovery_url {
            builder = builder.oidc_discovery(url.trim(), self.oidc_issuer.clone());
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience);
        }
        if !self.allowed_client_apps.is_empty() {
            builder = builder.allowed_client_apps(self.allowed_client_apps.iter().cloned());
        }
        if self.allowed_tenants.iter().any(|t| t == "*") {
            builder = builder.any_tenant();
        } else if !self.allowed_tenants.is_empty() {
            builder = builder.allowed_tenants(self.allowed_tenants.iter().cloned());
        }
        builder.build().map_err(|e| match e {
            entra_auth::Error::Config(reason) => Error::Config(reason),
            other => Error::Config(other.to_string()),
        })
    }

    /// The App ID URI scopes are named under: the [`audience`](Self::audience)
    /// if set, else `api://{client_id}`.
    pub fn scope_prefix(&self) -> String {
        match &self.audience {
            Some(audience) => audience.trim_end_matches('/').to_owned(),
            None => format!("api://{}", self.client_id),
        }
    }

    /// The authority's v2 endpoint `path` (`authorize`, `token`) for this tenant.
    pub(crate) fn oauth2_endpoint(&self, path: &str) -> String {
        format!(
            "{}/{}/oauth2/v2.0/{path}",
            self.authority_host.trim_end_matches('/'),
            self.tenant
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_builds() {
        let config = ApiConfig::demo("http://localhost:9000", "sqlite://demo.db");
        assert!(config.auth_config().is_ok());
        assert_eq!(
            config.scope_prefix(),
            "api://6e74172b-be56-4843-9ff4-e66a39bb12e3"
        );
        assert_eq!(
            config.oauth2_endpoint("authorize"),
            "http://localhost:9000/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/oauth2/v2.0/authorize"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let config = ApiConfig::demo("http://login.example.com", "sqlite://demo.db");
        assert!(matches!(config.auth_config(), Err(Error::Config(_))));
        let mut config = config;
        config.allow_insecure_http = true;
        assert!(config.auth_config().is_ok());
    }

    #[test]
    fn debug_output_hides_the_database_password() {
        let config = ApiConfig::demo(demo::AUTHORITY_HOST, "postgres://heroes:s3cret@db/heroes");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("postgres://heroes:****@db/heroes"),
            "{shown}"
        );
    }

    #[test]
    fn multi_tenant_needs_a_tenant_policy() {
        let mut config = ApiConfig::demo("https://login.microsoftonline.com", "sqlite://x.db");
        config.tenant = "organizations".into();
        assert!(config.auth_config().is_err());
        config.allowed_tenants = vec!["*".into()];
        assert!(config.auth_config().is_ok());
        config.allowed_tenants = vec!["not-a-guid".into()];
        assert!(config.auth_config().is_err());
    }
}
