//! Test support (feature `testing`): mint signed tokens in-process and build a
//! validator that trusts them, with no network.
//!
//! ```
//! use entra_auth::testing::TestIssuer;
//! use entra_auth::Require;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let issuer = TestIssuer::new();
//! let validator = issuer.validator();
//!
//! let token = issuer.delegated(["Heroes.Read"]).sign();
//! let principal = validator.validate(&token).await.unwrap();
//! assert!(Require::scope("Heroes.Read").is_met(&principal));
//!
//! let daemon = issuer.app_only(["Heroes.Write"]).sign();
//! let principal = validator.validate(&daemon).await.unwrap();
//! assert!(principal.is_app_only());
//!
//! let expired = issuer.delegated(["Heroes.Read"]).expired().sign();
//! assert!(validator.validate(&expired).await.is_err());
//! # }
//! ```

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::{AuthConfig, AuthConfigBuilder, Validator};

/// An RSA signing key with a `kid`, as an identity provider holds one.
pub struct TestKey {
    kid: String,
    pair: RsaKeyPair,
}

impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestKey {
    /// A fresh RSA-2048 key.
    ///
    /// # Panics
    /// If the system cannot generate a key (no entropy): there is no test to run then.
    #[allow(clippy::expect_used)]
    pub fn generate(kid: impl Into<String>) -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        TestKey {
            kid: kid.into(),
            pair,
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK, Entra-style (`kty`, `use`, `kid`, `x5t`, `n`, `e`).
    pub fn jwk(&self) -> Value {
        let public = self.pair.public_key();
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// The public key as a JWK carrying an Entra `issuer` property.
    pub fn jwk_with_issuer(&self, issuer: &str) -> Value {
        let mut jwk = self.jwk();
        jwk["issuer"] = Value::String(issuer.to_owned());
        jwk
    }

    /// PKCS#1 `RSAPublicKey` DER.
    pub fn public_pkcs1_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// SubjectPublicKeyInfo DER.
    pub fn public_spki_der(&self) -> Vec<u8> {
        self.pair
            .public_key()
            .as_der()
            .map(|der| der.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// `-----BEGIN PUBLIC KEY-----` PEM (with a trailing newline).
    pub fn public_spki_pem(&self) -> String {
        pem("PUBLIC KEY", &self.public_spki_der())
    }

    /// `-----BEGIN RSA PUBLIC KEY-----` PEM (with a trailing newline).
    pub fn public_pkcs1_pem(&self) -> String {
        pem("RSA PUBLIC KEY", &self.public_pkcs1_der())
    }

    /// Signs `input` with RS256.
    pub fn sign_rs256(&self, input: &[u8]) -> Vec<u8> {
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        if self
            .pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input,
                &mut signature,
            )
            .is_err()
        {
            signature.clear();
        }
        signature
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A random GUID (version 4).
pub fn random_guid() -> String {
    entra_core::random_guid().unwrap_or_else(|_| entra_core::guid_from_bytes([0x5a; 16]))
}

/// A stand-in for one Entra tenant and one protected API: a signing key, a
/// tenant id, the API's client id, and a client app calling it.
#[derive(Debug, Clone)]
pub struct TestIssuer {
    key: Arc<TestKey>,
    tenant_id: String,
    client_id: String,
    caller_id: String,
    authority_host: String,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    /// A new tenant with random ids and a fresh key.
    pub fn new() -> Self {
        Self::with_key(TestKey::generate(random_guid()))
    }

    /// A new tenant signing with `key`.
    pub fn with_key(key: TestKey) -> Self {
        TestIssuer {
            key: Arc::new(key),
            tenant_id: random_guid(),
            client_id: random_guid(),
            caller_id: random_guid(),
            authority_host: crate::config::DEFAULT_AUTHORITY_HOST.to_owned(),
        }
    }

    /// The tenant id (`tid`).
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// The protected API's client id (the `aud` of its v2 tokens).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client application tokens are issued to (`azp` / `appid`).
    pub fn caller_id(&self) -> &str {
        &self.caller_id
    }

    /// The signing key.
    pub fn key(&self) -> &TestKey {
        &self.key
    }

    /// `https://login.microsoftonline.com/{tid}/v2.0`.
    pub fn issuer_v2(&self) -> String {
        format!("{}/{}/v2.0", self.authority_host, self.tenant_id)
    }

    /// `https://sts.windows.net/{tid}/`.
    pub fn issuer_v1(&self) -> String {
        format!("https://sts.windows.net/{}/", self.tenant_id)
    }

    /// The JWKS document publishing the signing key.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.key.jwk()] })
    }

    /// A configuration builder trusting this issuer's key and issuers, with
    /// this API's client id: add settings, then `build()`.
    pub fn config(&self) -> AuthConfigBuilder {
        AuthConfig::builder()
            .client_id(&self.client_id)
            .static_keys(
                Some(self.issuer_v2()),
                Some(self.issuer_v1()),
                self.jwks().to_string(),
            )
    }

    /// A validator trusting this issuer (default settings, no network).
    ///
    /// # Panics
    /// Never for the configuration this builds.
    #[allow(clippy::expect_used)]
    pub fn validator(&self) -> Validator {
        Validator::new(self.config().build().expect("test configuration")).expect("test validator")
    }

    /// A v2 delegated (user) token for this API with these scopes.
    pub fn delegated<I, S>(&self, scopes: I) -> TokenBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scp: Vec<String> = scopes.into_iter().map(|s| s.as_ref().to_owned()).collect();
        let oid = random_guid();
        self.base()
            .claim("scp", scp.join(" "))
            .claim("oid", oid)
            .claim("sub", random_guid())
            .claim("name", "Test User")
            .claim("preferred_username", "test.user@contoso.example")
            .claim("azpacr", "0")
    }

    /// A v2 app-only (client credentials) token for this API with these
    /// application permissions.
    pub fn app_only<I, S>(&self, roles: I) -> TokenBuilder
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let roles: Vec<Value> = roles
            .into_iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect();
        let oid = random_guid();
        self.base()
            .claim("roles", roles)
            .claim("oid", oid.clone())
            .claim("sub", oid)
            .claim("idtyp", "app")
            .claim("azpacr", "1")
    }

    fn base(&self) -> TokenBuilder {
        let now = now();
        let mut header = Map::new();
        header.insert("typ".into(), "JWT".into());
        header.insert("alg".into(), "RS256".into());
        header.insert("kid".into(), self.key.kid.clone().into());
        let mut claims = Map::new();
        claims.insert("aud".into(), self.client_id.clone().into());
        claims.insert("iss".into(), self.issuer_v2().into());
        claims.insert("iat".into(), (now - 60).into());
        claims.insert("nbf".into(), (now - 60).into());
        claims.insert("exp".into(), (now + 3600).into());
        claims.insert("azp".into(), self.caller_id.clone().into());
        claims.insert("tid".into(), self.tenant_id.clone().into());
        claims.insert("uti".into(), random_guid().into());
        claims.insert("ver".into(), "2.0".into());
        TokenBuilder {
            header,
            claims,
            key: self.key.clone(),
            issuer: self.clone(),
        }
    }
}

/// A token under construction. Every setter returns the builder; finish with
/// [`sign`](Self::sign) or one of the deliberately broken forms.
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    key: Arc<TestKey>,
    issuer: TestIssuer,
}

impl TokenBuilder {
    /// Sets a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets a header member.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.to_owned(), value.into());
        self
    }

    /// Removes a header member.
    pub fn without_header(mut self, name: &str) -> Self {
        self.header.remove(name);
        self
    }

    /// Makes it a v1.0 token: `sts.windows.net` issuer, `api://{client id}`
    /// audience, `appid` instead of `azp`, `upn` instead of `preferred_username`,
    /// and `x5t` in the header.
    pub fn v1(mut self) -> Self {
        let issuer = &self.issuer;
        self.claims.insert("ver".into(), "1.0".into());
        self.claims.insert("iss".into(), issuer.issuer_v1().into());
        self.claims
            .insert("aud".into(), format!("api://{}", issuer.client_id).into());
        if let Some(azp) = self.claims.remove("azp") {
            self.claims.insert("appid".into(), azp);
        }
        if let Some(acr) = self.claims.remove("azpacr") {
            self.claims.insert("appidacr".into(), acr);
        }
        if let Some(name) = self.claims.remove("preferred_username") {
            self.claims.insert("upn".into(), name);
        }
        self.header
            .insert("x5t".into(), self.key.kid.clone().into());
        self
    }

    /// Sets the user's app roles (`roles` on a delegated token).
    pub fn roles<I: IntoIterator<Item = S>, S: AsRef<str>>(self, roles: I) -> Self {
        let roles: Vec<Value> = roles
            .into_iter()
            .map(|s| Value::String(s.as_ref().to_owned()))
            .collect();
        self.claim("roles", roles)
    }

    /// Sets the tenant: `tid` and the tenant in `iss`.
    pub fn tenant(mut self, tid: &str) -> Self {
        let iss = self
            .claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let iss = iss.replace(&self.issuer.tenant_id, tid);
        self.claims.insert("iss".into(), iss.into());
        self.claims.insert("tid".into(), tid.into());
        self
    }

    /// Expires `seconds` from now (negative: in the past).
    pub fn expires_in(self, seconds: i64) -> Self {
        self.claim("exp", now() + seconds)
    }

    /// Expired an hour ago (well beyond any clock skew).
    pub fn expired(self) -> Self {
        self.claim("iat", now() - 7200)
            .claim("nbf", now() - 7200)
            .expires_in(-3600)
    }

    /// The header as it stands.
    pub fn header_json(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The claims as they stand.
    pub fn claims_json(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(Value::Object(self.header.clone()).to_string()),
            URL_SAFE_NO_PAD.encode(Value::Object(self.claims.clone()).to_string())
        )
    }

    /// Signs with the issuer's key (RS256, whatever `alg` the header says).
    pub fn sign(&self) -> String {
        self.sign_with(&self.key)
    }

    /// Signs with another key (RS256), keeping the header's `kid`.
    pub fn sign_with(&self, key: &TestKey) -> String {
        let input = self.signing_input();
        let signature = key.sign_rs256(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// Signs raw header and payload bytes (for malformed-JSON cases).
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature = self.key.sign_rs256(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    /// `alg: none` with the given spelling and an empty signature.
    pub fn unsigned(self, alg: &str) -> String {
        let builder = self.header("alg", alg);
        format!("{}.", builder.signing_input())
    }

    /// HS256 with `secret` as the HMAC key (the RS→HS confusion attack uses
    /// the public key as the secret).
    pub fn sign_hs256(self, secret: &[u8]) -> String {
        let builder = self.header("alg", "HS256");
        let input = builder.signing_input();
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
