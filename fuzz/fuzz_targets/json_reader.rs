#![no_main]
//! Any bytes as a JSON object: `json::read_object` accepts exactly what
//! `serde_json` reads as one object with no member name twice at any depth
//! (by an independent scanner), and then `json::to_map` and a kept member
//! are `serde_json`'s own values. Never a panic.

use libfuzzer_sys::fuzz_target;

/// The property tests' own checks (crates/entra-core/tests/it/oracle.rs).
#[path = "../../crates/entra-core/tests/it/oracle.rs"]
#[allow(dead_code)] // the JWS checks are the other target's
mod oracle;

fuzz_target!(|bytes: &[u8]| {
    if let Err(disagreement) = oracle::check_reader(bytes) {
        panic!("{disagreement}");
    }
});
