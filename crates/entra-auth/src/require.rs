//! What a route requires of its caller, declared in one line.
//!
//! Delegated scopes (`scp`) and application permissions (`roles` on an
//! app-only token) never stand in for each other: a route says which it takes,
//! or that it takes either ([`Require::scope_or_app_permission`], as
//! Microsoft.Identity.Web's `RequiredScopeOrAppPermission`). A user's app
//! roles ([`Require::role`]) are only read from delegated tokens.

use http::HeaderValue;

use crate::{Error, Principal};

/// A requirement on the caller. Combine with [`and`](Require::and) /
/// [`or`](Require::or).
///
/// ```
/// use entra_auth::Require;
///
/// let read = Require::scope_or_app_permission("Heroes.Read");
/// let admin = Require::role("Admin");
/// let writer = Require::any_scope(["Heroes.Write", "Heroes.Admin"]).and(Require::client_app("6e74172b-be56-4843-9ff4-e66a39bb12e3"));
/// ```
#[derive(Debug, Clone)]
pub struct Require {
    rule: Rule,
    challenge: HeaderValue,
}

#[derive(Debug, Clone)]
enum Rule {
    Authenticated,
    Delegated,
    AllScopes(Box<[String]>),
    AnyScope(Box<[String]>),
    AllAppPermissions(Box<[String]>),
    AnyAppPermission(Box<[String]>),
    AllRoles(Box<[String]>),
    AnyRole(Box<[String]>),
    ClientApp(Box<[String]>),
    All(Box<[Require]>),
    Any(Box<[Require]>),
}

fn collect<I, S>(items: I) -> Box<[String]>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl Require {
    fn new(rule: Rule) -> Self {
        let mut scopes: Vec<&str> = Vec::new();
        rule.scope_names(&mut scopes);
        // Only delegated scopes go in `scope` (RFC 6750 §3: what a client can
        // ask the authority for); app roles and application permissions are
        // assigned, never requested, so they are named in the description.
        let printable = |text: &str| -> String {
            text.chars()
                .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
                .collect()
        };
        let bare = || HeaderValue::from_static("Bearer error=\"insufficient_scope\"");
        let challenge = if let Rule::Delegated = rule {
            HeaderValue::from_static(
                "Bearer error=\"insufficient_scope\", error_description=\"a signed-in user (a delegated token) is required\"",
            )
        } else if !scopes.is_empty() {
            HeaderValue::from_str(&format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                printable(&scopes.join(" "))
            ))
            .unwrap_or_else(|_| bare())
        } else if matches!(rule, Rule::Authenticated) {
            bare()
        } else {
            let description = Require {
                rule: rule.clone(),
                challenge: bare(),
            }
            .to_string();
            HeaderValue::from_str(&format!(
                "Bearer error=\"insufficient_scope\", error_description=\"requires {}\"",
                printable(&description)
            ))
            .unwrap_or_else(|_| bare())
        };
        Require { rule, challenge }
    }

    /// Any valid token.
    pub fn authenticated() -> Self {
        Self::new(Rule::Authenticated)
    }

    /// A signed-in user: a delegated token, never an app-only one (whatever
    /// its permissions).
    pub fn delegated() -> Self {
        Self::new(Rule::Delegated)
    }

    /// The delegated scope `scope` (exact, case-sensitive).
    pub fn scope(scope: impl Into<String>) -> Self {
        Self::new(Rule::AllScopes(collect([scope])))
    }

    /// All of these delegated scopes.
    pub fn all_scopes<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::new(Rule::AllScopes(collect(scopes)))
    }

    /// At least one of these delegated scopes.
    pub fn any_scope<I: IntoIterator<Item = S>, S: Into<String>>(scopes: I) -> Self {
        Self::new(Rule::AnyScope(collect(scopes)))
    }

    /// The application permission `permission` (`roles` on an app-only token).
    pub fn app_permission(permission: impl Into<String>) -> Self {
        Self::new(Rule::AllAppPermissions(collect([permission])))
    }

    /// All of these application permissions.
    pub fn all_app_permissions<I: IntoIterator<Item = S>, S: Into<String>>(permissions: I) -> Self {
        Self::new(Rule::AllAppPermissions(collect(permissions)))
    }

    /// At least one of these application permissions.
    pub fn any_app_permission<I: IntoIterator<Item = S>, S: Into<String>>(permissions: I) -> Self {
        Self::new(Rule::AnyAppPermission(collect(permissions)))
    }

    /// The user app role `role` (`roles` on a delegated token).
    pub fn role(role: impl Into<String>) -> Self {
        Self::new(Rule::AllRoles(collect([role])))
    }

    /// At least one of these user app roles.
    pub fn any_role<I: IntoIterator<Item = S>, S: Into<String>>(roles: I) -> Self {
        Self::new(Rule::AnyRole(collect(roles)))
    }

    /// The delegated scope `name`, or the application permission of the same
    /// name: a user through a web app and a daemon can both call the route.
    pub fn scope_or_app_permission(name: impl Into<String>) -> Self {
        let name = name.into();
        Self::any_scope([name.clone()]).or(Self::any_app_permission([name]))
    }

    /// The token was obtained by one of these client applications (`azp` / `appid`).
    pub fn client_app(client_id: impl Into<String>) -> Self {
        Self::new(Rule::ClientApp(collect([client_id])))
    }

    /// The token was obtained by one of these client applications.
    pub fn any_client_app<I: IntoIterator<Item = S>, S: Into<String>>(client_ids: I) -> Self {
        Self::new(Rule::ClientApp(collect(client_ids)))
    }

    /// Both this and `other`.
    pub fn and(self, other: Require) -> Self {
        Self::new(Rule::All(Box::new([self, other])))
    }

    /// This or `other`.
    pub fn or(self, other: Require) -> Self {
        Self::new(Rule::Any(Box::new([self, other])))
    }

    /// Whether `principal` meets the requirement.
    pub fn is_met(&self, principal: &Principal) -> bool {
        self.rule.is_met(principal)
    }

    /// `Ok` when met, else the `403 insufficient_scope` error naming what is
    /// needed and what the token lacks.
    pub fn check(&self, principal: &Principal) -> Result<(), Error> {
        match self.unmet(principal) {
            None => Ok(()),
            Some(missing) => Err(Error::InsufficientScope {
                required: self.clone(),
                missing: Box::new(missing),
            }),
        }
    }

    /// What `principal` lacks of this requirement (`None` when it is met):
    /// the scopes, permissions or roles it does not hold of an "all of"
    /// requirement, each unmet part of an `and`, the whole of an `or`.
    pub fn unmet(&self, principal: &Principal) -> Option<Require> {
        if self.is_met(principal) {
            return None;
        }
        let only = |names: &[String], held: &dyn Fn(&str) -> bool| -> Box<[String]> {
            names
                .iter()
                .filter(|n| !held(n.as_str()))
                .cloned()
                .collect()
        };
        let p = principal;
        Some(match &self.rule {
            Rule::AllScopes(s) => Self::new(Rule::AllScopes(only(s, &|n| p.has_scope(n)))),
            Rule::AllAppPermissions(s) => Self::new(Rule::AllAppPermissions(only(s, &|n| {
                p.has_app_permission(n)
            }))),
            Rule::AllRoles(s) => Self::new(Rule::AllRoles(only(s, &|n| p.has_role(n)))),
            Rule::All(rs) => {
                let mut unmet: Vec<Require> = rs.iter().filter_map(|r| r.unmet(p)).collect();
                if unmet.len() == 1 {
                    unmet.remove(0)
                } else {
                    Self::new(Rule::All(unmet.into_boxed_slice()))
                }
            }
            _ => self.clone(),
        })
    }

    /// The `WWW-Authenticate` challenge a caller that misses this gets (RFC
    /// 6750 §3: `error="insufficient_scope"`, with the delegated `scope`
    /// names needed; a requirement of app roles or application permissions
    /// only names them in `error_description`, as they are not scopes).
    pub fn challenge(&self) -> &HeaderValue {
        &self.challenge
    }
}

