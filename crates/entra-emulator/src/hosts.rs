//! The `Host` names the emulator answers to, on every route: the defence
//! against DNS rebinding. A page on `attacker.example` whose name is
//! re-resolved to 127.0.0.1 is same-origin with itself, so the browser lets
//! it read the emulator's answers (the administration API's minted tokens
//! included); but its requests carry `Host: attacker.example`, and that name
//! is not one the emulator answers to.
//!
//! Answered: `localhost` and `*.localhost` (browsers resolve them to
//! loopback themselves), IP addresses (a page cannot be same-origin with an
//! IP literal it does not serve), the configured public host, the issuer's
//! host, and [`EmulatorConfig::allowed_hosts`](crate::EmulatorConfig::allowed_hosts)
//! (a name, or `.example.com` for the domain and its subdomains). Names
//! compare case-insensitively and without a trailing dot; ports are not
//! compared.
//!
//! Both the `Host` header and the request target's authority (HTTP/2's
//! `:authority`, or an HTTP/1.1 absolute-form target) are checked when
//! present; one of them must be. A name that is not answered gets 421
//! Misdirected Request; a missing, repeated or malformed `Host`, 400. The
//! administration API answers in its `{"error", "message"}` shape, every
//! other route with an Entra-shaped OAuth error (`invalid_request`,
//! AADSTS90100, Entra's code for an invalid request parameter).

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::uri::Authority;
use http::{HeaderMap, StatusCode, Uri, header};

use crate::error::{ConfigError, OAuthError};
use crate::state::State as Shared;

/// The names answered besides loopback names and IP addresses, normalised
/// (lowercase, no trailing dot; a leading dot for a domain and its
/// subdomains).
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts {
    names: Vec<String>,
}

/// Why a request's host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HostProblem {
    /// Neither a `Host` header nor an authority in the request target (400).
    #[error("the request has no Host header")]
    Missing,
    /// More than one `Host` header (400).
    #[error("the request has more than one Host header")]
    Repeated,
    /// A `Host` that is not `name[:port]` (400).
    #[error("the Host header is not a host name with an optional port")]
    Malformed,
    /// A name the emulator does not answer to (421).
    #[error(
        "this emulator does not answer to the host name {0:?}: only localhost, *.localhost, IP addresses, its public host, its issuer's host and allowed hosts (EmulatorConfig::allowed_hosts, --allowed-host, ENTRA_EMULATOR_ALLOWED_HOSTS) are answered"
    )]
    NotAllowed(String),
}

impl HostProblem {
    /// 421 for a name not answered, 400 for the rest.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            HostProblem::NotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The answer of routes other than the administration API.
    fn oauth(&self) -> OAuthError {
        OAuthError::new("invalid_request", 90_100, self.to_string()).status(self.status())
    }
}

/// The longest host name echoed back in a refusal.
const ECHOED: usize = 100;

impl AllowedHosts {
    /// The public host, the issuer base URL's host and the configured names
    /// (each checked by [`configured`](Self::configured)).
    pub(crate) fn new(
        public_host: Option<&str>,
        issuer_base: Option<&str>,
        allowed: &[String],
    ) -> Result<Self, ConfigError> {
        let mut names = Vec::new();
        if let Some(host) = public_host {
            names.push(normalise(host));
        }
        if let Some(host) = issuer_base
            .and_then(|base| url::Url::parse(base).ok())
            .and_then(|url| url.host_str().map(normalise))
        {
            names.push(host);
        }
        for name in allowed {
            names.push(Self::configured(name)?);
        }
        names.retain(|n| !n.is_empty());
        names.sort();
        names.dedup();
        Ok(AllowedHosts { names })
    }

    /// A configured name, normalised: letters, digits, `-`, `_` and dots,
    /// optionally with a leading dot (the domain and its subdomains); no
    /// scheme, port or wildcard.
    fn configured(name: &str) -> Result<String, ConfigError> {
        let normalised = normalise(name.trim());
        let body = normalised.strip_prefix('.').unwrap_or(&normalised);
        let valid = !body.is_empty()
            && !body.starts_with('.')
            && !body.contains("..")
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid {
            Ok(normalised)
        } else {
            Err(ConfigError::AllowedHost {
                host: name.to_owned(),
            })
        }
    }

