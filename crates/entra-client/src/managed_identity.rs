//! Managed identity: tokens from the platform the code runs on, with no
//! credential at all.
//!
//! Two wire protocols, each Microsoft's:
//!
//! - **App Service / Container Apps / Functions** (api-version
//!   `2019-08-01`): `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=...`
//!   with the header `X-IDENTITY-HEADER: {IDENTITY_HEADER}`; a user-assigned
//!   identity is named by `client_id`, `principal_id` or `mi_res_id`. The
//!   answer's `expires_on` is seconds since the epoch, as a string.
//! - **IMDS**, the instance metadata service of virtual machines and scale
//!   sets (api-version `2018-02-01`): `GET
//!   http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=...`
//!   with `Metadata: true`; a user-assigned identity is named by
//!   `client_id`, `object_id` or `msi_res_id`. Every number in the answer is
//!   a string. 404, 408, 410, 429 and 5xx answers are retried with
//!   exponential back-off ([`RetryPolicy`]); a 410 (IMDS being upgraded) for
//!   at least 70 seconds in all, as Microsoft's guidance says.
//!
//! The endpoint is configurable ([`ManagedIdentitySource`]), so that tests
//! and the local emulator can serve it. Tokens are cached and renewed before
//! they expire; concurrent requests for one resource make one call. The
//! `X-IDENTITY-HEADER` value and the tokens never appear in a `Debug`
//! output, an error or a log line.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

use crate::Error;
use crate::cache::{Owner, TokenCache};
use crate::client::cached;
use crate::config::Clock;
use crate::protocol::number_or_string;
use crate::token::AccessToken;
use crate::util::{read_body, transport_error};

/// IMDS's token endpoint.
pub const IMDS_ENDPOINT: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
/// IMDS's API version.
const IMDS_API_VERSION: &str = "2018-02-01";
/// The App Service protocol's API version.
const APP_SERVICE_API_VERSION: &str = "2019-08-01";

/// Which managed identity: the system-assigned one, or a user-assigned one
/// named by its client id, object (principal) id or Azure resource id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ManagedIdentityId {
    /// The resource's system-assigned identity (no selector sent).
    #[default]
    SystemAssigned,
    /// A user-assigned identity by its client (application) id.
    ClientId(String),
    /// A user-assigned identity by its object (principal) id.
    ObjectId(String),
    /// A user-assigned identity by its Azure resource id
    /// (`/subscriptions/.../Microsoft.ManagedIdentity/userAssignedIdentities/...`).
    ResourceId(String),
}

impl ManagedIdentityId {
    /// The query parameter selecting the identity, under each protocol's name.
    fn parameter(&self, kind: Kind) -> Option<(&'static str, &str)> {
        match (self, kind) {
            (ManagedIdentityId::SystemAssigned, _) => None,
            (ManagedIdentityId::ClientId(id), _) => Some(("client_id", id)),
            (ManagedIdentityId::ObjectId(id), Kind::Imds) => Some(("object_id", id)),
            (ManagedIdentityId::ObjectId(id), Kind::AppService) => Some(("principal_id", id)),
            (ManagedIdentityId::ResourceId(id), Kind::Imds) => Some(("msi_res_id", id)),
            (ManagedIdentityId::ResourceId(id), Kind::AppService) => Some(("mi_res_id", id)),
        }
    }

    /// The cache's name for the identity.
    fn cache_name(&self) -> String {
        match self {
            ManagedIdentityId::SystemAssigned => "system".to_owned(),
            ManagedIdentityId::ClientId(id) => format!("client_id={}", id.to_ascii_lowercase()),
            ManagedIdentityId::ObjectId(id) => format!("object_id={}", id.to_ascii_lowercase()),
            ManagedIdentityId::ResourceId(id) => format!("resource_id={}", id.to_ascii_lowercase()),
        }
    }
}

/// Which protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    AppService,
    Imds,
}

/// Where managed identity tokens come from: an App Service-style endpoint
/// (`IDENTITY_ENDPOINT` and `IDENTITY_HEADER`) or IMDS.
#[derive(Clone)]
pub struct ManagedIdentitySource {
    kind: Kind,
    endpoint: Url,
    /// The `X-IDENTITY-HEADER` value (App Service).
    header: Option<Arc<str>>,
}

impl ManagedIdentitySource {
    /// IMDS at its well-known address.
    pub fn imds() -> Self {
        ManagedIdentitySource {
            kind: Kind::Imds,
            endpoint: Url::parse(IMDS_ENDPOINT).unwrap_or_else(|_| unreachable!()),
            header: None,
        }
    }

