//! What a [`Validator`](crate::Validator) accepts: authority, tenants,
//! audiences, token versions, clock skew, client applications, limits.
//!
//! The library reads no environment variable and no file: a binary loads its
//! settings and hands typed values to [`AuthConfig::builder`].

use std::collections::HashSet;
use std::time::Duration;

use url::Url;

use entra_core::{Clock, is_guid};

use crate::Error;

/// Microsoft Entra ID's global authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// Which access-token versions are accepted (`ver` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenVersions {
    /// Only v1.0 tokens (`https://sts.windows.net/{tid}/` issuer).
    V1,
    /// Only v2.0 tokens (`https://login.microsoftonline.com/{tid}/v2.0` issuer).
    V2,
    /// Both (the default): the API registration's `accessTokenAcceptedVersion`
    /// decides which one clients get.
    #[default]
    Both,
}

impl TokenVersions {
    pub(crate) fn v1(self) -> bool {
        matches!(self, TokenVersions::V1 | TokenVersions::Both)
    }
    pub(crate) fn v2(self) -> bool {
        matches!(self, TokenVersions::V2 | TokenVersions::Both)
    }
}

/// The claim that carries a delegated token's scopes.
///
/// Entra ID puts them in `scp`; other OpenID Connect providers (RFC 9068
/// JWT access tokens, panva's oidc-provider, Keycloak, Auth0) put them in
/// `scope`. With [`ScopeClaim::Scope`] the `scope` claim is read in place
/// of `scp` (a `scp` claim is then ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScopeClaim {
    /// `scp` (Entra ID; the default).
    #[default]
    Scp,
    /// `scope` (space-separated, as RFC 9068 defines it).
    Scope,
}

impl ScopeClaim {
    /// The claim's name: `scp` or `scope`.
    pub fn name(self) -> &'static str {
        match self {
            ScopeClaim::Scp => "scp",
            ScopeClaim::Scope => "scope",
        }
    }

    /// Moves the configured claim into the slot the rules and the principal read.
    pub(crate) fn apply(self, claims: &mut entra_core::claims::Claims<'_>) {
        if self == ScopeClaim::Scope {
            claims.scp = claims.scope.take();
        }
    }
}

impl std::str::FromStr for ScopeClaim {
    type Err = Error;

    /// `scp` or `scope`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim() {
            "scp" => Ok(ScopeClaim::Scp),
            "scope" => Ok(ScopeClaim::Scope),
            other => Err(Error::Config(format!(
                "the scope claim {other:?} is neither scp nor scope"
            ))),
        }
    }
}

/// Which tenants' tokens a multi-tenant API accepts.
pub(crate) use entra_core::rules::Tenants as TenantPolicy;

/// Where the keys and issuers come from.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// Entra ID: the v2 and/or v1 metadata documents of `{host}/{tenant}`.
    Entra { host: Url, tenant: String },
    /// Any OpenID Connect provider: one discovery document.
    Oidc {
        discovery_url: Url,
        issuer: Option<String>,
    },
    /// Fixed issuers and key set, no network (pinned keys, tests).
    Static {
        v2_issuer: Option<String>,
        v1_issuer: Option<String>,
        jwks: String,
    },
}

/// A validated configuration. Build one with [`AuthConfig::builder`].
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub(crate) source: Source,
    pub(crate) tenants: TenantPolicy,
    pub(crate) audiences: Vec<String>,
    pub(crate) versions: TokenVersions,
    pub(crate) clock_skew: i64,
    pub(crate) allowed_clients: Option<HashSet<String>>,
    pub(crate) max_token_size: usize,
    pub(crate) allow_insecure_http: bool,
    pub(crate) allow_acl_tokens: bool,
    pub(crate) refresh_interval: Duration,
    pub(crate) min_refresh_interval: Duration,
    pub(crate) fetch_timeout: Duration,
    pub(crate) clock: Clock,
    pub(crate) entra_claims: bool,
    /// `(max entries, max bytes)` of the verified-token cache, or `None` (off).
    pub(crate) token_cache: Option<(usize, u64)>,
    pub(crate) scope_claim: ScopeClaim,
}

impl AuthConfig {
    /// Starts a configuration.
    ///
    /// ```
    /// use entra_auth::AuthConfig;
    ///
    /// let config = AuthConfig::builder()
    ///     .tenant("contoso.onmicrosoft.com")
    ///     .client_id("6e74172b-be56-4843-9ff4-e66a39bb12e3")
    ///     .build()?;
    /// # Ok::<(), entra_auth::Error>(())
    /// ```
    pub fn builder() -> AuthConfigBuilder {
        AuthConfigBuilder::default()
    }

