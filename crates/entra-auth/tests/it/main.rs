//! entra-auth's integration tests: one binary for the crate, one module per
//! subject (each module was a test binary of its own before; linking that
//! many binaries took more disk than CI has).

mod catalogue;
mod common;
mod example;
mod hardening;
mod harness;
mod http_answers;
mod metrics;
mod properties;
mod reliability;
mod scope_claim;
mod token_cache;
mod tonic_service;
