//! What entra-auth records through the `metrics` facade. The crate
//! installs no recorder and exports nothing: an application that installs
//! one (Prometheus, OpenTelemetry, StatsD...) gets these, and one that does
//! not pays an atomic load per recording.
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | `entra_auth_outcomes_total` | counter | `outcome`, `reason` |
//! | `entra_auth_token_cache_hits_total` | counter | |
//! | `entra_auth_token_cache_misses_total` | counter | |
//! | `entra_auth_token_cache_entries` | gauge | |
//! | `entra_auth_token_cache_bytes` | gauge | |
//! | `entra_auth_key_refreshes_total` | counter | `trigger`, `result` |
//! | `entra_auth_keys_age_seconds` | gauge | |
//! | `entra_auth_keys_last_refresh_timestamp_seconds` | gauge | |
//!
//! - `outcome` is `accepted`, `invalid_token`, `missing_token`,
//!   `invalid_request`, `token_too_large`, `insufficient_scope`,
//!   `client_not_allowed` or `keys_unavailable`; `reason` is, for
//!   `invalid_token`, the [`InvalidToken`] reason in snake case (`expired`,
//!   `bad_signature`, `audience`...), and the outcome again otherwise. A
//!   token validated by an outer layer and refused by an inner
//!   [`Require`](crate::Require) counts once as `accepted` (the token) and
//!   once as `insufficient_scope` (the route).
//! - `trigger` is `startup` (a request on a cold cache), `scheduled` (the
//!   background refresh), `unknown_kid` (a token named a key not yet
//!   known) or `manual` ([`Validator::refresh`](crate::Validator::refresh));
//!   `result` is `success` or `failure`.
//! - The cache's figures and the key set's age are published every few
//!   seconds by a task of the validator (inside a tokio runtime), not per
//!   request; with several validators in one process the cache figures add
//!   up and the age is the last one published.
//!
//! No label ever carries a token, a claim, a tenant or a URL: every value
//! comes from the fixed lists above.
//!
//! The request path records through handles registered once, when the
//! validator is built: build it after installing the recorder.

use std::sync::Mutex;

use metrics::{Counter, counter, gauge};

use crate::{Error, InvalidToken};

pub(crate) const OUTCOMES: &str = "entra_auth_outcomes_total";
pub(crate) const CACHE_HITS: &str = "entra_auth_token_cache_hits_total";
pub(crate) const CACHE_MISSES: &str = "entra_auth_token_cache_misses_total";
pub(crate) const CACHE_ENTRIES: &str = "entra_auth_token_cache_entries";
pub(crate) const CACHE_BYTES: &str = "entra_auth_token_cache_bytes";
pub(crate) const KEY_REFRESHES: &str = "entra_auth_key_refreshes_total";
pub(crate) const KEYS_AGE: &str = "entra_auth_keys_age_seconds";
pub(crate) const KEYS_LAST_REFRESH: &str = "entra_auth_keys_last_refresh_timestamp_seconds";

/// The bounded label of an [`InvalidToken`] reason.
pub(crate) fn reason_label(reason: InvalidToken) -> &'static str {
    match reason {
        InvalidToken::Malformed => "malformed",
        InvalidToken::Encrypted => "encrypted",
        InvalidToken::Algorithm => "algorithm",
        InvalidToken::EmbeddedKey => "embedded_key",
        InvalidToken::CriticalHeader => "critical_header",
        InvalidToken::UnsupportedHeader => "unsupported_header",
        InvalidToken::UnknownKey => "unknown_key",
        InvalidToken::BadSignature => "bad_signature",
        InvalidToken::Expired => "expired",
        InvalidToken::NotYetValid => "not_yet_valid",
        InvalidToken::IssuedInFuture => "issued_in_future",
        InvalidToken::Claims => "claims",
        InvalidToken::Issuer => "issuer",
        InvalidToken::Audience => "audience",
        InvalidToken::Tenant => "tenant",
        InvalidToken::Version => "version",
        InvalidToken::IdToken => "id_token",
        InvalidToken::NoScopeOrRoles => "no_scope_or_roles",
        // A reason added to entra-core later: still one bounded value.
        _ => "other",
    }
}

fn outcome(name: &'static str) -> Counter {
    counter!(OUTCOMES, "outcome" => name, "reason" => name)
}

/// The outcome counters, registered once per validator: recording one is an
/// atomic add on a handle, with no label built and no map looked up.
#[derive(Debug)]
pub(crate) struct Outcomes {
    accepted: Counter,
    invalid: Box<[(InvalidToken, Counter)]>,
    missing_token: Counter,
    invalid_request: Counter,
    token_too_large: Counter,
    insufficient_scope: Counter,
    client_not_allowed: Counter,
    keys_unavailable: Counter,
    other: Counter,
}

