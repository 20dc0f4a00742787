//! Workload identity federation at the token endpoint: a client assertion
//! (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`)
//! that another issuer signed, accepted for an application whose
//! federated identity credential trusts that issuer, subject and audience.
//!
//! Entra's order and answers:
//!
//! 1. No credential of the application names the assertion's `iss`
//!    (compared exactly): AADSTS700211, before anything is fetched: the
//!    emulator never fetches keys from an issuer nobody configured.
//! 2. None of those names its `sub`: AADSTS700213; none names its `aud`:
//!    AADSTS700212; no single credential names both: AADSTS70021.
//! 3. The signature and lifetime, judged by `entra-auth`'s validator with
//!    the issuer's keys: from its discovery document
//!    (`{iss}/.well-known/openid-configuration`, over HTTPS, or HTTP on a
//!    loopback host), or, for the emulator's own tenants' issuers, their key
//!    sets directly. Expired or not yet valid: AADSTS700024; a bad
//!    signature, an unknown key, or keys that cannot be fetched: AADSTS700027.
//!
//! Validators are cached per issuer and audience, so an issuer's keys are
//! fetched once and refreshed in the background as for any API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use entra_auth::{AuthConfig, Error as AuthError, Validator};
use entra_core::claims::{self, Claims};
use entra_core::{Clock, InvalidToken, jws};
use http::StatusCode;

use crate::client_auth::{ASSERTION_TYPE, Form};
use crate::config::{Application, FederatedIdentityCredential, Tenant};
use crate::error::OAuthError;
use crate::state::{State, lock};

/// Where workload identity federation is documented (Entra's errors link it).
const DOCS: &str = "https://learn.microsoft.com/entra/workload-id/workload-identity-federation";

/// Validators of external issuers, by `(issuer, audience)`, and the HTTP
/// client they share.
#[derive(Debug, Default)]
pub(crate) struct IssuerCache {
    validators: Mutex<HashMap<(String, String), Validator>>,
    http: Mutex<Option<reqwest::Client>>,
}

impl IssuerCache {
    fn http(&self) -> Result<reqwest::Client, String> {
        let mut slot = lock(&self.http);
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("entra-emulator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

/// What the unverified assertion says.
struct Presented {
    iss: String,
    sub: String,
    aud: Vec<String>,
}

fn presented(assertion: &str) -> Option<Presented> {
    let segments = jws::split(assertion).ok()?;
    let claims = Claims::read(&segments.payload).ok()?;
    let iss = claims::string(&claims.iss).ok().flatten()?.to_owned();
    let sub = claims::string(&claims.sub)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    // `aud`: one string, or an array of them.
    let aud = match claims::string(&claims.aud) {
        Ok(Some(one)) => vec![one.to_owned()],
        _ => claims::strings(&claims.aud).unwrap_or_default(),
    };
    Some(Presented { iss, sub, aud })
}

/// Judges the request's client assertion when it is a federated one: a
/// `jwt-bearer` assertion whose `iss` is not the client id (a certificate
/// assertion's is), for a client of `tenant` that has federated credentials
/// or no certificate. `None`: not federated (the certificate path, or no
/// assertion, judges it).
pub(crate) async fn verify(
    state: &Arc<State>,
    tenant: &Tenant,
    form: &Form,
) -> Option<Result<(), OAuthError>> {
    if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
        return None;
    }
    let assertion = form.get("client_assertion")?;
    let client_id = form.get("client_id")?;
    let presented = presented(assertion)?;
    if presented.iss.eq_ignore_ascii_case(client_id) {
        return None;
    }
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(client_id))?;
    // An app with certificates and no federated credential: a certificate
    // assertion with the wrong `iss`, judged (and refused) as one.
    if app.federated_identity_credentials.is_empty() && !app.key_credentials.is_empty() {
        return None;
    }
    Some(judge(state, app, assertion, &presented).await)
}

async fn judge(
    state: &Arc<State>,
    app: &Application,
    assertion: &str,
    presented: &Presented,
) -> Result<(), OAuthError> {
    let credential = matching(app, presented)?;
    let audience = credential
        .audiences
        .iter()
        .find(|a| presented.aud.contains(a))
        .cloned()
        .unwrap_or_default();
    let validator = validator(state, &credential.issuer, &audience)?;
    match validator.validate(assertion).await {
        Ok(_) => {
            tracing::debug!(app_id = %app.app_id, credential = %credential.name, "federated assertion accepted");
            Ok(())
        }
        Err(error) => Err(refusal(&error, &presented.iss)),
    }
}

/// The credential that names the assertion's issuer, subject and audience.
fn matching<'a>(
    app: &'a Application,
    presented: &Presented,
) -> Result<&'a FederatedIdentityCredential, OAuthError> {
    let by_issuer: Vec<&FederatedIdentityCredential> = app
        .federated_identity_credentials
        .iter()
        .filter(|c| c.issuer == presented.iss)
        .collect();
    let unmatched = |code: u32, what: &str, value: &str| {
        OAuthError::new(
            "invalid_client",
            code,
            format!(
                "No matching federated identity record found for presented assertion {what} '{value}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. {DOCS}"
            ),
        )
        .status(StatusCode::UNAUTHORIZED)
    };
    if by_issuer.is_empty() {
        return Err(unmatched(700_211, "issuer", &presented.iss));
    }
    let names_subject = |c: &&&FederatedIdentityCredential| c.subject == presented.sub;
    let names_audience =
        |c: &&&FederatedIdentityCredential| c.audiences.iter().any(|a| presented.aud.contains(a));
    if !by_issuer.iter().any(|c| names_subject(&c)) {
        return Err(unmatched(700_213, "subject", &presented.sub));
    }
    if !by_issuer.iter().any(|c| names_audience(&c)) {
        return Err(unmatched(700_212, "audience", &presented.aud.join(", ")));
    }
    by_issuer
        .into_iter()
        .find(|c| names_subject(&c) && names_audience(&c))
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                70_021,
                format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'. {DOCS}",
                    presented.iss,
                    presented.sub,
                    presented.aud.join(", ")
                ),
            )
        })
}

