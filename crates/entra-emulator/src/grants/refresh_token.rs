//! Refresh tokens: opaque random values, stored only as their SHA-256, in
//! families (one per sign-in). Each use answers with a new token in the same
//! family. What a used token is worth then is `settings.refreshTokenReuse`
//! ([`RefreshTokenReuse`]): by default, as in Entra, it stays valid until it
//! expires, so processes sharing one token cache may each refresh with it;
//! with `"detect"`, presenting a used token again revokes the whole family
//! (RFC 9700 §4.14.2). A second redemption of an authorization code revokes
//! the family its first redemption started, whatever the setting, and the
//! refusal of its tokens says so. A refresh token may ask for any resource
//! the client holds consent for. Records are kept until a week after they
//! expire (so a late use reads "expired"), then pruned.

use http::StatusCode;

use super::authorization_code::{self, Delegated};
use super::{Ctx, GrantResult};
use crate::config::RefreshTokenReuse;
use crate::error::OAuthError;
use crate::scopes;
use crate::state::{RefreshRecord, State};
use crate::util::{random_token, sha256_b64};

/// Expired records are kept this long, so a late use reads "expired".
const EXPIRED_KEPT: i64 = 7 * 24 * 3600;

/// `grant_type=refresh_token`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    if ctx.client.app.is_confidential() {
        ctx.client.require_credential()?;
    }
    let token = ctx.form.require("refresh_token")?;
    let key = sha256_b64(token.as_bytes());
    let now = ctx.state.now();
    let client_id = ctx.client.app.app_id.clone();
    let tenant_id = ctx.tenant.tenant_id.clone();
    let detect_reuse = ctx.state.dir().settings.refresh_token_reuse == RefreshTokenReuse::Detect;

    // Every check; with reuse detection, a spent token revokes its family.
    let check = |mark_spent: bool| {
        ctx.state
            .refresh
            .update(|store| {
                let Some(record) = store.tokens.get(&key).cloned() else {
                    return Err(OAuthError::invalid_grant(
                        9_002_313,
                        "Invalid request. Request is malformed or invalid: the refresh token is not valid.",
                    ));
                };
                if !record.client_id.eq_ignore_ascii_case(&client_id)
                    || !record.tenant_id.eq_ignore_ascii_case(&tenant_id)
                {
                    return Err(OAuthError::invalid_grant(
                        70_000,
                        "Provided grant is invalid or malformed: the refresh token was issued to another client.",
                    ));
                }
                if store.revoked_families.contains(&record.family) {
                    return Err(if store.code_replayed_families.contains(&record.family) {
                        revoked_by_code_replay()
                    } else {
                        revoked_by_reuse()
                    });
                }
                if record.spent && detect_reuse {
                    store.revoked_families.insert(record.family.clone());
                    return Err(revoked_by_reuse());
                }
                if record.expires <= now {
                    return Err(OAuthError::invalid_grant(
                        700_082,
                        "The refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                    ));
                }
                if mark_spent {
                    if let Some(r) = store.tokens.get_mut(&key) {
                        r.spent = true;
                    }
                }
                Ok(record)
            })
            .map_err(storage_error)?
    };
    let record = check(false)?;

    let user = ctx.tenant.user(&record.user_id).ok_or_else(|| {
        OAuthError::invalid_grant(50_034, "The user account does not exist in the directory.")
    })?;
    let scope = ctx.scope_param().unwrap_or_else(|| record.scopes.join(" "));
    let mut requested = scopes::parse(&ctx.state.dir(), &scope)?;
    // The family lives on: the answer always carries its next token.
    if !requested.has("offline_access") {
        requested.oidc.push("offline_access".to_owned());
    }
    authorization_code::check_grantable(ctx, user, &requested)?;

    // Rotate: mark the token used (with reuse detection, a concurrent use
    // of it is a reuse; by default both uses succeed).
    let record = check(true)?;
    authorization_code::respond(
        ctx,
        &Delegated {
            user,
            requested: &requested,
            nonce: None,
            // The family remembers when the user signed in.
            auth_time: record.auth_time.unwrap_or(now),
            family: Some(&record.family),
            family_scopes: &record.scopes,
        },
    )
}

/// Issues a refresh token in `family`; returns the token (only its digest is kept).
pub(crate) fn issue(
    state: &State,
    family: &str,
    tenant_id: &str,
    client_id: &str,
    user_id: &str,
    scopes: &[String],
    auth_time: i64,
) -> Result<String, OAuthError> {
    let token = random_token(48);
    let now = state.now();
    let lifetime = i64::try_from(state.dir().settings.refresh_token_lifetime).unwrap_or(7_776_000);
    state
        .refresh
        .update(|store| {
            store.tokens.retain(|_, r| r.expires + EXPIRED_KEPT > now);
            let live: std::collections::HashSet<String> =
                store.tokens.values().map(|r| r.family.clone()).collect();
            store.revoked_families.retain(|f| live.contains(f));
            store.code_replayed_families.retain(|f| live.contains(f));
            store.tokens.insert(
                sha256_b64(token.as_bytes()),
                RefreshRecord {
                    family: family.to_owned(),
                    tenant_id: tenant_id.to_owned(),
                    client_id: client_id.to_owned(),
                    user_id: user_id.to_owned(),
                    scopes: scopes.to_vec(),
                    expires: now + lifetime,
                    spent: false,
                    auth_time: Some(auth_time),
                },
            );
        })
        .map_err(storage_error)?;
    Ok(token)
}

/// Revokes every refresh token of `family`, because the authorization code
/// that started it was redeemed a second time (RFC 6749 §4.1.2).
pub(crate) fn revoke_family_of_replayed_code(state: &State, family: &str) {
    if let Err(e) = state.refresh.update(|store| {
        store.revoked_families.insert(family.to_owned());
        store.code_replayed_families.insert(family.to_owned());
    }) {
        tracing::warn!(error = %e, "cannot record a revoked refresh-token family");
    }
}

fn revoked_by_reuse() -> OAuthError {
    OAuthError::invalid_grant(
        70_008,
        "The refresh token has been revoked: it was already used, so every token of its family was revoked (refreshTokenReuse = \"detect\"). Send a new interactive authorization request for this user and resource.",
    )
}

fn revoked_by_code_replay() -> OAuthError {
    OAuthError::invalid_grant(
        70_008,
        "The refresh token has been revoked: the authorization code it was issued for was redeemed twice, so every token issued with that code was revoked. Send a new interactive authorization request for this user and resource.",
    )
}

fn storage_error(e: crate::Error) -> OAuthError {
    tracing::warn!(error = %e, "cannot update the refresh-token store");
    OAuthError::new("server_error", 90_000, "The token store is unavailable.")
        .status(StatusCode::INTERNAL_SERVER_ERROR)
}
