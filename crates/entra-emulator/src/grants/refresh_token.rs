//! Placeholder until this grant lands in this change.

use super::{Ctx, GrantResult};
use crate::error::OAuthError;

/// Not available yet.
pub fn handle(_ctx: &Ctx<'_>) -> GrantResult {
    Err(OAuthError::unsupported_grant_type("refresh_token"))
}
