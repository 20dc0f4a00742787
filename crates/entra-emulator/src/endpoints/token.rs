//! `POST /{tenant}/oauth2/v2.0/token` and `POST /{tenant}/oauth2/token`.

use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::{is_form, resolve_tenant};
use crate::client_auth::{self, Form};
use crate::error::OAuthError;
use crate::grants::{self, Ctx};
use crate::state::{Listener, State as Shared};

/// The largest request body the token endpoint reads (the request log reads
/// form bodies up to the same size).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The token endpoint: v2 (`V1 = false`) or v1 (`V1 = true`: string numbers, `resource`).
pub(crate) async fn endpoint<const V1: bool>(
    State(state): State<Arc<Shared>>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => {
            let mut response = handle(&state, &segment, &headers, &body, V1).await;
            let client_id = url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "client_id")
                .map(|(_, v)| v.into_owned());
            let dir = state.dir();
            let client = client_id.as_deref().and_then(|id| dir.application(id));
            allow_origin(&mut response, &headers, |origin| {
                client.is_some_and(|app| app.is_spa_origin(origin))
            });
            response
        }
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            OAuthError::body_too_large(MAX_BODY).into_response()
        }
        Err(rejection) => OAuthError::invalid_request(rejection.body_text()).into_response(),
    }
}

/// `OPTIONS` on the token endpoint: the CORS preflight of a browser's
/// form POST carrying MSAL.js's or Swagger UI's extra headers. Answered for
/// the origins of single-page-application redirect URIs only (the POST
/// itself checks the origin against the client's own registration).
pub(crate) async fn preflight(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let mut response = (
        StatusCode::NO_CONTENT,
        [
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
        .into_response();
    let dir = state.dir();
    allow_origin(&mut response, &headers, |origin| {
        dir.tenants
            .iter()
            .flat_map(|t| &t.applications)
            .any(|app| app.is_spa_origin(origin))
    });
    response
}

/// Any method but POST and OPTIONS on the token endpoint: 405, Entra-shaped.
pub(crate) async fn wrong_method(method: Method) -> Response {
    let mut response = OAuthError::method_not_allowed(&method).into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST, OPTIONS"));
    response
}

/// Echoes the request's `Origin` in `Access-Control-Allow-Origin` when
/// `allowed` says so (never `*`); the answer varies with `Origin`.
fn allow_origin(response: &mut Response, headers: &HeaderMap, allowed: impl Fn(&str) -> bool) {
    let origin = headers.get(header::ORIGIN);
    if let Some(origin) = origin.filter(|o| o.to_str().is_ok_and(&allowed)) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    }
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("origin"));
}

async fn handle(
    state: &Arc<Shared>,
    segment: &str,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> Response {
    let now = state.now();
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    let fail = |e: OAuthError| {
        crate::metrics::error(&e);
        e.into_response_at(correlation, now)
    };
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
    // A federated assertion is judged first: its issuer's keys may need fetching.
    let federated = crate::federated::verify(state, &tenant, &form).await;
    let client =
        match client_auth::authenticate(&tenant, &form, headers, &endpoints, federated, now) {
            Ok(client) => client,
            Err(e) => return fail(e),
        };
    let ctx = Ctx {
        state,
        origin: headers.get(header::ORIGIN).is_some(),
        tenant: &tenant,
        client: &client,
        form: &form,
        v1,
    };
    match grants::dispatch(&ctx) {
        Ok(response) => {
            crate::metrics::issued(form.get("grant_type"));
            response.render(v1, now).into_response()
        }
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
