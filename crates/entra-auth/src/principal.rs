//! The authenticated caller, as a handler sees it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::InvalidToken;

/// The access token's format version (`ver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// `ver: "1.0"`, issued by `https://sts.windows.net/{tid}/`.
    V1,
    /// `ver: "2.0"`, issued by `https://login.microsoftonline.com/{tid}/v2.0`.
    V2,
}

/// The caller of a request, built from a validated access token.
///
/// Cheap to clone. Extract it in a handler (`async fn h(principal: Principal)`)
/// on any route an [`AuthLayer`](crate::AuthLayer) covers.
///
/// Key user data by [`tenant_id`](Self::tenant_id) plus
/// [`object_id`](Self::object_id) ([`Principal::key`]), never by a name or an
/// e-mail address: those change and can be reassigned.
#[derive(Debug, Clone)]
pub struct Principal {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    object_id: Option<String>,
    tenant_id: Option<String>,
    subject: String,
    name: Option<String>,
    preferred_username: Option<String>,
    upn: Option<String>,
    client_id: Option<String>,
    scopes: Vec<String>,
    roles: Vec<String>,
    groups: Vec<String>,
    groups_overage: bool,
    wids: Vec<String>,
    version: Option<TokenVersion>,
    app_only: bool,
    guest: bool,
    expires_at: i64,
    claims: Map<String, Value>,
}

impl Principal {
    /// Builds the principal from claims whose signature, lifetime, issuer and
    /// audience were already checked. Type errors in the claims read here are
    /// `invalid_token`: a `scp` array or a `roles` string fails closed.
    pub(crate) fn from_claims(
        claims: Map<String, Value>,
        version: Option<TokenVersion>,
        expires_at: i64,
    ) -> Result<Self, InvalidToken> {
        let string = |name: &str| -> Result<Option<String>, InvalidToken> {
            match claims.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(InvalidToken::Claims),
            }
        };
        let list = |name: &str| -> Result<Vec<String>, InvalidToken> {
            match claims.get(name) {
                None => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned).ok_or(InvalidToken::Claims))
                    .collect(),
                Some(_) => Err(InvalidToken::Claims),
            }
        };
        let subject = string("sub")?
            .filter(|s| !s.is_empty())
            .ok_or(InvalidToken::Claims)?;
        let scopes: Vec<String> = string("scp")?
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let object_id = string("oid")?;
        let client_id = match string("azp")? {
            Some(azp) => Some(azp),
            None => string("appid")?,
        };
        let groups_overage = claims
            .get("_claim_names")
            .and_then(Value::as_object)
            .is_some_and(|names| names.contains_key("groups"))
            || claims.get("hasgroups") == Some(&Value::Bool(true));
        // idtyp is the reliable signal where the API registration configures it;
        // otherwise Microsoft's rule: no scp, and oid == sub.
        let app_only = match claims.get("idtyp").and_then(Value::as_str) {
            Some("app") => true,
            Some(_) => false,
            None => !claims.contains_key("scp") && object_id.as_deref() == Some(subject.as_str()),
        };
        let guest = claims.get("acct").and_then(Value::as_i64) == Some(1)
            || match (
                claims.get("idp").and_then(Value::as_str),
                claims.get("iss").and_then(Value::as_str),
            ) {
                (Some(idp), Some(iss)) => idp != iss,
                _ => false,
            };
        Ok(Principal {
            inner: Arc::new(Inner {
                tenant_id: string("tid")?,
                name: string("name")?,
                preferred_username: string("preferred_username")?,
                upn: string("upn")?,
                roles: list("roles")?,
                groups: list("groups")?,
                wids: list("wids")?,
                object_id,
                subject,
                client_id,
                scopes,
                groups_overage,
                version,
                app_only,
                guest,
                expires_at,
                claims,
            }),
        })
    }

    /// `oid`: the caller's immutable id within its tenant (user or service principal).
    pub fn object_id(&self) -> Option<&str> {
        self.inner.object_id.as_deref()
    }

    /// `tid`: the caller's tenant.
    pub fn tenant_id(&self) -> Option<&str> {
        self.inner.tenant_id.as_deref()
    }

    /// `"{tid}/{oid}"` (or the subject when the token has no `oid`): the stable
    /// key to store data under.
    pub fn key(&self) -> String {
        match (self.tenant_id(), self.object_id()) {
            (Some(tid), Some(oid)) => format!("{tid}/{oid}"),
            _ => self.subject().to_owned(),
        }
    }

    /// `sub`: pairwise subject, unique per application.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// `name`: display name (not unique, not stable).
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// `preferred_username` (v2) or `upn` (v1): for display only.
    pub fn username(&self) -> Option<&str> {
        self.inner
            .preferred_username
            .as_deref()
            .or(self.inner.upn.as_deref())
    }

    /// `preferred_username` (v2 tokens).
    pub fn preferred_username(&self) -> Option<&str> {
        self.inner.preferred_username.as_deref()
    }

    /// `upn` (v1 tokens).
    pub fn upn(&self) -> Option<&str> {
        self.inner.upn.as_deref()
    }

    /// `azp` (v2) or `appid` (v1): the client application that got the token.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// Delegated scopes (`scp`), empty for app-only tokens.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// `roles`: application permissions on an app-only token, the user's app
    /// roles on a delegated one (see [`is_app_only`](Self::is_app_only)).
    pub fn roles(&self) -> &[String] {
        &self.inner.roles
    }

    /// Whether the token carries the delegated scope `scope` (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        !self.inner.app_only && self.inner.scopes.iter().any(|s| s == scope)
    }

    /// Whether this app-only token carries the application permission `permission`.
    pub fn has_app_permission(&self, permission: &str) -> bool {
        self.inner.app_only && self.inner.roles.iter().any(|r| r == permission)
    }

    /// Whether this delegated token's user has the app role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        !self.inner.app_only && self.inner.roles.iter().any(|r| r == role)
    }

    /// `groups`: group object ids. See [`groups_overage`](Self::groups_overage).
    pub fn groups(&self) -> &[String] {
        &self.inner.groups
    }

    /// True when the user is in too many groups for the token: `groups` is then
    /// absent and must be read from Microsoft Graph.
    pub fn groups_overage(&self) -> bool {
        self.inner.groups_overage
    }

    /// `wids`: directory role template ids.
    pub fn wids(&self) -> &[String] {
        &self.inner.wids
    }

    /// The token's version (`None` for a generic OpenID Connect provider).
    pub fn version(&self) -> Option<TokenVersion> {
        self.inner.version
    }

    /// True for an application calling as itself (client credentials), false
    /// for an application calling on behalf of a user.
    pub fn is_app_only(&self) -> bool {
        self.inner.app_only
    }

    /// True for a guest (B2B) user: `acct == 1`, or `idp` differs from `iss`.
    pub fn is_guest(&self) -> bool {
        self.inner.guest
    }

    /// `exp`, in Unix seconds.
    pub(crate) fn exp(&self) -> i64 {
        self.inner.expires_at
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.inner.expires_at).unwrap_or(0))
    }

    /// All claims, as sent.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }

    /// Deserializes the claims into your own type, for custom or optional claims.
    ///
    /// ```
    /// # use entra_auth::Principal;
    /// #[derive(serde::Deserialize)]
    /// struct Custom { ctry: Option<String> }
    /// # fn f(p: &Principal) -> Result<(), serde_json::Error> {
    /// let custom: Custom = p.claims_as()?;
    /// # Ok(()) }
    /// ```
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&Value::Object(self.inner.claims.clone()))
    }
}
