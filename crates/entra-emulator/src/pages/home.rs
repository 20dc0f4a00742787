//! The emulator's home page, at `/` and `/_emulator/`: the tenants, their
//! app registrations and users (never a secret or a password), the
//! discovery URLs to copy, the recent requests (as redacted as the request
//! log keeps them) with their grant and AADSTS outcome, a form that mints an
//! access token for any user, client and scopes (the code behind `POST
//! /_emulator/tokens`), and a box that decodes a token on the server.
//!
//! Server-rendered, no JavaScript, nothing fetched from anywhere (the
//! pages' CSP allows no script). The forms post under `/_emulator/home/`,
//! whose bodies the request log never reads, so a token pasted into the
//! decode box is neither logged nor kept.
//!
//! Who may use it, as the administration API ([`crate::admin`]):
//!
//! - each form carries a single-use anti-forgery token bound to the browser
//!   by an `HttpOnly; SameSite=Strict` cookie ([`super::anti_forgery`]), and
//!   a cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused (403);
//! - with an admin token configured, the page shows only a form asking for
//!   it (401); the right token starts a browser session of
//!   [`FORM_TTL`](super::anti_forgery::FORM_TTL) seconds (an `HttpOnly;
//!   SameSite=Strict` cookie naming a random id kept server-side as a
//!   digest). `Authorization: Bearer <admin token>` is accepted too.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Map, Value};

use super::anti_forgery::FormTokens;
use crate::admin::MintRequest;
use crate::client_auth::Form;
use crate::config::{Application, Directory};
use crate::endpoints::is_form;
use crate::html::{self, hidden};
use crate::state::{Listener, State as Shared, lock};
use crate::util::{html_escape, random_token, secrets_equal};

/// The browser-binding cookie of the home page's forms.
const BROWSER: &str = "entra_emulator_home";

/// The cookie of a browser that gave the admin token.
const ADMIN: &str = "entra_emulator_admin";

/// Requests shown, newest first.
const RECENT: usize = 50;

/// The longest token the decode box reads.
const MAX_TOKEN: usize = 64 * 1024;

/// The home page's own state, shared by both listeners.
pub(crate) struct Home {
    admin_token: Option<String>,
    forms: FormTokens<()>,
    sessions: FormTokens<()>,
}

impl std::fmt::Debug for Home {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Home")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Home {
    pub(crate) fn new(admin_token: Option<String>) -> Self {
        Home {
            admin_token,
            forms: FormTokens::default(),
            sessions: FormTokens::default(),
        }
    }

    /// Whether the request may see the page: no admin token configured, the
    /// admin token as a bearer token, or a session started with it.
    fn admitted(&self, headers: &HeaderMap, browser: Option<&str>) -> bool {
        let Some(expected) = &self.admin_token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, token)| secrets_equal(token.trim(), expected));
        let session = match (super::cookie(headers, ADMIN), browser) {
            (Some(id), Some(browser)) => self.sessions.check(&id, browser, false, |()| true),
            _ => None,
        };
        bearer || session.is_some()
    }
}

/// What a form submission asked for.
#[derive(Debug, Default)]
struct Outcome {
    /// The mint form's fields, to show them again.
    mint: MintFields,
    /// A minted token.
    minted: Option<String>,
    /// The decode box's input, to show it again.
    decode_input: String,
    /// A decoded token: header and claims, pretty-printed.
    decoded: Option<(String, String)>,
    /// What went wrong, for the form that failed: `("mint" | "decode", message)`.
    error: Option<(&'static str, String)>,
}

/// The mint form's fields.
#[derive(Debug, Default, Clone)]
struct MintFields {
    tenant: String,
    client_id: String,
    resource: String,
    user: String,
    scopes: String,
}

impl MintFields {
    /// The demo-friendly defaults: the first tenant, its first app with
    /// redirect URIs as the client, its first API as the resource, its
    /// first user, that API's scopes.
    fn defaults(directory: &Directory) -> Self {
        let Some(tenant) = directory.tenants.first() else {
            return MintFields::default();
        };
        let api = tenant
            .applications
            .iter()
            .find(|a| !a.oauth2_permission_scopes.is_empty());
        let client = tenant
            .applications
            .iter()
            .find(|a| !redirect_uris(a).is_empty())
            .or_else(|| tenant.applications.first());
        MintFields {
            tenant: tenant.tenant_id.clone(),
            client_id: client.map(|a| a.app_id.clone()).unwrap_or_default(),
            resource: api.map(|a| a.app_id.clone()).unwrap_or_default(),
            user: tenant
                .users
                .first()
                .map(|u| u.user_principal_name.clone())
                .unwrap_or_default(),
            scopes: api
                .map(|a| {
                    a.oauth2_permission_scopes
                        .first()
                        .map(|s| s.value.clone())
                        .unwrap_or_default()
                })
                .unwrap_or_default(),
        }
    }

