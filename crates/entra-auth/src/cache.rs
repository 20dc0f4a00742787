//! The verified-token cache: a token seen before skips signature
//! verification and claim parsing.
//!
//! - The key is the whole token, compared in full on every lookup: two
//!   tokens that differ in one byte never share an entry, and nothing an
//!   attacker sends can land on another token's entry. Only its last 64
//!   bytes are hashed, with a randomly keyed hasher (ahash): in a stored
//!   (valid) token those are its RSA signature, which only the issuer can
//!   choose, so distinct entries do not share hashes, and a forged token
//!   that copies a valid one's tail costs one comparison and a miss.
//! - Why not a digest of the token as the key (32 bytes instead of the
//!   token's 1–2 KB)? Equality of digests is only as safe as the digest is
//!   collision-resistant against an attacker who chooses the tokens: a
//!   keyed non-cryptographic hash (ahash) is not, and a universal hash
//!   (GHASH, Poly1305) is only while its key and its outputs stay secret,
//!   which the map's timing and the hit-or-miss answers put at risk; a
//!   forged token that collided with a cached one would be accepted as that
//!   token's caller without any signature check. A cryptographic hash
//!   (SHA-256) is safe but costs a pass over the whole token on every hit:
//!   690 ns, forty times the exact comparison it would replace (`cargo
//!   bench -p entra-auth --features testing`, `cache_key`); and a principal
//!   needs the token's payload anyway
//!   ([`Principal::claims`](crate::Principal::claims) decodes it on
//!   demand). So the token is kept, once, shared by the key and the cached
//!   principal.
//! - An entry is one slot in the map (pointers to the token and to the
//!   principal, its `exp`, its key's fingerprint), the token, and the
//!   principal (which shares the token, and holds the claims it reads): a
//!   hit reads the slot, then the token and the principal's first lines
//!   (which hold the fields requirements read) at once; it allocates
//!   nothing.
//! - Only tokens that passed every check are stored; failures never are, so
//!   a flood of forged tokens cannot grow the cache, and each of them costs
//!   one verification.
//! - Admission and eviction are quick_cache's (a CLOCK-Pro variant): once
//!   the cache is full, a new entry starts on probation (the cold part, 3%
//!   of the cache) and is promoted to the protected part only when looked
//!   up again before it leaves; evicted entries are remembered as hashes
//!   (ghosts) for a while, and a ghost seen again is admitted straight into
//!   the protected part. A flood of one-shot tokens therefore only churns
//!   the probation part, and callers that returned once keep their entries
//!   (`cargo xtask bench scale`: 10,000 returning callers hit 100% of the
//!   time among 200,000 one-shot tokens). A caller first seen during a
//!   flood misses twice (its first call, and the call that finds its
//!   ghost) unless it returns while still on probation.
//! - Every hit re-checks `exp` (with the configured skew) and that the
//!   signing key is still published (a hash lookup): an entry never
//!   outlives its token or its key.
//! - Memory is bounded by entries and by estimated bytes.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use aws_lc_rs::digest;
use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use crate::Principal;

/// A SHA-256 digest (signing keys are bound to cache entries by theirs).
pub(crate) type Digest = [u8; 32];

/// The SHA-256 of some bytes.
pub(crate) fn digest_bytes(bytes: &[u8]) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// How many trailing bytes of a token are hashed.
const HASHED_TAIL: usize = 64;

fn hash_tail<H: Hasher>(token: &str, state: &mut H) {
    let bytes = token.as_bytes();
    bytes[bytes.len().saturating_sub(HASHED_TAIL)..].hash(state);
}

/// A stored token, shared with the principal validated from it (a cached
/// token is in memory once). Equal only to the same bytes, hashed by its
/// tail. The map's slot holds both pointers, the token's and the
/// principal's, so that a hit fetches the two at once.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenKey(Arc<str>);

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_tail(&self.0, state);
    }
}

/// A token looked up: hashed as [`TokenKey`], compared in full.
struct Lookup<'a>(&'a str);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_tail(self.0, state);
    }
}

impl Equivalent<TokenKey> for Lookup<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *key.0 == *self.0
    }
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

impl Weighter<TokenKey, Entry> for ByWeight {
    fn weight(&self, _key: &TokenKey, entry: &Entry) -> u64 {
        entry.weight.max(self.floor)
    }
}

/// Bounded, concurrent map from tokens to validated principals.
pub(crate) struct TokenCache {
    entries: Cache<TokenKey, Entry, ByWeight>,
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
        self.entries.get(&Lookup(token))
    }

    /// Remembers a principal that passed every check, under its token.
    pub(crate) fn insert(&self, principal: &Principal, signing_key: Digest) {
        // The token (held once), and the principal's owned copies of the
        // claims it reads. For a token made mostly of `groups`, those cost
        // about 1.4 times the token's bytes they came from (a group id is 52
        // base64 characters in the token, a 24-byte `String` and a 48-byte
        // block in memory): 2.5 times the token's length, and the
        // principal's fixed part, bound both. Measured for a typical
        // 1,132-byte token: 2.1 KB in all, estimated 3.3 KB.
        let weight = (principal.token().len() as u64)
            .saturating_mul(5)
            .div_ceil(2)
            .saturating_add(512);
        self.entries.insert(
            TokenKey(principal.token().clone()),
            Entry {
                principal: principal.clone(),
                exp: principal.exp(),
                key: signing_key,
                weight,
            },
        );
    }

    pub(crate) fn remove(&self, token: &str) {
        self.entries.remove(&Lookup(token));
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.entries.len(),
            bytes: self.entries.weight(),
            hits: self.entries.hits(),
            misses: self.entries.misses(),
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
    /// Lookups that found the token (since the validator was built). A hit
    /// whose token has expired, or whose key is gone, counts here too: the
    /// entry is then dropped and the token judged afresh (and refused).
    pub hits: u64,
    /// Lookups that did not: the token was verified in full (and cached
    /// only if it passed every check).
    pub misses: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::principal::Parts;
    use entra_core::claims::Claims;

    fn principal(token: &str, sub: &str) -> Principal {
        let payload = format!(r#"{{"sub":"{sub}","exp":1}}"#).into_bytes();
        let claims = Claims::read(&payload).unwrap();
        Parts::from_claims(&claims, None, 1)
            .unwrap()
            .with_token(token, 0)
    }

    #[test]
    fn tokens_sharing_a_hashed_tail_never_share_an_entry() {
        let cache = TokenCache::new(100, 1 << 20);
        let tail = "s".repeat(HASHED_TAIL);
        let a = format!("header-a.payload.{tail}");
        let b = format!("header-b.payload.{tail}");
        cache.insert(&principal(&a, "a"), [0; 32]);
        assert!(cache.get(&b).is_none(), "same tail, other head: a miss");
        cache.insert(&principal(&b, "b"), [0; 32]);
        assert_eq!(cache.get(&a).unwrap().principal.subject(), "a");
        assert_eq!(cache.get(&b).unwrap().principal.subject(), "b");
        // One byte more or less, anywhere, is another token.
        assert!(cache.get(&a[1..]).is_none());
        assert!(cache.get(&format!("{a}s")).is_none());
        cache.remove(&a);
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.get(&b).unwrap().principal.subject(), "b");
        // Tokens shorter than the tail are hashed whole.
        cache.insert(&principal("x.y.z", "short"), [0; 32]);
        assert_eq!(cache.get("x.y.z").unwrap().principal.subject(), "short");
        assert!(cache.get("x.y.").is_none());
        assert_eq!(cache.stats().entries, 2);
    }
}
