//! The signed-in user, as the client knows them.

use serde::{Deserialize, Serialize};

use entra_auth::InvalidToken;
use entra_auth::id_token::{IdToken, IdTokenError};

/// A signed-in user: their object id and tenant (the key to their tokens and
/// data), with a display name and sign-in name for display.
///
/// Serializable: keep it in the user's server-side session and hand it back to
/// [`Client::acquire_token_silent`](crate::Client::acquire_token_silent).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Account {
    object_id: String,
    tenant_id: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Account {
    /// The account an ID token describes (`oid`, `tid`, `preferred_username`,
    /// `name`). The token must be validated already.
    pub(crate) fn from_id_token(token: &IdToken) -> Result<Self, IdTokenError> {
        let (Some(object_id), Some(tenant_id)) = (token.object_id(), token.tenant_id()) else {
            return Err(IdTokenError::Invalid(InvalidToken::Claims));
        };
        Ok(Account {
            object_id: object_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            username: token.preferred_username().map(str::to_owned),
            name: token.name().map(str::to_owned),
        })
    }

    /// `oid`: the user's object id in their tenant.
    pub fn object_id(&self) -> &str {
        &self.object_id
    }

    /// `tid`: the user's tenant.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The sign-in name (`preferred_username`), for display and hints only.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The display name, for display only.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// `{oid}.{tid}`, MSAL's home account id: the key of the user's tokens
    /// (and a good key for their data).
    pub fn home_account_id(&self) -> String {
        format!("{}.{}", self.object_id, self.tenant_id)
    }

    /// Whether `other` is the same user (object id and tenant; case-insensitive).
    pub fn same_user(&self, other: &Account) -> bool {
        self.object_id.eq_ignore_ascii_case(&other.object_id)
            && self.tenant_id.eq_ignore_ascii_case(&other.tenant_id)
    }
}
