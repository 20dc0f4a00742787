//! Every failure of the crate, and the OAuth error the identity provider
//! answered with ([`ServerError`]: `error`, AADSTS code, trace id,
//! correlation id).
//!
//! No variant ever holds a token, a code, a verifier or a secret: they can be
//! logged and shown. Texts that come from the identity provider or from a
//! callback URL (`error_description`) are untrusted: escape them before
//! rendering them in HTML.

use std::fmt;
use std::sync::Arc;

use entra_auth::id_token::IdTokenError;
pub use entra_store::StoreError;

/// Everything that can go wrong while getting a token.
///
/// Cheap to clone: concurrent callers waiting for the same token all receive
/// the one outcome of the one request made for them.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or contradicts itself: a bad authority
    /// host, tenant, client id, redirect URI or scope list, an unreadable
    /// certificate, plain `http` to a non-loopback host, a public client asked
    /// for an app-only flow.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The client credential could not produce a client assertion: the
    /// signature failed, the assertion callback failed, the federated token
    /// file is unreadable or holds no JWT, the managed identity gave no
    /// token for `api://AzureADTokenExchange`.
    #[error("the client credential failed: {0}")]
    Credential(String),

    /// The OpenID Connect metadata document could not be fetched, is not
    /// JSON, or names endpoints this client may not use.
    #[error("discovery failed at {url}: {reason}")]
    Discovery {
        /// The metadata document's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },

    /// The HTTP request did not complete (connection refused, TLS, reset).
    #[error("the request to {url} failed: {source}")]
    Http {
        /// The endpoint.
        url: String,
        /// The transport error.
        #[source]
        source: Arc<reqwest::Error>,
    },

    /// The HTTP request did not complete in time (the client's connect or
    /// total timeout).
    #[error("the request to {url} timed out")]
    Timeout {
        /// The endpoint.
        url: String,
    },

    /// The identity provider answered with neither a token response nor an
    /// OAuth error (an HTML error page, a proxy's answer, a token response
    /// without an access token or with another token type).
    #[error("unexpected answer from {url} (HTTP {status}): {reason}")]
    UnexpectedResponse {
        /// The endpoint.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
    },

    /// The identity provider refused the request with an OAuth error: wrong
    /// secret (AADSTS7000215), unknown client (700016), invalid scope
    /// (70011, 1002012), PKCE mismatch (501481), a reused code (54005)...
    /// The [`ServerError`] carries the AADSTS code, trace id and correlation id.
    #[error("{0}")]
    Authority(Box<ServerError>),

    /// No token can be had without the user: nothing is cached for this
    /// account (`server` is `None`), or the identity provider refused to
    /// continue silently (an expired or revoked refresh token, MFA, consent,
    /// conditional access: `server` says which). Send the user through
    /// [`Client::authorize_url`](crate::Client::authorize_url) again.
    #[error("user interaction is required: {}", match server {
        Some(server) => server.to_string(),
        None => "no refresh token is cached for this account".to_owned(),
    })]
    InteractionRequired {
        /// The identity provider's answer, when it refused.
        server: Option<Box<ServerError>>,
    },

    /// The callback's `state` is missing or is not the one of this pending
    /// authorization: a forged or swapped callback (login CSRF).
    #[error("the callback's state does not match this sign-in")]
    StateMismatch,

    /// This authorization was completed already: the callback was replayed.
    #[error("this sign-in was completed already (the callback was replayed)")]
    StateReplayed,

    /// The pending authorization is older than the client's authorization
    /// lifetime (10 minutes by default).
    #[error("the sign-in took too long; start again")]
    AuthorizationExpired,

    /// The callback has the right `state` but neither a `code` nor an `error`.
    #[error("the callback carries no authorization code")]
    MissingCode,

    /// The authorization endpoint sent the user back with an `error`:
    /// `access_denied` when the user declined consent, `consent_required` or
    /// `login_required` for `prompt=none`, `invalid_request`... The
    /// description comes from the URL: untrusted, escape it.
    #[error("the sign-in was refused: {0}")]
    AuthorizationDenied(Box<ServerError>),

    /// The ID token failed validation: signature, issuer, audience,
    /// authorized party, lifetime, required claims, or nonce.
    #[error("{0}")]
    IdToken(#[from] IdTokenError),

    /// The device code expired before the user completed the sign-in.
    #[error("the device code expired before the sign-in was completed")]
    DeviceCodeExpired,

    /// The user declined the device-code sign-in.
    #[error("the user declined the device-code sign-in")]
    DeviceCodeDeclined,

    /// The token store failed: the database or Redis is unreachable, a query
    /// failed. The [`StoreError`] (behind an `Arc`: errors are shared
    /// between concurrent callers) is this error's
    /// [`source`](std::error::Error::source), and its own source is the
    /// backend's error.
    #[error("token store: {0}")]
    Store(#[source] Arc<StoreError>),

    /// The credential is not configured here, or its source is absent (no
    /// managed identity endpoint answered, no identity is assigned): a
    /// [`DefaultAzureCredential`](crate::DefaultAzureCredential) goes on to
    /// its next step.
    #[error("credential unavailable: {0}")]
    CredentialUnavailable(String),

    /// The managed identity endpoint refused the request (an unknown
    /// identity, a bad resource, a wrong `X-IDENTITY-HEADER`), or kept
    /// answering an error that may pass after the retries. `reason` is the
    /// endpoint's text: untrusted, escape it before rendering it in HTML.
    #[error("the managed identity endpoint {url} refused (HTTP {status}): {reason}")]
    ManagedIdentity {
        /// The endpoint.
        url: String,
        /// The last HTTP status.
        status: u16,
        /// What the endpoint said.
        reason: String,
    },

    /// No credential of a [`DefaultAzureCredential`](crate::DefaultAzureCredential)
    /// gave a token: each one tried, and why.
    #[error("{0}")]
    CredentialChain(Box<crate::chain::ChainError>),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::Store(Arc::new(error))
    }
}

