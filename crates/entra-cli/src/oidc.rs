//! Generic OpenID Connect for `entra api` and `entra inspect`: any
//! provider's discovery document and issuer instead of Entra ID's authority
//! and tenant, and the claim its access tokens carry their scopes in.

use entra_auth::ScopeClaim;

use crate::Failure;

/// The well-known path of a discovery document under an issuer.
const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// Options shared by the commands that validate tokens.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct OidcArgs {
    /// Any OpenID Connect provider instead of Entra ID: its discovery
    /// document (`https://issuer/.well-known/openid-configuration`). Tokens
    /// are checked against its issuer and keys; --authority-host and
    /// --tenant are then not used to validate.
    #[arg(long, env = "OIDC_DISCOVERY_URL")]
    oidc_discovery_url: Option<String>,

    /// The issuer the provider's tokens must carry. Alone, the discovery
    /// document is `{issuer}/.well-known/openid-configuration`; with
    /// --oidc-discovery-url, a document that names another issuer is refused.
    #[arg(long, env = "OIDC_ISSUER")]
    oidc_issuer: Option<String>,

    /// The claim that carries the scopes: `scp` (Entra ID) or `scope`
    /// (RFC 9068 access tokens: oidc-provider, Keycloak, Auth0...).
    #[arg(long, env = "OIDC_SCOPE_CLAIM", default_value = "scp", value_parser = ["scp", "scope"])]
    scope_claim: String,
}

/// What the options resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Oidc {
    /// The discovery document's URL, when a generic provider is configured.
    pub discovery_url: Option<String>,
    /// The expected issuer, if given.
    pub issuer: Option<String>,
    /// Where the scopes are.
    pub scope_claim: ScopeClaim,
}

impl OidcArgs {
    /// Checks the options: URLs that are `https` (or `http` on a loopback
    /// host), and a discovery URL derived from the issuer when only the
    /// issuer is given.
    pub(crate) fn resolve(&self) -> Result<Oidc, Failure> {
        let scope_claim = self
            .scope_claim
            .parse::<ScopeClaim>()
            .map_err(|e| Failure::Misconfigured(format!("--scope-claim: {e}")))?;
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let issuer = given(&self.oidc_issuer);
        let discovery_url = match (given(&self.oidc_discovery_url), &issuer) {
            (Some(url), _) => Some(url),
            (None, Some(issuer)) => Some(format!("{}{WELL_KNOWN}", issuer.trim_end_matches('/'))),
            (None, None) => None,
        };
        if let Some(url) = &discovery_url {
            check_url("--oidc-discovery-url (OIDC_DISCOVERY_URL)", url)?;
        }
        if let Some(issuer) = &issuer {
            check_url("--oidc-issuer (OIDC_ISSUER)", issuer)?;
        }
        Ok(Oidc {
            discovery_url,
            issuer,
            scope_claim,
        })
    }
}

/// `https`, or `http` on a loopback host.
fn check_url(flag: &str, raw: &str) -> Result<(), Failure> {
    let bad = |why: &str| Failure::Misconfigured(format!("{flag} {raw:?} {why}"));
    let url = url::Url::parse(raw).map_err(|_| bad("is not a URL"))?;
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    match entra_core::authority::check_scheme(&url, false) {
        Ok(()) => Ok(()),
        Err(entra_core::authority::InsecureUrl::PlainHttp(_)) => Err(bad(
            "is plain http on a host that is not loopback: use https",
        )),
        Err(_) => Err(bad("must be an https:// URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(discovery: Option<&str>, issuer: Option<&str>, claim: &str) -> OidcArgs {
        OidcArgs {
            oidc_discovery_url: discovery.map(str::to_owned),
            oidc_issuer: issuer.map(str::to_owned),
            scope_claim: claim.to_owned(),
        }
    }

    #[test]
    fn the_issuer_alone_names_its_discovery_document() {
        let oidc = args(None, Some("https://id.example.com/"), "scope").resolve();
        assert!(matches!(
            oidc,
            Ok(Oidc { discovery_url: Some(ref url), scope_claim: ScopeClaim::Scope, .. })
                if url == "https://id.example.com/.well-known/openid-configuration"
        ));
        assert!(matches!(
            args(None, None, "scp").resolve(),
            Ok(Oidc {
                discovery_url: None,
                issuer: None,
                scope_claim: ScopeClaim::Scp
            })
        ));
    }

    #[test]
    fn urls_are_https_or_loopback() {
        assert!(
            args(
                Some("http://127.0.0.1:3000/.well-known/openid-configuration"),
                None,
                "scp"
            )
            .resolve()
            .is_ok()
        );
        for bad in ["http://id.example.com/x", "nope", "ftp://localhost/x"] {
            assert!(args(Some(bad), None, "scp").resolve().is_err(), "{bad}");
        }
        assert!(
            args(None, Some("http://id.example.com"), "scp")
                .resolve()
                .is_err()
        );
        assert!(args(None, None, "scopes").resolve().is_err());
    }
}
