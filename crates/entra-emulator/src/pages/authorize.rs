//! The authorize endpoint (v2 and v1, GET and POST), the sign-in and consent
//! forms, code issuance and the response modes (`query`, `fragment`,
//! `form_post`).
//!
//! Errors about the client or its redirect URI are shown on the emulator's
//! own error page (never redirected to an unregistered URI); every other
//! error is sent back to the registered redirect URI, as Entra does.

use std::sync::Arc;

use aws_lc_rs::digest;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::response::Response;
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};

use super::txn::{self, Stage};
use super::{BROWSER_COOKIE, SESSION_COOKIE, cookie, current_session, set_cookie, start_session};
use crate::client_auth::Form;
use crate::config::{Application, User};
use crate::error::OAuthError;
use crate::html::{error_page, hidden, page, protect};
use crate::scopes::{self, Requested};
use crate::state::{
    AuthCode, BrowserSession, ConsentStore, Listener, State as Shared, TenantRef, lock,
};
use crate::util::{derived_guid, html_escape, random_token, secrets_equal, sha256_b64};

/// The longest accepted parameter value.
const MAX_PARAM: usize = 8 * 1024;

/// The authorize parameters the sign-in and consent forms carry back, in this
/// order (plus `endpoint`: `v1` or `v2`).
const CARRIED: &[&str] = &[
    "client_id",
    "response_type",
    "redirect_uri",
    "response_mode",
    "scope",
    "resource",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
];

/// How the answer reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Query,
    Fragment,
    FormPost,
}

/// `prompt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// Where answers go, once the client and its redirect URI are known good.
#[derive(Debug, Clone)]
struct Target {
    redirect_uri: String,
    mode: Mode,
    state: Option<String>,
}

/// A validated authorize request.
#[derive(Debug, Clone)]
struct AuthRequest {
    /// The parameters the forms carry back, in [`CARRIED`] order.
    carried: Vec<(String, String)>,
    tenant: TenantRef,
    client: Application,
    target: Target,
    requested: Requested,
    nonce: Option<String>,
    challenge: Option<(String, String)>,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
}

impl AuthRequest {
    /// The digest the forms' transactions are bound to.
    fn digest(&self) -> String {
        let text = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.carried)
            .finish();
        sha256_b64(text.as_bytes())
    }

    fn hidden_fields(&self) -> String {
        self.carried.iter().map(|(k, v)| hidden(k, v)).collect()
    }

    fn user(&self, user_id: &str) -> Option<&User> {
        self.tenant.user(user_id)
    }
}

/// Why a request was refused.
#[derive(Debug)]
enum Reject {
    /// Shown on the emulator's error page: AADSTS code and message.
    Page(u32, String),
    /// Sent back to the client's registered redirect URI.
    Client(Box<(Target, OAuthError)>),
}

impl Reject {
    fn respond(self, state: &Shared) -> Response {
        match self {
            Reject::Page(code, message) => error_page(StatusCode::BAD_REQUEST, code, &message),
            Reject::Client(boxed) => client_error(state, &boxed.0, &boxed.1),
        }
    }
}

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

