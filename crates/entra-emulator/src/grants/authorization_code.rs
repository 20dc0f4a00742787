//! Authorization code: redeeming a code issued by `/authorize`, with PKCE
//! (S256 or plain, downgrade refused), the exact `redirect_uri`, single use
//! (a replay is refused with Entra's AADSTS54005 and revokes the refresh
//! tokens the first redemption issued, RFC 6749 §4.1.2: using them then
//! says why), and
//! a client credential for codes sent to a `web` redirect URI, and Entra's
//! `Origin` rule (codes of `spa` redirect URIs are redeemed cross-origin,
//! AADSTS9002327; all others never are, AADSTS9002326).
//!
//! [`respond`] builds the delegated token response (access token, `scope`,
//! ID token, refresh token, `client_info`) that the refresh-token grant
//! shares.

use super::{Ctx, GrantResult, TokenResponse, refresh_token};
use crate::config::{Application, User};
use crate::error::OAuthError;
use crate::scopes::{self, GRAPH_APP_ID, Requested, ResourceScope};
use crate::state::{AuthCode, lock};
use crate::tokens::{self, AccessTokenRequest, IdTokenRequest};
use crate::util::{b64url, random_guid, secrets_equal, sha256_b64};

/// `grant_type=authorization_code`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    let code = ctx.form.require("code")?;
    let redirect_uri = ctx.form.require("redirect_uri")?;
    let verifier = ctx.form.get("code_verifier");
    let key = sha256_b64(code.as_bytes());
    let now = ctx.state.now();

    // First look: every check that needs no other lock.
    let record = {
        let mut codes = lock(&ctx.state.codes);
        let Some(record) = codes.get(&key).cloned() else {
            return Err(invalid_code());
        };
        if !record
            .client_id
            .eq_ignore_ascii_case(&ctx.client.app.app_id)
            || !record.tenant_id.eq_ignore_ascii_case(&ctx.tenant.tenant_id)
        {
            // Not this client's code: refused, and left alone for its owner.
            return Err(invalid_code());
        }
        // As Entra: codes sent to a single-page application's redirect URI are
        // redeemed cross-origin (from the browser), all others never are.
        let spa = ctx
            .client
            .app
            .spa
            .redirect_uris
            .contains(&record.redirect_uri);
        match (spa, ctx.origin) {
            (true, false) => return Err(OAuthError::spa_without_origin()),
            (false, true) => return Err(OAuthError::cross_origin_not_spa()),
            _ => {}
        }
        if let Some(family) = record.redeemed_family.clone() {
            drop(codes);
            refresh_token::revoke_family_of_replayed_code(ctx.state, &family);
            return Err(already_redeemed());
        }
        if record.expires <= now {
            return Err(OAuthError::invalid_grant(
                70_008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        }
        if ctx
            .client
            .app
            .web
            .redirect_uris
            .contains(&record.redirect_uri)
        {
            // Codes sent to a web (confidential) redirect URI need the client's credential.
            ctx.client.require_credential()?;
        }
        if record.redirect_uri != redirect_uri {
            codes.remove(&key);
            return Err(OAuthError::invalid_grant(
                500_112,
                format!(
                    "The reply address '{redirect_uri}' does not match the reply address '{}' provided when requesting Authorization code.",
                    record.redirect_uri
                ),
            ));
        }
        if let Err(e) = check_pkce(&record, verifier) {
            codes.remove(&key);
            return Err(e);
        }
        record
    };

    // The scopes: the authorize request's, or a subset of them.
    let granted_at_authorize = scopes::parse(&ctx.state.dir(), &record.scopes.join(" "))?;
    let requested = match ctx.scope_param() {
        None => granted_at_authorize.clone(),
        Some(scope) => {
            let asked = scopes::parse(&ctx.state.dir(), &scope)?;
            subset(&asked, &granted_at_authorize, ctx.v1, &scope)?;
            Requested {
                // What the user agreed to at sign-in decides the ID and refresh tokens.
                oidc: granted_at_authorize.oidc.clone(),
                resource: asked.resource,
            }
        }
    };
    let user = ctx.tenant.user(&record.user_id).ok_or_else(|| {
        OAuthError::invalid_grant(50_034, "The user account does not exist in the directory.")
    })?;

    // Single use: claim the code (a concurrent redemption loses).
    let family = random_guid();
    {
        let mut codes = lock(&ctx.state.codes);
        match codes.get_mut(&key) {
            Some(c) if c.redeemed_family.is_none() => c.redeemed_family = Some(family.clone()),
            Some(c) => {
                let first = c.redeemed_family.clone().unwrap_or_default();
                drop(codes);
                refresh_token::revoke_family_of_replayed_code(ctx.state, &first);
                return Err(already_redeemed());
            }
            None => return Err(invalid_code()),
        }
    }
    respond(
        ctx,
        &Delegated {
            user,
            requested: &requested,
            nonce: record.nonce.as_deref(),
            auth_time: record.auth_time,
            family: Some(&family),
            family_scopes: &record.scopes,
        },
    )
}

/// What a delegated token response is made of.
#[derive(Debug)]
pub(crate) struct Delegated<'a> {
    /// The signed-in user.
    pub user: &'a User,
    /// The scopes to grant: the access token is for the first resource named
    /// (Microsoft Graph when there is none).
    pub requested: &'a Requested,
    /// The `nonce` of the authorize request, echoed verbatim in the ID token.
    pub nonce: Option<&'a str>,
    /// When the user signed in.
    pub auth_time: i64,
    /// The refresh-token family to issue in (with `offline_access`).
    pub family: Option<&'a str>,
    /// The scopes the refresh token's family may ask for.
    pub family_scopes: &'a [String],
}

