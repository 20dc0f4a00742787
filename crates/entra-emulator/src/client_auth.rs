//! Who is calling the token endpoint: a client secret in the form body
//! (MSAL), HTTP Basic (authlib, most OAuth libraries), a `private_key_jwt`
//! client assertion signed with a registered certificate (RS256 or PS256,
//! `x5t` or `x5t#S256`, padding-insensitive thumbprints; judged by the
//! token core, `entra-core`), or nothing (public clients).

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use entra_core::InvalidToken;
use entra_core::claims::{self, Claims};
use entra_core::jws::{self, Profile};
use entra_core::rules::{Audience, Issuers, Kind, Rules};
use http::{HeaderMap, StatusCode, header};

use crate::config::{Application, Tenant};
use crate::error::OAuthError;
use crate::tokens::ClientAcr;
use crate::util::secrets_equal;

/// The assertion type of `private_key_jwt`.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A form's parameters, each at most once.
#[derive(Debug, Default, Clone)]
pub(crate) struct Form(pub(crate) Vec<(String, String)>);

impl Form {
    /// Parses `application/x-www-form-urlencoded`; a repeated parameter is an error.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            if pairs.iter().any(|(name, _)| *name == k) {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter '{k}' is repeated."
                )));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Form(pairs))
    }

    /// A parameter's value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// A required parameter (AADSTS900144 when missing).
    pub(crate) fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| {
            OAuthError::invalid_request(format!(
                "The request body must contain the following parameter: '{name}'."
            ))
        })
    }
}

/// An authenticated (or public) client.
#[derive(Debug, Clone)]
pub(crate) struct Client<'a> {
    /// Its registration, in the tenant the request is for.
    pub(crate) app: &'a Application,
    /// How it authenticated.
    pub(crate) acr: ClientAcr,
}

impl Client<'_> {
    /// Refuses a client that did not authenticate (AADSTS7000218).
    pub(crate) fn require_credential(&self) -> Result<(), OAuthError> {
        if self.acr == ClientAcr::Public {
            return Err(OAuthError::new(
                "invalid_client",
                7_000_218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )
            .status(StatusCode::UNAUTHORIZED));
        }
        Ok(())
    }
}

/// Authenticates the caller of the token endpoint.
///
/// `token_endpoints` are the URLs a client assertion's `aud` may name;
/// `federated` is the verdict on a federated assertion
/// ([`crate::federated::verify`]), when the assertion is one.
pub(crate) fn authenticate<'a>(
    tenant: &'a Tenant,
    form: &Form,
    headers: &HeaderMap,
    token_endpoints: &[String],
    federated: Option<Result<(), OAuthError>>,
    now: i64,
) -> Result<Client<'a>, OAuthError> {
    let basic = basic_credentials(headers)?;
    let assertion = match (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) {
        (Some(ASSERTION_TYPE), Some(assertion)) => Some(assertion),
        (Some(other), _) if other != ASSERTION_TYPE => {
            return Err(OAuthError::invalid_request(format!(
                "The client_assertion_type '{other}' is not supported."
            )));
        }
        (Some(_), None) => return Err(OAuthError::invalid_request("client_assertion is missing.")),
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client_assertion_type is missing.",
            ));
        }
        _ => None,
    };
    let client_id = match (&basic, form.get("client_id")) {
        (Some((id, _)), Some(form_id)) if id != form_id => {
            return Err(OAuthError::invalid_request(
                "The client_id in the body differs from the one in the Authorization header.",
            ));
        }
        (Some((id, _)), _) => id.clone(),
        (None, Some(id)) => id.to_owned(),
        (None, None) => match assertion.and_then(assertion_issuer) {
            Some(id) => id,
            None => {
                return Err(OAuthError::invalid_request(
                    "The request body must contain the following parameter: 'client_id'.",
                ));
            }
        },
    };
    let app = tenant
        .applications
        .iter()
        .find(|a| a.app_id.eq_ignore_ascii_case(&client_id))
        .ok_or_else(|| OAuthError::unknown_client(&client_id, &tenant.tenant_id))?;

    let secret = match (basic.map(|(_, s)| s), form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "The client secret was sent twice.",
            ));
        }
        (Some(s), None) => Some(s),
        (None, Some(s)) => Some(s.to_owned()),
        (None, None) => None,
    };
    if secret.is_some() && assertion.is_some() {
        return Err(OAuthError::invalid_request(
            "Send either client_secret or client_assertion, not both.",
        ));
    }
    if (secret.is_some() || assertion.is_some()) && !app.is_confidential() {
        return Err(OAuthError::new(
            "invalid_client",
            700_025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
        ));
    }
    if let Some(secret) = secret {
        check_secret(app, &secret, now)?;
        return Ok(Client {
            app,
            acr: ClientAcr::Secret,
        });
    }
    if let Some(assertion) = assertion {
        match federated {
            Some(verdict) => verdict?,
            None => check_assertion(app, assertion, token_endpoints, now)?,
        }
        return Ok(Client {
            app,
            acr: ClientAcr::Certificate,
        });
    }
    Ok(Client {
        app,
        acr: ClientAcr::Public,
    })
}

/// `Authorization: Basic base64(id:secret)`: each part form-decoded (RFC 6749
/// §2.3.1), falling back to the raw text for clients that do not encode.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || {
        OAuthError::new(
            "invalid_client",
            7_000_215,
            "The Authorization header is not valid Basic authentication.",
        )
        .status(StatusCode::UNAUTHORIZED)
    };
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let decode = |s: &str| -> String {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map_or_else(|| s.to_owned(), |(_, v)| v.into_owned())
    };
    Ok(Some((decode(id), decode(secret))))
}