impl Outcomes {
    pub(crate) fn register() -> Self {
        metrics::describe_counter!(
            OUTCOMES,
            "Authentication outcomes: accepted, or why a request was refused"
        );
        metrics::describe_counter!(
            CACHE_HITS,
            "Verified-token cache lookups that found the token"
        );
        metrics::describe_counter!(
            CACHE_MISSES,
            "Verified-token cache lookups that did not (the token was verified in full)"
        );
        metrics::describe_gauge!(CACHE_ENTRIES, "Tokens in the verified-token cache");
        metrics::describe_gauge!(
            CACHE_BYTES,
            metrics::Unit::Bytes,
            "Estimated memory of the verified-token cache"
        );
        metrics::describe_counter!(
            KEY_REFRESHES,
            "Loads of the signing keys, by trigger and result"
        );
        metrics::describe_gauge!(
            KEYS_AGE,
            metrics::Unit::Seconds,
            "Time since the signing keys were last loaded successfully"
        );
        metrics::describe_gauge!(
            KEYS_LAST_REFRESH,
            metrics::Unit::Seconds,
            "Unix time of the last successful load of the signing keys"
        );
        Outcomes {
            accepted: counter!(OUTCOMES, "outcome" => "accepted", "reason" => "accepted"),
            invalid: InvalidToken::ALL
                .iter()
                .map(|&reason| {
                    (
                        reason,
                        counter!(OUTCOMES, "outcome" => "invalid_token", "reason" => reason_label(reason)),
                    )
                })
                .collect(),
            missing_token: outcome("missing_token"),
            invalid_request: outcome("invalid_request"),
            token_too_large: outcome("token_too_large"),
            insufficient_scope: outcome("insufficient_scope"),
            client_not_allowed: outcome("client_not_allowed"),
            keys_unavailable: outcome("keys_unavailable"),
            other: outcome("other"),
        }
    }

    /// Counts the result of a validation or of a route's check.
    #[inline]
    pub(crate) fn record<T>(&self, result: &Result<T, Error>) {
        match result {
            Ok(_) => self.accepted.increment(1),
            Err(error) => self.rejected(error),
        }
    }

    /// Counts a refusal.
    pub(crate) fn rejected(&self, error: &Error) {
        let counter = match error {
            Error::InvalidToken(reason) => self
                .invalid
                .iter()
                .find(|(r, _)| r == reason)
                .map_or(&self.other, |(_, c)| c),
            Error::MissingToken => &self.missing_token,
            Error::InvalidRequest(_) => &self.invalid_request,
            Error::TokenTooLarge => &self.token_too_large,
            Error::InsufficientScope { .. } => &self.insufficient_scope,
            Error::ClientNotAllowed => &self.client_not_allowed,
            Error::KeysUnavailable { .. } => &self.keys_unavailable,
            Error::Config(_) | Error::NotConfigured => &self.other,
        };
        counter.increment(1);
    }
}

/// Why the keys were loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    Startup,
    Scheduled,
    UnknownKid,
    Manual,
}

impl Trigger {
    fn label(self) -> &'static str {
        match self {
            Trigger::Startup => "startup",
            Trigger::Scheduled => "scheduled",
            Trigger::UnknownKid => "unknown_kid",
            Trigger::Manual => "manual",
        }
    }
}

/// Counts one load of the keys (rare: a label set per call is fine here).
pub(crate) fn key_refresh(trigger: Trigger, success: bool) {
    let result = if success { "success" } else { "failure" };
    counter!(KEY_REFRESHES, "trigger" => trigger.label(), "result" => result).increment(1);
    if success {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        gauge!(KEYS_LAST_REFRESH).set(now);
        gauge!(KEYS_AGE).set(0.0);
    }
}

/// The cache's figures as last published, so that each publication adds
/// only what changed: counters stay monotonic and several validators' gauges
/// add up (and a dropped validator takes its entries with it).
#[derive(Debug, Default)]
pub(crate) struct Published {
    last: Mutex<crate::CacheStats>,
}

impl Published {
    pub(crate) fn publish(&self, now: crate::CacheStats) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counter!(CACHE_HITS).increment(now.hits.saturating_sub(last.hits));
        counter!(CACHE_MISSES).increment(now.misses.saturating_sub(last.misses));
        gauge!(CACHE_ENTRIES).increment(now.entries as f64 - last.entries as f64);
        gauge!(CACHE_BYTES).increment(now.bytes as f64 - last.bytes as f64);
        *last = now;
    }

    /// Takes this cache's entries and bytes back out of the gauges.
    pub(crate) fn retract(&self) {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gauge!(CACHE_ENTRIES).decrement(last.entries as f64);
        gauge!(CACHE_BYTES).decrement(last.bytes as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_bounded_label() {
        let mut seen = std::collections::HashSet::new();
        for &reason in InvalidToken::ALL {
            let label = reason_label(reason);
            assert_ne!(label, "other", "{reason:?} has no label of its own");
            assert!(seen.insert(label), "{label} is used twice");
            assert!(
                label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{label}"
            );
        }
    }
}
