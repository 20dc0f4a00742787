//! The token core of entra-rs, and the small helpers every crate shares.
//!
//! Each security rule lives here once. The access-token validator and the
//! ID-token validator (`entra-auth`), `entra inspect`, the demo web app's
//! claims page and the emulator's client-assertion check all call it. It has
//! no HTTP client or server: a daemon or a CLI gets it without a framework.
//!
//! # Layout
//!
//! - [`jws`]: strict compact-JWS parsing ([`jws::parse`] by a
//!   [`jws::Profile`]; [`jws::split`] to show a token without judging it).
//! - [`json`]: the one strict JSON reader (one object, UTF-8, no duplicate
//!   member names at any depth, bounded nesting), borrowing from the bytes.
//! - [`claims`]: the claims the rules act on, and the readers that give each
//!   claim its type (string, list, NumericDate), failing closed.
//! - [`rules`]: lifetime, issuer, tenant, key issuer, subject, audience and
//!   kind; [`rules::Rules::check`] for a verdict, [`rules::Rules::explain`]
//!   for each rule's own.
//! - [`InvalidToken`]: why a token was refused, each text written once.
//! - [`authority`]: which URLs may serve an identity provider's documents
//!   (`https`, or `http` on loopback), and what names a tenant.
//! - [`Clock`]: the time the rules read.
//! - Helpers: [`is_guid`], [`cookie`], [`secrets_equal`] (constant time),
//!   [`html_escape`], [`time`] for showing dates to people, and [`fs`] for
//!   private files (`0600` in `0700` directories, replaced atomically).

pub mod authority;
pub mod claims;
mod clock;
mod cookie;
pub mod fs;
mod guid;
mod html;
pub mod json;
pub mod jws;
mod reason;
pub mod rules;
mod secret;
pub mod time;

pub use clock::Clock;
pub use cookie::cookie;
pub use guid::{guid_from_bytes, is_guid, random_guid};
pub use html::html_escape;
pub use reason::InvalidToken;
pub use rules::TokenVersion;
pub use secret::secrets_equal;