fn check_secret(app: &Application, secret: &str, now: i64) -> Result<(), OAuthError> {
    let matching = app
        .password_credentials
        .iter()
        .find(|c| secrets_equal(&c.secret_text, secret));
    match matching {
        Some(c) if c.end_date_time.is_some_and(|end| end < now) => Err(OAuthError::new(
            "invalid_client",
            7_000_222,
            format!(
                "The provided client secret keys for app '{}' are expired.",
                app.app_id
            ),
        )
        .status(StatusCode::UNAUTHORIZED)),
        Some(_) => Ok(()),
        None => Err(OAuthError::invalid_secret()),
    }
}

/// The `iss` of an assertion, to name the client when the request does not.
/// Nothing is trusted yet: the assertion is judged once the client is known.
fn assertion_issuer(assertion: &str) -> Option<String> {
    let segments = jws::split(assertion).ok()?;
    let claims = Claims::read(&segments.payload).ok()?;
    claims::string(&claims.iss)
        .ok()
        .flatten()
        .map(str::to_owned)
}

fn assertion_error(description: &str) -> OAuthError {
    OAuthError::new("invalid_client", 700_027, description.to_owned())
        .status(StatusCode::UNAUTHORIZED)
}

/// Decodes base64url or base64, with or without padding (MSAL pads its thumbprints).
fn lenient_b64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD.decode(trimmed).ok().or_else(|| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(trimmed)
            .ok()
    })
}

/// Clock skew Entra tolerates on a client assertion's `exp` and `nbf`.
const ASSERTION_SKEW: i64 = 300;

/// A `private_key_jwt` client assertion (RFC 7523 §3), judged by the token
/// core as Entra judges it: the compact JWS and its header (RS256 or PS256,
/// a certificate chain tolerated and ignored), the registered certificate by
/// thumbprint, the signature, then `iss` and `sub` the client id, `aud` this
/// token endpoint, and the lifetime.
fn check_assertion(
    app: &Application,
    assertion: &str,
    token_endpoints: &[String],
    now: i64,
) -> Result<(), OAuthError> {
    let parsed = jws::parse(assertion, &Profile::CLIENT_ASSERTION).map_err(|reason| {
        assertion_error(match reason {
            InvalidToken::Algorithm => "Client assertion must be signed with RS256 or PS256.",
            InvalidToken::Encrypted => "Client assertion is encrypted: sign it instead.",
            _ => "Client assertion is not a compact JWS with a valid header.",
        })
    })?;
    let algorithm: &'static dyn signature::VerificationAlgorithm = match parsed.header.alg.as_str()
    {
        "PS256" => &signature::RSA_PSS_2048_8192_SHA256,
        _ => &signature::RSA_PKCS1_2048_8192_SHA256,
    };
    // Find the registered certificate by thumbprint.
    let wanted_sha256 = parsed.header.x5t_s256.as_deref().and_then(lenient_b64);
    let wanted_sha1 = parsed.header.x5t.as_deref().and_then(lenient_b64);
    if wanted_sha256.is_none() && wanted_sha1.is_none() {
        return Err(assertion_error(
            "Client assertion has neither x5t nor x5t#S256.",
        ));
    }
    let mut key = None;
    for credential in &app.key_credentials {
        let Some(der) = certificate_der(&credential.certificate_pem) else {
            continue;
        };
        let sha256 = digest::digest(&digest::SHA256, &der);
        let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &der);
        let matches = wanted_sha256.as_deref() == Some(sha256.as_ref())
            || wanted_sha1.as_deref() == Some(sha1.as_ref());
        if matches {
            key = spki(&der);
            break;
        }
    }
    let Some(spki) = key else {
        return Err(assertion_error(
            "The certificate with the thumbprint in the client assertion is not registered for the application.",
        ));
    };
    let verifier = ParsedPublicKey::new(algorithm, spki)
        .map_err(|_| assertion_error("The registered certificate's key is not usable."))?;
    verifier
        .verify_sig(parsed.signing_input.as_bytes(), &parsed.signature)
        .map_err(|_| assertion_error("Client assertion failed signature validation."))?;

    let claims = Claims::read(&parsed.payload)
        .map_err(|_| assertion_error("Client assertion payload is not valid JSON."))?;
    let issuers = Issuers {
        v2: Some(app.app_id.clone()),
        v1: None,
    };
    let rules = Rules {
        now,
        skew: ASSERTION_SKEW,
        issuers: &issuers,
        entra: None,
        audience: Audience::AnyOf(token_endpoints),
        kind: Kind::Assertion,
    };
    let sub_is_client = claims::string(&claims.sub).ok().flatten() == Some(app.app_id.as_str());
    if rules.issuer(&claims).is_err() || !sub_is_client {
        return Err(assertion_error(
            "Client assertion iss and sub must be the client id.",
        ));
    }
    if rules.audience(&claims).is_err() {
        return Err(assertion_error(
            "Client assertion audience is not this token endpoint.",
        ));
    }
    if rules.lifetime(&claims).is_err() {
        return Err(OAuthError::new(
            "invalid_client",
            700_024,
            "Client assertion is not within its valid time range.",
        )
        .status(StatusCode::UNAUTHORIZED));
    }
    Ok(())
}

/// The DER of the first certificate in `pem`.
pub(crate) fn certificate_der(pem: &str) -> Option<Vec<u8>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(pem.contents)
}

fn spki(der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(cert.tbs_certificate.subject_pki.raw.to_vec())
}