    /// IMDS's protocol at another URL (the emulator's
    /// `{host}/metadata/identity/oauth2/token`, a test server).
    pub fn imds_at(endpoint: &str) -> Result<Self, Error> {
        Ok(ManagedIdentitySource {
            kind: Kind::Imds,
            endpoint: parse_endpoint(endpoint, "the IMDS endpoint")?,
            header: None,
        })
    }

    /// The App Service protocol: `IDENTITY_ENDPOINT` and the
    /// `IDENTITY_HEADER` value sent as `X-IDENTITY-HEADER`.
    pub fn app_service(endpoint: &str, identity_header: impl Into<String>) -> Result<Self, Error> {
        let header = identity_header.into();
        if header.trim().is_empty() {
            return Err(Error::Config("IDENTITY_HEADER is empty".into()));
        }
        if header.chars().any(|c| c.is_control()) {
            return Err(Error::Config(
                "IDENTITY_HEADER holds control characters".into(),
            ));
        }
        Ok(ManagedIdentitySource {
            kind: Kind::AppService,
            endpoint: parse_endpoint(endpoint, "IDENTITY_ENDPOINT")?,
            header: Some(Arc::from(header.trim())),
        })
    }

    /// What the environment says, as azure-identity reads it:
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (both set) for App Service,
    /// Container Apps and Functions; else IMDS, at
    /// `{AZURE_POD_IDENTITY_AUTHORITY_HOST}/metadata/identity/oauth2/token`
    /// when that is set, at its well-known address otherwise. `lookup` is
    /// the environment (`|name| std::env::var(name).ok()`): the library
    /// reads no variable itself.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let (Some(endpoint), Some(header)) = (var("IDENTITY_ENDPOINT"), var("IDENTITY_HEADER")) {
            return ManagedIdentitySource::app_service(endpoint.trim(), header);
        }
        match var("AZURE_POD_IDENTITY_AUTHORITY_HOST") {
            Some(host) => ManagedIdentitySource::imds_at(&format!(
                "{}/metadata/identity/oauth2/token",
                host.trim().trim_end_matches('/')
            )),
            None => Ok(ManagedIdentitySource::imds()),
        }
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// Whether this is the App Service protocol (else IMDS).
    pub fn is_app_service(&self) -> bool {
        self.kind == Kind::AppService
    }

    fn name(&self) -> &'static str {
        match self.kind {
            Kind::AppService => "App Service",
            Kind::Imds => "IMDS",
        }
    }
}

impl fmt::Debug for ManagedIdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentitySource")
            .field("protocol", &self.name())
            .field("endpoint", &self.endpoint.as_str())
            .field(
                "identity_header",
                &self.header.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// A managed identity endpoint: a URL without query or fragment; plain
/// `http` only on loopback or link-local hosts (where the platform serves
/// it), `https` anywhere.
fn parse_endpoint(raw: &str, what: &str) -> Result<Url, Error> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::Config(format!("{what} {raw:?} is not a URL: {e}")))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "{what} {raw:?} may not have a query or a fragment"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_local(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "{what} {raw:?} is plain http on a host that is neither loopback nor link-local"
        ))),
        _ => Err(Error::Config(format!(
            "{what} {raw:?} is not http or https"
        ))),
    }
}

/// Loopback or link-local (IMDS's 169.254.169.254, App Service's 169.254.x).
fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_link_local(),
        Some(url::Host::Ipv6(ip)) => {
            IpAddr::V6(ip).is_loopback() || (ip.segments()[0] & 0xffc0) == 0xfe80
        }
        None => false,
    }
}

/// How IMDS and App Service answers that may pass are retried: exponential
/// back-off from `initial_delay`, doubling up to `max_delay`, at most
/// `max_retries` times; a 410 (IMDS being upgraded) is retried until at
/// least `gone_for` has passed since the first attempt, however many
/// retries that takes. A `Retry-After` of a 429 is honoured up to
/// `max_delay`.
///
/// Defaults follow Microsoft's guidance for IMDS: 3 retries from 1 second
/// (1, 2, 4 s), delays up to 10 seconds, 410 for 70 seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_delay: Duration,
    max_delay: Duration,
    gone_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
            gone_for: Duration::from_secs(70),
        }
    }
}

impl RetryPolicy {
    /// Microsoft's defaults (see the type).
    pub fn new() -> Self {
        RetryPolicy::default()
    }

