//! Token validation, in Microsoft's order: structure, key, signature, lifetime,
//! issuer and tenant, audience, token kind. Only a token that passes all of it
//! becomes a [`Principal`]; scopes, roles and client apps are judged after.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entra_core::InvalidToken;
use entra_core::jws::Parsed;
use entra_core::rules::{Audience, Kind, Rules};

use crate::cache::{CacheStats, TokenCache};
use crate::config::AuthConfig;
use crate::keys::{SigningKey, Snapshot};
use crate::metrics::{Outcomes, Published};
use crate::principal::{Parts, Principal};
use crate::verifier::Verifier;
use crate::{AuthLayer, Error, Require};

/// Validates access tokens. Cheap to clone; clones share the key cache.
///
/// Create it inside a tokio runtime: it then loads the keys in the background
/// right away and keeps them fresh. [`Validator::ready`] resolves once they
/// are loaded.
///
/// ```no_run
/// use entra_auth::{AuthConfig, Validator};
///
/// # async fn run() -> Result<(), entra_auth::Error> {
/// let config = AuthConfig::builder()
///     .tenant("contoso.onmicrosoft.com")
///     .client_id("6e74172b-be56-4843-9ff4-e66a39bb12e3")
///     .build()?;
/// let validator = Validator::new(config)?;
/// validator.ready().await;
/// let principal = validator.validate("eyJ0eXAiOiJKV1Qi...").await?;
/// println!("{} calls as {:?}", principal.key(), principal.client_id());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Validator {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) verifier: Verifier,
    cache: Option<TokenCache>,
    /// Unique per validator (clones share it): principals carry it.
    id: u64,
    /// The outcome counters, registered when the validator was built.
    pub(crate) outcomes: Outcomes,
    /// The cache's figures as last published.
    published: Published,
}

impl Inner {
    /// Publishes the cache's figures and the key set's age (the gauges are
    /// not touched per request).
    fn publish_metrics(&self) {
        if let Some(cache) = &self.cache {
            self.published.publish(cache.stats());
        }
        if let Some(age) = self.verifier.keys.age() {
            metrics::gauge!(crate::metrics::KEYS_AGE).set(age.as_secs_f64());
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.published.retract();
    }
}

/// How often a validator publishes its cache's figures and its keys' age.
const PUBLISH_EVERY: Duration = Duration::from_secs(5);

/// Publishes every [`PUBLISH_EVERY`] while the validator lives (inside a
/// tokio runtime; without one, only [`Validator::publish_metrics`] does).
fn spawn_publisher(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(inner);
    runtime.spawn(async move {
        loop {
            tokio::time::sleep(PUBLISH_EVERY).await;
            let Some(inner) = weak.upgrade() else { return };
            inner.publish_metrics();
        }
    });
}

/// Source of [`Inner::id`]s.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The result of a validation attempt that did not need the network.
pub(crate) enum Attempt {
    Done(Result<Principal, Error>),
    /// The key is not in the cache: the slow path may refresh it.
    NeedKey,
}

impl Validator {
    /// Builds a validator with its own HTTP client (rustls, the platform's
    /// trusted roots, no redirects, the configured timeout).
    pub fn new(config: AuthConfig) -> Result<Self, Error> {
        Self::build(config, None)
    }

    /// Builds a validator that fetches metadata and keys with `http` (to trust
    /// the emulator's certificate authority, or to go through a proxy). Set a
    /// timeout on it: the validator relies on the client's.
    pub fn with_http_client(config: AuthConfig, http: reqwest::Client) -> Result<Self, Error> {
        Self::build(config, Some(http))
    }

    fn build(config: AuthConfig, http: Option<reqwest::Client>) -> Result<Self, Error> {
        let cache = config
            .token_cache
            .map(|(entries, bytes)| TokenCache::new(entries, bytes));
        let inner = Arc::new(Inner {
            verifier: Verifier::new(config, http)?,
            cache,
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            outcomes: Outcomes::register(),
            published: Published::default(),
        });
        spawn_publisher(&inner);
        Ok(Validator { inner })
    }

    /// Publishes the verified-token cache's figures and the signing keys'
    /// age to the installed `metrics` recorder now (a task does it every
    /// five seconds; call this before rendering for exact figures). See
    /// [`metrics`](crate::metrics).
    pub fn publish_metrics(&self) {
        self.inner.publish_metrics();
    }

    /// This validator's identity (clones share it), which the principals it
    /// makes carry.
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// The configuration this validator enforces.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.verifier.config
    }

    /// True once signing keys are loaded.
    pub fn is_ready(&self) -> bool {
        self.inner.verifier.keys.snapshot().is_loaded()
    }

