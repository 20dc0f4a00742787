//! Cross-site request forgery: every state-changing request is a `POST`
//! whose form carries the session's synchronizer token (compared in
//! constant time), from this origin (another `Origin`, or a `Sec-Fetch-Site`
//! other than `same-origin`, is refused even with the right token). The
//! session cookie is `SameSite=Lax` besides: a cross-site `POST` carries no
//! session at all.
//!
//! A refused request changes nothing and is answered `403`.

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use crate::html::error_page;
use crate::session::Session;

/// The form field that carries the token.
pub(crate) const FIELD: &str = "csrf_token";

/// Checks a form submission of `session`: same-origin, and the right token.
pub(crate) fn check(
    headers: &HeaderMap,
    origin: &str,
    session: &Session,
    token: Option<&str>,
) -> Result<(), Response> {
    // `Origin: null` is what browsers send for a same-origin form under
    // `Referrer-Policy: no-referrer` (every page here): it says nothing, and
    // `Sec-Fetch-Site` and the token decide. Any other origin must be ours.
    if let Some(sent) = headers.get(http::header::ORIGIN) {
        let acceptable = sent
            .to_str()
            .is_ok_and(|o| o == "null" || o.trim_end_matches('/').eq_ignore_ascii_case(origin));
        if !acceptable {
            return Err(refused("The form was sent from another site."));
        }
    }
    // Browsers say where a request comes from; only this origin may post.
    if headers.get("sec-fetch-site").is_some_and(|v| {
        v.to_str()
            .map_or(true, |v| !v.eq_ignore_ascii_case("same-origin"))
    }) {
        return Err(refused("The form was sent from another site."));
    }
    match token {
        Some(token) if session.csrf_matches(token) => Ok(()),
        Some(_) => Err(refused(
            "The form's anti-forgery token does not belong to your session (it may come from an older page).",
        )),
        None => Err(refused("The form carries no anti-forgery token.")),
    }
}

fn refused(why: &str) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        &format!(
            "<p>{} Nothing was changed.</p><p>Go back to the start page, reload it and try again.</p>",
            crate::html::escape(why)
        ),
    )
}
