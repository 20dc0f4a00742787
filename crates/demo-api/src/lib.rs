//! The reference API protected by [`entra_auth`]: the heroes and todo-items
//! APIs of the source documents, with real persistence (SQLite or
//! PostgreSQL), an OpenAPI document and Swagger UI that signs in with PKCE.
//!
//! Run it with `entra api` (next to `entra emulator`, it needs no
//! configuration), or start it inside your own program or test:
//!
//! ```no_run
//! use demo_api::{ApiConfig, DemoApi};
//!
//! # async fn run() -> Result<(), demo_api::Error> {
//! // The emulator's demo directory, tokens issued by `entra emulator`.
//! let config = ApiConfig::demo("http://localhost:9000", "sqlite://data/api/demo-api.db");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let api = DemoApi::start(config, listener).await?;
//! println!("Swagger UI: {}/docs", api.url());
//! # Ok(()) }
//! ```
//!
//! # How it uses `entra-auth`
//!
//! One [`Validator`](entra_auth::Validator) for the whole API, one layer that
//! authenticates every protected route, and one line per route saying what
//! it requires (from `server.rs` and [`heroes`]):
//!
//! ```text
//! let auth = Validator::new(config.auth_config()?)?;      // keys load in the background
//! let read = auth.require(Require::scope_or_app_permission("Heroes.Read"));
//! OpenApiRouter::new()
//!     .routes(routes!(list_heroes).map(|r| r.route_layer(read)))   // 403 without it
//!     ...
//!     .route_layer(auth.layer())                            // 401 without a valid token
//! ```
//!
//! - Heroes ([`heroes`]): each route takes a delegated scope *or* the
//!   application permission of the same name
//!   ([`Require::scope_or_app_permission`](entra_auth::Require::scope_or_app_permission)),
//!   so a user through the web app and a daemon with client credentials can
//!   both call it. The handler reads the caller from the
//!   [`Principal`](entra_auth::Principal) extractor and records it
//!   ([`Caller`]: tenant + object id for a user, tenant + client id for an app).
//! - Todo items ([`todo_items`]): the [`User`] extractor, built on
//!   `Principal`, admits signed-in users only (an app-only token has no user
//!   to own items: `403`); `DELETE /todoitems` adds
//!   [`Require::role("Admin")`](entra_auth::Require::role); the owner check
//!   of `/todoitems/{id}` needs the item, so it is in the handler: `404` when
//!   it does not exist, `403` when it is someone else's (unless `Admin`).
//! - Users are keyed by `tid` + `oid`, never by e-mail or `upn`.
//! - `401`, `403 insufficient_scope` and `503` (keys not loaded yet) are
//!   `entra-auth`'s answers, with their `WWW-Authenticate` challenges.
//!
//! # Choices
//!
//! - **Ids** are integers assigned by the database (SQLite `AUTOINCREMENT`,
//!   PostgreSQL identity), as in the source documents: short, ordered by
//!   creation, never reused after a delete, which makes keyset pagination
//!   (`?limit=&after=`, ordered by id) stable. They are guessable, and that
//!   is fine here: access is decided by scopes and ownership, never by
//!   knowing an id. (A UUID would hide counts and allow ids made by the
//!   client, at the cost of ordering.)
//! - **Input**: bodies must be `application/json` (else `415`) of at most
//!   16 KiB (else `413`) that parse (else `400`); unknown fields, missing
//!   fields, wrong types, out-of-range values and text that is blank, too
//!   long or holds a control character are `422` with every invalid field
//!   named in an RFC 9457 problem. The OpenAPI document states each of these
//!   rules exactly (`pattern`, `maxLength`, ranges, defaults), and CI checks
//!   it against the running server with schemathesis. A refused request changes
//!   nothing: it is refused before the handler runs, and each write is one
//!   statement.
//! - **Durability**: a `201` is answered after the commit; SQLite runs in
//!   WAL mode with `synchronous = FULL`, so the hero survives `kill -9`.
//! - **Start-up**: the database must open (migrations are embedded and
//!   applied), but the authority may be down: the API starts, `/health` and
//!   protected routes answer `503`, and the keys load as soon as it is up.
//!
//! # Against real Entra ID
//!
//! The same API, configured rather than changed: `entra api` with
//! `AZURE_AUTHORITY_HOST=https://login.microsoftonline.com`,
//! `AZURE_TENANT_ID` (your tenant) and `AZURE_CLIENT_ID` (the API's app
//! registration: scopes `Heroes.Read`, `Heroes.Write`, `Heroes.Delete`;
//! app roles `Admin` and `User` for users and `Heroes.*` for applications),
//! `DATABASE_URL=postgres://...`, and `API_SWAGGER_CLIENT_ID` (a
//! single-page application whose redirect URI is
//! `https://{host}/docs/oauth2-redirect.html`). `API_ALLOWED_CLIENT_APPS`
//! limits which client applications may call; `AZURE_TENANT_ID=organizations`
//! with `API_ALLOWED_TENANTS` makes it multi-tenant.
//!
//! # Layout
//!
//! - [`config`]: [`ApiConfig`], what the API needs to know, and the
//!   [`demo`](config::demo) directory's ids.
//! - `server`: [`DemoApi`] (start, address, graceful shutdown) and [`router`].
//! - [`heroes`]: `/heroes`, the [`Hero`](heroes::Hero) model and its validation.
//! - [`todo_items`]: `/todoitems`, the [`TodoItem`](todo_items::TodoItem) model.
//! - [`caller`]: who calls: [`Caller`] (recorded with heroes) and the
//!   [`User`] extractor (owner of todo items, admin or not).
//! - [`input`]: [`ValidJson`](input::ValidJson) (body checks, each failure a
//!   problem), [`PageQuery`](input::PageQuery) and [`ItemId`](input::ItemId).
//! - `database`: the SQLite and PostgreSQL pools behind one set of queries,
//!   embedded migrations.
//! - `openapi`: the OpenAPI document with the `entra` OAuth2 scheme, and
//!   Swagger UI at `/docs` with PKCE.
//! - `pages`: `GET /`, and the probes `GET /health`, `/health/ready`
//!   (readiness) and `/health/live` (liveness).
//! - [`Error`]: every failure and its problem-details answer.

pub mod caller;
pub mod config;
mod database;
mod error;
pub mod heroes;
pub mod input;
mod openapi;
mod pages;
mod server;
mod telemetry;
pub mod todo_items;

pub use caller::{Caller, CallerKind, User, UserId};
pub use config::ApiConfig;
pub use error::{Error, FieldError, Problem};
pub use openapi::SECURITY_SCHEME;
pub use pages::{Health, Liveness};
pub use server::{DemoApi, router};
