//! The heroes API, called with the signed-in user's access token
//! (`Authorization: Bearer`), and what its refusals mean for people.
//!
//! Every failure is an [`ApiFailure`] that becomes a page with its own
//! status: the API's `401` and `403` are explained (the scope or role that
//! is missing, read from `WWW-Authenticate`), an unreachable API is `502`,
//! invalid input is `422` with each field named. Never a `500`.

use std::time::Duration;

use http::StatusCode;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use url::Url;

use crate::telemetry;

/// The most items a page shows (the API's largest page).
const PAGE_SIZE: u32 = 100;

/// The largest API answer read.
const MAX_BODY: usize = 1024 * 1024;

/// A hero, as the API answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Hero {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) secret_name: String,
    #[serde(default)]
    pub(crate) age: Option<i32>,
}

/// A todo item, as the API answers it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TodoItem {
    pub(crate) id: i64,
    pub(crate) title: String,
    /// Whose item it is (an `Admin` sees everyone's).
    #[serde(default)]
    pub(crate) owner: Option<Owner>,
}

/// The owner of a todo item: a user's tenant and object id.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Owner {
    #[serde(default)]
    pub(crate) tenant_id: String,
    #[serde(default)]
    pub(crate) object_id: String,
}

/// One page of items.
#[derive(Debug, Deserialize)]
struct Page<T> {
    items: Vec<T>,
}

/// The body of `POST /heroes`.
#[derive(Debug, Serialize)]
pub(crate) struct NewHero {
    pub(crate) name: String,
    pub(crate) secret_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) age: Option<i32>,
}

/// The body of `POST /todoitems`.
#[derive(Debug, Serialize)]
pub(crate) struct NewTodoItem {
    pub(crate) title: String,
}

/// An RFC 9457 problem, as the API answers errors.
#[derive(Debug, Default, Deserialize)]
struct Problem {
    #[serde(default)]
    detail: Option<String>,
    /// What a `403` says the token lacks (entra-auth's `missing`).
    #[serde(default)]
    missing: Option<String>,
    #[serde(default)]
    errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize)]
struct FieldError {
    #[serde(default)]
    field: String,
    #[serde(default)]
    message: String,
}

/// Why a call to the API did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiFailure {
    /// No answer: connection refused, timeout, reset.
    Unreachable,
    /// `401`: the API did not accept the token (wrong audience, expired,
    /// signed by a key it does not know).
    Unauthorized { detail: Option<String> },
    /// `403`: the token lacks a scope or role (`missing`, from
    /// `WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`,
    /// else the problem's `missing`: `app role Admin`), or the item belongs
    /// to someone else.
    Forbidden {
        missing: Option<String>,
        detail: Option<String>,
    },
    /// `404`.
    NotFound { detail: Option<String> },
    /// `400` or `422`: the input was refused, each field with its reason.
    Invalid {
        detail: Option<String>,
        fields: Vec<(String, String)>,
    },
    /// Anything else (`5xx`, an answer that is not what the API sends).
    Unexpected { status: u16 },
}

impl ApiFailure {
    /// The status of the page that explains it.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            ApiFailure::Unreachable | ApiFailure::Unexpected { .. } => StatusCode::BAD_GATEWAY,
            ApiFailure::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiFailure::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiFailure::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiFailure::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// A client of the heroes API.
#[derive(Debug, Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
}

