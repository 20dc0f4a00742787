//! The JSON administration API under `/_emulator/`, its persisted journal,
//! and the same operations as library calls on [`Emulator`](crate::Emulator).
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /_emulator/tenants` | | every tenant, as below |
//! | `GET /_emulator/tenants/{tenant}` | | the tenant's registrations and users, without secrets or passwords |
//! | `POST /_emulator/tenants/{tenant}/users` | a user (`objectId` generated when absent) | 201 with the user; 409 if the UPN or object id exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/users/{objectId or upn}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/applications` | an app registration (`appId` generated when absent) | 201 with the registration; 409 if the app id or an App ID URI exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/applications/{appId}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/applications/{appId}/federatedIdentityCredentials` | a federated identity credential in Graph's shape (`name`, `issuer`, `subject`, `audiences`) | 201 with it; 404; 409 if the name exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/applications/{appId}/federatedIdentityCredentials/{name}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/managedIdentities` | a managed identity (`type`, `clientId`, `principalId`, `resourceId`, `appRoleAssignments`; ids generated when absent) | 201 with it; 409 if the client id exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/managedIdentities/{clientId}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/keys/rotate` | | `{"kid": ...}` |
//! | `GET /_emulator/requests` | | the request log: `[{"time", "method", "path", "params": [[name, value]], "omitted_params", "status", "aadsts"}]`, values redacted by allow-list and cut short, at most 4 MiB |
//! | `GET /_emulator/clock`, `POST /_emulator/clock` | `{"offsetSeconds": n}` and/or `{"fixed": unix or null}` | `{"now": unix}` |
//! | `POST /_emulator/tokens` | `{"tenant", "clientId", "resource", "user"?, "scopes"?, "claims"?}` | `{"access_token", "token_type", "expires_in", "expires_on"}` |
//!
//! `{tenant}` is a tenant id or domain. Errors are `{"error": kind, "message": text}`
//! with 400 (malformed JSON), 404, 409 or 422, or one of the refusals below.
//! Every change is checked
//! against the whole directory ([`Directory::check`](crate::config::Directory::check)) before it takes effect,
//! and appended to `{data_dir}/admin-journal.json`, which
//! `apply_journal` replays over the configuration file at start, so
//! changes survive restarts. Key rotations need no journal: the key files
//! themselves are persisted. The journal, like everything in the data
//! directory, is readable by its owner only, and holds a user's password
//! only as an Argon2id hash (`passwordHash`): a user added with a
//! `password` is hashed before the change is applied.
//!
//! # Who may call it
//!
//! The API is for a local emulator, but a web page the developer opens must
//! not be able to drive it (`guard`):
//!
//! - Requests with a body (every POST) must be `Content-Type:
//!   application/json` (`; charset=utf-8` and other parameters allowed):
//!   else 415 `unsupported_media_type`. A page can send `text/plain`, form
//!   and multipart bodies cross-origin without a CORS preflight; JSON needs
//!   one, and no CORS is answered here.
//! - Cross-site requests are refused, reads included: a `Sec-Fetch-Site`
//!   other than `same-origin` or `none`, or an `Origin` other than the
//!   emulator's own, is 403 `cross_site`. Clients that are not browsers send
//!   neither header and pass.
//! - With an admin token ([`EmulatorConfig::admin_token`](crate::EmulatorConfig::admin_token),
//!   `ENTRA_EMULATOR_ADMIN_TOKEN` in the CLI), every request needs
//!   `Authorization: Bearer <token>`: else 401 `unauthorized` with
//!   `WWW-Authenticate: Bearer`. [`Emulator::start`](crate::Emulator::start)
//!   refuses to bind a non-loopback address without one.
//! - As on every route, the `Host` must be one the emulator answers to
//!   (DNS rebinding; [`EmulatorConfig::allowed_hosts`](crate::EmulatorConfig::allowed_hosts)):
//!   else 421 `misdirected_request` (400 `bad_request` without a `Host`).
//!
//! The same operations as library calls on [`Emulator`](crate::Emulator)
//! need none of this.
//!
//! Layout: this module routes and answers refusals; `journal` applies,
//! checks, journals and replays changes; `users` and `applications` are the
//! changes themselves; `guard` admits requests (above); `mint` mints tokens ([`MintRequest`]); `keys` rotates
//! signing keys; `clock` shifts the clock; `views` shows the directory
//! without secrets, and the request log.

