//! The wire: the OpenID Connect metadata document, token requests, Entra's
//! token responses (v2 numbers or v1 strings) and OAuth errors.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Value;
use url::Url;

use crate::Error;
use crate::cache::OIDC_SCOPES;
use crate::config::Settings;
use crate::credential::{ASSERTION_TYPE, ClientCredential};
use crate::error::ServerError;
use crate::util::{random_guid, read_body, transport_error};
use entra_core::is_guid;

/// The endpoints of the authority, from its metadata document.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Endpoints {
    /// `issuer`.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization: Url,
    /// `token_endpoint`.
    pub token: Url,
    /// `device_authorization_endpoint` (Entra's layout when the document has none).
    pub device_authorization: Url,
    /// `end_session_endpoint` (Entra's layout when the document has none).
    pub end_session: Url,
}

impl Endpoints {
    /// Whether `iss` is this document's issuer (its `{tenantid}` template
    /// filled with `tid` for the common and organizations authorities).
    pub(crate) fn issued(&self, iss: Option<&str>, tid: Option<&str>) -> bool {
        match (iss, tid) {
            (Some(iss), Some(tid)) => self.issuer.replace("{tenantid}", tid) == iss,
            (Some(iss), None) => self.issuer == iss,
            _ => false,
        }
    }
}

/// Fetches `{authority}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn discover(
    settings: &Settings,
    http: &reqwest::Client,
) -> Result<Endpoints, Error> {
    let url = settings.authority_url("v2.0/.well-known/openid-configuration");
    let fail = |reason: String| Error::Discovery {
        url: url.clone(),
        reason,
    };
    let response = http
        .get(&url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| fail(transport_error(&url, e).to_string()))?;
    let status = response.status();
    let body = read_body(&url, response)
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !status.is_success() {
        return Err(fail(format!("HTTP {status}")));
    }
    let doc: serde_json::Map<String, Value> =
        serde_json::from_slice(&body).map_err(|e| fail(format!("not a JSON object: {e}")))?;
    let string = |name: &str| {
        doc.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let endpoint = |name: &str| -> Result<Option<Url>, Error> {
        string(name)
            .map(|raw| {
                settings
                    .check_endpoint(raw)
                    .map_err(|e| fail(format!("{name}: {e}")))
            })
            .transpose()
    };
    let issuer = string("issuer")
        .ok_or_else(|| fail("no issuer".into()))?
        .to_owned();
    // The document must be the configured tenant's (security catalogue C27).
    if let Some(expected) = &settings.expected_issuer {
        if &issuer != expected {
            return Err(fail(format!(
                "the issuer {issuer:?} is not the configured issuer {expected:?}"
            )));
        }
    } else if is_guid(&settings.tenant) && !issuer.to_ascii_lowercase().contains(&settings.tenant) {
        return Err(fail(format!(
            "the issuer {issuer:?} does not name the configured tenant {}",
            settings.tenant
        )));
    }
    let fallback =
        |path: &str| Url::parse(&settings.authority_url(path)).map_err(|e| fail(e.to_string()));
    Ok(Endpoints {
        issuer,
        authorization: endpoint("authorization_endpoint")?
            .ok_or_else(|| fail("no authorization_endpoint".into()))?,
        token: endpoint("token_endpoint")?.ok_or_else(|| fail("no token_endpoint".into()))?,
        device_authorization: match endpoint("device_authorization_endpoint")? {
            Some(url) => url,
            None => fallback("oauth2/v2.0/devicecode")?,
        },
        end_session: match endpoint("end_session_endpoint")? {
            Some(url) => url,
            None => fallback("oauth2/v2.0/logout")?,
        },
    })
}

/// A token response (v2: numbers; v1: strings). Its `Debug` never shows tokens.
#[derive(Deserialize, Default)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub(crate) expires_in: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    pub(crate) ext_expires_in: Option<i64>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// `3599` or `"3599"` (Entra's v1 endpoints send numbers as strings).
pub(crate) fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| de::Error::custom("not an integer")),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| de::Error::custom("not an integer")),
        Some(_) => Err(de::Error::custom("expected a number")),
    }
}

/// An OAuth error body as Entra sends it.
#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_codes: Vec<Value>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    suberror: Option<String>,
    #[serde(default)]
    claims: Option<String>,
    #[serde(default)]
    error_uri: Option<String>,
}

