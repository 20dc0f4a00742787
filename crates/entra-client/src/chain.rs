//! [`DefaultAzureCredential`]: the credential chain of azure-identity's
//! `DefaultAzureCredential`, for code that runs unchanged on a developer's
//! machine, in Kubernetes and on Azure compute.
//!
//! The steps, in order:
//!
//! 1. **EnvironmentCredential**: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and
//!    either `AZURE_CLIENT_SECRET` or `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM
//!    file holding the private key and the certificate);
//! 2. **WorkloadIdentityCredential**: `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`
//!    and `AZURE_FEDERATED_TOKEN_FILE` (what the AKS workload identity
//!    webhook injects);
//! 3. **ManagedIdentityCredential**: `IDENTITY_ENDPOINT` + `IDENTITY_HEADER`
//!    (App Service, Container Apps, Functions), else IMDS; a user-assigned
//!    identity by `AZURE_CLIENT_ID`, as azure-identity does.
//!
//! Both confidential steps use `AZURE_AUTHORITY_HOST` (default
//! `https://login.microsoftonline.com`).
//!
//! A step that is not configured (or finds no managed identity endpoint) is
//! *unavailable*, and the next one is tried; a step that is configured but
//! fails (a wrong secret, an unreadable token file, a refusal) ends the
//! chain, as azure-identity's does. Either way the error,
//! [`Error::CredentialChain`], names every step tried and why it failed.
//! The first step that gives a token is used from then on. Tokens are
//! cached and renewed before they expire by the step's own credential.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::assertion::ClientAssertion;
use crate::cache::TokenCache;
use crate::client::ConfidentialClient;
use crate::config::{Clock, DEFAULT_AUTHORITY_HOST};
use crate::credential::{Certificate, ClientCredential};
use crate::managed_identity::{
    ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource, RetryPolicy,
};
use crate::token::AccessToken;
use crate::{Client, Error};

/// The settings the chain reads, under the Azure SDK's variable names.
/// Build it from the environment with [`from_lookup`](Self::from_lookup),
/// or fill it yourself.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct EnvironmentSettings {
    /// `AZURE_TENANT_ID`.
    pub tenant_id: Option<String>,
    /// `AZURE_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `AZURE_CLIENT_SECRET`.
    pub client_secret: Option<String>,
    /// `AZURE_CLIENT_CERTIFICATE_PATH`: a PEM file with key and certificate.
    pub client_certificate_path: Option<String>,
    /// `AZURE_FEDERATED_TOKEN_FILE`.
    pub federated_token_file: Option<String>,
    /// `AZURE_AUTHORITY_HOST`.
    pub authority_host: Option<String>,
    /// `IDENTITY_ENDPOINT`.
    pub identity_endpoint: Option<String>,
    /// `IDENTITY_HEADER`.
    pub identity_header: Option<String>,
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (another IMDS host).
    pub pod_identity_authority_host: Option<String>,
}

impl EnvironmentSettings {
    /// Reads each variable through `lookup` (`|name| std::env::var(name).ok()`
    /// in a binary; the library reads no variable itself). Empty values
    /// count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        EnvironmentSettings {
            tenant_id: var("AZURE_TENANT_ID"),
            client_id: var("AZURE_CLIENT_ID"),
            client_secret: var("AZURE_CLIENT_SECRET"),
            client_certificate_path: var("AZURE_CLIENT_CERTIFICATE_PATH"),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE"),
            authority_host: var("AZURE_AUTHORITY_HOST"),
            identity_endpoint: var("IDENTITY_ENDPOINT"),
            identity_header: var("IDENTITY_HEADER"),
            pod_identity_authority_host: var("AZURE_POD_IDENTITY_AUTHORITY_HOST"),
        }
    }

    /// The same settings as `from_lookup` would read them (for the
    /// managed identity source).
    fn lookup(&self, name: &str) -> Option<String> {
        match name {
            "IDENTITY_ENDPOINT" => self.identity_endpoint.clone(),
            "IDENTITY_HEADER" => self.identity_header.clone(),
            "AZURE_POD_IDENTITY_AUTHORITY_HOST" => self.pod_identity_authority_host.clone(),
            _ => None,
        }
    }
}