    /// No retry at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            gone_for: Duration::ZERO,
            ..RetryPolicy::default()
        }
    }

    /// Retries of 404, 408, 429 and 5xx answers (default 3).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first delay (default 1 s); each next one is twice the last.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay (default 10 s).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How long 410 answers are retried, from the first attempt (default
    /// 70 s: IMDS is back within 70 seconds of an upgrade).
    pub fn gone_for(mut self, duration: Duration) -> Self {
        self.gone_for = duration;
        self
    }

    /// The delay before retry number `retry` (0 for the first).
    fn delay(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.min(31));
        self.initial_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Whether to retry after `retries` retries, `started` at the first
    /// attempt, an answer of `status`.
    fn again(&self, status: u16, retries: u32, started: Instant) -> bool {
        if status == 410 && started.elapsed() < self.gone_for {
            return true;
        }
        retries < self.max_retries
    }
}

/// Statuses worth retrying: IMDS's 404 (the identity is being set up, the
/// endpoint updating), 408, 410, 429 and 5xx. The App Service protocol
/// retries 408, 429 and 5xx.
fn retryable(kind: Kind, status: u16) -> bool {
    match status {
        408 | 429 | 500..=599 => true,
        404 | 410 => kind == Kind::Imds,
        _ => false,
    }
}

/// Whether the endpoint has answered once (a probe in a credential chain).
const UNKNOWN: u8 = 0;
const ANSWERED: u8 = 1;

/// Builds a [`ManagedIdentityCredential`]; see each method for its default.
#[derive(Debug)]
pub struct ManagedIdentityBuilder {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
    timeout: Duration,
    cache: Option<TokenCache>,
    expiry_margin: Duration,
    clock: Clock,
    probe_timeout: Option<Duration>,
}

impl ManagedIdentityBuilder {
    /// The endpoint (default: IMDS at its well-known address).
    pub fn source(mut self, source: ManagedIdentitySource) -> Self {
        self.source = source;
        self
    }

    /// Which identity (default: the system-assigned one).
    pub fn identity(mut self, id: ManagedIdentityId) -> Self {
        self.id = id;
        self
    }

    /// How failed answers are retried (default [`RetryPolicy::new`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The HTTP client (give it timeouts and no redirects). Default: one of
    /// its own with the [timeouts](Self::timeouts).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Connect and total timeouts of the credential's own HTTP client
    /// (default 10 and 30 seconds).
    pub fn timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.timeout = total;
        self
    }

    /// Where tokens are kept (default: in memory, for this process only).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// A cached token is used only while it stays valid for more than this
    /// margin (default 5 minutes).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// The clock tokens are judged by (default: the system clock).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Until IMDS has answered once, a request that gets no answer within
    /// `timeout` reports the managed identity unavailable
    /// ([`Error::CredentialUnavailable`]) instead of being retried, and so
    /// does IMDS's 400 (no such identity here): how a credential chain tells
    /// "not on Azure" from "IMDS is slow" (default: no probe;
    /// [`DefaultAzureCredential`](crate::DefaultAzureCredential) probes with
    /// 1 second). The App Service protocol is never probed: its endpoint is
    /// named by the environment.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = Some(timeout);
        self
    }

    /// Builds the credential.
    pub fn build(self) -> Result<ManagedIdentityCredential, Error> {
        match &self.id {
            ManagedIdentityId::ClientId(id)
            | ManagedIdentityId::ObjectId(id)
            | ManagedIdentityId::ResourceId(id)
                if id.trim().is_empty() =>
            {
                return Err(Error::Config(
                    "the user-assigned managed identity's id is empty".into(),
                ));
            }
            _ => {}
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
        Ok(ManagedIdentityCredential {
            inner: Arc::new(Inner {
                source: self.source,
                id: self.id,
                retry: self.retry,
                http,
                cache: self.cache.unwrap_or_default(),
                expiry_margin: i64::try_from(self.expiry_margin.as_secs()).unwrap_or(i64::MAX),
                clock: self.clock,
                probe_timeout: self.probe_timeout,
                state: AtomicU8::new(UNKNOWN),
            }),
        })
    }
}