/// The delegated token response: access token (for the first resource
/// scope), `scope`, ID token with `openid`, refresh token with
/// `offline_access`, `client_info` when the form has `client_info=1`.
pub(crate) fn respond(ctx: &Ctx<'_>, d: &Delegated<'_>) -> GrantResult {
    let client = &ctx.client.app;
    let server_error = |e: crate::Error| OAuthError::new("server_error", 90_000, e.to_string());
    let (access, mut scope_list, resource_identifier) = match d.requested.first_resource() {
        Some((first, same)) => {
            let resource = ctx
                .state
                .dir()
                .application(&first.resource_app_id)
                .cloned()
                .ok_or_else(|| unknown_resource(&first.identifier))?;
            let granted = grant(ctx, client, d.user, &resource, &same)?;
            let access = tokens::access_token(
                ctx.state,
                &AccessTokenRequest {
                    tenant: ctx.tenant,
                    client,
                    resource: Some(&resource),
                    identifier: &first.identifier,
                    user: Some(d.user),
                    scopes: &granted,
                    acr: ctx.client.acr,
                    extra: None,
                },
            )
            .map_err(server_error)?;
            let list: Vec<String> = granted
                .iter()
                .map(|v| format!("{}/{v}", first.identifier))
                .collect();
            (access, list, first.identifier.clone())
        }
        None => {
            // OpenID Connect scopes only: a token for Microsoft Graph.
            let granted: Vec<String> = d
                .requested
                .oidc
                .iter()
                .filter(|s| *s != "offline_access")
                .cloned()
                .collect();
            let access = tokens::access_token(
                ctx.state,
                &AccessTokenRequest {
                    tenant: ctx.tenant,
                    client,
                    resource: None,
                    identifier: GRAPH_APP_ID,
                    user: Some(d.user),
                    scopes: &granted,
                    acr: ctx.client.acr,
                    extra: None,
                },
            )
            .map_err(server_error)?;
            (access, Vec::new(), GRAPH_APP_ID.to_owned())
        }
    };
    scope_list.extend(d.requested.oidc.iter().cloned());
    let id_token = if d.requested.has("openid") {
        Some(
            tokens::id_token(
                ctx.state,
                &IdTokenRequest {
                    tenant: ctx.tenant,
                    client,
                    user: d.user,
                    nonce: d.nonce,
                    auth_time: d.auth_time,
                    email: d.requested.has("email"),
                },
            )
            .map_err(server_error)?,
        )
    } else {
        None
    };
    let refresh = match (d.requested.has("offline_access"), d.family) {
        (true, Some(family)) => Some(refresh_token::issue(
            ctx.state,
            family,
            &ctx.tenant.tenant_id,
            &client.app_id,
            &d.user.object_id,
            d.family_scopes,
            d.auth_time,
        )?),
        _ => None,
    };
    let client_info =
        (ctx.form.get("client_info") == Some("1")).then(|| tokens::client_info(ctx.tenant, d.user));
    Ok(TokenResponse {
        access: Some(access),
        scope: Some(scope_list.join(" ")),
        refresh_token: refresh,
        id_token,
        client_info,
        resource: Some(resource_identifier),
    })
}

