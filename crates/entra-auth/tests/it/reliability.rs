#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Reliability of the key cache (security catalogue §3, R1-R10, and cases 33,
//! 37, 50, 60), compressed in time: the in-test authority from `common`
//! misbehaves (refuses, hangs, answers 5xx or garbage, rotates keys) and the
//! validator must keep serving cached keys, refresh on unknown `kid`s without
//! stampeding, back off while cold, and never replace good keys with bad ones.
//!
//! Counting rules of the harness (tests/common/mod.rs), used for exact counts:
//! one full load of a single-tenant Entra configuration fetches the v2 and the
//! v1 discovery documents (2 discovery hits), whose `jwks_uri`s differ
//! (`/{tid}/discovery/v2.0/keys` and `/common/discovery/keys`): 2 key-set hits.
//! A failing discovery fetch stops the load after 1 discovery hit. A refused
//! connection (`Fault::Refuse`) never reaches a handler and is not counted by
//! the authority; `Validator::key_fetches` counts it instead.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::common::{Fault, MockAuthority};
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{AuthConfig, Clock, Error, InvalidToken, Validator};
use serde_json::json;
use tokio::task::JoinSet;

/// Discovery documents fetched by one full load (v2 + v1).
const DISCOVERY_PER_LOAD: u64 = 2;
/// Key sets fetched by one full load (the v2 and v1 documents name different `jwks_uri`s).
const KEYS_PER_LOAD: u64 = 2;

const TEMPLATE_V2: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// A fetch client without connection pooling: the harness's `Fault::Refuse`
/// only closes *new* connections, so a pooled keep-alive connection would
/// otherwise keep reaching the authority during the "outage".
fn unpooled_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn wait_ready(validator: &Validator, within: Duration) {
    tokio::time::timeout(within, validator.ready())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "keys not loaded within {within:?}; last error: {:?}",
                validator.last_error()
            )
        });
    assert!(validator.is_ready());
}

/// Polls `condition` every 10 ms until it holds or `within` elapses.
async fn wait_until(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A v2 delegated token of the authority's issuer, signed with its key (K1).
fn k1_token(authority: &MockAuthority) -> String {
    authority.issuer.delegated(["Heroes.Read"]).sign()
}

/// A v2 delegated token naming `key`'s kid and signed with it.
fn token_signed_by(issuer: &TestIssuer, key: &TestKey) -> String {
    issuer
        .delegated(["Heroes.Read"])
        .header("kid", key.kid())
        .sign_with(key)
}

/// A token signed with the issuer's key but naming a random, unknown kid.
fn random_kid_token(issuer: &TestIssuer) -> String {
    issuer
        .delegated(["Heroes.Read"])
        .header("kid", random_guid())
        .sign()
}

fn invalid_reason(result: &Result<entra_auth::Principal, Error>) -> Option<InvalidToken> {
    match result {
        Err(Error::InvalidToken(reason)) => Some(*reason),
        _ => None,
    }
}

#[track_caller]
fn assert_rejected(
    result: &Result<entra_auth::Principal, Error>,
    expected: InvalidToken,
    what: &str,
) {
    assert_eq!(
        invalid_reason(result),
        Some(expected),
        "{what}: expected 401 {expected:?}, got {result:?}"
    );
}

/// Polls every future from the calling task itself, in order, until all are
/// done (a minimal `join_all`). The first future is polled before any task
/// spawned earlier gets to run on a current-thread runtime.
async fn join_inline<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.iter_mut().map(|o| o.take().unwrap()).collect())
        }
    })
    .await
}