mod applications;
mod clock;
mod guard;
mod identities;
mod journal;
mod keys;
mod mint;
mod users;
mod views;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::AdminError;
use crate::hosts::HostProblem;
use crate::state::State;
use crate::{Error, util};

pub(crate) use guard::AdminGuard;
pub(crate) use journal::apply_journal;
pub use mint::MintRequest;

/// Mints what `request` asks for, as `POST /_emulator/tokens` does (the
/// home page's form): the signed token.
pub(crate) fn mint_token(state: &State, request: &MintRequest) -> Result<String, Error> {
    Ok(mint::mint(state, request)?.token)
}

/// Whether `path` is the administration API's.
pub(crate) fn is_admin_path(path: &str) -> bool {
    path == "/_emulator" || path.starts_with("/_emulator/")
}

/// The administration API's answer to a refused `Host` (421, or 400).
pub(crate) fn host_refusal(problem: HostProblem) -> Response {
    Refusal::Host(problem).into_response()
}

/// The administration routes, each behind `guard`.
pub(crate) fn routes(guard: Arc<AdminGuard>) -> Router<Arc<State>> {
    Router::new()
        .route("/_emulator/tenants", get(views::tenants))
        .route("/_emulator/tenants/{tenant}", get(views::tenant))
        .route("/_emulator/tenants/{tenant}/users", post(users::add))
        .route(
            "/_emulator/tenants/{tenant}/users/{user}",
            delete(users::remove),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications",
            post(applications::add),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications/{app_id}",
            delete(applications::remove),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications/{app_id}/federatedIdentityCredentials",
            post(identities::add_federated),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications/{app_id}/federatedIdentityCredentials/{name}",
            delete(identities::remove_federated),
        )
        .route(
            "/_emulator/tenants/{tenant}/managedIdentities",
            post(identities::add_managed),
        )
        .route(
            "/_emulator/tenants/{tenant}/managedIdentities/{client_id}",
            delete(identities::remove_managed),
        )
        .route(
            "/_emulator/tenants/{tenant}/keys/rotate",
            post(keys::rotate),
        )
        .route("/_emulator/requests", get(views::requests))
        .route("/_emulator/clock", get(clock::get).post(clock::set))
        .route("/_emulator/tokens", post(mint::endpoint))
        .route_layer(middleware::from_fn_with_state(guard, guard::check))
}

/// Why an administrative request failed, as answered:
/// `{"error": kind, "message": text}`.
#[derive(Debug)]
enum Refusal {
    /// The body is not JSON (400).
    Malformed(serde_json::Error),
    /// The body is JSON of the wrong shape (422).
    Shape(serde_json::Error),
    /// The body is not what `POST /_emulator/clock` takes (422).
    Clock(clock::Problem),
    /// Refused (404, 409 or 422: [`admin_status`]), or storage or signing
    /// failed (500).
    Error(Error),
    /// A request with a body (every POST) not declared `application/json` (415).
    UnsupportedMediaType,
    /// A cross-site request (403): the header that shows it, and its value
    /// (cut short).
    CrossSite { header: &'static str, value: String },
    /// No admin token, or the wrong one (401).
    Unauthorized {
        /// Whether an `Authorization` header was sent.
        presented: bool,
    },
    /// A `Host` the emulator does not answer to (421), or none (400).
    Host(HostProblem),
}

const INVALID: (StatusCode, &str) = (StatusCode::UNPROCESSABLE_ENTITY, "invalid");

impl Refusal {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Refusal::Malformed(e) => (
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("malformed JSON: {e}"),
            ),
            Refusal::Shape(e) => (INVALID.0, INVALID.1, e.to_string()),
            Refusal::Clock(problem) => (INVALID.0, INVALID.1, problem.to_string()),
            Refusal::Error(e) => {
                let (status, kind) = match e {
                    Error::Admin(refused) => admin_status(refused),
                    _ => (StatusCode::INTERNAL_SERVER_ERROR, "failed"),
                };
                (status, kind, e.to_string())
            }
            Refusal::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "administration requests with a body must be sent as Content-Type: application/json".to_owned(),
            ),
            Refusal::CrossSite { header, value } => (
                StatusCode::FORBIDDEN,
                "cross_site",
                format!("cross-site requests to the administration API are refused ({header}: {value})"),
            ),
            Refusal::Unauthorized { presented: false } => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the administration API requires Authorization: Bearer <admin token> (ENTRA_EMULATOR_ADMIN_TOKEN)".to_owned(),
            ),
            Refusal::Unauthorized { presented: true } => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the Authorization header is not Bearer <admin token> with this emulator's admin token (ENTRA_EMULATOR_ADMIN_TOKEN)".to_owned(),
            ),
            Refusal::Host(problem) => {
                let kind = match problem {
                    HostProblem::NotAllowed(_) => "misdirected_request",
                    _ => "bad_request",
                };
                (problem.status(), kind, problem.to_string())
            }
        }
    }
}