impl fmt::Debug for EnvironmentSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |v: &Option<String>| v.as_ref().map(|_| "<set>");
        f.debug_struct("EnvironmentSettings")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &set(&self.client_secret))
            .field("client_certificate_path", &self.client_certificate_path)
            .field("federated_token_file", &self.federated_token_file)
            .field("authority_host", &self.authority_host)
            .field("identity_endpoint", &self.identity_endpoint)
            .field("identity_header", &set(&self.identity_header))
            .field(
                "pod_identity_authority_host",
                &self.pod_identity_authority_host,
            )
            .finish()
    }
}

/// One step of the chain, as built.
#[derive(Debug, Clone)]
enum Step {
    /// A confidential client (environment or workload identity).
    Client(ConfidentialClient),
    /// A managed identity.
    ManagedIdentity(ManagedIdentityCredential),
    /// Not configured: why.
    Unavailable(String),
    /// Configured, but wrongly: the error, reported when the chain reaches it.
    Broken(Error),
}

/// One credential tried by the chain, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainAttempt {
    /// The credential's name (`EnvironmentCredential`,
    /// `WorkloadIdentityCredential`, `ManagedIdentityCredential`).
    pub credential: String,
    /// Whether it was unavailable (not configured, no endpoint) rather than
    /// configured and failing.
    pub unavailable: bool,
    /// Why it gave no token.
    pub reason: String,
}

/// Every credential the chain tried, in order. Its `Display` is
/// azure-identity's message: a first line, then one line per credential.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ChainError {
    /// The attempts, in order.
    pub attempts: Vec<ChainAttempt>,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:"
        )?;
        for attempt in &self.attempts {
            write!(f, "\n\t{}: {}", attempt.credential, attempt.reason)?;
        }
        Ok(())
    }
}

/// Builds a [`DefaultAzureCredential`].
#[derive(Debug)]
pub struct DefaultAzureCredentialBuilder {
    settings: EnvironmentSettings,
    managed_identity: Option<ManagedIdentityId>,
    http: Option<reqwest::Client>,
    cache: Option<TokenCache>,
    clock: Clock,
    retry: RetryPolicy,
    probe_timeout: Duration,
    expiry_margin: Duration,
    allow_insecure_http: bool,
}

impl DefaultAzureCredentialBuilder {
    /// The user-assigned managed identity to use (default: by
    /// `AZURE_CLIENT_ID` when set, else the system-assigned one).
    pub fn managed_identity(mut self, id: ManagedIdentityId) -> Self {
        self.managed_identity = Some(id);
        self
    }

    /// The HTTP client of every step.
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Where every step keeps its tokens (default: in memory).
    pub fn token_cache(mut self, cache: TokenCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The clock tokens are judged by.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// How the managed identity endpoint's failures are retried.
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long the first managed identity request may take before the
    /// step counts as unavailable (default 1 second).
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.probe_timeout = timeout;
        self
    }

    /// Tokens are renewed when they are valid for less than this (default
    /// 5 minutes).
    pub fn expiry_margin(mut self, margin: Duration) -> Self {
        self.expiry_margin = margin;
        self
    }

