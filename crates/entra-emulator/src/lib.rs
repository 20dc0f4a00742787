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
//! The public API: [`Emulator`] and [`EmulatorConfig`] (start and stop, the
//! HTTP and HTTPS listeners, the request log, the clock, key rotation,
//! directory changes, minting tokens), [`config`] (the directory file:
//! tenants, app registrations shaped after Azure's manifest with their
//! federated identity credentials, users, managed identities; the built-in
//! demo configuration), [`admin`] (the JSON administration API,
//! and [`MintRequest`](admin::MintRequest)), and [`error`] ([`Error`] and
//! Entra-shaped OAuth errors with AADSTS codes).
//!
//! Inside:
//!
//! - `server`: [`Emulator`], the listeners and every route; `hosts`: the
//!   `Host` names answered (DNS-rebinding defence, on every route).
//! - `endpoints`: discovery (v2, v1, instance discovery), key sets, token,
//!   device code, and the managed-identity endpoints (App Service-style
//!   `/msi/token`, IMDS-style `/metadata/identity/oauth2/token`).
//! - `grants`: one module per grant (client credentials, authorization code,
//!   refresh token, device code, on-behalf-of, password).
//! - `client_auth`: client secrets (form body or HTTP Basic) and
//!   `private_key_jwt` assertions; `federated`: federated assertions
//!   (workload identity federation), judged with the issuer's keys.
//! - `pages`: authorize, sign-in, consent, logout, the device-code
//!   verification page, and the forms' anti-forgery tokens; `html`: the
//!   pages' shell.
//! - `admin`: the administration API, who may call it, and its persisted journal.
//! - `keys`: per-tenant signing keys with certificates, persisted, rotated.
//! - `tokens`: access tokens (v1/v2), ID tokens, `client_info`.
//! - `scopes`: scope strings and consent.
//! - `state`: what the handlers share; `store`: files in the data directory
//!   (private: `0600` files in `0700` directories); `password`: Argon2id
//!   password hashes.
//! - `tls`: the local CA and server certificate for HTTPS.

pub mod admin;
mod client_auth;
pub mod config;
mod endpoints;
pub mod error;
mod federated;
mod grants;
mod hosts;
mod html;
mod keys;
mod metrics;
mod pages;
mod password;
mod request_log;
mod scopes;
mod server;
mod state;
mod store;
mod telemetry;
mod tls;
mod tokens;
mod util;

pub use config::Directory;
pub use error::{Error, OAuthError};
pub use server::{Emulator, EmulatorConfig};
pub use state::RequestRecord;
