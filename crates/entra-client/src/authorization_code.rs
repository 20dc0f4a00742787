//! Sign-in with the authorization code flow: PKCE (S256), `state` and
//! `nonce`, the callback checked, the code redeemed, the ID token validated.
//!
//! 1. [`Client::authorize_url`] gives the URL to send the browser to, and a
//!    [`PendingAuthorization`] to keep server-side (in the session): its
//!    `state`, `nonce`, PKCE verifier, redirect URI, scopes and creation time.
//! 2. The identity provider redirects to the redirect URI with a
//!    [`Callback`] (`code` and `state`, or `error`).
//! 3. [`Client::complete_authorization`] takes the pending authorization *by
//!    value* (it cannot be completed twice) and the callback: it checks the
//!    state (in constant time) and the age, turns an `error` into
//!    [`Error::AuthorizationDenied`], redeems the code with the verifier,
//!    validates the ID token (signature with the tenant's keys, issuer,
//!    audience, lifetime, nonce) and caches the tokens.
//!
//! ```no_run
//! use entra_client::{AuthorizationRequest, Callback, ConfidentialClient, PendingAuthorization};
//!
//! # async fn login(client: &ConfidentialClient) -> Result<(), entra_client::Error> {
//! // GET /login
//! let start = client
//!     .authorize_url(AuthorizationRequest::new([
//!         "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Heroes.Read",
//!     ]))
//!     .await?;
//! let stored: String = serde_json::to_string(&start.pending).unwrap(); // into the session
//! // ... redirect the browser to start.url ...
//!
//! // GET /auth/callback?code=...&state=...
//! let pending: PendingAuthorization = serde_json::from_str(&stored).unwrap(); // out of the session
//! let callback = Callback::from_query("code=...&state=...")?;
//! let sign_in = client.complete_authorization(pending, &callback).await?;
//! println!("hello {:?} ({})", sign_in.account.name(), sign_in.account.home_account_id());
//! # Ok(()) }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::client::{resource_scopes, with_oidc};
use crate::config::check_redirect_uri;
use crate::error::ServerError;
use crate::protocol::{self, Answer};
use crate::token::SignIn;
use crate::util::{random_b64, sha256_b64};
use crate::{Account, Client, Error};
use entra_core::secrets_equal;

/// What to ask for at the authorization endpoint.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    scopes: Vec<String>,
    redirect_uri: Option<String>,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
    domain_hint: Option<String>,
    response_mode: ResponseMode,
}

/// The `prompt` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prompt {
    /// Always ask for credentials.
    Login,
    /// Never show a page: fail with `login_required` / `consent_required` instead.
    None,
    /// Show the consent page even when consent was given.
    Consent,
    /// Let the user pick an account.
    SelectAccount,
}

impl Prompt {
    fn as_str(self) -> &'static str {
        match self {
            Prompt::Login => "login",
            Prompt::None => "none",
            Prompt::Consent => "consent",
            Prompt::SelectAccount => "select_account",
        }
    }
}

/// How the identity provider returns to the redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseMode {
    /// A GET with the parameters in the query (the default).
    #[default]
    Query,
    /// A POST of an HTML form (`application/x-www-form-urlencoded`): the code
    /// stays out of the URL, history and logs. Needs `SameSite=None` on
    /// cookies read by the callback.
    FormPost,
}

impl AuthorizationRequest {
    /// A request for these resource scopes (of one API, e.g.
    /// `api://{id}/Heroes.Read`). `openid profile offline_access` are always
    /// added: the sign-in needs an ID token and a refresh token.
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        AuthorizationRequest {
            scopes: scopes.into_iter().map(Into::into).collect(),
            redirect_uri: None,
            prompt: None,
            login_hint: None,
            domain_hint: None,
            response_mode: ResponseMode::Query,
        }
    }

    /// The redirect URI (default: the client's).
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(uri.into());
        self
    }

    /// The `prompt`.
    pub fn prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// Pre-fills the sign-in name (`login_hint`).
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Skips home-realm discovery (`domain_hint`).
    pub fn domain_hint(mut self, hint: impl Into<String>) -> Self {
        self.domain_hint = Some(hint.into());
        self
    }

    /// How the identity provider returns (default [`ResponseMode::Query`]).
    pub fn response_mode(mut self, mode: ResponseMode) -> Self {
        self.response_mode = mode;
        self
    }
}