/// The status and kind an administrative refusal is answered with.
fn admin_status(refused: &AdminError) -> (StatusCode, &'static str) {
    match refused {
        AdminError::UnknownTenant { .. }
        | AdminError::UnknownUser { .. }
        | AdminError::UnknownApplication { .. }
        | AdminError::UnknownManagedIdentity { .. }
        | AdminError::UnknownFederatedCredential { .. } => (StatusCode::NOT_FOUND, "not_found"),
        AdminError::UserExists { .. }
        | AdminError::ManagedIdentityExists { .. }
        | AdminError::FederatedCredentialExists { .. }
        | AdminError::ObjectIdTaken { .. }
        | AdminError::ApplicationExists { .. }
        | AdminError::IdentifierUriTaken { .. } => (StatusCode::CONFLICT, "conflict"),
        AdminError::UserPrincipalName { .. }
        | AdminError::InvalidDirectory(_)
        | AdminError::Mint(_) => INVALID,
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, error, message) = self.parts();
        let mut response =
            (status, Json(json!({"error": error, "message": message}))).into_response();
        if let Refusal::Unauthorized { presented } = self {
            let challenge = if presented {
                "Bearer realm=\"entra-emulator\", error=\"invalid_token\""
            } else {
                "Bearer realm=\"entra-emulator\""
            };
            response.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Refusal::Error(error)
    }
}

impl From<AdminError> for Refusal {
    fn from(refused: AdminError) -> Self {
        Refusal::Error(refused.into())
    }
}

/// Parses a JSON body: malformed JSON is 400, a wrong shape 422.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let value = json_value(body)?;
    from_value(value)
}

fn json_value(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(Refusal::Malformed)
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Refusal> {
    serde_json::from_value(value).map_err(Refusal::Shape)
}

/// A JSON object body with `field` set to a fresh GUID when absent.
fn with_generated_id<T: DeserializeOwned>(body: &[u8], field: &str) -> Result<T, Refusal> {
    let mut value = json_value(body)?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry(field)
            .or_insert_with(|| util::random_guid().into());
    }
    from_value(value)
}

/// 201 with what was created, as a view without secrets.
fn created(view: &impl Serialize) -> Response {
    (StatusCode::CREATED, Json(view)).into_response()
}

fn no_content(result: Result<(), Error>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => Refusal::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::User;

    #[test]
    fn bodies_distinguish_malformed_json_from_invalid_values() {
        assert!(matches!(
            parse::<MintRequest>(b"{nope"),
            Err(Refusal::Malformed(_))
        ));
        assert!(matches!(
            parse::<MintRequest>(br#"{"tenant": 3}"#),
            Err(Refusal::Shape(_))
        ));
        let user: User = with_generated_id(
            br#"{"userPrincipalName": "x@y", "password": "p"}"#,
            "objectId",
        )
        .unwrap();
        assert!(crate::config::is_guid(&user.object_id));
    }
}