    /// Allows a plain-`http` authority host that is not loopback.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Builds the chain. Nothing is fetched yet; misconfiguration of a step
    /// is reported when the chain reaches it.
    pub fn build(self) -> DefaultAzureCredential {
        let s = &self.settings;
        let environment = match (&s.tenant_id, &s.client_id) {
            (Some(tenant), Some(client)) => {
                if let Some(secret) = &s.client_secret {
                    self.client(tenant, client, ClientCredential::secret(secret.clone()))
                } else if let Some(path) = &s.client_certificate_path {
                    match certificate(path) {
                        Ok(certificate) => {
                            self.client(tenant, client, ClientCredential::certificate(certificate))
                        }
                        Err(e) => Step::Broken(e),
                    }
                } else {
                    Step::Unavailable(
                        "EnvironmentCredential authentication unavailable. Environment variables are not fully configured: neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set".into(),
                    )
                }
            }
            _ => Step::Unavailable(format!(
                "EnvironmentCredential authentication unavailable. Environment variables are not fully configured: {} unset",
                missing(&[
                    ("AZURE_TENANT_ID", &s.tenant_id),
                    ("AZURE_CLIENT_ID", &s.client_id)
                ])
            )),
        };
        let workload = match (&s.tenant_id, &s.client_id, &s.federated_token_file) {
            (Some(tenant), Some(client), Some(file)) => self.client(
                tenant,
                client,
                ClientCredential::assertion(ClientAssertion::from_file(file)),
            ),
            _ => Step::Unavailable(format!(
                "WorkloadIdentityCredential authentication unavailable. The workload options are not fully configured: {} unset",
                missing(&[
                    ("AZURE_TENANT_ID", &s.tenant_id),
                    ("AZURE_CLIENT_ID", &s.client_id),
                    ("AZURE_FEDERATED_TOKEN_FILE", &s.federated_token_file),
                ])
            )),
        };
        let managed = match ManagedIdentitySource::from_lookup(|name| s.lookup(name)) {
            Ok(source) => {
                let id = self.managed_identity.clone().unwrap_or_else(|| {
                    s.client_id.clone().map_or(
                        ManagedIdentityId::SystemAssigned,
                        ManagedIdentityId::ClientId,
                    )
                });
                let mut builder = ManagedIdentityCredential::builder()
                    .source(source)
                    .identity(id)
                    .retry_policy(self.retry.clone())
                    .clock(self.clock.clone())
                    .expiry_margin(self.expiry_margin)
                    .probe_timeout(self.probe_timeout);
                if let Some(http) = &self.http {
                    builder = builder.http_client(http.clone());
                }
                if let Some(cache) = &self.cache {
                    builder = builder.token_cache(cache.clone());
                }
                match builder.build() {
                    Ok(credential) => Step::ManagedIdentity(credential),
                    Err(e) => Step::Broken(e),
                }
            }
            Err(e) => Step::Broken(e),
        };
        DefaultAzureCredential {
            inner: Arc::new(ChainInner {
                steps: vec![
                    ("EnvironmentCredential", environment),
                    ("WorkloadIdentityCredential", workload),
                    ("ManagedIdentityCredential", managed),
                ],
                chosen: AtomicUsize::new(usize::MAX),
            }),
        }
    }

    /// A confidential client step.
    fn client(&self, tenant: &str, client_id: &str, credential: ClientCredential) -> Step {
        let mut builder = Client::builder(tenant, client_id)
            .authority_host(
                self.settings
                    .authority_host
                    .clone()
                    .unwrap_or_else(|| DEFAULT_AUTHORITY_HOST.to_owned())
                    .trim_end_matches('/'),
            )
            .allow_insecure_http(self.allow_insecure_http)
            .clock(self.clock.clone())
            .expiry_margin(self.expiry_margin);
        if let Some(http) = &self.http {
            builder = builder.http_client(http.clone());
        }
        if let Some(cache) = &self.cache {
            builder = builder.token_cache(cache.clone());
        }
        match builder.build_confidential(credential) {
            Ok(client) => Step::Client(client),
            Err(e) => Step::Broken(e),
        }
    }
}

