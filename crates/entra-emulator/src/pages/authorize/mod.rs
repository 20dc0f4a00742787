//! The authorize endpoint (v2 and v1, GET and POST), the sign-in and consent
//! forms, code issuance and the response modes (`query`, `fragment`,
//! `form_post`).
//!
//! Errors about the client or its redirect URI are shown on the emulator's
//! own error page (never redirected to an unregistered URI); every other
//! error is sent back to the registered redirect URI, as Entra does.
//!
//! - [`request`]: the parameters, checked; [`consent`](mod@consent): the consent policy;
//!   [`issue`]: codes and the response modes; [`view`]: the sign-in and
//!   consent pages; [`txn`]: the forms' pending transactions.

mod consent;
mod issue;
mod request;
pub(crate) mod txn;
mod view;

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

use self::consent::Verdict;
use self::issue::client_error;
use self::request::{AuthRequest, Prompt, validate};
use self::txn::Stage;
use self::view::{consent_page, sign_in_page, stale_form};
use super::{BROWSER_COOKIE, SESSION_COOKIE, cookie, current_session, set_cookie, start_session};
use crate::client_auth::Form;
use crate::error::OAuthError;
use crate::html::error_page;
use crate::state::{BrowserSession, Listener, State as Shared};
use crate::util::sha256_b64;

/// `/{tenant}/oauth2/v2.0/authorize` (`V1 = false`) and `/{tenant}/oauth2/authorize` (`V1 = true`).
pub(super) async fn endpoint<const V1: bool>(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(
        &state, listener, &segment, &method, &uri, &headers, &body, V1,
    )
}

#[allow(clippy::too_many_arguments)]
fn authorize(
    state: &Shared,
    listener: Listener,
    segment: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> Response {
    let raw = if method == Method::POST {
        body.to_vec()
    } else {
        uri.query().unwrap_or_default().as_bytes().to_vec()
    };
    let params = match Form::parse(&raw) {
        Ok(params) => params,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, e.code, &e.description),
    };
    let req = match validate(state, segment, &params, v1) {
        Ok(req) => req,
        Err(reject) => return reject.respond(state),
    };
    let mut cookies = Vec::new();
    let forced = matches!(req.prompt, Some(Prompt::Login | Prompt::SelectAccount));
    let mut signed_in = current_session(state, headers, &req.tenant.tenant_id)
        .filter(|(_, s)| req.user(&s.user_id).is_some())
        .filter(|_| !forced);
    // Tests: `autoLoginWithHint` signs in the user a `login_hint` names.
    let auto = state.dir().settings.auto_login_with_hint;
    let hinted = req.login_hint.as_deref().and_then(|hint| {
        req.tenant
            .users
            .iter()
            .find(|u| u.user_principal_name.eq_ignore_ascii_case(hint))
    });
    if let (true, Some(user)) = (auto, hinted) {
        let same = signed_in
            .as_ref()
            .is_some_and(|(_, s)| s.user_id.eq_ignore_ascii_case(&user.object_id));
        if !same {
            let (sid, session) =
                start_session(state, headers, &req.tenant.tenant_id, &user.object_id);
            cookies.push(set_cookie(SESSION_COOKIE, Some(&sid), listener));
            signed_in = Some((sid, session));
        }
    }
    let response = match signed_in {
        Some((sid, session)) => {
            after_sign_in(state, &req, &sid, &session, headers, listener, false)
        }
        None if req.prompt == Some(Prompt::None) => client_error(
            state,
            &req.target,
            &OAuthError::new(
                "login_required",
                50_058,
                "A silent sign-in request was sent but no user is signed in.",
            ),
        ),
        None => sign_in_page(state, &req, headers, listener, None, None, None),
    };
    with_cookies(response, cookies)
}

