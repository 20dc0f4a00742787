//! The emulator's shared state: the directory, keys, clock, and the
//! short-lived and persisted records of the flows in progress.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};

use crate::config::{Directory, Tenant};
use crate::keys::KeyRing;
use crate::pages::anti_forgery::FormTokens;
use crate::request_log::RequestLog;
use crate::store::JsonFile;

/// Which listener a request came in on: endpoint URLs in discovery documents
/// point back to the same listener. (The issuer never depends on it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    /// The plain-HTTP listener.
    Http,
    /// The HTTPS listener.
    Https,
}

/// A code issued by `/authorize`, waiting for redemption.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub tenant_id: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub user_id: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<(String, String)>,
    pub expires: i64,
    pub auth_time: i64,
    /// Set once redeemed: a second redemption revokes this refresh-token family.
    pub redeemed_family: Option<String>,
}

/// A refresh token's record (stored under the SHA-256 of the token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RefreshRecord {
    pub family: String,
    pub tenant_id: String,
    pub client_id: String,
    pub user_id: String,
    /// Delegated scopes the family may ask for (full `{resource}/{scope}` form).
    pub scopes: Vec<String>,
    pub expires: i64,
    /// Used once already: with `refreshTokenReuse = "detect"`, presenting
    /// it again revokes the whole family (by default it stays valid, as in
    /// Entra).
    pub spent: bool,
    /// When the user signed in: the `auth_time` of ID tokens after a refresh.
    #[serde(default)]
    pub auth_time: Option<i64>,
}

/// Persisted refresh tokens and revoked families.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct RefreshStore {
    pub tokens: HashMap<String, RefreshRecord>,
    /// Every revoked family.
    pub revoked_families: HashSet<String>,
    /// The revoked families whose authorization code was redeemed twice (the
    /// others were revoked by a reused refresh token): the refusal says which.
    #[serde(default)]
    pub code_replayed_families: HashSet<String>,
}

/// A user's consent to a client's delegated scopes on a resource.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ConsentStore {
    /// `"{tenant}|{user}|{client}|{resource}"` → scope values.
    pub grants: HashMap<String, HashSet<String>>,
}

impl ConsentStore {
    pub(crate) fn key(tenant: &str, user: &str, client: &str, resource: &str) -> String {
        format!(
            "{}|{}|{}|{}",
            tenant.to_ascii_lowercase(),
            user.to_ascii_lowercase(),
            client.to_ascii_lowercase(),
            resource.to_ascii_lowercase()
        )
    }
}

/// A device-code flow in progress.
#[derive(Debug, Clone)]
pub(crate) struct DeviceFlow {
    pub tenant_id: String,
    pub client_id: String,
    pub user_code: String,
    pub scopes: Vec<String>,
    pub expires: i64,
    pub interval: i64,
    pub last_poll: Option<i64>,
    pub status: DeviceStatus,
}

/// Where a device-code flow stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    /// Waiting for the user.
    Pending,
    /// The user signed in and approved.
    Approved { user_id: String },
    /// The user declined.
    Declined,
    /// Tokens were issued: the code is spent.
    Redeemed,
}

/// One request the emulator received (for tests: "what did the client send?").
///
/// Only the values of parameters known to carry no secret are kept, cut to a
/// few hundred bytes with their full length noted (`…(1048576 bytes)`); every
/// other value is `***`.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// Unix seconds.
    pub time: i64,
    /// HTTP method.
    pub method: String,
    /// Path (the query string is not recorded: it can carry codes), cut like
    /// a value.
    pub path: String,
    /// Form or query parameter names and values, redacted by allow-list
    /// (at most 64).
    pub params: Vec<(String, String)>,
    /// Parameters beyond the first 64, counted but not kept.
    pub omitted_params: usize,
    /// The answer's status.
    pub status: u16,
    /// The AADSTS code of an error answer (token endpoint, sign-in pages), if any.
    pub aadsts: Option<u32>,
}

/// The AADSTS code an error answer carries, as a response extension the
/// request log reads (the body is never parsed for it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AadstsCode(pub u32);

/// A signed-in browser session at the emulator (single sign-on).
#[derive(Debug, Clone)]
pub(crate) struct BrowserSession {
    pub tenant_id: String,
    pub user_id: String,
    pub auth_time: i64,
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    /// The directory as an immutable snapshot: readers take the `Arc` and
    /// borrow from it without holding the lock or copying tenants; an
    /// administrative change swaps in a new snapshot.
    pub directory: RwLock<Arc<Directory>>,
    pub keys: KeyRing,
    pub data_dir: Option<PathBuf>,
    /// Base URL of the issuer (explicit configuration, never a `Host` header).
    pub issuer_base: String,
    pub http_base: RwLock<String>,
    pub https_base: RwLock<Option<String>>,
    clock_offset: AtomicI64,
    clock_fixed: AtomicI64,
    pub codes: Mutex<HashMap<String, AuthCode>>,
    pub refresh: JsonFile<RefreshStore>,
    pub consents: JsonFile<ConsentStore>,
    pub devices: Mutex<HashMap<String, DeviceFlow>>,
    pub sessions: Mutex<HashMap<String, BrowserSession>>,
    pub log: Mutex<RequestLog>,
    /// Pending sign-in and consent forms.
    pub(crate) sign_in_forms: FormTokens<crate::pages::authorize::txn::Pending>,
    /// Pending device-code verification steps.
    pub(crate) device_forms: FormTokens<crate::pages::devicelogin::Stage>,
    /// The secret the App Service-style managed-identity endpoint requires
    /// in `X-IDENTITY-HEADER` (`IDENTITY_HEADER`).
    pub(crate) identity_header: String,
    /// Validators of federated assertions' issuers, by issuer and audience
    /// (their keys cached and refreshed as for any API).
    pub(crate) federated_issuers: crate::federated::IssuerCache,
}

