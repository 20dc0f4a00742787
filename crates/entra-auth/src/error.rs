//! The crate's error type, and how each error answers an HTTP request.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::{InvalidToken, RejectionBody, Require};

/// Everything that can go wrong: building a configuration, loading keys, or
/// authenticating and authorizing a request.
///
/// Each request-time variant maps to exactly one HTTP answer (RFC 6750 §3.1,
/// with an RFC 9457 problem-details body); see [`Error::status`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request carried no bearer token (or used another scheme).
    /// Answered `401` with a bare `WWW-Authenticate: Bearer` challenge.
    #[error("no bearer token in the request")]
    MissingToken,

    /// The request was malformed: two `Authorization` headers, or a token sent
    /// by more than one method. Answered `400` with `error="invalid_request"`.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),

    /// The `Authorization` header is larger than the configured maximum token
    /// size. Answered `431` before any parsing.
    #[error("the Authorization header is too large")]
    TokenTooLarge,

    /// The token is expired, malformed, forged or not meant for this API.
    /// Answered `401` with `error="invalid_token"`.
    #[error("invalid token: {0}")]
    InvalidToken(#[from] InvalidToken),

    /// The token is valid but lacks what the route requires.
    /// Answered `403` with `error="insufficient_scope"` and the delegated
    /// `scope` needed (rendered from the requirement; app roles and
    /// application permissions are not scopes, and are named in
    /// `error_description` instead); the problem-details body names what the
    /// token lacks (`missing`) and what the route requires (`required`).
    #[error("{}", insufficient(required, missing))]
    InsufficientScope {
        /// What the route requires, which the token does not meet.
        required: Require,
        /// The part of `required` the token lacks ([`Require::unmet`]).
        missing: Box<Require>,
    },

    /// The token is valid but was obtained by a client application that is not
    /// on the allow-list. Answered `403`.
    #[error("the client application is not allowed to call this API")]
    ClientNotAllowed,

    /// Signing keys could not be obtained (the identity provider is
    /// unreachable on a cold cache). Answered `503` with `Retry-After`: a `401`
    /// would send every client back to the identity provider during its outage.
    #[error("signing keys are unavailable: {reason}")]
    KeysUnavailable {
        /// When it makes sense to try again.
        retry_after: Duration,
        /// What the last fetch ran into.
        reason: String,
    },

    /// The configuration is incomplete or contradicts itself.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// The extractor ran on a route no authentication layer covers: a
    /// programming error, answered `500`.
    #[error("no entra-auth layer covers this route")]
    NotConfigured,
}

