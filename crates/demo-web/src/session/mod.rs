//! Server-side sessions: an opaque cookie naming a record kept in an
//! entra-store [`Store`] (memory, SQLite or Redis: see `stores`).
//!
//! - The cookie holds 256 random bits, base64url; the store keys the record
//!   by the SHA-256 of that value, so reading the store gives no cookie.
//! - Cookie attributes (C18): `HttpOnly; SameSite=Lax; Path=/`, no `Domain`;
//!   under `https` the name is `__Host-demo-web-session` and the cookie is
//!   `Secure`, else `demo-web-session`. `Max-Age` is the session's lifetime.
//! - A session ends after an idle timeout or an absolute lifetime, whichever
//!   comes first; an ended session is deleted and the request is anonymous.
//!   The record is stored until then (the store's expiry is a clean-up
//!   bound: the session logic decides on the app's clock).
//! - Sign-in issues a fresh id and deletes the old record (C20); sign-out
//!   deletes the record and clears the cookie with the same attributes (C24).
//! - A record holds the anti-forgery token of the session's forms, the
//!   signed-in user (account and ID token: never sent to the browser) and
//!   the sign-ins under way (state, nonce, PKCE verifier, return path).

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_client::{Account, Clock, PendingAuthorization};
use entra_core::secrets_equal;
use entra_store::{Store, StoreError};
use http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

/// The cookie's name over `https` (the `__Host-` prefix: `Secure`, `Path=/`,
/// no `Domain`, so no other site or subdomain can set it).
pub const SECURE_COOKIE_NAME: &str = "__Host-demo-web-session";
/// The cookie's name over plain `http` (local development).
pub const COOKIE_NAME: &str = "demo-web-session";

/// At most this many sign-ins may be under way in one browser (tabs).
const MAX_PENDING_SIGN_INS: usize = 5;

/// A session's last use is written back at most this often.
const TOUCH_INTERVAL: i64 = 60;

/// What a session record holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SessionData {
    /// When the session was created (sign-in, or the first `/auth/login`).
    pub(crate) created_at: i64,
    /// When it was last used.
    pub(crate) last_seen: i64,
    /// The synchronizer token every form of this session carries.
    pub(crate) csrf_token: String,
    /// Who is signed in, if anyone.
    pub(crate) user: Option<SignedInUser>,
    /// Sign-ins started in this browser and not completed yet.
    #[serde(default)]
    pub(crate) sign_ins: Vec<PendingSignIn>,
}

/// The signed-in user.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SignedInUser {
    /// The account: the key of the user's tokens in the token cache.
    pub(crate) account: Account,
    /// The validated ID token, for `/me/tokens` and `id_token_hint` at sign-out.
    pub(crate) id_token: String,
}

impl std::fmt::Debug for SignedInUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedInUser")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// A sign-in under way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PendingSignIn {
    /// State, nonce, PKCE verifier (entra-client's own record).
    pub(crate) pending: PendingAuthorization,
    /// The local path to go to once signed in.
    pub(crate) return_to: String,
    /// When `/auth/login` started it.
    pub(crate) created_at: i64,
}

/// A live session: its id (the cookie's value) and its record.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    id: String,
    pub(crate) data: SessionData,
}

/// What a request's cookie leads to.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No session cookie.
    None,
    /// A cookie naming no live session: expired, signed out, or forged.
    Ended,
    /// A live session.
    Active(Box<Session>),
}

/// Why a session could not be loaded, started or saved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The store failed (its source is the backend's error).
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// The random number generator failed (a session id or an anti-forgery
    /// token).
    #[error("the random number generator failed")]
    Random,
    /// The record could not be encoded.
    #[error("cannot encode a session: {0}")]
    Encode(#[source] serde_json::Error),
    /// A session id is not a valid header value.
    #[error("a session id is not a valid header value")]
    Cookie,
}

/// Sessions: the store, the clock, the lifetimes and the cookie.
#[derive(Debug, Clone)]
pub(crate) struct Sessions {
    store: Arc<dyn Store>,
    clock: Clock,
    idle_timeout: i64,
    lifetime: i64,
    sign_in_timeout: i64,
    secure: bool,
}