/// Tokens for a managed identity (App Service, Container Apps, Functions,
/// virtual machines, AKS node identities), cached and renewed before they
/// expire. Cheap to clone; clones share the cache.
///
/// ```no_run
/// use entra_client::{ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource};
///
/// # async fn run() -> Result<(), entra_client::Error> {
/// let credential = ManagedIdentityCredential::builder()
///     .source(ManagedIdentitySource::from_lookup(|name| std::env::var(name).ok())?)
///     .identity(ManagedIdentityId::ClientId("a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d".into()))
///     .build()?;
/// let token = credential
///     .get_token(&["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default"])
///     .await?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ManagedIdentityCredential {
    inner: Arc<Inner>,
}

struct Inner {
    source: ManagedIdentitySource,
    id: ManagedIdentityId,
    retry: RetryPolicy,
    http: reqwest::Client,
    cache: TokenCache,
    expiry_margin: i64,
    clock: Clock,
    probe_timeout: Option<Duration>,
    state: AtomicU8,
}

impl fmt::Debug for ManagedIdentityCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityCredential")
            .field("source", &self.inner.source)
            .field("identity", &self.inner.id)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// A managed identity endpoint's token answer (IMDS: every number a
/// string; App Service: `expires_on` only).
#[derive(Deserialize)]
struct MiTokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_on: Option<i64>,
}

/// A managed identity endpoint's error answer: IMDS's OAuth shape
/// (`error`, `error_description`) or App Service's (`statusCode`,
/// `message`), or Azure's (`error: {code, message}`).
#[derive(Deserialize)]
struct MiErrorBody {
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "Message")]
    message_upper: Option<String>,
}

impl ManagedIdentityCredential {
    /// Starts building a credential.
    pub fn builder() -> ManagedIdentityBuilder {
        ManagedIdentityBuilder {
            source: ManagedIdentitySource::imds(),
            id: ManagedIdentityId::SystemAssigned,
            retry: RetryPolicy::default(),
            http: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            cache: None,
            expiry_margin: Duration::from_secs(300),
            clock: Clock::system(),
            probe_timeout: None,
        }
    }

    /// The endpoint this credential asks.
    pub fn source(&self) -> &ManagedIdentitySource {
        &self.inner.source
    }

    /// The identity it asks for.
    pub fn identity(&self) -> &ManagedIdentityId {
        &self.inner.id
    }

