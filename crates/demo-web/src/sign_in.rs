//! Signing in and out: `GET /auth/login`, `GET /auth/callback`,
//! `POST /auth/logout`.
//!
//! - `/auth/login` asks entra-client for an authorization URL (fresh
//!   `state`, `nonce` and PKCE S256 verifier), keeps the pending sign-in in
//!   the browser's server-side session with the local path to return to
//!   (C17), and sends the browser to the identity provider.
//! - `/auth/callback` finds the pending sign-in by `state` in *this*
//!   browser's session (none: `400`, C1; unknown: `400`, C2; used already:
//!   `400`, C3), removes it before anything else (single use), refuses it
//!   when older than the sign-in timeout (`400`, C4), then lets entra-client
//!   redeem the code with the verifier and validate the ID token with the
//!   nonce (C9, C11, C12). Success issues a *fresh* session id and deletes
//!   the old one (C20), then `303` to the return path: a clean URL (C21).
//!   Every failure is a page, its untrusted texts escaped (C5), and leaves
//!   nobody signed in.
//! - `/auth/logout` (a `POST` with the anti-forgery token, C24) forgets the
//!   user's tokens, deletes the session, clears the cookie with the same
//!   attributes, and sends the browser to the identity provider's
//!   `end_session_endpoint` with `post_logout_redirect_uri` (and
//!   `logout_hint` when the ID token has a `login_hint` claim; never
//!   `id_token_hint`: no token goes into a URL).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use entra_client::{AuthorizationRequest, Callback, Error as ClientError, SignOutRequest};
use http::{HeaderMap, StatusCode, header};

use crate::html::{error_page, escape};
use crate::return_to::local_path;
use crate::server::{App, Visitor, see_other, store_failure};
use crate::session::{PendingSignIn, SignedInUser};
use crate::{csrf, forms};