    /// The audiences a token's `aud` may name.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
}

/// Builds an [`AuthConfig`]; see each method for its default.
#[derive(Debug, Clone)]
pub struct AuthConfigBuilder {
    authority_host: String,
    tenant: Option<String>,
    oidc: Option<(String, Option<String>)>,
    static_keys: Option<(Option<String>, Option<String>, String)>,
    client_id: Option<String>,
    extra_audiences: Vec<String>,
    allowed_tenants: Option<HashSet<String>>,
    any_tenant: bool,
    versions: TokenVersions,
    clock_skew: Duration,
    allowed_clients: Option<HashSet<String>>,
    max_token_size: usize,
    allow_insecure_http: bool,
    allow_acl_tokens: bool,
    refresh_interval: Duration,
    min_refresh_interval: Duration,
    fetch_timeout: Duration,
    clock: Clock,
    token_cache: Option<(usize, u64)>,
    scope_claim: ScopeClaim,
}

impl Default for AuthConfigBuilder {
    fn default() -> Self {
        AuthConfigBuilder {
            authority_host: DEFAULT_AUTHORITY_HOST.to_owned(),
            tenant: None,
            oidc: None,
            static_keys: None,
            client_id: None,
            extra_audiences: Vec::new(),
            allowed_tenants: None,
            any_tenant: false,
            versions: TokenVersions::Both,
            clock_skew: Duration::from_secs(300),
            allowed_clients: None,
            max_token_size: 16 * 1024,
            allow_insecure_http: false,
            allow_acl_tokens: false,
            refresh_interval: Duration::from_secs(3600),
            min_refresh_interval: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(10),
            clock: Clock::system(),
            token_cache: Some((100_000, 256 * 1024 * 1024)),
            scope_claim: ScopeClaim::Scp,
        }
    }
}