    /// A token for `scopes`: exactly one, `{resource}/.default` or the
    /// resource itself (`https://vault.azure.net`, `api://{app id}`).
    /// Cached; a token within the expiry margin is replaced. Concurrent
    /// calls make one request.
    pub async fn get_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<AccessToken, Error> {
        let resource = match scopes {
            [scope] => {
                let scope = scope.as_ref().trim();
                scope.strip_suffix("/.default").unwrap_or(scope).to_owned()
            }
            _ => {
                return Err(Error::Config(
                    "a managed identity token is for exactly one resource: one scope, {resource}/.default".into(),
                ));
            }
        };
        if resource.is_empty()
            || resource
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::Config(format!(
                "{resource:?} is not a resource for a managed identity token"
            )));
        }
        let inner = &self.inner;
        let identity = format!("msi.{}.{}", inner.source.name(), inner.id.cache_name());
        let key = TokenCache::access_key(
            &identity,
            inner.source.endpoint.as_str(),
            &Owner::ManagedIdentity,
            std::slice::from_ref(&resource),
        );
        if let Some(token) = self.cached(&key).await? {
            return Ok(token);
        }
        inner
            .cache
            .single_flight(&key, || async {
                if let Some(token) = self.cached(&key).await? {
                    return Ok(token);
                }
                let token = self.request(&resource).await?;
                inner.cache.put_access(&key, None, &cached(&token)).await;
                Ok(token)
            })
            .await
    }

    async fn cached(&self, key: &str) -> Result<Option<AccessToken>, Error> {
        let Some(entry) = self.inner.cache.get_access(key).await? else {
            return Ok(None);
        };
        if entry.expires_on.saturating_sub(self.inner.clock.now()) <= self.inner.expiry_margin {
            return Ok(None);
        }
        Ok(Some(AccessToken {
            secret: entry.secret,
            token_type: entry.token_type,
            expires_on: entry.expires_on,
            ext_expires_on: entry.ext_expires_on,
            scopes: entry.scopes,
            account: None,
            from_cache: true,
        }))
    }

    /// Asks the endpoint, retrying as the policy says.
    async fn request(&self, resource: &str) -> Result<AccessToken, Error> {
        let inner = &self.inner;
        let source = &inner.source;
        let url = source.endpoint.as_str();
        let (version, header) = match source.kind {
            Kind::AppService => (
                APP_SERVICE_API_VERSION,
                (
                    "X-IDENTITY-HEADER",
                    source.header.as_deref().unwrap_or_default(),
                ),
            ),
            Kind::Imds => (IMDS_API_VERSION, ("Metadata", "true")),
        };
        let mut target = source.endpoint.clone();
        {
            let mut query = target.query_pairs_mut();
            query.append_pair("api-version", version);
            query.append_pair("resource", resource);
            if let Some((name, value)) = inner.id.parameter(source.kind) {
                query.append_pair(name, value);
            }
        }
        let started = Instant::now();
        let mut retries = 0u32;
        loop {
            // Only IMDS is probed: App Service's endpoint is named by the
            // environment, so it is there.
            let probing = source.kind == Kind::Imds
                && inner.probe_timeout.is_some()
                && inner.state.load(Ordering::Acquire) == UNKNOWN;
            let mut request = inner
                .http
                .get(target.clone())
                .header(header.0, header.1)
                .header(reqwest::header::ACCEPT, "application/json");
            if probing && let Some(timeout) = inner.probe_timeout {
                request = request.timeout(timeout);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(e) => {
                    let error = transport_error(url, e);
                    if probing {
                        return Err(Error::CredentialUnavailable(format!(
                            "no managed identity endpoint answered at {url} ({})",
                            one_line(&error.to_string())
                        )));
                    }
                    if retries < inner.retry.max_retries {
                        tracing::debug!(%url, retry = retries + 1, "managed identity endpoint unreachable; retrying");
                        tokio::time::sleep(inner.retry.delay(retries)).await;
                        retries += 1;
                        continue;
                    }
                    return Err(error);
                }
            };
            inner.state.store(ANSWERED, Ordering::Release);
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = read_body(url, response).await?;
            if (200..300).contains(&status) {
                return self.token(url, status, resource, &body);
            }
            if retryable(source.kind, status) && inner.retry.again(status, retries, started) {
                let mut delay = inner.retry.delay(retries);
                if status == 429
                    && let Some(after) = retry_after
                {
                    delay = after.min(inner.retry.max_delay);
                }
                tracing::debug!(%url, status, retry = retries + 1, delay_ms = delay.as_millis() as u64, "managed identity endpoint answered an error that may pass; retrying");
                tokio::time::sleep(delay).await;
                retries += 1;
                continue;
            }
            let reason = error_reason(&body);
            if source.kind == Kind::Imds && status == 400 && inner.probe_timeout.is_some() {
                // IMDS's 400 means no such identity on this resource: in a
                // chain, this credential is unavailable, not broken.
                return Err(Error::CredentialUnavailable(format!(
                    "{} at {url} has {} (HTTP 400: {reason})",
                    source.name(),
                    match inner.id {
                        ManagedIdentityId::SystemAssigned => "no system-assigned identity",
                        _ => "not the requested user-assigned identity",
                    }
                )));
            }
            return Err(Error::ManagedIdentity {
                url: url.to_owned(),
                status,
                reason,
            });
        }
    }

    /// The token of a success answer.
    fn token(
        &self,
        url: &str,
        status: u16,
        resource: &str,
        body: &[u8],
    ) -> Result<AccessToken, Error> {
        let unexpected = |reason: String| Error::UnexpectedResponse {
            url: url.to_owned(),
            status,
            reason,
        };
        let response: MiTokenResponse = serde_json::from_slice(body)
            .map_err(|e| unexpected(format!("not a managed identity token answer: {e}")))?;
        let access_token = response
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unexpected("the answer has no access_token".into()))?;
        let token_type = response.token_type.unwrap_or_else(|| "Bearer".into());
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(unexpected("the token type is not Bearer".into()));
        }
        let now = self.inner.clock.now();
        // expires_in is relative: immune to a skew between the clocks. App
        // Service sends only the absolute expires_on.
        let expires_on = match (response.expires_in, response.expires_on) {
            (Some(expires_in), _) => now.saturating_add(expires_in.max(0)),
            (None, Some(expires_on)) => expires_on,
            (None, None) => {
                return Err(unexpected(
                    "the answer has neither expires_in nor expires_on".into(),
                ));
            }
        };
        Ok(AccessToken {
            secret: access_token,
            token_type: "Bearer".into(),
            expires_on,
            ext_expires_on: None,
            scopes: vec![format!("{resource}/.default")],
            account: None,
            from_cache: false,
        })
    }
}