/// `GET /auth/login?return_to=/path`.
pub(crate) async fn login(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let return_to = local_path(
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .as_deref(),
    );
    let mut session = match app.visitor(&headers).await {
        Ok(Visitor::SignedIn(session) | Visitor::Pending(session)) => session,
        Ok(Visitor::Anonymous { .. }) => match app.sessions.fresh() {
            Ok(session) => Box::new(session),
            Err(e) => return store_failure(&e),
        },
        Err(response) => return response,
    };
    let request = AuthorizationRequest::new(app.scopes.iter().cloned())
        .redirect_uri(app.redirect_uri.clone());
    let start = match app.client.authorize_url(request).await {
        Ok(start) => start,
        Err(e) => {
            tracing::warn!(error = %e, "cannot start a sign-in");
            return error_page(
                StatusCode::BAD_GATEWAY,
                "The sign-in service cannot be reached",
                &format!(
                    "<p>Signing in needs the identity provider, and it did not answer: {}</p>\
                     <p><a href=\"/auth/login\">Try again</a></p>",
                    escape(&e.to_string())
                ),
            );
        }
    };
    session.push_sign_in(PendingSignIn {
        pending: start.pending,
        return_to,
        created_at: app.sessions.now(),
    });
    if let Err(e) = app.sessions.save(&session).await {
        return store_failure(&e);
    }
    let cookie = match app.sessions.set_cookie(&session) {
        Ok(cookie) => cookie,
        Err(e) => return store_failure(&e),
    };
    let mut response = see_other(start.url.as_str());
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// `GET /auth/callback?code=...&state=...` (or `?error=...&state=...`).
pub(crate) async fn callback(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let callback = match Callback::from_query(&query) {
        Ok(callback) => callback,
        Err(_) => {
            return bad_callback("The sign-in answer is malformed (a parameter is repeated).");
        }
    };
    let state = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .filter(|s| !s.is_empty());
    let Some(state) = state else {
        // C1: without state, nothing ties this answer to a sign-in of ours.
        return bad_callback(
            "The sign-in answer carries no state, so it cannot be matched to a sign-in started here.",
        );
    };
    let mut session = match app.visitor(&headers).await {
        Ok(Visitor::SignedIn(session) | Visitor::Pending(session)) => session,
        Ok(Visitor::Anonymous { .. }) => {
            return bad_callback(
                "This browser has no sign-in under way: the sign-in was started elsewhere, already completed, or has expired.",
            );
        }
        Err(response) => return response,
    };
    let Some(pending) = session.take_sign_in(&state) else {
        // C2 (someone else's or a forged state) and C3 (used already).
        return bad_callback(
            "The sign-in answer does not match a sign-in under way in this browser (it was completed already, or started elsewhere).",
        );
    };
    // Single use: the pending sign-in is gone before the code is redeemed.
    if let Err(e) = app.sessions.save(&session).await {
        return store_failure(&e);
    }
    let now = app.sessions.now();
    if now.saturating_sub(pending.created_at) > app.sessions.sign_in_timeout() {
        // C4.
        return bad_callback("The sign-in took too long. Start again.");
    }
    match app
        .client
        .complete_authorization(pending.pending, &callback)
        .await
    {
        Ok(sign_in) => {
            // C20: the signed-in session gets a new id; the old one dies.
            if let Err(e) = app.sessions.destroy(&session).await {
                return store_failure(&e);
            }
            let mut fresh = match app.sessions.fresh() {
                Ok(fresh) => fresh,
                Err(e) => return store_failure(&e),
            };
            fresh.data.user = Some(SignedInUser {
                account: sign_in.account,
                id_token: sign_in.id_token.as_str().to_owned(),
            });
            if let Err(e) = app.sessions.save(&fresh).await {
                return store_failure(&e);
            }
            let cookie = match app.sessions.set_cookie(&fresh) {
                Ok(cookie) => cookie,
                Err(e) => return store_failure(&e),
            };
            tracing::info!("a user signed in");
            let mut response = see_other(&pending.return_to);
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(e) => failed(&e),
    }
}

/// The page for a sign-in that entra-client refused.
fn failed(e: &ClientError) -> Response {
    tracing::info!(error = %e, "a sign-in failed");
    match e {
        ClientError::StateMismatch | ClientError::StateReplayed => {
            bad_callback("The sign-in answer does not match a sign-in under way in this browser.")
        }
        ClientError::AuthorizationExpired => {
            bad_callback("The sign-in took too long. Start again.")
        }
        ClientError::MissingCode => {
            bad_callback("The sign-in answer carries no authorization code.")
        }
        ClientError::AuthorizationDenied(server) => {
            let (status, title) = if server.error == "access_denied" {
                (StatusCode::FORBIDDEN, "Sign-in cancelled")
            } else {
                (StatusCode::BAD_REQUEST, "Sign-in refused")
            };
            let description = server
                .summary()
                .map(|d| format!("<p>{}</p>", escape(d)))
                .unwrap_or_default();
            error_page(
                status,
                title,
                &format!(
                    "<p>The identity provider answered <code>{}</code>.</p>{description}{}",
                    escape(&server.error),
                    TRY_AGAIN
                ),
            )
        }
        ClientError::Authority(server) => error_page(
            StatusCode::BAD_REQUEST,
            "Sign-in failed",
            &format!(
                "<p>The authorization code was not accepted: {}</p>{}",
                escape(&server.to_string()),
                TRY_AGAIN
            ),
        ),
        ClientError::IdToken(e) => error_page(
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            &format!(
                "<p>The identity provider's ID token is not valid: {}</p>{}",
                escape(&e.to_string()),
                TRY_AGAIN
            ),
        ),
        other => error_page(
            StatusCode::BAD_GATEWAY,
            "Sign-in failed",
            &format!(
                "<p>The sign-in could not be completed: {}</p>{}",
                escape(&other.to_string()),
                TRY_AGAIN
            ),
        ),
    }
}

const TRY_AGAIN: &str = "<p><a class=\"button\" href=\"/auth/login\">Sign in again</a></p>";

fn bad_callback(why: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Sign-in failed",
        &format!("<p>{}</p>{TRY_AGAIN}", escape(why)),
    )
}

/// `POST /auth/logout` (form: `csrf_token`).
pub(crate) async fn logout(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    let form = forms::parse(&body);
    let session = match app.visitor(&headers).await {
        Ok(Visitor::SignedIn(session) | Visitor::Pending(session)) => session,
        Ok(Visitor::Anonymous { .. }) => {
            // Nobody to sign out here: just make sure the cookie is gone.
            let mut response = see_other("/");
            response
                .headers_mut()
                .append(header::SET_COOKIE, app.sessions.clear_cookie());
            return response;
        }
        Err(response) => return response,
    };
    if let Err(response) = csrf::check(&headers, &app.origin, &session, form.get(csrf::FIELD)) {
        return response;
    }
    let user = session.data.user.clone();
    if let Some(user) = &user
        && let Err(e) = app.client.remove_account(&user.account).await
    {
        tracing::warn!(error = %e, "cannot forget a signed-out user's tokens");
    }
    if let Err(e) = app.sessions.destroy(&session).await {
        return store_failure(&e);
    }
    tracing::info!("a user signed out");
    let mut request = SignOutRequest::new().post_logout_redirect_uri(&app.post_logout_redirect_uri);
    // Not `id_token_hint`: a token never goes into a URL (browser history,
    // the identity provider's logs). Entra's `logout_hint` is the ID
    // token's `login_hint` claim, when the app registration asks for it.
    if let Some(hint) = user
        .as_ref()
        .and_then(|u| crate::claims::decode(&u.id_token))
        .and_then(|d| d.claims.get("login_hint")?.as_str().map(str::to_owned))
    {
        request = request.logout_hint(hint);
    }
    let location = match app.client.sign_out_url(&request).await {
        Ok(url) => url.to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "no end-session endpoint; signed out locally only");
            "/".to_owned()
        }
    };
    let mut response = see_other(&location).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, app.sessions.clear_cookie());
    response
}
