//! The two pages of the authorize flow, sign-in and consent (no
//! JavaScript), and the page shown for a stale form.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::consent::Needed;
use super::request::{AuthRequest, Prompt};
use super::txn::{self, Stage};
use super::with_cookies;
use crate::html::{hidden, page};
use crate::pages::{BROWSER_COOKIE, cookie, display_name, set_cookie};
use crate::state::{BrowserSession, Listener, State as Shared};
use crate::util::{html_escape, random_token, sha256_b64};

/// The browser's id (its cookie, or a new one to set).
fn browser_id(headers: &HeaderMap, listener: Listener) -> (String, Option<HeaderValue>) {
    match cookie(headers, BROWSER_COOKIE) {
        Some(id) => (id, None),
        None => {
            let id = random_token(32);
            let set = set_cookie(BROWSER_COOKIE, Some(&id), listener);
            (id, Some(set))
        }
    }
}

/// The sign-in page (no JavaScript), with an error when a try failed.
pub(super) fn sign_in_page(
    state: &Shared,
    req: &AuthRequest,
    headers: &HeaderMap,
    listener: Listener,
    error: Option<&str>,
    username: Option<&str>,
    txn_id: Option<&str>,
) -> Response {
    let (browser, new_cookie) = browser_id(headers, listener);
    let txn_id = match txn_id {
        Some(id) => id.to_owned(),
        None => txn::create(state, req.digest(), &browser, Stage::SignIn),
    };
    let username = username.or(req.login_hint.as_deref()).unwrap_or_default();
    let (error_html, described) = match error {
        Some(message) => (
            format!(
                "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
                html_escape(message)
            ),
            " aria-describedby=\"error\" aria-invalid=\"true\"",
        ),
        None => (String::new(), ""),
    };
    let body = format!(
        "<p>to continue to <strong>{app}</strong></p>{error_html}\
<form method=\"post\" action=\"/{tid}/login\">{fields}{txn}\
<label for=\"username\">Email or user name</label>\
<input id=\"username\" name=\"username\" type=\"text\" autocomplete=\"username\" required value=\"{username}\"{described}>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>\
<button type=\"submit\">Sign in</button></form>",
        app = html_escape(display_name(&req.client)),
        tid = html_escape(&req.tenant.tenant_id),
        fields = req.hidden_fields(),
        txn = hidden("txn", &txn_id),
        username = html_escape(username),
    );
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    with_cookies(
        page(status, "Sign in", &body),
        new_cookie.into_iter().collect(),
    )
}

/// The consent page: what the application asks for, Accept or Cancel.
pub(super) fn consent_page(
    state: &Shared,
    req: &AuthRequest,
    sid: &str,
    session: &BrowserSession,
    plan: &[Needed],
    headers: &HeaderMap,
    listener: Listener,
) -> Response {
    let (browser, new_cookie) = browser_id(headers, listener);
    let txn_id = txn::create(
        state,
        req.digest(),
        &browser,
        Stage::Consent {
            session: sha256_b64(sid.as_bytes()),
        },
    );
    let mut items = String::new();
    let oidc = &req.requested.oidc;
    if oidc.iter().any(|s| s == "openid" || s == "profile") {
        items.push_str("<li>Sign you in and read your profile</li>");
    }
    if oidc.iter().any(|s| s == "email") {
        items.push_str("<li>View your email address</li>");
    }
    if oidc.iter().any(|s| s == "offline_access") {
        items.push_str("<li>Maintain access to data you have given it access to</li>");
    }
    let forced = req.prompt == Some(Prompt::Consent);
    for needed in plan {
        let shown = if forced {
            &needed.wanted
        } else {
            &needed.missing
        };
        for value in shown {
            let description = needed
                .resource
                .oauth2_permission_scopes
                .iter()
                .find(|p| &p.value == value)
                .map(|p| p.user_consent_description.as_str())
                .unwrap_or_default();
            items.push_str(&format!(
                "<li><strong>{}</strong> ({}){}</li>",
                html_escape(value),
                html_escape(display_name(&needed.resource)),
                if description.is_empty() {
                    String::new()
                } else {
                    format!(": {}", html_escape(description))
                }
            ));
        }
    }
    let upn = req
        .user(&session.user_id)
        .map(|u| u.user_principal_name.as_str())
        .unwrap_or_default();
    let body = format!(
        "<p class=\"muted\">Signed in as {upn}</p>\
<p><strong>{app}</strong> (unverified) wants to:</p><ul>{items}</ul>\
<p>Accepting allows this app to use your data as described. You can change these permissions later.</p>\
<form method=\"post\" action=\"/{tid}/Consent/Set\">{fields}{txn}\
<button type=\"submit\" name=\"action\" value=\"accept\">Accept</button> \
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
        upn = html_escape(upn),
        app = html_escape(display_name(&req.client)),
        tid = html_escape(&req.tenant.tenant_id),
        fields = req.hidden_fields(),
        txn = hidden("txn", &txn_id),
    );
    with_cookies(
        page(StatusCode::OK, "Permissions requested", &body),
        new_cookie.into_iter().collect(),
    )
}

/// A form that is not (or no longer) valid for this browser.
pub(super) fn stale_form() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in error",
        "<p class=\"error\" role=\"alert\">This form has expired, was already used, or was not sent by this browser. Go back to the application and sign in again.</p>",
    )
}
