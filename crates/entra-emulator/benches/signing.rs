//! Token minting cost, side by side with a bare RS256 signature from a key of
//! the same size: what building Entra's claims and encoding the JWS cost on
//! top of the RSA operation.
//!
//! Minting is measured through [`Emulator::mint_access_token`], the
//! library's documented way to mint a token (what tests call), so the
//! emulator's internals stay private. Beyond the claims, the header and the
//! signature it finds the tenant and the registrations by id in the
//! directory snapshot it borrows from, which costs well under a microsecond
//! beside the signature's hundreds.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const HEROES_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";

fn bench(c: &mut Criterion) {
    // An in-memory emulator on loopback, plain HTTP only: no TLS material.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let config = EmulatorConfig {
        https_addr: None,
        ..EmulatorConfig::for_tests(Directory::default_demo())
    };
    let emulator = runtime.block_on(Emulator::start(config)).unwrap();
    // The demo daemon's app-only token for the heroes API.
    let request = MintRequest::app_only(TENANT, DAEMON, HEROES_API);
    let token = emulator.mint_access_token(request.clone()).unwrap();

    // The bare signature: an RSA-2048 key, the same signing input length.
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let (input, _) = token.rsplit_once('.').unwrap();
    let rng = SystemRandom::new();
    let mut signature = vec![0u8; pair.public_modulus_len()];

    let mut group = c.benchmark_group("rs256");
    group.bench_function("bare_signature", |b| {
        b.iter(|| {
            pair.sign(
                &RSA_PKCS1_SHA256,
                &rng,
                black_box(input.as_bytes()),
                &mut signature,
            )
            .unwrap()
        })
    });
    group.bench_function("access_token_app_only", |b| {
        b.iter_batched(
            || request.clone(),
            |request| emulator.mint_access_token(black_box(request)).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
    drop(emulator);
}

criterion_group!(benches, bench);
criterion_main!(benches);
