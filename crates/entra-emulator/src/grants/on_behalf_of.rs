//! On-behalf-of: a middle-tier API that received a user's access token
//! (the `assertion`, whose audience must be that API) exchanges it for a
//! token to a downstream API, with the delegated scopes the middle tier holds.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::device_code::{delegated_scopes, issue_user_tokens, several_resources};
use super::{Ctx, GrantResult};
use crate::config::{Application, User};
use crate::error::OAuthError;
use crate::scopes;

/// Clock skew allowed on `nbf`, in seconds.
const SKEW: i64 = 300;

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    match ctx.form.require("requested_token_use")? {
        "on_behalf_of" => {}
        other => {
            return Err(OAuthError::invalid_request(format!(
                "The requested_token_use '{other}' is not supported: only 'on_behalf_of'."
            )));
        }
    }
    ctx.client.require_credential()?;
    let assertion = ctx.form.require("assertion")?;
    let scope = ctx.scope_param().ok_or_else(|| {
        OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        )
    })?;
    let requested = scopes::parse(&ctx.state.dir(), &scope)?;
    if !requested.single_resource() {
        return Err(several_resources());
    }
    if requested.resource.is_empty() {
        return Err(OAuthError::invalid_scope(&scope));
    }
    let claims = verify_assertion(ctx, assertion)?;
    let user = assertion_user(ctx, &claims)?;
    let granted = delegated_scopes(ctx, &user, &requested)?;
    issue_user_tokens(ctx, &user, &requested, &granted, ctx.state.now())
}

fn invalid_assertion(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_grant(50_013, description)
}

fn decode_json(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// Checks the assertion is a live token this emulator issued in this tenant
/// for the calling application; returns its claims.
fn verify_assertion(ctx: &Ctx<'_>, assertion: &str) -> Result<Map<String, Value>, OAuthError> {
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid_assertion(
            "Assertion failed signature validation: it is not a compact JWS.",
        ));
    };
    let header = decode_json(h)
        .ok_or_else(|| invalid_assertion("Assertion header is not valid base64url JSON."))?;
    let claims = decode_json(p)
        .ok_or_else(|| invalid_assertion("Assertion payload is not valid base64url JSON."))?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(invalid_assertion(
            "Assertion failed signature validation: the algorithm must be RS256.",
        ));
    }
    let now = ctx.state.now();
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (key_tenant, key) = ctx.state.keys.find(kid, now).ok_or_else(|| {
        invalid_assertion(format!(
            "Assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{kid}']"
        ))
    })?;
    let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| {
        invalid_assertion("Assertion failed signature validation: the signature is not base64url.")
    })?;
    let signed = &assertion[..h.len() + 1 + p.len()];
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.public_key_der())
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| invalid_assertion("Assertion failed signature validation."))?;

    let tid = ctx.tenant.tenant_id.as_str();
    let claim_tid = claims
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !key_tenant.eq_ignore_ascii_case(tid) || !claim_tid.eq_ignore_ascii_case(tid) {
        return Err(invalid_assertion(format!(
            "The assertion was not issued by tenant '{tid}'."
        )));
    }
    let iss = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if iss != ctx.state.issuer_v2(tid) && iss != ctx.state.issuer_v1(tid) {
        return Err(invalid_assertion(format!(
            "The assertion's issuer '{iss}' is not this tenant's issuer."
        )));
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_f64);
    let expired = number("exp").is_none_or(|exp| exp <= now as f64);
    let early = number("nbf").is_some_and(|nbf| nbf > (now + SKEW) as f64);
    if expired || early {
        return Err(OAuthError::invalid_grant(
            500_133,
            "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.",
        ));
    }
    let app = &ctx.client.app;
    let aud = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !audience_is(app, aud) {
        return Err(invalid_assertion(format!(
            "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{aud}' and the expected audience is '{}' or one of the Application Ids of the Client app.",
            app.app_id
        )));
    }
    Ok(claims)
}

/// Whether `aud` names `app`: its app id or one of its App ID URIs.
fn audience_is(app: &Application, aud: &str) -> bool {
    let aud = aud.trim_end_matches('/');
    !aud.is_empty()
        && (app.app_id.eq_ignore_ascii_case(aud)
            || app
                .identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == aud))
}

/// The user a delegated assertion names (app-only tokens are refused).
fn assertion_user(ctx: &Ctx<'_>, claims: &Map<String, Value>) -> Result<User, OAuthError> {
    let delegated = claims.get("scp").and_then(Value::as_str).is_some()
        && claims.get("idtyp").and_then(Value::as_str) != Some("app");
    if !delegated {
        return Err(invalid_assertion(
            "The assertion is an application token: on-behalf-of needs a user's delegated token (with an 'scp' claim).",
        ));
    }
    let oid = claims
        .get("oid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ctx.tenant.user(oid).cloned().ok_or_else(|| {
        invalid_assertion(format!(
            "The user '{oid}' the assertion names does not exist in tenant '{}'.",
            ctx.tenant.tenant_id
        ))
    })
}
