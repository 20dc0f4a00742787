//! The claim rules, each written once: lifetime, issuer (with the token's
//! version and tenant id), tenant allow-list, the signing key's issuer, the
//! subject and client, audience, and token kind.
//!
//! The access-token validator, the ID-token validator and the emulator's
//! client-assertion check all judge claims here. [`Rules::check`] runs the
//! rules in Microsoft's order and stops at the first failure (the validators'
//! path); [`Rules::explain`] runs each of the same rules on its own and says
//! what each found (`entra inspect`), so an explanation can never disagree
//! with a verdict.
//!
//! ```
//! use entra_core::claims::Claims;
//! use entra_core::rules::{Audience, Issuers, Kind, Rules};
//!
//! let issuers = Issuers { v2: Some("https://issuer.example".into()), v1: None };
//! let audiences = ["api://heroes".to_owned()];
//! let rules = Rules {
//!     now: 1_800_000_000,
//!     skew: 300,
//!     issuers: &issuers,
//!     entra: None,
//!     audience: Audience::AnyOf(&audiences),
//!     kind: Kind::Access { allow_acl: false },
//! };
//! let payload = br#"{"iss":"https://issuer.example","aud":"api://heroes","exp":1800000600,"scp":"Heroes.Read"}"#;
//! let claims = Claims::read(payload)?;
//! assert!(rules.check(&claims, None).is_ok());
//! let expired = br#"{"iss":"https://issuer.example","aud":"api://heroes","exp":1700000000,"scp":"Heroes.Read"}"#;
//! let claims = Claims::read(expired)?;
//! let verdicts = rules.explain(&claims, None);
//! assert!(verdicts.iter().any(|v| v.rule.name() == "lifetime" && v.result.is_err()));
//! assert!(verdicts.iter().any(|v| v.rule.name() == "audience" && v.result.is_ok()));
//! # Ok::<(), entra_core::InvalidToken>(())
//! ```

use std::collections::HashSet;
use std::fmt;

use crate::claims::{self, Claims};
use crate::guid::is_guid;
use crate::json::Json;
use crate::reason::InvalidToken;
use crate::time::{Utc, relative};

/// An Entra ID token's version (`ver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// `ver: "1.0"`, issued by `https://sts.windows.net/{tid}/`.
    V1,
    /// `ver: "2.0"`, issued by `https://login.microsoftonline.com/{tid}/v2.0`.
    V2,
}

/// The issuers tokens are checked against, as the metadata documents name
/// them (multi-tenant documents carry the `{tenantid}` placeholder).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Issuers {
    /// The v2.0 issuer (or the single issuer of a generic OIDC provider).
    pub v2: Option<String>,
    /// The v1.0 issuer.
    pub v1: Option<String>,
}

/// Which tenants' tokens are accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// A single tenant: the one the authority names (its issuer says which).
    Single,
    /// Multi-tenant: only these tenant ids.
    Allowed(HashSet<String>),
    /// Multi-tenant: any tenant (explicit opt-in).
    Any,
}

/// Entra ID's own claims: `ver`, `tid`, and issuers bound to the tenant.
#[derive(Debug, Clone, Copy)]
pub struct Entra<'a> {
    /// Whether `ver: "1.0"` tokens are accepted.
    pub v1: bool,
    /// Whether `ver: "2.0"` tokens are accepted.
    pub v2: bool,
    /// Which tenants are accepted.
    pub tenants: &'a Tenants,
}

/// Which `aud` values are ours.
#[derive(Debug, Clone, Copy)]
pub enum Audience<'a> {
    /// An API: the audience, or one item of the audience array, is one of these.
    AnyOf(&'a [String]),
    /// A client reading its ID token: the audience is exactly this, and an
    /// array may name no one else (an extra audience is one the client does
    /// not trust).
    Exactly(&'a str),
}

/// What kind of token the caller expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An access token: `oid` and the client (`azp` / `appid`) named, no ID
    /// token's `nonce` or hashes, and `scp` or `roles` unless `allow_acl`
    /// (tokens authorized by access-control list carry neither).
    Access {
        /// Accept tokens with neither `scp` nor `roles`.
        allow_acl: bool,
    },
    /// An OpenID Connect ID token: `iat` and `sub` required.
    Id,
    /// An RFC 7523 assertion (a client assertion): `sub` required.
    Assertion,
}