/// What the requirement asks for, in words: `scope Heroes.Read or app
/// permission Heroes.Read`.
impl std::fmt::Display for Require {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, what: &str, joiner: &str, items: &[String]| {
            let plural = if items.len() > 1 { "s" } else { "" };
            write!(f, "{what}{plural} {}", items.join(joiner))
        };
        match &self.rule {
            Rule::Authenticated => f.write_str("a valid token"),
            Rule::Delegated => f.write_str("a signed-in user (a delegated token)"),
            Rule::AllScopes(s) => list(f, "scope", " and ", s),
            Rule::AnyScope(s) => list(f, "scope", " or ", s),
            Rule::AllAppPermissions(s) => list(f, "app permission", " and ", s),
            Rule::AnyAppPermission(s) => list(f, "app permission", " or ", s),
            Rule::AllRoles(s) => list(f, "app role", " and ", s),
            Rule::AnyRole(s) => list(f, "app role", " or ", s),
            Rule::ClientApp(s) => list(f, "client app", " or ", s),
            Rule::All(rs) | Rule::Any(rs) => {
                let joiner = if matches!(self.rule, Rule::All(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, r) in rs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(joiner)?;
                    }
                    match r.rule {
                        Rule::All(_) | Rule::Any(_) => write!(f, "({r})")?,
                        _ => write!(f, "{r}")?,
                    }
                }
                Ok(())
            }
        }
    }
}

impl Rule {
    fn is_met(&self, p: &Principal) -> bool {
        match self {
            Rule::Authenticated => true,
            Rule::Delegated => !p.is_app_only(),
            Rule::AllScopes(s) => s.iter().all(|s| p.has_scope(s)),
            Rule::AnyScope(s) => s.iter().any(|s| p.has_scope(s)),
            Rule::AllAppPermissions(s) => s.iter().all(|s| p.has_app_permission(s)),
            Rule::AnyAppPermission(s) => s.iter().any(|s| p.has_app_permission(s)),
            Rule::AllRoles(s) => s.iter().all(|s| p.has_role(s)),
            Rule::AnyRole(s) => s.iter().any(|s| p.has_role(s)),
            Rule::ClientApp(ids) => p.client_id().is_some_and(|c| ids.iter().any(|id| id == c)),
            Rule::All(rs) => rs.iter().all(|r| r.is_met(p)),
            Rule::Any(rs) => rs.iter().any(|r| r.is_met(p)),
        }
    }

    /// The delegated scope names to list in the challenge's `scope`.
    fn scope_names<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Rule::Authenticated
            | Rule::Delegated
            | Rule::ClientApp(_)
            | Rule::AllAppPermissions(_)
            | Rule::AnyAppPermission(_)
            | Rule::AllRoles(_)
            | Rule::AnyRole(_) => {}
            Rule::AllScopes(s) | Rule::AnyScope(s) => {
                for name in s.iter() {
                    if !out.contains(&name.as_str()) {
                        out.push(name);
                    }
                }
            }
            Rule::All(rs) | Rule::Any(rs) => rs.iter().for_each(|r| r.rule.scope_names(out)),
        }
    }
}