/// A tenant of a directory snapshot, borrowed without copying it: the
/// snapshot lives as long as the reference.
#[derive(Debug, Clone)]
pub(crate) struct TenantRef {
    directory: Arc<Directory>,
    index: usize,
}

impl TenantRef {
    /// The first tenant of `directory` that `matches`.
    pub(crate) fn find(
        directory: Arc<Directory>,
        matches: impl Fn(&Tenant) -> bool,
    ) -> Option<Self> {
        let index = directory.tenants.iter().position(matches)?;
        Some(TenantRef { directory, index })
    }
}

impl std::ops::Deref for TenantRef {
    type Target = Tenant;

    fn deref(&self) -> &Tenant {
        // The index was found in this same, immutable snapshot.
        &self.directory.tenants[self.index]
    }
}

impl State {
    pub(crate) fn new(
        directory: Directory,
        keys: KeyRing,
        data_dir: Option<PathBuf>,
        issuer_base: String,
        identity_header: String,
    ) -> Result<Self, crate::Error> {
        let dir = data_dir.as_deref();
        Ok(State {
            directory: RwLock::new(Arc::new(directory)),
            keys,
            issuer_base,
            http_base: RwLock::new(String::new()),
            https_base: RwLock::new(None),
            clock_offset: AtomicI64::new(0),
            clock_fixed: AtomicI64::new(i64::MIN),
            codes: Mutex::new(HashMap::new()),
            refresh: JsonFile::load(dir, "refresh-tokens.json")?,
            consents: JsonFile::load(dir, "consents.json")?,
            devices: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            log: Mutex::new(RequestLog::default()),
            sign_in_forms: FormTokens::default(),
            device_forms: FormTokens::default(),
            identity_header,
            federated_issuers: crate::federated::IssuerCache::default(),
            data_dir,
        })
    }

    /// Now, in Unix seconds, on the emulator's (possibly shifted) clock.
    pub(crate) fn now(&self) -> i64 {
        let fixed = self.clock_fixed.load(Ordering::Acquire);
        let base = if fixed == i64::MIN {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
        } else {
            fixed
        };
        base + self.clock_offset.load(Ordering::Acquire)
    }

    /// Shifts the clock by `seconds` (relative to real time or the fixed time).
    pub(crate) fn set_clock_offset(&self, seconds: i64) {
        self.clock_offset.store(seconds, Ordering::Release);
    }

    /// Freezes the clock at `unix` seconds (`None`: real time again).
    pub(crate) fn set_clock_fixed(&self, unix: Option<i64>) {
        self.clock_fixed
            .store(unix.unwrap_or(i64::MIN), Ordering::Release);
    }

    /// The current directory snapshot.
    pub(crate) fn dir(&self) -> Arc<Directory> {
        Arc::clone(
            &self
                .directory
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The directory for a change: replace the snapshot it holds.
    pub(crate) fn dir_mut(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Directory>> {
        self.directory
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The tenant named by id or domain, in the current snapshot.
    pub(crate) fn tenant(&self, name: &str) -> Option<TenantRef> {
        TenantRef::find(self.dir(), |t| {
            t.tenant_id.eq_ignore_ascii_case(name) || t.domain.eq_ignore_ascii_case(name)
        })
    }

    /// The base URL for endpoints served on `listener`.
    pub(crate) fn base(&self, listener: Listener) -> String {
        match listener {
            Listener::Https => read(&self.https_base)
                .clone()
                .unwrap_or_else(|| read(&self.http_base).clone()),
            Listener::Http => read(&self.http_base).clone(),
        }
    }

    /// The v2.0 issuer of a tenant (`{tenantid}` for the multi-tenant documents).
    pub(crate) fn issuer_v2(&self, tid: &str) -> String {
        if self.dir().settings.entra_issuers {
            format!("https://login.microsoftonline.com/{tid}/v2.0")
        } else {
            format!("{}/{tid}/v2.0", self.issuer_base)
        }
    }

    /// The v1.0 issuer of a tenant.
    pub(crate) fn issuer_v1(&self, tid: &str) -> String {
        if self.dir().settings.entra_issuers {
            format!("https://sts.windows.net/{tid}/")
        } else {
            format!("{}/{tid}/", self.issuer_base)
        }
    }

    /// Records a request in the bounded log.
    pub(crate) fn record(&self, record: RequestRecord) {
        lock(&self.log).push(record);
    }
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: every
/// critical section either completes or changes nothing).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}