/// The rules a token's claims must meet, for one validation at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// Now, in seconds since the Unix epoch.
    pub now: i64,
    /// The clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub skew: i64,
    /// The issuers of the provider's metadata.
    pub issuers: &'a Issuers,
    /// Entra ID's rules; `None` for a generic OpenID Connect provider, whose
    /// one issuer ([`Issuers::v2`]) must match exactly.
    pub entra: Option<Entra<'a>>,
    /// Whose audience is accepted.
    pub audience: Audience<'a>,
    /// The kind of token expected.
    pub kind: Kind,
}

/// What the rules found in a token that passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The version (`ver`), for Entra tokens.
    pub version: Option<TokenVersion>,
    /// `exp`.
    pub exp: i64,
    /// `iat`, when present.
    pub iat: Option<i64>,
}

/// The token's lifetime claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    /// `exp` (required).
    pub exp: i64,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `iat`.
    pub iat: Option<i64>,
}

/// What the issuer rule found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued<'c> {
    /// The token's version, for Entra tokens.
    pub version: Option<TokenVersion>,
    /// The tenant id (`tid`), for Entra tokens: a GUID.
    pub tid: Option<&'c str>,
}

/// One rule of the order of checks, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The compact JWS and its header.
    Structure,
    /// The signing key, among the published keys.
    Key,
    /// The signature.
    Signature,
    /// `exp`, `nbf`, `iat` with the clock skew.
    Lifetime,
    /// `iss` (with `ver` and `tid` for Entra).
    Issuer,
    /// The tenant allow-list.
    Tenant,
    /// The signing key's own `issuer`.
    KeyIssuer,
    /// The subject and the client application the token names.
    Subject,
    /// `aud`.
    Audience,
    /// An access token, not an ID token.
    Kind,
}

impl Rule {
    /// A short name, for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Structure => "structure",
            Rule::Key => "key",
            Rule::Signature => "signature",
            Rule::Lifetime => "lifetime",
            Rule::Issuer => "issuer",
            Rule::Tenant => "tenant",
            Rule::KeyIssuer => "key-issuer",
            Rule::Subject => "subject",
            Rule::Audience => "audience",
            Rule::Kind => "kind",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One rule's outcome, with what it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The rule.
    pub rule: Rule,
    /// Whether the token passed it, and if not, the reason a validator gives.
    pub result: Result<(), InvalidToken>,
    /// What the rule looked at, for people (never a secret: claims only).
    pub detail: String,
}

impl Verdict {
    /// A verdict.
    pub fn new(rule: Rule, result: Result<(), InvalidToken>, detail: impl Into<String>) -> Self {
        Verdict {
            rule,
            result,
            detail: detail.into(),
        }
    }
}

/// A string claim for an explanation: absent or of another type is `None`.
fn string<'c>(claim: &'c Option<Json<'_>>) -> Option<&'c str> {
    claims::string(claim).ok().flatten()
}