/// Where to send the browser, and what to keep until it comes back.
#[derive(Debug)]
#[non_exhaustive]
pub struct AuthorizeUrl {
    /// The authorization endpoint with every parameter.
    pub url: Url,
    /// Keep it server-side (never in a cookie the browser can read or
    /// change), take it out of the session when the callback arrives, and
    /// hand it to [`Client::complete_authorization`].
    pub pending: PendingAuthorization,
}

/// A sign-in under way: what the callback is checked against and the code
/// redeemed with. Serializable, for a server-side session.
///
/// Its `Debug` output never shows the state, the nonce or the verifier.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuthorization {
    client_id: String,
    state: String,
    nonce: String,
    code_verifier: String,
    redirect_uri: String,
    scopes: Vec<String>,
    created_at: i64,
}

impl PendingAuthorization {
    /// The `state` sent to the authorization endpoint (to find this pending
    /// authorization again when several sign-ins are under way).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI the code will be redeemed with.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The scopes asked for (with `openid profile offline_access`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// When it was created, in seconds since the Unix epoch.
    pub fn created_at(&self) -> i64 {
        self.created_at
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// The parameters the identity provider sent to the redirect URI.
///
/// Deserializable: axum's `Query<Callback>` (or `Form<Callback>` for
/// [`ResponseMode::FormPost`]) extracts it. Its `Debug` output never shows
/// the code.
#[derive(Clone, Default, Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
    #[serde(default)]
    error_uri: Option<String>,
    #[serde(default)]
    error_subcode: Option<String>,
}

impl Callback {
    /// Parses a query string (or a `form_post` body). A parameter given
    /// twice is refused: which one would the checks see?
    pub fn from_query(query: &str) -> Result<Self, Error> {
        let mut callback = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "error_uri" => &mut callback.error_uri,
                "error_subcode" => &mut callback.error_subcode,
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::StateMismatch);
            }
            *slot = Some(value.into_owned());
        }
        Ok(callback)
    }

    /// The callback of a full redirect URL (its query).
    pub fn from_url(url: &Url) -> Result<Self, Error> {
        Self::from_query(url.query().unwrap_or_default())
    }

    /// The `error` parameter, if the identity provider refused.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "<redacted>"))
            .field("has_state", &self.state.is_some())
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Builds the authorization URL (fresh `state`, `nonce` and PKCE S256
    /// verifier of 256 random bits each) and the pending authorization to
    /// keep until the callback.
    pub async fn authorize_url(
        &self,
        request: AuthorizationRequest,
    ) -> Result<AuthorizeUrl, Error> {
        let settings = &self.core.settings;
        let resource = resource_scopes(&request.scopes)?;
        let scopes = with_oidc(&resource);
        let redirect_uri = request
            .redirect_uri
            .or_else(|| settings.redirect_uri.clone())
            .ok_or_else(|| {
                Error::Config("no redirect URI: set one on the client or the request".into())
            })?;
        check_redirect_uri(&redirect_uri)?;
        let state = random_b64(32)?;
        let nonce = random_b64(32)?;
        let code_verifier = random_b64(32)?;
        let challenge = sha256_b64(code_verifier.as_bytes());

        let mut url = self.endpoints().await?.authorization.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", &settings.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("scope", &scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if request.response_mode == ResponseMode::FormPost {
                query.append_pair("response_mode", "form_post");
            }
            if let Some(prompt) = request.prompt {
                query.append_pair("prompt", prompt.as_str());
            }
            if let Some(hint) = &request.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(hint) = &request.domain_hint {
                query.append_pair("domain_hint", hint);
            }
            query.append_pair("client_info", "1");
        }
        Ok(AuthorizeUrl {
            url,
            pending: PendingAuthorization {
                client_id: settings.client_id.clone(),
                state,
                nonce,
                code_verifier,
                redirect_uri,
                scopes,
                created_at: settings.clock.now(),
            },
        })
    }

    /// Completes a sign-in: checks the callback against `pending` (consumed:
    /// a pending authorization completes at most once, and a replayed
    /// `state` is refused), redeems the code with the PKCE verifier,
    /// validates the ID token with the nonce, caches the tokens.
    ///
    /// The client remembers completed states for the authorization
    /// lifetime, in this process: with several instances behind one
    /// session store, removing the pending authorization from the session
    /// before completing it is what keeps a replay out.
    ///
    /// Errors: [`Error::StateMismatch`], [`Error::StateReplayed`],
    /// [`Error::AuthorizationExpired`], [`Error::AuthorizationDenied`] (the
    /// user declined: `access_denied`), [`Error::MissingCode`], the
    /// authority's refusal of the code ([`Error::Authority`], e.g. AADSTS501481
    /// for a verifier that does not match), [`Error::IdToken`].
    pub async fn complete_authorization(
        &self,
        pending: PendingAuthorization,
        callback: &Callback,
    ) -> Result<SignIn, Error> {
        let settings = &self.core.settings;
        if !secrets_equal(&pending.client_id, &settings.client_id) {
            return Err(Error::StateMismatch);
        }
        let state = callback.state.as_deref().ok_or(Error::StateMismatch)?;
        if !secrets_equal(state, &pending.state) {
            return Err(Error::StateMismatch);
        }
        let now = settings.clock.now();
        let age = now.saturating_sub(pending.created_at);
        if age > settings.authorization_lifetime || age < -300 {
            return Err(Error::AuthorizationExpired);
        }
        if !self.consume_state(&pending.state) {
            return Err(Error::StateReplayed);
        }
        if let Some(error) = &callback.error {
            return Err(Error::AuthorizationDenied(Box::new(
                ServerError::from_redirect(
                    error,
                    callback.error_description.as_deref(),
                    callback.error_uri.as_deref(),
                    callback.error_subcode.as_deref(),
                ),
            )));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or(Error::MissingCode)?;

        let endpoints = self.endpoints().await?;
        let answer = self
            .token_request(
                &endpoints.token,
                vec![
                    ("grant_type", "authorization_code".to_owned()),
                    ("code", code.to_owned()),
                    ("redirect_uri", pending.redirect_uri.clone()),
                    ("code_verifier", pending.code_verifier.clone()),
                    ("scope", pending.scopes.join(" ")),
                ],
                true,
            )
            .send()
            .await?;
        let response = match answer {
            Answer::Tokens(response) => response,
            Answer::Refused(server) => return Err(protocol::classify(server, false)),
        };
        let issued = response.issued(&endpoints.token, settings.clock.now())?;
        let raw_id_token =
            response
                .id_token
                .as_deref()
                .ok_or_else(|| Error::UnexpectedResponse {
                    url: endpoints.token.to_string(),
                    status: 200,
                    reason: "the token response has no id_token".into(),
                })?;
        let id_token = self
            .validate_id_token(endpoints, raw_id_token, Some(&pending.nonce))
            .await?;
        let account = Account::from_id_token(&id_token)?;
        let resource = resource_scopes(&pending.scopes)?;
        let access_token = self
            .store_user_tokens(&account, &resource, &response, issued)
            .await;
        Ok(SignIn {
            account,
            id_token,
            access_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_parse_and_refuse_repeated_parameters() {
        let cb = Callback::from_query("?code=abc&state=s&session_state=x").unwrap_or_default();
        assert_eq!(cb.code.as_deref(), Some("abc"));
        assert_eq!(cb.state.as_deref(), Some("s"));
        assert!(!format!("{cb:?}").contains("abc"));
        assert!(matches!(
            Callback::from_query("state=a&state=b"),
            Err(Error::StateMismatch)
        ));
        let denied =
            Callback::from_query("error=access_denied&error_description=AADSTS65004%3A+no")
                .unwrap_or_default();
        assert_eq!(denied.error(), Some("access_denied"));
    }
}
