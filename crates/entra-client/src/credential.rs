//! How a confidential client proves who it is: a client secret, a
//! certificate (a client assertion it signs afresh for every request), or
//! a client assertion from elsewhere (workload identity federation: a
//! callback, a federated token file, a managed identity; see
//! [`ClientAssertion`]).
//!
//! None ever appears in `Debug` output or in an error.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use crate::Error;
use crate::assertion::ClientAssertion;
use crate::managed_identity::ManagedIdentityCredential;
use crate::util::{random_guid, sha256_b64};

/// The `client_assertion_type` of a JWT client assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion, in seconds (MSAL: 10 minutes).
const ASSERTION_LIFETIME: i64 = 600;

/// A confidential client's credential.
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientCredential {
    /// A client secret.
    Secret(ClientSecret),
    /// A certificate whose private key signs a client assertion (`private_key_jwt`).
    Certificate(Certificate),
    /// A client assertion issued by someone the app registration trusts
    /// through a federated identity credential (no secret at all).
    Assertion(ClientAssertion),
}

impl ClientCredential {
    /// A client secret, sent in the form body (`client_secret_post`, as MSAL does).
    pub fn secret(secret: impl Into<String>) -> Self {
        ClientCredential::Secret(ClientSecret::new(secret))
    }

    /// A certificate credential.
    pub fn certificate(certificate: Certificate) -> Self {
        ClientCredential::Certificate(certificate)
    }

    /// A federated client assertion ([`ClientAssertion::from_callback`],
    /// [`from_file`](ClientAssertion::from_file),
    /// [`from_managed_identity`](ClientAssertion::from_managed_identity)).
    pub fn assertion(assertion: ClientAssertion) -> Self {
        ClientCredential::Assertion(assertion)
    }

    /// Workload identity: the assertion is the token in `path`
    /// (`AZURE_FEDERATED_TOKEN_FILE`), read again whenever the file changes.
    pub fn federated_token_file(path: impl Into<std::path::PathBuf>) -> Self {
        ClientCredential::Assertion(ClientAssertion::from_file(path))
    }

    /// A managed identity as the app registration's federated credential:
    /// its token for `api://AzureADTokenExchange` is the assertion.
    pub fn managed_identity(managed_identity: ManagedIdentityCredential) -> Self {
        ClientCredential::Assertion(ClientAssertion::from_managed_identity(managed_identity))
    }
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientCredential::Secret(s) => f.debug_tuple("Secret").field(s).finish(),
            ClientCredential::Certificate(c) => f.debug_tuple("Certificate").field(c).finish(),
            ClientCredential::Assertion(a) => f.debug_tuple("Assertion").field(a).finish(),
        }
    }
}

impl From<ClientSecret> for ClientCredential {
    fn from(secret: ClientSecret) -> Self {
        ClientCredential::Secret(secret)
    }
}

impl From<ClientAssertion> for ClientCredential {
    fn from(assertion: ClientAssertion) -> Self {
        ClientCredential::Assertion(assertion)
    }
}

impl From<Certificate> for ClientCredential {
    fn from(certificate: Certificate) -> Self {
        ClientCredential::Certificate(certificate)
    }
}

/// A client secret.
#[derive(Clone)]
pub struct ClientSecret {
    value: Arc<str>,
    basic: bool,
}

impl ClientSecret {
    /// A secret sent in the form body (`client_secret_post`).
    pub fn new(secret: impl Into<String>) -> Self {
        ClientSecret {
            value: Arc::from(secret.into()),
            basic: false,
        }
    }

    /// Sends the secret with HTTP Basic authentication instead
    /// (`client_secret_basic`: id and secret form-encoded, RFC 6749 §2.3.1).
    pub fn in_basic_auth(mut self) -> Self {
        self.basic = true;
        self
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    pub(crate) fn basic(&self) -> bool {
        self.basic
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecret")
            .field("value", &"<redacted>")
            .field("basic", &self.basic)
            .finish()
    }
}

/// How a client assertion is signed and names its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, the certificate named by its SHA-256
    /// thumbprint (`x5t#S256`): what MSAL sends today (the default).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, the certificate named by its SHA-1
    /// thumbprint (`x5t`): the older form Entra still accepts.
    Rs256,
}

/// A certificate credential: an RSA private key and its certificate, as
/// uploaded to the app registration.
#[derive(Clone)]
pub struct Certificate {
    key: Arc<RsaKeyPair>,
    x5t_s256: String,
    x5t: String,
    der: Arc<[u8]>,
    algorithm: AssertionAlgorithm,
    send_x5c: bool,
}

