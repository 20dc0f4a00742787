//! The device-code flow's verification page, `/devicelogin`: the user
//! enters the code a device shows ([`crate::endpoints::devicecode`]), signs
//! in and approves.
//!
//! The page works without JavaScript. Each form step carries a random,
//! single-use `flowToken` kept server-side and bound to the browser by an
//! `HttpOnly; SameSite=Strict` cookie, so another site cannot drive the
//! steps and a step cannot be replayed or skipped.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::display_name;
use crate::client_auth::Form;
use crate::config::{Application, Tenant};
use crate::endpoints::is_form;
use crate::html::{self, hidden};
use crate::scopes;
use crate::state::{ConsentStore, DeviceFlow, DeviceStatus, State as Shared, TenantRef, lock};
use crate::util::{self, html_escape, random_token};

/// The browser-binding cookie.
const COOKIE: &str = "entra_devicelogin";

/// What a user typed as the code: case, spaces and dashes do not matter.
fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Where a form step stands.
#[derive(Debug, Clone)]
pub(crate) enum Stage {
    /// Waiting for the user code.
    Code,
    /// Waiting for the user's name and password (for this flow).
    SignIn { device: String },
    /// Waiting for the user's approval (for this flow and user).
    Consent { device: String, user_id: String },
}

/// Issues a step token (see [`super::anti_forgery`]).
fn issue_step(state: &Shared, browser: &str, stage: Stage) -> String {
    state.device_forms.issue(browser, stage)
}

/// Takes (consumes) a step token issued by this emulator to this browser.
fn take_step(state: &Shared, token: &str, browser: &str) -> Option<Stage> {
    state.device_forms.take(token, browser)
}

/// The browser cookie's value, if the request has one.
fn browser_cookie(headers: &HeaderMap) -> Option<String> {
    crate::pages::cookie(headers, COOKIE)
}

fn with_cookie(mut response: Response, browser: &str, set: bool) -> Response {
    if set {
        let cookie = format!("{COOKIE}={browser}; Path=/devicelogin; HttpOnly; SameSite=Strict");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

/// `GET /devicelogin`: the code form.
pub(super) async fn show(State(state): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let (browser, set) = match browser_cookie(&headers) {
        Some(b) => (b, false),
        None => (random_token(32), true),
    };
    let page = code_page(&state, &browser, None, StatusCode::OK);
    with_cookie(page, &browser, set)
}

/// `POST /devicelogin`: one step of the form.
pub(super) async fn submit(
    State(state): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(browser) = browser_cookie(&headers) else {
        return start_again(
            "Your browser did not send the sign-in cookie. Allow cookies for this site and start again.",
        );
    };
    if !is_form(&headers) {
        return start_again("The form could not be read.");
    }
    let Ok(form) = Form::parse(&body) else {
        return start_again("The form could not be read.");
    };
    let Some(stage) = form
        .get("flowToken")
        .and_then(|t| take_step(&state, t, &browser))
    else {
        return start_again(
            "This page expired or was already submitted. Start again with the code shown on your device.",
        );
    };
    match stage {
        Stage::Code => enter_code(&state, &browser, &form),
        Stage::SignIn { device } => sign_in(&state, &browser, &device, &form),
        Stage::Consent { device, user_id } => decide(&state, &device, &user_id, &form),
    }
}

fn start_again(message: &str) -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "Start again",
        &format!(
            "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/devicelogin\">Enter the code again</a></p>",
            html_escape(message)
        ),
    )
}

fn error_paragraph(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| {
        format!(
            "<p class=\"error\" role=\"alert\" id=\"error\">{}</p>",
            html_escape(e)
        )
    })
}

fn described_by(error: Option<&str>) -> &'static str {
    if error.is_some() {
        " aria-describedby=\"error\" aria-invalid=\"true\""
    } else {
        ""
    }
}

fn code_page(state: &Shared, browser: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = issue_step(state, browser, Stage::Code);
    html::page(
        status,
        "Enter code",
        &format!(
            "<p>Enter the code displayed on your app or device.</p>{error_html}\
<form method=\"post\" action=\"/devicelogin\">{token}\
<label for=\"code\">Code</label>\
<input type=\"text\" id=\"code\" name=\"code\" required autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"32\" autofocus{aria}>\
<button type=\"submit\">Next</button></form>",
            error_html = error_paragraph(error),
            token = hidden("flowToken", &token),
            aria = described_by(error),
        ),
    )
}

/// The flow a step names, if it can still be completed.
fn pending_flow(state: &Shared, device: &str) -> Option<DeviceFlow> {
    let now = state.now();
    lock(&state.devices)
        .get(device)
        .filter(|f| f.status == DeviceStatus::Pending && now < f.expires)
        .cloned()
}

