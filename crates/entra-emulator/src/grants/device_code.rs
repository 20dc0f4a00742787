//! The device-code grant (RFC 8628, as Entra answers it): the client polls
//! with the `device_code` (MSAL also sends it as `code`) until the user
//! approved or declined on the verification page, or the code expired.
//!
//! Also home to what the user-token grants share (device code, password,
//! on-behalf-of): checking the delegated scopes a client holds, and issuing
//! the access, ID and refresh tokens with `client_info`.

use super::{Ctx, GrantResult, TokenResponse, refresh_token};
use crate::config::{Application, User};
use crate::error::OAuthError;
use crate::scopes::{self, Requested};
use crate::state::{DeviceStatus, lock};
use crate::tokens::{self, AccessTokenRequest, IdTokenRequest};
use crate::util::{random_guid, sha256_b64};

/// `grant_type=urn:ietf:params:oauth:grant-type:device_code`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    let code = match (ctx.form.get("device_code"), ctx.form.get("code")) {
        (Some(a), Some(b)) if a != b => {
            return Err(OAuthError::invalid_request(
                "The 'device_code' and 'code' parameters differ.",
            ));
        }
        (Some(code), _) | (None, Some(code)) => code,
        (None, None) => {
            return Err(OAuthError::invalid_request(
                "The request body must contain the following parameter: 'device_code'.",
            ));
        }
    };
    if !is_public_enabled(ctx.client.app) {
        ctx.client.require_credential()?;
    }
    let now = ctx.state.now();
    let key = sha256_b64(code.as_bytes());
    let (user_id, scope) = {
        let mut devices = lock(&ctx.state.devices);
        let Some(flow) = devices.get_mut(&key) else {
            return Err(bad_code());
        };
        if !flow.tenant_id.eq_ignore_ascii_case(&ctx.tenant.tenant_id) {
            return Err(bad_code());
        }
        if !flow.client_id.eq_ignore_ascii_case(&ctx.client.app.app_id) {
            return Err(OAuthError::invalid_grant(
                70_000,
                "The provided value for the input parameter 'device_code' is not valid for this client: it was issued to another application.",
            ));
        }
        if flow.status == DeviceStatus::Redeemed {
            return Err(bad_code().with_code(
                70_018,
                "The device code was already redeemed. Start a new device-code flow.",
            ));
        }
        if now >= flow.expires {
            return Err(OAuthError::new(
                "expired_token",
                70_019,
                "Verification code expired. The user did not complete the sign-in in time; start a new device-code flow.",
            ));
        }
        match &flow.status {
            DeviceStatus::Pending => {
                let too_fast = flow
                    .last_poll
                    .is_some_and(|last| now - last < flow.interval);
                flow.last_poll = Some(now);
                if too_fast {
                    return Err(OAuthError::new(
                        "slow_down",
                        70_016,
                        format!(
                            "The client is polling too fast: wait at least {} seconds between requests.",
                            flow.interval
                        ),
                    ));
                }
                return Err(OAuthError::new(
                    "authorization_pending",
                    70_016,
                    "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
                ));
            }
            DeviceStatus::Declined => {
                return Err(OAuthError::new(
                    "authorization_declined",
                    65_004,
                    "User declined to consent to access the app.",
                ));
            }
            DeviceStatus::Approved { user_id } => {
                let user_id = user_id.clone();
                // Spent before the tokens are minted: a concurrent poll cannot redeem it twice.
                flow.status = DeviceStatus::Redeemed;
                (user_id, flow.scopes.join(" "))
            }
            DeviceStatus::Redeemed => return Err(bad_code()),
        }
    };
    let user = ctx.tenant.user(&user_id).cloned().ok_or_else(|| {
        OAuthError::invalid_grant(
            50_034,
            "The user account does not exist in the directory anymore.",
        )
    })?;
    let requested = scopes::parse(&ctx.state.dir(), &scope)?;
    let granted = delegated_scopes(ctx, &user, &requested)?;
    issue_user_tokens(ctx, &user, &requested, &granted, now)
}

fn bad_code() -> OAuthError {
    OAuthError::new(
        "bad_verification_code",
        70_018,
        "Invalid verification code. The device code is unknown: check the value the device-code endpoint returned.",
    )
}

/// Whether the app may use public-client flows without a credential
/// (`isFallbackPublicClient`, or a mobile and desktop redirect URI).
pub(crate) fn is_public_enabled(app: &Application) -> bool {
    app.is_fallback_public_client || !app.public_client.redirect_uris.is_empty()
}

/// The delegated scopes granted for a user request: the resource (if the
/// request names one), how the request named it, and the scope values.
#[derive(Debug, Clone)]
pub(crate) struct Delegated {
    /// The resource application and its identifier as asked (`None`: only
    /// OpenID Connect scopes, a Microsoft Graph token).
    pub resource: Option<(Application, String)>,
    /// Granted scope values (e.g. `Heroes.Read`).
    pub scopes: Vec<String>,
}

