//! OpenID Connect ID tokens, for the client side of a sign-in.
//!
//! An access token is for an API; an ID token is for the client application
//! that signed the user in (OpenID Connect Core §3.1.3.7). The
//! [`Validator`](crate::Validator) refuses ID tokens on purpose (they carry a
//! `nonce` and neither `scp` nor `roles`); an [`IdTokenValidator`] accepts
//! exactly them, with the same key cache, the same strict parsing and the
//! same issuer rules:
//!
//! 1. the compact JWS and its header (`RS256` only: never `none`, never HMAC;
//!    no embedded or referenced keys);
//! 2. the signing key by `kid`, among the tenant's published keys (an unknown
//!    `kid` refreshes the key set, as for access tokens), and the signature;
//! 3. `exp` (required), `nbf`, and `iat` (required), with the clock skew;
//! 4. `iss`: exactly the metadata issuer of the token's version and tenant
//!    (`{tenantid}` templates filled from `tid`), and the signing key's issuer;
//! 5. `aud`: the client id and nothing else (an extra audience is an
//!    audience the client does not trust); `azp`, when present, the client id;
//! 6. `sub` present;
//! 7. `nonce`, when the caller expects one: present and equal (compared in
//!    constant time).
//!
//! Configure it like a [`Validator`](crate::Validator): the *client
//! application's* id as `client_id`, the tenant and the authority host.
//!
//! ```no_run
//! use entra_auth::AuthConfig;
//! use entra_auth::id_token::IdTokenValidator;
//!
//! # async fn run(id_token: &str, nonce: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let config = AuthConfig::builder()
//!     .tenant("contoso.onmicrosoft.com")
//!     .client_id("3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10")
//!     .build()?;
//! let validator = IdTokenValidator::new(config)?;
//! let token = validator.validate(id_token, Some(nonce)).await?;
//! println!("signed in: {:?} in tenant {:?}", token.object_id(), token.tenant_id());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use entra_core::claims;
use entra_core::rules::{Audience, Kind};
use serde_json::{Map, Value};

use crate::config::AuthConfig;
use crate::verifier::{KeyError, Verifier};
use crate::{Error, InvalidToken, TokenVersion};

/// Why an ID token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The token is malformed, signed with a key or algorithm that is not the
    /// tenant's, expired, issued in the future, from another issuer or tenant,
    /// for another audience, or missing a required claim (`sub`, `iat`, `exp`).
    #[error("invalid ID token: {0}")]
    Invalid(InvalidToken),
    /// A nonce was expected and the token carries none, or another one: the
    /// token belongs to another sign-in (a replay or an injection).
    #[error("the ID token's nonce is missing or belongs to another sign-in")]
    Nonce,
    /// The token names another client as its authorized party (`azp`).
    #[error("the ID token was issued to another client (azp)")]
    AuthorizedParty,
    /// The tenant's signing keys could not be loaded.
    #[error("signing keys are unavailable: {0}")]
    KeysUnavailable(String),
}

impl From<InvalidToken> for IdTokenError {
    fn from(reason: InvalidToken) -> Self {
        IdTokenError::Invalid(reason)
    }
}

/// A validated ID token: who signed in, and the raw token (for
/// `id_token_hint` at sign-out).
///
/// Its `Debug` output never shows the token itself.
#[derive(Clone)]
pub struct IdToken {
    raw: String,
    claims: Map<String, Value>,
    version: Option<TokenVersion>,
    expires_at: i64,
    issued_at: i64,
}

impl IdToken {
    /// The compact token, as the identity provider issued it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Every claim.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn string(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// `sub`: the user, pairwise for this client application.
    pub fn subject(&self) -> &str {
        self.string("sub").unwrap_or_default()
    }

    /// `oid`: the user's object id, the same for every application of the tenant.
    pub fn object_id(&self) -> Option<&str> {
        self.string("oid")
    }

    /// `tid`: the tenant the user signed in to.
    pub fn tenant_id(&self) -> Option<&str> {
        self.string("tid")
    }

