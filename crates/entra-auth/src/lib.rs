//! Protect HTTP APIs with Microsoft Entra ID (Azure AD) and any OpenID Connect
//! provider: validate access tokens, v1 and v2, single- and multi-tenant, and
//! guard axum routes (or any tower service) by delegated scope, app
//! permission, app role and client application, with RFC 6750 answers.
//!
#![doc = include_str!("docs/quickstart.md")]
//!
//! # Layout
//!
//! - [`config`]: [`AuthConfig`] and its builder: authority, tenants, audiences,
//!   token versions, clock skew, client allow-list, limits.
//! - [`Validator`]: checks a token in Microsoft's order and yields a
//!   [`Principal`]; owns the key cache (`keys`), which loads the metadata
//!   documents and key sets, refreshes them in the background and on unknown
//!   `kid`s, and keeps the last-known-good keys when the provider misbehaves.
//!   A verified-token cache (`cache`) lets a token seen before skip the
//!   signature check; every hit re-checks `exp` and the signing key.
//! - [`Principal`]: the typed caller a handler receives (an axum extractor).
//! - [`Require`]: per-route requirements: scopes, app permissions, app roles,
//!   client apps, and their combinations.
//! - [`AuthLayer`]: the tower layer ([`Validator::layer`], [`Validator::require`]).
//! - [`TokenSource`]: where tokens are read from (header, cookie, custom).
//! - [`RejectionBody`]: the response body types rejections are written in
//!   (axum, `http_body_util::Full`, tonic with the `tonic` feature).
//! - [`Error`]: every failure, each with its HTTP answer (401, 403, 400, 431, 503).
//! - [`explain`]: [`Validator::explain`] runs each rule on its own and says
//!   what it found (what `entra inspect` prints).
//! - [`metrics`](crate::metrics): what the crate records through the `metrics` facade
//!   (outcomes by reason, the cache, key refreshes); no exporter.
//! - `testing` (feature): mint signed tokens in-process for your own tests.
//!
//! The rules themselves (JWS, JSON, claims, issuer, audience, lifetime,
//! tenant, key issuer) live once, in `entra-core`; this crate adds the keys,
//! the cache, the layer and the HTTP answers.
//!
//! # Features
//!
//! - `axum` (default): axum extractors for [`Principal`], `IntoResponse` for
//!   [`Error`]. Without it the crate pulls no server framework.
//! - `testing`: the `testing` module.
//! - `tonic`: rejections in tonic's body type.
//!
//! # What is checked, in order
//!
//! 1. The request: one `Authorization: Bearer` header (scheme case-insensitive),
//!    no token in the query as well, the size limit.
//! 2. The structure: exactly three base64url segments without padding (so
//!    nothing outside RFC 6750's b64token grammar gets further), canonical
//!    encoding, header and payload UTF-8 JSON objects without duplicate members.
//! 3. The header: `alg` exactly `RS256` (never `none`, never HMAC); no `crit`,
//!    `b64`, `zip`, `cty`, `enc` (JWE), and no key carried or pointed to by the
//!    token (`jwk`, `jku`, `x5u`, `x5c`: no URL from a token is ever fetched);
//!    `typ`, if present, `JWT` or `at+jwt`.
//! 4. The key: by `kid` (or `x5t`) among the provider's published keys.
//! 5. The signature.
//! 6. The claims: `exp` (required), `nbf` and `iat` as numbers, with the clock
//!    skew; `ver` accepted; `tid` a GUID and allowed; `iss` exactly the issuer of
//!    that version and tenant, and the signing key's `issuer`; `aud` one of ours;
//!    `sub`, `oid`, and `azp`/`appid` present; not an ID token (`nonce`, hashes,
//!    or neither `scp` nor `roles`); claim types as Entra sends them.
//! 7. Only then the client allow-list, and each route's [`Require`]ment (403).

mod body;
mod cache;
pub mod config;
mod error;
pub mod explain;
#[cfg(feature = "axum")]
mod extract;
pub mod id_token;
mod keys;
mod layer;
pub mod metrics;
mod principal;
mod require;
mod source;
#[cfg(feature = "testing")]
pub mod testing;
mod validator;
mod verifier;

pub use body::RejectionBody;
pub use cache::CacheStats;
pub use config::{AuthConfig, AuthConfigBuilder, ScopeClaim, TokenVersions};
pub use entra_core::{Clock, InvalidToken, TokenVersion};
pub use error::Error;
pub use explain::Explanation;
pub use layer::{AuthLayer, AuthService, ResponseFuture};
pub use principal::Principal;
pub use require::Require;
pub use source::TokenSource;
pub use validator::Validator;
