//! `ScopeClaim`: providers other than Entra ID put a token's scopes in
//! `scope` (RFC 9068); with `ScopeClaim::Scope` they are read from there,
//! and `scp` is then ignored. The default stays Entra's `scp`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use entra_auth::testing::TestIssuer;
use entra_auth::{Error, InvalidToken, Require, ScopeClaim, Validator};

fn validator(issuer: &TestIssuer, claim: ScopeClaim) -> Validator {
    Validator::new(issuer.config().scope_claim(claim).build().unwrap()).unwrap()
}

#[tokio::test]
async fn scopes_are_read_from_the_configured_claim() {
    let issuer = TestIssuer::new();
    let rfc9068 = issuer
        .delegated(Vec::<String>::new())
        .without("scp")
        .claim("scope", "Heroes.Read Heroes.Write")
        .sign();

    // Entra's default: `scope` means nothing, so the token grants nothing.
    let entra = validator(&issuer, ScopeClaim::Scp);
    assert!(matches!(
        entra.validate(&rfc9068).await,
        Err(Error::InvalidToken(InvalidToken::NoScopeOrRoles))
    ));

    let generic = validator(&issuer, ScopeClaim::Scope);
    let principal = generic.validate(&rfc9068).await.unwrap();
    assert_eq!(principal.scopes(), ["Heroes.Read", "Heroes.Write"]);
    assert!(Require::scope("Heroes.Write").is_met(&principal));
    assert!(!Require::scope("Heroes.Delete").is_met(&principal));

    // With `scope` configured, an `scp` claim grants nothing.
    let entra_token = issuer.delegated(["Heroes.Delete"]).sign();
    assert!(matches!(
        generic.validate(&entra_token).await,
        Err(Error::InvalidToken(InvalidToken::NoScopeOrRoles))
    ));
    // A `scope` that is not a string fails closed.
    let array = issuer
        .delegated(Vec::<String>::new())
        .without("scp")
        .claim("scope", serde_json::json!(["Heroes.Read"]))
        .sign();
    assert!(generic.validate(&array).await.is_err());
}

#[test]
fn the_claim_is_named_scp_or_scope() {
    assert_eq!("scp".parse::<ScopeClaim>().unwrap(), ScopeClaim::Scp);
    assert_eq!("scope".parse::<ScopeClaim>().unwrap(), ScopeClaim::Scope);
    assert_eq!(ScopeClaim::Scope.name(), "scope");
    assert!("scopes".parse::<ScopeClaim>().is_err());
    assert_eq!(ScopeClaim::default(), ScopeClaim::Scp);
}