impl Api {
    pub(crate) fn new(base: Url, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("demo-web/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Api { http, base })
    }

    /// The API's base URL.
    pub(crate) fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, path: &str) -> Result<Url, ApiFailure> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|_| ApiFailure::Unexpected { status: 0 })
    }

    pub(crate) async fn list_heroes(&self, token: &str) -> Result<Vec<Hero>, ApiFailure> {
        let url = self.url(&format!("heroes?limit={PAGE_SIZE}"))?;
        let body = self.send(self.http.get(url), token, StatusCode::OK).await?;
        parse::<Page<Hero>>(&body).map(|p| p.items)
    }

    pub(crate) async fn create_hero(&self, token: &str, hero: &NewHero) -> Result<(), ApiFailure> {
        let request = self.http.post(self.url("heroes")?).json(hero);
        self.send(request, token, StatusCode::CREATED)
            .await
            .map(drop)
    }

    pub(crate) async fn delete_hero(&self, token: &str, id: i64) -> Result<(), ApiFailure> {
        let request = self.http.delete(self.url(&format!("heroes/{id}"))?);
        self.send(request, token, StatusCode::NO_CONTENT)
            .await
            .map(drop)
    }

    pub(crate) async fn list_todo_items(&self, token: &str) -> Result<Vec<TodoItem>, ApiFailure> {
        let url = self.url(&format!("todoitems?limit={PAGE_SIZE}"))?;
        let body = self.send(self.http.get(url), token, StatusCode::OK).await?;
        parse::<Page<TodoItem>>(&body).map(|p| p.items)
    }

    pub(crate) async fn create_todo_item(
        &self,
        token: &str,
        item: &NewTodoItem,
    ) -> Result<(), ApiFailure> {
        let request = self.http.post(self.url("todoitems")?).json(item);
        self.send(request, token, StatusCode::CREATED)
            .await
            .map(drop)
    }

    pub(crate) async fn delete_todo_item(&self, token: &str, id: i64) -> Result<(), ApiFailure> {
        let request = self.http.delete(self.url(&format!("todoitems/{id}"))?);
        self.send(request, token, StatusCode::NO_CONTENT)
            .await
            .map(drop)
    }

    /// Sends `request` with the token; the body of an answer with the
    /// `expected` status, else the failure it means.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        token: &str,
        expected: StatusCode,
    ) -> Result<Vec<u8>, ApiFailure> {
        let mut request = request.bearer_auth(token).build().map_err(|e| {
            tracing::warn!(error = %e.without_url(), "no request for the heroes API");
            ApiFailure::Unexpected { status: 0 }
        })?;
        let span = telemetry::client_span(&request);
        telemetry::inject(&span, request.headers_mut());
        let response = self
            .http
            .execute(request)
            .instrument(span.clone())
            .await
            .map_err(|e| {
                // The error names the URL (no token in it) and the cause.
                tracing::warn!(error = %e.without_url(), "the heroes API cannot be reached");
                ApiFailure::Unreachable
            })?;
        let status = response.status();
        telemetry::record_status(&span, status);
        let challenge = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_limited(response).await?;
        if status == expected {
            return Ok(body);
        }
        let problem: Problem = serde_json::from_slice(&body).unwrap_or_default();
        let detail = problem.detail.filter(|d| !d.trim().is_empty());
        let failure = match status {
            StatusCode::UNAUTHORIZED => ApiFailure::Unauthorized { detail },
            StatusCode::FORBIDDEN => ApiFailure::Forbidden {
                missing: missing(challenge.as_deref(), problem.missing),
                detail,
            },
            StatusCode::NOT_FOUND => ApiFailure::NotFound { detail },
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ApiFailure::Invalid {
                detail,
                fields: problem
                    .errors
                    .into_iter()
                    .map(|e| (e.field, e.message))
                    .collect(),
            },
            other => ApiFailure::Unexpected {
                status: other.as_u16(),
            },
        };
        tracing::info!(status = status.as_u16(), "the heroes API refused a request");
        Err(failure)
    }
}

/// Reads a body of at most [`MAX_BODY`] bytes.
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, ApiFailure> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(ApiFailure::Unexpected {
                        status: response.status().as_u16(),
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(_) => return Err(ApiFailure::Unreachable),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiFailure> {
    serde_json::from_slice(body).map_err(|_| ApiFailure::Unexpected { status: 200 })
}

/// A parameter of a `WWW-Authenticate: Bearer a="b", c="d"` challenge.
fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Bearer")?;
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key.trim().trim_start_matches(',').trim();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        if key.eq_ignore_ascii_case(name) {
            return Some(value.to_owned());
        }
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    None
}

/// What a `403` says the token lacks: the scope to ask for, from the
/// challenge; else (an app role is not a scope) the problem's `missing`.
fn missing(challenge: Option<&str>, problem: Option<String>) -> Option<String> {
    challenge
        .and_then(|c| challenge_param(c, "scope"))
        .or(problem.filter(|m| !m.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_role_is_read_from_the_problem_details() {
        let role =
            r#"Bearer error="insufficient_scope", error_description="requires app role Admin""#;
        assert_eq!(
            missing(Some(role), Some("app role Admin".into())).as_deref(),
            Some("app role Admin")
        );
        let scope = r#"Bearer error="insufficient_scope", scope="Heroes.Delete""#;
        assert_eq!(
            missing(Some(scope), Some("scope Heroes.Delete".into())).as_deref(),
            Some("Heroes.Delete")
        );
        assert_eq!(missing(Some(role), Some(" ".into())), None);
        assert_eq!(missing(None, None), None);
    }

    #[test]
    fn the_missing_scope_is_read_from_the_challenge() {
        let c = r#"Bearer realm="heroes", error="insufficient_scope", error_description="x, y", scope="Heroes.Delete""#;
        assert_eq!(
            challenge_param(c, "scope").as_deref(),
            Some("Heroes.Delete")
        );
        assert_eq!(
            challenge_param(c, "error").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(challenge_param("Bearer", "scope"), None);
        assert_eq!(challenge_param("Basic realm=\"x\"", "realm"), None);
        assert_eq!(
            challenge_param("Bearer error=invalid_token, scope=a", "scope").as_deref(),
            Some("a")
        );
    }
}
