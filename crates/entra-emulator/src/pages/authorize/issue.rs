//! Code issuance, and the three response modes (`query`, `fragment`,
//! `form_post`) that carry a code or an error to the registered redirect URI.

use aws_lc_rs::digest;
use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};

use super::request::{AuthRequest, Mode, Target};
use crate::error::OAuthError;
use crate::html::{error_page, hidden, page, protect};
use crate::state::{AuthCode, BrowserSession, State as Shared, lock};
use crate::util::{derived_guid, html_escape, random_token, sha256_b64};

/// Issues a code and sends it to the client.
pub(super) fn issue_code(
    state: &Shared,
    req: &AuthRequest,
    sid: &str,
    session: &BrowserSession,
) -> Response {
    let code = random_token(48);
    let now = state.now();
    let lifetime = i64::try_from(state.dir().settings.code_lifetime).unwrap_or(600);
    {
        let mut codes = lock(&state.codes);
        // Expired codes stay a while, so a late redemption reads "expired"
        // (AADSTS70008) and a late replay still revokes its tokens.
        codes.retain(|_, c| c.expires + lifetime.max(60) > now);
        codes.insert(
            sha256_b64(code.as_bytes()),
            AuthCode {
                tenant_id: req.tenant.tenant_id.clone(),
                client_id: req.client.app_id.clone(),
                redirect_uri: req.target.redirect_uri.clone(),
                scopes: req.requested.to_strings(),
                user_id: session.user_id.clone(),
                nonce: req.nonce.clone(),
                code_challenge: req.challenge.clone(),
                expires: now + lifetime,
                auth_time: session.auth_time,
                redeemed_family: None,
            },
        );
    }
    let mut params = vec![("code".to_owned(), code)];
    if let Some(s) = &req.target.state {
        params.push(("state".into(), s.clone()));
    }
    params.push((
        "session_state".into(),
        derived_guid(&["session_state", sid]),
    ));
    to_client(&req.target, params)
}

/// An error sent to the client's redirect URI.
pub(super) fn client_error(state: &Shared, target: &Target, error: &OAuthError) -> Response {
    let body = error.body(None, state.now());
    let mut params = vec![
        ("error".to_owned(), error.error.to_owned()),
        (
            "error_description".to_owned(),
            body["error_description"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ),
        (
            "error_uri".to_owned(),
            body["error_uri"].as_str().unwrap_or_default().to_owned(),
        ),
    ];
    if error.error == "access_denied" {
        params.push(("error_subcode".into(), "cancel".into()));
    }
    if let Some(s) = &target.state {
        params.push(("state".into(), s.clone()));
    }
    to_client(target, params)
}

/// Sends `params` to the registered redirect URI in the response mode asked.
fn to_client(target: &Target, params: Vec<(String, String)>) -> Response {
    let base = target.redirect_uri.split('#').next().unwrap_or_default();
    let encoded = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let location = match target.mode {
        Mode::FormPost => return form_post(base, &params),
        Mode::Query if base.contains('?') => format!("{base}&{encoded}"),
        Mode::Query => format!("{base}?{encoded}"),
        Mode::Fragment => format!("{base}#{encoded}"),
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            50_011,
            "The redirect URI cannot be used in a Location header.",
        );
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    response.headers_mut().insert(header::LOCATION, location);
    protect(response.headers_mut());
    response
}

/// `response_mode=form_post`: a page that posts `params` to the client by
/// itself (one inline script, allowed by its hash), with a button when
/// scripts are off.
fn form_post(action: &str, params: &[(String, String)]) -> Response {
    const SCRIPT: &str = "document.forms[0].submit();";
    let fields: String = params.iter().map(|(k, v)| hidden(k, v)).collect();
    let body = format!(
        "<form method=\"post\" action=\"{}\">{fields}\
<noscript><p>Script is disabled. Select Continue to go back to the application.</p>\
<button type=\"submit\">Continue</button></noscript></form><script>{SCRIPT}</script>",
        html_escape(action)
    );
    let mut response = page(StatusCode::OK, "Working", &body);
    let hash = base64::engine::general_purpose::STANDARD
        .encode(digest::digest(&digest::SHA256, SCRIPT.as_bytes()));
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{hash}'; form-action *; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}