impl AuthConfigBuilder {
    /// The authority host (default `https://login.microsoftonline.com`; the
    /// emulator, a sovereign cloud, or `https://{tenant}.ciamlogin.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into();
        self
    }

    /// The tenant: a GUID, a verified domain, or `organizations` / `common` for
    /// a multi-tenant API (which then needs [`allowed_tenants`](Self::allowed_tenants)
    /// or [`any_tenant`](Self::any_tenant)).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The API's own application (client) id. Tokens whose `aud` is this id or
    /// `api://{id}` are accepted.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Another accepted audience (a custom App ID URI). May be repeated.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.extra_audiences.push(audience.into());
        self
    }

    /// Multi-tenant: accept tokens from these tenant ids only.
    pub fn allowed_tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_tenants = Some(tenants.into_iter().map(Into::into).collect());
        self
    }

    /// Multi-tenant: accept tokens from any tenant. An explicit choice, never a default.
    pub fn any_tenant(mut self) -> Self {
        self.any_tenant = true;
        self
    }

    /// Which token versions to accept (default both).
    pub fn versions(mut self, versions: TokenVersions) -> Self {
        self.versions = versions;
        self
    }

    /// Tolerance for `exp`, `nbf` and `iat` (default 5 minutes, as Microsoft's libraries).
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// Accept only tokens obtained by these client applications (`azp` / `appid`),
    /// like flask-azure-oauth's `AZURE_OAUTH_CLIENT_APPLICATION_IDS`.
    /// Others are answered `403`.
    pub fn allowed_client_apps<I, S>(mut self, clients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_clients = Some(clients.into_iter().map(Into::into).collect());
        self
    }

    /// The largest token accepted, in bytes (default 16 KiB). Larger
    /// `Authorization` headers are answered `431` before any parsing.
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// Allow an `http` authority on a non-loopback host. Loopback hosts (the
    /// emulator, tests) are always allowed; anything else must be `https`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Accept tokens with neither `scp` nor `roles` (Microsoft.Identity.Web's
    /// `AllowWebApiToBeAuthorizedByACL`). Off by default: such a token is most
    /// likely an ID token presented as an access token.
    pub fn allow_acl_tokens(mut self, allow: bool) -> Self {
        self.allow_acl_tokens = allow;
        self
    }

    /// Background refresh interval of the keys (default 1 hour, as Microsoft
    /// advises for custom validators).
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Minimum time between two refreshes caused by an unknown `kid`
    /// (default 5 minutes, as Microsoft advises).
    pub fn min_refresh_interval(mut self, interval: Duration) -> Self {
        self.min_refresh_interval = interval;
        self
    }

    /// Timeout of each metadata or key-set fetch (default 10 seconds).
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// The clock used to check `exp`, `nbf` and `iat` (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Turns the verified-token cache on (the default) or off. A cached token
    /// skips signature verification; every hit still re-checks `exp` and that
    /// its signing key is published.
    pub fn token_cache(mut self, enabled: bool) -> Self {
        self.token_cache = match (enabled, self.token_cache) {
            (false, _) => None,
            (true, Some(limits)) => Some(limits),
            (true, None) => Some((100_000, 256 * 1024 * 1024)),
        };
        self
    }

    /// Bounds of the verified-token cache: at most `max_entries` tokens and
    /// about `max_bytes` of memory (defaults: 100,000 and 256 MiB). Each
    /// entry counts an estimate that bounds what it holds even for a token
    /// made of `groups` (2.5 times the token's length, plus 512 bytes), so
    /// typical tokens of 1.1–1.5 KB fill 256 MiB at about 63,000–80,000
    /// entries; a typical entry takes about 2.1 KB for a 1.1 KB token.
    pub fn token_cache_limits(mut self, max_entries: usize, max_bytes: u64) -> Self {
        self.token_cache = Some((max_entries, max_bytes));
        self
    }

    /// Generic OpenID Connect: any provider's discovery document
    /// (`…/.well-known/openid-configuration`). Tokens are checked against its
    /// `issuer` and `jwks_uri`; Entra-specific claim rules (`ver`, `tid`, `oid`)
    /// are not applied. If `expected_issuer` is given, a discovery document that
    /// names another issuer is refused.
    pub fn oidc_discovery(
        mut self,
        discovery_url: impl Into<String>,
        expected_issuer: Option<String>,
    ) -> Self {
        self.oidc = Some((discovery_url.into(), expected_issuer));
        self
    }

    /// The claim that carries the scopes (default [`ScopeClaim::Scp`], as
    /// Entra ID does); [`ScopeClaim::Scope`] for providers that follow
    /// RFC 9068, usually with [`oidc_discovery`](Self::oidc_discovery).
    pub fn scope_claim(mut self, claim: ScopeClaim) -> Self {
        self.scope_claim = claim;
        self
    }

    /// Fixed issuers and key set (a JWKS document), with no network at all.
    /// For pinned keys and tests; the `testing` feature builds these for you.
    pub fn static_keys(
        mut self,
        v2_issuer: Option<String>,
        v1_issuer: Option<String>,
        jwks_json: impl Into<String>,
    ) -> Self {
        self.static_keys = Some((v2_issuer, v1_issuer, jwks_json.into()));
        self
    }

    /// Checks the configuration and builds it.
    pub fn build(self) -> Result<AuthConfig, Error> {
        let client_id = self
            .client_id
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| Error::Config("the API's client id is required".into()))?;
        let mut audiences = vec![client_id.clone(), format!("api://{client_id}")];
        for aud in self.extra_audiences {
            if !audiences.contains(&aud) {
                audiences.push(aud);
            }
        }

        let multi_tenant = matches!(
            self.tenant
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("common" | "organizations")
        );
        let tenants = if self.any_tenant {
            TenantPolicy::Any
        } else if let Some(allowed) = self.allowed_tenants {
            let allowed: HashSet<String> = allowed
                .into_iter()
                .map(|t| t.to_ascii_lowercase())
                .collect();
            if let Some(bad) = allowed.iter().find(|t| !is_guid(t)) {
                return Err(Error::Config(format!(
                    "allowed tenant {bad:?} is not a tenant id (GUID)"
                )));
            }
            TenantPolicy::Allowed(allowed)
        } else if multi_tenant {
            return Err(Error::Config(
                "a multi-tenant authority (common / organizations) needs allowed_tenants(...) or any_tenant()"
                    .into(),
            ));
        } else {
            TenantPolicy::Single
        };
        if !multi_tenant
            && tenants != TenantPolicy::Single
            && self.oidc.is_none()
            && self.static_keys.is_none()
        {
            return Err(Error::Config(
                "allowed_tenants / any_tenant need the common or organizations authority".into(),
            ));
        }

        let (source, entra_claims) = match (self.static_keys, self.oidc, self.tenant) {
            (Some((v2_issuer, v1_issuer, jwks)), None, _) => {
                if v2_issuer.is_none() && v1_issuer.is_none() {
                    return Err(Error::Config("static keys need at least one issuer".into()));
                }
                (
                    Source::Static {
                        v2_issuer,
                        v1_issuer,
                        jwks,
                    },
                    true,
                )
            }
            (None, Some((url, issuer)), _) => {
                let url = parse_url(&url, "discovery URL", self.allow_insecure_http)?;
                (
                    Source::Oidc {
                        discovery_url: url,
                        issuer,
                    },
                    false,
                )
            }
            (None, None, Some(tenant)) => {
                let tenant = tenant.trim().to_owned();
                if !entra_core::authority::is_tenant(&tenant) {
                    return Err(Error::Config(format!(
                        "tenant {tenant:?} is neither a GUID, a domain, common, organizations nor consumers"
                    )));
                }
                let host = parse_url(
                    &self.authority_host,
                    "authority host",
                    self.allow_insecure_http,
                )?;
                (Source::Entra { host, tenant }, true)
            }
            (None, None, None) => {
                return Err(Error::Config(
                    "a tenant (or a discovery URL) is required".into(),
                ));
            }
            (Some(_), Some(_), _) => {
                return Err(Error::Config(
                    "choose static keys or OIDC discovery, not both".into(),
                ));
            }
        };
        if self.max_token_size < 64 {
            return Err(Error::Config("max_token_size is too small".into()));
        }
        Ok(AuthConfig {
            source,
            tenants,
            audiences,
            versions: self.versions,
            clock_skew: i64::try_from(self.clock_skew.as_secs()).unwrap_or(i64::MAX),
            allowed_clients: self.allowed_clients,
            max_token_size: self.max_token_size,
            allow_insecure_http: self.allow_insecure_http,
            allow_acl_tokens: self.allow_acl_tokens,
            refresh_interval: self.refresh_interval.max(Duration::from_secs(1)),
            min_refresh_interval: self.min_refresh_interval,
            fetch_timeout: self.fetch_timeout,
            clock: self.clock,
            entra_claims,
            token_cache: self.token_cache,
            scope_claim: self.scope_claim,
        })
    }
}