fn flow_context(state: &Shared, flow: &DeviceFlow) -> Option<(TenantRef, Application)> {
    let tenant = state.tenant(&flow.tenant_id)?;
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(&flow.client_id))
        .cloned()?;
    Some((tenant, app))
}

fn enter_code(state: &Shared, browser: &str, form: &Form) -> Response {
    let typed = normalize_code(form.get("code").unwrap_or_default());
    let now = state.now();
    let found = if typed.is_empty() || typed.len() > 32 {
        None
    } else {
        lock(&state.devices)
            .iter()
            .find(|(_, f)| {
                f.status == DeviceStatus::Pending
                    && now < f.expires
                    && util::secrets_equal(&f.user_code, &typed)
            })
            .map(|(key, f)| (key.clone(), f.clone()))
    };
    let Some((device, flow)) = found else {
        return code_page(
            state,
            browser,
            Some(
                "AADSTS70018: That code didn't work. Check the code, or ask for a new one if it expired, and try again.",
            ),
            StatusCode::OK,
        );
    };
    let Some((_, app)) = flow_context(state, &flow) else {
        return start_again("The application that asked for this code no longer exists.");
    };
    sign_in_page(state, browser, &device, &app, None, "")
}

fn sign_in_page(
    state: &Shared,
    browser: &str,
    device: &str,
    app: &Application,
    error: Option<&str>,
    username: &str,
) -> Response {
    let token = issue_step(
        state,
        browser,
        Stage::SignIn {
            device: device.to_owned(),
        },
    );
    html::page(
        StatusCode::OK,
        "Sign in",
        &format!(
            "<p>Sign in to continue to <strong>{app}</strong> on your device.</p>{error_html}\
<form method=\"post\" action=\"/devicelogin\">{token}\
<label for=\"username\">Email, phone, or Skype</label>\
<input type=\"email\" id=\"username\" name=\"username\" value=\"{username}\" required autocomplete=\"username\" autofocus{aria}>\
<label for=\"password\">Password</label>\
<input type=\"password\" id=\"password\" name=\"password\" required autocomplete=\"current-password\"{aria}>\
<button type=\"submit\">Sign in</button></form>",
            app = html_escape(display_name(app)),
            error_html = error_paragraph(error),
            token = hidden("flowToken", &token),
            username = html_escape(username),
            aria = described_by(error),
        ),
    )
}

fn expired_page() -> Response {
    html::page(
        StatusCode::BAD_REQUEST,
        "Code expired",
        "<p class=\"error\" role=\"alert\">AADSTS70019: This code has expired or was already used. Go back to your device and start the sign-in again.</p>",
    )
}

fn sign_in(state: &Shared, browser: &str, device: &str, form: &Form) -> Response {
    let Some(flow) = pending_flow(state, device) else {
        return expired_page();
    };
    let Some((tenant, app)) = flow_context(state, &flow) else {
        return start_again("The application that asked for this code no longer exists.");
    };
    let username = form.get("username").unwrap_or_default();
    let password = form.get("password").unwrap_or_default();
    let user = tenant
        .users
        .iter()
        .find(|u| u.user_principal_name.eq_ignore_ascii_case(username))
        .filter(|u| u.password_matches(password));
    let Some(user) = user else {
        return sign_in_page(
            state,
            browser,
            device,
            &app,
            Some("AADSTS50126: Your account or password is incorrect."),
            username,
        );
    };
    consent_page(
        state,
        browser,
        device,
        &flow,
        &tenant,
        &app,
        &user.object_id,
    )
}

/// The scope values the user approves for the flow's resource, and the
/// resource; `.default` stands for the app's configured permissions.
fn approval_scopes(
    state: &Shared,
    flow: &DeviceFlow,
    tenant: &Tenant,
    app: &Application,
    user_id: &str,
) -> Option<(Application, Vec<String>)> {
    let requested = scopes::parse(&state.dir(), &flow.scopes.join(" ")).ok()?;
    let (first, asked) = requested.first_resource()?;
    let resource = state.dir().application(&first.resource_app_id).cloned()?;
    let mut values: Vec<String> = if asked.iter().any(|s| s.value == ".default") {
        let mut v: Vec<String> = app
            .required_resource_access
            .iter()
            .filter(|a| a.resource_app_id.eq_ignore_ascii_case(&resource.app_id))
            .flat_map(|a| a.scopes.iter().cloned())
            .collect();
        v.extend(scopes::consented(state, tenant, app, user_id, &resource));
        v
    } else {
        asked.iter().map(|s| s.value.clone()).collect()
    };
    values.retain(|v| {
        resource
            .oauth2_permission_scopes
            .iter()
            .any(|p| &p.value == v)
    });
    values.sort();
    values.dedup();
    Some((resource, values))
}

