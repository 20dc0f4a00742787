//! The device-code flow's endpoint: `POST /{tenant}/oauth2/v2.0/devicecode`
//! (and the v1 `/oauth2/devicecode`). It starts a flow and answers with the
//! device code, the user code and the verification page
//! ([`crate::pages::devicelogin`]) where the user enters it.

use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::{is_form, resolve_tenant};
use crate::client_auth::Form;
use crate::error::{OAuthError, no_store};
use crate::grants::device_code::is_public_enabled;
use crate::scopes;
use crate::state::{DeviceFlow, DeviceStatus, Listener, State as Shared, lock};
use crate::util::{self, random_token, sha256_b64};

/// User codes: no vowels (no words), no 0/O, 1/I/L look-alikes.
const ALPHABET: &[u8] = b"BCDFGHJKMNPQRSTVWXZ23456789";
/// Length of a user code.
const USER_CODE_LEN: usize = 8;
/// Flows kept at most (pending and recently finished).
const MAX_FLOWS: usize = 10_000;

/// `POST /{tenant}/oauth2/v2.0/devicecode` (`V1 = false`) and `/{tenant}/oauth2/devicecode` (`V1 = true`).
pub(crate) async fn endpoint<const V1: bool>(
    State(state): State<Arc<Shared>>,
    Extension(listener): Extension<Listener>,
    Path(segment): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    devicecode(&state, listener, &segment, &headers, &body, V1)
}

fn devicecode(
    state: &Shared,
    listener: Listener,
    segment: &str,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> Response {
    let now = state.now();
    let correlation = headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok());
    match start_flow(state, listener, segment, headers, body, v1) {
        Ok(value) => {
            let mut response = axum::Json(value).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(e) => e.into_response_at(correlation, now),
    }
}

fn start_flow(
    state: &Shared,
    listener: Listener,
    segment: &str,
    headers: &HeaderMap,
    body: &[u8],
    v1: bool,
) -> Result<serde_json::Value, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "The request body must be application/x-www-form-urlencoded.",
        ));
    }
    let form = Form::parse(body)?;
    let client_id = form.require("client_id")?;
    let tenant = resolve_tenant(state, segment, Some(client_id))?;
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(client_id))
        .cloned()
        .ok_or_else(|| OAuthError::unknown_client(client_id, &tenant.tenant_id))?;
    if !is_public_enabled(&app) && !app.is_confidential() {
        return Err(OAuthError::new(
            "invalid_client",
            7_000_218,
            "The application is neither a public client (isFallbackPublicClient or a mobile and desktop redirect URI) nor a confidential client with a credential: it cannot use the device-code flow.",
        ));
    }
    let scope = match (form.get("scope"), form.get("resource")) {
        (Some(scope), _) => scope.to_owned(),
        (None, Some(resource)) if v1 => format!("{}/.default", resource.trim_end_matches('/')),
        _ => {
            return Err(OAuthError::invalid_request(
                "The request body must contain the following parameter: 'scope'.",
            ));
        }
    };
    let requested = scopes::parse(&state.dir(), &scope)?;
    if requested.oidc.is_empty() && requested.resource.is_empty() {
        return Err(OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        ));
    }
    if !requested.single_resource() {
        return Err(crate::grants::device_code::several_resources());
    }

    let now = state.now();
    let settings = state.dir().settings.clone();
    let lifetime = i64::try_from(settings.device_code_lifetime).unwrap_or(900);
    let interval = i64::try_from(settings.device_code_interval).unwrap_or(5);
    let device_code = random_token(48);
    let user_code = {
        let mut devices = lock(&state.devices);
        // Forget flows long finished; refuse new ones when too many are open.
        devices.retain(|_, f| now < f.expires.saturating_add(lifetime));
        if devices.len() >= MAX_FLOWS {
            return Err(OAuthError::new(
                "temporarily_unavailable",
                90_033,
                "Too many device-code flows are in progress. Try again later.",
            )
            .status(StatusCode::SERVICE_UNAVAILABLE));
        }
        let mut user_code = None;
        for _ in 0..32 {
            let candidate = new_user_code();
            if !devices.values().any(|f| f.user_code == candidate) {
                user_code = Some(candidate);
                break;
            }
        }
        let user_code = user_code.ok_or_else(|| {
            OAuthError::new(
                "temporarily_unavailable",
                90_033,
                "No unique user code could be made. Try again.",
            )
            .status(StatusCode::SERVICE_UNAVAILABLE)
        })?;
        devices.insert(
            sha256_b64(device_code.as_bytes()),
            DeviceFlow {
                tenant_id: tenant.tenant_id.clone(),
                client_id: app.app_id.clone(),
                user_code: user_code.clone(),
                scopes: requested.to_strings(),
                expires: now.saturating_add(lifetime),
                interval,
                last_poll: None,
                status: DeviceStatus::Pending,
            },
        );
        user_code
    };
    let uri = format!("{}/devicelogin", state.base(listener));
    let message = format!(
        "To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."
    );
    Ok(if v1 {
        json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_url": uri,
            "expires_in": lifetime.to_string(),
            "interval": interval.to_string(),
            "message": message,
        })
    } else {
        json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": lifetime,
            "interval": interval,
            "message": message,
        })
    })
}

/// A random user code, uniformly drawn from [`ALPHABET`].
fn new_user_code() -> String {
    let mut code = String::with_capacity(USER_CODE_LEN);
    // Rejection sampling: no modulo bias.
    let limit = 256 - (256 % ALPHABET.len());
    while code.len() < USER_CODE_LEN {
        let mut buf = [0u8; 16];
        util::fill(&mut buf);
        for b in buf {
            if usize::from(b) < limit && code.len() < USER_CODE_LEN {
                code.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    code
}
