//! `POST /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/token`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::{is_form, resolve_tenant};
use crate::client_auth::{self, Form};
use crate::error::OAuthError;
use crate::grants::{self, Ctx};
use crate::state::{Listener, State as Shared};

/// The token endpoint: v2 (`V1 = false`) or v1 (`V1 = true`: string numbers, `resource`).
pub(crate) async fn endpoint<const V1: bool>(
    State(state): State<Arc<Shared>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = handle(&state, &segment, &headers, &body, V1);
    // Single-page applications (Swagger UI's PKCE sign-in) redeem codes from
    // the browser, cross-origin: Entra's token endpoint allows any origin.
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `OPTIONS` on the token endpoint: the CORS preflight of a browser's
/// form POST carrying MSAL.js's or Swagger UI's extra headers.
pub(crate) async fn preflight() -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "content-type, authorization, client-request-id, return-client-request-id, \
                 x-client-sku, x-client-ver, x-client-os, x-client-cpu, x-ms-lib-capability, \
                 x-app-name, x-app-ver, x-requested-with",
            ),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response()
}

fn handle(state: &Shared, segment: &str, headers: &HeaderMap, body: &[u8], v1: bool) -> Response {
    let now = state.now();
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    let fail = |e: OAuthError| e.into_response_at(correlation, now);
    if !is_form(headers) {
        return fail(OAuthError::invalid_request(
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let form = match Form::parse(body) {
        Ok(form) => form,
        Err(e) => return fail(e),
    };
    let tenant = match resolve_tenant(state, segment, form.get("client_id")) {
        Ok(tenant) => tenant,
        Err(e) => return fail(e),
    };
    let endpoints = token_endpoints(state, segment, &tenant.tenant_id, &tenant.domain);
    let client = match client_auth::authenticate(&tenant, &form, headers, &endpoints, now) {
        Ok(client) => client,
        Err(e) => return fail(e),
    };
    let ctx = Ctx {
        state,
        tenant: &tenant,
        client: &client,
        form: &form,
        v1,
    };
    match grants::dispatch(&ctx) {
        Ok(response) => response.render(v1, now).into_response(),
        Err(e) => fail(e),
    }
}

/// Every URL of this token endpoint a client assertion may name as `aud`.
fn token_endpoints(state: &Shared, segment: &str, tid: &str, domain: &str) -> Vec<String> {
    let mut bases = vec![state.base(Listener::Http)];
    if let Some(https) = state.https_base.read().ok().and_then(|b| b.clone()) {
        bases.push(https);
    }
    let mut out = Vec::new();
    for base in &bases {
        for tenant in [segment, tid, domain] {
            for path in ["oauth2/v2.0/token", "oauth2/token"] {
                out.push(format!("{base}/{tenant}/{path}"));
            }
        }
    }
    out
}