fn consent_page(
    state: &Shared,
    browser: &str,
    device: &str,
    flow: &DeviceFlow,
    tenant: &Tenant,
    app: &Application,
    user_id: &str,
) -> Response {
    let mut items = String::new();
    let mut needs_admin = Vec::new();
    if let Some((resource, values)) = approval_scopes(state, flow, tenant, app, user_id) {
        let consented = scopes::consented(state, tenant, app, user_id, &resource);
        for value in &values {
            let scope = resource
                .oauth2_permission_scopes
                .iter()
                .find(|p| &p.value == value);
            let description = scope
                .map(|p| p.user_consent_description.as_str())
                .filter(|d| !d.is_empty())
                .unwrap_or(value);
            let granted = consented.contains(value);
            if !granted && scope.is_some_and(|p| p.r#type.eq_ignore_ascii_case("Admin")) {
                needs_admin.push(value.clone());
            }
            items.push_str(&format!(
                "<li>{} <span class=\"muted\">({}: {}{})</span></li>",
                html_escape(description),
                html_escape(display_name(&resource)),
                html_escape(value),
                if granted { ", already granted" } else { "" }
            ));
        }
    }
    for oidc in flow
        .scopes
        .iter()
        .filter(|s| scopes::OIDC.contains(&s.as_str()))
    {
        let text = match oidc.as_str() {
            "openid" => "Sign you in",
            "profile" => "View your basic profile",
            "email" => "View your email address",
            _ => "Maintain access to data you have given it access to",
        };
        items.push_str(&format!("<li>{text}</li>"));
    }
    let app_html = html_escape(display_name(app));
    if !needs_admin.is_empty() {
        return html::page(
            StatusCode::FORBIDDEN,
            "Need admin approval",
            &format!(
                "<p class=\"error\" role=\"alert\">AADSTS90094: {app_html} needs permission to access resources in your organization that only an admin can grant ({}). Ask an admin to grant permission to this app before you can use it.</p>",
                html_escape(&needs_admin.join(", "))
            ),
        );
    }
    let token = issue_step(
        state,
        browser,
        Stage::Consent {
            device: device.to_owned(),
            user_id: user_id.to_owned(),
        },
    );
    html::page(
        StatusCode::OK,
        "Permissions requested",
        &format!(
            "<p>Are you trying to sign in to <strong>{app_html}</strong>? Only continue if you started this from a device or app you trust.</p>\
<p>This app would like to:</p><ul>{items}</ul>\
<form method=\"post\" action=\"/devicelogin\">{token}\
<button type=\"submit\" name=\"action\" value=\"continue\">Continue</button> \
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
            token = hidden("flowToken", &token),
        ),
    )
}

fn decide(state: &Shared, device: &str, user_id: &str, form: &Form) -> Response {
    let Some(flow) = pending_flow(state, device) else {
        return expired_page();
    };
    let Some((tenant, app)) = flow_context(state, &flow) else {
        return start_again("The application that asked for this code no longer exists.");
    };
    let approve = match form.get("action") {
        Some("continue") => true,
        Some("cancel") => false,
        _ => return start_again("Choose Continue or Cancel."),
    };
    if approve {
        if let Some((resource, values)) = approval_scopes(state, &flow, &tenant, &app, user_id) {
            let key = ConsentStore::key(&tenant.tenant_id, user_id, &app.app_id, &resource.app_id);
            let saved = state.consents.update(|c| {
                c.grants.entry(key).or_default().extend(values);
            });
            if saved.is_err() {
                return html::error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    90_000,
                    "Your consent could not be saved. Try again.",
                );
            }
        }
    }
    let now = state.now();
    {
        let mut devices = lock(&state.devices);
        let Some(flow) = devices
            .get_mut(device)
            .filter(|f| f.status == DeviceStatus::Pending && now < f.expires)
        else {
            return expired_page();
        };
        flow.status = if approve {
            DeviceStatus::Approved {
                user_id: user_id.to_owned(),
            }
        } else {
            DeviceStatus::Declined
        };
    }
    let app_html = html_escape(display_name(&app));
    if approve {
        html::page(
            StatusCode::OK,
            "You're signed in",
            &format!(
                "<p role=\"status\">You have signed in to <strong>{app_html}</strong> on your device. You may now close this window.</p>"
            ),
        )
    } else {
        html::page(
            StatusCode::OK,
            "Sign-in cancelled",
            &format!(
                "<p role=\"status\">You declined to sign in to <strong>{app_html}</strong>. You may now close this window.</p>"
            ),
        )
    }
}
