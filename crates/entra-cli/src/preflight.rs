//! What `entra web` and `entra api` ask the authority before they serve, so
//! that a misconfiguration is one line and exit code 2 instead of a running
//! app that answers 502 or 503 pages:
//!
//! - the tenant's discovery document: an authority that answers it with an
//!   error (the emulator for a tenant it does not have: a real tenant id
//!   with the emulator's authority) or a host name that does not resolve is
//!   a misconfiguration; an authority that does not answer yet (the emulator
//!   started after the app) only gets a warning, and the app keeps trying;
//! - on the local emulator, whether the app's redirect URI is registered:
//!   when the emulator answers AADSTS50011, the exact `entra emulator
//!   --redirect-uri` command that registers it is printed.

use std::time::Duration;

use crate::Failure;

/// How long each question may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// What the start-up check found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Authority {
    /// The discovery document was read.
    Answers,
    /// Nothing answered (yet): the app starts and keeps trying.
    NotYet,
}

/// Reads the tenant's discovery document once.
pub(crate) async fn check_tenant(
    authority_host: &str,
    tenant: &str,
    local: bool,
) -> Result<Authority, Failure> {
    let host = authority_host.trim().trim_end_matches('/');
    let url = format!("{host}/{tenant}/v2.0/.well-known/openid-configuration");
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))?;
    let response = match client.get(&url).send().await {
        Ok(response) => response,
        Err(e) => return unanswered(&e, host, local),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(Authority::Answers);
    }
    if status.is_server_error() {
        tracing::warn!(
            authority = %host,
            %status,
            "the authority answers with an error for now; retrying in the background"
        );
        return Ok(Authority::NotYet);
    }
    Err(Failure::Misconfigured(if local {
        format!(
            "the emulator at {host} has no tenant {tenant} (it answered {}): a real tenant needs --authority-host https://login.microsoftonline.com (AZURE_AUTHORITY_HOST); for the emulator use one of its tenants (its start-up banner lists them), or leave --tenant and AZURE_TENANT_ID unset",
            status.as_u16()
        )
    } else {
        format!(
            "the authority {host} does not know the tenant {tenant} (it answered {}): check --tenant or AZURE_TENANT_ID",
            status.as_u16()
        )
    }))
}

/// A request that got no answer: a host name that does not resolve or a
/// certificate that is not trusted is a misconfiguration; a refused or slow
/// connection is retried later.
fn unanswered(error: &reqwest::Error, host: &str, local: bool) -> Result<Authority, Failure> {
    let chain = error_chain(error);
    let name = url::Url::parse(host)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| host.to_owned());
    if chain.contains("dns error") || chain.contains("failed to lookup address") {
        return Err(Failure::Misconfigured(format!(
            "the authority host {name} does not resolve: check --authority-host or AZURE_AUTHORITY_HOST"
        )));
    }
    if let Some(why) = untrusted_certificate(&chain) {
        return Err(Failure::Misconfigured(format!(
            "the certificate of {name} is not trusted ({why}): add its CA to the system's trust store, or use the emulator's plain-HTTP listener"
        )));
    }
    if local {
        tracing::warn!(
            authority = %host,
            "the emulator does not answer yet (is `entra emulator` running?); signing in and token checks work once it does"
        );
    } else {
        tracing::warn!(
            authority = %host,
            "the authority does not answer yet; retrying in the background"
        );
    }
    Ok(Authority::NotYet)
}

/// Every message of an error and its sources, on one line.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The reason, when an error chain is a TLS certificate refusal.
pub(crate) fn untrusted_certificate(chain: &str) -> Option<&'static str> {
    let lower = chain.to_ascii_lowercase();
    if lower.contains("unknownissuer") || lower.contains("unknown issuer") {
        Some("issued by an unknown certificate authority")
    } else if lower.contains("notvalidforname") || lower.contains("not valid for name") {
        Some("not issued for this host name")
    } else if lower.contains("expired") && lower.contains("certificate") {
        Some("expired")
    } else if lower.contains("invalid peer certificate") || lower.contains("certificate verify") {
        Some("refused by the TLS verifier")
    } else {
        None
    }
}

/// On the local emulator: asks its authorization endpoint whether
/// `redirect_uri` is registered for `client_id`, and when it answers
/// AADSTS50011, prints the command that registers it.
pub(crate) async fn check_redirect_uri(
    authority_host: &str,
    tenant: &str,
    client_id: &str,
    redirect_uri: &str,
    app: &str,
) {
    let authorization_endpoint = format!(
        "{}/{tenant}/oauth2/v2.0/authorize",
        authority_host.trim().trim_end_matches('/')
    );
    let Some(hint) = redirect_uri_hint(&authorization_endpoint, client_id, redirect_uri).await
    else {
        return;
    };
    eprintln!(
        "entra: the emulator does not accept the redirect URI {redirect_uri} of {app} (AADSTS50011); restart it with:\n  {hint}"
    );
}

/// The `entra emulator --redirect-uri` command, when the emulator answers
/// AADSTS50011 for this client and redirect URI.
async fn redirect_uri_hint(
    authorization_endpoint: &str,
    client_id: &str,
    redirect_uri: &str,
) -> Option<String> {
    let mut url = url::Url::parse(authorization_endpoint).ok()?;
    // A complete request (PKCE included), so that only the redirect URI can
    // be what the emulator refuses.
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", "openid")
        .append_pair("state", "entra-start-up-check")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .ok()?;
    let response = client.get(url).send().await.ok()?;
    if response.status().is_success() || response.status().is_redirection() {
        return None;
    }
    let body = response.text().await.ok()?;
    body.contains("AADSTS50011")
        .then(|| format!("entra emulator --redirect-uri {client_id}={redirect_uri}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_refusals_are_recognised() {
        assert!(
            untrusted_certificate("error sending request: invalid peer certificate: UnknownIssuer")
                .is_some()
        );
        assert!(untrusted_certificate("connection refused").is_none());
    }
}