impl Certificate {
    /// From PEM text: a private key (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE
    /// KEY`, PKCS#1) and a `CERTIFICATE`. Both may be in one file: pass the
    /// same text twice.
    pub fn from_pem(private_key_pem: &str, certificate_pem: &str) -> Result<Self, Error> {
        let (label, key) = pem_block(private_key_pem, &["PRIVATE KEY", "RSA PRIVATE KEY"])
            .ok_or_else(|| {
                Error::Config("no PRIVATE KEY or RSA PRIVATE KEY block in the key PEM".into())
            })?;
        let (_, cert) = pem_block(certificate_pem, &["CERTIFICATE"])
            .ok_or_else(|| Error::Config("no CERTIFICATE block in the certificate PEM".into()))?;
        let key = if label == "RSA PRIVATE KEY" {
            RsaKeyPair::from_der(&key)
        } else {
            RsaKeyPair::from_pkcs8(&key)
        }
        .map_err(|e| Error::Config(format!("the private key is not a usable RSA key: {e}")))?;
        Self::from_parts(key, &cert)
    }

    /// From DER: a PKCS#8 RSA private key and an X.509 certificate.
    pub fn from_der(private_key_pkcs8: &[u8], certificate: &[u8]) -> Result<Self, Error> {
        let key = RsaKeyPair::from_pkcs8(private_key_pkcs8)
            .map_err(|e| Error::Config(format!("the private key is not a usable RSA key: {e}")))?;
        Self::from_parts(key, certificate)
    }

    fn from_parts(key: RsaKeyPair, der: &[u8]) -> Result<Self, Error> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| Error::Config(format!("the certificate is not X.509 DER: {e}")))?;
        let public = key
            .public_key()
            .as_der()
            .map_err(|_| Error::Config("cannot encode the key's public half".into()))?;
        if cert.tbs_certificate.subject_pki.raw != public.as_ref() {
            return Err(Error::Config(
                "the private key does not belong to the certificate".into(),
            ));
        }
        let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
        Ok(Certificate {
            key: Arc::new(key),
            x5t_s256: sha256_b64(der),
            x5t: URL_SAFE_NO_PAD.encode(sha1),
            der: Arc::from(der),
            algorithm: AssertionAlgorithm::Ps256,
            send_x5c: false,
        })
    }

    /// Signs assertions with `algorithm` (default [`AssertionAlgorithm::Ps256`]).
    pub fn with_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sends the certificate itself in the assertion's `x5c` header, for
    /// subject-name-and-issuer authentication (certificates rolled by an
    /// internal CA). Off by default.
    pub fn with_x5c(mut self, send: bool) -> Self {
        self.send_x5c = send;
        self
    }

    /// The certificate's SHA-256 thumbprint, base64url (the `x5t#S256`).
    pub fn thumbprint_sha256(&self) -> &str {
        &self.x5t_s256
    }

    /// A client assertion for `client_id` at the token endpoint `audience`.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: i64,
    ) -> Result<String, Error> {
        let mut header = match self.algorithm {
            AssertionAlgorithm::Ps256 => {
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.x5t_s256})
            }
            AssertionAlgorithm::Rs256 => json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t}),
        };
        if self.send_x5c {
            header["x5c"] = json!([STANDARD.encode(&self.der)]);
        }
        let claims = json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": random_guid()?,
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let encoding: &'static dyn aws_lc_rs::signature::RsaEncoding = match self.algorithm {
            AssertionAlgorithm::Ps256 => &RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &RSA_PKCS1_SHA256,
        };
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                encoding,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| Error::Credential("signing the client assertion failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("x5t#S256", &self.x5t_s256)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

/// The first PEM block whose label is one of `labels`: its label and DER.
fn pem_block(text: &str, labels: &[&str]) -> Option<(String, Vec<u8>)> {
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let label_end = after.find("-----")?;
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let body_end = body_start.find(&end_marker)?;
        if labels.contains(&label) {
            let body: String = body_start[..body_end]
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            return STANDARD
                .decode(body)
                .ok()
                .map(|der| (label.to_owned(), der));
        }
        rest = &body_start[body_end + end_marker.len()..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_found_by_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAEC\nAw==\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nBAU=\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            pem_block(text, &["PRIVATE KEY"]),
            Some(("PRIVATE KEY".to_owned(), vec![4, 5]))
        );
        assert_eq!(
            pem_block(text, &["CERTIFICATE"]),
            Some(("CERTIFICATE".to_owned(), vec![0, 1, 2, 3]))
        );
        assert_eq!(pem_block(text, &["RSA PRIVATE KEY"]), None);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let credential = ClientCredential::secret("s3cr3t-value");
        assert!(!format!("{credential:?}").contains("s3cr3t"));
    }
}
