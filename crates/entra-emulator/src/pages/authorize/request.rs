//! The authorize request: its parameters checked in Entra's order (first
//! the tenant, client and redirect URI, whose errors are shown on the
//! emulator's own page; then the rest, whose errors go back to the client),
//! and the registered redirect URIs it may name.

use axum::response::Response;
use http::StatusCode;

use super::issue::client_error;
use crate::client_auth::Form;
use crate::config::{Application, User};
use crate::error::OAuthError;
use crate::html::{error_page, hidden};
use crate::scopes::{self, Requested};
use crate::state::{State as Shared, TenantRef};
use crate::util::sha256_b64;

/// The longest accepted parameter value.
const MAX_PARAM: usize = 8 * 1024;

/// The authorize parameters the sign-in and consent forms carry back, in this
/// order (plus `endpoint`: `v1` or `v2`).
const CARRIED: &[&str] = &[
    "client_id",
    "response_type",
    "redirect_uri",
    "response_mode",
    "scope",
    "resource",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
];

/// How the answer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Query,
    Fragment,
    FormPost,
}

/// `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// Where answers go, once the client and its redirect URI are known good.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) redirect_uri: String,
    pub(super) mode: Mode,
    pub(super) state: Option<String>,
}

/// A validated authorize request.
#[derive(Debug, Clone)]
pub(super) struct AuthRequest {
    /// The parameters the forms carry back, in [`CARRIED`] order.
    pub(super) carried: Vec<(String, String)>,
    pub(super) tenant: TenantRef,
    pub(super) client: Application,
    pub(super) target: Target,
    pub(super) requested: Requested,
    pub(super) nonce: Option<String>,
    pub(super) challenge: Option<(String, String)>,
    pub(super) prompt: Option<Prompt>,
    pub(super) login_hint: Option<String>,
}

impl AuthRequest {
    /// The digest the forms' transactions are bound to.
    pub(super) fn digest(&self) -> String {
        let text = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.carried)
            .finish();
        sha256_b64(text.as_bytes())
    }

    pub(super) fn hidden_fields(&self) -> String {
        self.carried.iter().map(|(k, v)| hidden(k, v)).collect()
    }

    pub(super) fn user(&self, user_id: &str) -> Option<&User> {
        self.tenant.user(user_id)
    }
}

/// Why a request was refused.
#[derive(Debug)]
pub(super) enum Reject {
    /// Shown on the emulator's error page: AADSTS code and message.
    Page(u32, String),
    /// Sent back to the client's registered redirect URI.
    Client(Box<(Target, OAuthError)>),
}

impl Reject {
    pub(super) fn respond(self, state: &Shared) -> Response {
        match self {
            Reject::Page(code, message) => error_page(StatusCode::BAD_REQUEST, code, &message),
            Reject::Client(boxed) => client_error(state, &boxed.0, &boxed.1),
        }
    }
}