/// The names of the unset variables.
fn missing(vars: &[(&str, &Option<String>)]) -> String {
    vars.iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A PEM file with the private key and the certificate.
fn certificate(path: &str) -> Result<Certificate, Error> {
    let pem = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "cannot read AZURE_CLIENT_CERTIFICATE_PATH {path}: {e}"
        ))
    })?;
    Certificate::from_pem(&pem, &pem)
}

/// The chain of azure-identity's `DefaultAzureCredential`: environment,
/// workload identity, managed identity (see the [module](crate::chain)).
/// Cheap to clone; clones share every step's token cache.
///
/// ```no_run
/// use entra_client::{DefaultAzureCredential, EnvironmentSettings};
///
/// # async fn run() -> Result<(), entra_client::Error> {
/// let credential = DefaultAzureCredential::builder(EnvironmentSettings::from_lookup(|name| {
///     std::env::var(name).ok()
/// }))
/// .build();
/// let token = credential
///     .get_token(&["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default"])
///     .await?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DefaultAzureCredential {
    inner: Arc<ChainInner>,
}

#[derive(Debug)]
struct ChainInner {
    steps: Vec<(&'static str, Step)>,
    /// The step that gave a token, once one has.
    chosen: AtomicUsize,
}

impl DefaultAzureCredential {
    /// Starts building the chain from `settings`.
    pub fn builder(settings: EnvironmentSettings) -> DefaultAzureCredentialBuilder {
        DefaultAzureCredentialBuilder {
            settings,
            managed_identity: None,
            http: None,
            cache: None,
            clock: Clock::system(),
            retry: RetryPolicy::default(),
            probe_timeout: Duration::from_secs(1),
            expiry_margin: Duration::from_secs(300),
            allow_insecure_http: false,
        }
    }

    /// The name of the credential that gave the last token, once one has.
    pub fn selected(&self) -> Option<&'static str> {
        let chosen = self.inner.chosen.load(Ordering::Acquire);
        self.inner.steps.get(chosen).map(|(name, _)| *name)
    }

    /// A token for `scopes` (one `{resource}/.default`) from the first
    /// credential that gives one; then always from that one.
    pub async fn get_token<S: AsRef<str>>(&self, scopes: &[S]) -> Result<AccessToken, Error> {
        let chosen = self.inner.chosen.load(Ordering::Acquire);
        if let Some((_, step)) = self.inner.steps.get(chosen) {
            return run(step, scopes).await;
        }
        let mut attempts = Vec::new();
        for (index, (name, step)) in self.inner.steps.iter().enumerate() {
            match run(step, scopes).await {
                Ok(token) => {
                    self.inner.chosen.store(index, Ordering::Release);
                    tracing::debug!(credential = name, "DefaultAzureCredential got a token");
                    return Ok(token);
                }
                Err(Error::CredentialUnavailable(reason)) => {
                    tracing::debug!(credential = name, %reason, "credential unavailable");
                    let reason = if reason.starts_with(name) {
                        reason
                    } else {
                        format!("{name} authentication unavailable. {reason}")
                    };
                    attempts.push(ChainAttempt {
                        credential: (*name).to_owned(),
                        unavailable: true,
                        reason,
                    });
                }
                Err(e) => {
                    tracing::debug!(credential = name, error = %e, "credential failed; the chain stops");
                    attempts.push(ChainAttempt {
                        credential: (*name).to_owned(),
                        unavailable: false,
                        reason: format!("{name} authentication failed: {e}"),
                    });
                    break;
                }
            }
        }
        Err(Error::CredentialChain(Box::new(ChainError { attempts })))
    }
}

async fn run<S: AsRef<str>>(step: &Step, scopes: &[S]) -> Result<AccessToken, Error> {
    match step {
        Step::Client(client) => client.acquire_token_for_client(scopes).await,
        Step::ManagedIdentity(credential) => credential.get_token(scopes).await,
        Step::Unavailable(reason) => Err(Error::CredentialUnavailable(reason.clone())),
        Step::Broken(error) => Err(error.clone()),
    }
}