impl Error {
    /// The identity provider's error, when there is one.
    pub fn server_error(&self) -> Option<&ServerError> {
        match self {
            Error::Authority(server) | Error::AuthorizationDenied(server) => Some(server),
            Error::InteractionRequired {
                server: Some(server),
            } => Some(server),
            _ => None,
        }
    }

    /// The AADSTS code of the identity provider's error, when there is one.
    pub fn aadsts(&self) -> Option<u32> {
        self.server_error().and_then(|s| s.aadsts)
    }

    /// The identity provider's trace id, when there is one (quote it to
    /// Microsoft support).
    pub fn trace_id(&self) -> Option<&str> {
        self.server_error().and_then(|s| s.trace_id.as_deref())
    }

    /// The correlation id of the failed request, when there is one.
    pub fn correlation_id(&self) -> Option<&str> {
        self.server_error()
            .and_then(|s| s.correlation_id.as_deref())
    }

    /// Whether the user must sign in (again) interactively.
    pub fn is_interaction_required(&self) -> bool {
        matches!(self, Error::InteractionRequired { .. })
    }
}

/// An OAuth error as Entra ID sends it, from the token endpoint (JSON) or to
/// the redirect URI (query parameters).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ServerError {
    /// The OAuth `error` (`invalid_grant`, `invalid_client`, `access_denied`...).
    pub error: String,
    /// `error_description`: `AADSTSnnnnn: text`, then trace id, correlation id
    /// and timestamp lines. Untrusted text: escape it before rendering.
    pub description: Option<String>,
    /// The AADSTS code: `error_codes[0]`, else the `AADSTSnnnnn:` prefix of
    /// the description.
    pub aadsts: Option<u32>,
    /// Every code of `error_codes`.
    pub error_codes: Vec<u32>,
    /// `suberror` (`consent_required`, `basic_action`, `bad_token`...).
    pub suberror: Option<String>,
    /// `trace_id`: Entra's id of the request.
    pub trace_id: Option<String>,
    /// `correlation_id`: the client's `client-request-id`, echoed.
    pub correlation_id: Option<String>,
    /// `timestamp`.
    pub timestamp: Option<String>,
    /// `claims`: a conditional-access challenge to send with the next
    /// interactive request.
    pub claims: Option<String>,
    /// `error_uri`.
    pub error_uri: Option<String>,
    /// The HTTP status (`None` for an error sent to the redirect URI).
    pub status: Option<u16>,
}

