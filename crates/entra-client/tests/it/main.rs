//! entra-client's integration tests: one binary for the crate, one module
//! per flow (each module was a test binary of its own before; linking that
//! many binaries took more disk than CI has).

mod authorization_code;
mod client_credentials;
mod common;
mod device_code;
mod emulator_identity;
mod identity;
mod on_behalf_of;
mod silent;
mod stores;
