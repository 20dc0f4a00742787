//! The authenticated caller, as a handler sees it.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use entra_core::claims::{self, Claims};
use entra_core::json::Json;
use entra_core::{InvalidToken, TokenVersion};

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
    /// Which validator made it ([`Validator::id`](crate::Validator)): a
    /// layer trusts a principal in the request extensions only when its own
    /// validator made it.
    validator: u64,
}

#[derive(Debug)]
struct Inner {
    parts: Parts,
    /// The decoded payload, already validated: [`Principal::claims`] reads
    /// every claim from it on demand, so the hot path never builds a map.
    payload: Box<[u8]>,
}

/// What a principal reads from its token's claims (validation's borrowed
/// pass), before it takes the payload they were read from.
#[derive(Debug)]
pub(crate) struct Parts {
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
}

impl Parts {
    /// Reads the caller from claims whose signature, lifetime, issuer and
    /// audience were already checked. Type errors in the claims read here are
    /// `invalid_token`: a `scp` array or a `roles` string fails closed.
    pub(crate) fn from_claims(
        claims: &Claims<'_>,
        version: Option<TokenVersion>,
        expires_at: i64,
    ) -> Result<Self, InvalidToken> {
        let owned = |claim| claims::string(claim).map(|s| s.map(str::to_owned));
        let subject = claims::string(&claims.sub)?
            .filter(|s| !s.is_empty())
            .ok_or(InvalidToken::Claims)?;
        let scopes: Vec<String> = claims::string(&claims.scp)?
            .map(|s| {
                s.split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let object_id = claims::string(&claims.oid)?;
        let client_id = match claims::string(&claims.azp)? {
            Some(azp) => Some(azp),
            None => claims::string(&claims.appid)?,
        };
        let groups_overage = matches!(&claims.claim_names, Some(Json::Object(names)) if names.iter().any(|n| n == "groups"))
            || claims.hasgroups == Some(Json::Bool(true));
        // idtyp is the reliable signal where the API registration configures it;
        // otherwise Microsoft's rule: no scp, and oid == sub.
        let app_only = match claims.idtyp.as_ref().and_then(Json::as_str) {
            Some("app") => true,
            Some(_) => false,
            None => claims.scp.is_none() && object_id == Some(subject),
        };
        let guest = claims.acct.as_ref().and_then(Json::as_i64) == Some(1)
            || match (
                claims.idp.as_ref().and_then(Json::as_str),
                claims.iss.as_ref().and_then(Json::as_str),
            ) {
                (Some(idp), Some(iss)) => idp != iss,
                _ => false,
            };
        Ok(Parts {
            tenant_id: owned(&claims.tid)?,
            name: owned(&claims.name)?,
            preferred_username: owned(&claims.preferred_username)?,
            upn: owned(&claims.upn)?,
            roles: claims::strings(&claims.roles)?,
            groups: claims::strings(&claims.groups)?,
            wids: claims::strings(&claims.wids)?,
            object_id: object_id.map(str::to_owned),
            subject: subject.to_owned(),
            client_id: client_id.map(str::to_owned),
            scopes,
            groups_overage,
            version,
            app_only,
            guest,
            expires_at,
        })
    }

    /// The principal, holding the payload its claims came from.
    pub(crate) fn with_payload(self, payload: Vec<u8>, validator: u64) -> Principal {
        Principal {
            inner: Arc::new(Inner {
                parts: self,
                payload: payload.into_boxed_slice(),
            }),
            validator,
        }
    }
}

impl Principal {
    /// Whether the validator with this id made the principal.
    pub(crate) fn validated_by(&self, validator: u64) -> bool {
        self.validator == validator
    }

    /// `oid`: the caller's immutable id within its tenant (user or service principal).
    pub fn object_id(&self) -> Option<&str> {
        self.inner.parts.object_id.as_deref()
    }

    /// `tid`: the caller's tenant.
    pub fn tenant_id(&self) -> Option<&str> {
        self.inner.parts.tenant_id.as_deref()
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
        &self.inner.parts.subject
    }

    /// `name`: display name (not unique, not stable).
    pub fn name(&self) -> Option<&str> {
        self.inner.parts.name.as_deref()
    }

    /// `preferred_username` (v2) or `upn` (v1): for display only.
    pub fn username(&self) -> Option<&str> {
        self.inner
            .parts
            .preferred_username
            .as_deref()
            .or(self.inner.parts.upn.as_deref())
    }

    /// `preferred_username` (v2 tokens).
    pub fn preferred_username(&self) -> Option<&str> {
        self.inner.parts.preferred_username.as_deref()
    }

    /// `upn` (v1 tokens).
    pub fn upn(&self) -> Option<&str> {
        self.inner.parts.upn.as_deref()
    }

    /// `azp` (v2) or `appid` (v1): the client application that got the token.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.parts.client_id.as_deref()
    }

    /// Delegated scopes (`scp`), empty for app-only tokens.
    pub fn scopes(&self) -> &[String] {
        &self.inner.parts.scopes
    }

    /// `roles`: application permissions on an app-only token, the user's app
    /// roles on a delegated one (see [`is_app_only`](Self::is_app_only)).
    pub fn roles(&self) -> &[String] {
        &self.inner.parts.roles
    }

    /// Whether the token carries the delegated scope `scope` (exact, case-sensitive).
    pub fn has_scope(&self, scope: &str) -> bool {
        !self.inner.parts.app_only && self.inner.parts.scopes.iter().any(|s| s == scope)
    }

    /// Whether this app-only token carries the application permission `permission`.
    pub fn has_app_permission(&self, permission: &str) -> bool {
        self.inner.parts.app_only && self.inner.parts.roles.iter().any(|r| r == permission)
    }

    /// Whether this delegated token's user has the app role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        !self.inner.parts.app_only && self.inner.parts.roles.iter().any(|r| r == role)
    }

    /// `groups`: group object ids. See [`groups_overage`](Self::groups_overage).
    pub fn groups(&self) -> &[String] {
        &self.inner.parts.groups
    }

    /// True when the user is in too many groups for the token: `groups` is then
    /// absent and must be read from Microsoft Graph.
    pub fn groups_overage(&self) -> bool {
        self.inner.parts.groups_overage
    }

    /// `wids`: directory role template ids.
    pub fn wids(&self) -> &[String] {
        &self.inner.parts.wids
    }

    /// The token's version (`None` for a generic OpenID Connect provider).
    pub fn version(&self) -> Option<TokenVersion> {
        self.inner.parts.version
    }

    /// True for an application calling as itself (client credentials), false
    /// for an application calling on behalf of a user.
    pub fn is_app_only(&self) -> bool {
        self.inner.parts.app_only
    }

    /// True for a guest (B2B) user: `acct == 1`, or `idp` differs from `iss`.
    pub fn is_guest(&self) -> bool {
        self.inner.parts.guest
    }

    /// `exp`, in Unix seconds.
    pub(crate) fn exp(&self) -> i64 {
        self.inner.parts.expires_at
    }

    /// When the token expires.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.inner.parts.expires_at).unwrap_or(0))
    }

    /// All claims, as sent.
    ///
    /// Decoded from the token's payload on each call (validation itself
    /// reads only the claims it checks), so keep the map rather than calling
    /// this in a loop. A cached principal holds the payload, never the map.
    pub fn claims(&self) -> Map<String, Value> {
        // The strict reader accepted this payload during validation (no
        // member twice, one object): reading it again would repeat that work.
        serde_json::from_slice(&self.inner.payload).unwrap_or_default()
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
        serde_json::from_slice(&self.inner.payload)
    }
}