/// The reason in an error answer, bounded and on one line.
fn error_reason(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<MiErrorBody>(body) {
        Ok(parsed) => {
            let error = match parsed.error {
                Some(serde_json::Value::String(s)) => Some(s),
                Some(serde_json::Value::Object(o)) => {
                    let code = o.get("code").and_then(|v| v.as_str()).unwrap_or_default();
                    let message = o
                        .get("message")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    Some(format!("{code}: {message}"))
                }
                _ => None,
            };
            let detail = parsed
                .error_description
                .or(parsed.message)
                .or(parsed.message_upper);
            match (error, detail) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e,
                (None, Some(d)) => d,
                (None, None) => "no error in the answer".into(),
            }
        }
        Err(_) => "the answer is not JSON".into(),
    };
    let text = one_line(&text);
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_local_or_https() {
        assert!(
            ManagedIdentitySource::imds_at("http://127.0.0.1:1234/metadata/identity/oauth2/token")
                .is_ok()
        );
        assert!(
            ManagedIdentitySource::app_service("http://169.254.255.2:8081/msi/token", "h").is_ok()
        );
        assert!(ManagedIdentitySource::app_service("http://[fe80::1]:8081/msi/token", "h").is_ok());
        assert!(
            ManagedIdentitySource::app_service("https://mi.example.com/msi/token", "h").is_ok()
        );
        assert!(
            ManagedIdentitySource::app_service("http://mi.example.com/msi/token", "h").is_err()
        );
        assert!(ManagedIdentitySource::app_service("http://localhost/msi/token?x=1", "h").is_err());
        assert!(ManagedIdentitySource::app_service("http://localhost/msi/token", " ").is_err());
        assert!(ManagedIdentitySource::app_service("ftp://localhost/msi/token", "h").is_err());
    }

    #[test]
    fn the_environment_picks_the_protocol() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let app = ManagedIdentitySource::from_lookup(env(&[
            ("IDENTITY_ENDPOINT", "http://localhost:4141/msi/token"),
            ("IDENTITY_HEADER", "h"),
        ]));
        assert!(app.is_ok_and(|s| s.is_app_service()));
        let imds =
            ManagedIdentitySource::from_lookup(env(&[("IDENTITY_ENDPOINT", "http://localhost/x")]));
        assert!(imds.is_ok_and(|s| s.endpoint().as_str() == IMDS_ENDPOINT));
        let pod = ManagedIdentitySource::from_lookup(env(&[(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "http://127.0.0.1:2000/",
        )]));
        assert!(pod.is_ok_and(
            |s| s.endpoint().as_str() == "http://127.0.0.1:2000/metadata/identity/oauth2/token"
        ));
    }

    #[test]
    fn selectors_use_each_protocols_names() {
        let object = ManagedIdentityId::ObjectId("o".into());
        let resource = ManagedIdentityId::ResourceId("r".into());
        assert_eq!(object.parameter(Kind::Imds), Some(("object_id", "o")));
        assert_eq!(
            object.parameter(Kind::AppService),
            Some(("principal_id", "o"))
        );
        assert_eq!(resource.parameter(Kind::Imds), Some(("msi_res_id", "r")));
        assert_eq!(
            resource.parameter(Kind::AppService),
            Some(("mi_res_id", "r"))
        );
        assert_eq!(
            ManagedIdentityId::SystemAssigned.parameter(Kind::Imds),
            None
        );
    }

    #[test]
    fn back_off_doubles_up_to_the_cap_and_410_lasts_its_window() {
        let policy = RetryPolicy::new();
        let delays: Vec<_> = (0..6).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        let started = Instant::now();
        assert!(policy.again(500, 2, started));
        assert!(!policy.again(500, 3, started));
        assert!(policy.again(410, 20, started));
        assert!(!RetryPolicy::none().again(410, 0, started));
        assert!(retryable(Kind::Imds, 404) && retryable(Kind::Imds, 410));
        assert!(!retryable(Kind::AppService, 404) && retryable(Kind::AppService, 503));
        assert!(!retryable(Kind::Imds, 400));
    }

    #[test]
    fn error_reasons_of_each_shape() {
        assert_eq!(
            error_reason(
                br#"{"error":"invalid_request","error_description":"Identity not found"}"#
            ),
            "invalid_request: Identity not found"
        );
        assert_eq!(
            error_reason(br#"{"statusCode":400,"message":"Unable to load the proper Managed Identity.","correlationId":"c"}"#),
            "Unable to load the proper Managed Identity."
        );
        assert_eq!(error_reason(b"<html>"), "the answer is not JSON");
    }
}
