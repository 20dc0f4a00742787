//! What every administration request must show before it is answered, so
//! that a web page the developer opens cannot drive the API:
//!
//! 1. It is not cross-site (403): a `Sec-Fetch-Site` header, when present,
//!    is `same-origin` or `none` (a typed URL), and an `Origin` header, when
//!    present, is the emulator's own (its HTTP or HTTPS base URL, or the
//!    scheme and `Host` of the request itself). Non-browser clients send
//!    neither and pass.
//! 2. With an admin token configured
//!    ([`EmulatorConfig::admin_token`](crate::EmulatorConfig::admin_token),
//!    `ENTRA_EMULATOR_ADMIN_TOKEN`), it carries `Authorization: Bearer
//!    <token>` (401 with `WWW-Authenticate: Bearer` otherwise).
//! 3. A request with a body (every POST) declares it
//!    `Content-Type: application/json`, parameters allowed (415): a page
//!    can send `text/plain`, form and multipart bodies without a CORS
//!    preflight, but not JSON.
//!
//! The `Host` itself was checked before, on every route ([`crate::hosts`]).

use std::sync::Arc;

use axum::extract::{Request, State as Shared};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, Method, header};

use super::Refusal;
use crate::state::{Listener, State};

/// The longest header value echoed back in a refusal.
const ECHOED: usize = 100;

/// The administration API's gate: the admin token, if any, and the state
/// (for the emulator's own base URLs).
pub(crate) struct AdminGuard {
    token: Option<String>,
    state: Arc<State>,
}

impl std::fmt::Debug for AdminGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminGuard")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl AdminGuard {
    pub(crate) fn new(token: Option<String>, state: Arc<State>) -> Self {
        AdminGuard { token, state }
    }

    /// The checks, in order: cross-site, token, content type.
    fn admit(&self, request: &Request) -> Result<(), Refusal> {
        let headers = request.headers();
        self.same_origin(request)?;
        self.authorized(headers)?;
        json_body(request.method(), headers)
    }

    fn same_origin(&self, request: &Request) -> Result<(), Refusal> {
        let headers = request.headers();
        if let Some(site) = headers.get("sec-fetch-site") {
            let ok = site.to_str().is_ok_and(|s| {
                s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none")
            });
            if !ok {
                return Err(cross_site("Sec-Fetch-Site", site.as_bytes()));
            }
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| self.is_own_origin(o, request));
            if !ok {
                return Err(cross_site("Origin", origin.as_bytes()));
            }
        }
        Ok(())
    }

    /// The emulator's HTTP or HTTPS base URL, or this request's own origin
    /// (its listener's scheme and its `Host`, which was checked already).
    fn is_own_origin(&self, origin: &str, request: &Request) -> bool {
        let listener = request
            .extensions()
            .get::<Listener>()
            .copied()
            .unwrap_or(Listener::Http);
        let scheme = match listener {
            Listener::Http => "http",
            Listener::Https => "https",
        };
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri().authority().map(http::uri::Authority::as_str));
        let own = host.map(|h| format!("{scheme}://{h}"));
        [
            Some(self.state.base(Listener::Http)),
            Some(self.state.base(Listener::Https)),
            own,
        ]
        .into_iter()
        .flatten()
        .any(|o| o.eq_ignore_ascii_case(origin))
    }

    fn authorized(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(Refusal::Unauthorized { presented: false });
        };
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        match presented {
            Some(token) if entra_core::secrets_equal(token, expected) => Ok(()),
            _ => Err(Refusal::Unauthorized { presented: true }),
        }
    }
}

/// A request that may carry a body (every POST, and any request with a
/// non-empty `Content-Length` or a `Transfer-Encoding`) must declare it
/// JSON. (A bodiless PUT goes on to its 405.)
fn json_body(method: &Method, headers: &HeaderMap) -> Result<(), Refusal> {
    let has_body = *method == Method::POST
        || headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|l| l.as_bytes() != b"0");
    if !has_body {
        return Ok(());
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|t| t.to_str().ok())
        .and_then(|t| t.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(Refusal::UnsupportedMediaType)
    }
}

fn cross_site(header: &'static str, value: &[u8]) -> Refusal {
    let value: String = String::from_utf8_lossy(value)
        .chars()
        .take(ECHOED)
        .collect();
    Refusal::CrossSite { header, value }
}

/// The middleware on every administration route.
pub(super) async fn check(
    Shared(guard): Shared<Arc<AdminGuard>>,
    request: Request,
    next: Next,
) -> Response {
    match guard.admit(&request) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            tracing::debug!(?refusal, path = %request.uri().path(), "administration request refused");
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(value) = value.parse() {
                map.insert(*name, value);
            }
        }
        map
    }

    #[test]
    fn bodies_must_be_declared_json() {
        let post = |t: Option<&str>| {
            let h = t.map_or_else(HeaderMap::new, |t| headers(&[("content-type", t)]));
            json_body(&Method::POST, &h).is_ok()
        };
        assert!(post(Some("application/json")));
        assert!(post(Some("application/json; charset=utf-8")));
        assert!(post(Some(" APPLICATION/JSON ;charset=UTF-8")));
        assert!(!post(Some("text/plain")));
        assert!(!post(Some("application/jsonp")));
        assert!(!post(Some("application/x-www-form-urlencoded")));
        assert!(!post(None));
        assert!(json_body(&Method::GET, &HeaderMap::new()).is_ok());
        assert!(json_body(&Method::DELETE, &HeaderMap::new()).is_ok());
        assert!(json_body(&Method::DELETE, &headers(&[("content-length", "0")])).is_ok());
        assert!(json_body(&Method::DELETE, &headers(&[("content-length", "5")])).is_err());
        assert!(json_body(&Method::PUT, &HeaderMap::new()).is_ok());
        assert!(json_body(&Method::PUT, &headers(&[("transfer-encoding", "chunked")])).is_err());
    }
}
