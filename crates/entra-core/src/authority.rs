//! Authorities and tenants: which URLs may serve metadata, keys and tokens,
//! and what names a tenant.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// Why a URL may not serve an identity provider's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InsecureUrl {
    /// Plain `http` on a host that is not loopback, without the opt-in.
    PlainHttp(String),
    /// Neither `https` nor `http`.
    Scheme(String),
}

impl fmt::Display for InsecureUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InsecureUrl::PlainHttp(url) => write!(
                f,
                "{url} is plain http on a non-loopback host; use https (or allow_insecure_http)"
            ),
            InsecureUrl::Scheme(url) => write!(f, "{url}: unsupported scheme"),
        }
    }
}

impl std::error::Error for InsecureUrl {}

/// `https` always; `http` only on a loopback host (the local emulator, a
/// test's authority) or with the explicit opt-in.
///
/// ```
/// use entra_core::authority::check_scheme;
/// use url::Url;
///
/// let url = |s| Url::parse(s).unwrap();
/// assert!(check_scheme(&url("https://login.microsoftonline.com"), false).is_ok());
/// assert!(check_scheme(&url("http://127.0.0.1:9000"), false).is_ok());
/// assert!(check_scheme(&url("http://login.example.com"), false).is_err());
/// assert!(check_scheme(&url("http://login.example.com"), true).is_ok());
/// assert!(check_scheme(&url("ftp://localhost"), true).is_err());
/// ```
pub fn check_scheme(url: &Url, allow_insecure_http: bool) -> Result<(), InsecureUrl> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_insecure_http || is_loopback(url) => Ok(()),
        "http" => Err(InsecureUrl::PlainHttp(url.to_string())),
        _ => Err(InsecureUrl::Scheme(url.to_string())),
    }
}

/// Whether the URL's host is `localhost` or a loopback address.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Whether `s` names a tenant: a GUID, `common`, `organizations` or
/// `consumers` (any case), or a domain name (`contoso.onmicrosoft.com`).
///
/// ```
/// use entra_core::authority::is_tenant;
/// assert!(is_tenant("8eaef023-2b34-4da1-9baa-8bc8c9d6a490"));
/// assert!(is_tenant("Organizations"));
/// assert!(is_tenant("contoso.onmicrosoft.com"));
/// assert!(!is_tenant("contoso"));
/// assert!(!is_tenant(".contoso.com"));
/// assert!(!is_tenant("contoso.com/../x"));
/// ```
pub fn is_tenant(s: &str) -> bool {
    crate::is_guid(s)
        || ["common", "organizations", "consumers"]
            .iter()
            .any(|name| s.eq_ignore_ascii_case(name))
        || (s.contains('.')
            && s.len() <= 253
            && !s.starts_with('.')
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
}
