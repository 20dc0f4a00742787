//! The verified-token cache is exactly as strict as validation without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::common::MockAuthority;
use entra_auth::testing::{TestIssuer, TestKey};
use entra_auth::{CacheStats, Clock, Error, InvalidToken, Validator};

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn is(result: &Result<entra_auth::Principal, Error>, reason: InvalidToken) -> bool {
    matches!(result, Err(Error::InvalidToken(r)) if *r == reason)
}

#[tokio::test]
async fn an_expired_token_is_rejected_on_a_hit() {
    let issuer = TestIssuer::new();
    let time = Arc::new(AtomicI64::new(now()));
    let clock = time.clone();
    let validator = Validator::new(
        issuer
            .config()
            .clock_skew(Duration::from_secs(60))
            .clock(Clock::from_fn(move || clock.load(Ordering::SeqCst)))
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = issuer.delegated(["Heroes.Read"]).expires_in(600).sign();
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(validator.cache_stats().entries, 1);
    // Still inside exp + skew: a hit.
    time.store(now() + 600 + 60, Ordering::SeqCst);
    assert!(validator.validate(&token).await.is_ok());
    // One second past exp + skew: rejected, and forgotten.
    time.store(now() + 600 + 61, Ordering::SeqCst);
    assert!(is(&validator.validate(&token).await, InvalidToken::Expired));
    assert_eq!(validator.cache_stats().entries, 0);
}

#[tokio::test]
async fn a_token_whose_key_was_removed_is_rejected_on_a_hit() {
    let authority = MockAuthority::start().await;
    let validator = authority.ready_validator(authority.config()).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    assert!(validator.validate(&token).await.is_ok());
    assert_eq!(validator.cache_stats().entries, 1);

    let k2 = TestKey::generate("k2");
    authority.add_key(&k2);
    authority.remove_key(authority.issuer.key().kid());
    validator.refresh().await.unwrap();
    assert!(is(
        &validator.validate(&token).await,
        InvalidToken::UnknownKey
    ));
    assert_eq!(validator.cache_stats().entries, 0);
}

#[tokio::test]
async fn a_key_rebound_to_another_tenant_invalidates_its_cached_tokens() {
    let authority = MockAuthority::start().await;
    let validator = authority.ready_validator(authority.config()).await;
    let token = authority.issuer.delegated(["Heroes.Read"]).sign();
    assert!(validator.validate(&token).await.is_ok());
    // The same key material, now bound to another tenant.
    let other = "https://login.microsoftonline.com/00000000-0000-4000-8000-000000000000/v2.0";
    authority.set_keys(vec![authority.issuer.key().jwk_with_issuer(other)]);
    validator.refresh().await.unwrap();
    assert!(is(&validator.validate(&token).await, InvalidToken::Issuer));
}

#[tokio::test]
async fn tokens_differing_in_one_byte_never_share_an_entry() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let token = issuer.delegated(["Heroes.Read"]).sign();
    assert!(validator.validate(&token).await.is_ok());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = token.as_bytes();
    let mut tried = 0;
    for position in (0..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        if bytes[position] == b'.' {
            continue;
        }
        let replacement = ALPHABET
            .iter()
            .copied()
            .find(|&c| c != bytes[position])
            .unwrap();
        let mut forged = bytes.to_vec();
        forged[position] = replacement;
        let forged = String::from_utf8(forged).unwrap();
        assert!(
            validator.validate(&forged).await.is_err(),
            "byte {position} changed, still accepted"
        );
        tried += 1;
    }
    assert!(tried > 100);
    assert_eq!(
        validator.cache_stats().entries,
        1,
        "failures are never cached"
    );
    // Two valid tokens for the same user are two entries.
    let other = issuer.delegated(["Heroes.Read"]).sign();
    assert_ne!(token, other);
    assert!(validator.validate(&other).await.is_ok());
    assert_eq!(validator.cache_stats().entries, 2);
}

#[tokio::test]
async fn cached_and_fresh_principals_are_the_same() {
    let issuer = TestIssuer::new();
    let cached = issuer.validator();
    let fresh = Validator::new(issuer.config().token_cache(false).build().unwrap()).unwrap();
    let token = issuer.delegated(["Heroes.Read"]).roles(["Admin"]).sign();
    let first = cached.validate(&token).await.unwrap();
    let hit = cached.validate(&token).await.unwrap();
    let uncached = fresh.validate(&token).await.unwrap();
    for p in [&hit, &uncached] {
        assert_eq!(p.claims(), first.claims());
        assert_eq!(p.key(), first.key());
        assert_eq!(p.scopes(), first.scopes());
        assert_eq!(p.roles(), first.roles());
    }
    assert_eq!(
        fresh.cache_stats(),
        CacheStats::default(),
        "the switch turns it off"
    );
}

