//! [`Error`]: everything that can fail, at start-up or in a request, and the
//! RFC 9457 problem-details answer each failure gets.

use std::time::Duration;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

/// Everything that can go wrong in this crate.
///
/// Start-up failures ([`Error::Config`], [`Error::Database`],
/// [`Error::Migrate`], [`Error::Io`]) are returned by
/// [`DemoApi::start`](crate::DemoApi::start). Request failures become an
/// `application/problem+json` answer ([`Error::status`] says which status);
/// nothing a client sends is ever answered `500`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or contradicts itself: a database URL
    /// that is neither SQLite nor PostgreSQL, an `entra-auth` setting it
    /// refuses (an `http` authority on a non-loopback host, a multi-tenant
    /// authority without a tenant policy...).
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The database cannot be opened or a query failed. At request time:
    /// `503` when no connection could be had (the database is down, the pool
    /// is exhausted), `500` otherwise. The details go to the log only.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// The embedded migrations could not be applied (start-up only).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// The listener failed (start-up only).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Authentication or authorization failed: answered exactly as
    /// `entra-auth` answers it (401 with `WWW-Authenticate`, 403
    /// `insufficient_scope`, 503 while keys are unavailable).
    #[error(transparent)]
    Auth(#[from] entra_auth::Error),

    /// The resource does not exist: `404`.
    #[error("{0}")]
    NotFound(String),

    /// The caller may not touch this resource (someone else's todo item): `403`.
    #[error("{0}")]
    Forbidden(&'static str),

    /// The body is well-formed JSON but some fields are invalid: `422`, with
    /// every invalid field named in `errors`.
    #[error("invalid fields: {}", names(.0))]
    InvalidFields(Vec<FieldError>),

    /// The request is malformed: JSON that does not parse, a query parameter
    /// or path segment that is not what the route takes: `400`. `errors`
    /// names the parameters at fault, if any.
    #[error("bad request: {detail}")]
    BadRequest {
        /// What is wrong, for people.
        detail: String,
        /// The parameters at fault.
        errors: Vec<FieldError>,
    },

    /// The body is not `application/json`: `415`.
    #[error("the request body must be application/json")]
    UnsupportedMediaType,

    /// The body is larger than the limit: `413`.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },

    /// The path exists but not with this method: `405`.
    #[error("method not allowed")]
    MethodNotAllowed,
}

fn names(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| e.field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// One invalid field or parameter, as listed in a problem's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field (`name`, `age`), query parameter (`limit`) or path segment (`id`).
    pub field: String,
    /// Why it is invalid.
    pub message: String,
}

impl FieldError {
    /// `field` is invalid because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The body of every error answer: RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank`: the status code says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status code's reason phrase.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for people.
    pub detail: String,
    /// The invalid fields or parameters (422 and some 400 answers); absent
    /// when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Auth(e) => e.status(),
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::InvalidFields(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Database(e) if is_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::Database(_) | Error::Migrate(_) | Error::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The problem-details body of this error.
    fn problem(&self) -> Problem {
        let status = self.status();
        let (detail, errors) = match self {
            Error::InvalidFields(errors) => {
                (format!("invalid fields: {}", names(errors)), errors.clone())
            }
            Error::BadRequest { detail, errors } => (detail.clone(), errors.clone()),
            // Server-side problems: the details are logged, never sent.
            _ if status == StatusCode::SERVICE_UNAVAILABLE => (
                "the database is unavailable; try again later".to_owned(),
                Vec::new(),
            ),
            _ if status.is_server_error() => ("internal error".to_owned(), Vec::new()),
            other => (other.to_string(), Vec::new()),
        };
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

/// No connection could be had: the database is down or overloaded.
fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
    )
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        if let Error::Auth(e) = &self {
            // entra-auth renders its own answer: challenge header, problem body.
            return e.to_response();
        }
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER.as_secs()),
            );
        }
        response
    }
}

/// What a `503` suggests.
const RETRY_AFTER: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_name_each_field() {
        let error = Error::InvalidFields(vec![
            FieldError::new("name", "must not be blank"),
            FieldError::new("age", "must be between 0 and 10000"),
        ]);
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem = serde_json::to_value(error.problem()).unwrap_or_default();
        assert_eq!(problem["status"], 422);
        assert_eq!(problem["errors"][0]["field"], "name");
        assert_eq!(problem["errors"][1]["field"], "age");
        assert_eq!(problem["type"], "about:blank");
    }

    #[test]
    fn server_errors_say_nothing_about_their_cause() {
        let error = Error::Database(sqlx::Error::Protocol("secret detail".into()));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.problem().detail, "internal error");
        let down = Error::Database(sqlx::Error::PoolTimedOut);
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
