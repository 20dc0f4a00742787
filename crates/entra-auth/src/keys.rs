//! Signing keys: parsing a JWKS document into ready-to-use verifiers, and the
//! cache that keeps them fresh.
//!
//! The current keys and issuers live in one immutable [`Snapshot`] behind an
//! [`ArcSwap`]: the request path reads it with no lock and no contention. A
//! refresh builds a whole new snapshot and swaps it in; a refresh that fails,
//! or fetches a document that does not validate, leaves the last-known-good
//! snapshot in place. Refreshes happen
//!
//! - in the background, every `refresh_interval` (with jitter), retrying with
//!   exponential backoff after a failure;
//! - on a cold cache, when a request arrives (with the same backoff);
//! - when a token names an unknown `kid`: at most once per
//!   `min_refresh_interval` (the first one is always allowed), one fetch at a
//!   time; requests arriving meanwhile wait for that fetch instead of starting
//!   their own.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use serde_json::{Map, Value};
use tokio::sync::watch;

use crate::cache::Digest;
use crate::config::{AuthConfig, Source, TenantPolicy, check_scheme};
use crate::metrics::Trigger;
use entra_core::jws::decode_segment;
pub(crate) use entra_core::rules::Issuers;

/// Largest metadata or key-set document read (1 MiB).
const MAX_DOCUMENT: usize = 1024 * 1024;
/// Longest wait between two attempts while the keys cannot be loaded.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A public key ready to verify RS256 signatures.
pub(crate) struct SigningKey {
    pub(crate) kid: Option<String>,
    pub(crate) x5t: Option<String>,
    /// The key's `issuer` property (Entra), possibly a `{tenantid}` template.
    pub(crate) issuer: Option<String>,
    pub(crate) verifier: ParsedPublicKey,
    /// Identifies the key and everything validation binds to it (its public
    /// key, its `issuer`, the metadata issuers): equal across refreshes that
    /// change none of those, different as soon as one changes. Cached tokens
    /// are only trusted while their key's fingerprint is still published.
    pub(crate) fingerprint: crate::cache::Digest,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Everything the validator needs from the identity provider, at one instant.
///
/// Both lookups the request path makes are hash lookups, whatever the number
/// of keys (a multi-tenant key set may publish hundreds): a token's key by
/// `kid`, and on a cache hit, whether the entry's key is still published, by
/// fingerprint.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) keys: Vec<Arc<SigningKey>>,
    by_kid: HashMap<String, usize>,
    fingerprints: HashSet<Digest, BuildHasherDefault<DigestHasher>>,
    pub(crate) issuers: Issuers,
}

/// Hashes a SHA-256 digest by its first eight bytes: they are already
/// uniformly distributed, and only published keys' digests are stored.
#[derive(Debug, Default)]
pub(crate) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(word);
    }
}

impl Snapshot {
    fn new(mut keys: Vec<SigningKey>, issuers: Issuers) -> Self {
        for key in &mut keys {
            let mut binding = key.fingerprint.to_vec();
            for part in [&key.issuer, &issuers.v1, &issuers.v2] {
                binding.push(0);
                binding.extend_from_slice(part.as_deref().unwrap_or("\u{1}").as_bytes());
            }
            key.fingerprint = crate::cache::digest_bytes(&binding);
        }
        let mut by_kid = HashMap::with_capacity(keys.len() * 2);
        for (i, key) in keys.iter().enumerate() {
            for id in [&key.kid, &key.x5t].into_iter().flatten() {
                by_kid.entry(id.clone()).or_insert(i);
            }
        }
        Snapshot {
            fingerprints: keys.iter().map(|k| k.fingerprint).collect(),
            keys: keys.into_iter().map(Arc::new).collect(),
            by_kid,
            issuers,
        }
    }

    /// Whether the key with this fingerprint is still published.
    pub(crate) fn has_key(&self, fingerprint: &Digest) -> bool {
        self.fingerprints.contains(fingerprint)
    }

