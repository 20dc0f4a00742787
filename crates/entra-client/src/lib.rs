//! # Layout
//!
//! Get tokens from Microsoft Entra ID (or its local emulator), the way MSAL
//! does, with Entra's own shapes: AADSTS codes, v1 string lifetimes,
//! `client_info`, trace and correlation ids.
//!
//! - [`config`]: [`ClientBuilder`]: authority host, tenant, client id,
//!   redirect URI, HTTP client and timeouts, token store, expiry margin,
//!   [`Clock`].
//! - [`Client`] (`client`): any application, public or confidential: silent
//!   acquisition ([`Client::acquire_token_silent`]: a cached token, else a
//!   refresh, else [`Error::InteractionRequired`]), local sign-out.
//!   [`ConfidentialClient`] adds app-only tokens
//!   ([`ConfidentialClient::acquire_token_for_client`]) and on-behalf-of
//!   ([`ConfidentialClient::acquire_token_on_behalf_of`]).
//! - [`credential`]: [`ClientCredential`]: a client secret (form body or HTTP
//!   Basic), a [`Certificate`] that signs a fresh client assertion (PS256
//!   with `x5t#S256`, or RS256 with `x5t`) for every request, or a federated
//!   [`ClientAssertion`] ([`assertion`]: from a callback, a federated token
//!   file re-read when it changes, or a managed identity).
//! - [`managed_identity`]: [`ManagedIdentityCredential`]: tokens from App
//!   Service / Container Apps (`IDENTITY_ENDPOINT`, `X-IDENTITY-HEADER`) or
//!   IMDS (`Metadata: true`), system- or user-assigned, with Microsoft's
//!   retry guidance ([`RetryPolicy`]).
//! - [`chain`]: [`DefaultAzureCredential`]: environment, then workload
//!   identity, then managed identity, as azure-identity's chain; its error
//!   lists every step.
//! - [`authorization_code`]: sign-in with PKCE (S256), `state` and `nonce`:
//!   [`Client::authorize_url`] → [`PendingAuthorization`] →
//!   [`Client::complete_authorization`] → [`SignIn`].
//! - [`device_code`]: [`Client::start_device_code`] → [`DeviceCodeFlow`]
//!   (polling that honours `interval`, `slow_down` and expiry).
//! - [`sign_out`]: [`Client::sign_out_url`] (`end_session_endpoint`).
//! - [`cache`]: [`TokenCache`]: access tokens by account, client, tenant and
//!   scope set; refresh tokens by account; one network call for concurrent
//!   requests of one token.
//! - [`store`]: where the cache keeps entries, [`entra_store`]'s stores:
//!   [`store::MemoryStore`] (default), `SqliteStore`, `PostgresStore`,
//!   `RedisStore` (features `sqlite`, `postgres`, `redis`).
//! - `token`: [`AccessToken`], [`SignIn`]; `account`: [`Account`] (the
//!   signed-in user, serializable for a session).
//! - `protocol`: discovery ([`Endpoints`]), token requests, Entra's token
//!   responses and errors.
//! - [`Error`]: every failure, typed; [`ServerError`] carries Entra's AADSTS
//!   code, trace id and correlation id.
//!
//! ID tokens are validated with [`entra_auth::id_token::IdTokenValidator`]:
//! the tenant's keys through `entra-auth`'s key cache (refreshed on an
//! unknown `kid`), then issuer, audience, lifetime and nonce.
//!
//! No token, code, verifier or secret ever appears in a `Debug` output, an
//! error or a log line.
//!
//! # Flows
//!
//! A web app signs users in and calls an API for them:
//!
//! ```no_run
//! use entra_client::{AuthorizationRequest, Callback, Client, ClientCredential};
//!
//! # async fn web() -> Result<(), entra_client::Error> {
//! const HEROES_READ: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Heroes.Read";
//! let client = Client::builder("contoso.onmicrosoft.com", "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10")
//!     .redirect_uri("http://localhost:8000/auth/callback")
//!     .build_confidential(ClientCredential::secret("heroes-web-dev-secret"))?;
//!
//! let start = client.authorize_url(AuthorizationRequest::new([HEROES_READ])).await?;
//! // keep start.pending in the session; redirect to start.url; later, on the callback:
//! let callback = Callback::from_query("code=...&state=...")?;
//! let sign_in = client.complete_authorization(start.pending, &callback).await?;
//!
//! let token = client.acquire_token_silent(&sign_in.account, &[HEROES_READ]).await?;
//! # Ok(()) }
//! ```
//!
//! A daemon calls an API as itself:
//!
//! ```no_run
//! use entra_client::{Certificate, Client, ClientCredential};
//!
//! # async fn daemon(key_pem: &str, cert_pem: &str) -> Result<(), entra_client::Error> {
//! let daemon = Client::builder("contoso.onmicrosoft.com", "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f")
//!     .build_confidential(ClientCredential::certificate(Certificate::from_pem(key_pem, cert_pem)?))?;
//! let token = daemon
//!     .acquire_token_for_client(&["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default"])
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! See [`DeviceCodeFlow`] for a CLI, [`ConfidentialClient::acquire_token_on_behalf_of`]
//! for an API calling another API, and [`Client::sign_out_url`] for sign-out.

mod account;
pub mod assertion;
pub mod authorization_code;
pub mod cache;
pub mod chain;
mod client;
pub mod config;
pub mod credential;
pub mod device_code;
mod error;
pub mod managed_identity;
mod protocol;
pub mod sign_out;
pub mod store;
mod token;
mod util;

pub use account::Account;
pub use assertion::{AssertionRequest, ClientAssertion};
pub use authorization_code::{
    AuthorizationRequest, AuthorizeUrl, Callback, PendingAuthorization, Prompt, ResponseMode,
};
pub use cache::TokenCache;
pub use chain::{ChainAttempt, ChainError, DefaultAzureCredential, EnvironmentSettings};
pub use client::{Client, ConfidentialClient};
pub use config::{ClientBuilder, Clock};
pub use credential::{AssertionAlgorithm, Certificate, ClientCredential, ClientSecret};
pub use device_code::DeviceCodeFlow;
pub use entra_auth::id_token::{IdToken, IdTokenError};
pub use error::{Error, ServerError, StoreError};
pub use managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, RetryPolicy,
};
pub use protocol::Endpoints;
pub use sign_out::SignOutRequest;
pub use token::{AccessToken, SignIn};
