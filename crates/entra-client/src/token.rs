//! What a successful request gives the caller: an [`AccessToken`], and after
//! an interactive sign-in a [`SignIn`] (account, ID token, access token).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_auth::id_token::IdToken;

use crate::Account;

/// An access token and what is known about it. Its `Debug` output never
/// shows the token.
#[derive(Clone)]
pub struct AccessToken {
    pub(crate) secret: String,
    pub(crate) token_type: String,
    pub(crate) expires_on: i64,
    pub(crate) ext_expires_on: Option<i64>,
    pub(crate) scopes: Vec<String>,
    pub(crate) account: Option<Account>,
    pub(crate) from_cache: bool,
}

impl AccessToken {
    /// The token, to send as `Authorization: Bearer {token}`.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `Bearer {token}`: the `Authorization` header's value.
    pub fn authorization_header(&self) -> String {
        format!("Bearer {}", self.secret)
    }

    /// The token type (`Bearer`).
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// When the token expires, in seconds since the Unix epoch (on the
    /// client's clock).
    pub fn expires_on(&self) -> i64 {
        self.expires_on
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.expires_on).unwrap_or(0))
    }

    /// Entra's extended expiry (`ext_expires_in`), when it sent one: how long
    /// the token may be used while Entra itself is unreachable.
    pub fn ext_expires_on(&self) -> Option<i64> {
        self.ext_expires_on
    }

    /// The scopes granted, as the identity provider named them (the requested
    /// scopes when it did not say).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The user the token acts for (`None` for app-only and on-behalf-of tokens).
    pub fn account(&self) -> Option<&Account> {
        self.account.as_ref()
    }

    /// Whether it came from the cache rather than from the identity provider.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .field("scopes", &self.scopes)
            .field("account", &self.account)
            .field("from_cache", &self.from_cache)
            .finish()
    }
}

/// A completed interactive sign-in (authorization code or device code).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SignIn {
    /// Who signed in. Keep it in the session; it is the handle for
    /// [`Client::acquire_token_silent`](crate::Client::acquire_token_silent).
    pub account: Account,
    /// The validated ID token (keep its raw form for `id_token_hint` at sign-out).
    pub id_token: IdToken,
    /// The access token for the requested scopes (cached already).
    pub access_token: AccessToken,
}
