//! Secretless client credentials: a client assertion the application does
//! not sign itself (workload identity federation).
//!
//! A [`ClientAssertion`] is a JWT issued by someone Entra ID trusts through a
//! federated identity credential on the app registration. It comes from:
//!
//! - a callback ([`ClientAssertion::from_callback`]): the application's own
//!   source (a CI system's OIDC token, another cloud's identity token);
//!   reused while it stays valid, fetched again before it expires;
//! - a file ([`ClientAssertion::from_file`]): Kubernetes workload identity's
//!   projected service-account token (`AZURE_FEDERATED_TOKEN_FILE`), read
//!   again whenever the file changes, as the kubelet rotates it;
//! - a managed identity ([`ClientAssertion::from_managed_identity`]): its
//!   token for `api://AzureADTokenExchange`, for an app registration whose
//!   federated credential trusts that managed identity.
//!
//! The assertion is sent as `client_assertion` with
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//! It never appears in a `Debug` output, an error or a log line.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;
use crate::managed_identity::ManagedIdentityCredential;

/// The scope of a managed identity's token used as a federated assertion.
pub const TOKEN_EXCHANGE_SCOPE: &str = "api://AzureADTokenExchange/.default";

/// A cached assertion is used again only while it stays valid for more than
/// this many seconds.
const REUSE_MARGIN: i64 = 120;

/// What a client assertion callback is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssertionRequest {
    /// The application (client) id the assertion is for.
    pub client_id: String,
    /// The token endpoint the assertion will be sent to.
    pub token_endpoint: String,
}

/// The boxed future a callback returns.
type AssertionFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// The callback, type-erased.
type Callback = Arc<dyn Fn(AssertionRequest) -> AssertionFuture + Send + Sync>;

/// Where a client assertion comes from.
#[derive(Clone)]
enum Source {
    Callback(Callback),
    File(PathBuf),
    ManagedIdentity(ManagedIdentityCredential),
}

/// What identifies one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: (u64, u64),
}

impl FileStamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        FileStamp {
            modified: metadata.modified().ok(),
            len: metadata.len(),
            #[cfg(unix)]
            inode: (metadata.dev(), metadata.ino()),
        }
    }
}

/// The assertion last obtained.
struct Cached {
    value: String,
    /// The token endpoint it was made for (callbacks).
    audience: String,
    /// Its `exp`, when it has one.
    expires_on: Option<i64>,
    /// The file version it was read from (files).
    stamp: Option<FileStamp>,
}

/// A client assertion from a callback, a file or a managed identity. Cheap
/// to clone; clones share the cached assertion.
#[derive(Clone)]
pub struct ClientAssertion {
    source: Source,
    cached: Arc<tokio::sync::Mutex<Option<Cached>>>,
}

