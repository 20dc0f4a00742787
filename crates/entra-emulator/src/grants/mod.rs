//! The token endpoint's grants, one module each.

pub(crate) mod authorization_code;
pub(crate) mod client_credentials;
pub(crate) mod device_code;
pub(crate) mod on_behalf_of;
pub(crate) mod password;
pub(crate) mod refresh_token;

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::client_auth::{Client, Form};
use crate::config::Tenant;
use crate::error::{OAuthError, no_store};
use crate::state::State;
use crate::tokens::Issued;

/// Everything a grant needs about the request.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    /// Shared state.
    pub state: &'a State,
    /// The request came with an `Origin` header (from a browser, cross-origin).
    pub origin: bool,
    /// The tenant the request is for.
    pub tenant: &'a Tenant,
    /// The authenticated (or public) client.
    pub client: &'a Client<'a>,
    /// The form parameters.
    pub form: &'a Form,
    /// The v1 endpoint (`/oauth2/token`): string numbers and `resource`.
    pub v1: bool,
}

impl Ctx<'_> {
    /// The requested scopes: `scope`, or on the v1 endpoint `resource` (all
    /// consented scopes of that resource, like `{resource}/.default`).
    pub(crate) fn scope_param(&self) -> Option<String> {
        match (self.form.get("scope"), self.form.get("resource")) {
            (Some(scope), _) => Some(scope.to_owned()),
            (None, Some(resource)) if self.v1 => {
                Some(format!("{}/.default", resource.trim_end_matches('/')))
            }
            _ => None,
        }
    }
}

/// A successful token response.
#[derive(Debug, Default)]
pub(crate) struct TokenResponse {
    /// The access token.
    pub access: Option<Issued>,
    /// Granted scopes, space-separated.
    pub scope: Option<String>,
    /// A refresh token.
    pub refresh_token: Option<String>,
    /// An ID token.
    pub id_token: Option<String>,
    /// `client_info` (when the client sent `client_info=1`).
    pub client_info: Option<String>,
    /// The v1 `resource`.
    pub resource: Option<String>,
}

impl TokenResponse {
    /// Renders the JSON body as Entra's v2 (numbers) or v1 (strings) endpoint does.
    pub(crate) fn render(self, v1: bool, now: i64) -> Response {
        let mut body = Map::new();
        body.insert("token_type".into(), "Bearer".into());
        if let Some(scope) = self.scope {
            body.insert("scope".into(), scope.into());
        }
        if let Some(access) = &self.access {
            if v1 {
                body.insert("expires_in".into(), access.expires_in.to_string().into());
                body.insert(
                    "ext_expires_in".into(),
                    access.expires_in.to_string().into(),
                );
                body.insert("expires_on".into(), access.expires_on.to_string().into());
                body.insert("not_before".into(), now.to_string().into());
            } else {
                body.insert("expires_in".into(), access.expires_in.into());
                body.insert("ext_expires_in".into(), access.expires_in.into());
            }
            body.insert("access_token".into(), access.token.clone().into());
        }
        if let (true, Some(resource)) = (v1, self.resource) {
            body.insert("resource".into(), resource.into());
        }
        for (name, value) in [
            ("refresh_token", self.refresh_token),
            ("id_token", self.id_token),
            ("client_info", self.client_info),
        ] {
            if let Some(value) = value {
                body.insert(name.into(), value.into());
            }
        }
        let mut response = Json(Value::Object(body)).into_response();
        no_store(response.headers_mut());
        response
    }
}

/// The result of a grant.
pub(crate) type GrantResult = Result<TokenResponse, OAuthError>;

/// Dispatches on `grant_type`.
pub(crate) fn dispatch(ctx: &Ctx<'_>) -> GrantResult {
    let grant = ctx.form.require("grant_type")?;
    match grant {
        "client_credentials" => client_credentials::handle(ctx),
        "authorization_code" => authorization_code::handle(ctx),
        "refresh_token" => refresh_token::handle(ctx),
        "urn:ietf:params:oauth:grant-type:device_code" | "device_code" => device_code::handle(ctx),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => on_behalf_of::handle(ctx),
        "password" => password::handle(ctx),
        other => Err(OAuthError::unsupported_grant_type(other)),
    }
}

/// The `.default` rule of client credentials, as an error (AADSTS1002012).
pub(crate) fn default_required(scope: &str) -> OAuthError {
    OAuthError::invalid_scope(scope).with_code(
        1_002_012,
        format!(
            "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
        ),
    )
}