/// Parses an OAuth error body (any status).
pub(crate) fn parse_error(body: &[u8], status: u16, request_id: &str) -> Option<ServerError> {
    let body: ErrorBody = serde_json::from_slice(body).ok()?;
    if body.error.is_empty() {
        return None;
    }
    let error_codes: Vec<u32> = body
        .error_codes
        .iter()
        .filter_map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
        .collect();
    let mut server = ServerError {
        error: body.error,
        description: body.error_description,
        aadsts: error_codes.first().copied(),
        error_codes,
        suberror: body.suberror,
        trace_id: body.trace_id,
        correlation_id: body.correlation_id,
        timestamp: body.timestamp,
        claims: body.claims,
        error_uri: body.error_uri,
        status: Some(status),
    };
    server.fill_from_description();
    if server.correlation_id.is_none() {
        server.correlation_id = Some(request_id.to_owned());
    }
    Some(server)
}

/// AADSTS codes that only the user can resolve: MFA, conditional access,
/// consent, expired or revoked grants, password changes, sign-in frequency.
const INTERACTION_CODES: &[u32] = &[
    50_055, 50_058, 50_072, 50_074, 50_076, 50_079, 50_097, 50_125, 50_133, 50_140, 50_144, 50_158,
    50_173, 53_000, 53_001, 53_003, 65_001, 65_004, 70_008, 70_043, 700_082, 700_084,
];

/// Sub-errors MSAL treats as "the user must act".
const INTERACTION_SUBERRORS: &[&str] = &[
    "basic_action",
    "additional_action",
    "message_only",
    "consent_required",
    "user_password_expired",
    "bad_token",
    "token_expired",
];

/// How a request that failed with an OAuth error is reported. `silent`:
/// a refresh, where any `invalid_grant` means the refresh token is unusable.
pub(crate) fn classify(server: Box<ServerError>, silent: bool) -> Error {
    let interaction = matches!(
        server.error.as_str(),
        "interaction_required" | "login_required" | "consent_required"
    ) || (server.error == "invalid_grant"
        && (silent
            || server
                .aadsts
                .is_some_and(|c| INTERACTION_CODES.contains(&c))
            || server
                .suberror
                .as_deref()
                .is_some_and(|s| INTERACTION_SUBERRORS.contains(&s))));
    if interaction {
        Error::InteractionRequired {
            server: Some(server),
        }
    } else {
        Error::Authority(server)
    }
}

/// A POST to the token endpoint.
pub(crate) struct TokenRequest<'a> {
    pub(crate) settings: &'a Settings,
    pub(crate) http: &'a reqwest::Client,
    pub(crate) credential: Option<&'a ClientCredential>,
    pub(crate) endpoint: &'a Url,
    pub(crate) params: Vec<(&'static str, String)>,
    /// Ask for `client_info` (user flows).
    pub(crate) client_info: bool,
}

/// The outcome of a token request: a token response, or the OAuth error.
pub(crate) enum Answer {
    Tokens(Box<TokenResponse>),
    Refused(Box<ServerError>),
}

impl TokenRequest<'_> {
    /// Sends the request; transport failures and unreadable answers are errors.
    pub(crate) async fn send(self) -> Result<Answer, Error> {
        let url = self.endpoint.as_str();
        let client_id = &self.settings.client_id;
        let mut form: Vec<(&str, String)> = Vec::with_capacity(self.params.len() + 4);
        form.push(("client_id", client_id.clone()));
        form.extend(self.params);
        if self.client_info {
            form.push(("client_info", "1".to_owned()));
        }
        let mut basic = None;
        match self.credential {
            None => {}
            Some(ClientCredential::Secret(secret)) if secret.basic() => {
                basic = Some(secret.value().to_owned());
            }
            Some(ClientCredential::Secret(secret)) => {
                form.push(("client_secret", secret.value().to_owned()));
            }
            Some(ClientCredential::Certificate(certificate)) => {
                let assertion = certificate.assertion(client_id, url, self.settings.clock.now())?;
                form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
                form.push(("client_assertion", assertion));
            }
            Some(ClientCredential::Assertion(assertion)) => {
                let assertion = assertion
                    .get(client_id, url, self.settings.clock.now())
                    .await?;
                form.push(("client_assertion_type", ASSERTION_TYPE.to_owned()));
                form.push(("client_assertion", assertion));
            }
        }
        let request_id = random_guid()?;
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("client-request-id", &request_id)
            .header("return-client-request-id", "true")
            .form(&form);
        if let Some(secret) = basic {
            // RFC 6749 §2.3.1: both parts form-encoded before Basic encoding.
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(client_id), Some(encode(&secret)));
        }
        let response = request.send().await.map_err(|e| transport_error(url, e))?;
        let status = response.status().as_u16();
        let body = read_body(url, response).await?;
        if (200..300).contains(&status) {
            let tokens: TokenResponse =
                serde_json::from_slice(&body).map_err(|e| Error::UnexpectedResponse {
                    url: url.to_owned(),
                    status,
                    reason: format!("not a token response: {e}"),
                })?;
            return Ok(Answer::Tokens(Box::new(tokens)));
        }
        match parse_error(&body, status, &request_id) {
            Some(server) => Ok(Answer::Refused(Box::new(server))),
            None => Err(Error::UnexpectedResponse {
                url: url.to_owned(),
                status,
                reason: "not an OAuth error".into(),
            }),
        }
    }
}