/// A validator for `issuer`'s tokens with `audience`: the emulator's own
/// tenant's keys for its own issuers (fresh each time: keys rotate), else a
/// cached validator fed by the issuer's discovery document.
fn validator(state: &Arc<State>, issuer: &str, audience: &str) -> Result<Validator, OAuthError> {
    let weak: Weak<State> = Arc::downgrade(state);
    let clock = Clock::from_fn(move || weak.upgrade().map_or_else(crate::util::now, |s| s.now()));
    let builder = AuthConfig::builder()
        .client_id(audience)
        .allow_acl_tokens(true)
        .token_cache(false)
        .clock(clock);
    let keys_unavailable = |reason: String| {
        tracing::warn!(%issuer, %reason, "federated issuer unusable");
        signature_refusal(&format!(
            "the signing keys of issuer '{issuer}' could not be obtained"
        ))
    };
    let directory = state.dir();
    let own = directory.tenants.iter().find_map(|t| {
        let v2 = state.issuer_v2(&t.tenant_id);
        let v1 = state.issuer_v1(&t.tenant_id);
        (issuer == v2 || issuer == v1).then_some((t.tenant_id.clone(), v2, v1))
    });
    let http = state.federated_issuers.http().map_err(keys_unavailable)?;
    if let Some((tid, v2, v1)) = own {
        let now = state.now();
        let keys: Vec<serde_json::Value> = state
            .keys
            .published(&tid, now)
            .iter()
            .map(|key| key.jwk(None))
            .collect();
        let jwks = serde_json::json!({ "keys": keys }).to_string();
        let config = builder
            .static_keys(Some(v2), Some(v1), jwks)
            .build()
            .map_err(|e| keys_unavailable(e.to_string()))?;
        return Validator::with_http_client(config, http)
            .map_err(|e| keys_unavailable(e.to_string()));
    }
    let key = (issuer.to_owned(), audience.to_owned());
    let mut validators = lock(&state.federated_issuers.validators);
    if let Some(validator) = validators.get(&key) {
        return Ok(validator.clone());
    }
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let config = builder
        .oidc_discovery(discovery, Some(issuer.to_owned()))
        .build()
        .map_err(|e| keys_unavailable(e.to_string()))?;
    let validator =
        Validator::with_http_client(config, http).map_err(|e| keys_unavailable(e.to_string()))?;
    validators.insert(key, validator.clone());
    Ok(validator)
}

fn signature_refusal(detail: &str) -> OAuthError {
    OAuthError::new(
        "invalid_client",
        700_027,
        format!("Client assertion failed signature validation: {detail}."),
    )
    .status(StatusCode::UNAUTHORIZED)
}

/// Entra's answer to an assertion the validator refused.
fn refusal(error: &AuthError, issuer: &str) -> OAuthError {
    match error {
        AuthError::InvalidToken(
            InvalidToken::Expired | InvalidToken::NotYetValid | InvalidToken::IssuedInFuture,
        ) => OAuthError::new(
            "invalid_client",
            700_024,
            "Client assertion is not within its valid time range.",
        )
        .status(StatusCode::UNAUTHORIZED),
        AuthError::InvalidToken(reason) => signature_refusal(reason.description()),
        AuthError::KeysUnavailable { .. } => signature_refusal(&format!(
            "the signing keys of issuer '{issuer}' could not be obtained"
        )),
        other => signature_refusal(&other.to_string()),
    }
}
