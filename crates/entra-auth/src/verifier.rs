//! What the access-token and ID-token validators share: one constructor path
//! (HTTP client, key cache, background refresh) and one claim-check path
//! (the token core's [`Rules`], filled from the configuration and the
//! current key snapshot).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use entra_core::InvalidToken;
use entra_core::claims::Claims;
use entra_core::jws::{self, Parsed, Profile};
use entra_core::rules::{Audience, Checked, Entra, Kind, Rules};
use tokio::sync::watch;

use crate::Error;
use crate::config::AuthConfig;
use crate::keys::{KeyStore, Lookup, SigningKey, Snapshot, spawn_refresher};

/// The configuration, the key cache, and the rules they make.
#[derive(Debug)]
pub(crate) struct Verifier {
    pub(crate) config: AuthConfig,
    pub(crate) keys: Arc<KeyStore>,
}

/// Why a token could not be judged against a key.
pub(crate) enum KeyError {
    Invalid(InvalidToken),
    Unavailable {
        retry_after: Duration,
        reason: String,
    },
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Invalid(reason) => Error::InvalidToken(reason),
            KeyError::Unavailable {
                retry_after,
                reason,
            } => Error::KeysUnavailable {
                retry_after,
                reason,
            },
        }
    }
}

impl Verifier {
    /// Builds the key cache with `http`, or with a client of its own (rustls,
    /// the platform's trusted roots, no redirects, the configured timeout),
    /// and starts its background refresh.
    pub(crate) fn new(config: AuthConfig, http: Option<reqwest::Client>) -> Result<Self, Error> {
        let http = match http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .connect_timeout(config.fetch_timeout.min(Duration::from_secs(5)))
                .timeout(config.fetch_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("entra-auth/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?,
        };
        let keys = KeyStore::new(&config, http)?;
        spawn_refresher(&keys);
        Ok(Verifier { config, keys })
    }

    /// Resolves once signing keys are loaded (immediately if they are).
    pub(crate) fn ready(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx: watch::Receiver<bool> = self.keys.subscribe();
        async move {
            let _ = rx.wait_for(|ready| *ready).await;
        }
    }

    /// The structure and header of a token, by the only profile Entra signs
    /// with, after the size limit.
    pub(crate) fn parse<'t>(&self, token: &'t str) -> Result<Parsed<'t>, InvalidToken> {
        if token.len() > self.config.max_token_size {
            return Err(InvalidToken::Malformed);
        }
        jws::parse(token, &Profile::ACCESS_TOKEN)
    }

    /// The key that signed `parsed`, refreshing the key set on an unknown
    /// `kid` (at most once per the configured interval).
    pub(crate) async fn key(
        &self,
        parsed: &Parsed<'_>,
    ) -> Result<(Arc<SigningKey>, Arc<Snapshot>), KeyError> {
        let header = &parsed.header;
        match self
            .keys
            .lookup(header.kid.as_deref(), header.x5t.as_deref())
            .await
        {
            Lookup::Found(key, snapshot) => Ok((key, snapshot)),
            Lookup::Unknown => Err(KeyError::Invalid(InvalidToken::UnknownKey)),
            Lookup::Unavailable {
                retry_after,
                reason,
            } => Err(KeyError::Unavailable {
                retry_after,
                reason,
            }),
        }
    }

    /// The rules for a token of `kind` for `audience`, now.
    pub(crate) fn rules<'a>(
        &'a self,
        snapshot: &'a Snapshot,
        audience: Audience<'a>,
        kind: Kind,
    ) -> Rules<'a> {
        let config = &self.config;
        Rules {
            now: config.clock.now(),
            skew: config.clock_skew,
            issuers: &snapshot.issuers,
            entra: config.entra_claims.then_some(Entra {
                v1: config.versions.v1(),
                v2: config.versions.v2(),
                tenants: &config.tenants,
            }),
            audience,
            kind,
        }
    }

    /// The signature, then every claim rule, in Microsoft's order.
    pub(crate) fn check<'p>(
        &self,
        parsed: &Parsed<'_>,
        payload: &'p [u8],
        key: &SigningKey,
        rules: &Rules<'_>,
    ) -> Result<(Claims<'p>, Checked), InvalidToken> {
        verify_signature(parsed, key)?;
        let mut claims = Claims::read(payload)?;
        self.config.scope_claim.apply(&mut claims);
        let checked = rules.check(&claims, key.issuer.as_deref())?;
        Ok((claims, checked))
    }
}

/// The signature over `header.payload`, with the key's parsed verifier.
pub(crate) fn verify_signature(parsed: &Parsed<'_>, key: &SigningKey) -> Result<(), InvalidToken> {
    key.verifier
        .verify_sig(parsed.signing_input.as_bytes(), &parsed.signature)
        .map_err(|_| InvalidToken::BadSignature)
}