/// A posted sign-in or consent form, and the authorization request it
/// carries, checked again (the form is the browser's, so nothing in it is
/// trusted): the error page or redirect for a bad one.
fn posted_form(
    state: &Shared,
    segment: &str,
    body: &[u8],
) -> Result<(Form, AuthRequest), Box<Response>> {
    let form = Form::parse(body)
        .map_err(|e| Box::new(error_page(StatusCode::BAD_REQUEST, e.code, &e.description)))?;
    let v1 = form.get("endpoint") == Some("v1");
    let req =
        validate(state, segment, &form, v1).map_err(|reject| Box::new(reject.respond(state)))?;
    Ok((form, req))
}

/// `POST /{tenant}/login`: the sign-in form.
pub(super) async fn sign_in(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &*state;
    let (form, req) = match posted_form(state, &segment, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let txn_id = form.get("txn").unwrap_or_default();
    let browser = cookie(&headers, BROWSER_COOKIE);
    let digest = req.digest();
    if !txn::check(
        state,
        txn_id,
        &digest,
        browser.as_deref(),
        &Stage::SignIn,
        false,
    ) {
        return stale_form();
    }
    let username = form.get("username").unwrap_or_default().trim();
    let password = form.get("password").unwrap_or_default();
    let user = req.tenant.users.iter().find(|u| {
        u.user_principal_name.eq_ignore_ascii_case(username) && u.password_matches(password)
    });
    let Some(user) = user else {
        return sign_in_page(
            state,
            &req,
            &headers,
            listener,
            Some("AADSTS50126: Error validating credentials due to invalid username or password."),
            Some(username),
            Some(txn_id),
        );
    };
    if !txn::check(
        state,
        txn_id,
        &digest,
        browser.as_deref(),
        &Stage::SignIn,
        true,
    ) {
        return stale_form();
    }
    let (sid, session) = start_session(state, &headers, &req.tenant.tenant_id, &user.object_id);
    let response = after_sign_in(state, &req, &sid, &session, &headers, listener, false);
    with_cookies(
        response,
        vec![set_cookie(SESSION_COOKIE, Some(&sid), listener)],
    )
}

/// `POST /{tenant}/Consent/Set`: the consent form.
pub(super) async fn consent(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &*state;
    let (form, req) = match posted_form(state, &segment, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let Some((sid, session)) = current_session(state, &headers, &req.tenant.tenant_id) else {
        return stale_form();
    };
    let stage = Stage::Consent {
        session: sha256_b64(sid.as_bytes()),
    };
    let browser = cookie(&headers, BROWSER_COOKIE);
    if req.user(&session.user_id).is_none()
        || !txn::check(
            state,
            form.get("txn").unwrap_or_default(),
            &req.digest(),
            browser.as_deref(),
            &stage,
            true,
        )
    {
        return stale_form();
    }
    match form.get("action") {
        Some("accept") => {
            let recorded = consent::record(state, &req, &session.user_id);
            if let Err(e) = recorded {
                tracing::warn!(error = %e, "cannot record consent");
                return error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    90_000,
                    "The consent could not be recorded.",
                );
            }
            after_sign_in(state, &req, &sid, &session, &headers, listener, true)
        }
        Some("cancel") => client_error(
            state,
            &req.target,
            &OAuthError::new(
                "access_denied",
                65_004,
                "User declined to consent to access the app.",
            ),
        ),
        _ => error_page(
            StatusCode::BAD_REQUEST,
            900_144,
            "The consent form must say accept or cancel.",
        ),
    }
}

/// A user is signed in: consent if needed, then a code.
fn after_sign_in(
    state: &Shared,
    req: &AuthRequest,
    sid: &str,
    session: &BrowserSession,
    headers: &HeaderMap,
    listener: Listener,
    consent_done: bool,
) -> Response {
    if !consent_done {
        match consent::verdict(state, req, &session.user_id) {
            Verdict::Granted => {}
            Verdict::Ask(plan) => {
                return consent_page(state, req, sid, session, &plan, headers, listener);
            }
            Verdict::Refused(error) => return client_error(state, &req.target, &error),
        }
    }
    issue::issue_code(state, req, sid, session)
}

fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for value in cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