    fn from_form(form: &Form) -> Self {
        let field = |name: &str| form.get(name).unwrap_or_default().trim().to_owned();
        MintFields {
            tenant: field("tenant"),
            client_id: field("clientId"),
            resource: field("resource"),
            user: field("user"),
            scopes: field("scopes"),
        }
    }

    fn request(&self) -> MintRequest {
        MintRequest {
            tenant: self.tenant.clone(),
            client_id: self.client_id.clone(),
            resource: self.resource.clone(),
            user: Some(self.user.clone()).filter(|u| !u.is_empty()),
            scopes: self
                .scopes
                .split([' ', ','])
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            claims: Map::new(),
        }
    }
}

fn redirect_uris(app: &Application) -> Vec<&str> {
    app.web
        .redirect_uris
        .iter()
        .chain(&app.spa.redirect_uris)
        .chain(&app.public_client.redirect_uris)
        .map(String::as_str)
        .collect()
}

/// `GET /` and `GET /_emulator/`.
pub(super) async fn show(
    State(state): State<Arc<Shared>>,
    Extension(home): Extension<Arc<Home>>,
    Extension(listener): Extension<Listener>,
    headers: HeaderMap,
) -> Response {
    let (browser, set) = match super::cookie(&headers, BROWSER) {
        Some(b) => (b, false),
        None => (random_token(32), true),
    };
    let response = if home.admitted(&headers, Some(&browser)) {
        let outcome = Outcome {
            mint: MintFields::defaults(&state.dir()),
            ..Outcome::default()
        };
        render(&state, &home, &browser, StatusCode::OK, &outcome)
    } else {
        sign_in_page(&home, &browser, StatusCode::UNAUTHORIZED, None)
    };
    with_browser_cookie(response, &browser, set, listener)
}

/// `POST /_emulator/home/sign-in`: the admin token, for a browser session.
pub(super) async fn sign_in(
    Extension(home): Extension<Arc<Home>>,
    Extension(listener): Extension<Listener>,
    request: Request,
) -> Response {
    let (_, form, browser) = match read_form(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    if home
        .forms
        .take(form.get("formToken").unwrap_or_default(), &browser)
        .is_none()
    {
        return expired();
    }
    let Some(expected) = &home.admin_token else {
        return redirect_home();
    };
    let given = form.get("adminToken").unwrap_or_default().trim();
    if given.is_empty() || !secrets_equal(given, expected) {
        return sign_in_page(
            &home,
            &browser,
            StatusCode::UNAUTHORIZED,
            Some("That is not this emulator's admin token (ENTRA_EMULATOR_ADMIN_TOKEN)."),
        );
    }
    let session = home.sessions.issue(&browser, ());
    let mut response = redirect_home();
    let secure = if listener == Listener::Https {
        "; Secure"
    } else {
        ""
    };
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{ADMIN}={session}; Path=/; HttpOnly; SameSite=Strict{secure}"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `POST /_emulator/home/token`: mints a token as `POST /_emulator/tokens` does.
pub(super) async fn mint(
    State(state): State<Arc<Shared>>,
    Extension(home): Extension<Arc<Home>>,
    request: Request,
) -> Response {
    let (headers, form, browser) = match read_form(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    if !home.admitted(&headers, Some(&browser)) {
        return sign_in_page(&home, &browser, StatusCode::UNAUTHORIZED, None);
    }
    if home
        .forms
        .take(form.get("formToken").unwrap_or_default(), &browser)
        .is_none()
    {
        return expired();
    }
    let fields = MintFields::from_form(&form);
    let mut outcome = Outcome {
        mint: fields.clone(),
        ..Outcome::default()
    };
    let status = match crate::admin::mint_token(&state, &fields.request()) {
        Ok(token) => {
            outcome.decoded = decode(&token).ok();
            outcome.minted = Some(token);
            StatusCode::OK
        }
        Err(e) => {
            outcome.error = Some(("mint", e.to_string()));
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    render(&state, &home, &browser, status, &outcome)
}

/// `POST /_emulator/home/decode`: decodes a token (never logged nor kept).
pub(super) async fn decode_box(
    State(state): State<Arc<Shared>>,
    Extension(home): Extension<Arc<Home>>,
    request: Request,
) -> Response {
    let (headers, form, browser) = match read_form(request).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    if !home.admitted(&headers, Some(&browser)) {
        return sign_in_page(&home, &browser, StatusCode::UNAUTHORIZED, None);
    }
    if home
        .forms
        .take(form.get("formToken").unwrap_or_default(), &browser)
        .is_none()
    {
        return expired();
    }
    let input = form.get("token").unwrap_or_default().trim().to_owned();
    let mut outcome = Outcome {
        mint: MintFields::defaults(&state.dir()),
        ..Outcome::default()
    };
    let status = match decode(&input) {
        Ok(decoded) => {
            outcome.decoded = Some(decoded);
            StatusCode::OK
        }
        Err(why) => {
            outcome.error = Some(("decode", why));
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    outcome.decode_input = input;
    render(&state, &home, &browser, status, &outcome)
}

/// A form post's headers, fields and browser cookie, after the cross-site
/// checks; or the refusal to answer.
async fn read_form(request: Request) -> Result<(HeaderMap, Form, String), Response> {
    let (parts, body) = request.into_parts();
    let headers = parts.headers;
    if let Err(why) = same_origin(&headers) {
        return Err(problem(StatusCode::FORBIDDEN, "Refused", &why));
    }
    let Some(browser) = super::cookie(&headers, BROWSER) else {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Refused",
            "Your browser did not send the home page's cookie. Allow cookies for this site and open the home page again.",
        ));
    };
    if !is_form(&headers) {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Refused",
            "The form must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_TOKEN + 16 * 1024)
        .await
        .map_err(|_| {
            problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Refused",
                "The form is too large.",
            )
        })?;
    let form = Form::parse(&bytes).map_err(|_| {
        problem(
            StatusCode::BAD_REQUEST,
            "Refused",
            "The form could not be read.",
        )
    })?;
    Ok((headers, form, browser))
}

/// A browser's cross-site request: a `Sec-Fetch-Site` other than
/// `same-origin` or `none`, or an `Origin` whose host is not the `Host`.
fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let ok = site
            .to_str()
            .is_ok_and(|s| s.eq_ignore_ascii_case("same-origin") || s.eq_ignore_ascii_case("none"));
        if !ok {
            return Err("Cross-site form posts to the emulator are refused.".into());
        }
    }
    // The pages' `Referrer-Policy: no-referrer` makes browsers send
    // `Origin: null` on their own form posts: trusted only beside
    // `Sec-Fetch-Site: same-origin` (checked above).
    let same_site_null = |origin: &HeaderValue| {
        origin.as_bytes() == b"null"
            && headers
                .get("sec-fetch-site")
                .is_some_and(|s| s.as_bytes().eq_ignore_ascii_case(b"same-origin"))
    };
    if let Some(origin) = headers.get(header::ORIGIN).filter(|o| !same_site_null(o)) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin_host = origin
            .to_str()
            .ok()
            .and_then(|o| url::Url::parse(o).ok())
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            });
        let same = matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(&o));
        if !same {
            return Err("Form posts from another origin are refused.".into());
        }
    }
    Ok(())
}

