//! Discovery documents (v2 and v1), key sets, and MSAL's instance discovery.
//!
//! The tenant-independent documents (`common`, `organizations`) publish the
//! `{tenantid}` issuer template and a null `tenant_region_scope`, as Entra's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Value, json};

use super::resolve_tenant;
use crate::error::OAuthError;
use crate::state::{Listener, State as Shared};

const TEMPLATE: &str = "{tenantid}";

fn is_multi(segment: &str) -> bool {
    matches!(
        segment.to_ascii_lowercase().as_str(),
        "common" | "organizations"
    )
}

/// JSON with the headers Entra's metadata carries.
fn metadata(value: Value) -> Response {
    let mut response = Json(value).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub(crate) async fn v2(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
) -> Response {
    let (tid, path_tenant) = match tenant_ids(&state, &segment) {
        Ok(ids) => ids,
        Err(e) => return e.into_response_at(None, state.now()),
    };
    let base = state.base(listener);
    let p = format!("{base}/{path_tenant}");
    let region = region_scope(&segment);
    metadata(json!({
        "token_endpoint": format!("{p}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{p}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": state.issuer_v2(&tid),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{p}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{p}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{p}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
        "kerberos_endpoint": format!("{p}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// `GET /{tenant}/.well-known/openid-configuration` (v1).
pub(crate) async fn v1(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
) -> Response {
    let (tid, path_tenant) = match tenant_ids(&state, &segment) {
        Ok(ids) => ids,
        Err(e) => return e.into_response_at(None, state.now()),
    };
    let base = state.base(listener);
    let p = format!("{base}/{path_tenant}");
    let region = region_scope(&segment);
    metadata(json!({
        "token_endpoint": format!("{p}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/common/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{p}/oauth2/logout"),
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": state.issuer_v1(&tid),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email", "given_name", "family_name", "nickname"],
        "microsoft_multi_refresh_token": true,
        "check_session_iframe": format!("{p}/oauth2/checksession"),
        "userinfo_endpoint": format!("{p}/openid/userinfo"),
        "authorization_endpoint": format!("{p}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{p}/oauth2/devicecode"),
        "kerberos_endpoint": format!("{p}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
}

/// `tenant_region_scope`: a tenant's region (`WW` here), or null on the
/// tenant-independent documents, as Entra's.
fn region_scope(segment: &str) -> Value {
    if is_multi(segment) {
        Value::Null
    } else {
        Value::from("WW")
    }
}

/// The tenant id for the issuer (`{tenantid}` on multi-tenant documents)
/// and the path segment for the endpoints.
fn tenant_ids(state: &Shared, segment: &str) -> Result<(String, String), OAuthError> {
    if is_multi(segment) {
        return Ok((TEMPLATE.to_owned(), segment.to_ascii_lowercase()));
    }
    let tenant = resolve_tenant(state, segment, None)?;
    Ok((tenant.tenant_id.clone(), tenant.tenant_id.clone()))
}

/// `GET /{tenant}/discovery/v2.0/keys`: the tenant's keys, each with its
/// `issuer` (the `{tenantid}` template on `common` / `organizations`).
pub(crate) async fn keys_v2(
    State(state): State<Arc<Shared>>,
    Path(segment): Path<String>,
) -> Response {
    keys(&state, &segment, true)
}

/// `GET /{tenant}/discovery/keys` (v1: no `issuer` property).
pub(crate) async fn keys_v1(
    State(state): State<Arc<Shared>>,
    Path(segment): Path<String>,
) -> Response {
    keys(&state, &segment, false)
}

fn keys(state: &Shared, segment: &str, with_issuer: bool) -> Response {
    let now = state.now();
    let keys: Vec<Value> = if is_multi(segment) {
        let template = state.issuer_v2(TEMPLATE);
        state
            .keys
            .all_published(now)
            .iter()
            .map(|(_, key)| key.jwk(with_issuer.then_some(template.as_str())))
            .collect()
    } else {
        let tenant = match resolve_tenant(state, segment, None) {
            Ok(tenant) => tenant,
            Err(e) => return e.into_response_at(None, state.now()),
        };
        let issuer = state.issuer_v2(&tenant.tenant_id);
        state
            .keys
            .published(&tenant.tenant_id, now)
            .iter()
            .map(|key| key.jwk(with_issuer.then_some(issuer.as_str())))
            .collect()
    };
    metadata(json!({ "keys": keys }))
}

/// `GET /common/discovery/instance`: lets MSAL validate the authority
/// against the emulator instead of login.microsoftonline.com.
pub(crate) async fn instance(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let base = state.base(listener);
    let tenant = query
        .get("authorization_endpoint")
        .and_then(|e| url::Url::parse(e).ok())
        .and_then(|u| {
            u.path_segments()
                .and_then(|mut s| s.next().map(str::to_owned))
        })
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "common".to_owned());
    let host = url::Url::parse(&base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let host_port = base.split("://").nth(1).unwrap_or_default().to_owned();
    metadata(json!({
        "tenant_discovery_endpoint": format!("{base}/{tenant}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{
            "preferred_network": host_port,
            "preferred_cache": host_port,
            "aliases": [host_port, host],
        }],
    }))
}
