//! [`WebConfig`]: what the web app needs to know, as typed values.
//!
//! The library reads no environment variable and no file: `entra web` (or
//! your own binary) loads the settings and fills a [`WebConfig`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use entra_client::{Clock, ManagedIdentityCredential};
use url::Url;

use crate::Error;

/// The ids of the emulator's built-in demo directory (`entra emulator`), so
/// that `entra web` works against it with no configuration at all.
pub mod demo {
    /// The local emulator's plain-HTTP base URL.
    pub const AUTHORITY_HOST: &str = "http://localhost:9000";
    /// The demo tenant (`contoso.onmicrosoft.com`).
    pub const TENANT_ID: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
    /// The Heroes Web app registration (a confidential client whose redirect
    /// URI is `http://localhost:8000/auth/callback`).
    pub const CLIENT_ID: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
    /// Heroes Web's development secret, known to the local emulator only.
    pub const CLIENT_SECRET: &str = "heroes-web-dev-secret";
    /// Where demo-web is reached by default.
    pub const PUBLIC_BASE_URL: &str = "http://localhost:8000";
    /// Where demo-api listens by default.
    pub const API_BASE_URL: &str = "http://localhost:8080";
    /// The Heroes API's App ID URI: its scopes are named under it.
    pub const API_APP_ID_URI: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3";
}

/// Where sessions are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionBackend {
    /// A SQLite database file (created if missing), one instance at a time.
    /// Tokens are kept in the same file.
    Sqlite(PathBuf),
    /// A Redis server (`redis://` or `rediss://` URL): several instances
    /// behind a load balancer share sessions and tokens.
    Redis(String),
    /// This process's memory: lost at restart (tests, trials).
    Memory,
}

impl SessionBackend {
    /// `sqlite`, `redis` or `memory`.
    pub fn name(&self) -> &'static str {
        match self {
            SessionBackend::Sqlite(_) => "sqlite",
            SessionBackend::Redis(_) => "redis",
            SessionBackend::Memory => "memory",
        }
    }
}

/// How the web app is run: the identity provider and its registration, the
/// API it calls, where it keeps sessions, and how long they live.
///
/// ```
/// use demo_web::{SessionBackend, WebConfig};
///
/// let mut config = WebConfig::new(
///     "https://login.microsoftonline.com",
///     "contoso.onmicrosoft.com",
///     "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10",
///     "a secret from the app registration",
/// );
/// config.public_base_url = "https://heroes.example.com".into();
/// config.api_base_url = "https://heroes-api.example.com".into();
/// config.session_backend = SessionBackend::Redis("redis://cache.internal:6379".into());
/// assert_eq!(config.redirect_uri().unwrap(), "https://heroes.example.com/auth/callback");
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct WebConfig {
    /// The authority host: `https://login.microsoftonline.com` for Entra ID,
    /// `http://localhost:9000` for the local emulator.
    pub authority_host: String,
    /// The tenant: a GUID or verified domain.
    pub tenant: String,
    /// The web app's application (client) id.
    pub client_id: String,
    /// The web app's client secret. Never logged, never shown. Empty when
    /// the app authenticates with a [federated token
    /// file](Self::federated_token_file) or its [managed
    /// identity](Self::managed_identity_assertion) instead.
    pub client_secret: String,
    /// Workload identity federation instead of a secret: the file holding
    /// the token the app registration's federated credential trusts
    /// (`AZURE_FEDERATED_TOKEN_FILE`, e.g. a Kubernetes projected
    /// service-account token), sent as the client assertion and read again
    /// whenever it changes. Set exactly one of the secret, this file and
    /// the [managed identity](Self::managed_identity_assertion).
    pub federated_token_file: Option<PathBuf>,
    /// The managed identity as the federated credential: its token for
    /// `api://AzureADTokenExchange` is the client assertion (App Service,
    /// Container Apps, virtual machines: no secret anywhere). The app
    /// registration must trust the identity (a federated identity
    /// credential whose issuer is the tenant's v2 issuer and whose subject
    /// is the identity's principal id). Set exactly one of the secret, the
    /// [federated token file](Self::federated_token_file) and this.
    pub managed_identity_assertion: Option<ManagedIdentityCredential>,
    /// Where browsers reach this app (default `http://localhost:8000`). The
    /// redirect URI is this plus `/auth/callback`; with `https` the session
    /// cookie is `__Host-` prefixed and `Secure`.
    pub public_base_url: String,
    /// Where the heroes API is (default `http://localhost:8080`).
    pub api_base_url: String,
    /// The scopes asked for at sign-in and for API calls (default: the
    /// Heroes API's `Heroes.Read`, `Heroes.Write` and `Heroes.Delete`, with
    /// `openid profile offline_access`).
    pub api_scopes: Vec<String>,
    /// Where sessions and tokens are kept.
    pub session_backend: SessionBackend,
    /// With Redis: the prefix of every key (default `demo-web:`; sessions
    /// under `{prefix}session:`, tokens under `{prefix}token:`). Instances
    /// that share sessions share the prefix; other apps on the same Redis
    /// use another.
    pub redis_key_prefix: String,
    /// Allows a plain-`http` authority on a host that is not loopback.
    pub allow_insecure_http: bool,
    /// A session unused this long ends (default 8 hours).
    pub session_idle_timeout: Duration,
    /// A session ends this long after sign-in, used or not (default 24 hours).
    pub session_lifetime: Duration,
    /// How long a sign-in may take from `/auth/login` to the callback
    /// (default 10 minutes).
    pub sign_in_timeout: Duration,
    /// The clock for sessions, sign-ins and token expiry (default: the
    /// system clock; tests move it).
    pub clock: Clock,
    /// The HTTP client used to reach the identity provider (for example one
    /// that trusts the emulator's certificate authority). Default: one of
    /// entra-client's own, with timeouts and no redirects.
    pub authority_http_client: Option<reqwest::Client>,
    /// Timeout of each call to the API (default 10 seconds).
    pub api_timeout: Duration,
}

impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("authority_host", &self.authority_host)
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("federated_token_file", &self.federated_token_file)
            .field(
                "managed_identity_assertion",
                &self.managed_identity_assertion,
            )
            .field("public_base_url", &self.public_base_url)
            .field("api_base_url", &self.api_base_url)
            .field("api_scopes", &self.api_scopes)
            .field("session_backend", &self.session_backend)
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("session_idle_timeout", &self.session_idle_timeout)
            .field("session_lifetime", &self.session_lifetime)
            .field("sign_in_timeout", &self.sign_in_timeout)
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// A web app signing users in to `tenant` as `client_id`, with every
    /// other setting at its default (sessions in `./data/web/sessions.db`).
    pub fn new(
        authority_host: impl Into<String>,
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        WebConfig {
            authority_host: authority_host.into(),
            tenant: tenant.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            federated_token_file: None,
            managed_identity_assertion: None,
            public_base_url: demo::PUBLIC_BASE_URL.to_owned(),
            api_base_url: demo::API_BASE_URL.to_owned(),
            api_scopes: default_scopes(),
            session_backend: SessionBackend::Sqlite(PathBuf::from("data/web/sessions.db")),
            redis_key_prefix: "demo-web:".to_owned(),
            allow_insecure_http: false,
            session_idle_timeout: Duration::from_secs(8 * 3600),
            session_lifetime: Duration::from_secs(24 * 3600),
            sign_in_timeout: Duration::from_secs(600),
            clock: Clock::system(),
            authority_http_client: None,
            api_timeout: Duration::from_secs(10),
        }
    }

    /// The Heroes Web app of the emulator's demo directory, its users
    /// signed in by the emulator at `authority_host` (for example
    /// `http://localhost:9000`).
    pub fn demo(authority_host: impl Into<String>) -> Self {
        Self::new(
            authority_host,
            demo::TENANT_ID,
            demo::CLIENT_ID,
            demo::CLIENT_SECRET,
        )
    }

    /// `{public base URL}/auth/callback`.
    pub fn redirect_uri(&self) -> Result<String, Error> {
        Ok(format!(
            "{}/auth/callback",
            self.base()?.trim_end_matches('/')
        ))
    }

    /// `{public base URL}/`: where the identity provider returns after
    /// sign-out (register it as a redirect URI or the logout URL).
    pub fn post_logout_redirect_uri(&self) -> Result<String, Error> {
        Ok(format!("{}/", self.base()?.trim_end_matches('/')))
    }

    /// Whether browsers reach the app over `https` (then cookies are `Secure`).
    pub fn is_https(&self) -> bool {
        self.public_base_url
            .trim()
            .to_ascii_lowercase()
            .starts_with("https://")
    }

    /// The public base URL, checked: absolute `http(s)`, no query, no
    /// fragment, no path other than `/`.
    fn base(&self) -> Result<String, Error> {
        let url = Url::parse(self.public_base_url.trim()).map_err(|e| {
            Error::Config(format!(
                "the public base URL {:?} is not a URL: {e}",
                self.public_base_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(Error::Config(format!(
                "the public base URL {:?} must be an http:// or https:// URL",
                self.public_base_url
            )));
        }
        if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
            return Err(Error::Config(format!(
                "the public base URL {:?} may have neither a path, a query nor a fragment",
                self.public_base_url
            )));
        }
        Ok(url.as_str().trim_end_matches('/').to_owned())
    }

    /// The public origin (`scheme://host[:port]`), what an `Origin` header
    /// of this site's own forms says.
    pub(crate) fn origin(&self) -> Result<String, Error> {
        self.base()
    }

    /// The API's base URL, checked.
    pub(crate) fn api_base(&self) -> Result<Url, Error> {
        let text = format!("{}/", self.api_base_url.trim().trim_end_matches('/'));
        let url = Url::parse(&text).map_err(|e| {
            Error::Config(format!(
                "the API base URL {:?} is not a URL: {e}",
                self.api_base_url
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
            return Err(Error::Config(format!(
                "the API base URL {:?} must be an http:// or https:// URL",
                self.api_base_url
            )));
        }
        Ok(url)
    }

    /// Checks every setting that can be checked without the network.
    pub(crate) fn check(&self) -> Result<(), Error> {
        self.base()?;
        self.api_base()?;
        let chosen = [
            !self.client_secret.is_empty(),
            self.federated_token_file.is_some(),
            self.managed_identity_assertion.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count();
        match chosen {
            0 => {
                return Err(Error::Config(
                    "the client secret is empty (and neither a federated token file nor a managed identity is set)".into(),
                ));
            }
            1 => {}
            _ => {
                return Err(Error::Config(
                    "more than one of a client secret, a federated token file and a managed identity is set: set one".into(),
                ));
            }
        }
        if let Some(file) = &self.federated_token_file
            && let Err(e) = std::fs::metadata(file)
        {
            return Err(Error::Config(format!(
                "cannot read the federated token file {}: {e}",
                file.display()
            )));
        }
        if self.api_scopes.iter().all(|s| is_oidc_scope(s)) {
            return Err(Error::Config(
                "no API scope is configured: the app would have nothing to call the API with"
                    .into(),
            ));
        }
        let positive = |d: Duration, what: &str| {
            if d.is_zero() {
                Err(Error::Config(format!(
                    "the {what} must be longer than zero"
                )))
            } else {
                Ok(())
            }
        };
        positive(self.session_idle_timeout, "session idle timeout")?;
        positive(self.session_lifetime, "session lifetime")?;
        positive(self.sign_in_timeout, "sign-in timeout")?;
        positive(self.api_timeout, "API timeout")?;
        if let SessionBackend::Redis(url) = &self.session_backend
            && !["redis://", "rediss://", "redis+unix://", "unix://"]
                .iter()
                .any(|scheme| url.starts_with(scheme))
        {
            return Err(Error::Config(
                "the Redis URL must start with redis:// or rediss://".into(),
            ));
        }
        Ok(())
    }

    /// The API scopes without the OpenID Connect ones.
    pub(crate) fn resource_scopes(&self) -> Vec<String> {
        self.api_scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .filter(|s| !is_oidc_scope(s))
            .map(str::to_owned)
            .collect()
    }
}

/// `Heroes.Read`, `Heroes.Write`, `Heroes.Delete` of the demo API, and the
/// OpenID Connect scopes.
pub fn default_scopes() -> Vec<String> {
    let mut scopes: Vec<String> = ["Heroes.Read", "Heroes.Write", "Heroes.Delete"]
        .iter()
        .map(|s| format!("{}/{s}", demo::API_APP_ID_URI))
        .collect();
    scopes.extend(["openid", "profile", "offline_access"].map(str::to_owned));
    scopes
}

fn is_oidc_scope(scope: &str) -> bool {
    ["openid", "profile", "offline_access", "email"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scope.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid() {
        let config = WebConfig::demo("http://localhost:9000");
        assert!(config.check().is_ok());
        assert_eq!(
            config.redirect_uri().ok().as_deref(),
            Some("http://localhost:8000/auth/callback")
        );
        assert_eq!(
            config.post_logout_redirect_uri().ok().as_deref(),
            Some("http://localhost:8000/")
        );
        assert!(!config.is_https());
        assert_eq!(config.resource_scopes().len(), 3);
        assert!(!format!("{config:?}").contains(demo::CLIENT_SECRET));
    }

    #[test]
    fn bad_base_urls_are_refused() {
        for base in [
            "localhost:8000",
            "ftp://x",
            "http://x/app",
            "http://x/?q",
            "http://x/#f",
        ] {
            let mut config = WebConfig::demo("http://localhost:9000");
            config.public_base_url = base.into();
            assert!(config.check().is_err(), "{base}");
        }
        let mut config = WebConfig::demo("http://localhost:9000");
        config.public_base_url = "https://heroes.example.com/".into();
        assert!(config.is_https());
        assert_eq!(
            config.redirect_uri().ok().as_deref(),
            Some("https://heroes.example.com/auth/callback")
        );
    }

    #[test]
    fn scopes_and_secrets_are_required() {
        let mut config = WebConfig::demo("http://localhost:9000");
        config.api_scopes = vec!["openid".into(), "profile".into()];
        assert!(config.check().is_err());
        let mut config = WebConfig::demo("http://localhost:9000");
        config.client_secret.clear();
        assert!(config.check().is_err());
        let mut config = WebConfig::demo("http://localhost:9000");
        config.session_backend = SessionBackend::Redis("localhost:6379".into());
        assert!(config.check().is_err());
    }
}