/// A JWS's header and claims, pretty-printed; why not, otherwise.
fn decode(token: &str) -> Result<(String, String), String> {
    if token.is_empty() {
        return Err("Paste a token (a JWS: three base64url parts separated by dots).".into());
    }
    if token.len() > MAX_TOKEN {
        return Err(format!(
            "A token longer than {MAX_TOKEN} bytes is not decoded."
        ));
    }
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    match token.bytes().filter(|&b| b == b'.').count() {
        2 => {}
        4 => return Err("This is an encrypted token (JWE): only its audience can read it.".into()),
        n => {
            return Err(format!(
                "A JWS has 3 dot-separated parts; this has {}.",
                n + 1
            ));
        }
    }
    let segments = entra_core::jws::split(token)
        .map_err(|e| format!("{e} (a part is not strict base64url)."))?;
    let header = segments
        .header()
        .map_err(|_| "The header is not one strict JSON object.".to_owned())?;
    let claims = segments
        .claims()
        .map_err(|_| "The payload is not one strict JSON object.".to_owned())?;
    let pretty =
        |m: Map<String, Value>| serde_json::to_string_pretty(&Value::Object(m)).unwrap_or_default();
    Ok((pretty(header), pretty(claims)))
}

fn redirect_home() -> Response {
    let mut response = html::page(
        StatusCode::SEE_OTHER,
        "Signed in",
        "<p><a href=\"/_emulator/\">Home</a></p>",
    );
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/_emulator/"));
    response
}

