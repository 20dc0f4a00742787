//! A local Microsoft Entra ID: discovery documents, key sets, sign-in pages,
//! and a token endpoint shaped exactly like Entra's, so MSAL, openidconnect,
//! authlib and `entra-auth` work against it unchanged, offline.
//!
//! ```no_run
//! use entra_emulator::{Directory, Emulator, EmulatorConfig};
//!
//! # async fn run() -> Result<(), entra_emulator::Error> {
//! let emulator = Emulator::start(EmulatorConfig::for_tests(Directory::default_demo())).await?;
//! println!("authority: {}/{}", emulator.http_url(), "contoso.onmicrosoft.com");
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! - [`config`]: the directory file (tenants, app registrations shaped after
//!   Azure's manifest, users) and the built-in demo configuration.
//! - [`server`]: [`Emulator`], start and stop, HTTP and HTTPS listeners, the
//!   request log, the clock, key rotation.
//! - `endpoints`: discovery (v2, v1, instance discovery), key sets, token.
//! - `grants`: one module per grant (client credentials, authorization code,
//!   refresh token, device code, on-behalf-of, password).
//! - `client_auth`: client secrets (form body or HTTP Basic) and
//!   `private_key_jwt` assertions.
//! - `pages`: authorize, sign-in, consent, logout; `device`: the device-code
//!   endpoint and verification page; `html`: the pages' shell.
//! - `admin`: the JSON administration API and its persisted journal.
//! - [`keys`]: per-tenant signing keys with certificates, persisted, rotated.
//! - [`tokens`]: access tokens (v1/v2), ID tokens, `client_info`.
//! - [`tls`]: the local CA and server certificate for HTTPS.
//! - [`error`]: [`Error`] and Entra-shaped OAuth errors (AADSTS codes).

pub mod admin;
pub mod client_auth;
pub mod config;
mod endpoints;
pub mod error;
pub mod grants;
mod html;
pub mod keys;
mod pages;
pub mod scopes;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod util;

pub use config::Directory;
pub use error::{Error, OAuthError};
pub use server::{Emulator, EmulatorConfig};