/// "the token lacks app role Admin", and what the route requires when that
/// says more.
fn insufficient(required: &Require, missing: &Require) -> String {
    let (required, missing) = (required.to_string(), missing.to_string());
    if required == missing {
        format!("the token lacks {missing}")
    } else {
        format!("the token lacks {missing} (the route requires {required})")
    }
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::MissingToken | Error::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Error::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Error::TokenTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::InsufficientScope { .. } | Error::ClientNotAllowed => StatusCode::FORBIDDEN,
            Error::KeysUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Config(_) | Error::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` challenge for this error, if it has one.
    pub fn challenge(&self) -> Option<HeaderValue> {
        Some(match self {
            Error::MissingToken => HeaderValue::from_static("Bearer"),
            Error::InvalidRequest(_) => {
                HeaderValue::from_static("Bearer error=\"invalid_request\"")
            }
            Error::InvalidToken(reason) => reason.challenge(),
            Error::InsufficientScope { required, .. } => required.challenge().clone(),
            Error::ClientNotAllowed => HeaderValue::from_static(
                "Bearer error=\"insufficient_scope\", error_description=\"the client application is not allowed\"",
            ),
            _ => return None,
        })
    }

    /// Builds the HTTP answer, with a problem-details body (axum's `Body`,
    /// `http_body_util::Full<Bytes>`, tonic's `Body`...).
    pub fn to_response<B: RejectionBody>(&self) -> http::Response<B> {
        let status = self.status();
        let detail = match self {
            // Server-side problems get no detail: it would only help an attacker.
            Error::Config(_) | Error::NotConfigured => "internal error".to_owned(),
            // The fetch error names internal URLs and upstream answers: logs only.
            Error::KeysUnavailable { .. } => "signing keys are temporarily unavailable".to_owned(),
            other => other.to_string(),
        };
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let (Error::InsufficientScope { required, missing }, Some(members)) =
            (self, body.as_object_mut())
        {
            members.insert("missing".into(), missing.to_string().into());
            members.insert("required".into(), required.to_string().into());
        }
        let mut response = http::Response::new(B::from_bytes(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge() {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Error::KeysUnavailable { retry_after, .. } = self {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after.as_secs().max(1)),
            );
        }
        response
    }
}

#[cfg(feature = "axum")]
impl axum::response::IntoResponse for Error {
    fn into_response(self) -> axum::response::Response {
        self.to_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every error a request can meet, with the status, challenge and body
    /// it is answered with: each rejection's text appears once in its source
    /// and the same everywhere it is rendered.
    #[test]
    fn every_variant_answers_with_its_own_status_challenge_and_text() {
        let mut errors = vec![
            (Error::MissingToken, 401, Some("Bearer")),
            (
                Error::InvalidRequest("two Authorization headers"),
                400,
                Some("Bearer error=\"invalid_request\""),
            ),
            (Error::TokenTooLarge, 431, None),
            (
                Error::InsufficientScope {
                    required: Require::scope("Heroes.Read"),
                    missing: Box::new(Require::scope("Heroes.Read")),
                },
                403,
                Some("Bearer error=\"insufficient_scope\", scope=\"Heroes.Read\""),
            ),
            (
                Error::InsufficientScope {
                    required: Require::role("Admin"),
                    missing: Box::new(Require::role("Admin")),
                },
                403,
                Some(
                    "Bearer error=\"insufficient_scope\", error_description=\"requires app role Admin\"",
                ),
            ),
            (
                Error::ClientNotAllowed,
                403,
                Some(
                    "Bearer error=\"insufficient_scope\", error_description=\"the client application is not allowed\"",
                ),
            ),
            (
                Error::KeysUnavailable {
                    retry_after: Duration::from_secs(3),
                    reason: "http://idp/keys answered 500".into(),
                },
                503,
                None,
            ),
            (Error::Config("no client id".into()), 500, None),
            (Error::NotConfigured, 500, None),
        ];
        for &reason in InvalidToken::ALL {
            errors.push((Error::InvalidToken(reason), 401, None));
        }
        for (error, status, challenge) in errors {
            let response = error.to_response::<Bytes>();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            let header = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok());
            match (&error, challenge) {
                (Error::InvalidToken(reason), _) => {
                    assert_eq!(header, reason.challenge().to_str().ok());
                    assert!(header.is_some_and(|h| h.contains(reason.description())));
                }
                (_, expected) => assert_eq!(header, expected, "{error:?}"),
            }
            let body: serde_json::Value =
                serde_json::from_slice(response.body()).unwrap_or_default();
            assert_eq!(body["status"], status, "{error:?}");
            let detail = body["detail"].as_str().unwrap_or_default();
            match &error {
                Error::Config(_) | Error::NotConfigured => assert_eq!(detail, "internal error"),
                Error::KeysUnavailable { .. } => {
                    assert_eq!(detail, "signing keys are temporarily unavailable");
                    assert_eq!(response.headers()[header::RETRY_AFTER], "3");
                }
                other => assert_eq!(detail, other.to_string()),
            }
        }
        let either = Require::scope_or_app_permission("Heroes.Read");
        assert_eq!(
            Error::InsufficientScope {
                required: either.clone(),
                missing: Box::new(either),
            }
            .to_string(),
            "the token lacks scope Heroes.Read or app permission Heroes.Read"
        );
        let both = Require::scope("Heroes.Read").and(Require::role("Admin"));
        let error = Error::InsufficientScope {
            required: both,
            missing: Box::new(Require::role("Admin")),
        };
        assert_eq!(
            error.to_string(),
            "the token lacks app role Admin (the route requires scope Heroes.Read and app role Admin)"
        );
        let body: serde_json::Value =
            serde_json::from_slice(error.to_response::<Bytes>().body()).unwrap_or_default();
        assert_eq!(body["missing"], "app role Admin");
        assert_eq!(body["required"], "scope Heroes.Read and app role Admin");
    }
}