fn expired() -> Response {
    problem(
        StatusCode::FORBIDDEN,
        "Start again",
        "This form expired or was already submitted. Open the home page again.",
    )
}

fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    html::page(
        status,
        title,
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/_emulator/\">Home</a></p>",
            html_escape(message)
        ),
    )
}

fn with_browser_cookie(
    mut response: Response,
    browser: &str,
    set: bool,
    listener: Listener,
) -> Response {
    if set {
        let secure = if listener == Listener::Https {
            "; Secure"
        } else {
            ""
        };
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{BROWSER}={browser}; Path=/; HttpOnly; SameSite=Strict{secure}"
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The page that asks for the admin token.
fn sign_in_page(home: &Home, browser: &str, status: StatusCode, error: Option<&str>) -> Response {
    let token = home.forms.issue(browser, ());
    let error = error.map_or_else(String::new, |e| {
        format!(
            "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
            html_escape(e)
        )
    });
    html::page(
        status,
        "Entra ID emulator",
        &format!(
            "<p>This emulator has an admin token. Enter it to see its directory and mint tokens.</p>{error}\
<form method=\"post\" action=\"/_emulator/home/sign-in\">{}\
<label for=\"admin-token\">Admin token (ENTRA_EMULATOR_ADMIN_TOKEN)</label>\
<input type=\"password\" id=\"admin-token\" name=\"adminToken\" autocomplete=\"off\" required>\
<button type=\"submit\">Continue</button></form>",
            hidden("formToken", &token)
        ),
    )
}

const STYLE: &str = "body{max-width:76rem}table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}\
th,td{border:1px solid #d2d0ce;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f3f2f1}\
code,pre,textarea{font-family:ui-monospace,monospace;font-size:.85rem}pre{background:#f3f2f1;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\
textarea{width:100%;box-sizing:border-box}input.copy{width:100%;font-family:ui-monospace,monospace;font-size:.85rem;padding:.3rem;box-sizing:border-box}\
h2{font-size:1.15rem;margin-top:2rem}h3{font-size:1rem}.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem 2rem}";

/// The whole page.
fn render(
    state: &Shared,
    home: &Home,
    browser: &str,
    status: StatusCode,
    outcome: &Outcome,
) -> Response {
    let directory = state.dir();
    let mut body = String::new();
    body.push_str(
        "<p>A local stand-in for Microsoft Entra ID. Nothing on this page comes from outside the emulator; secrets and passwords are never shown.</p>\
<nav><a href=\"#tenants\">Tenants</a> · <a href=\"#discovery\">Discovery URLs</a> · <a href=\"#mint\">Mint a token</a> · <a href=\"#decode\">Decode a token</a> · <a href=\"#requests\">Recent requests</a></nav>",
    );
    tenants(&mut body, &directory);
    discovery(&mut body, state, &directory);
    mint_form(&mut body, home, browser, &directory, outcome);
    decode_form(&mut body, home, browser, outcome, state.now());
    requests(&mut body, state);
    html::page_styled(status, "Entra ID emulator", &body, STYLE)
}

fn list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|i| format!("<code>{}</code>", html_escape(i.as_ref())))
        .collect();
    if items.is_empty() {
        "–".to_owned()
    } else {
        items.join("<br>")
    }
}

