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

/// Laid out in declaration order (`repr(C)`): what a cache hit touches
/// (the requirement checks' fields) comes first, next to the reference
/// count, in as few cache lines as possible.
#[repr(C)]
struct Inner {
    /// The token it was validated from, shared with the verified-token
    /// cache's key (a cached token is held once), and where
    /// [`Principal::claims`] decodes every claim from on demand, so the hot
    /// path never builds a map.
    token: Arc<str>,
    parts: Parts,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("Inner")
            .field("parts", &self.parts)
            .finish_non_exhaustive()
    }
}

/// What a principal reads from its token's claims (validation's borrowed
/// pass), before it takes the token they were read from. The fields
/// requirements read come first (see [`Inner`]).
#[repr(C)]
pub(crate) struct Parts {
    app_only: bool,
    guest: bool,
    groups_overage: bool,
    version: Option<TokenVersion>,
    granted: Option<Granted>,
    scopes: Vec<String>,
    roles: Vec<String>,
    expires_at: i64,
    /// The single-valued claims below, back to back: one allocation where
    /// a string each took seven (each a block to allocate on every uncached
    /// token, and to free when its cache entry is evicted).
    text: Box<str>,
    client_id: Option<Span>,
    object_id: Option<Span>,
    tenant_id: Option<Span>,
    subject: Span,
    name: Option<Span>,
    preferred_username: Option<Span>,
    upn: Option<Span>,
    groups: Vec<String>,
    wids: Vec<String>,
}

/// Where one claim is in [`Parts::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

/// Builds [`Parts::text`]: each claim appended, its [`Span`] returned.
struct TextBuilder(String);

impl TextBuilder {
    fn push(&mut self, claim: &str) -> Result<Span, InvalidToken> {
        // Claims come from a token of bounded size: beyond u32 is no token.
        let start = u32::try_from(self.0.len()).map_err(|_| InvalidToken::Malformed)?;
        self.0.push_str(claim);
        let end = u32::try_from(self.0.len()).map_err(|_| InvalidToken::Malformed)?;
        Ok(Span { start, end })
    }

    fn push_opt(&mut self, claim: Option<&str>) -> Result<Option<Span>, InvalidToken> {
        claim.map(|c| self.push(c)).transpose()
    }
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("app_only", &self.app_only)
            .field("guest", &self.guest)
            .field("groups_overage", &self.groups_overage)
            .field("version", &self.version)
            .field("scopes", &self.scopes)
            .field("roles", &self.roles)
            .field("client_id", &self.get(self.client_id))
            .field("expires_at", &self.expires_at)
            .field("object_id", &self.get(self.object_id))
            .field("tenant_id", &self.get(self.tenant_id))
            .field("subject", &self.get(Some(self.subject)))
            .field("name", &self.get(self.name))
            .field("preferred_username", &self.get(self.preferred_username))
            .field("upn", &self.get(self.upn))
            .field("groups", &self.groups)
            .field("wids", &self.wids)
            .finish()
    }
}

/// The scopes and roles, inline in the principal when they are few and
/// short (as they almost always are): a requirement check then reads
/// nothing beyond the principal's first cache lines, where a list of
/// strings costs two more pointers to follow, each likely a cache miss when
/// many callers take turns. The names are stored back to back, their
/// lengths apart, scopes first: a check compares lengths, then bytes, as
/// the lists do.
struct Granted {
    bytes: [u8; GRANTED],
    lengths: [u8; NAMES],
    /// How many of the names are scopes.
    scopes: u8,
    /// How many names in all.
    count: u8,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A copy of `scopes` and `roles`, which `Parts` shows.
        f.write_str("Granted { .. }")
    }
}

/// Room for the inline names' bytes.
const GRANTED: usize = 96;
/// Room for the inline names' lengths.
const NAMES: usize = 16;

