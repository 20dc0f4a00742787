//! Building a client: authority, client id, redirect URI, credential, HTTP
//! client, token cache, clock.
//!
//! The library reads no environment variable: a binary loads its settings
//! (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`,
//! `AZURE_AUTHORITY_HOST` by the Azure SDK's names) and hands them to
//! [`Client::builder`](crate::Client::builder), or passes its environment
//! as a lookup function
//! ([`EnvironmentSettings::from_lookup`](crate::EnvironmentSettings::from_lookup)).
//! The only files it reads are those it is handed: a federated token file
//! ([`ClientAssertion::from_file`](crate::ClientAssertion::from_file)), and
//! the chain's `AZURE_CLIENT_CERTIFICATE_PATH`.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::Error;
use crate::cache::TokenCache;
use crate::client::{Client, ConfidentialClient};
use crate::credential::ClientCredential;
use crate::store::Store;
use entra_core::is_guid;

/// Microsoft Entra ID's global authority host.
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// The clock cached tokens are judged by (shared with `entra-auth`'s
/// validators, so both read one time).
pub use entra_core::Clock;

/// The validated settings a client runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) client_id: String,
    /// As configured, lower-cased (a GUID, a domain, `organizations`...).
    pub(crate) tenant: String,
    /// `{host}/{tenant}`, no trailing slash.
    pub(crate) authority: Url,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) expected_issuer: Option<String>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) expiry_margin: i64,
    pub(crate) authorization_lifetime: i64,
    pub(crate) clock: Clock,
}

impl Settings {
    /// `{authority}/{path}`.
    pub(crate) fn authority_url(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.authority.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }

    /// Checks an endpoint URL the identity provider named.
    pub(crate) fn check_endpoint(&self, raw: &str) -> Result<Url, String> {
        let url = Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
        check_scheme(&url, self.allow_insecure_http)?;
        Ok(url)
    }
}

/// Builds a [`Client`] or a [`ConfidentialClient`]; see each method for its
/// default.
#[derive(Debug)]
pub struct ClientBuilder {
    tenant: String,
    client_id: String,
    authority_host: String,
    redirect_uri: Option<String>,
    expected_issuer: Option<String>,
    allow_insecure_http: bool,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
    timeout: Duration,
    cache: Option<TokenCache>,
    expiry_margin: Duration,
    authorization_lifetime: Duration,
    clock: Clock,
}

impl ClientBuilder {
    pub(crate) fn new(tenant: String, client_id: String) -> Self {
        ClientBuilder {
            tenant,
            client_id,
            authority_host: DEFAULT_AUTHORITY_HOST.to_owned(),
            redirect_uri: None,
            expected_issuer: None,
            allow_insecure_http: false,
            http: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            cache: None,
            expiry_margin: Duration::from_secs(300),
            authorization_lifetime: Duration::from_secs(600),
            clock: Clock::system(),
        }
    }

    /// The authority host (default `https://login.microsoftonline.com`; the
    /// emulator, a sovereign cloud, `https://{tenant}.ciamlogin.com`).
    pub fn authority_host(mut self, host: impl Into<String>) -> Self {
        self.authority_host = host.into();
        self
    }

