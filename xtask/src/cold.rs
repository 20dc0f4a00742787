//! `cargo xtask bench cold`: what validating a token never seen before costs
//! beyond its RS256 signature, on one thread, with nothing else in the
//! process: the same tokens (Entra-sized, as `scale` mints them) through
//! [`bare`] (the signature alone, the input and signature decoded before)
//! and through [`cold`] (a validator whose cache is full, so every token
//! also evicts one), a quarter at a time in alternation.
//!
//! It prints both times, and it is built to be counted: under
//! `valgrind --tool=callgrind --toggle-collect='xtask::cold::bare'
//! --toggle-collect='xtask::cold::cold'` the two functions' instruction
//! counts are the machine-independent form of the same ratio (valgrind's CPU
//! lacks some of aws-lc's instructions, so its RSA count is the portable
//! code's; see BENCHMARKS.md).

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_auth::Validator;
use entra_auth::testing::{TestIssuer, random_guid};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The signature alone, over pre-decoded inputs: how many verified.
#[inline(never)]
fn bare(key: &ParsedPublicKey, signed: &[(Vec<u8>, Vec<u8>)]) -> usize {
    signed
        .iter()
        .filter(|(input, signature)| key.verify_sig(input, signature).is_ok())
        .count()
}

/// Whole validations of tokens never seen before: how many succeeded.
#[inline(never)]
fn cold(runtime: &tokio::runtime::Runtime, validator: &Validator, tokens: &[String]) -> usize {
    runtime.block_on(async {
        let mut valid = 0;
        for token in tokens {
            if validator.validate(black_box(token)).await.is_ok() {
                valid += 1;
            }
        }
        valid
    })
}

pub(crate) fn bench(mut args: impl Iterator<Item = String>) -> Result<()> {
    let (mut tokens, mut cache) = (20_000usize, 5_000usize);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--tokens" => tokens = value.parse()?,
            "--cache" => cache = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if tokens == 0 || cache == 0 {
        return Err("--tokens and --cache must be at least 1".into());
    }
    let issuer = TestIssuer::new();
    let padding = |guids: usize| -> String {
        let raw: String = (0..guids).map(|_| random_guid()).collect();
        URL_SAFE_NO_PAD.encode(raw)
    };
    // The cache's worth first (it fills the cache), then the measured ones.
    let minted: Vec<String> = (0..cache + tokens)
        .map(|_| {
            issuer
                .delegated(["Heroes.Read", "Heroes.Write"])
                .claim("aio", padding(2))
                .claim("rh", format!("1.A{}", padding(1)))
                .claim("given_name", "Test")
                .claim("family_name", "User")
                .claim("ipaddr", "203.0.113.7")
                .sign()
        })
        .collect();
    let (fill, measured) = minted.split_at(cache);
    let signed: Vec<(Vec<u8>, Vec<u8>)> = measured
        .iter()
        .map(|token| {
            let (input, signature) = token.rsplit_once('.').unwrap_or_default();
            (
                input.as_bytes().to_vec(),
                URL_SAFE_NO_PAD.decode(signature).unwrap_or_default(),
            )
        })
        .collect();
    let key = ParsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        issuer.key().public_pkcs1_der(),
    )
    .map_err(|e| format!("public key: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let validator = runtime.block_on(async {
        let config = issuer
            .config()
            .token_cache_limits(cache, cache as u64 * 8 * 1024)
            .build()?;
        let validator = Validator::new(config)?;
        tokio::time::timeout(Duration::from_secs(30), validator.ready()).await?;
        Ok::<_, Box<dyn std::error::Error>>(validator)
    })?;
    if cold(&runtime, &validator, fill) != fill.len() {
        return Err("a token of the fill was refused".into());
    }
    let (mut bare_time, mut cold_time) = (Duration::ZERO, Duration::ZERO);
    for quarter in 0..4 {
        let range = tokens * quarter / 4..tokens * (quarter + 1) / 4;
        let started = Instant::now();
        let verified = bare(&key, &signed[range.clone()]);
        bare_time += started.elapsed();
        let started = Instant::now();
        let validated = cold(&runtime, &validator, &measured[range.clone()]);
        cold_time += started.elapsed();
        if verified != range.len() || validated != range.len() {
            return Err("a measured token was refused".into());
        }
    }
    let per = |time: Duration| time.as_secs_f64() * 1e6 / tokens as f64;
    println!(
        "{} bytes per token, {tokens} tokens, cache of {cache} (full): bare verification {:.2} µs, \
         cold validation {:.2} µs: {:.3}x the bare verification's throughput",
        measured.first().map_or(0, String::len),
        per(bare_time),
        per(cold_time),
        bare_time.as_secs_f64() / cold_time.as_secs_f64()
    );
    Ok(())
}