fn tenants(out: &mut String, directory: &Directory) {
    out.push_str("<h2 id=\"tenants\">Tenants</h2>");
    for tenant in &directory.tenants {
        let _ = write!(
            out,
            "<section class=\"tenant\"><h3>{} <code>{}</code> ({})</h3>",
            html_escape(&tenant.display_name),
            html_escape(&tenant.tenant_id),
            html_escape(&tenant.domain)
        );
        out.push_str(
            "<table class=\"apps\"><caption>App registrations</caption><thead><tr><th>Name</th><th>Application (client) id</th><th>Redirect URIs</th><th>Scopes</th><th>App roles</th><th>Client credentials</th></tr></thead><tbody>",
        );
        for app in &tenant.applications {
            let credentials = match (app.password_credentials.len(), app.key_credentials.len()) {
                (0, 0) => "none (public client)".to_owned(),
                (s, c) => format!("{s} secret(s), {c} certificate(s)"),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html_escape(super::display_name(app)),
                html_escape(&app.app_id),
                if app.identifier_uris.is_empty() {
                    String::new()
                } else {
                    format!("<br>{}", list(&app.identifier_uris))
                },
                list(redirect_uris(app)),
                list(app.oauth2_permission_scopes.iter().map(|s| &s.value)),
                list(app.app_roles.iter().map(|r| &r.value)),
                html_escape(&credentials),
            );
        }
        out.push_str("</tbody></table>");
        out.push_str(
            "<table class=\"users\"><caption>Users</caption><thead><tr><th>Name</th><th>User principal name</th><th>Object id</th><th>App roles</th></tr></thead><tbody>",
        );
        for user in &tenant.users {
            let _ = write!(
                out,
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                html_escape(&user.display_name),
                html_escape(&user.user_principal_name),
                html_escape(&user.object_id),
                list(user.app_role_assignments.iter().map(|a| &a.app_role)),
            );
        }
        out.push_str("</tbody></table></section>");
    }
}

fn discovery(out: &mut String, state: &Shared, directory: &Directory) {
    out.push_str("<h2 id=\"discovery\">Discovery URLs</h2><p>Select and copy; the authority is the URL before <code>/v2.0/.well-known</code>.</p>");
    let bases: Vec<String> = [Listener::Https, Listener::Http]
        .into_iter()
        .map(|l| state.base(l))
        .filter(|b| !b.is_empty())
        .fold(Vec::new(), |mut bases, b| {
            if !bases.contains(&b) {
                bases.push(b);
            }
            bases
        });
    out.push_str("<table class=\"discovery\"><thead><tr><th>Tenant</th><th>OpenID Connect metadata (v2.0)</th></tr></thead><tbody>");
    for tenant in &directory.tenants {
        for base in &bases {
            let url = format!(
                "{base}/{}/v2.0/.well-known/openid-configuration",
                tenant.tenant_id
            );
            let _ = write!(
                out,
                "<tr><td>{}</td><td><input class=\"copy\" readonly value=\"{}\" aria-label=\"discovery URL of {}\"></td></tr>",
                html_escape(&tenant.domain),
                html_escape(&url),
                html_escape(&tenant.domain)
            );
        }
    }
    out.push_str("</tbody></table>");
    let _ = write!(
        out,
        "<p class=\"muted\">Issuer of v2.0 tokens: <code>{}</code></p>",
        html_escape(&state.issuer_base)
    );
}