impl Rules<'_> {
    /// Every rule in order, stopping at the first failure.
    pub fn check(
        &self,
        claims: &Claims<'_>,
        key_issuer: Option<&str>,
    ) -> Result<Checked, InvalidToken> {
        let lifetime = self.lifetime(claims)?;
        let issued = self.issuer(claims)?;
        self.tenant(issued.tid)?;
        self.key_issuer(claims, issued, key_issuer)?;
        self.subject(claims, issued.version)?;
        self.audience(claims)?;
        self.kind(claims)?;
        Ok(Checked {
            version: issued.version,
            exp: lifetime.exp,
            iat: lifetime.iat,
        })
    }

    /// Each rule on its own, in the order [`check`](Self::check) runs them.
    /// A rule that needs what an earlier one failed to establish (the
    /// version, the tenant) reads it from the claims as they stand.
    pub fn explain(&self, claims: &Claims<'_>, key_issuer: Option<&str>) -> Vec<Verdict> {
        let mut out = Vec::with_capacity(7);

        let lifetime = self.lifetime(claims);
        let dates = |claim: &Option<Json<'_>>| claims::numeric_date(claim).ok().flatten();
        let detail = match (dates(&claims.exp), dates(&claims.nbf), dates(&claims.iat)) {
            (None, _, _) => "no exp claim".to_owned(),
            (Some(exp), nbf, iat) => {
                let mut text = if exp < self.now {
                    format!("expired {}", relative(exp - self.now))
                } else {
                    format!(
                        "valid until {} UTC ({})",
                        Utc::from_unix(exp),
                        relative(exp - self.now)
                    )
                };
                if exp < self.now && lifetime.is_ok() {
                    text.push_str(&format!(
                        ", accepted within the {} clock skew",
                        duration(self.skew)
                    ));
                }
                if let Some(nbf) = nbf.filter(|&nbf| nbf > self.now) {
                    text.push_str(&format!("; not before {}", relative(nbf - self.now)));
                }
                if let Some(iat) = iat.filter(|&iat| iat > self.now) {
                    text.push_str(&format!("; issued {}", relative(iat - self.now)));
                }
                text
            }
        };
        out.push(Verdict::new(Rule::Lifetime, lifetime.map(drop), detail));

        let issued = self.issuer(claims);
        let iss = string(&claims.iss).unwrap_or("");
        let tid = string(&claims.tid);
        let version = issued
            .map(|i| i.version)
            .unwrap_or_else(|_| match string(&claims.ver) {
                Some("1.0") => Some(TokenVersion::V1),
                Some("2.0") => Some(TokenVersion::V2),
                _ => None,
            });
        let detail = match (issued, self.expected_issuer(version, tid)) {
            (Ok(_), _) => iss.to_owned(),
            (Err(InvalidToken::Version), _) => {
                format!(
                    "ver {:?} is not accepted",
                    string(&claims.ver).unwrap_or("")
                )
            }
            (Err(_), Some(expected)) => format!("{iss:?}, expected {expected:?}"),
            (Err(_), None) => format!("{iss:?}"),
        };
        out.push(Verdict::new(Rule::Issuer, issued.map(drop), detail));

        if self.entra.is_some() {
            let tenant = self.tenant(tid);
            let detail = match (tid, tenant) {
                (None, _) => "no tid claim".to_owned(),
                (Some(tid), Ok(())) => tid.to_owned(),
                (Some(tid), Err(_)) => format!("{tid} is not an allowed tenant"),
            };
            out.push(Verdict::new(Rule::Tenant, tenant, detail));
        }

        let fallback = Issued { version, tid };
        let key = self.key_issuer(claims, issued.unwrap_or(fallback), key_issuer);
        let detail = match key_issuer {
            None => "the key names no issuer".to_owned(),
            Some(k) if key.is_ok() => k.to_owned(),
            Some(k) => format!("the key belongs to {k:?}"),
        };
        out.push(Verdict::new(Rule::KeyIssuer, key, detail));

        let subject = self.subject(claims, version);
        let client = string(&claims.azp).or_else(|| string(&claims.appid));
        let detail = match (string(&claims.oid).or_else(|| string(&claims.sub)), client) {
            (user, Some(client)) => format!("{} via client {client}", user.unwrap_or("?")),
            (user, None) => format!("{}, no client (azp/appid)", user.unwrap_or("no oid/sub")),
        };
        out.push(Verdict::new(Rule::Subject, subject, detail));

        let audience = self.audience(claims);
        let found: Vec<&str> = match &claims.aud {
            Some(Json::Str(aud)) => vec![aud],
            Some(Json::Array(items)) => items.iter().filter_map(Json::as_str).collect(),
            _ => Vec::new(),
        };
        let detail = match (&audience, self.audience) {
            (Ok(()), _) => found.join(", "),
            (Err(_), Audience::AnyOf(ours)) => {
                format!("{found:?}, expected one of {}", ours.join(", "))
            }
            (Err(_), Audience::Exactly(ours)) => format!("{found:?}, expected {ours}"),
        };
        out.push(Verdict::new(Rule::Audience, audience, detail));

        let kind = self.kind(claims);
        let scp = string(&claims.scp).unwrap_or("");
        let roles = claims::strings(&claims.roles).unwrap_or_default();
        let detail = match self.kind {
            Kind::Access { .. } if claims.nonce.is_some() || claims.at_hash.is_some() => {
                "an ID token (nonce or at_hash)".to_owned()
            }
            Kind::Access { .. } => format!(
                "{}; scp: {}; roles: {}",
                if scp.is_empty() {
                    "app-only"
                } else {
                    "delegated"
                },
                if scp.is_empty() { "-" } else { scp },
                if roles.is_empty() {
                    "-".to_owned()
                } else {
                    roles.join(" ")
                }
            ),
            Kind::Id => "an ID token".to_owned(),
            Kind::Assertion => "a client assertion".to_owned(),
        };
        out.push(Verdict::new(Rule::Kind, kind, detail));
        out
    }

    /// `exp` (required), `nbf` and `iat`, all NumericDates, with the skew.
    /// ID tokens must carry `iat` (OpenID Connect Core §2).
    pub fn lifetime(&self, claims: &Claims<'_>) -> Result<Lifetime, InvalidToken> {
        let (now, skew) = (self.now, self.skew);
        let exp = claims::numeric_date(&claims.exp)?.ok_or(InvalidToken::Claims)?;
        if now > exp.saturating_add(skew) {
            return Err(InvalidToken::Expired);
        }
        let nbf = claims::numeric_date(&claims.nbf)?;
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(skew)) {
            return Err(InvalidToken::NotYetValid);
        }
        let iat = claims::numeric_date(&claims.iat)?;
        if iat.is_none() && self.kind == Kind::Id {
            return Err(InvalidToken::Claims);
        }
        if iat.is_some_and(|iat| iat > now.saturating_add(skew)) {
            return Err(InvalidToken::IssuedInFuture);
        }
        Ok(Lifetime { exp, nbf, iat })
    }

    /// `iss`: for Entra, the version's issuer with `{tenantid}` filled from a
    /// GUID `tid`, naming that tenant (Microsoft.IdentityModel's IDX40004);
    /// otherwise exactly the provider's one issuer.
    pub fn issuer<'c>(&self, claims: &'c Claims<'_>) -> Result<Issued<'c>, InvalidToken> {
        let iss = claims::string(&claims.iss)?.ok_or(InvalidToken::Claims)?;
        let Some(entra) = self.entra else {
            if Some(iss) != self.issuers.v2.as_deref() {
                return Err(InvalidToken::Issuer);
            }
            return Ok(Issued {
                version: None,
                tid: None,
            });
        };
        let version = match claims::string(&claims.ver)?.ok_or(InvalidToken::Claims)? {
            "2.0" if entra.v2 => TokenVersion::V2,
            "1.0" if entra.v1 => TokenVersion::V1,
            "1.0" | "2.0" => return Err(InvalidToken::Version),
            _ => return Err(InvalidToken::Claims),
        };
        let tid = claims::string(&claims.tid)?.ok_or(InvalidToken::Claims)?;
        if !is_guid(tid) {
            return Err(InvalidToken::Claims);
        }
        let template = self.template(Some(version)).ok_or(InvalidToken::Version)?;
        // A templated issuer puts `tid` in its place; a fixed one must still
        // name the token's tenant. (A plain scan: `str::contains` sets up a
        // substring search that costs more than the scan of a short issuer.)
        let named = placeholder(template).is_some()
            || iss
                .as_bytes()
                .windows(tid.len())
                .any(|window| window == tid.as_bytes());
        if !named || !issuer_matches(template, tid, iss) {
            return Err(InvalidToken::Issuer);
        }
        Ok(Issued {
            version: Some(version),
            tid: Some(tid),
        })
    }

    /// The tenant allow-list of a multi-tenant API (Entra only).
    pub fn tenant(&self, tid: Option<&str>) -> Result<(), InvalidToken> {
        match self.entra.map(|e| e.tenants) {
            Some(Tenants::Allowed(allowed)) if !tid.is_some_and(|t| allowed.contains(t)) => {
                Err(InvalidToken::Tenant)
            }
            _ => Ok(()),
        }
    }

    /// The signing key's own `issuer` binds it to a tenant (Entra's
    /// multi-tenant rule). A v1 token is signed by the same keys as the v2
    /// tokens of its tenant, so its key issuer is compared with the v2 form.
    pub fn key_issuer(
        &self,
        claims: &Claims<'_>,
        issued: Issued<'_>,
        key_issuer: Option<&str>,
    ) -> Result<(), InvalidToken> {
        let (Some(key_issuer), Some(_)) = (key_issuer, self.entra) else {
            return Ok(());
        };
        let tid = issued.tid.unwrap_or("");
        let iss = claims::string(&claims.iss).ok().flatten().unwrap_or("");
        let ok = issuer_matches(key_issuer, tid, iss)
            || (issued.version == Some(TokenVersion::V1)
                && self.issuers.v2.as_deref().is_some_and(|v2| {
                    issuer_matches(key_issuer, tid, &v2.replace("{tenantid}", tid))
                }));
        if ok {
            Ok(())
        } else {
            Err(InvalidToken::Issuer)
        }
    }

    /// Who the token is about and for: an Entra access token names the user
    /// or app (`oid`) and its client (`azp` in v2, `appid` in v1; ID tokens
    /// name no client); ID tokens and assertions name a non-empty `sub`.
    pub fn subject(
        &self,
        claims: &Claims<'_>,
        version: Option<TokenVersion>,
    ) -> Result<(), InvalidToken> {
        match self.kind {
            Kind::Access { .. } => {
                if self.entra.is_none() {
                    return Ok(());
                }
                if claims::string(&claims.oid)?.is_none() {
                    return Err(InvalidToken::Claims);
                }
                let client = if version == Some(TokenVersion::V2) {
                    &claims.azp
                } else {
                    &claims.appid
                };
                match claims::string(client)? {
                    Some(_) => Ok(()),
                    None => Err(InvalidToken::IdToken),
                }
            }
            Kind::Id | Kind::Assertion => match claims::string(&claims.sub)? {
                Some(sub) if !sub.is_empty() => Ok(()),
                _ => Err(InvalidToken::Claims),
            },
        }
    }

    /// `aud`: a string or an array of strings (see [`Audience`]).
    pub fn audience(&self, claims: &Claims<'_>) -> Result<(), InvalidToken> {
        let ok = match (self.audience, &claims.aud) {
            (Audience::AnyOf(ours), Some(Json::Str(aud))) => ours.iter().any(|a| a == aud),
            (Audience::AnyOf(ours), Some(Json::Array(auds))) if !auds.is_empty() => {
                let mut ok = false;
                for aud in auds {
                    let aud = aud.as_str().ok_or(InvalidToken::Audience)?;
                    ok |= ours.iter().any(|a| a == aud);
                }
                ok
            }
            (Audience::Exactly(ours), Some(Json::Str(aud))) => aud == ours,
            (Audience::Exactly(ours), Some(Json::Array(auds))) => {
                !auds.is_empty() && auds.iter().all(|a| a.as_str() == Some(ours))
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidToken::Audience)
        }
    }

    /// An access token is no ID token presented as one (RFC 8725 §2.9: no
    /// `nonce` or hashes), and grants something: `scp` or `roles`, unless
    /// access-control-list tokens are allowed.
    pub fn kind(&self, claims: &Claims<'_>) -> Result<(), InvalidToken> {
        let Kind::Access { allow_acl } = self.kind else {
            return Ok(());
        };
        if claims.nonce.is_some() || claims.at_hash.is_some() || claims.c_hash.is_some() {
            return Err(InvalidToken::IdToken);
        }
        if !allow_acl && claims.scp.is_none() && claims.roles.is_none() {
            return Err(InvalidToken::NoScopeOrRoles);
        }
        Ok(())
    }

    fn template(&self, version: Option<TokenVersion>) -> Option<&str> {
        match version {
            Some(TokenVersion::V1) => self.issuers.v1.as_deref(),
            _ => self.issuers.v2.as_deref(),
        }
    }

    /// The issuer a token of this version and tenant must carry.
    fn expected_issuer(&self, version: Option<TokenVersion>, tid: Option<&str>) -> Option<String> {
        let template = self.template(version)?;
        Some(match tid {
            Some(tid) => template.replace("{tenantid}", tid),
            None => template.to_owned(),
        })
    }
}