/// Parses an authority-side URL and applies the https rule.
pub(crate) fn parse_url(raw: &str, what: &str, allow_insecure_http: bool) -> Result<Url, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("{what} {raw:?} is not a URL: {e}")))?;
    check_scheme(&url, allow_insecure_http).map_err(|e| Error::Config(format!("{what}: {e}")))?;
    Ok(url)
}

/// `https` always; `http` only for loopback hosts or with the explicit opt-in.
pub(crate) fn check_scheme(url: &Url, allow_insecure_http: bool) -> Result<(), String> {
    entra_core::authority::check_scheme(url, allow_insecure_http).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";

    #[test]
    fn audiences_include_the_app_id_uri() {
        let c = AuthConfig::builder()
            .tenant("contoso.onmicrosoft.com")
            .client_id(CLIENT)
            .build();
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.audiences(),
            [CLIENT.to_owned(), format!("api://{CLIENT}")]
        );
    }

    #[test]
    fn multi_tenant_needs_an_explicit_tenant_policy() {
        let err = AuthConfig::builder()
            .tenant("organizations")
            .client_id(CLIENT)
            .build();
        assert!(matches!(err, Err(Error::Config(_))));
        let ok = AuthConfig::builder()
            .tenant("common")
            .client_id(CLIENT)
            .any_tenant()
            .build();
        assert!(ok.is_ok());
    }

    #[test]
    fn http_is_only_for_loopback_or_with_opt_in() {
        let base = || {
            AuthConfig::builder()
                .tenant("contoso.onmicrosoft.com")
                .client_id(CLIENT)
        };
        assert!(
            base()
                .authority_host("http://login.example.com")
                .build()
                .is_err()
        );
        assert!(
            base()
                .authority_host("http://127.0.0.1:9000")
                .build()
                .is_ok()
        );
        assert!(
            base()
                .authority_host("http://localhost:9000")
                .build()
                .is_ok()
        );
        assert!(base().authority_host("http://[::1]:9000").build().is_ok());
        assert!(
            base()
                .authority_host("http://login.example.com")
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(
            base()
                .authority_host("ftp://login.example.com")
                .build()
                .is_err()
        );
    }

    #[test]
    fn client_id_and_tenant_are_required() {
        assert!(
            AuthConfig::builder()
                .tenant("contoso.onmicrosoft.com")
                .build()
                .is_err()
        );
        assert!(AuthConfig::builder().client_id(CLIENT).build().is_err());
        assert!(
            AuthConfig::builder()
                .tenant("not a tenant")
                .client_id(CLIENT)
                .build()
                .is_err()
        );
    }
}
