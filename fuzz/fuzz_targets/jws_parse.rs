#![no_main]
//! Any string as a compact JWS: `jws::split` and `jws::parse` never panic
//! and agree on its structure, and every segment decodes exactly as the
//! `base64` crate's strict `URL_SAFE_NO_PAD` decodes it.

use libfuzzer_sys::fuzz_target;

/// The property tests' own checks (crates/entra-core/tests/it/oracle.rs).
#[path = "../../crates/entra-core/tests/it/oracle.rs"]
#[allow(dead_code)] // the JSON checks are the other target's
mod oracle;

fuzz_target!(|token: &str| {
    if let Err(disagreement) = oracle::check_jws(token) {
        panic!("{disagreement}");
    }
    for segment in token.split('.') {
        if let Err(disagreement) = oracle::check_base64(segment) {
            panic!("{disagreement}");
        }
    }
});
