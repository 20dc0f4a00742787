//! demo-api's integration tests: one binary for the crate, one module per
//! subject (each module was a test binary of its own before; linking that
//! many binaries took more disk than CI has).

mod api;
mod common;
mod finding_12;
mod metrics;
mod probes;
mod startup;
mod swagger_sign_in;
