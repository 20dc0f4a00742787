//! The verified-token cache: a token seen before skips signature
//! verification and claim parsing.
//!
//! - The key is the whole token string, compared in full on every lookup:
//!   two tokens that differ in one byte never share an entry, and nothing an
//!   attacker sends can land on another token's entry. It is hashed with a
//!   randomly keyed hasher (ahash), so lookups cost a fast hash and one
//!   comparison instead of a SHA-256 of the token (which was most of the
//!   cost of a hit), and colliding hashes cannot be precomputed.
//! - Only tokens that passed every check are stored; failures never are, so
//!   a flood of forged tokens cannot grow the cache.
//! - Every hit re-checks `exp` (with the configured skew) and that the
//!   signing key is still published: an entry never outlives its token or
//!   its key.
//! - Memory is bounded by entries and by estimated bytes.

use aws_lc_rs::digest;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::Principal;

/// A SHA-256 digest (signing keys are bound to cache entries by theirs).
pub(crate) type Digest = [u8; 32];

/// The SHA-256 of some bytes.
pub(crate) fn digest_bytes(bytes: &[u8]) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// What is remembered about a validated token.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) principal: Principal,
    pub(crate) exp: i64,
    /// The signing key's fingerprint (SHA-256 of its public key).
    pub(crate) key: Digest,
    weight: u64,
}

#[derive(Debug, Clone)]
struct ByWeight {
    /// The least weight of an entry: `max_bytes / max_entries`, so that the
    /// weight capacity also bounds the number of entries.
    floor: u64,
}

impl Weighter<Box<str>, Entry> for ByWeight {
    fn weight(&self, _key: &Box<str>, entry: &Entry) -> u64 {
        entry.weight.max(self.floor)
    }
}

/// Bounded, concurrent map from tokens to validated principals.
pub(crate) struct TokenCache {
    entries: Cache<Box<str>, Entry, ByWeight>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("entries", &self.entries.len())
            .field("weight", &self.entries.weight())
            .finish()
    }
}

impl TokenCache {
    pub(crate) fn new(max_entries: usize, max_bytes: u64) -> Self {
        let max_entries = max_entries.max(1);
        let floor = (max_bytes / max_entries as u64).max(1);
        TokenCache {
            entries: Cache::with_weighter(max_entries, max_bytes.max(floor), ByWeight { floor }),
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Entry> {
        self.entries.get(token)
    }

    pub(crate) fn insert(&self, token: &str, principal: Principal, exp: i64, signing_key: Digest) {
        // The key is the token itself; the principal holds the decoded
        // claims (about the payload's size in strings and map nodes) plus
        // the fixed fields.
        let weight = (token.len() as u64).saturating_mul(3).saturating_add(512);
        self.entries.insert(
            token.into(),
            Entry {
                principal,
                exp,
                key: signing_key,
                weight,
            },
        );
    }

    pub(crate) fn remove(&self, token: &str) {
        self.entries.remove(token);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            bytes: self.entries.weight(),
        }
    }
}

/// How full the verified-token cache is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Tokens cached.
    pub entries: usize,
    /// The part of the byte budget in use: each entry counts its estimated
    /// memory, and at least `max_bytes / max_entries` (which is how one budget
    /// enforces both bounds). Never more than `max_bytes`.
    pub bytes: u64,
}
