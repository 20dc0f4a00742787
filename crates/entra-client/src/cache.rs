//! The token cache: access tokens and refresh tokens, kept in a
//! [`Store`], plus the machinery that makes concurrent requests for one
//! token cause one network call.
//!
//! # Keys
//!
//! Every key names the client application and the configured tenant, then
//! whose token it is, then what it is:
//!
//! ```text
//! {client id}|{tenant}|{oid}.{tid}|at|{scopes}    a user's access token
//! {client id}|{tenant}|{oid}.{tid}|rt             a user's refresh token
//! {client id}|{tenant}|app|at|{scopes}            an app-only token (client credentials)
//! {client id}|{tenant}|obo.{sha256}|at|{scopes}   an on-behalf-of token, by the incoming token's digest
//! msi.{protocol}.{identity}|{endpoint}|mi|at|{resource}   a managed identity's token
//! ```
//!
//! `{scopes}` is the requested scope set, lower-cased, sorted, without
//! duplicates and without the OpenID Connect scopes (`openid`, `profile`,
//! `offline_access`), joined by spaces. Entra scopes are case-insensitive.
//! A managed identity's key names the protocol (`App Service`, `IMDS`), the
//! identity (`system`, `client_id=...`, `object_id=...`, `resource_id=...`)
//! and the endpoint.
//!
//! # Groups
//!
//! A user's access and refresh tokens are written in one store group,
//! `{client id}|{tenant}|{oid}.{tid}|` (the start of their keys), so that
//! local sign-out ([`Client::remove_account`](crate::Client::remove_account))
//! removes them all with one [`Store::remove_group`]. App-only and
//! on-behalf-of tokens are in no group.
//!
//! # One network call per token
//!
//! Callers asking for the same key at the same time share one request and
//! its outcome (success or error). Refreshes for one account are
//! serialized, so each uses the refresh token the previous one rotated in.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::store::{MemoryStore, Store};
use crate::token::AccessToken;
use crate::{Account, Error};

/// Scopes that are about the sign-in, not about a resource.
pub(crate) const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access"];

/// How long a refresh token is kept without use (Entra's inactivity limit).
const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// The token cache. Cheap to clone; clones share the store and the
/// single-flight state. Share one between clients with
/// [`ClientBuilder::token_cache`](crate::ClientBuilder::token_cache).
#[derive(Clone)]
pub struct TokenCache {
    inner: Arc<Inner>,
}

/// One request under way and its shared outcome.
type Flight = Arc<OnceCell<Result<AccessToken, Error>>>;

struct Inner {
    store: Arc<dyn Store>,
    flights: Mutex<HashMap<String, Flight>>,
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::new(Arc::new(MemoryStore::new()))
    }
}

/// Whose token a key is for.
#[derive(Debug, Clone)]
pub(crate) enum Owner<'a> {
    User(&'a Account),
    App,
    OnBehalfOf(&'a str),
    ManagedIdentity,
}

/// An access token as stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct CachedAccessToken {
    pub(crate) secret: String,
    pub(crate) token_type: String,
    pub(crate) expires_on: i64,
    #[serde(default)]
    pub(crate) ext_expires_on: Option<i64>,
    pub(crate) scopes: Vec<String>,
    #[serde(default)]
    pub(crate) account: Option<Account>,
}

/// A refresh token as stored.
#[derive(Serialize, Deserialize)]
pub(crate) struct CachedRefreshToken {
    pub(crate) secret: String,
    pub(crate) account: Account,
}

impl TokenCache {
    /// A cache keeping its entries in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        TokenCache {
            inner: Arc::new(Inner {
                store,
                flights: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store the entries live in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The key of an access token.
    pub(crate) fn access_key(
        client: &str,
        tenant: &str,
        owner: &Owner<'_>,
        scopes: &[String],
    ) -> String {
        format!(
            "{}at|{}",
            Self::owner_prefix(client, tenant, owner),
            normalize_scopes(scopes).join(" ")
        )
    }

    /// The key of an account's refresh token.
    pub(crate) fn refresh_key(client: &str, tenant: &str, account: &Account) -> String {
        format!(
            "{}rt",
            Self::owner_prefix(client, tenant, &Owner::User(account))
        )
    }

    /// `{client}|{tenant}|{owner}|`: every key of one owner starts with it,
    /// and it names the group of a user's tokens.
    pub(crate) fn owner_prefix(client: &str, tenant: &str, owner: &Owner<'_>) -> String {
        let owner = match owner {
            Owner::User(account) => account.home_account_id().to_ascii_lowercase(),
            Owner::App => "app".to_owned(),
            Owner::ManagedIdentity => "mi".to_owned(),
            Owner::OnBehalfOf(assertion) => {
                format!("obo.{}", crate::util::sha256_b64(assertion.as_bytes()))
            }
        };
        format!("{client}|{tenant}|{owner}|")
    }

    pub(crate) async fn get_access(&self, key: &str) -> Result<Option<CachedAccessToken>, Error> {
        let Some(bytes) = self.inner.store.get(key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable access-token cache entry; ignoring it");
                Ok(None)
            }
        }
    }

    /// Stores an access token, in `group` (a user's: see
    /// [`owner_prefix`](Self::owner_prefix)).
    pub(crate) async fn put_access(
        &self,
        key: &str,
        group: Option<&str>,
        entry: &CachedAccessToken,
    ) {
        let expires =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(entry.expires_on).unwrap_or(0));
        self.put(key, group, entry, Some(expires)).await;
    }

