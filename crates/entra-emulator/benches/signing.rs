//! Token minting cost, side by side with a bare RS256 signature from a key of
//! the same size: what building Entra's claims and encoding the JWS cost on
//! top of the RSA operation.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use criterion::{Criterion, criterion_group, criterion_main};
use entra_emulator::Directory;
use entra_emulator::keys::KeyRing;
use entra_emulator::state::State;
use entra_emulator::tokens::{self, AccessTokenRequest, ClientAcr};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const HEROES_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";

fn bench(c: &mut Criterion) {
    let directory = Directory::default_demo();
    let tenant = directory.tenant(TENANT).unwrap().clone();
    let api = directory.application(HEROES_API).unwrap().clone();
    let daemon = directory.application(DAEMON).unwrap().clone();
    let now = 1_800_000_000;
    let keys = KeyRing::load(None, &[TENANT.to_owned()], 3600, now).unwrap();
    let state = State::new(directory, keys, None, "https://localhost:9443".into()).unwrap();
    let request = AccessTokenRequest {
        tenant: &tenant,
        client: &daemon,
        resource: Some(&api),
        identifier: HEROES_API,
        user: None,
        scopes: &[],
        acr: ClientAcr::Secret,
        extra: None,
    };
    let token = tokens::access_token(&state, &request).unwrap().token;

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
        b.iter(|| tokens::access_token(black_box(&state), black_box(&request)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