impl ClientAssertion {
    fn new(source: Source) -> Self {
        ClientAssertion {
            source,
            cached: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// An assertion from `callback`, called with the client id and the token
    /// endpoint. The assertion it returns is used again while its `exp` is
    /// more than two minutes away; one without a readable `exp` is asked for
    /// afresh on every token request. An error it returns becomes
    /// [`Error::Credential`] (its text must hold no secret).
    ///
    /// ```
    /// use entra_client::{ClientAssertion, ClientCredential};
    ///
    /// let credential = ClientCredential::assertion(ClientAssertion::from_callback(|request| async move {
    ///     // e.g. ask the CI system for an OIDC token whose audience is api://AzureADTokenExchange
    ///     let _ = request.client_id;
    ///     Ok::<_, std::io::Error>("eyJ...".to_owned())
    /// }));
    /// assert!(!format!("{credential:?}").contains("eyJ"));
    /// ```
    pub fn from_callback<F, Fut, E>(callback: F) -> Self
    where
        F: Fn(AssertionRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: fmt::Display,
    {
        let callback: Callback = Arc::new(move |request| {
            let future = callback(request);
            Box::pin(async move { future.await.map_err(|e| e.to_string()) })
        });
        ClientAssertion::new(Source::Callback(callback))
    }

    /// An assertion read from `path` (Kubernetes workload identity:
    /// `AZURE_FEDERATED_TOKEN_FILE`). The file is read on first use and read
    /// again whenever it changes (its modification time, length or inode):
    /// a token rotated on disk is picked up without a restart.
    pub fn from_file(path: impl Into<PathBuf>) -> Self {
        ClientAssertion::new(Source::File(path.into()))
    }

    /// A managed identity's token for `api://AzureADTokenExchange`, as the
    /// assertion of an app registration that trusts the managed identity
    /// (issuer: the tenant's v2 issuer; subject: the managed identity's
    /// object id). The managed identity caches and renews that token.
    pub fn from_managed_identity(managed_identity: ManagedIdentityCredential) -> Self {
        ClientAssertion::new(Source::ManagedIdentity(managed_identity))
    }

    /// The federated token file, for an assertion read from one.
    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            Source::File(path) => Some(path),
            _ => None,
        }
    }

    /// An assertion for `client_id` at `token_endpoint`, at time `now`.
    pub(crate) async fn get(
        &self,
        client_id: &str,
        token_endpoint: &str,
        now: i64,
    ) -> Result<String, Error> {
        match &self.source {
            Source::Callback(callback) => {
                let mut cached = self.cached.lock().await;
                if let Some(c) = cached.as_ref()
                    && c.audience == token_endpoint
                    && c.expires_on.is_some_and(|exp| exp - now > REUSE_MARGIN)
                {
                    return Ok(c.value.clone());
                }
                let value = callback(AssertionRequest {
                    client_id: client_id.to_owned(),
                    token_endpoint: token_endpoint.to_owned(),
                })
                .await
                .map_err(|e| {
                    Error::Credential(format!("the client assertion callback failed: {e}"))
                })?;
                let value = checked(value.trim(), "the client assertion callback returned")?;
                let expires_on = jwt_expiry(&value);
                *cached = expires_on.map(|exp| Cached {
                    value: value.clone(),
                    audience: token_endpoint.to_owned(),
                    expires_on: Some(exp),
                    stamp: None,
                });
                Ok(value)
            }
            Source::File(path) => {
                let unreadable = |e: std::io::Error| {
                    Error::Credential(format!(
                        "cannot read the federated token file {}: {e}",
                        path.display()
                    ))
                };
                let stamp = FileStamp::of(&tokio::fs::metadata(path).await.map_err(unreadable)?);
                let mut cached = self.cached.lock().await;
                if let Some(c) = cached.as_ref()
                    && c.stamp.as_ref() == Some(&stamp)
                {
                    return Ok(c.value.clone());
                }
                let text = read_limited(path).await.map_err(unreadable)?;
                let value = checked(
                    text.trim(),
                    &format!("the federated token file {} holds", path.display()),
                )?;
                if cached.is_some() {
                    tracing::debug!(file = %path.display(), "the federated token file changed; using the new token");
                }
                *cached = Some(Cached {
                    value: value.clone(),
                    audience: String::new(),
                    expires_on: jwt_expiry(&value),
                    stamp: Some(stamp),
                });
                Ok(value)
            }
            Source::ManagedIdentity(managed_identity) => {
                let token = managed_identity
                    .get_token(&[TOKEN_EXCHANGE_SCOPE])
                    .await
                    .map_err(|e| {
                        Error::Credential(format!(
                            "the managed identity could not provide the federated assertion: {e}"
                        ))
                    })?;
                Ok(token.secret().to_owned())
            }
        }
    }
}

/// Reads a federated token file, refusing files larger than 64 KiB (a
/// service-account token is about 1 KiB).
async fn read_limited(path: &Path) -> Result<String, std::io::Error> {
    let bytes = tokio::fs::read(path).await?;
    if bytes.len() > 64 * 1024 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than 64 KiB: not a token",
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8: not a token"))
}

/// An assertion must be one non-empty token without whitespace (a JWT).
fn checked(value: &str, what: &str) -> Result<String, Error> {
    if value.is_empty() {
        return Err(Error::Credential(format!("{what} an empty assertion")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) || value.split('.').count() != 3 {
        return Err(Error::Credential(format!(
            "{what} something that is not a JWT"
        )));
    }
    Ok(value.to_owned())
}

/// The `exp` of a JWT, read without verifying it (the assertion is the
/// issuer's to sign and Entra's to check; this only decides when to fetch
/// a new one).
pub(crate) fn jwt_expiry(jwt: &str) -> Option<i64> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("exp")?.as_i64()
}

impl fmt::Debug for ClientAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Callback(_) => f
                .debug_struct("ClientAssertion")
                .field("source", &"callback")
                .finish_non_exhaustive(),
            Source::File(path) => f
                .debug_struct("ClientAssertion")
                .field("source", &"file")
                .field("path", path)
                .finish_non_exhaustive(),
            Source::ManagedIdentity(mi) => f
                .debug_struct("ClientAssertion")
                .field("source", &"managed identity")
                .field("managed_identity", mi)
                .finish_non_exhaustive(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_expiry_is_read_from_the_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"exp":1800000000,"sub":"x"}"#);
        assert_eq!(
            jwt_expiry(&format!("e30.{payload}.sig")),
            Some(1_800_000_000)
        );
        assert_eq!(jwt_expiry("e30.e30.sig"), None);
        assert_eq!(jwt_expiry("garbage"), None);
        assert!(checked("a.b.c", "x").is_ok());
        assert!(checked("", "x").is_err());
        assert!(checked("a.b", "x").is_err());
        assert!(checked("a.b .c", "x").is_err());
    }
}
