//! Errors: the crate's error type, and the OAuth error answers shaped as
//! Entra sends them (JSON with an `AADSTSnnnnn:` description, error codes,
//! trace and correlation ids, timestamp).

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::util;

/// What can go wrong starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A file in the data directory could not be read or written.
    #[error("data directory: {0}")]
    Storage(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An administrative request was refused.
    #[error("{0}")]
    Admin(String),
    /// A key or certificate operation failed.
    #[error("crypto: {0}")]
    Crypto(String),
}

/// An OAuth 2.0 error answer from the token, device-code or authorize endpoints.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status (400, or 401 for `invalid_client`).
    pub status: StatusCode,
    /// The OAuth `error` code.
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The human-readable description, without the `AADSTS` prefix.
    pub description: String,
    /// MSAL's `suberror` (`consent_required`, `bad_token`...).
    pub suberror: Option<&'static str>,
}

impl OAuthError {
    /// A new error answered with HTTP 400.
    pub fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        OAuthError {
            status: StatusCode::BAD_REQUEST,
            error,
            code,
            description: description.into(),
            suberror: None,
        }
    }

    /// With another HTTP status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// With another AADSTS code and description.
    pub fn with_code(mut self, code: u32, description: impl Into<String>) -> Self {
        self.code = code;
        self.description = description.into();
        self
    }

    /// With a `suberror`.
    pub fn suberror(mut self, suberror: &'static str) -> Self {
        self.suberror = Some(suberror);
        self
    }

    /// `invalid_request`: a missing or malformed parameter (AADSTS900144).
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", 900_144, description)
    }

    /// `invalid_client`, AADSTS7000215: wrong secret.
    pub fn invalid_secret() -> Self {
        Self::new(
            "invalid_client",
            7_000_215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        )
        .status(StatusCode::UNAUTHORIZED)
    }

    /// `unauthorized_client`, AADSTS700016: unknown application.
    pub fn unknown_client(client_id: &str, tenant: &str) -> Self {
        Self::new(
            "unauthorized_client",
            700_016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        )
    }

    /// `invalid_scope`, AADSTS70011.
    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            "invalid_scope",
            70_011,
            format!(
                "The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    /// `invalid_grant`.
    pub fn invalid_grant(code: u32, description: impl Into<String>) -> Self {
        Self::new("invalid_grant", code, description)
    }

    /// `unsupported_grant_type`, AADSTS70003.
    pub fn unsupported_grant_type(grant: &str) -> Self {
        Self::new(
            "unsupported_grant_type",
            70_003,
            format!("The app requested an unsupported grant type '{grant}'."),
        )
    }

    /// The JSON body, with fresh trace and correlation ids.
    pub fn body(&self, correlation_id: Option<&str>, now: i64) -> serde_json::Value {
        let trace_id = util::random_guid();
        let correlation_id = correlation_id
            .filter(|c| crate::config::is_guid(c))
            .map_or_else(util::random_guid, str::to_owned);
        let timestamp = util::entra_timestamp(now);
        let mut body = serde_json::json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        });
        if let Some(suberror) = self.suberror {
            body["suberror"] = suberror.into();
        }
        body
    }

    /// The full HTTP answer.
    pub fn into_response_at(self, correlation_id: Option<&str>, now: i64) -> Response {
        let mut response = (self.status, Json(self.body(correlation_id, now))).into_response();
        no_store(response.headers_mut());
        response
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.into_response_at(None, now)
    }
}

/// `Cache-Control: no-store, no-cache` and `Pragma: no-cache`, as Entra's
/// token responses carry.
pub fn no_store(headers: &mut http::HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