impl Sessions {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        idle_timeout: i64,
        lifetime: i64,
        sign_in_timeout: i64,
        secure: bool,
    ) -> Self {
        Sessions {
            store,
            clock,
            idle_timeout,
            lifetime,
            sign_in_timeout,
            secure,
        }
    }

    /// Whether the store answers (a read of a key no session has).
    pub(crate) async fn ping(&self) -> bool {
        self.store.get("health-probe").await.is_ok()
    }

    /// Now, on the app's clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    /// How long a sign-in may take, in seconds.
    pub(crate) fn sign_in_timeout(&self) -> i64 {
        self.sign_in_timeout
    }

    /// The cookie's name.
    pub(crate) fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        }
    }

    /// The session the request's cookie names. An ended session is deleted;
    /// a live one has its last use recorded (at most once a minute).
    pub(crate) async fn load(&self, headers: &HeaderMap) -> Result<Loaded, SessionError> {
        let Some(id) = entra_core::cookie(headers, self.cookie_name()) else {
            return Ok(Loaded::None);
        };
        if !is_session_id(id) {
            return Ok(Loaded::Ended);
        }
        let key = store_key(id);
        let now = self.now();
        let Some(record) = self.store.get(&key).await? else {
            return Ok(Loaded::Ended);
        };
        let Ok(data) = serde_json::from_slice::<SessionData>(&record) else {
            // Written by another version: start over.
            self.store.remove(&key).await?;
            return Ok(Loaded::Ended);
        };
        if self.expires_at(&data) <= now {
            self.store.remove(&key).await?;
            return Ok(Loaded::Ended);
        }
        let mut session = Session {
            id: id.to_owned(),
            data,
        };
        if now.saturating_sub(session.data.last_seen) >= TOUCH_INTERVAL {
            session.data.last_seen = now;
            self.save(&session).await?;
        }
        Ok(Loaded::Active(Box::new(session)))
    }

    /// A new, empty (anonymous) session with a fresh id and anti-forgery
    /// token; not stored until [`save`](Self::save).
    pub(crate) fn fresh(&self) -> Result<Session, SessionError> {
        let now = self.now();
        Ok(Session {
            id: random_token()?,
            data: SessionData {
                created_at: now,
                last_seen: now,
                csrf_token: random_token()?,
                user: None,
                sign_ins: Vec::new(),
            },
        })
    }

    /// Stores the session's record (in no group) until it would expire.
    pub(crate) async fn save(&self, session: &Session) -> Result<(), SessionError> {
        let record = serde_json::to_vec(&session.data).map_err(SessionError::Encode)?;
        let expires_at = u64::try_from(self.expires_at(&session.data)).unwrap_or(0);
        self.store
            .put(
                &store_key(&session.id),
                None,
                &record,
                Some(UNIX_EPOCH + Duration::from_secs(expires_at)),
            )
            .await?;
        Ok(())
    }

    /// Deletes the session's record: its id names nothing any more.
    pub(crate) async fn destroy(&self, session: &Session) -> Result<(), SessionError> {
        self.store.remove(&store_key(&session.id)).await?;
        Ok(())
    }

    /// When a session ends: idle timeout or absolute lifetime for a
    /// signed-in session; the last sign-in's timeout for an anonymous one.
    fn expires_at(&self, data: &SessionData) -> i64 {
        if data.user.is_some() {
            data.last_seen
                .saturating_add(self.idle_timeout)
                .min(data.created_at.saturating_add(self.lifetime))
        } else {
            data.sign_ins
                .iter()
                .map(|s| s.created_at)
                .max()
                .unwrap_or(data.last_seen)
                .saturating_add(self.sign_in_timeout)
        }
    }

    /// `Set-Cookie` for `session`.
    pub(crate) fn set_cookie(&self, session: &Session) -> Result<HeaderValue, SessionError> {
        // As long as the session can live, from now: its absolute lifetime
        // once signed in, the sign-in timeout before.
        let max_age = if session.data.user.is_some() {
            session
                .data
                .created_at
                .saturating_add(self.lifetime)
                .saturating_sub(self.now())
                .max(0)
        } else {
            self.sign_in_timeout
        };
        HeaderValue::from_str(&format!(
            "{}={}; Max-Age={max_age}; {}",
            self.cookie_name(),
            session.id,
            self.attributes()
        ))
        .map_err(|_| SessionError::Cookie)
    }

    /// `Set-Cookie` that removes the cookie (same name and attributes).
    pub(crate) fn clear_cookie(&self) -> HeaderValue {
        let text = format!("{}=; Max-Age=0; {}", self.cookie_name(), self.attributes());
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }
}

