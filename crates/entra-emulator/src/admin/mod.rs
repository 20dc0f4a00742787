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
//! | `POST /_emulator/tenants/{tenant}/keys/rotate` | | `{"kid": ...}` |
//! | `GET /_emulator/requests` | | the request log: `[{"time", "method", "path", "params": [[name, value]], "omitted_params", "status"}]`, values redacted by allow-list and cut short, at most 4 MiB |
//! | `GET /_emulator/clock`, `POST /_emulator/clock` | `{"offsetSeconds": n}` and/or `{"fixed": unix or null}` | `{"now": unix}` |
//! | `POST /_emulator/tokens` | `{"tenant", "clientId", "resource", "user"?, "scopes"?, "claims"?}` | `{"access_token", "token_type", "expires_in", "expires_on"}` |
//!
//! `{tenant}` is a tenant id or domain. Errors are `{"error": kind, "message": text}`
//! with 400 (malformed JSON), 404, 409 or 422. Every change is checked
//! against the whole directory ([`Directory::check`](crate::config::Directory::check)) before it takes effect,
//! and appended to `{data_dir}/admin-journal.json`, which
//! `apply_journal` replays over the configuration file at start, so
//! changes survive restarts. Key rotations need no journal: the key files
//! themselves are persisted. The journal, like everything in the data
//! directory, is readable by its owner only, and holds a user's password
//! only as an Argon2id hash (`passwordHash`): a user added with a
//! `password` is hashed before the change is applied.
//!
//! The API has no authentication: it is for a local emulator bound to
//! loopback, like the rest of it.
//!
//! Layout: this module routes and answers refusals; `journal` applies,
//! checks, journals and replays changes; `users` and `applications` are the
//! changes themselves; `mint` mints tokens ([`MintRequest`]); `keys` rotates
//! signing keys; `clock` shifts the clock; `views` shows the directory
//! without secrets, and the request log.

mod applications;
mod clock;
mod journal;
mod keys;
mod mint;
mod users;
mod views;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::AdminError;
use crate::state::State;
use crate::{Error, util};

pub(crate) use journal::apply_journal;
pub use mint::MintRequest;

/// The administration routes.
pub(crate) fn routes() -> Router<Arc<State>> {
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
            "/_emulator/tenants/{tenant}/keys/rotate",
            post(keys::rotate),
        )
        .route("/_emulator/requests", get(views::requests))
        .route("/_emulator/clock", get(clock::get).post(clock::set))
        .route("/_emulator/tokens", post(mint::endpoint))
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
        }
    }
}

/// The status and kind an administrative refusal is answered with.
fn admin_status(refused: &AdminError) -> (StatusCode, &'static str) {
    match refused {
        AdminError::UnknownTenant { .. }
        | AdminError::UnknownUser { .. }
        | AdminError::UnknownApplication { .. } => (StatusCode::NOT_FOUND, "not_found"),
        AdminError::UserExists { .. }
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
        (status, Json(json!({"error": error, "message": message}))).into_response()
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

fn created(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
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