/// `POST /{tenant}/login`: the sign-in form.
pub(super) async fn sign_in(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let state = &*state;
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, e.code, &e.description),
    };
    let v1 = form.get("endpoint") == Some("v1");
    let req = match validate(state, &segment, &form, v1) {
        Ok(req) => req,
        Err(reject) => return reject.respond(state),
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
        u.user_principal_name.eq_ignore_ascii_case(username)
            && !password.is_empty()
            && secrets_equal(&u.password, password)
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
    let form = match Form::parse(&body) {
        Ok(form) => form,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, e.code, &e.description),
    };
    let v1 = form.get("endpoint") == Some("v1");
    let req = match validate(state, &segment, &form, v1) {
        Ok(req) => req,
        Err(reject) => return reject.respond(state),
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
            let plan = consent_plan(state, &req, &session.user_id);
            let recorded = state.consents.update(|store| {
                for needed in &plan {
                    let key = ConsentStore::key(
                        &req.tenant.tenant_id,
                        &session.user_id,
                        &req.client.app_id,
                        &needed.resource.app_id,
                    );
                    store
                        .grants
                        .entry(key)
                        .or_default()
                        .extend(needed.wanted.iter().cloned());
                }
            });
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

/// Checks an authorize request: first the tenant, client and redirect URI
/// (errors shown here), then the rest (errors sent to the client).
fn validate(state: &Shared, segment: &str, params: &Form, v1: bool) -> Result<AuthRequest, Reject> {
    let page_error = Reject::Page;
    if let Some((name, _)) = params.0.iter().find(|(_, v)| v.len() > MAX_PARAM) {
        return Err(page_error(
            900_144,
            format!("The parameter '{name}' is too long."),
        ));
    }
    let tenant = crate::endpoints::resolve_tenant(state, segment, params.get("client_id"))
        .map_err(|e| page_error(e.code, e.description))?;
    let client_id = params.get("client_id").ok_or_else(|| {
        page_error(
            900_144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    })?;
    let client = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(client_id))
        .cloned()
        .ok_or_else(|| {
            let e = OAuthError::unknown_client(client_id, &tenant.tenant_id);
            page_error(e.code, e.description)
        })?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) => uri.to_owned(),
        None => {
            let mut all = client.all_redirect_uris();
            match (all.next(), all.next()) {
                (Some(only), None) => only.clone(),
                _ => {
                    return Err(page_error(
                        900_144,
                        "The request body must contain the following parameter: 'redirect_uri'."
                            .into(),
                    ));
                }
            }
        }
    };
    if !redirect_allowed(&client, &redirect_uri) {
        return Err(page_error(
            50_011,
            format!(
                "The redirect URI '{redirect_uri}' specified in the request does not match the redirect URIs configured for the application '{}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal.",
                client.app_id
            ),
        ));
    }
    let (mode, bad_mode) = match params.get("response_mode") {
        None | Some("query") => (Mode::Query, None),
        Some("fragment") => (Mode::Fragment, None),
        Some("form_post") => (Mode::FormPost, None),
        Some(other) => (Mode::Query, Some(other.to_owned())),
    };
    let target = Target {
        redirect_uri,
        mode,
        state: params.get("state").map(str::to_owned),
    };
    let fail = |e: OAuthError| Err(Reject::Client(Box::new((target.clone(), e))));
    if let Some(mode) = bad_mode {
        return fail(OAuthError::invalid_request(format!(
            "The response_mode '{mode}' is not supported."
        )));
    }
    match params.get("response_type") {
        Some("code") => {}
        None => {
            return fail(OAuthError::invalid_request(
                "The request body must contain the following parameter: 'response_type'.",
            ));
        }
        Some(other) => {
            return fail(OAuthError::new(
                "unsupported_response_type",
                700_054,
                format!(
                    "response_type '{other}' is not enabled for the application. The emulator issues authorization codes only."
                ),
            ));
        }
    }
    let mut scope = params.get("scope").unwrap_or_default().to_owned();
    if v1 {
        if let Some(resource) = params.get("resource") {
            scope = format!("{scope} {}/.default", resource.trim_end_matches('/'));
        }
        if scope.trim().is_empty() {
            scope = "openid".to_owned();
        }
    } else if scope.trim().is_empty() {
        return fail(OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        ));
    }
    let requested = match scopes::parse(&state.dir(), &scope) {
        Ok(requested) => requested,
        Err(e) => return fail(e),
    };
    if requested.oidc.is_empty() && requested.resource.is_empty() {
        return fail(OAuthError::invalid_scope(&scope));
    }
    let challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return fail(OAuthError::invalid_request(
                "code_challenge_method was sent without a code_challenge.",
            ));
        }
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return fail(OAuthError::invalid_request(format!(
                    "The code_challenge_method '{method}' is not supported: use S256 (or plain)."
                )));
            }
            let well_formed = (43..=128).contains(&challenge.len())
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
            if !well_formed {
                return fail(OAuthError::invalid_request("").with_code(
                    501_491,
                    "Invalid size of Code_Challenge parameter: 43 to 128 characters of [A-Za-z0-9-._~] are required.",
                ));
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
    };
    if challenge.is_none() && client.spa.redirect_uris.contains(&target.redirect_uri) {
        return fail(OAuthError::invalid_request("").with_code(
            9_002_325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        ));
    }
    let prompt = match params.get("prompt") {
        None => None,
        Some("none") => Some(Prompt::None),
        Some("login" | "create") => Some(Prompt::Login),
        Some("consent") => Some(Prompt::Consent),
        Some("select_account") => Some(Prompt::SelectAccount),
        Some(other) => {
            return fail(OAuthError::invalid_request(format!(
                "Invalid value for the prompt parameter: '{other}'."
            )));
        }
    };
    let mut carried: Vec<(String, String)> = CARRIED
        .iter()
        .filter_map(|name| params.get(name).map(|v| ((*name).to_owned(), v.to_owned())))
        .collect();
    carried.push(("endpoint".into(), if v1 { "v1" } else { "v2" }.into()));
    Ok(AuthRequest {
        carried,
        tenant,
        client,
        requested,
        nonce: params.get("nonce").map(str::to_owned),
        challenge,
        prompt,
        login_hint: params.get("login_hint").map(str::to_owned),
        target,
    })
}