/// Checks an authorize request: first the tenant, client and redirect URI
/// (errors shown here), then the rest (errors sent to the client).
pub(super) fn validate(
    state: &Shared,
    segment: &str,
    params: &Form,
    v1: bool,
) -> Result<AuthRequest, Reject> {
    let page_error = Reject::Page;
    if let Some((name, _)) = params.0.iter().find(|(_, v)| v.len() > MAX_PARAM) {
        return Err(page_error(
            900_144,
            format!("The parameter '{name}' is too long."),
        ));
    }
    let tenant = crate::endpoints::resolve_tenant(state, segment, params.get("client_id"))
        .map_err(|e| page_error(e.code, e.description))?;
    let client_id = params.get("client_id").ok_or_else(|| {
        page_error(
            900_144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    })?;
    let client = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(client_id))
        .cloned()
        .ok_or_else(|| {
            let e = OAuthError::unknown_client(client_id, &tenant.tenant_id);
            page_error(e.code, e.description)
        })?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) => uri.to_owned(),
        None => {
            let mut all = client.all_redirect_uris();
            match (all.next(), all.next()) {
                (Some(only), None) => only.clone(),
                _ => {
                    return Err(page_error(
                        900_144,
                        "The request body must contain the following parameter: 'redirect_uri'."
                            .into(),
                    ));
                }
            }
        }
    };
    if !redirect_allowed(&client, &redirect_uri) {
        return Err(page_error(
            50_011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
                client.app_id
            ),
        ));
    }
    let (mode, bad_mode) = match params.get("response_mode") {
        None | Some("query") => (Mode::Query, None),
        Some("fragment") => (Mode::Fragment, None),
        Some("form_post") => (Mode::FormPost, None),
        Some(other) => (Mode::Query, Some(other.to_owned())),
    };
    let target = Target {
        redirect_uri,
        mode,
        state: params.get("state").map(str::to_owned),
    };
    let fail = |e: OAuthError| Err(Reject::Client(Box::new((target.clone(), e))));
    if let Some(mode) = bad_mode {
        return fail(OAuthError::invalid_request(format!(
            "The response_mode '{mode}' is not supported."
        )));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => {
            return fail(OAuthError::invalid_request(
                "The request body must contain the following parameter: 'response_type'.",
            ));
        }
        Some(other) => {
            return fail(OAuthError::new(
                "unsupported_response_type",
                700_054,
                format!(
                    "response_type '{other}' is not enabled for the application. The emulator issues authorization codes only."
                ),
            ));
        }
    }
    let mut scope = params.get("scope").unwrap_or_default().to_owned();
    if v1 {
        if let Some(resource) = params.get("resource") {
            scope = format!("{scope} {}/.default", resource.trim_end_matches('/'));
        }
        if scope.trim().is_empty() {
            scope = "openid".to_owned();
        }
    } else if scope.trim().is_empty() {
        return fail(OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        ));
    }
    let requested = match scopes::parse(&state.dir(), &scope) {
        Ok(requested) => requested,
        Err(e) => return fail(e),
    };
    if requested.oidc.is_empty() && requested.resource.is_empty() {
        return fail(OAuthError::invalid_scope(&scope));
    }
    let challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return fail(OAuthError::invalid_request(
                "code_challenge_method was sent without a code_challenge.",
            ));
        }
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return fail(OAuthError::invalid_request(format!(
                    "The code_challenge_method '{method}' is not supported: use S256 (or plain)."
                )));
            }
            let well_formed = (43..=128).contains(&challenge.len())
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed {
                return fail(OAuthError::invalid_request("").with_code(
                    501_491,
                    "Invalid size of Code_Challenge parameter: 43 to 128 characters of [A-Za-z0-9-._~] are required.",
                ));
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
    };
    if challenge.is_none() && client.spa.redirect_uris.contains(&target.redirect_uri) {
        return fail(OAuthError::invalid_request("").with_code(
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        ));
    }
    let prompt = match params.get("prompt") {
        None => None,
        Some("none") => Some(Prompt::None),
        Some("login" | "create") => Some(Prompt::Login),
        Some("consent") => Some(Prompt::Consent),
        Some("select_account") => Some(Prompt::SelectAccount),
        Some(other) => {
            return fail(OAuthError::invalid_request(format!(
                "Invalid value for the prompt parameter: '{other}'."
            )));
        }
    };
    let mut carried: Vec<(String, String)> = CARRIED
        .iter()
        .filter_map(|name| params.get(name).map(|v| ((*name).to_owned(), v.to_owned())))
        .collect();
    carried.push(("endpoint".into(), if v1 { "v1" } else { "v2" }.into()));
    Ok(AuthRequest {
        carried,
        tenant,
        client,
        requested,
        nonce: params.get("nonce").map(str::to_owned),
        challenge,
        prompt,
        login_hint: params.get("login_hint").map(str::to_owned),
        target,
    })
}

/// Exact string match against the registered redirect URIs; and, for the
/// mobile-and-desktop platform only, a registered loopback URI without a port
/// accepts any port (RFC 8252 §7.3, as Entra does), the rest still exact.
fn redirect_allowed(client: &Application, uri: &str) -> bool {
    client.all_redirect_uris().any(|r| r == uri)
        || client
            .public_client
            .redirect_uris
            .iter()
            .any(|r| loopback_any_port(r, uri))
}

fn loopback_any_port(registered: &str, given: &str) -> bool {
    for host in ["http://localhost", "http://127.0.0.1", "http://[::1]"] {
        let Some(rest) = registered.strip_prefix(host) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return false;
        }
        let Some(after) = given.strip_prefix(host).and_then(|g| g.strip_prefix(':')) else {
            return false;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return false;
        }
        let tail = &after[digits..];
        return tail == rest || (rest.is_empty() && tail == "/");
    }
    false
}