    /// Resolves once signing keys are loaded (immediately if they are).
    /// Combine it with a timeout: while the identity provider is unreachable,
    /// it waits for as long as the background refresh keeps failing.
    pub fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.verifier.ready()
    }

    /// Why the last key refresh failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.inner.verifier.keys.last_error()
    }

    /// How many HTTP requests the key cache has made (metadata and key sets).
    pub fn key_fetches(&self) -> u64 {
        self.inner.verifier.keys.requests()
    }

    /// How full the verified-token cache is (zero when it is off).
    pub fn cache_stats(&self) -> CacheStats {
        self.inner
            .cache
            .as_ref()
            .map(TokenCache::stats)
            .unwrap_or_default()
    }

    /// Refreshes metadata and keys now. On failure the last-known-good keys stay.
    pub async fn refresh(&self) -> Result<(), Error> {
        self.inner
            .verifier
            .keys
            .refresh()
            .await
            .map_err(|reason| Error::KeysUnavailable {
                retry_after: Duration::from_secs(1),
                reason,
            })
    }

    /// A layer that authenticates every request (401 without a valid token)
    /// and puts the [`Principal`] in the request extensions.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.clone(), None)
    }

    /// A layer for routes where authentication is optional: a request
    /// without a token reaches the service without a [`Principal`] (extract
    /// `Option<Principal>`, which is `None`); a request with a token must
    /// carry a valid one (a bad token is still `401`).
    pub fn optional(&self) -> AuthLayer {
        AuthLayer::optional(self.clone())
    }

    /// A layer that authenticates and then checks `requirement` (403 when it
    /// is not met). The one-line route guard:
    ///
    /// ```
    /// # use axum::{Router, routing::get};
    /// # use entra_auth::{Require, Validator};
    /// # fn app(auth: Validator) -> Router {
    /// Router::new().route(
    ///     "/heroes",
    ///     get(|| async { "[]" }).layer(auth.require(Require::scope_or_app_permission("Heroes.Read"))),
    /// )
    /// # }
    /// ```
    pub fn require(&self, requirement: Require) -> AuthLayer {
        AuthLayer::new(self.clone(), Some(requirement))
    }

    /// Validates a token: signature, lifetime, issuer, tenant, audience, token
    /// kind, and the client-application allow-list.
    pub async fn validate(&self, token: &str) -> Result<Principal, Error> {
        match self.try_validate(token) {
            Attempt::Done(result) => result,
            // Boxed: the slow path's state (a key fetch) would otherwise make
            // every call's future, the cached ones' too, that much larger.
            Attempt::NeedKey => Box::pin(self.validate_slow(token)).await,
        }
    }

    /// Validation with the keys in the cache, without waiting for anything;
    /// its outcome counted.
    #[inline]
    pub(crate) fn try_validate(&self, token: &str) -> Attempt {
        let attempt = self.attempt(token);
        if let Attempt::Done(result) = &attempt {
            self.inner.outcomes.record(result);
        }
        attempt
    }

    fn attempt(&self, token: &str) -> Attempt {
        let verifier = &self.inner.verifier;
        if token.len() > verifier.config.max_token_size {
            return Attempt::Done(Err(InvalidToken::Malformed.into()));
        }
        let snapshot = verifier.keys.snapshot_guard();
        if let Some(cache) = &self.inner.cache {
            if let Some(entry) = cache.get(token) {
                let now = verifier.config.clock.now();
                if now <= entry.exp.saturating_add(verifier.config.clock_skew)
                    && snapshot.has_key(&entry.key)
                {
                    return Attempt::Done(Ok(entry.principal));
                }
                // Expired, or its key is gone: forget it and judge the token
                // afresh (which rejects it).
                cache.remove(token);
            }
        }
        let parsed = match verifier.parse(token) {
            Ok(parsed) => parsed,
            Err(reason) => return Attempt::Done(Err(reason.into())),
        };
        let Some(key) = snapshot.find(parsed.header.kid.as_deref(), parsed.header.x5t.as_deref())
        else {
            return Attempt::NeedKey;
        };
        let result = self.check(token, parsed, key, &snapshot);
        if let Ok(principal) = &result {
            self.remember(principal, key);
        }
        Attempt::Done(result)
    }

    fn remember(&self, principal: &Principal, key: &SigningKey) {
        if let Some(cache) = &self.inner.cache {
            cache.insert(principal, key.fingerprint);
        }
    }

    /// The path that may refresh the keys: unknown `kid`, or a cold cache;
    /// its outcome counted.
    pub(crate) async fn validate_slow(&self, token: &str) -> Result<Principal, Error> {
        let result = self.validate_slow_uncounted(token).await;
        self.inner.outcomes.record(&result);
        result
    }

    async fn validate_slow_uncounted(&self, token: &str) -> Result<Principal, Error> {
        let parsed = self.inner.verifier.parse(token)?;
        let (key, snapshot) = self.inner.verifier.key(&parsed).await?;
        let principal = self.check(token, parsed, &key, &snapshot)?;
        self.remember(&principal, &key);
        Ok(principal)
    }

    /// The access-token rules of this validator, against `snapshot`.
    pub(crate) fn rules<'a>(&'a self, snapshot: &'a Snapshot) -> Rules<'a> {
        let config = &self.inner.verifier.config;
        self.inner.verifier.rules(
            snapshot,
            Audience::AnyOf(&config.audiences),
            Kind::Access {
                allow_acl: config.allow_acl_tokens,
            },
        )
    }

    /// Whether the client-application allow-list admits `principal`.
    pub(crate) fn check_client(&self, principal: &Principal) -> Result<(), Error> {
        match &self.inner.verifier.config.allowed_clients {
            Some(allowed) if !principal.client_id().is_some_and(|c| allowed.contains(c)) => {
                Err(Error::ClientNotAllowed)
            }
            _ => Ok(()),
        }
    }

    fn check(
        &self,
        token: &str,
        parsed: Parsed<'_>,
        key: &SigningKey,
        snapshot: &Snapshot,
    ) -> Result<Principal, Error> {
        let rules = self.rules(snapshot);
        let parts = {
            let (claims, checked) =
                self.inner
                    .verifier
                    .check(&parsed, &parsed.payload, key, &rules)?;
            Parts::from_claims(&claims, checked.version, checked.exp)?
        };
        let principal = parts.with_token(token, self.inner.id);
        self.check_client(&principal)?;
        Ok(principal)
    }
}