fn error_for(outcome: &Outcome, form: &str) -> String {
    match &outcome.error {
        Some((which, message)) if *which == form => format!(
            "<p class=\"error\" role=\"alert\" id=\"{form}-error\">{}</p>",
            html_escape(message)
        ),
        _ => String::new(),
    }
}

fn mint_form(
    out: &mut String,
    home: &Home,
    browser: &str,
    directory: &Directory,
    outcome: &Outcome,
) {
    let token = home.forms.issue(browser, ());
    let fields = &outcome.mint;
    let options = |id: &str, values: Vec<(String, String)>| {
        let mut list = format!("<datalist id=\"{id}\">");
        for (value, label) in values {
            let _ = write!(
                list,
                "<option value=\"{}\">{}</option>",
                html_escape(&value),
                html_escape(&label)
            );
        }
        list.push_str("</datalist>");
        list
    };
    let tenants = directory
        .tenants
        .iter()
        .map(|t| (t.tenant_id.clone(), t.domain.clone()))
        .collect();
    let apps = directory
        .tenants
        .iter()
        .flat_map(|t| &t.applications)
        .map(|a| (a.app_id.clone(), super::display_name(a).to_owned()))
        .collect();
    let users = directory
        .tenants
        .iter()
        .flat_map(|t| &t.users)
        .map(|u| (u.user_principal_name.clone(), u.display_name.clone()))
        .collect();
    let input = |id: &str, name: &str, label: &str, value: &str, list: Option<&str>, hint: &str| {
        format!(
            "<div><label for=\"{id}\">{label}</label><input type=\"text\" id=\"{id}\" name=\"{name}\" value=\"{}\"{}><span class=\"muted\">{hint}</span></div>",
            html_escape(value),
            list.map_or_else(String::new, |l| format!(" list=\"{l}\""))
        )
    };
    let _ = write!(
        out,
        "<h2 id=\"mint\">Mint a token</h2><p>An access token for any user (or none: app-only), client and scopes, signed by the tenant's key: what <code>POST /_emulator/tokens</code> mints.</p>{}\
<form method=\"post\" action=\"/_emulator/home/token#mint\" id=\"mint-form\">{}<div class=\"grid\">{}{}{}{}{}</div>{}{}{}<button type=\"submit\" id=\"mint-submit\">Mint</button></form>",
        error_for(outcome, "mint"),
        hidden("formToken", &token),
        input(
            "mint-tenant",
            "tenant",
            "Tenant (id or domain)",
            &fields.tenant,
            Some("tenants"),
            ""
        ),
        input(
            "mint-client",
            "clientId",
            "Client application id",
            &fields.client_id,
            Some("apps"),
            ""
        ),
        input(
            "mint-resource",
            "resource",
            "Resource (API app id or App ID URI)",
            &fields.resource,
            Some("apps"),
            ""
        ),
        input(
            "mint-user",
            "user",
            "User (UPN or object id; empty: app-only)",
            &fields.user,
            Some("users"),
            ""
        ),
        input(
            "mint-scopes",
            "scopes",
            "Scopes (space-separated; user tokens only)",
            &fields.scopes,
            None,
            ""
        ),
        options("tenants", tenants),
        options("apps", apps),
        options("users", users),
    );
    if let Some(minted) = &outcome.minted {
        let _ = write!(
            out,
            "<h3>Minted</h3><label for=\"minted-token\">Access token</label><textarea id=\"minted-token\" rows=\"5\" readonly>{}</textarea>",
            html_escape(minted)
        );
    }
}

