//! Validation cost, side by side with a bare RS256 signature verification
//! with the same key: what the checks beyond the signature cost.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use entra_auth::Require;
use entra_auth::testing::TestIssuer;

fn bench(c: &mut Criterion) {
    let issuer = TestIssuer::new();
    let token = issuer
        .delegated(["Heroes.Read", "Heroes.Write"])
        .roles(["User"])
        .sign();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Built inside the runtime, as an application does, and ready (keys in
    // the snapshot) before anything is measured.
    let (validator, cold) = rt.block_on(async {
        let validator = issuer.validator();
        let cold = entra_auth::Validator::new(issuer.config().token_cache(false).build().unwrap())
            .unwrap();
        validator.ready().await;
        cold.ready().await;
        (validator, cold)
    });
    let principal = rt.block_on(validator.validate(&token)).unwrap();
    // The same, recording into a Prometheus recorder (the validators above
    // were built before it was installed: theirs record into nothing).
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let recorded = rt.block_on(async {
        let recorded = issuer.validator();
        recorded.ready().await;
        recorded
    });
    rt.block_on(recorded.validate(&token)).unwrap();

    // The bare verification: the same key, the same signing input, the same signature.
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let key = ParsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        issuer.key().public_pkcs1_der(),
    )
    .unwrap();

    let mut group = c.benchmark_group("rs256");
    group.bench_function("bare_signature_verify", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    group.bench_function("validate_cold", |b| {
        b.iter(|| rt.block_on(cold.validate(black_box(&token))).unwrap())
    });
    group.bench_function("validate_cached", |b| {
        b.iter(|| rt.block_on(validator.validate(black_box(&token))).unwrap())
    });
    group.bench_function("validate_cached_prometheus", |b| {
        b.iter(|| rt.block_on(recorded.validate(black_box(&token))).unwrap())
    });
    assert!(
        prometheus
            .render()
            .contains(r#"entra_auth_outcomes_total{outcome="accepted",reason="accepted"}"#)
    );
    group.finish();

    // What a digest key for the verified-token cache would cost on every
    // hit (the token hashed in full), beside the exact comparison it would
    // replace (the token against a copy of it).
    let copy = token.clone();
    let mut group = c.benchmark_group("cache_key");
    group.bench_function("sha256_of_the_token", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes()))
        })
    });
    group.bench_function("compare_the_token", |b| {
        b.iter(|| black_box(token.as_str()) == black_box(copy.as_str()))
    });
    group.finish();

    let read = Require::scope_or_app_permission("Heroes.Read");
    let admin = Require::role("Admin").or(Require::all_scopes(["Heroes.Read", "Heroes.Write"]));
    let mut group = c.benchmark_group("require");
    group.bench_function("scope_or_app_permission", |b| {
        b.iter(|| black_box(&read).is_met(black_box(&principal)))
    });
    group.bench_function("role_or_all_scopes", |b| {
        b.iter(|| black_box(&admin).is_met(black_box(&principal)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