impl Granted {
    /// `None` when they do not fit.
    fn new(scopes: &[String], roles: &[String]) -> Option<Self> {
        let mut granted = Granted {
            bytes: [0; GRANTED],
            lengths: [0; NAMES],
            scopes: u8::try_from(scopes.len()).ok()?,
            count: u8::try_from(scopes.len() + roles.len()).ok()?,
        };
        let mut at = 0;
        for (i, name) in scopes.iter().chain(roles).enumerate() {
            *granted.lengths.get_mut(i)? = u8::try_from(name.len()).ok()?;
            granted
                .bytes
                .get_mut(at..at + name.len())?
                .copy_from_slice(name.as_bytes());
            at += name.len();
        }
        Some(granted)
    }

    /// Whether one of the names from index `first` to `end` is `name`.
    fn find(&self, first: u8, end: u8, name: &str) -> bool {
        let (first, end) = (usize::from(first), usize::from(end));
        let mut at: usize = self.lengths[..first].iter().map(|&l| usize::from(l)).sum();
        for &length in &self.lengths[first..end] {
            let length = usize::from(length);
            if length == name.len() && self.bytes.get(at..at + length) == Some(name.as_bytes()) {
                return true;
            }
            at += length;
        }
        false
    }

    fn has_scope(&self, name: &str) -> bool {
        self.find(0, self.scopes, name)
    }