/// The delegated scopes granted on `resource`, or AADSTS65001 (consent_required).
fn grant(
    ctx: &Ctx<'_>,
    client: &Application,
    user: &User,
    resource: &Application,
    asked: &[&ResourceScope],
) -> Result<Vec<String>, OAuthError> {
    let consented = scopes::consented(ctx.state, ctx.tenant, client, &user.object_id, resource);
    scopes::grant(&consented, asked).map_err(|missing| {
        OAuthError::invalid_grant(
            65_001,
            format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource. Missing: {}.",
                client.app_id,
                client.display_name,
                missing.join(" ")
            ),
        )
        .suberror("consent_required")
    })
}

/// `scope` on `/token` names only scopes the authorize request asked for
/// (`{resource}/.default` there covers the resource's scopes).
fn subset(
    asked: &Requested,
    at_authorize: &Requested,
    v1: bool,
    scope: &str,
) -> Result<(), OAuthError> {
    for s in &asked.resource {
        let same_resource = |a: &&ResourceScope| a.resource_app_id == s.resource_app_id;
        let covered = at_authorize
            .resource
            .iter()
            .filter(same_resource)
            .any(|a| a.value == s.value || a.value == ".default" || s.value == ".default")
            // v1 clients name the resource only at the token endpoint.
            || (v1 && s.value == ".default");
        if !covered {
            return Err(OAuthError::invalid_scope(scope).with_code(
                70_011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {}/{} was not part of the authorization request.",
                    s.identifier, s.value
                ),
            ));
        }
    }
    Ok(())
}

fn check_pkce(record: &AuthCode, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (&record.code_challenge, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            501_481,
            "A code_verifier was sent, but the authorization request had no code_challenge (PKCE downgrade).",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant(
            501_481,
            "The Code_Verifier is missing: the authorization request had a code_challenge.",
        )),
        (Some((challenge, method)), Some(verifier)) => {
            let computed = if method == "S256" {
                b64url(
                    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes())
                        .as_ref(),
                )
            } else {
                verifier.to_owned()
            };
            if secrets_equal(&computed, challenge) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    501_481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                ))
            }
        }
    }
}

fn invalid_code() -> OAuthError {
    OAuthError::invalid_grant(
        70_000,
        "The provided value for the 'code' parameter is not valid: it is unknown, or was issued to another client.",
    )
}

fn already_redeemed() -> OAuthError {
    OAuthError::invalid_grant(
        54_005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token. (The emulator revoked the tokens the code's first redemption issued, RFC 6749 §4.1.2.)",
    )
}

fn unknown_resource(identifier: &str) -> OAuthError {
    OAuthError::new(
        "invalid_resource",
        500_011,
        format!("The resource principal named {identifier} was not found in the tenant."),
    )
}

/// Checks, without minting anything, that `requested` can be granted to
/// `user` (the consent of its first resource).
pub(crate) fn check_grantable(
    ctx: &Ctx<'_>,
    user: &User,
    requested: &Requested,
) -> Result<(), OAuthError> {
    if let Some((first, same)) = requested.first_resource() {
        let resource = ctx
            .state
            .dir()
            .application(&first.resource_app_id)
            .cloned()
            .ok_or_else(|| unknown_resource(&first.identifier))?;
        grant(ctx, ctx.client.app, user, &resource, &same)?;
    }
    Ok(())
}