    /// Whether `host` (without port; IPv6 in brackets or not) is answered.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let host = normalise(host);
        let unbracketed = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        if host == "localhost" || host.ends_with(".localhost") {
            return true;
        }
        if unbracketed.parse::<IpAddr>().is_ok() {
            return true;
        }
        self.names.iter().any(|name| match name.strip_prefix('.') {
            Some(domain) => host == domain || host.ends_with(name.as_str()),
            None => *name == host,
        })
    }

    /// Checks the `Host` header and the request target's authority.
    pub(crate) fn check(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), HostProblem> {
        let mut values = headers.get_all(header::HOST).iter();
        let header = values.next();
        if values.next().is_some() {
            return Err(HostProblem::Repeated);
        }
        let header = match header {
            Some(value) => {
                let text = value.to_str().map_err(|_| HostProblem::Malformed)?;
                if text.contains('@') {
                    return Err(HostProblem::Malformed);
                }
                let authority = Authority::try_from(text).map_err(|_| HostProblem::Malformed)?;
                // `Authority` leaves a port that is not a number unchecked.
                let port = &authority.as_str()[authority.host().len()..];
                let port_ok = port
                    .strip_prefix(':')
                    .map_or(port.is_empty(), |p| p.bytes().all(|b| b.is_ascii_digit()));
                if !port_ok {
                    return Err(HostProblem::Malformed);
                }
                Some(authority)
            }
            None => None,
        };
        let target = uri.authority();
        if header.is_none() && target.is_none() {
            return Err(HostProblem::Missing);
        }
        for authority in header.iter().chain(target) {
            let host = authority.host();
            if !self.allows(host) {
                let echoed: String = host.chars().take(ECHOED).collect();
                return Err(HostProblem::NotAllowed(echoed));
            }
        }
        Ok(())
    }
}

/// Lowercase, without one trailing dot (`localhost.` is `localhost`).
fn normalise(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    match lower.strip_suffix('.') {
        Some(stripped) => stripped.to_owned(),
        None => lower,
    }
}

/// The middleware: refuses requests for hosts the emulator does not answer to.
pub(crate) async fn check(
    State((hosts, state)): State<(Arc<AllowedHosts>, Arc<Shared>)>,
    request: Request,
    next: Next,
) -> Response {
    match hosts.check(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(problem) => {
            tracing::debug!(%problem, "request refused");
            if crate::admin::is_admin_path(request.uri().path()) {
                crate::admin::host_refusal(problem)
            } else {
                problem.oauth().into_response_at(None, state.now())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn hosts() -> AllowedHosts {
        AllowedHosts::new(
            Some("Emulator.Example"),
            Some("https://login.example.net:8443"),
            &[".dev.example".to_owned(), "box".to_owned()],
        )
        .unwrap()
    }

    fn check(host: Option<&str>, target: &str) -> Result<(), HostProblem> {
        let mut headers = HeaderMap::new();
        if let Some(host) = host {
            headers.insert(header::HOST, host.parse().unwrap());
        }
        hosts().check(&target.parse().unwrap(), &headers)
    }

    #[test]
    fn loopback_ip_and_configured_names_are_answered() {
        let h = hosts();
        for ok in [
            "localhost",
            "LOCALHOST.",
            "a.b.localhost",
            "127.0.0.1",
            "127.9.9.9",
            "[::1]",
            "::1",
            "10.0.0.2",
            "emulator.example",
            "login.example.net",
            "dev.example",
            "api.dev.example",
            "box",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for refused in [
            "attacker.example",
            "localhost.attacker.example",
            "notdev.example",
            "box.evil",
            "127.0.0.1.nip.io",
            "2130706433",
            "",
        ] {
            assert!(!h.allows(refused), "{refused}");
        }
    }

    #[test]
    fn the_header_and_the_target_authority_are_both_checked() {
        assert_eq!(check(Some("localhost:9000"), "/x"), Ok(()));
        assert_eq!(check(Some("[::1]:9000"), "/x"), Ok(()));
        assert_eq!(check(None, "http://localhost:9000/x"), Ok(()));
        assert_eq!(check(None, "/x"), Err(HostProblem::Missing));
        assert!(matches!(
            check(Some("localhost"), "http://attacker.example/x"),
            Err(HostProblem::NotAllowed(_))
        ));
        assert!(matches!(
            check(Some("attacker.example:9000"), "/x"),
            Err(HostProblem::NotAllowed(h)) if h == "attacker.example"
        ));
        assert_eq!(
            check(Some("user@localhost"), "/x"),
            Err(HostProblem::Malformed)
        );
        for malformed in ["localhost:port", "localhost:80:80", "[::1]x", "a b"] {
            assert_eq!(
                check(Some(malformed), "/x"),
                Err(HostProblem::Malformed),
                "{malformed}"
            );
        }
        assert_eq!(check(Some("localhost:"), "/x"), Ok(()));
        let mut headers = HeaderMap::new();
        headers.append(header::HOST, "localhost".parse().unwrap());
        headers.append(header::HOST, "attacker.example".parse().unwrap());
        assert_eq!(
            hosts().check(&"/x".parse().unwrap(), &headers),
            Err(HostProblem::Repeated)
        );
    }

    #[test]
    fn configured_names_are_bare_host_names() {
        for bad in [
            "",
            ".",
            "*",
            "*.example",
            "https://x",
            "x:80",
            "a b",
            "a..b",
        ] {
            assert!(
                AllowedHosts::new(None, None, &[bad.to_owned()]).is_err(),
                "{bad}"
            );
        }
        assert!(AllowedHosts::new(None, None, &["Emulator.".to_owned()]).is_ok());
    }
}