    fn has_role(&self, name: &str) -> bool {
        self.find(self.scopes, self.count, name)
    }
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
        let roles = claims::strings(&claims.roles)?;
        let (tenant_id, name, preferred_username, upn) = (
            claims::string(&claims.tid)?,
            claims::string(&claims.name)?,
            claims::string(&claims.preferred_username)?,
            claims::string(&claims.upn)?,
        );
        let length = [
            client_id,
            object_id,
            tenant_id,
            name,
            preferred_username,
            upn,
        ]
        .iter()
        .flatten()
        .map(|s| s.len())
        .sum::<usize>()
            + subject.len();
        let mut text = TextBuilder(String::with_capacity(length));
        Ok(Parts {
            granted: Granted::new(&scopes, &roles),
            roles,
            client_id: text.push_opt(client_id)?,
            object_id: text.push_opt(object_id)?,
            tenant_id: text.push_opt(tenant_id)?,
            subject: text.push(subject)?,
            name: text.push_opt(name)?,
            preferred_username: text.push_opt(preferred_username)?,
            upn: text.push_opt(upn)?,
            text: text.0.into_boxed_str(),
            groups: claims::strings(&claims.groups)?,
            wids: claims::strings(&claims.wids)?,
            scopes,
            groups_overage,
            version,
            app_only,
            guest,
            expires_at,
        })
    }

    /// A claim of [`Parts::text`].
    fn get(&self, span: Option<Span>) -> Option<&str> {
        span.and_then(|s| self.text.get(s.start as usize..s.end as usize))
    }

    /// The principal, holding the token its claims came from.
    pub(crate) fn with_token(self, token: &str, validator: u64) -> Principal {
        Principal {
            inner: Arc::new(Inner {
                token: token.into(),
                parts: self,
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

    /// The token it was validated from.
    pub(crate) fn token(&self) -> &Arc<str> {
        &self.inner.token
    }

    /// The token's decoded payload.
    fn payload(&self) -> Option<Vec<u8>> {
        let mut segments = self.inner.token.split('.');
        segments
            .nth(1)
            .and_then(|payload| entra_core::jws::decode_segment(payload).ok())
    }

    /// `oid`: the caller's immutable id within its tenant (user or service principal).
    pub fn object_id(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.object_id)
    }

    /// `tid`: the caller's tenant.
    pub fn tenant_id(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.tenant_id)
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
        let parts = &self.inner.parts;
        parts.get(Some(parts.subject)).unwrap_or_default()
    }

    /// `name`: display name (not unique, not stable).
    pub fn name(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.name)
    }

    /// `preferred_username` (v2) or `upn` (v1): for display only.
    pub fn username(&self) -> Option<&str> {
        self.preferred_username().or(self.upn())
    }

    /// `preferred_username` (v2 tokens).
    pub fn preferred_username(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.preferred_username)
    }

    /// `upn` (v1 tokens).
    pub fn upn(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.upn)
    }

    /// `azp` (v2) or `appid` (v1): the client application that got the token.
    pub fn client_id(&self) -> Option<&str> {
        self.inner.parts.get(self.inner.parts.client_id)
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
        let parts = &self.inner.parts;
        !parts.app_only
            && match &parts.granted {
                Some(granted) => granted.has_scope(scope),
                None => parts.scopes.iter().any(|s| s == scope),
            }
    }

    /// Whether this app-only token carries the application permission `permission`.
    pub fn has_app_permission(&self, permission: &str) -> bool {
        self.inner.parts.app_only && self.has_any_role(permission)
    }

    /// Whether this delegated token's user has the app role `role`.
    pub fn has_role(&self, role: &str) -> bool {
        !self.inner.parts.app_only && self.has_any_role(role)
    }

    fn has_any_role(&self, role: &str) -> bool {
        let parts = &self.inner.parts;
        match &parts.granted {
            Some(granted) => granted.has_role(role),
            None => parts.roles.iter().any(|r| r == role),
        }
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
    /// this in a loop. A cached principal holds the token, never the map.
    pub fn claims(&self) -> Map<String, Value> {
        // The strict reader accepted this payload during validation (no
        // member twice, one object): reading it again would repeat that work.
        self.payload()
            .and_then(|payload| serde_json::from_slice(&payload).ok())
            .unwrap_or_default()
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
        match self.payload() {
            Some(payload) => serde_json::from_slice(&payload),
            // Unreachable for a validated token, whose payload decoded.
            None => Err(serde::de::Error::custom(
                "the token's payload is not base64url",
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn inline_scopes_and_roles_answer_as_the_lists_do() {
        let (full, over, under) = (
            "x".repeat(GRANTED),
            "x".repeat(GRANTED + 1),
            "x".repeat(GRANTED - 1),
        );
        let many: Vec<String> = (0..NAMES).map(|i| format!("s{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["Heroes.Read"], &[]),
            (&["Heroes.Read", "Heroes.Write"], &["Admin", "User"]),
            (&[], &["Heroes.Read"]),
            (&["a"], &["a b"]),
            (&["a"], &[""]),
            (&[full.as_str()], &[]),
            (&[under.as_str()], &["y"]),
            (&[over.as_str()], &[]),
            (&[under.as_str()], &["y", "z"]),
            (&["ab"], &["a", "b"]),
            (&many, &[]),
            (&many[1..], &["r"]),
            (&many, &["r"]),
        ];
        let probes = [
            "",
            " ",
            "a",
            "b",
            "a b",
            "Heroes.Read",
            "Heroes",
            "Read",
            "Admin",
            "User",
            "Heroes.Read Heroes.Write",
            "y",
            "x",
            "r",
            "s0",
            "s15",
            "ab",
        ];
        for (scopes, roles) in cases {
            let (scopes, roles) = (names(scopes), names(roles));
            let granted = Granted::new(&scopes, &roles);
            let fits = scopes.len() + roles.len() <= NAMES
                && scopes.iter().chain(&roles).map(String::len).sum::<usize>() <= GRANTED;
            assert_eq!(granted.is_some(), fits, "{scopes:?} {roles:?}");
            let Some(granted) = granted else { continue };
            for probe in probes
                .iter()
                .map(|p| p.to_string())
                .chain(scopes.clone())
                .chain(roles.clone())
            {
                assert_eq!(
                    granted.has_scope(&probe),
                    scopes.contains(&probe),
                    "{probe:?} in {scopes:?}"
                );
                assert_eq!(
                    granted.has_role(&probe),
                    roles.contains(&probe),
                    "{probe:?} in {roles:?}"
                );
            }
        }
    }
}