    /// `name`: the display name (for display only, never as a key).
    pub fn name(&self) -> Option<&str> {
        self.string("name")
    }

    /// `preferred_username` (v2) or `upn` / `unique_name` (v1): the sign-in
    /// name (for display and hints only, never as a key).
    pub fn preferred_username(&self) -> Option<&str> {
        self.string("preferred_username")
            .or_else(|| self.string("upn"))
            .or_else(|| self.string("unique_name"))
    }

    /// `email`, when the token carries it.
    pub fn email(&self) -> Option<&str> {
        self.string("email")
    }

    /// `nonce`, when the token carries it.
    pub fn nonce(&self) -> Option<&str> {
        self.string("nonce")
    }

    /// The token's version (`ver`), for Entra tokens.
    pub fn version(&self) -> Option<TokenVersion> {
        self.version
    }

    /// `exp`, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// `iat`, in seconds since the Unix epoch.
    pub fn issued_at(&self) -> i64 {
        self.issued_at
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("sub", &self.subject())
            .field("oid", &self.object_id())
            .field("tid", &self.tenant_id())
            .field("exp", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Validates ID tokens for one client application. Cheap to clone; clones
/// share the key cache.
///
/// Create it inside a tokio runtime: it then loads the keys in the background
/// right away and keeps them fresh, like a [`Validator`](crate::Validator).
#[derive(Debug, Clone)]
pub struct IdTokenValidator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verifier: Verifier,
    client_id: String,
}

impl IdTokenValidator {
    /// Builds a validator with its own HTTP client (rustls, the platform's
    /// trusted roots, no redirects, the configured timeout).
    pub fn new(config: AuthConfig) -> Result<Self, Error> {
        Self::build(config, None)
    }

    /// Builds a validator that fetches metadata and keys with `http` (to trust
    /// the emulator's certificate authority, or to go through a proxy). Set a
    /// timeout on it: the validator relies on the client's.
    pub fn with_http_client(config: AuthConfig, http: reqwest::Client) -> Result<Self, Error> {
        Self::build(config, Some(http))
    }

    fn build(config: AuthConfig, http: Option<reqwest::Client>) -> Result<Self, Error> {
        // The configuration's first audience is the client id itself.
        let client_id = config
            .audiences
            .first()
            .cloned()
            .ok_or_else(|| Error::Config("the client id is required".into()))?;
        Ok(IdTokenValidator {
            inner: Arc::new(Inner {
                verifier: Verifier::new(config, http)?,
                client_id,
            }),
        })
    }

    /// The client id ID tokens must be issued to.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// Resolves once signing keys are loaded (immediately if they are).
    pub fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.verifier.ready()
    }

    /// Validates an ID token; with `nonce`, also that it carries exactly
    /// that nonce (the one sent with this sign-in's authorization request).
    /// ID tokens from a refresh carry no nonce: pass `None` for those.
    pub async fn validate(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<IdToken, IdTokenError> {
        let verifier = &self.inner.verifier;
        let client_id = self.inner.client_id.as_str();
        let parsed = verifier.parse(token)?;
        let (key, snapshot) = verifier.key(&parsed).await.map_err(|e| match e {
            KeyError::Invalid(reason) => IdTokenError::Invalid(reason),
            KeyError::Unavailable { reason, .. } => IdTokenError::KeysUnavailable(reason),
        })?;
        let rules = verifier.rules(&snapshot, Audience::Exactly(client_id), Kind::Id);
        let (claims, checked) = verifier.check(&parsed, &parsed.payload, &key, &rules)?;
        // The authorized party, when named, is this client (OpenID Connect
        // Core §3.1.3.7, 5).
        match claims::string(&claims.azp)? {
            Some(azp) if azp != client_id => return Err(IdTokenError::AuthorizedParty),
            _ => {}
        }
        if let Some(expected) = nonce {
            match claims::string(&claims.nonce) {
                Ok(Some(found)) if entra_core::secrets_equal(found, expected) => {}
                _ => return Err(IdTokenError::Nonce),
            }
        }
        Ok(IdToken {
            raw: token.to_owned(),
            // `check` read this payload with the strict reader already.
            claims: serde_json::from_slice(&parsed.payload).map_err(|_| InvalidToken::Malformed)?,
            version: checked.version,
            expires_at: checked.exp,
            issued_at: checked.iat.unwrap_or_default(),
        })
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::testing::{TestIssuer, TestKey};

    const CLIENT: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";

    fn validator(issuer: &TestIssuer) -> IdTokenValidator {
        let config = crate::AuthConfig::builder()
            .client_id(CLIENT)
            .static_keys(Some(issuer.issuer_v2()), None, issuer.jwks().to_string())
            .build();
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        IdTokenValidator::new(config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// An Entra v2 ID token for CLIENT with this nonce.
    fn id_token(issuer: &TestIssuer, nonce: &str) -> crate::testing::TokenBuilder {
        issuer
            .delegated(Vec::<String>::new())
            .without("scp")
            .without("azp")
            .without("azpacr")
            .claim("aud", CLIENT)
            .claim("nonce", nonce)
    }

    #[tokio::test]
    async fn a_genuine_id_token_passes_with_its_nonce() {
        let issuer = TestIssuer::new();
        let v = validator(&issuer);
        let token = id_token(&issuer, "n-1").sign();
        let id = v.validate(&token, Some("n-1")).await;
        let id = id.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.nonce(), Some("n-1"));
        assert_eq!(id.tenant_id(), Some(issuer.tenant_id()));
        assert!(id.object_id().is_some());
        assert!(!format!("{id:?}").contains(&token));
        // Without an expected nonce (a refresh), the nonce is not judged.
        assert!(v.validate(&token, None).await.is_ok());
    }

    #[tokio::test]
    async fn every_broken_rule_is_refused() {
        let issuer = TestIssuer::new();
        let v = validator(&issuer);
        let cases: Vec<(&str, String, IdTokenError)> = vec![
            (
                "other nonce",
                id_token(&issuer, "other").sign(),
                IdTokenError::Nonce,
            ),
            (
                "no nonce",
                id_token(&issuer, "x").without("nonce").sign(),
                IdTokenError::Nonce,
            ),
            (
                "wrong aud",
                id_token(&issuer, "n").claim("aud", "someone-else").sign(),
                InvalidToken::Audience.into(),
            ),
            (
                "extra aud",
                id_token(&issuer, "n")
                    .claim("aud", serde_json::json!([CLIENT, "evil"]))
                    .sign(),
                InvalidToken::Audience.into(),
            ),
            (
                "azp mismatch",
                id_token(&issuer, "n").claim("azp", "evil").sign(),
                IdTokenError::AuthorizedParty,
            ),
            (
                "no sub",
                id_token(&issuer, "n").without("sub").sign(),
                InvalidToken::Claims.into(),
            ),
            (
                "no iat",
                id_token(&issuer, "n").without("iat").sign(),
                InvalidToken::Claims.into(),
            ),
            (
                "expired",
                id_token(&issuer, "n").expired().sign(),
                InvalidToken::Expired.into(),
            ),
            (
                "wrong iss",
                id_token(&issuer, "n")
                    .claim("iss", "https://evil.example/v2.0")
                    .sign(),
                InvalidToken::Issuer.into(),
            ),
            (
                "other key",
                id_token(&issuer, "n").sign_with(&TestKey::generate(issuer.key().kid())),
                InvalidToken::BadSignature.into(),
            ),
            (
                "alg none",
                id_token(&issuer, "n").unsigned("none"),
                InvalidToken::Algorithm.into(),
            ),
            (
                "HS256",
                id_token(&issuer, "n").sign_hs256(b"heroes-web-dev-secret"),
                InvalidToken::Algorithm.into(),
            ),
        ];
        for (name, token, expected) in cases {
            let result = v.validate(&token, Some("n")).await;
            assert_eq!(result.err(), Some(expected), "{name}");
        }
    }
}