// ---------------------------------------------------------------------------
// R1: warm cache, authority refusing connections, then answering 500
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r1_warm_cache_keeps_validating_while_the_authority_refuses_or_fails() {
    let authority = MockAuthority::start().await;
    let fetch_timeout = Duration::from_millis(500);
    let config = authority
        .config()
        .refresh_interval(Duration::from_secs(1))
        .fetch_timeout(fetch_timeout)
        .build()
        .unwrap();
    let validator = Validator::with_http_client(config, unpooled_client(fetch_timeout)).unwrap();
    wait_ready(&validator, Duration::from_secs(10)).await;

    let issuer = &authority.issuer;
    let tokens = [
        k1_token(&authority),
        issuer.delegated(["Heroes.Write"]).sign(),
        issuer.app_only(["Heroes.Read"]).sign(),
        issuer.delegated(["Heroes.Read"]).v1().sign(),
    ];

    // Phase 1: connections refused, several refresh intervals long.
    authority.set_fault(Fault::Refuse);
    let requests_before = validator.key_fetches();
    let outage = Duration::from_secs(4);
    let started = Instant::now();
    let (mut ok, mut failures) = (0u32, Vec::new());
    while started.elapsed() < outage {
        for token in &tokens {
            match validator.validate(token).await {
                Ok(_) => ok += 1,
                Err(e) => failures.push(e),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {} cached-key validations failed while the authority refused connections: {:?}",
        failures.len(),
        ok as usize + failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(ok >= 100, "only {ok} validations ran");
    // The outage is real (every refresh fails) and was noticed.
    assert!(
        validator.refresh().await.is_err(),
        "a refresh succeeded although every connection is refused"
    );
    assert!(validator.last_error().is_some());
    // Background attempts: one request each (the v2 discovery fetch fails),
    // at most one per refresh interval (1 s), plus the manual refresh above.
    let attempts = validator.key_fetches() - requests_before;
    let bound = elapsed.as_secs() + 3;
    assert!(
        (2..=bound).contains(&attempts),
        "{attempts} fetch attempts in {elapsed:?} of refused connections (expected 2..={bound}: \
         the background refresh must keep trying, but at most once per interval)"
    );

    // An unknown kid during the outage is a 401 (keys are loaded), not a 503.
    let unknown = validator.validate(&random_kid_token(issuer)).await;
    assert_rejected(
        &unknown,
        InvalidToken::UnknownKey,
        "unknown kid during the outage",
    );

    // Phase 2: the authority answers 500.
    authority.set_fault(Fault::Status(500));
    let discovery_before = authority.discovery_hits();
    let keys_before = authority.keys_hits();
    let started = Instant::now();
    let mut failures = Vec::new();
    while started.elapsed() < Duration::from_secs(3) {
        for token in &tokens {
            if let Err(e) = validator.validate(token).await {
                failures.push(e);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "cached-key validations failed while the authority answered 500: {:?}",
        &failures[..failures.len().min(5)]
    );
    let discovery = authority.discovery_hits() - discovery_before;
    let bound = elapsed.as_secs() + 2;
    assert!(
        (1..=bound).contains(&discovery),
        "{discovery} discovery fetches in {elapsed:?} of HTTP 500 (expected 1..={bound})"
    );
    assert_eq!(
        authority.keys_hits(),
        keys_before,
        "no key set is fetched when discovery fails"
    );
    assert!(validator.last_error().unwrap().contains("500"));

    // Recovery.
    authority.set_fault(Fault::None);
    validator.refresh().await.unwrap();
    assert!(validator.last_error().is_none());
    for token in &tokens {
        validator.validate(token).await.unwrap();
    }
}

// ---------------------------------------------------------------------------
// R2: authority hangs while the cache is warm
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r2_hanging_authority_never_delays_cached_key_validations() {
    let authority = MockAuthority::start().await;
    let fetch_timeout = Duration::from_secs(1);
    let validator = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600))
                .fetch_timeout(fetch_timeout),
        )
        .await;
    let issuer = &authority.issuer;
    let tokens = [
        k1_token(&authority),
        issuer.app_only(["Heroes.Read"]).sign(),
        issuer.delegated(["Heroes.Read"]).v1().sign(),
    ];

    authority.set_fault(Fault::Hang);
    let hits_before = authority.discovery_hits();
    let v = validator.clone();
    let stuck = tokio::spawn(async move {
        let started = Instant::now();
        let result = v.refresh().await;
        (result, started.elapsed())
    });
    assert!(
        wait_until(Duration::from_secs(5), || authority.discovery_hits()
            > hits_before)
        .await,
        "the refresh never reached the authority"
    );

    // While the refresh is stuck: every cached-kid validation is immediate.
    let mut slowest = Duration::ZERO;
    let mut count = 0u32;
    while !stuck.is_finished() {
        for token in &tokens {
            let started = Instant::now();
            let result = validator.validate(token).await;
            slowest = slowest.max(started.elapsed());
            count += 1;
            assert!(
                result.is_ok(),
                "cached-key validation failed during a hung refresh: {result:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        count >= 30,
        "only {count} validations ran during the hung refresh"
    );
    // Generous bound (a loaded 2-core box); waiting on the fetch would take
    // about fetch_timeout (1 s).
    assert!(
        slowest < Duration::from_millis(400),
        "a cached-key validation took {slowest:?} while a refresh hung"
    );

    // The stuck fetch ends with the fetch timeout, not later.
    let (result, elapsed) = stuck.await.unwrap();
    assert!(
        result.is_err(),
        "a refresh against a hanging authority succeeded"
    );
    assert!(
        elapsed >= fetch_timeout - Duration::from_millis(100),
        "the refresh ended after {elapsed:?}: it did not actually wait on the hung fetch"
    );
    assert!(
        elapsed <= fetch_timeout + Duration::from_secs(1),
        "the hung fetch took {elapsed:?}, more than fetch_timeout ({fetch_timeout:?}) + 1 s"
    );
    assert!(validator.last_error().is_some());

    // Single flight: three concurrent refreshes against the hanging
    // authority put at most one request in flight at a time.
    let hits_before = authority.discovery_hits();
    let mut refreshes = JoinSet::new();
    for _ in 0..3 {
        let v = validator.clone();
        refreshes.spawn(async move { v.refresh().await });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        authority.discovery_hits() - hits_before,
        1,
        "more than one fetch in flight at once"
    );
    // Validations stay immediate meanwhile.
    let started = Instant::now();
    validator.validate(&tokens[0]).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(400));
    while let Some(result) = refreshes.join_next().await {
        assert!(result.unwrap().is_err());
    }
    assert!(authority.discovery_hits() - hits_before <= 3);

    authority.set_fault(Fault::None);
    validator.refresh().await.unwrap();
}

// ---------------------------------------------------------------------------
// R3: garbage documents never replace the last-known-good keys
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_garbage_documents_never_replace_the_last_known_good_keys() {
    let authority = MockAuthority::start().await;
    let validator = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600)),
        )
        .await;
    let issuer = &authority.issuer;
    let k1 = issuer.key();
    let tokens = [
        k1_token(&authority),
        issuer.app_only(["Heroes.Read"]).sign(),
        issuer.delegated(["Heroes.Read"]).v1().sign(),
    ];
    let good_jwks = json!({ "keys": [k1.jwk()] }).to_string();

    let mut without_n = k1.jwk();
    without_n.as_object_mut().unwrap().remove("n");
    // Another RSA key published under K1's kid.
    let impostor = TestKey::generate(k1.kid());
    let html = "<!DOCTYPE html><html><head><title>Sign in</title></head>\
                <body>Service temporarily unavailable</body></html>";

    let cases: Vec<(&str, Fault)> = vec![
        ("HTML 200 key set", Fault::KeysBody(html.into())),
        (
            "HTML 200 everywhere (discovery too)",
            Fault::Body(html.into()),
        ),
        (
            "truncated JSON key set",
            Fault::KeysBody(good_jwks[..good_jwks.len() / 2].to_owned()),
        ),
        (
            "empty key set {\"keys\":[]}",
            Fault::KeysBody(r#"{"keys":[]}"#.into()),
        ),
        (
            "key set without a keys array",
            Fault::KeysBody(r#"{"kids":[]}"#.into()),
        ),
        (
            "a key set larger than 1 MiB (otherwise valid)",
            Fault::KeysBody(format!(
                r#"{{"keys":[{}],"padding":"{}"}}"#,
                k1.jwk(),
                "A".repeat(1024 * 1024 + 1024)
            )),
        ),
        (
            "the only key has no modulus n",
            Fault::KeysBody(json!({ "keys": [without_n] }).to_string()),
        ),
        (
            "the only key is kty AKP (ML-DSA)",
            Fault::KeysBody(
                json!({ "keys": [{
                    "kty": "AKP", "alg": "ML-DSA-44", "use": "sig",
                    "kid": random_guid(), "pub": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                }]})
                .to_string(),
            ),
        ),
        (
            "duplicate kid, impostor first",
            Fault::KeysBody(json!({ "keys": [impostor.jwk(), k1.jwk()] }).to_string()),
        ),
        (
            "duplicate kid, impostor second",
            Fault::KeysBody(json!({ "keys": [k1.jwk(), impostor.jwk()] }).to_string()),
        ),
    ];

    let mut problems: Vec<String> = Vec::new();
    for (name, fault) in cases {
        authority.set_fault(fault);
        let refreshed = validator.refresh().await;
        if refreshed.is_ok() {
            problems.push(format!(
                "{name}: refresh() returned Ok (the set was accepted)"
            ));
        }
        if validator.last_error().is_none() {
            problems.push(format!("{name}: last_error() is None after the refresh"));
        }
        if !validator.is_ready() {
            problems.push(format!("{name}: the validator is no longer ready"));
        }
        for token in &tokens {
            let result = validator.validate(token).await;
            if let Err(e) = result {
                problems.push(format!(
                    "{name}: a token signed with the last-known-good key is now refused: {e:?}"
                ));
            }
        }
        // Back to good keys before the next case.
        authority.set_fault(Fault::None);
        if let Err(e) = validator.refresh().await {
            problems.push(format!("{name}: recovery refresh failed: {e}"));
        }
        if validator.last_error().is_some() {
            problems.push(format!(
                "{name}: last_error() still set after a good refresh"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "garbage key documents were handled wrongly:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// R4: rotation
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r4_rotation_new_key_is_picked_up_with_exactly_one_extra_refresh() {
    let authority = MockAuthority::start().await;
    let validator = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600))
                .min_refresh_interval(Duration::from_secs(300)),
        )
        .await;
    let issuer = &authority.issuer;
    let k2 = TestKey::generate(random_guid());
    let k1_tokens = [
        k1_token(&authority),
        issuer.delegated(["Heroes.Read"]).v1().sign(),
    ];

    // T0: K2 is published next to K1.
    authority.add_key(&k2);
    let discovery_before = authority.discovery_hits();
    let keys_before = authority.keys_hits();

    // T1: the first K2 token is accepted right away (refresh on unknown kid).
    let first = validator.validate(&token_signed_by(issuer, &k2)).await;
    assert!(first.is_ok(), "the first K2 token was refused: {first:?}");
    assert_eq!(
        authority.keys_hits() - keys_before,
        KEYS_PER_LOAD,
        "exactly one extra refresh (both key sets once)"
    );
    assert_eq!(
        authority.discovery_hits() - discovery_before,
        DISCOVERY_PER_LOAD
    );

    // Later K2 tokens (v2 and v1) and the K1 tokens need no further fetch.
    let k2_v1 = issuer
        .delegated(["Heroes.Read"])
        .v1()
        .header("kid", k2.kid())
        .header("x5t", k2.kid())
        .sign_with(&k2);
    for _ in 0..20 {
        validator
            .validate(&token_signed_by(issuer, &k2))
            .await
            .unwrap();
    }
    validator.validate(&k2_v1).await.unwrap();
    for token in &k1_tokens {
        validator.validate(token).await.unwrap();
    }
    assert_eq!(authority.keys_hits() - keys_before, KEYS_PER_LOAD);
    assert_eq!(
        authority.discovery_hits() - discovery_before,
        DISCOVERY_PER_LOAD
    );

    // A token naming K2's kid but signed by K1 is still a forgery.
    let forged = issuer
        .delegated(["Heroes.Read"])
        .header("kid", k2.kid())
        .sign();
    assert_rejected(
        &validator.validate(&forged).await,
        InvalidToken::BadSignature,
        "K2 kid signed by K1",
    );
}

// ---------------------------------------------------------------------------
// R5 / case 60: revocation
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r5_revoked_key_is_rejected_after_the_next_refresh() {
    let authority = MockAuthority::start().await;
    let issuer = &authority.issuer;
    let k1 = issuer.key();
    let k2 = TestKey::generate(random_guid());
    authority.add_key(&k2);

    // A: refreshed explicitly. B: refreshed by the background task only
    // (its one free unknown-kid refresh is used up first).
    let manual = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600)),
        )
        .await;
    let interval = Duration::from_secs(1);
    let background = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(interval)
                .min_refresh_interval(Duration::from_secs(300)),
        )
        .await;
    assert_rejected(
        &background.validate(&random_kid_token(issuer)).await,
        InvalidToken::UnknownKey,
        "random kid",
    );

    let k1_tok = k1_token(&authority);
    let k1_v1 = issuer.delegated(["Heroes.Read"]).v1().sign();
    let k2_tok = token_signed_by(issuer, &k2);
    for v in [&manual, &background] {
        v.validate(&k1_tok).await.unwrap();
        v.validate(&k2_tok).await.unwrap();
    }

    // Emergency: K1 removed.
    authority.remove_key(k1.kid());
    let removed_at = Instant::now();

    manual.refresh().await.unwrap();
    assert_rejected(
        &manual.validate(&k1_tok).await,
        InvalidToken::UnknownKey,
        "K1 v2 token after refresh",
    );
    assert_rejected(
        &manual.validate(&k1_v1).await,
        InvalidToken::UnknownKey,
        "K1 v1 token after refresh",
    );
    manual.validate(&k2_tok).await.unwrap();

    // Background: rejected within one refresh interval (+5 % jitter) plus margin.
    let horizon = interval * 2 + Duration::from_secs(2);
    let mut rejected = false;
    while removed_at.elapsed() < horizon {
        let result = background.validate(&k1_tok).await;
        match invalid_reason(&result) {
            Some(InvalidToken::UnknownKey) => {
                rejected = true;
                break;
            }
            None if result.is_ok() => {}
            _ => panic!("unexpected answer for K1 during revocation: {result:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        rejected,
        "a token signed with the removed key K1 was still accepted {:?} after its removal \
         (refresh interval {interval:?})",
        removed_at.elapsed()
    );
    assert_rejected(
        &background.validate(&k1_v1).await,
        InvalidToken::UnknownKey,
        "K1 v1 token",
    );
    background.validate(&k2_tok).await.unwrap();
}

// ---------------------------------------------------------------------------
// R6 / case 33: unknown-kid flood
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r6_unknown_kid_flood_is_rejected_with_bounded_refetches() {
    let authority = MockAuthority::start().await;
    let validator = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600))
                .min_refresh_interval(Duration::from_secs(300)),
        )
        .await;
    let issuer = authority.issuer.clone();
    let flood: Vec<String> = (0..500).map(|_| random_kid_token(&issuer)).collect();
    let valid = k1_token(&authority);

    let discovery_before = authority.discovery_hits();
    let keys_before = authority.keys_hits();
    let mut set = JoinSet::new();
    for token in flood.clone() {
        let v = validator.clone();
        set.spawn(async move { v.validate(&token).await });
    }
    let mut wrong = Vec::new();
    while let Some(result) = set.join_next().await {
        let result = result.unwrap();
        if invalid_reason(&result) != Some(InvalidToken::UnknownKey) {
            wrong.push(format!("{result:?}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 500 random-kid tokens were not 401 UnknownKey: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(3)]
    );
    let key_fetches = authority.keys_hits() - keys_before;
    let discovery_fetches = authority.discovery_hits() - discovery_before;
    // One refresh (the first unknown kid is always allowed) + 1 tolerance.
    assert!(
        key_fetches <= 2 * KEYS_PER_LOAD && discovery_fetches <= 2 * DISCOVERY_PER_LOAD,
        "the flood caused {key_fetches} key-set and {discovery_fetches} discovery fetches \
         (at most 2 refreshes allowed with min_refresh_interval = 5 min)"
    );

    // A second flood mixed with valid traffic: no fetch at all, no false 401.
    let keys_before = authority.keys_hits();
    let mut set = JoinSet::new();
    for (i, token) in flood.into_iter().take(200).enumerate() {
        let v = validator.clone();
        set.spawn(async move { (false, i, v.validate(&token).await) });
        if i % 4 == 0 {
            let v = validator.clone();
            let valid = valid.clone();
            set.spawn(async move { (true, i, v.validate(&valid).await) });
        }
    }
    while let Some(result) = set.join_next().await {
        let (is_valid, i, result) = result.unwrap();
        if is_valid {
            assert!(
                result.is_ok(),
                "valid token #{i} refused during a flood: {result:?}"
            );
        } else {
            assert_rejected(&result, InvalidToken::UnknownKey, "flood token");
        }
    }
    assert_eq!(
        authority.keys_hits(),
        keys_before,
        "a flood within min_refresh_interval fetched the key set again"
    );
    validator.validate(&valid).await.unwrap();
}

// ---------------------------------------------------------------------------
// R7: cold start with the authority down
// ---------------------------------------------------------------------------

/// Current-thread runtime: the first request below is polled before the
/// background task's first iteration, deterministically.
#[tokio::test(flavor = "current_thread")]
async fn r7_cold_start_with_the_authority_down_backs_off_and_recovers() {
    let authority = MockAuthority::start().await;
    authority.set_fault(Fault::Status(503));
    let fetch_timeout = Duration::from_secs(1);
    // The refresh interval caps the background backoff: compressed "max backoff".
    let max_backoff = Duration::from_secs(3);
    let validator = Validator::new(
        authority
            .config()
            .refresh_interval(max_backoff)
            .fetch_timeout(fetch_timeout)
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(!validator.is_ready());
    let token = k1_token(&authority);

    let started = Instant::now();
    let window = Duration::from_secs(6);
    let mut requests = 0u32;
    // Every sampling interval (from before the previous read of the hit
    // counter to after this one) that saw new attempts: (from, to, attempts).
    let mut intervals: Vec<(Duration, Duration, u64)> = Vec::new();
    let mut last_hits = authority.discovery_hits();
    let mut last_read = Duration::ZERO;
    while started.elapsed() < window {
        let t = Instant::now();
        let result = validator.validate(&token).await;
        let took = t.elapsed();
        requests += 1;
        assert!(
            took <= fetch_timeout + Duration::from_secs(1),
            "a request waited {took:?} on a cold cache"
        );
        match &result {
            Err(e @ Error::KeysUnavailable { retry_after, .. }) => {
                assert_eq!(e.status(), 503);
                assert!(
                    *retry_after >= Duration::from_secs(1)
                        && *retry_after <= Duration::from_millis(37_500),
                    "Retry-After {retry_after:?}"
                );
                let response: http::Response<bytes::Bytes> = e.to_response();
                let header = response.headers()["retry-after"].to_str().unwrap();
                assert!(header.parse::<u64>().unwrap() >= 1, "Retry-After: {header}");
            }
            other => panic!("cold cache, authority down: expected 503, got {other:?}"),
        }
        assert!(!validator.is_ready());
        let before_read = started.elapsed();
        let hits = authority.discovery_hits();
        let after_read = started.elapsed();
        if hits != last_hits {
            intervals.push((last_read, after_read, hits - last_hits));
            last_hits = hits;
        }
        last_read = before_read;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each attempt lies inside its interval; two consecutive attempts are at
    // most (end of the later interval - start of the earlier) apart.
    let attempt_windows: Vec<(Duration, Duration)> = intervals
        .iter()
        .flat_map(|&(from, to, n)| std::iter::repeat_n((from, to), n as usize))
        .collect();
    let too_close: Vec<_> = attempt_windows
        .windows(2)
        .filter(|w| w[1].1.saturating_sub(w[0].0) < Duration::from_millis(900))
        .map(|w| (w[0], w[1]))
        .collect();
    let attempts = authority.discovery_hits();
    assert!(requests >= 30, "only {requests} requests ran");
    // Each failed attempt costs one discovery hit (v2 fails, v1 is not tried).
    // Backoff 1 s, 2 s, 4 s (capped at 3 s here) allows about 4 attempts in 6 s;
    // without backoff every request would fetch.
    assert!(
        (2..=6).contains(&attempts),
        "{attempts} fetch attempts in {window:?} of a down authority with {requests} requests \
         (expected 2..=6, exponential backoff); attempts seen in (from, to): {attempt_windows:?}"
    );
    assert_eq!(authority.keys_hits(), 0);
    assert!(validator.last_error().unwrap().contains("503"));

    // Recovery by itself: no request is sent until ready() resolves.
    authority.set_fault(Fault::None);
    let recovery = Instant::now();
    tokio::time::timeout(max_backoff + Duration::from_secs(4), validator.ready())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "not ready {:?} after the authority came back (max backoff {max_backoff:?})",
                recovery.elapsed()
            )
        });
    assert!(validator.is_ready());
    assert!(validator.last_error().is_none());
    for _ in 0..20 {
        validator.validate(&token).await.unwrap();
    }

    // A hanging authority on a cold cache: requests still answer 503 within
    // fetch_timeout + 1 s.
    let hanging = MockAuthority::start().await;
    hanging.set_fault(Fault::Hang);
    let validator = Validator::new(
        hanging
            .config()
            .fetch_timeout(fetch_timeout)
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = k1_token(&hanging);
    let mut set = JoinSet::new();
    for _ in 0..20 {
        let v = validator.clone();
        let token = token.clone();
        set.spawn(async move {
            let t = Instant::now();
            let result = v.validate(&token).await;
            (result, t.elapsed())
        });
    }
    while let Some(joined) = set.join_next().await {
        let (result, took) = joined.unwrap();
        assert!(
            matches!(result, Err(Error::KeysUnavailable { .. })),
            "hanging authority, cold cache: {result:?}"
        );
        assert!(
            took <= fetch_timeout + Duration::from_secs(1),
            "a request waited {took:?} (fetch_timeout {fetch_timeout:?})"
        );
    }

    // The backoff is one schedule for the background task and the request
    // path: after a failed attempt the next one waits at least 1 s.
    assert!(
        too_close.is_empty(),
        "cold cache, authority down: consecutive fetch attempts less than 0.9 s apart \
         (the first backoff step is 1 s): {too_close:?}; all attempts seen in (from, to): \
         {attempt_windows:?}"
    );
}

// ---------------------------------------------------------------------------
// R8: thundering herd on a cold cache
// ---------------------------------------------------------------------------

/// Current-thread runtime: the interleavings below are deterministic.
#[tokio::test(flavor = "current_thread")]
async fn r8_thundering_herd_on_a_cold_cache_fetches_everything_exactly_once() {
    // (a) 200 spawned validations right after the validator is built (its
    // background load is spawned first).
    // (b) 200 validations polled by the building task itself, so requests
    // reach the cache before the background task has run at all.
    for inline in [false, true] {
        let authority = MockAuthority::start().await;
        let validator = Validator::new(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600))
                .build()
                .unwrap(),
        )
        .unwrap();
        let tokens: Vec<String> = (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    k1_token(&authority)
                } else {
                    authority.issuer.delegated(["Heroes.Read"]).v1().sign()
                }
            })
            .collect();
        let results: Vec<Result<entra_auth::Principal, Error>> = if inline {
            join_inline(
                tokens
                    .iter()
                    .map(|t| {
                        let v = validator.clone();
                        async move { v.validate(t).await }
                    })
                    .collect(),
            )
            .await
        } else {
            let mut set = JoinSet::new();
            for token in tokens.clone() {
                let v = validator.clone();
                set.spawn(async move { v.validate(&token).await });
            }
            let mut results = Vec::new();
            while let Some(r) = set.join_next().await {
                results.push(r.unwrap());
            }
            results
        };
        let failed: Vec<_> = results.iter().filter(|r| r.is_err()).collect();
        assert!(
            failed.is_empty(),
            "herd ({}): {} of 200 failed: {:?}",
            if inline { "inline" } else { "spawned" },
            failed.len(),
            &failed[..failed.len().min(3)]
        );
        // Let any further (redundant) load that was already queued finish.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let mode = if inline {
            "requests before the background task"
        } else {
            "background task first"
        };
        assert_eq!(
            (authority.discovery_hits(), authority.keys_hits()),
            (DISCOVERY_PER_LOAD, KEYS_PER_LOAD),
            "herd of 200 ({mode}): (discovery, key-set) fetches; expected the v2 and v1 \
             documents and the two key sets exactly once each"
        );
        assert_eq!(validator.key_fetches(), DISCOVERY_PER_LOAD + KEYS_PER_LOAD);
    }
}

