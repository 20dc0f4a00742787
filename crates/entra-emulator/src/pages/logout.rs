//! `/{tenant}/oauth2/v2.0/logout` and `/{tenant}/oauth2/logout` (GET and
//! POST): ends the single sign-on session, server side and cookie, then
//! returns to `post_logout_redirect_uri` only when it exactly matches a
//! redirect URI or logout URL registered in the tenant.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

use super::{SESSION_COOKIE, cookie, set_cookie};
use crate::client_auth::Form;
use crate::html::{page, protect};
use crate::state::{Listener, State as Shared, lock};
use crate::util::html_escape;

/// Signs the browser out.
pub(super) async fn logout(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        lock(&state.sessions).remove(&sid);
    }
    let clear = set_cookie(SESSION_COOKIE, None, listener);
    let raw = if method == Method::POST {
        body.to_vec()
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    // A malformed request still signs out; it just does not redirect.
    let params = Form::parse(&raw).unwrap_or_default();
    let target = params
        .get("post_logout_redirect_uri")
        .filter(|uri| registered(&state, &segment, params.get("client_id"), uri));
    let mut response = match target {
        Some(uri) => {
            let base = uri.split('#').next().unwrap_or_default();
            let location = match params.get("state") {
                Some(s) => {
                    let query = url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", s)
                        .finish();
                    let joint = if base.contains('?') { '&' } else { '?' };
                    format!("{base}{joint}{query}")
                }
                None => base.to_owned(),
            };
            match HeaderValue::from_str(&location) {
                Ok(location) => {
                    let mut response = Response::new(Body::empty());
                    *response.status_mut() = StatusCode::FOUND;
                    response.headers_mut().insert(header::LOCATION, location);
                    protect(response.headers_mut());
                    response
                }
                Err(_) => signed_out(None),
            }
        }
        None => signed_out(params.get("post_logout_redirect_uri")),
    };
    response.headers_mut().append(header::SET_COOKIE, clear);
    response
}

/// Whether `uri` is a redirect URI or logout URL of an application of the
/// tenant the path names (for `common` and `organizations`: of the tenant
/// owning `client_id`, or of any tenant without one).
fn registered(state: &Shared, segment: &str, client_id: Option<&str>, uri: &str) -> bool {
    let dir = state.dir();
    let lower = segment.to_ascii_lowercase();
    let tenants: Vec<_> = if matches!(lower.as_str(), "common" | "organizations") {
        dir.tenants
            .iter()
            .filter(|t| {
                client_id.is_none_or(|id| {
                    t.applications
                        .iter()
                        .any(|a| a.app_id.eq_ignore_ascii_case(id))
                })
            })
            .collect()
    } else {
        dir.tenant(segment).into_iter().collect()
    };
    tenants.iter().flat_map(|t| &t.applications).any(|app| {
        app.all_redirect_uris().any(|r| r == uri)
            || [&app.web, &app.spa, &app.public_client]
                .iter()
                .any(|p| p.logout_url.as_deref() == Some(uri))
    })
}

fn signed_out(unregistered: Option<&str>) -> Response {
    let note = match unregistered {
        Some(uri) => format!(
            "<p class=\"muted\">The address to return to, {}, is not registered for any application of this tenant, so you stay here.</p>",
            html_escape(uri)
        ),
        None => String::new(),
    };
    page(
        StatusCode::OK,
        "You signed out of your account",
        &format!("<p>It's a good idea to close all browser windows.</p>{note}"),
    )
}
