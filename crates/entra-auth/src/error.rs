//! The crate's error type, and how each error answers an HTTP request.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::RejectionBody;

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
    /// Answered `403` with `error="insufficient_scope"` and the `scope` needed.
    #[error("insufficient scope")]
    InsufficientScope {
        /// The pre-rendered `WWW-Authenticate` challenge naming what is needed.
        challenge: HeaderValue,
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

/// Why a token was refused. Every variant is answered `401 invalid_token`.
///
/// The descriptions are fixed texts: nothing from the token is echoed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not a compact JWS: wrong number of segments, characters outside base64url,
    /// padding, a segment that is not a JSON object, duplicate members.
    #[error("the token is malformed")]
    Malformed,
    /// A JWE (five segments or an `enc` header): encrypted tokens are not accepted.
    #[error("encrypted tokens are not accepted")]
    Encrypted,
    /// `alg` is missing or not on the allow-list (`none`, HMAC, RS512...).
    #[error("the signing algorithm is not allowed")]
    Algorithm,
    /// The header carries or points to a key (`jwk`, `jku`, `x5u`, `x5c`).
    #[error("tokens may not carry or point to their own key")]
    EmbeddedKey,
    /// The header has a `crit` member: no extension is understood here.
    #[error("the token has critical header extensions")]
    CriticalHeader,
    /// The header uses `b64`, `zip`, `cty`, or an unexpected `typ`.
    #[error("the token header is not supported")]
    UnsupportedHeader,
    /// No published key matches the token's `kid`.
    #[error("the signing key was not found")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the clock skew).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the clock skew).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the clock skew).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// A required claim is missing, or a claim has the wrong type.
    #[error("a required claim is missing or has the wrong type")]
    Claims,
    /// `iss` is not the issuer configured for this token's version and tenant,
    /// or not the issuer of the key that signed it.
    #[error("the issuer is invalid")]
    Issuer,
    /// `aud` does not name this API.
    #[error("the audience is invalid")]
    Audience,
    /// The token's tenant is not allowed.
    #[error("the tenant is not allowed")]
    Tenant,
    /// The token's version (`ver`) is not accepted.
    #[error("the token version is not accepted")]
    Version,
    /// The token is an ID token, not an access token.
    #[error("ID tokens are not access tokens")]
    IdToken,
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
            Error::InsufficientScope { challenge } => challenge.clone(),
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
        let body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
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

impl InvalidToken {
    /// The `WWW-Authenticate` challenge for this reason (static, no allocation).
    pub fn challenge(self) -> HeaderValue {
        macro_rules! challenge {
            ($text:literal) => {
                HeaderValue::from_static(concat!(
                    "Bearer error=\"invalid_token\", error_description=\"",
                    $text,
                    "\""
                ))
            };
        }
        match self {
            InvalidToken::Malformed => challenge!("the token is malformed"),
            InvalidToken::Encrypted => challenge!("encrypted tokens are not accepted"),
            InvalidToken::Algorithm => challenge!("the signing algorithm is not allowed"),
            InvalidToken::EmbeddedKey => {
                challenge!("tokens may not carry or point to their own key")
            }
            InvalidToken::CriticalHeader => challenge!("the token has critical header extensions"),
            InvalidToken::UnsupportedHeader => challenge!("the token header is not supported"),
            InvalidToken::UnknownKey => challenge!("the signing key was not found"),
            InvalidToken::BadSignature => challenge!("the signature is invalid"),
            InvalidToken::Expired => challenge!("the token has expired"),
            InvalidToken::NotYetValid => challenge!("the token is not valid yet"),
            InvalidToken::IssuedInFuture => challenge!("the token was issued in the future"),
            InvalidToken::Claims => challenge!("a required claim is missing or has the wrong type"),
            InvalidToken::Issuer => challenge!("the issuer is invalid"),
            InvalidToken::Audience => challenge!("the audience is invalid"),
            InvalidToken::Tenant => challenge!("the tenant is not allowed"),
            InvalidToken::Version => challenge!("the token version is not accepted"),
            InvalidToken::IdToken => challenge!("ID tokens are not access tokens"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_renders_its_own_description() {
        for reason in [
            InvalidToken::Malformed,
            InvalidToken::Expired,
            InvalidToken::IdToken,
            InvalidToken::EmbeddedKey,
        ] {
            let header = reason.challenge();
            let text = header.to_str().unwrap_or_default();
            assert!(text.contains(&reason.to_string()), "{text}");
        }
    }
}