/// Exact string match against the registered redirect URIs; and, for the
/// mobile-and-desktop platform only, a registered loopback URI without a port
/// accepts any port (RFC 8252 §7.3, as Entra does), the rest still exact.
fn redirect_allowed(client: &Application, uri: &str) -> bool {
    client.all_redirect_uris().any(|r| r == uri)
        || client
            .public_client
            .redirect_uris
            .iter()
            .any(|r| loopback_any_port(r, uri))
}

fn loopback_any_port(registered: &str, given: &str) -> bool {
    for host in ["http://localhost", "http://127.0.0.1", "http://[::1]"] {
        let Some(rest) = registered.strip_prefix(host) else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return false;
        }
        let Some(after) = given.strip_prefix(host).and_then(|g| g.strip_prefix(':')) else {
            return false;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return false;
        }
        let tail = &after[digits..];
        return tail == rest || (rest.is_empty() && tail == "/");
    }
    false
}

/// Delegated scopes of one resource: what the request wants, and what the
/// user has not consented to yet.
#[derive(Debug)]
struct Needed {
    resource: Application,
    wanted: Vec<String>,
    missing: Vec<String>,
}

fn consent_plan(state: &Shared, req: &AuthRequest, user_id: &str) -> Vec<Needed> {
    let mut plan: Vec<Needed> = Vec::new();
    for scope in &req.requested.resource {
        if plan.iter().any(|n| {
            n.resource
                .app_id
                .eq_ignore_ascii_case(&scope.resource_app_id)
        }) {
            continue;
        }
        let Some(resource) = state.dir().application(&scope.resource_app_id).cloned() else {
            continue;
        };
        let mut wanted: Vec<String> = Vec::new();
        for asked in req
            .requested
            .resource
            .iter()
            .filter(|s| s.resource_app_id == scope.resource_app_id)
        {
            if asked.value == ".default" {
                wanted.extend(
                    req.client
                        .required_resource_access
                        .iter()
                        .filter(|a| a.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
                        .flat_map(|a| a.scopes.iter().cloned()),
                );
            } else {
                wanted.push(asked.value.clone());
            }
        }
        wanted.sort();
        wanted.dedup();
        let consented = scopes::consented(state, &req.tenant, &req.client, user_id, &resource);
        let missing = wanted
            .iter()
            .filter(|w| !consented.contains(w))
            .cloned()
            .collect();
        plan.push(Needed {
            resource,
            wanted,
            missing,
        });
    }
    plan
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
        let plan = consent_plan(state, req, &session.user_id);
        let missing = plan.iter().any(|n| !n.missing.is_empty());
        if missing || req.prompt == Some(Prompt::Consent) {
            let admin_only = plan.iter().find_map(|n| {
                n.missing.iter().find(|m| {
                    n.resource
                        .oauth2_permission_scopes
                        .iter()
                        .any(|p| &p.value == *m && p.r#type.eq_ignore_ascii_case("Admin"))
                })
            });
            if let Some(scope) = admin_only {
                return client_error(
                    state,
                    &req.target,
                    &OAuthError::new(
                        "consent_required",
                        90_094,
                        format!(
                            "The grant requires admin permission: {scope} needs an administrator's consent."
                        ),
                    ),
                );
            }
            if req.prompt == Some(Prompt::None) {
                return client_error(
                    state,
                    &req.target,
                    &OAuthError::new(
                        "consent_required",
                        65_001,
                        format!(
                            "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
                            req.client.app_id, req.client.display_name
                        ),
                    ),
                );
            }
            return consent_page(state, req, sid, session, &plan, headers, listener);
        }
    }
    issue_code(state, req, sid, session)
}

/// Issues a code and sends it to the client.
fn issue_code(state: &Shared, req: &AuthRequest, sid: &str, session: &BrowserSession) -> Response {
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
fn client_error(state: &Shared, target: &Target, error: &OAuthError) -> Response {
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
fn sign_in_page(
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
fn consent_page(
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
fn stale_form() -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Sign-in error",
        "<p class=\"error\" role=\"alert\">This form has expired, was already used, or was not sent by this browser. Go back to the application and sign in again.</p>",
    )
}

fn display_name(app: &Application) -> &str {
    if app.display_name.is_empty() {
        &app.app_id
    } else {
        &app.display_name
    }
}

fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for value in cookies {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