/// A token response's access token, expiry and type, checked.
pub(crate) struct Issued {
    pub(crate) access_token: String,
    pub(crate) token_type: String,
    pub(crate) expires_on: i64,
    pub(crate) ext_expires_on: Option<i64>,
}

impl TokenResponse {
    /// The access token and its lifetime on `now`'s clock. Entra's answers
    /// always carry one; a missing one, or a token type other than Bearer,
    /// is an unexpected answer.
    pub(crate) fn issued(&self, url: &Url, now: i64) -> Result<Issued, Error> {
        let unexpected = |reason: &str| Error::UnexpectedResponse {
            url: url.to_string(),
            status: 200,
            reason: reason.to_owned(),
        };
        let access_token = self
            .access_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unexpected("the token response has no access_token"))?;
        let token_type = self.token_type.clone().unwrap_or_else(|| "Bearer".into());
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(unexpected("the token type is not Bearer"));
        }
        // MSAL's default when Entra says nothing.
        let expires_in = self.expires_in.unwrap_or(3599).max(0);
        Ok(Issued {
            access_token,
            token_type: "Bearer".into(),
            expires_on: now.saturating_add(expires_in),
            ext_expires_on: self
                .ext_expires_in
                .filter(|e| *e > 0)
                .map(|e| now.saturating_add(e)),
        })
    }

    /// The granted resource scopes (without `openid`, `profile`,
    /// `offline_access`: those are not the access token's), or `requested`
    /// when the answer names none.
    pub(crate) fn granted_scopes(&self, requested: &[String]) -> Vec<String> {
        match &self.scope {
            Some(scope) if !scope.trim().is_empty() => scope
                .split_whitespace()
                .filter(|s| !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
                .map(str::to_owned)
                .collect(),
            _ => requested.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_a_number_or_a_string() {
        let v2: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":3599,"ext_expires_in":3599}"#)
                .unwrap_or_default();
        assert_eq!(v2.expires_in, Some(3599));
        let v1: TokenResponse = serde_json::from_str(
            r#"{"access_token":"a","expires_in":"3599","ext_expires_in":"0","expires_on":"1700000000"}"#,
        )
        .unwrap_or_default();
        assert_eq!(v1.expires_in, Some(3599));
        assert_eq!(v1.ext_expires_in, Some(0));
        assert!(serde_json::from_str::<TokenResponse>(r#"{"expires_in":"soon"}"#).is_err());
    }

    #[test]
    fn errors_carry_code_trace_and_correlation() {
        let body = br#"{"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: x","error_codes":[70008],"timestamp":"x","trace_id":"t","correlation_id":"c","suberror":"bad_token"}"#;
        let server = parse_error(body, 400, "req").unwrap_or_default();
        assert_eq!(server.aadsts, Some(70_008));
        assert_eq!(server.trace_id.as_deref(), Some("t"));
        assert_eq!(server.correlation_id.as_deref(), Some("c"));
        assert!(classify(Box::new(server.clone()), false).is_interaction_required());
        let pkce = ServerError {
            error: "invalid_grant".into(),
            aadsts: Some(501_481),
            ..ServerError::default()
        };
        assert!(matches!(
            classify(Box::new(pkce.clone()), false),
            Error::Authority(_)
        ));
        assert!(classify(Box::new(pkce), true).is_interaction_required());
        // Without a correlation id in the body, the request's own id is used.
        let bare = parse_error(br#"{"error":"invalid_client"}"#, 401, "req").unwrap_or_default();
        assert_eq!(bare.correlation_id.as_deref(), Some("req"));
        assert!(parse_error(b"<html>", 500, "req").is_none());
    }
}