impl ServerError {
    /// Builds the error of a redirect (`error`, `error_description`, ...).
    pub(crate) fn from_redirect(
        error: &str,
        description: Option<&str>,
        error_uri: Option<&str>,
        subcode: Option<&str>,
    ) -> Self {
        let mut server = ServerError {
            error: error.to_owned(),
            description: description.map(str::to_owned),
            error_uri: error_uri.map(str::to_owned),
            suberror: subcode.map(str::to_owned),
            ..ServerError::default()
        };
        server.fill_from_description();
        server
    }

    /// Completes the AADSTS code, trace id, correlation id and timestamp from
    /// the description's text when the fields are absent.
    pub(crate) fn fill_from_description(&mut self) {
        let Some(description) = self.description.clone() else {
            return;
        };
        if self.aadsts.is_none() {
            self.aadsts = self
                .error_codes
                .first()
                .copied()
                .or_else(|| aadsts_prefix(&description));
        }
        for line in description.lines() {
            let line = line.trim();
            let take = |label: &str, field: &mut Option<String>| {
                if field.is_none()
                    && let Some(value) = line.strip_prefix(label)
                    && !value.trim().is_empty()
                {
                    *field = Some(value.trim().to_owned());
                }
            };
            take("Trace ID:", &mut self.trace_id);
            take("Correlation ID:", &mut self.correlation_id);
            take("Timestamp:", &mut self.timestamp);
        }
    }

    /// The first line of the description (without the trace lines).
    pub fn summary(&self) -> Option<&str> {
        self.description
            .as_deref()
            .and_then(|d| d.lines().next())
            .map(str::trim)
    }
}

/// `AADSTS50076: ...` → 50076.
fn aadsts_prefix(description: &str) -> Option<u32> {
    let rest = description.trim_start().strip_prefix("AADSTS")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if rest[digits.len()..].starts_with(':') {
        digits.parse().ok()
    } else {
        None
    }
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(code) = self.aadsts {
            write!(f, " (AADSTS{code})")?;
        }
        if let Some(summary) = self.summary() {
            // The summary repeats the code: drop the prefix.
            let text = match summary.split_once(": ") {
                Some((prefix, text)) if prefix.starts_with("AADSTS") => text,
                _ => summary,
            };
            write!(f, ": {text}")?;
        }
        if let Some(trace) = &self.trace_id {
            write!(f, "; trace id {trace}")?;
        }
        if let Some(correlation) = &self.correlation_id {
            write!(f, "; correlation id {correlation}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_and_ids_come_from_the_description_when_absent() {
        let s = ServerError::from_redirect(
            "access_denied",
            Some(
                "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: t-1\r\nCorrelation ID: c-1\r\nTimestamp: 2026-01-01 00:00:00Z",
            ),
            None,
            Some("cancel"),
        );
        assert_eq!(s.aadsts, Some(65_004));
        assert_eq!(s.trace_id.as_deref(), Some("t-1"));
        assert_eq!(s.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(
            s.to_string(),
            "access_denied (AADSTS65004): User declined to consent to access the app.; trace id t-1; correlation id c-1"
        );
        assert_eq!(aadsts_prefix("AADSTS12 no colon"), None);
        assert_eq!(aadsts_prefix("nothing"), None);
    }
}