// ---------------------------------------------------------------------------
// R9 / cases 37, 50: multi-tenant isolation and key issuers
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r9_multi_tenant_allow_list_and_key_issuer_binding() {
    let authority = MockAuthority::start().await;
    let issuer = &authority.issuer;
    let key = issuer.key();
    let tenant_a = issuer.tenant_id().to_owned();
    let tenant_b = random_guid();
    let tenant_c = random_guid();

    let a_v2 = issuer.delegated(["Heroes.Read"]).sign();
    let a_v1 = issuer.delegated(["Heroes.Read"]).v1().sign();
    let a_app = issuer.app_only(["Heroes.Read"]).sign();
    let b_v2 = issuer.delegated(["Heroes.Read"]).tenant(&tenant_b).sign();
    let b_v1 = issuer
        .delegated(["Heroes.Read"])
        .v1()
        .tenant(&tenant_b)
        .sign();
    // Case 50: signed with the shared key, iss and tid disagree.
    let iss_a_tid_b = issuer
        .delegated(["Heroes.Read"])
        .claim("tid", tenant_b.clone())
        .sign();
    let iss_b_tid_a = issuer
        .delegated(["Heroes.Read"])
        .tenant(&tenant_b)
        .claim("tid", tenant_a.clone())
        .sign();

    // Allow-list.
    let allowed = authority
        .ready_validator(
            authority
                .multi_tenant_config()
                .allowed_tenants([tenant_a.clone()])
                .refresh_interval(Duration::from_secs(3600)),
        )
        .await;
    for (name, token) in [("A v2", &a_v2), ("A v1", &a_v1), ("A app", &a_app)] {
        let p = allowed.validate(token).await;
        assert!(p.is_ok(), "allow-list [A]: {name} refused: {p:?}");
        assert_eq!(p.unwrap().tenant_id(), Some(tenant_a.as_str()));
    }
    assert_rejected(
        &allowed.validate(&b_v2).await,
        InvalidToken::Tenant,
        "allow-list [A]: B v2",
    );
    assert_rejected(
        &allowed.validate(&b_v1).await,
        InvalidToken::Tenant,
        "allow-list [A]: B v1",
    );
    assert_rejected(
        &allowed.validate(&iss_a_tid_b).await,
        InvalidToken::Issuer,
        "iss A, tid B",
    );
    assert_rejected(
        &allowed.validate(&iss_b_tid_a).await,
        InvalidToken::Issuer,
        "iss B, tid A",
    );

    // Any tenant.
    let any = authority
        .ready_validator(
            authority
                .multi_tenant_config()
                .any_tenant()
                .refresh_interval(Duration::from_secs(3600)),
        )
        .await;
    for (name, token) in [
        ("A v2", &a_v2),
        ("A v1", &a_v1),
        ("B v2", &b_v2),
        ("B v1", &b_v1),
    ] {
        let p = any.validate(token).await;
        assert!(p.is_ok(), "any tenant: {name} refused: {p:?}");
    }
    assert_eq!(
        any.validate(&b_v2).await.unwrap().tenant_id(),
        Some(tenant_b.as_str())
    );
    assert_rejected(
        &any.validate(&iss_a_tid_b).await,
        InvalidToken::Issuer,
        "any: iss A, tid B",
    );
    assert_rejected(
        &any.validate(&iss_b_tid_a).await,
        InvalidToken::Issuer,
        "any: iss B, tid A",
    );

    // Key issuer = the v2 template: every tenant, v1 tokens compared in v2 form.
    authority.set_keys(vec![key.jwk_with_issuer(TEMPLATE_V2)]);
    any.refresh().await.unwrap();
    allowed.refresh().await.unwrap();
    for (name, token) in [
        ("A v2", &a_v2),
        ("A v1", &a_v1),
        ("B v2", &b_v2),
        ("B v1", &b_v1),
    ] {
        let p = any.validate(token).await;
        assert!(p.is_ok(), "template key issuer: {name} refused: {p:?}");
    }
    allowed.validate(&a_v1).await.unwrap();
    assert_rejected(
        &allowed.validate(&b_v2).await,
        InvalidToken::Tenant,
        "template key, allow-list: B",
    );

    // Case 37: a key bound to tenant A signs only tenant A's tokens.
    let a_issuer = format!("https://login.microsoftonline.com/{tenant_a}/v2.0");
    authority.set_keys(vec![key.jwk_with_issuer(&a_issuer)]);
    any.refresh().await.unwrap();
    any.validate(&a_v2).await.unwrap();
    any.validate(&a_v1).await.unwrap();
    assert_rejected(
        &any.validate(&b_v2).await,
        InvalidToken::Issuer,
        "key of tenant A, token of B (v2)",
    );
    assert_rejected(
        &any.validate(&b_v1).await,
        InvalidToken::Issuer,
        "key of tenant A, token of B (v1)",
    );

    // A key bound to another tenant C signs neither A's nor B's tokens.
    let c_issuer = format!("https://login.microsoftonline.com/{tenant_c}/v2.0");
    authority.set_keys(vec![key.jwk_with_issuer(&c_issuer)]);
    any.refresh().await.unwrap();
    allowed.refresh().await.unwrap();
    for (name, token) in [
        ("A v2", &a_v2),
        ("A v1", &a_v1),
        ("B v2", &b_v2),
        ("B v1", &b_v1),
    ] {
        assert_rejected(
            &any.validate(token).await,
            InvalidToken::Issuer,
            &format!("key of C: {name}"),
        );
    }
    assert_rejected(
        &allowed.validate(&a_v2).await,
        InvalidToken::Issuer,
        "allow-list, key of C: A v2",
    );

    // Case 50, single tenant: another tenant's token signed with the same
    // (shared) key is refused.
    authority.set_keys(vec![key.jwk()]);
    let single = authority
        .ready_validator(
            authority
                .config()
                .refresh_interval(Duration::from_secs(3600)),
        )
        .await;
    single.validate(&a_v2).await.unwrap();
    single.validate(&a_v1).await.unwrap();
    assert_rejected(
        &single.validate(&b_v2).await,
        InvalidToken::Issuer,
        "single tenant A: B v2",
    );
    assert_rejected(
        &single.validate(&b_v1).await,
        InvalidToken::Issuer,
        "single tenant A: B v1",
    );
    assert_rejected(
        &single.validate(&iss_a_tid_b).await,
        InvalidToken::Issuer,
        "single: iss A, tid B",
    );
}

