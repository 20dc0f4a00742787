//! Where a request's token comes from: the `Authorization` header (RFC 6750
//! §2.1), and optionally a cookie or any value an earlier layer put in the
//! request extensions (a server-side session, for browser apps).

use std::fmt;
use std::sync::Arc;

use http::{Extensions, HeaderMap, Uri, header};

use crate::Error;
use crate::InvalidToken;

type Custom = Arc<dyn Fn(&HeaderMap, &Extensions) -> Option<String> + Send + Sync>;

/// One place a token may be read from. An [`AuthLayer`](crate::AuthLayer)
/// tries its sources in order; the first that has a token wins.
#[derive(Clone)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (the scheme is case-insensitive).
    AuthorizationHeader,
    /// A cookie holding the bare token.
    ///
    /// **Cross-site request forgery:** a browser attaches cookies to
    /// requests that other sites make it send, so a token read from a cookie
    /// authenticates forged requests too. Use this only with `SameSite=Strict`
    /// (or `Lax` for read-only routes) cookies, `Secure` and `HttpOnly`, and
    /// check an anti-forgery token or the `Origin` / `Sec-Fetch-Site` headers
    /// on every state-changing route. The `Authorization` header has no such
    /// problem: a browser never sends it on its own.
    Cookie(String),
    /// Anything else: a function of the headers and extensions (for example a
    /// token an earlier session layer placed in the extensions).
    Custom(Custom),
}

impl TokenSource {
    /// A token read by `f`.
    pub fn custom(
        f: impl Fn(&HeaderMap, &Extensions) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        TokenSource::Custom(Arc::new(f))
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::AuthorizationHeader => f.write_str("AuthorizationHeader"),
            TokenSource::Cookie(name) => f.debug_tuple("Cookie").field(name).finish(),
            TokenSource::Custom(_) => f.write_str("Custom"),
        }
    }
}

/// A token found in a request: borrowed from a header, or owned.
#[derive(Debug)]
pub(crate) enum Found<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Found<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Found::Borrowed(s) => s,
            Found::Owned(s) => s,
        }
    }
}

/// Finds the token. Errors: two `Authorization` headers or a token in the
/// header and the query (`400`), an oversized header (`431`), a `Bearer`
/// header with an empty or non-UTF-8 token (`401 invalid_token`; every other
/// character rule is the JWS parser's), no token (`401`).
pub(crate) fn find<'a>(
    sources: &[TokenSource],
    headers: &'a HeaderMap,
    extensions: &Extensions,
    uri: &Uri,
    max_token_size: usize,
) -> Result<Found<'a>, Error> {
    // Parameter names are compared decoded, as any form parser reads them
    // (`access%5Ftoken` is `access_token`).
    let in_query = uri.query().map_or(0, |q| {
        url::form_urlencoded::parse(q.as_bytes())
            .filter(|(name, _)| name == "access_token")
            .count()
    });
    if in_query > 1 {
        return Err(Error::InvalidRequest(
            "the access_token parameter is repeated",
        ));
    }
    for source in sources {
        let found = match source {
            TokenSource::AuthorizationHeader => {
                bearer(headers, max_token_size)?.map(Found::Borrowed)
            }
            TokenSource::Cookie(name) => {
                entra_core::cookie(headers, name).map(|t| Found::Owned(t.to_owned()))
            }
            TokenSource::Custom(f) => f(headers, extensions).map(Found::Owned),
        };
        if let Some(token) = found {
            if in_query > 0 {
                return Err(Error::InvalidRequest(
                    "the token was sent by more than one method",
                ));
            }
            if token.as_str().len() > max_token_size {
                return Err(Error::TokenTooLarge);
            }
            return Ok(token);
        }
    }
    // A token only in the query string is not supported (RFC 9700 §4.3.2):
    // answered as if there were no credentials. Request bodies are never read,
    // so a form-encoded `access_token` authenticates nothing either.
    Err(Error::MissingToken)
}