/// Whether `iss` equals `template` with `{tenantid}` replaced by `tid`,
/// compared without allocating.
pub fn issuer_matches(template: &str, tid: &str, iss: &str) -> bool {
    match placeholder(template) {
        None => template == iss,
        Some(at) => {
            let (before, after) = (&template[..at], &template[at + PLACEHOLDER.len()..]);
            iss.len() == before.len() + tid.len() + after.len()
                && iss.starts_with(before)
                && iss.ends_with(after)
                && &iss[before.len()..before.len() + tid.len()] == tid
        }
    }
}

/// Where an issuer template names the tenant.
const PLACEHOLDER: &str = "{tenantid}";

/// Where `{tenantid}` first appears in `template`: found by its brace (a
/// byte search) rather than a substring search, which costs more to set up
/// than the whole comparison, on every uncached token.
fn placeholder(template: &str) -> Option<usize> {
    template
        .match_indices('{')
        .map(|(at, _)| at)
        .find(|&at| template[at..].starts_with(PLACEHOLDER))
}

/// `5 min`, `30 s`.
fn duration(seconds: i64) -> String {
    if seconds >= 60 && seconds % 60 == 0 {
        format!("{} min", seconds / 60)
    } else {
        format!("{seconds} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_templates_match_exactly() {
        let t = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        assert!(issuer_matches(
            t,
            tid,
            &format!("https://login.microsoftonline.com/{tid}/v2.0")
        ));
        assert!(!issuer_matches(
            t,
            tid,
            &format!("https://login.microsoftonline.com/{tid}/v2.0/")
        ));
        assert!(!issuer_matches(
            t,
            tid,
            "https://login.microsoftonline.com/other/v2.0"
        ));
        assert!(issuer_matches("https://x/", tid, "https://x/"));
        assert!(!issuer_matches("https://x/", tid, "https://X/"));
        // Other braces are text; the first `{tenantid}` is the placeholder.
        let braces = "https://x/{tenant}/{tenantid}/{tenantid}";
        assert!(issuer_matches(
            braces,
            tid,
            &format!("https://x/{{tenant}}/{tid}/{{tenantid}}")
        ));
        assert!(!issuer_matches(
            braces,
            tid,
            &format!("https://x/{tid}/{{tenantid}}/{{tenantid}}")
        ));
        assert!(issuer_matches("{tenantid}", tid, tid));
        assert!(!issuer_matches("{tenantid", tid, tid));
    }

    fn rules<'a>(issuers: &'a Issuers, tenants: &'a Tenants, auds: &'a [String]) -> Rules<'a> {
        Rules {
            now: 1_800_000_000,
            skew: 300,
            issuers,
            entra: Some(Entra {
                v1: true,
                v2: true,
                tenants,
            }),
            audience: Audience::AnyOf(auds),
            kind: Kind::Access { allow_acl: false },
        }
    }

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn payload(extra: &str) -> String {
        format!(
            r#"{{"iss":"https://login.microsoftonline.com/{TID}/v2.0","ver":"2.0","tid":"{TID}","oid":"o","azp":"c","aud":"api","exp":1800000100,"scp":"Heroes.Read"{extra}}}"#
        )
    }

    #[test]
    fn check_and_explain_agree_on_every_rule() {
        let issuers = Issuers {
            v2: Some("https://login.microsoftonline.com/{tenantid}/v2.0".into()),
            v1: None,
        };
        let tenants = Tenants::Allowed([TID.to_owned()].into());
        let auds = ["api".to_owned()];
        let r = rules(&issuers, &tenants, &auds);
        let cases = [
            (payload(""), None),
            (payload(r#","nonce":"n""#), Some(InvalidToken::IdToken)),
            (
                payload("").replace(r#""aud":"api""#, r#""aud":"other""#),
                Some(InvalidToken::Audience),
            ),
            (
                payload("").replace("1800000100", "1799999000"),
                Some(InvalidToken::Expired),
            ),
            (
                payload("").replace(r#""ver":"2.0""#, r#""ver":"3.0""#),
                Some(InvalidToken::Claims),
            ),
            (
                payload("").replace(r#","scp":"Heroes.Read""#, ""),
                Some(InvalidToken::NoScopeOrRoles),
            ),
        ];
        for (json, expected) in cases {
            let claims = Claims::read(json.as_bytes()).unwrap_or_default();
            let verdict = r.check(&claims, None).err();
            assert_eq!(verdict, expected, "{json}");
            let first_failure = r
                .explain(&claims, None)
                .into_iter()
                .find_map(|v| v.result.err());
            assert_eq!(first_failure, expected, "{json}");
        }
    }

    #[test]
    fn expired_within_the_skew_is_explained_as_accepted() {
        let issuers = Issuers {
            v2: Some(format!("https://login.microsoftonline.com/{TID}/v2.0")),
            v1: None,
        };
        let tenants = Tenants::Single;
        let auds = ["api".to_owned()];
        let r = rules(&issuers, &tenants, &auds);
        let json = payload("").replace("1800000100", "1799999900");
        let claims = Claims::read(json.as_bytes()).unwrap_or_default();
        let lifetime = r.explain(&claims, None).remove(0);
        assert_eq!(lifetime.result, Ok(()));
        assert_eq!(
            lifetime.detail,
            "expired 100 s ago, accepted within the 5 min clock skew"
        );
    }
}