    /// The redirect URI authorization requests use unless they name another
    /// (it must be registered for the application, exactly).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The issuer the authority's metadata document must name, exactly
    /// (e.g. `https://login.microsoftonline.com/{tenant id}/v2.0`). Without
    /// it, a tenant configured by id must appear in the issuer; a document
    /// naming another issuer is refused either way.
    pub fn expected_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.expected_issuer = Some(issuer.into());
        self
    }

    /// Allows a plain-`http` authority on a non-loopback host. Loopback hosts
    /// (the emulator, tests) are always allowed; anything else must be `https`.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// The HTTP client to use (to trust the emulator's certificate
    /// authority, or to go through a proxy). Give it timeouts and no
    /// redirects: the client relies on it. Default: a client of its own with
    /// the [timeouts](Self::timeouts).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Connect and total timeouts of the client's own HTTP client (default
    /// 10 and 30 seconds). Ignored with [`http_client`](Self::http_client).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
    }

    /// Where tokens are kept (default: in memory, for this process only).
    pub fn token_store(mut self, store: impl Store + 'static) -> Self {
        self.cache = Some(TokenCache::new(Arc::new(store)));
        self
    }

    /// A token cache shared with other clients (keys name the client id).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// A cached access token is used only while it stays valid for more than
    /// this margin; else it is refreshed (default 5 minutes).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// How long a pending authorization may wait for its callback (default
    /// 10 minutes, as an authorization code's own lifetime).
    pub fn authorization_lifetime(mut self, lifetime: Duration) -> Self {
        self.authorization_lifetime = lifetime;
        self
    }

    /// The clock used for token expiry, pending authorizations and ID-token
    /// lifetimes (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds a public client (no credential): device code, authorization
    /// code with PKCE, refresh.
    pub fn build(self) -> Result<Client, Error> {
        Client::from_parts(self.into_parts()?, None)
    }

    /// Builds a confidential client authenticating with `credential`: every
    /// flow of a public client, plus client credentials and on-behalf-of.
    pub fn build_confidential(
        self,
        credential: ClientCredential,
    ) -> Result<ConfidentialClient, Error> {
        Ok(ConfidentialClient::new(Client::from_parts(
            self.into_parts()?,
            Some(credential),
        )?))
    }

    fn into_parts(self) -> Result<Parts, Error> {
        let client_id = self.client_id.trim().to_ascii_lowercase();
        if !is_guid(&client_id) {
            return Err(Error::Config(format!(
                "the client id {:?} is not an application (client) id GUID",
                self.client_id
            )));
        }
        let tenant = self.tenant.trim().to_ascii_lowercase();
        if !entra_core::authority::is_tenant(&tenant) {
            return Err(Error::Config(format!(
                "the tenant {:?} is neither a GUID, a domain, common, organizations nor consumers",
                self.tenant
            )));
        }
        let host = Url::parse(self.authority_host.trim()).map_err(|e| {
            Error::Config(format!(
                "the authority host {:?} is not a URL: {e}",
                self.authority_host
            ))
        })?;
        check_scheme(&host, self.allow_insecure_http).map_err(Error::Config)?;
        if host.query().is_some() || host.fragment().is_some() {
            return Err(Error::Config(
                "the authority host may not have a query or a fragment".into(),
            ));
        }
        let authority = Url::parse(&format!("{}/{tenant}", host.as_str().trim_end_matches('/')))
            .map_err(|e| Error::Config(format!("the authority is not a URL: {e}")))?;
        if let Some(uri) = &self.redirect_uri {
            check_redirect_uri(uri)?;
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .timeout(self.timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("entra-client/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(Parts {
            settings: Settings {
                client_id,
                tenant,
                authority,
                redirect_uri: self.redirect_uri,
                expected_issuer: self.expected_issuer,
                allow_insecure_http: self.allow_insecure_http,
                expiry_margin: secs(self.expiry_margin),
                authorization_lifetime: secs(self.authorization_lifetime),
                clock: self.clock,
            },
            host: host.as_str().trim_end_matches('/').to_owned(),
            http,
            cache: self.cache.unwrap_or_default(),
        })
    }
}

/// What a client is made of.
#[derive(Debug)]
pub(crate) struct Parts {
    pub(crate) settings: Settings,
    /// The authority host, no trailing slash.
    pub(crate) host: String,
    pub(crate) http: reqwest::Client,
    pub(crate) cache: TokenCache,
}

/// A redirect URI: absolute, no fragment (RFC 6749 §3.1.2).
pub(crate) fn check_redirect_uri(uri: &str) -> Result<(), Error> {
    let url = Url::parse(uri)
        .map_err(|e| Error::Config(format!("the redirect URI {uri:?} is not a URL: {e}")))?;
    if url.fragment().is_some() {
        return Err(Error::Config(format!(
            "the redirect URI {uri:?} may not have a fragment"
        )));
    }
    Ok(())
}

/// `https` always; `http` only for loopback hosts or with the explicit opt-in.
pub(crate) fn check_scheme(url: &Url, allow_insecure_http: bool) -> Result<(), String> {
    entra_core::authority::check_scheme(url, allow_insecure_http).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";

    fn builder() -> ClientBuilder {
        ClientBuilder::new("contoso.onmicrosoft.com".into(), CLIENT.into())
    }

    #[test]
    fn the_authority_is_host_and_tenant() {
        let parts = builder().into_parts().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            parts.settings.authority.as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com"
        );
        assert_eq!(
            parts.settings.authority_url("oauth2/v2.0/token"),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_or_with_the_switch() {
        assert!(
            builder()
                .authority_host("http://login.example.com")
                .into_parts()
                .is_err()
        );
        for host in [
            "http://127.0.0.1:9000",
            "http://localhost:9000/",
            "http://[::1]:9000",
        ] {
            assert!(
                builder().authority_host(host).into_parts().is_ok(),
                "{host}"
            );
        }
        assert!(
            builder()
                .authority_host("http://login.example.com")
                .allow_insecure_http(true)
                .into_parts()
                .is_ok()
        );
        assert!(
            builder()
                .authority_host("ftp://login.example.com")
                .into_parts()
                .is_err()
        );
    }

    #[test]
    fn client_ids_tenants_and_redirect_uris_are_checked() {
        assert!(
            ClientBuilder::new("contoso.onmicrosoft.com".into(), "not-a-guid".into())
                .into_parts()
                .is_err()
        );
        for tenant in [
            "common",
            "organizations",
            "consumers",
            CLIENT,
            "Contoso.OnMicrosoft.com",
        ] {
            assert!(
                ClientBuilder::new(tenant.into(), CLIENT.into())
                    .into_parts()
                    .is_ok(),
                "{tenant}"
            );
        }
        for tenant in ["", "a b", "../x", "contoso"] {
            assert!(
                ClientBuilder::new(tenant.into(), CLIENT.into())
                    .into_parts()
                    .is_err(),
                "{tenant}"
            );
        }
        assert!(builder().redirect_uri("/relative").into_parts().is_err());
        assert!(
            builder()
                .redirect_uri("http://localhost/cb#x")
                .into_parts()
                .is_err()
        );
    }
}
