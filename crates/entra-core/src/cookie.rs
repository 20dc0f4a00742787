//! Reading a cookie from a request's `Cookie` headers (RFC 6265 §5.4).

use http::{HeaderMap, header};

/// The value of the first cookie called `name` in the request's `Cookie`
/// headers, trimmed; `None` if there is none or its value is empty.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::COOKIE, HeaderValue::from_static("a=1; sid=abc ; b=2"));
/// assert_eq!(entra_core::cookie(&headers, "sid"), Some("abc"));
/// assert_eq!(entra_core::cookie(&headers, "c"), None);
/// ```
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn the_first_cookie_of_that_name_across_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("x=1;token=a.b.c"));
        h.append(header::COOKIE, HeaderValue::from_static("token=other"));
        assert_eq!(cookie(&h, "token"), Some("a.b.c"));
        assert_eq!(cookie(&h, "tok"), None);
        h.insert(header::COOKIE, HeaderValue::from_static("token=; a=b"));
        assert_eq!(cookie(&h, "token"), None);
    }
}