fn bearer(headers: &HeaderMap, max_token_size: usize) -> Result<Option<&str>, Error> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Error::InvalidRequest("more than one Authorization header"));
    }
    if value.len() > max_token_size + 64 {
        return Err(Error::TokenTooLarge);
    }
    let bytes = value.as_bytes();
    let scheme_end = bytes.iter().position(|&b| b == b' ').unwrap_or(bytes.len());
    if !bytes[..scheme_end].eq_ignore_ascii_case(b"bearer") {
        // Another scheme (Basic, Negotiate...): no bearer credentials at all.
        return Ok(None);
    }
    let rest = &bytes[scheme_end..];
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    // The token's characters are not checked here: the JWS parser accepts
    // only base64url and two dots, a subset of RFC 6750's b64token, and
    // refuses anything else as malformed. A token seen before is found in the
    // verified-token cache by its exact bytes without being read again.
    match std::str::from_utf8(&rest[start..]) {
        Ok(token) if !token.is_empty() => Ok(Some(token)),
        _ => Err(InvalidToken::Malformed.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                header::AUTHORIZATION,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("x")),
            );
        }
        h
    }

    fn find_in(h: &HeaderMap, uri: &str) -> Result<String, Error> {
        let uri: Uri = uri.parse().unwrap_or_default();
        find(
            &[TokenSource::AuthorizationHeader],
            h,
            &Extensions::new(),
            &uri,
            1024,
        )
        .map(|t| t.as_str().to_owned())
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(
            find_in(&headers(&["bearer a.b.c"]), "/").ok().as_deref(),
            Some("a.b.c")
        );
        assert_eq!(
            find_in(&headers(&["BEARER a.b.c"]), "/").ok().as_deref(),
            Some("a.b.c")
        );
    }

    #[test]
    fn other_schemes_and_query_tokens_count_as_no_token() {
        assert!(matches!(
            find_in(&headers(&["Basic dXNlcjpwYXNz"]), "/"),
            Err(Error::MissingToken)
        ));
        assert!(matches!(
            find_in(&headers(&[]), "/?access_token=a.b.c"),
            Err(Error::MissingToken)
        ));
    }

    #[test]
    fn two_methods_or_two_headers_are_invalid_requests() {
        assert!(matches!(
            find_in(&headers(&["Bearer a.b.c"]), "/?access_token=a.b.c"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            find_in(&headers(&["Bearer a.b.c", "Bearer a.b.c"]), "/"),
            Err(Error::InvalidRequest(_))
        ));
    }

    #[test]
    fn query_parameter_names_are_decoded_and_must_not_repeat() {
        for uri in ["/?access%5Ftoken=x", "/?%61ccess_token=x"] {
            assert!(
                matches!(
                    find_in(&headers(&["Bearer a.b.c"]), uri),
                    Err(Error::InvalidRequest(_))
                ),
                "{uri}"
            );
        }
        assert!(matches!(
            find_in(&headers(&[]), "/?access_token=x&access_token=x"),
            Err(Error::InvalidRequest(_))
        ));
        assert!(find_in(&headers(&["Bearer a.b.c"]), "/?access_tokens=x").is_ok());
    }

    #[test]
    fn empty_tokens_are_invalid_and_odd_ones_are_refused_by_the_parser() {
        for v in ["Bearer", "Bearer ", "Bearer    "] {
            assert!(
                matches!(find_in(&headers(&[v]), "/"), Err(Error::InvalidToken(_))),
                "{v}"
            );
        }
        // Outside base64url and the two dots, every byte (b64token's extra
        // "~", "+", "/" and "=" padding included) makes the token malformed.
        let valid = "eyJhbGciOiJSUzI1NiJ9.eyJhIjoxfQ.c2ln";
        for b in (0x20..=0x7eu8).filter(|b| !b.is_ascii_alphanumeric() && !b"-_.".contains(b)) {
            let odd = format!("{valid}{}", char::from(b));
            let found = find_in(&headers(&[&format!("Bearer {odd}")]), "/");
            match found {
                Ok(token) => assert_eq!(
                    entra_core::jws::parse(&token, &entra_core::jws::Profile::ACCESS_TOKEN).err(),
                    Some(InvalidToken::Malformed),
                    "{odd}"
                ),
                Err(e) => assert!(matches!(e, Error::InvalidToken(_)), "{odd}: {e:?}"),
            }
        }
        for odd in [
            "\"a.b.c\"",
            "a,b",
            "===",
            "a.b.c d",
            "a~b.c.d",
            "a.b+c.d",
            "a.b.c==",
        ] {
            assert_eq!(
                entra_core::jws::parse(odd, &entra_core::jws::Profile::ACCESS_TOKEN).err(),
                Some(InvalidToken::Malformed),
                "{odd}"
            );
        }
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; token=x.y.z; b=2"),
        );
        let t = find(
            &[TokenSource::Cookie("token".into())],
            &h,
            &Extensions::new(),
            &Uri::default(),
            100,
        );
        assert_eq!(
            t.ok().map(|t| t.as_str().to_owned()).as_deref(),
            Some("x.y.z")
        );
    }
}