/// `invalid_scope` AADSTS28000: scopes of more than one resource.
pub(crate) fn several_resources() -> OAuthError {
    OAuthError::invalid_scope("").with_code(
        28_000,
        "Provided value for the input parameter scope is not valid because it contains more than one resource. Request one resource at a time.",
    )
}

/// `invalid_grant` AADSTS65001 with `suberror: consent_required`.
pub(crate) fn consent_required(client: &Application, missing: &[String]) -> OAuthError {
    OAuthError::invalid_grant(
        65_001,
        format!(
            "The user or administrator has not consented to use the application with ID '{}' named '{}' for the scopes '{}'. Send an interactive authorization request for this user and resource.",
            client.app_id,
            client.display_name,
            missing.join(" ")
        ),
    )
    .suberror("consent_required")
}

/// The delegated scopes `ctx.client` holds for `user` on the requested
/// resource (admin consent plus the user's consent), or AADSTS65001.
pub(crate) fn delegated_scopes(
    ctx: &Ctx<'_>,
    user: &User,
    requested: &Requested,
) -> Result<Delegated, OAuthError> {
    if !requested.single_resource() {
        return Err(several_resources());
    }
    let Some((first, asked)) = requested.first_resource() else {
        return Ok(Delegated {
            resource: None,
            scopes: Vec::new(),
        });
    };
    let resource = ctx
        .state
        .dir()
        .application(&first.resource_app_id)
        .cloned()
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_resource",
                500_011,
                format!(
                    "The resource principal named {} was not found in the tenant.",
                    first.identifier
                ),
            )
        })?;
    let consented = scopes::consented(
        ctx.state,
        ctx.tenant,
        ctx.client.app,
        &user.object_id,
        &resource,
    );
    let granted = scopes::grant(&consented, &asked)
        .map_err(|missing| consent_required(ctx.client.app, &missing))?;
    if granted.is_empty() {
        let wanted: Vec<String> = asked.iter().map(|s| s.value.clone()).collect();
        return Err(consent_required(ctx.client.app, &wanted));
    }
    Ok(Delegated {
        resource: Some((resource, first.identifier.clone())),
        scopes: granted,
    })
}

fn server_error(e: impl std::fmt::Display) -> OAuthError {
    OAuthError::new("server_error", 90_000, e.to_string())
}

/// Issues a user's tokens: the access token for the granted resource (or
/// Microsoft Graph for OpenID-only requests), an ID token with `openid`, a
/// refresh token with `offline_access`, `client_info` when asked.
pub(crate) fn issue_user_tokens(
    ctx: &Ctx<'_>,
    user: &User,
    requested: &Requested,
    granted: &Delegated,
    auth_time: i64,
) -> GrantResult {
    let (resource, identifier) = match &granted.resource {
        Some((app, identifier)) => (Some(app), identifier.clone()),
        None => (None, scopes::GRAPH_APP_ID.to_owned()),
    };
    let token_scopes: Vec<String> = match resource {
        Some(_) => granted.scopes.clone(),
        None => requested
            .oidc
            .iter()
            .filter(|s| *s != "offline_access")
            .cloned()
            .collect(),
    };
    let access = tokens::access_token(
        ctx.state,
        &AccessTokenRequest {
            tenant: ctx.tenant,
            client: ctx.client.app,
            resource,
            identifier: &identifier,
            user: Some(user),
            scopes: &token_scopes,
            acr: ctx.client.acr,
            extra: None,
        },
    )
    .map_err(server_error)?;
    // The granted resource scopes in full, then the OpenID Connect scopes
    // asked for (as the authorization-code grant answers).
    let mut scope_list: Vec<String> = match resource {
        Some(_) => granted
            .scopes
            .iter()
            .map(|s| format!("{}/{s}", identifier.trim_end_matches('/')))
            .collect(),
        None => Vec::new(),
    };
    scope_list.extend(requested.oidc.iter().cloned());
    let id_token = if requested.has("openid") {
        Some(
            tokens::id_token(
                ctx.state,
                &IdTokenRequest {
                    tenant: ctx.tenant,
                    client: ctx.client.app,
                    user,
                    nonce: None,
                    auth_time,
                    email: requested.has("email"),
                },
            )
            .map_err(server_error)?,
        )
    } else {
        None
    };
    let refresh_token = if requested.has("offline_access") {
        // A new family; it may ask again for what this request asked.
        Some(refresh_token::issue(
            ctx.state,
            &random_guid(),
            &ctx.tenant.tenant_id,
            &ctx.client.app.app_id,
            &user.object_id,
            &requested.to_strings(),
            auth_time,
        )?)
    } else {
        None
    };
    let client_info =
        (ctx.form.get("client_info") == Some("1")).then(|| tokens::client_info(ctx.tenant, user));
    Ok(TokenResponse {
        access: Some(access),
        scope: Some(scope_list.join(" ")),
        refresh_token,
        id_token,
        client_info,
        resource: Some(identifier),
    })
}