#[tokio::test]
async fn memory_stays_within_the_entry_and_byte_bounds() {
    let issuer = TestIssuer::new();
    let by_entries = Validator::new(
        issuer
            .config()
            .token_cache_limits(50, 64 * 1024 * 1024)
            .build()
            .unwrap(),
    )
    .unwrap();
    let by_bytes = Validator::new(
        issuer
            .config()
            .token_cache_limits(100_000, 64 * 1024)
            .build()
            .unwrap(),
    )
    .unwrap();
    let tokens: Vec<String> = (0..400)
        .map(|_| issuer.delegated(["Heroes.Read"]).sign())
        .collect();
    for token in &tokens {
        assert!(by_entries.validate(token).await.is_ok());
        assert!(by_bytes.validate(token).await.is_ok());
    }
    let entries = by_entries.cache_stats();
    assert!(entries.entries <= 50, "{entries:?}");
    assert!(entries.entries >= 10, "the cache still works: {entries:?}");
    let bytes = by_bytes.cache_stats();
    assert!(bytes.bytes <= 64 * 1024, "{bytes:?}");
    assert!(bytes.entries < 400, "{bytes:?}");
    // Evicted tokens still validate (the slow way).
    for token in &tokens {
        assert!(by_entries.validate(token).await.is_ok());
    }
}

#[tokio::test]
async fn a_flood_of_forged_tokens_does_not_grow_the_cache() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let attacker = TestKey::generate(issuer.key().kid());
    for _ in 0..300 {
        let forged = issuer.delegated(["Heroes.Read"]).sign_with(&attacker);
        assert!(is(
            &validator.validate(&forged).await,
            InvalidToken::BadSignature
        ));
    }
    let stats = validator.cache_stats();
    assert_eq!((stats.entries, stats.bytes), (0, 0), "{stats:?}");
    assert_eq!((stats.hits, stats.misses), (0, 300), "{stats:?}");
}

#[tokio::test]
async fn an_invalid_token_is_never_admitted_however_often_it_is_sent() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let attacker = TestKey::generate(issuer.key().kid());
    let forged = issuer.delegated(["Heroes.Read"]).sign_with(&attacker);
    let valid = issuer.delegated(["Heroes.Read"]).sign();
    // A frequent token is what an admission policy favours: the forged one is
    // sent often, and verified (a miss) every time.
    for round in 1..=8u64 {
        assert!(is(
            &validator.validate(&forged).await,
            InvalidToken::BadSignature
        ));
        assert!(validator.validate(&valid).await.is_ok());
        let stats = validator.cache_stats();
        assert_eq!(stats.entries, 1, "only the valid token: {stats:?}");
        assert_eq!(stats.misses, round + 1, "{stats:?}");
        assert_eq!(stats.hits, round - 1, "{stats:?}");
    }
}

#[tokio::test]
async fn returning_callers_keep_their_entries_through_a_flood_of_one_shot_tokens() {
    // The shape of `cargo xtask bench scale`'s flood, scaled down: one-shot
    // tokens fill the cache; the returning callers call twice each; then
    // the flood goes on, ten times the cache's bounds, with a returning
    // caller's call after every twelve one-shot tokens, in turn: between two
    // calls of one caller come more one-shot tokens than the cache holds, so
    // a least-recently-used cache would have evicted it every time.
    const RETURNING: usize = 20;
    const CAPACITY: usize = 10 * RETURNING;
    const FLOOD: usize = 10 * CAPACITY;
    let issuer = TestIssuer::new();
    let validator = Validator::new(
        issuer
            .config()
            .token_cache_limits(CAPACITY, 64 * 1024 * 1024)
            .build()
            .unwrap(),
    )
    .unwrap();
    let mint = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| issuer.delegated(["Heroes.Read"]).sign())
            .collect()
    };
    let returning = mint(RETURNING);
    let one_shots = std::thread::scope(|s| {
        let halves: Vec<_> = (0..2)
            .map(|_| s.spawn(|| mint((CAPACITY + FLOOD) / 2)))
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    });
    let (fill, flood) = one_shots.split_at(CAPACITY);
    for token in fill {
        assert!(validator.validate(token).await.is_ok());
    }
    for token in returning.iter().chain(&returning) {
        assert!(validator.validate(token).await.is_ok());
    }
    let (mut calls, mut hits) = (0u64, 0u64);
    for (i, chunk) in flood.chunks(12).enumerate() {
        for one_shot in chunk {
            assert!(validator.validate(one_shot).await.is_ok());
        }
        let before = validator.cache_stats().hits;
        assert!(validator.validate(&returning[i % RETURNING]).await.is_ok());
        calls += 1;
        hits += validator.cache_stats().hits - before;
    }
    let rate = hits as f64 / calls as f64;
    assert!(
        rate > 0.95,
        "returning callers' hit rate {rate:.3} ({hits} of {calls}); {:?}",
        validator.cache_stats()
    );
}
