//! Token validation, in Microsoft's order: structure, key, signature, lifetime,
//! issuer and tenant, audience, token kind. Only a token that passes all of it
//! becomes a [`Principal`]; scopes, roles and client apps are judged after.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::cache::{CacheStats, TokenCache};
use crate::claims::{self, AccessClaims};
use crate::config::{AuthConfig, TenantPolicy, is_guid};
use crate::error::InvalidToken;
use crate::jose;
use crate::json::Json;
use crate::keys::{KeyStore, Lookup, SigningKey, Snapshot, spawn_refresher};
use crate::principal::{Parts, Principal, TokenVersion};
use crate::{AuthLayer, Error, Require};

/// The only signature algorithm Entra ID uses; nothing else is ever accepted.
const ALGORITHMS: &[&str] = &["RS256"];

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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AuthConfig,
    keys: Arc<KeyStore>,
    cache: Option<TokenCache>,
}

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
        let http = reqwest::Client::builder()
            .connect_timeout(config.fetch_timeout.min(Duration::from_secs(5)))
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("entra-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Self::with_http_client(config, http)
    }

    /// Builds a validator that fetches metadata and keys with `http` (to trust
    /// the emulator's certificate authority, or to go through a proxy). Set a
    /// timeout on it: the validator relies on the client's.
    pub fn with_http_client(config: AuthConfig, http: reqwest::Client) -> Result<Self, Error> {
        let keys = KeyStore::new(&config, http)?;
        spawn_refresher(&keys);
        let cache = config
            .token_cache
            .map(|(entries, bytes)| TokenCache::new(entries, bytes));
        Ok(Validator {
            inner: Arc::new(Inner {
                config,
                keys,
                cache,
            }),
        })
    }

    /// The configuration this validator enforces.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// True once signing keys are loaded.
    pub fn is_ready(&self) -> bool {
        self.inner.keys.snapshot().is_loaded()
    }

    /// Resolves once signing keys are loaded (immediately if they are).
    /// Combine it with a timeout: while the identity provider is unreachable,
    /// it waits for as long as the background refresh keeps failing.
    pub fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx: watch::Receiver<bool> = self.inner.keys.subscribe();
        async move {
            let _ = rx.wait_for(|ready| *ready).await;
        }
    }

    /// Why the last key refresh failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.inner.keys.last_error()
    }

    /// How many HTTP requests the key cache has made (metadata and key sets).
    pub fn key_fetches(&self) -> u64 {
        self.inner.keys.requests()
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
            Attempt::NeedKey => self.validate_slow(token).await,
        }
    }

    /// Validation with the keys in the cache, without waiting for anything.
    pub(crate) fn try_validate(&self, token: &str) -> Attempt {
        if token.len() > self.inner.config.max_token_size {
            return Attempt::Done(Err(InvalidToken::Malformed.into()));
        }
        let snapshot = self.inner.keys.snapshot_guard();
        if let Some(cache) = &self.inner.cache {
            if let Some(entry) = cache.get(token) {
                let now = self.inner.config.clock.now();
                if now <= entry.exp.saturating_add(self.inner.config.clock_skew)
                    && snapshot.has_key(&entry.key)
                {
                    return Attempt::Done(Ok(entry.principal));
                }
                // Expired, or its key is gone: forget it and judge the token
                // afresh (which rejects it).
                cache.remove(token);
            }
        }
        let parsed = match jose::parse(token, ALGORITHMS) {
            Ok(parsed) => parsed,
            Err(reason) => return Attempt::Done(Err(reason.into())),
        };
        let Some(key) = snapshot.find(parsed.header.kid.as_deref(), parsed.header.x5t.as_deref())
        else {
            return Attempt::NeedKey;
        };
        let result = self.check(parsed, key, &snapshot);
        if let Ok(principal) = &result {
            self.remember(token, principal, key);
        }
        Attempt::Done(result)
    }

    fn remember(&self, token: &str, principal: &Principal, key: &SigningKey) {
        if let Some(cache) = &self.inner.cache {
            cache.insert(token, principal.clone(), principal.exp(), key.fingerprint);
        }
    }

    /// The path that may refresh the keys: unknown `kid`, or a cold cache.
    pub(crate) async fn validate_slow(&self, token: &str) -> Result<Principal, Error> {
        let parsed = jose::parse(token, ALGORITHMS)?;
        let lookup = self
            .inner
            .keys
            .lookup(parsed.header.kid.as_deref(), parsed.header.x5t.as_deref())
            .await;
        match lookup {
            Lookup::Found(key, snapshot) => {
                let principal = self.check(parsed, &key, &snapshot)?;
                self.remember(token, &principal, &key);
                Ok(principal)
            }
            Lookup::Unknown => Err(InvalidToken::UnknownKey.into()),
            Lookup::Unavailable {
                retry_after,
                reason,
            } => Err(Error::KeysUnavailable {
                retry_after,
                reason,
            }),
        }
    }

    fn check(
        &self,
        parsed: jose::Parsed<'_>,
        key: &SigningKey,
        snapshot: &Snapshot,
    ) -> Result<Principal, Error> {
        key.verifier
            .verify_sig(parsed.signing_input.as_bytes(), &parsed.signature)
            .map_err(|_| InvalidToken::BadSignature)?;
        let payload = parsed.payload;
        let parts = {
            let claims = AccessClaims::read(&payload)?;
            let (version, exp) = self.check_claims(&claims, key, snapshot)?;
            Parts::from_claims(&claims, version, exp)?
        };
        let principal = parts.with_payload(payload);
        if let Some(allowed) = &self.inner.config.allowed_clients {
            if !principal.client_id().is_some_and(|c| allowed.contains(c)) {
                return Err(Error::ClientNotAllowed);
            }
        }
        Ok(principal)
    }

    /// Everything but the signature: lifetime, version, tenant, issuer,
    /// audience and token kind. Returns the version and `exp`.
    fn check_claims(
        &self,
        claims: &AccessClaims<'_>,
        key: &SigningKey,
        snapshot: &Snapshot,
    ) -> Result<(Option<TokenVersion>, i64), InvalidToken> {
        let config = &self.inner.config;
        let now = config.clock.now();
        let skew = config.clock_skew;

        // Lifetime. exp is required; all three must be numbers.
        let exp = claims::numeric_date(&claims.exp)?.ok_or(InvalidToken::Claims)?;
        if now > exp.saturating_add(skew) {
            return Err(InvalidToken::Expired);
        }
        if let Some(nbf) = claims::numeric_date(&claims.nbf)? {
            if nbf > now.saturating_add(skew) {
                return Err(InvalidToken::NotYetValid);
            }
        }
        if let Some(iat) = claims::numeric_date(&claims.iat)? {
            if iat > now.saturating_add(skew) {
                return Err(InvalidToken::IssuedInFuture);
            }
        }

        let iss = claims::string(&claims.iss)?.ok_or(InvalidToken::Claims)?;
        let version;
        if config.entra_claims {
            version = Some(
                match claims::string(&claims.ver)?.ok_or(InvalidToken::Claims)? {
                    "2.0" if config.versions.v2() => TokenVersion::V2,
                    "1.0" if config.versions.v1() => TokenVersion::V1,
                    "1.0" | "2.0" => return Err(InvalidToken::Version),
                    _ => return Err(InvalidToken::Claims),
                },
            );
            let tid = claims::string(&claims.tid)?.ok_or(InvalidToken::Claims)?;
            if !is_guid(tid) {
                return Err(InvalidToken::Claims);
            }
            let template = match version {
                Some(TokenVersion::V1) => snapshot.issuers.v1.as_deref(),
                _ => snapshot.issuers.v2.as_deref(),
            }
            .ok_or(InvalidToken::Version)?;
            // Exact issuer, and (Microsoft.IdentityModel's IDX40004) an issuer
            // that names the token's own tenant.
            if !issuer_matches(template, tid, iss) || !iss.contains(tid) {
                return Err(InvalidToken::Issuer);
            }
            match &config.tenants {
                TenantPolicy::Single | TenantPolicy::Any => {}
                TenantPolicy::Allowed(allowed) => {
                    if !allowed.contains(tid) {
                        return Err(InvalidToken::Tenant);
                    }
                }
            }
            // The key's own issuer binds it to a tenant (Entra's multi-tenant
            // rule). A v1 token is signed by the same keys as the v2 tokens of
            // its tenant, so its key issuer is compared with the v2 form.
            if let Some(key_issuer) = &key.issuer {
                let v2_form = snapshot.issuers.v2.as_deref();
                let ok = issuer_matches(key_issuer, tid, iss)
                    || (version == Some(TokenVersion::V1)
                        && v2_form
                            .is_some_and(|v2| issuer_matches(key_issuer, tid, &fill(v2, tid))));
                if !ok {
                    return Err(InvalidToken::Issuer);
                }
            }
            if claims::string(&claims.oid)?.is_none() {
                return Err(InvalidToken::Claims);
            }
            // Every Entra access token names its client: azp (v2) or appid (v1).
            // ID tokens do not.
            let client = if version == Some(TokenVersion::V2) {
                &claims.azp
            } else {
                &claims.appid
            };
            if claims::string(client)?.is_none() {
                return Err(InvalidToken::IdToken);
            }
        } else {
            version = None;
            if Some(iss) != snapshot.issuers.v2.as_deref() {
                return Err(InvalidToken::Issuer);
            }
        }

        // Audience: a string or an array of strings, one of which is ours.
        let ours = |aud: &str| config.audiences.iter().any(|a| a == aud);
        let audience_ok = match &claims.aud {
            Some(Json::Str(aud)) => ours(aud),
            Some(Json::Array(auds)) if !auds.is_empty() => {
                let mut ok = false;
                for aud in auds {
                    ok |= ours(aud.as_str().ok_or(InvalidToken::Audience)?);
                }
                ok
            }
            _ => false,
        };
        if !audience_ok {
            return Err(InvalidToken::Audience);
        }

        // ID tokens presented as access tokens (RFC 8725 §2.9): they carry a
        // nonce or hashes, and neither scp nor roles.
        if claims.nonce.is_some() || claims.at_hash.is_some() || claims.c_hash.is_some() {
            return Err(InvalidToken::IdToken);
        }
        if !config.allow_acl_tokens && claims.scp.is_none() && claims.roles.is_none() {
            return Err(InvalidToken::IdToken);
        }
        Ok((version, exp))
    }
}

/// Whether `iss` equals `template` with `{tenantid}` replaced by `tid`,
/// compared without allocating.
pub(crate) fn issuer_matches(template: &str, tid: &str, iss: &str) -> bool {
    match template.split_once("{tenantid}") {
        None => template == iss,
        Some((before, after)) => {
            iss.len() == before.len() + tid.len() + after.len()
                && iss.starts_with(before)
                && iss.ends_with(after)
                && &iss[before.len()..before.len() + tid.len()] == tid
        }
    }
}

fn fill(template: &str, tid: &str) -> String {
    template.replace("{tenantid}", tid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_templates_match_exactly() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert!(issuer_matches(
            t,
            tid,
            &format!("https://login.microsoftonline.com/{tid}/v2.0")
        ));
        assert!(!issuer_matches(
            t,
            tid,
            &format!("https://login.microsoftonline.com/{tid}/v2.0/")
        ));
        assert!(!issuer_matches(
            t,
            tid,
            "https://login.microsoftonline.com/other/v2.0"
        ));
        assert!(issuer_matches("https://x/", tid, "https://x/"));
        assert!(!issuer_matches("https://x/", tid, "https://X/"));
    }
}