impl Session {
    /// Adds a sign-in under way (the oldest goes when there are too many).
    pub(crate) fn push_sign_in(&mut self, sign_in: PendingSignIn) {
        self.data.sign_ins.push(sign_in);
        let excess = self
            .data
            .sign_ins
            .len()
            .saturating_sub(MAX_PENDING_SIGN_INS);
        self.data.sign_ins.drain(..excess);
    }

    /// Removes and returns the sign-in whose state is `state` (compared in
    /// constant time with each).
    pub(crate) fn take_sign_in(&mut self, state: &str) -> Option<PendingSignIn> {
        let index = self
            .data
            .sign_ins
            .iter()
            .position(|s| secrets_equal(s.pending.state(), state))?;
        Some(self.data.sign_ins.remove(index))
    }

    /// Whether `token` is this session's anti-forgery token.
    pub(crate) fn csrf_matches(&self, token: &str) -> bool {
        secrets_equal(&self.data.csrf_token, token)
    }
}

/// 32 random bytes, base64url (43 characters).
pub(crate) fn random_token() -> Result<String, SessionError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SessionError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn is_session_id(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The store's key for a session id: its SHA-256, base64url.
fn store_key(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        id.as_bytes(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(secure: bool) -> Sessions {
        Sessions::new(
            Arc::new(entra_store::MemoryStore::new()),
            Clock::system(),
            3600,
            86_400,
            600,
            secure,
        )
    }

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_str(cookie).unwrap_or_else(|_| HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn cookies_carry_the_hardened_attributes() {
        let plain = sessions(false);
        let session = plain.fresh().unwrap_or_else(|e| panic!("{e}"));
        let set = plain.set_cookie(&session).unwrap_or_else(|e| panic!("{e}"));
        let set = set.to_str().unwrap_or_default();
        assert!(set.starts_with("demo-web-session="), "{set}");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"));
        assert!(!set.contains("Secure") && !set.contains("Domain"));

        let secure = sessions(true);
        let set = secure
            .set_cookie(&session)
            .unwrap_or_else(|e| panic!("{e}"));
        let set = set.to_str().unwrap_or_default();
        assert!(set.starts_with("__Host-demo-web-session="), "{set}");
        assert!(set.contains("; Secure"));
        let clear = secure.clear_cookie();
        assert!(
            clear
                .to_str()
                .unwrap_or_default()
                .contains("Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure")
        );
    }

    #[tokio::test]
    async fn sessions_round_trip_and_end() {
        let sessions = sessions(false);
        let mut session = sessions.fresh().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(session.id.len(), 43);
        session.data.last_seen = sessions.now();
        sessions
            .save(&session)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let cookie = format!("other=1; demo-web-session={}", session.id);
        match sessions.load(&headers(&cookie)).await {
            Ok(Loaded::Active(loaded)) => {
                assert_eq!(loaded.data.csrf_token, session.data.csrf_token)
            }
            other => panic!("{other:?}"),
        }
        sessions
            .destroy(&session)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            sessions.load(&headers(&cookie)).await,
            Ok(Loaded::Ended)
        ));
        assert!(matches!(
            sessions.load(&HeaderMap::new()).await,
            Ok(Loaded::None)
        ));
        assert!(matches!(
            sessions.load(&headers("demo-web-session=short")).await,
            Ok(Loaded::Ended)
        ));
    }

    #[test]
    fn the_store_never_sees_the_id() {
        let id = random_token().unwrap_or_default();
        let key = store_key(&id);
        assert_ne!(key, id);
        assert_eq!(key.len(), 43);
    }
}
