//! The resource-owner password grant: off unless `settings.allowPasswordGrant`
//! (tests only). The user's password is checked; the client must already hold
//! consent for the scopes (there is no page to ask for it).

use super::device_code::{delegated_scopes, is_public_enabled, issue_user_tokens};
use super::{Ctx, GrantResult};
use crate::error::OAuthError;
use crate::scopes;

/// `grant_type=password`.
pub(crate) fn handle(ctx: &Ctx<'_>) -> GrantResult {
    if !ctx.state.dir().settings.allow_password_grant {
        return Err(OAuthError::unsupported_grant_type("password").with_code(
            70_003,
            "The app requested an unsupported grant type 'password'. The resource-owner password grant is disabled in this emulator; enable it with settings.allowPasswordGrant = true.",
        ));
    }
    if !is_public_enabled(ctx.client.app) {
        ctx.client.require_credential()?;
    }
    let username = ctx.form.require("username")?;
    let password = ctx.form.require("password")?;
    let scope = ctx.scope_param().ok_or_else(|| {
        OAuthError::invalid_request(
            "The request body must contain the following parameter: 'scope'.",
        )
    })?;
    let requested = scopes::parse(&ctx.state.dir(), &scope)?;
    // Every unknown user and every wrong password get the same answer.
    let user = ctx
        .tenant
        .users
        .iter()
        .find(|u| u.user_principal_name.eq_ignore_ascii_case(username))
        .filter(|u| u.password_matches(password))
        .ok_or_else(|| {
            OAuthError::invalid_grant(
                50_126,
                "Error validating credentials due to invalid username or password.",
            )
        })?;
    let granted = delegated_scopes(ctx, user, &requested)?;
    issue_user_tokens(ctx, user, &requested, &granted, ctx.state.now())
}