    pub(crate) fn is_loaded(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The key a token names: by `kid`, else by `x5t`, else the only key.
    pub(crate) fn find(&self, kid: Option<&str>, x5t: Option<&str>) -> Option<&Arc<SigningKey>> {
        match (kid, x5t) {
            (Some(id), _) | (None, Some(id)) => self.by_kid.get(id).map(|&i| &self.keys[i]),
            (None, None) if self.keys.len() == 1 => self.keys.first(),
            (None, None) => None,
        }
    }
}

/// Parses a JWKS document. Keys that cannot be used for RS256 verification
/// (other `kty`, `use:"enc"`, `key_ops` without `verify`, another `alg`,
/// broken or weak moduli) are skipped, as RFC 7517 §5 asks; a document with no
/// usable key at all is an error.
pub(crate) fn parse_jwks(doc: &Map<String, Value>) -> Result<Vec<SigningKey>, String> {
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err("the key set has no \"keys\" array".into());
    };
    let mut keys: Vec<SigningKey> = Vec::new();
    for entry in entries {
        let Some(key) = parse_jwk(entry) else {
            continue;
        };
        // Two keys under one kid make the set ambiguous: which one signs? Refuse
        // the whole document and keep the last-known-good keys.
        if key.kid.is_some() && keys.iter().any(|k| k.kid == key.kid) {
            return Err("the key set publishes two keys under one kid".into());
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("the key set has no usable RS256 key".into());
    }
    Ok(keys)
}

fn parse_jwk(entry: &Value) -> Option<SigningKey> {
    let jwk = entry.as_object()?;
    let string = |name: &str| jwk.get(name).and_then(Value::as_str);
    if string("kty")? != "RSA" {
        return None;
    }
    if string("use").is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array()?;
        if !ops.iter().any(|op| op.as_str() == Some("verify")) {
            return None;
        }
    }
    if string("alg").is_some_and(|a| a != "RS256") {
        return None;
    }
    let n = decode_segment(string("n")?).ok()?;
    let e = decode_segment(string("e")?).ok()?;
    let n = strip_zeros(&n);
    let e = strip_zeros(&e);
    // 2048 to 8192 bits, and a sane public exponent.
    if !(256..=1024).contains(&n.len()) || e.is_empty() || e.len() > 4 {
        return None;
    }
    let der = rsa_public_key_der(n, e);
    // Completed with the metadata issuers in `Snapshot::new`.
    let fingerprint = crate::cache::digest_bytes(&der);
    let verifier = ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).ok()?;
    Some(SigningKey {
        kid: string("kid").map(str::to_owned),
        x5t: string("x5t").map(str::to_owned),
        issuer: string("issuer").map(str::to_owned),
        verifier,
        fingerprint,
    })
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// DER of PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
pub(crate) fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn integer(out: &mut Vec<u8>, value: &[u8]) {
        let pad = value.first().is_some_and(|b| b & 0x80 != 0);
        out.push(0x02);
        length(out, value.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(value);
    }
    fn length(out: &mut Vec<u8>, len: usize) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(bytes.len() - 1);
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    integer(&mut body, n);
    integer(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    length(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

/// The key cache. One per [`Validator`](crate::Validator).
pub(crate) struct KeyStore {
    source: Source,
    versions: crate::TokenVersions,
    multi_tenant: bool,
    allow_insecure_http: bool,
    http: reqwest::Client,
    refresh_interval: Duration,
    min_refresh_interval: Duration,
    current: ArcSwap<Snapshot>,
    fetch_lock: tokio::sync::Mutex<()>,
    in_flight: AtomicBool,
    /// Completed load attempts, successful or not.
    attempts: AtomicU64,
    /// HTTP requests made to the identity provider.
    requests: AtomicU64,
    failures: AtomicU32,
    /// Earliest next load attempt while the cache is cold or failing.
    next_attempt: Mutex<Option<Instant>>,
    /// When the keys were last loaded successfully.
    last_success: Mutex<Option<Instant>>,
    /// When the last load attempt ended, successful or not.
    last_attempt: Mutex<Option<Instant>>,
    /// Earliest next refresh caused by an unknown `kid` (`None`: allowed now).
    next_on_demand: Mutex<Option<Instant>>,
    last_error: Mutex<Option<String>>,
    ready: watch::Sender<bool>,
    /// Wakes the background task after a failed load.
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.current.load().keys.len())
            .field("attempts", &self.attempts.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    Found(Arc<SigningKey>, Arc<Snapshot>),
    Unknown,
    Unavailable {
        retry_after: Duration,
        reason: String,
    },
}

impl KeyStore {
    pub(crate) fn new(
        config: &AuthConfig,
        http: reqwest::Client,
    ) -> Result<Arc<Self>, crate::Error> {
        let store = Arc::new(KeyStore {
            source: config.source.clone(),
            versions: config.versions,
            multi_tenant: config.tenants != TenantPolicy::Single,
            allow_insecure_http: config.allow_insecure_http,
            http,
            refresh_interval: config.refresh_interval,
            min_refresh_interval: config.min_refresh_interval,
            current: ArcSwap::from_pointee(Snapshot::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            in_flight: AtomicBool::new(false),
            attempts: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            next_attempt: Mutex::new(None),
            last_success: Mutex::new(None),
            last_attempt: Mutex::new(None),
            next_on_demand: Mutex::new(None),
            last_error: Mutex::new(None),
            ready: watch::channel(false).0,
            wake: Arc::new(tokio::sync::Notify::new()),
        });
        if let Source::Static {
            v2_issuer,
            v1_issuer,
            jwks,
        } = &config.source
        {
            let doc = serde_json::from_str::<Map<String, Value>>(jwks).map_err(|e| {
                crate::Error::Config(format!("the static key set is not a JSON object: {e}"))
            })?;
            let keys = parse_jwks(&doc).map_err(crate::Error::Config)?;
            let issuers = Issuers {
                v2: v2_issuer.clone(),
                v1: v1_issuer.clone(),
            };
            store
                .check_issuers(&issuers)
                .map_err(crate::Error::Config)?;
            store.current.store(Arc::new(Snapshot::new(keys, issuers)));
            store.ready.send_replace(true);
        }
        Ok(store)
    }

    pub(crate) fn is_static(&self) -> bool {
        matches!(self.source, Source::Static { .. })
    }

    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The current snapshot, for the request path (no reference-count traffic).
    pub(crate) fn snapshot_guard(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.current.load()
    }

    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        lock(&self.last_error).clone()
    }

    /// How long ago the keys were last loaded (`None`: never fetched).
    pub(crate) fn age(&self) -> Option<Duration> {
        lock(&self.last_success).map(|at| at.elapsed())
    }

    /// Finds the key for a token, refreshing when the rules allow it.
    pub(crate) async fn lookup(&self, kid: Option<&str>, x5t: Option<&str>) -> Lookup {
        let observed = self.attempts.load(Ordering::Acquire);
        let snapshot = self.snapshot();
        if let Some(key) = snapshot.find(kid, x5t) {
            return Lookup::Found(key.clone(), snapshot);
        }
        let cold = !snapshot.is_loaded();
        if !cold && !self.in_flight.load(Ordering::Acquire) && !self.on_demand_allowed() {
            return Lookup::Unknown;
        }
        {
            let _guard = self.fetch_lock.lock().await;
            // Someone else loaded while we waited: use their result.
            if self.attempts.load(Ordering::Acquire) == observed {
                let allowed = if cold {
                    self.cold_attempt_allowed()
                } else {
                    self.take_on_demand()
                };
                if allowed {
                    let trigger = if cold {
                        Trigger::Startup
                    } else {
                        Trigger::UnknownKid
                    };
                    let _ = self.load_locked(trigger).await;
                }
            }
        }
        let snapshot = self.snapshot();
        if let Some(key) = snapshot.find(kid, x5t) {
            return Lookup::Found(key.clone(), snapshot);
        }
        if snapshot.is_loaded() {
            Lookup::Unknown
        } else {
            Lookup::Unavailable {
                retry_after: self.retry_after(),
                reason: self
                    .last_error()
                    .unwrap_or_else(|| "the keys are not loaded yet".into()),
            }
        }
    }

    /// Loads now (background task, manual refresh), one fetch at a time.
    pub(crate) async fn refresh(&self) -> Result<(), String> {
        let _guard = self.fetch_lock.lock().await;
        self.load_locked(Trigger::Manual).await
    }

    /// An unknown `kid` may refresh the keys once per minimum interval, and
    /// not while a failed load's backoff runs.
    fn on_demand_allowed(&self) -> bool {
        let now = Instant::now();
        lock(&self.next_on_demand).is_none_or(|at| now >= at)
            && lock(&self.next_attempt).is_none_or(|at| now >= at)
    }

    fn take_on_demand(&self) -> bool {
        let now = Instant::now();
        if lock(&self.next_attempt).is_some_and(|at| now < at) {
            return false;
        }
        let mut next = lock(&self.next_on_demand);
        if next.is_none_or(|at| now >= at) {
            *next = Some(now + self.min_refresh_interval);
            true
        } else {
            false
        }
    }

    fn cold_attempt_allowed(&self) -> bool {
        lock(&self.next_attempt).is_none_or(|at| Instant::now() >= at)
    }

    fn retry_after(&self) -> Duration {
        let at = *lock(&self.next_attempt);
        at.map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1))
    }

    /// Delay before the next attempt after `failures` consecutive failures:
    /// 1 s, 2 s, 4 s... up to 30 s, with up to 25 % jitter.
    fn backoff(failures: u32) -> Duration {
        let base = Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(MAX_BACKOFF);
        base + jitter(base / 4)
    }

    /// One turn of the background task: loads when a load is due, and says how
    /// long to sleep. It shares the gates of the request path: no load while a
    /// failure's backoff runs, none when a request just loaded the keys.
    pub(crate) async fn background_turn(&self) -> Duration {
        let _guard = self.fetch_lock.lock().await;
        let now = Instant::now();
        let failing = self.failures.load(Ordering::Acquire) > 0;
        let due = if failing {
            // Failing: retry after the backoff, and at least once per interval.
            let backoff = lock(&self.next_attempt).unwrap_or(now);
            let interval = lock(&self.last_attempt).map_or(now, |at| at + self.refresh_interval);
            backoff.min(interval)
        } else {
            lock(&self.last_success).map_or(now, |at| at + self.refresh_interval)
        };
        if due > now {
            // The backoff carries its own jitter; only the regular interval
            // is spread out further (a failing provider is retried on time).
            let spread = if failing {
                Duration::ZERO
            } else {
                jitter(self.refresh_interval / 20)
            };
            return due - now + spread;
        }
        let trigger = if self.current.load().is_loaded() {
            Trigger::Scheduled
        } else {
            Trigger::Startup
        };
        let _ = self.load_locked(trigger).await;
        match self.failures.load(Ordering::Acquire) {
            0 => self.refresh_interval + jitter(self.refresh_interval / 20),
            _ => lock(&self.next_attempt)
                .map(|at| at.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(1))
                .min(self.refresh_interval),
        }
    }

    async fn load_locked(&self, trigger: Trigger) -> Result<(), String> {
        if self.is_static() {
            return Ok(());
        }
        self.in_flight.store(true, Ordering::Release);
        let result = self.fetch().await;
        crate::metrics::key_refresh(trigger, result.is_ok());
        let outcome = match result {
            Ok(snapshot) => {
                tracing::debug!(keys = snapshot.keys.len(), "signing keys refreshed");
                self.current.store(Arc::new(snapshot));
                self.failures.store(0, Ordering::Release);
                *lock(&self.next_attempt) = None;
                *lock(&self.last_success) = Some(Instant::now());
                *lock(&self.last_error) = None;
                self.ready.send_replace(true);
                Ok(())
            }
            Err(reason) => {
                let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
                let delay = Self::backoff(failures);
                *lock(&self.next_attempt) = Some(Instant::now() + delay);
                // A failed fetch does not use up the on-demand budget: the
                // backoff gates the next try, and the background task, woken
                // here, retries on it until the provider answers.
                *lock(&self.next_on_demand) = None;
                self.wake.notify_one();
                if self.current.load().is_loaded() {
                    tracing::warn!(%reason, failures, retry_in = ?delay, "refreshing signing keys failed; keeping the last-known-good keys");
                } else {
                    tracing::warn!(%reason, failures, retry_in = ?delay, "loading signing keys failed; no keys yet");
                }
                *lock(&self.last_error) = Some(reason.clone());
                Err(reason)
            }
        };
        *lock(&self.last_attempt) = Some(Instant::now());
        self.attempts.fetch_add(1, Ordering::AcqRel);
        self.in_flight.store(false, Ordering::Release);
        outcome
    }

    async fn fetch(&self) -> Result<Snapshot, String> {
        let (documents, oidc_expected): (Vec<(bool, String)>, Option<&String>) = match &self.source
        {
            Source::Static { .. } => return Err("static keys are never fetched".into()),
            Source::Entra { host, tenant } => {
                let base = host.as_str().trim_end_matches('/');
                let mut docs = Vec::new();
                if self.versions.v2() {
                    docs.push((
                        true,
                        format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
                    ));
                }
                if self.versions.v1() {
                    docs.push((
                        false,
                        format!("{base}/{tenant}/.well-known/openid-configuration"),
                    ));
                }
                (docs, None)
            }
            Source::Oidc {
                discovery_url,
                issuer,
            } => (vec![(true, discovery_url.to_string())], issuer.as_ref()),
        };
        let mut issuers = Issuers::default();
        let mut jwks_uris: Vec<String> = Vec::new();
        for (v2, url) in documents {
            let doc = self.get_json(&url).await?;
            let issuer = doc
                .get("issuer")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("{url}: no issuer"))?
                .to_owned();
            if let Some(expected) = oidc_expected {
                if &issuer != expected {
                    return Err(format!(
                        "{url}: the issuer {issuer:?} is not the configured issuer {expected:?}"
                    ));
                }
            }
            let jwks_uri = doc
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("{url}: no jwks_uri"))?;
            let parsed =
                url::Url::parse(jwks_uri).map_err(|e| format!("{url}: bad jwks_uri: {e}"))?;
            check_scheme(&parsed, self.allow_insecure_http)
                .map_err(|e| format!("{url}: jwks_uri {e}"))?;
            if !jwks_uris.iter().any(|u| u == jwks_uri) {
                jwks_uris.push(jwks_uri.to_owned());
            }
            if v2 {
                issuers.v2 = Some(issuer);
            } else {
                issuers.v1 = Some(issuer);
            }
        }
        self.check_issuers(&issuers)?;
        let mut keys: Vec<SigningKey> = Vec::new();
        for uri in jwks_uris {
            let doc = self.get_json(&uri).await?;
            for key in parse_jwks(&doc).map_err(|e| format!("{uri}: {e}"))? {
                // The v1 and v2 key sets publish the same keys: merge them, but
                // never two different keys under one kid.
                match keys.iter().find(|k| key.kid.is_some() && k.kid == key.kid) {
                    None => keys.push(key),
                    Some(known) if known.verifier.as_ref() == key.verifier.as_ref() => {}
                    Some(_) => {
                        return Err(format!(
                            "{uri}: a kid names another key than in the other key set"
                        ));
                    }
                }
            }
        }
        Ok(Snapshot::new(keys, issuers))
    }

    /// A single-tenant configuration must get concrete issuers, a multi-tenant
    /// one templated issuers: anything else would accept the wrong tenants.
    fn check_issuers(&self, issuers: &Issuers) -> Result<(), String> {
        let entra = matches!(self.source, Source::Entra { .. } | Source::Static { .. });
        for issuer in [&issuers.v1, &issuers.v2].into_iter().flatten() {
            let templated = issuer.contains("{tenantid}");
            if entra && templated && !self.multi_tenant {
                return Err(format!(
                    "the issuer {issuer:?} is a multi-tenant template; configure allowed_tenants or any_tenant"
                ));
            }
            if entra && !templated && self.multi_tenant {
                return Err(format!(
                    "the issuer {issuer:?} names a single tenant; allowed_tenants / any_tenant need common or organizations"
                ));
            }
        }
        Ok(())
    }

    async fn get_json(&self, url: &str) -> Result<Map<String, Value>, String> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let mut response = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {}", error_chain(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT as u64)
        {
            return Err(format!("{url}: the document is larger than 1 MiB"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("{url}: {}", error_chain(&e)))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("{url}: the document is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not a JSON object: {e}"))
    }
}