    pub(crate) async fn get_refresh(&self, key: &str) -> Result<Option<CachedRefreshToken>, Error> {
        let Some(bytes) = self.inner.store.get(key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(entry) => Ok(Some(entry)),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable refresh-token cache entry; ignoring it");
                Ok(None)
            }
        }
    }

    /// Stores a refresh token, in the user's `group`.
    pub(crate) async fn put_refresh(&self, key: &str, group: &str, entry: &CachedRefreshToken) {
        let expires = SystemTime::now() + REFRESH_TOKEN_TTL;
        self.put(key, Some(group), entry, Some(expires)).await;
    }

    pub(crate) async fn remove(&self, key: &str) -> Result<(), Error> {
        Ok(self.inner.store.remove(key).await?)
    }

    /// Removes every entry of `group` (a user's tokens).
    pub(crate) async fn remove_group(&self, group: &str) -> Result<(), Error> {
        Ok(self.inner.store.remove_group(group).await?)
    }

    /// Stores an entry. A failure is logged, not returned: the tokens were
    /// obtained and are handed to the caller either way.
    async fn put<T: Serialize>(
        &self,
        key: &str,
        group: Option<&str>,
        entry: &T,
        expires: Option<SystemTime>,
    ) {
        let bytes = match serde_json::to_vec(entry) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialize a cache entry");
                return;
            }
        };
        if let Err(e) = self.inner.store.put(key, group, &bytes, expires).await {
            tracing::warn!(error = %e, "cannot store a token in the cache; the next request will ask the identity provider again");
        }
    }

    /// Runs `fetch` for `key` unless a call for the same key is under way,
    /// in which case this waits for that call and shares its outcome.
    pub(crate) async fn single_flight<F, Fut>(
        &self,
        key: &str,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        let cell = {
            let mut flights = lock(&self.inner.flights);
            flights
                .entry(key.to_owned())
                .or_insert_with(|| Arc::new(OnceCell::new()))
                .clone()
        };
        let result = cell.get_or_init(fetch).await.clone();
        let mut flights = lock(&self.inner.flights);
        if flights.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            flights.remove(key);
        }
        result
    }

    /// An exclusive lock on `key` (a refresh token: one refresh at a time).
    pub(crate) async fn lock_key(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let mutex = {
            let mut locks = lock(&self.inner.locks);
            if locks.len() > 1024 {
                locks.retain(|_, weak| weak.strong_count() > 0);
            }
            match locks.get(key).and_then(Weak::upgrade) {
                Some(mutex) => mutex,
                None => {
                    let mutex = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.to_owned(), Arc::downgrade(&mutex));
                    mutex
                }
            }
        };
        mutex.lock_owned().await
    }
}

/// Lower-cased, sorted, deduplicated, without the OpenID Connect scopes.
pub(crate) fn normalize_scopes(scopes: &[String]) -> Vec<String> {
    let mut out: Vec<String> = scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_ascii_lowercase)
        .filter(|s| !OIDC_SCOPES.contains(&s.as_str()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_sets_are_normalized() {
        let scopes = vec![
            "api://x/Heroes.Write".to_owned(),
            "openid API://X/heroes.read offline_access".to_owned(),
            "api://x/heroes.write".to_owned(),
        ];
        assert_eq!(
            normalize_scopes(&scopes),
            ["api://x/heroes.read", "api://x/heroes.write"]
        );
        assert_eq!(
            TokenCache::access_key("c", "t", &Owner::App, &scopes),
            "c|t|app|at|api://x/heroes.read api://x/heroes.write"
        );
    }
}
