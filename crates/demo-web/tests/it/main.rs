//! demo-web's integration tests: one binary for the crate, one module per
//! subject (each module was a test binary of its own before; linking that
//! many binaries took more disk than CI has).

mod browser;
mod common;
mod federated;
mod finding_8;
mod frictions;
mod logs;
mod managed_identity;
mod metrics;
mod pages;
mod probes;
mod redis;
mod session;
mod sign_in;
