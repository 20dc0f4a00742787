//! The `entra` binary's integration tests: one test binary for the crate,
//! one module per subcommand (each module was a test binary of its own
//! before; linking that many binaries took more disk than CI has).

mod api_cli;
mod container;
mod demo_cli;
mod emulator_cli;
mod frictions;
mod health_cli;
mod inspect_cli;
mod oidc_provider;
mod process;
mod token_identity_cli;
mod traces_cli;
mod web_token_cli;
