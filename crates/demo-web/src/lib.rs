//! The reference web client of the heroes API, a real web application.
//! Users sign in with Microsoft Entra ID (or the local emulator) through [`entra_client`]: authorization code with PKCE,
//! `state` and `nonce`; the app keeps their session and tokens on the
//! server and calls `demo-api` with their access token.
//!
//! Run it with `entra web` (next to `entra emulator` and `entra api`, it
//! needs no configuration), or start it inside your own program or test:
//!
//! ```no_run
//! use demo_web::{DemoWeb, SessionBackend, WebConfig};
//!
//! # async fn run() -> Result<(), demo_web::Error> {
//! let mut config = WebConfig::demo("http://localhost:9000");
//! config.session_backend = SessionBackend::Sqlite("data/web/sessions.db".into());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! let web = DemoWeb::start(config, listener).await?;
//! println!("open {}", web.url());
//! # Ok(()) }
//! ```
//!
//! # Routes
//!
//! | Route | What it does |
//! |---|---|
//! | `GET /` | signed out: a sign-in button; signed in: your name, the heroes with forms to create and delete them, your todo items |
//! | `GET /auth/login?return_to=/path` | starts a sign-in, `303` to the identity provider |
//! | `GET /auth/callback` | completes it (registered as `{public base URL}/auth/callback`), `303` to the return path |
//! | `POST /auth/logout` | ends the session here and at the identity provider |
//! | `GET /me/tokens` | the decoded claims of your ID and access tokens, never the tokens |
//! | `POST /heroes`, `POST /heroes/{id}/delete` | create, delete a hero |
//! | `POST /todoitems`, `POST /todoitems/{id}/delete` | add, delete a todo item |
//! | `GET /health/live` | liveness: `200` while the process answers |
//! | `GET /health/ready` | readiness: `200` when the session store answers and the identity provider's metadata is loaded, else `503` naming which is not |
//!
//! # Security
//!
//! Each row of the security catalogue's client-side section (C1–C28) that
//! applies to a web app has its test in `tests/` under its number.
//!
//! - Sign-in (C1–C6, C9, C11, C12, C17, C20, C21, C23): state, nonce and the
//!   PKCE verifier stay in the browser's server-side session, are used once
//!   and expire after ten minutes; the callback is matched to this browser,
//!   the code is redeemed with the verifier, the ID token validated with the
//!   nonce by entra-client; success issues a fresh session id and a clean
//!   `303` to a local path; every failure is a page with escaped text and no
//!   session.
//! - Sessions (C18–C20, C24): see [`session`].
//! - Tokens stay on the server (C22): the browser holds an opaque session
//!   cookie only; `/me/tokens` shows decoded claims, never a token.
//! - Forms (C24 and every state change): `POST` with a per-session
//!   synchronizer token compared in constant time; a cross-site `Origin` is
//!   refused.
//! - Every answer carries `X-Frame-Options: DENY` and a content security
//!   policy with `frame-ancestors 'none'` and no script (C28),
//!   `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
//!   `Cache-Control: no-store` (C21, C23).
//! - The access log records method, path, status and duration: never a
//!   query string, so never a code (C21).
//!
//! # Layout
//!
//! - [`config`]: [`WebConfig`], [`SessionBackend`], and the
//!   [`demo`](config::demo) directory's ids.
//! - `server`: [`DemoWeb`] (start, address, graceful shutdown), [`router`],
//!   the state handlers share, the protective headers and the access log.
//! - `sign_in`: `/auth/login`, `/auth/callback`, `/auth/logout`.
//! - [`return_to`]: the post-sign-in path, local only (C17).
//! - [`session`]: server-side sessions and their cookie.
//! - `stores`: the entra-store stores of the sessions and of entra-client's
//!   token cache, side by side in memory, SQLite or Redis.
//! - `health`: the probes `/health/live` and `/health/ready`.
//! - `home`: `GET /`; `heroes`: the forms that change something;
//!   `tokens`: `GET /me/tokens`; `claims`: decoding a JWT for display.
//! - `api`: the heroes API client and what its refusals mean.
//! - `csrf`: the anti-forgery check; `forms`: reading form bodies.
//! - [`html`]: escaping, the page shell, the protective headers.
//! - [`Error`]: why the app could not start.

// Handlers answer failures with the page that explains them:
// `Result<_, Response>` is the idiom, and the response is built once per request.
#![allow(clippy::result_large_err)]

mod api;
mod claims;
pub mod config;
mod csrf;
mod error;
mod forms;
mod health;
mod heroes;
mod home;
pub mod html;
pub mod return_to;
mod server;
pub mod session;
mod sign_in;
mod stores;
mod telemetry;
mod tokens;

pub use config::{SessionBackend, WebConfig};
pub use error::{Error, StoreError};
pub use server::{DemoWeb, router};

/// The README's examples (entra-auth, entra-client, the emulator) compile and
/// run as doctests here, where all of those crates are available.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