/// Starts the background refresh. It holds only a weak reference: dropping the
/// last [`Validator`](crate::Validator) clone stops it.
pub(crate) fn spawn_refresher(store: &Arc<KeyStore>) {
    if store.is_static() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "the validator was built outside a tokio runtime: its signing keys are never \
             refreshed in the background, only when a token names an unknown key; build it \
             inside the runtime that serves requests"
        );
        return;
    };
    let weak: Weak<KeyStore> = Arc::downgrade(store);
    let wake = store.wake.clone();
    runtime.spawn(async move {
        loop {
            let Some(store) = weak.upgrade() else { return };
            let delay = store.background_turn().await;
            drop(store);
            // A failed load anywhere (a request's on-demand refresh included)
            // wakes the task, so it retries on the backoff it promised
            // instead of sleeping out the refresh interval.
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = wake.notified() => {}
            }
        }
    });
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn jitter(max: Duration) -> Duration {
    let mut bytes = [0u8; 4];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return Duration::ZERO;
    }
    let fraction = f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX);
    max.mul_f64(fraction)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_are_encoded_in_long_form() {
        let n = vec![0xc5u8; 256];
        let der = rsa_public_key_der(&n, &[1, 0, 1]);
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x0a]);
        assert!(ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, der).is_ok());
    }

    #[test]
    fn unusable_keys_are_skipped_and_an_empty_set_is_an_error() {
        let doc = serde_json::json!({"keys": [
            {"kty": "EC", "kid": "a"},
            {"kty": "RSA", "kid": "b", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "c", "n": "!!", "e": "AQAB"},
            "not an object",
        ]});
        let Value::Object(doc) = doc else {
            unreachable!()
        };
        assert!(parse_jwks(&doc).is_err());
    }
}