fn decode_form(out: &mut String, home: &Home, browser: &str, outcome: &Outcome, now: i64) {
    let token = home.forms.issue(browser, ());
    let _ = write!(
        out,
        "<h2 id=\"decode\">Decode a token</h2><p>Decoded here, on the emulator: the token is not logged, kept or checked.</p>{}\
<form method=\"post\" action=\"/_emulator/home/decode#decode\" id=\"decode-form\">{}<label for=\"decode-token\">Token</label>\
<textarea id=\"decode-token\" name=\"token\" rows=\"5\" autocomplete=\"off\" spellcheck=\"false\">{}</textarea>\
<button type=\"submit\" id=\"decode-submit\">Decode</button></form>",
        error_for(outcome, "decode"),
        hidden("formToken", &token),
        html_escape(&outcome.decode_input),
    );
    if let Some((header, claims)) = &outcome.decoded {
        let _ = write!(
            out,
            "<h3>Header</h3><pre id=\"decoded-header\">{}</pre><h3>Claims</h3><pre id=\"decoded-claims\">{}</pre>",
            html_escape(header),
            html_escape(claims)
        );
        // The times, in UTC and relative to the emulator's clock.
        let claims: Map<String, Value> = serde_json::from_str(claims).unwrap_or_default();
        let times: Vec<String> = ["iat", "nbf", "exp", "auth_time"]
            .into_iter()
            .filter_map(|name| {
                let t = claims.get(name)?.as_f64()? as i64;
                Some(format!(
                    "<li><code>{name}</code> {} UTC ({})</li>",
                    entra_core::time::Utc::from_unix(t),
                    html_escape(&entra_core::time::relative(t - now))
                ))
            })
            .collect();
        if !times.is_empty() {
            let _ = write!(out, "<ul id=\"decoded-times\">{}</ul>", times.concat());
        }
    }
}

fn requests(out: &mut String, state: &Shared) {
    out.push_str("<h2 id=\"requests\">Recent requests</h2><p>Newest first, as the request log keeps them: only parameters known to carry no secret keep their values. The home page's own requests are left out.</p>");
    let records: Vec<_> = lock(&state.log)
        .iter()
        .rev()
        .filter(|r| r.path != "/" && !crate::admin::is_admin_path(&r.path))
        .take(RECENT)
        .cloned()
        .collect();
    if records.is_empty() {
        out.push_str("<p class=\"muted\" id=\"no-requests\">None yet.</p>");
        return;
    }
    out.push_str("<table class=\"requests\"><thead><tr><th>Time (UTC)</th><th>Request</th><th>Grant</th><th>Client</th><th>Status</th><th>Outcome</th></tr></thead><tbody>");
    for record in records {
        let param = |name: &str| {
            record
                .params
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
                .to_owned()
        };
        let outcome = match record.aadsts {
            Some(code) => format!("AADSTS{code}"),
            None if record.status < 400 => "ok".to_owned(),
            None => "error".to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td><code>{} {}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            entra_core::time::Utc::from_unix(record.time),
            html_escape(&record.method),
            html_escape(&record.path),
            html_escape(&param("grant_type")),
            html_escape(&param("client_id")),
            record.status,
            html_escape(&outcome),
        );
    }
    out.push_str("</tbody></table>");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn decoding_explains_what_is_not_a_jws() {
        assert!(decode("").is_err());
        assert!(decode("a.b.c.d.e").unwrap_err().contains("encrypted"));
        assert!(decode("abc").unwrap_err().contains("3 dot-separated"));
        assert!(decode("e30.e30.!!").unwrap_err().contains("base64url"));
        let (header, claims) =
            decode("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.").unwrap_or_default();
        assert!(header.contains("\"alg\": \"none\""), "{header}");
        assert!(claims.contains("\"sub\": \"x\""), "{claims}");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.insert(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert!(same_origin(&headers(&[])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-site")])).is_err());
        assert!(
            same_origin(&headers(&[
                ("host", "localhost:9000"),
                ("origin", "http://localhost:9000")
            ]))
            .is_ok()
        );
        assert!(
            same_origin(&headers(&[
                ("host", "localhost:9000"),
                ("origin", "https://evil.example")
            ]))
            .is_err()
        );
        assert!(same_origin(&headers(&[("origin", "http://localhost:9000")])).is_err());
        assert!(same_origin(&headers(&[("origin", "null")])).is_err());
        assert!(
            same_origin(&headers(&[
                ("origin", "null"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_ok()
        );
        assert!(
            same_origin(&headers(&[
                ("origin", "null"),
                ("sec-fetch-site", "cross-site")
            ]))
            .is_err()
        );
    }
}
