//! Who is calling, in the terms this API stores: [`Caller`] (the creator of a
//! hero: a user or an application) and [`User`] (the owner of todo items, an
//! axum extractor that refuses app-only tokens).
//!
//! Both are keyed by the tenant id (`tid`) plus an immutable id: the user's
//! object id (`oid`) or the application's client id (`azp` / `appid`). Never
//! by e-mail, `upn` or `preferred_username`: those change and can be
//! reassigned to someone else.

use axum::extract::FromRequestParts;
use entra_auth::{Principal, Require};
use http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;

use crate::Error;

/// The app role that sees and deletes every todo item.
pub const ADMIN_ROLE: &str = "Admin";

/// Whether a caller is a signed-in user or an application calling as itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CallerKind {
    /// A user, through a client application (delegated token).
    User,
    /// An application with its own permissions (client credentials, app-only token).
    App,
}

impl CallerKind {
    /// The name stored in the database.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallerKind::User => "user",
            CallerKind::App => "app",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(CallerKind::User),
            "app" => Some(CallerKind::App),
            _ => None,
        }
    }
}

/// A caller as recorded with the data it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Caller {
    /// A user or an application.
    pub kind: CallerKind,
    /// The caller's tenant (`tid`).
    pub tenant_id: String,
    /// The user's object id (`oid`), or the application's client id (`azp` / `appid`).
    pub id: String,
}

impl Caller {
    /// The caller a validated token names. `entra-auth` has already required
    /// `tid`, `oid` and the client id of every Entra token; `None` only for
    /// a token that somehow lacks them.
    pub fn from_principal(principal: &Principal) -> Option<Self> {
        let tenant_id = principal.tenant_id()?.to_owned();
        if principal.is_app_only() {
            Some(Caller {
                kind: CallerKind::App,
                tenant_id,
                id: principal.client_id()?.to_owned(),
            })
        } else {
            Some(Caller {
                kind: CallerKind::User,
                tenant_id,
                id: principal.object_id()?.to_owned(),
            })
        }
    }
}

/// The owner of a todo item: a user, by tenant and object id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserId {
    /// The user's tenant (`tid`).
    pub tenant_id: String,
    /// The user's object id (`oid`) in that tenant.
    pub object_id: String,
}

/// A signed-in user: the extractor of the todo-item routes.
///
/// Todo items belong to people, so an app-only token (a daemon with client
/// credentials) is answered `403 insufficient_scope`: it has no user to own
/// items, and application permissions grant nothing here. Use it on routes
/// an `entra-auth` layer covers (`auth.layer()` or `auth.require(..)`).
///
/// ```
/// use demo_api::User;
///
/// async fn whoami(user: User) -> String {
///     format!("{}/{} admin={}", user.id.tenant_id, user.id.object_id, user.is_admin)
/// }
/// ```
#[derive(Debug, Clone)]
pub struct User {
    /// Tenant and object id.
    pub id: UserId,
    /// Whether the user has the `Admin` app role.
    pub is_admin: bool,
}

impl User {
    /// Whether this user may read and delete an item `owner` owns: theirs, or any if admin.
    pub fn may_access(&self, owner: &UserId) -> bool {
        self.is_admin || self.id == *owner
    }

    /// The user a validated token names, or the `403` an app-only token gets.
    pub fn from_principal(principal: &Principal) -> Result<Self, Error> {
        let refused = || {
            Error::Auth(entra_auth::Error::InsufficientScope {
                required: Require::delegated(),
                missing: Box::new(Require::delegated()),
            })
        };
        Require::delegated().check(principal).map_err(Error::Auth)?;
        match (principal.tenant_id(), principal.object_id()) {
            (Some(tenant_id), Some(object_id)) => Ok(User {
                id: UserId {
                    tenant_id: tenant_id.to_owned(),
                    object_id: object_id.to_owned(),
                },
                is_admin: principal.has_role(ADMIN_ROLE),
            }),
            _ => Err(refused()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for User {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        User::from_principal(&principal)
    }
}
