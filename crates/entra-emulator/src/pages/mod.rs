//! Browser-facing pages: authorize, sign-in, consent, logout, and the
//! device-code verification page.
//!
//! - [`authorize`]: `/{tenant}/oauth2/v2.0/authorize` and `/{tenant}/oauth2/authorize`
//!   (GET and POST), the sign-in form (`POST /{tenant}/login`), the consent
//!   form (`POST /{tenant}/Consent/Set`), code issuance and the three
//!   response modes.
//! - [`logout`]: `/{tenant}/oauth2/v2.0/logout` and `/{tenant}/oauth2/logout`.
//! - [`devicelogin`]: `/devicelogin`, where a user enters a device code,
//!   signs in and approves.
//! - [`home`]: the home page at `/` and `/_emulator/`: the directory,
//!   discovery URLs, recent requests, a token minting form and a decode box.
//! - [`anti_forgery`]: the single-use, browser-bound tokens every form
//!   carries.
//!
//! Every answer carries [`html::protect`](crate::html::protect)'s headers.

pub(crate) mod anti_forgery;
pub(crate) mod authorize;
pub(crate) mod devicelogin;
pub(crate) mod home;
mod logout;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue};

use crate::config::Application;
use crate::state::{BrowserSession, Listener, State, lock};
use crate::util::random_token;

/// The single sign-on cookie: an opaque random id, the key of `state.sessions`.
pub(crate) const SESSION_COOKIE: &str = "entra_emulator_session";

/// A random id naming the browser, to which pending forms are bound.
pub(crate) const BROWSER_COOKIE: &str = "entra_emulator_browser";

/// The browser routes; the home page's with its state.
pub(crate) fn routes(home: Arc<home::Home>) -> Router<Arc<State>> {
    let home_routes = Router::new()
        .route("/", get(home::show))
        .route("/_emulator", get(home::show))
        .route("/_emulator/", get(home::show))
        .route("/_emulator/home/sign-in", post(home::sign_in))
        .route("/_emulator/home/token", post(home::mint))
        .route("/_emulator/home/decode", post(home::decode_box))
        .layer(axum::Extension(home));
    Router::new()
        .merge(home_routes)
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::endpoint::<false>).post(authorize::endpoint::<false>),
        )
        .route(
            "/{tenant}/oauth2/authorize",
            get(authorize::endpoint::<true>).post(authorize::endpoint::<true>),
        )
        .route("/{tenant}/login", post(authorize::sign_in))
        .route("/{tenant}/Consent/Set", post(authorize::consent))
        .route(
            "/{tenant}/oauth2/v2.0/logout",
            get(logout::logout).post(logout::logout),
        )
        .route(
            "/{tenant}/oauth2/logout",
            get(logout::logout).post(logout::logout),
        )
        .route(
            "/devicelogin",
            get(devicelogin::show).post(devicelogin::submit),
        )
}

/// The name pages show for an application: its display name, else its app id.
pub(crate) fn display_name(app: &Application) -> &str {
    if app.display_name.is_empty() {
        &app.app_id
    } else {
        &app.display_name
    }
}

/// The value of cookie `name` in the request, if any (at most 256 bytes:
/// the emulator's own cookies are shorter).
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    entra_core::cookie(headers, name)
        .filter(|v| v.len() <= 256)
        .map(str::to_owned)
}

/// The signed-in session the request's cookie names, for `tenant_id`.
pub(crate) fn current_session(
    state: &State,
    headers: &HeaderMap,
    tenant_id: &str,
) -> Option<(String, BrowserSession)> {
    let sid = cookie(headers, SESSION_COOKIE)?;
    let session = lock(&state.sessions).get(&sid).cloned()?;
    session
        .tenant_id
        .eq_ignore_ascii_case(tenant_id)
        .then_some((sid, session))
}

/// A `Set-Cookie` value: `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure`
/// on the HTTPS listener. `None` deletes the cookie.
pub(crate) fn set_cookie(name: &str, value: Option<&str>, listener: Listener) -> HeaderValue {
    let secure = if listener == Listener::Https {
        "; Secure"
    } else {
        ""
    };
    let text = match value {
        Some(value) => format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{secure}"),
        None => format!("{name}=; Path=/; HttpOnly; SameSite=Lax{secure}; Max-Age=0"),
    };
    // Names are constants and values base64url: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Starts a fresh session for `user_id`: a new random id every time (no
/// fixation), the previous session of this browser ended.
pub(crate) fn start_session(
    state: &State,
    headers: &HeaderMap,
    tenant_id: &str,
    user_id: &str,
) -> (String, BrowserSession) {
    let sid = random_token(32);
    let session = BrowserSession {
        tenant_id: tenant_id.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: state.now(),
    };
    let mut sessions = lock(&state.sessions);
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        sessions.remove(&old);
    }
    sessions.insert(sid.clone(), session.clone());
    (sid, session)
}