// ---------------------------------------------------------------------------
// R10: clock skew boundaries with an injected clock
// ---------------------------------------------------------------------------

#[tokio::test]
async fn r10_clock_skew_boundaries_are_exact_and_deterministic() {
    const NOW: i64 = 1_800_000_000;
    let issuer = TestIssuer::new();
    let validator = Validator::new(
        issuer
            .config()
            .clock(Clock::from_fn(|| NOW))
            .clock_skew(Duration::from_secs(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let token = |exp: i64, nbf: i64, iat: i64| {
        issuer
            .delegated(["Heroes.Read"])
            .claim("exp", exp)
            .claim("nbf", nbf)
            .claim("iat", iat)
            .sign()
    };
    let cases: Vec<(&str, String, Option<InvalidToken>)> = vec![
        (
            "exp = now-300",
            token(NOW - 300, NOW - 3600, NOW - 3600),
            None,
        ),
        (
            "exp = now-301",
            token(NOW - 301, NOW - 3600, NOW - 3600),
            Some(InvalidToken::Expired),
        ),
        ("nbf = now+300", token(NOW + 3600, NOW + 300, NOW), None),
        (
            "nbf = now+301",
            token(NOW + 3600, NOW + 301, NOW),
            Some(InvalidToken::NotYetValid),
        ),
        ("iat = now+300", token(NOW + 3600, NOW, NOW + 300), None),
        (
            "iat = now+301",
            token(NOW + 3600, NOW, NOW + 301),
            Some(InvalidToken::IssuedInFuture),
        ),
    ];
    for round in 0..1000 {
        for (name, token, expected) in &cases {
            let result = validator.validate(token).await;
            match expected {
                None => assert!(result.is_ok(), "round {round}: {name} refused: {result:?}"),
                Some(reason) => assert_eq!(
                    invalid_reason(&result),
                    Some(*reason),
                    "round {round}: {name}: {result:?}"
                ),
            }
        }
    }

    // A server clock offset by less / more than the skew (system clock + offset),
    // with a margin of 10 s so the test does not depend on the second boundary.
    let real_now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let expires_now = issuer
        .delegated(["Heroes.Read"])
        .claim("exp", real_now)
        .claim("nbf", real_now - 600)
        .claim("iat", real_now - 600)
        .sign();
    let at_offset = |offset: i64| {
        Validator::new(
            issuer
                .config()
                .clock(Clock::offset(offset))
                .build()
                .unwrap(),
        )
        .unwrap()
    };
    assert!(at_offset(290).validate(&expires_now).await.is_ok());
    assert_rejected(
        &at_offset(310).validate(&expires_now).await,
        InvalidToken::Expired,
        "clock +310 s",
    );
    let starts_now = issuer
        .delegated(["Heroes.Read"])
        .claim("exp", real_now + 3600)
        .claim("nbf", real_now)
        .claim("iat", real_now)
        .sign();
    assert!(at_offset(-290).validate(&starts_now).await.is_ok());
    assert_rejected(
        &at_offset(-310).validate(&starts_now).await,
        InvalidToken::NotYetValid,
        "clock -310 s",
    );
}

// ---------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_false_until_keys_load_and_immediate_for_static_keys() {
    let authority = MockAuthority::start().await;
    authority.set_fault(Fault::Hang);
    let validator = Validator::new(
        authority
            .config()
            .fetch_timeout(Duration::from_millis(500))
            .build()
            .unwrap(),
    )
    .unwrap();
    assert!(!validator.is_ready());
    assert!(
        tokio::time::timeout(Duration::from_millis(800), validator.ready())
            .await
            .is_err(),
        "ready() resolved although no key could be loaded"
    );
    assert!(!validator.is_ready());
    let ready = validator.ready();
    authority.set_fault(Fault::None);
    tokio::time::timeout(Duration::from_secs(8), ready)
        .await
        .expect("ready() resolves once the authority answers");
    assert!(validator.is_ready());
    validator.validate(&k1_token(&authority)).await.unwrap();
    // Already ready: resolves at once.
    tokio::time::timeout(Duration::from_millis(100), validator.ready())
        .await
        .unwrap();

    // Static keys: ready from the start, no network.
    let issuer = TestIssuer::new();
    let static_validator = issuer.validator();
    assert!(static_validator.is_ready());
    tokio::time::timeout(Duration::from_millis(100), static_validator.ready())
        .await
        .expect("static keys are ready immediately");
    static_validator
        .validate(&issuer.delegated(["Heroes.Read"]).sign())
        .await
        .unwrap();
    assert_eq!(static_validator.key_fetches(), 0);
    static_validator.refresh().await.unwrap();
    assert_eq!(static_validator.key_fetches(), 0);
}

// ---------------------------------------------------------------------------
// Configuration rules
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_rules_refuse_insecure_or_ambiguous_authorities() {
    let client = random_guid();
    let tenant = random_guid();

    // http only on loopback (or with the explicit opt-in).
    let http_remote = AuthConfig::builder()
        .authority_host("http://login.contoso.example")
        .tenant(&tenant)
        .client_id(&client)
        .build();
    assert!(
        matches!(http_remote, Err(Error::Config(_))),
        "{http_remote:?}"
    );
    let oidc_http = AuthConfig::builder()
        .client_id(&client)
        .oidc_discovery(
            "http://idp.contoso.example/.well-known/openid-configuration",
            None,
        )
        .build();
    assert!(matches!(oidc_http, Err(Error::Config(_))), "{oidc_http:?}");
    assert!(
        AuthConfig::builder()
            .authority_host("https://login.contoso.example")
            .tenant(&tenant)
            .client_id(&client)
            .build()
            .is_ok()
    );

    // Multi-tenant needs an explicit tenant policy.
    let authority = MockAuthority::start().await;
    let bare = authority.multi_tenant_config().build();
    assert!(matches!(bare, Err(Error::Config(_))), "{bare:?}");
    let common = authority.multi_tenant_config().tenant("common").build();
    assert!(matches!(common, Err(Error::Config(_))), "{common:?}");
    assert!(authority.multi_tenant_config().any_tenant().build().is_ok());
    assert!(
        authority
            .multi_tenant_config()
            .allowed_tenants([authority.issuer.tenant_id()])
            .build()
            .is_ok()
    );

    // A single-tenant configuration whose discovery document names the
    // {tenantid} template is refused: never ready.
    let tid = authority.issuer.tenant_id().to_owned();
    let templated_doc = json!({
        "issuer": TEMPLATE_V2,
        "jwks_uri": format!("{}/common/discovery/v2.0/keys", authority.base()),
    });
    authority.set_fault(Fault::Body(templated_doc.to_string()));
    let single_on_template = Validator::new(authority.config().build().unwrap()).unwrap();

    // The reverse: multi-tenant on a concrete issuer.
    let concrete = MockAuthority::start().await;
    let concrete_doc = json!({
        "issuer": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "jwks_uri": format!("{}/{tid}/discovery/v2.0/keys", concrete.base()),
    });
    concrete.set_fault(Fault::Body(concrete_doc.to_string()));
    let multi_on_concrete =
        Validator::new(concrete.multi_tenant_config().any_tenant().build().unwrap()).unwrap();

    // A discovery document pointing at a plain-http, non-loopback jwks_uri.
    let insecure = MockAuthority::start().await;
    let insecure_doc = json!({
        "issuer": format!("https://login.microsoftonline.com/{}/v2.0", insecure.issuer.tenant_id()),
        "jwks_uri": "http://keys.contoso.example/discovery/v2.0/keys",
    });
    insecure.set_fault(Fault::Body(insecure_doc.to_string()));
    let insecure_keys = Validator::new(insecure.config().build().unwrap()).unwrap();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (name, validator, needle) in [
        (
            "single tenant on a {tenantid} issuer",
            &single_on_template,
            "{tenantid}".to_owned(),
        ),
        (
            "multi-tenant on a concrete issuer",
            &multi_on_concrete,
            tid.clone(),
        ),
        ("plain-http jwks_uri", &insecure_keys, "jwks_uri".to_owned()),
    ] {
        assert!(!validator.is_ready(), "{name}: the validator became ready");
        let error = validator.last_error();
        assert!(
            error.as_deref().is_some_and(|e| e.contains(&needle)),
            "{name}: last_error should explain ({needle}), got {error:?}"
        );
        let result = validator.validate(&k1_token(&authority)).await;
        assert!(
            matches!(result, Err(Error::KeysUnavailable { .. })),
            "{name}: {result:?}"
        );
    }
    assert_eq!(
        insecure.keys_hits(),
        0,
        "the http jwks_uri was never fetched"
    );
    assert_eq!(concrete.keys_hits(), 0);

    // Control: the same single-tenant validator loads once the document is right.
    authority.set_fault(Fault::None);
    wait_ready(&single_on_template, Duration::from_secs(8)).await;
}

// ---------------------------------------------------------------------------
// Generic OIDC mode (catalogue C27 / R12)
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generic_oidc_discovery_checks_the_expected_issuer() {
    let authority = MockAuthority::start().await;
    let issuer = &authority.issuer;
    let tid = issuer.tenant_id();
    let url = format!(
        "{}/{tid}/v2.0/.well-known/openid-configuration",
        authority.base()
    );
    let oidc = |expected: String| {
        AuthConfig::builder()
            .client_id(issuer.client_id())
            .oidc_discovery(url.clone(), Some(expected))
            .refresh_interval(Duration::from_secs(3600))
            .fetch_timeout(Duration::from_secs(2))
            .build()
            .unwrap()
    };

    let good = Validator::new(oidc(issuer.issuer_v2())).unwrap();
    wait_ready(&good, Duration::from_secs(10)).await;
    assert_eq!(authority.discovery_hits(), 1, "one discovery document");
    assert_eq!(authority.keys_hits(), 1, "one key set");
    let token = k1_token(&authority);
    good.validate(&token).await.unwrap();
    good.validate(&issuer.app_only(["Heroes.Read"]).sign())
        .await
        .unwrap();
    // Tokens of another issuer (the v1 form) are refused.
    assert_rejected(
        &good
            .validate(&issuer.delegated(["Heroes.Read"]).v1().sign())
            .await,
        InvalidToken::Issuer,
        "v1 issuer against an OIDC v2 issuer",
    );

    // C27: the discovery issuer differs from the expected one.
    let other = format!("https://login.microsoftonline.com/{}/v2.0", random_guid());
    let mismatch = Validator::new(oidc(other)).unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(1500), mismatch.ready())
            .await
            .is_err(),
        "a discovery document with another issuer was accepted"
    );
    assert!(!mismatch.is_ready());
    let error = mismatch.last_error();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("issuer")),
        "{error:?}"
    );
    assert!(matches!(
        mismatch.validate(&token).await,
        Err(Error::KeysUnavailable { .. })
    ));

    // R12: the issuer changes on a later refresh: refused, previous config kept.
    let changed = json!({
        "issuer": "https://idp.contoso.example/",
        "jwks_uri": format!("{}/{tid}/discovery/v2.0/keys", authority.base()),
    });
    authority.set_fault(Fault::Body(changed.to_string()));
    assert!(
        good.refresh().await.is_err(),
        "a changed issuer was accepted"
    );
    assert!(good.is_ready());
    good.validate(&token).await.unwrap();
}

// ---------------------------------------------------------------------------
// Dropping every Validator clone stops the background task
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_validator_stops_the_background_refresh() {
    let authority = MockAuthority::start().await;
    let validator = authority
        .ready_validator(authority.config().refresh_interval(Duration::from_secs(1)))
        .await;
    let clone = validator.clone();

    // The background refresh is running: about 2 loads in 2.6 s.
    let before = authority.discovery_hits();
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let running = authority.discovery_hits() - before;
    assert!(
        running >= DISCOVERY_PER_LOAD,
        "the background refresh did not run ({running} discovery hits in 2.6 s)"
    );

    drop(validator);
    drop(clone);
    // A refresh already under way may finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_drop = authority.discovery_hits();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        authority.discovery_hits(),
        after_drop,
        "the background refresh kept fetching after every Validator was dropped"
    );
}
