//! Where to go after sign-in: a local path, never another site (C17).
//!
//! `/auth/login?return_to=...` accepts a same-origin relative path only;
//! anything else becomes `/`. The checks run on the value as given and once
//! percent-decoded, so `/%2F%2Fevil` is refused as `//evil` would be.

/// The longest return path kept.
const MAX_LEN: usize = 2048;

/// `candidate` if it is a safe local path, else `/`.
///
/// ```
/// use demo_web::return_to::local_path;
///
/// assert_eq!(local_path(Some("/me/tokens")), "/me/tokens");
/// assert_eq!(local_path(Some("/?page=2")), "/?page=2");
/// for evil in ["https://evil", "//evil", "/\\evil", "\\\\evil", "/%2F%2Fevil",
///              "http:evil", "javascript:alert(1)", "/\r\nSet-Cookie:x=y"] {
///     assert_eq!(local_path(Some(evil)), "/", "{evil}");
/// }
/// assert_eq!(local_path(None), "/");
/// ```
pub fn local_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(path) if is_local_path(path) => path.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_local_path(path: &str) -> bool {
    if path.is_empty() || path.len() > MAX_LEN {
        return false;
    }
    let decoded: String = url::form_urlencoded::parse(format!("p={path}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    // Decoded a second time: a double-encoded `%252F` must not sneak through.
    let twice: String = url::form_urlencoded::parse(format!("p={decoded}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    [path, decoded.as_str(), twice.as_str()]
        .iter()
        .all(|p| shape_is_local(p))
        // The sign-in routes are no place to return to.
        && !path.starts_with("/auth/")
}

fn shape_is_local(p: &str) -> bool {
    let bytes = p.as_bytes();
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !p.contains('\\')
        && !p.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_open_redirect_form_becomes_the_start_page() {
        for evil in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f%2fevil.example",
            "/%252F%252Fevil.example",
            "/%5Cevil.example",
            "http:evil.example",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,x",
            "/\r\nLocation: https://evil.example",
            "/%0d%0aSet-Cookie:%20x=y",
            "/\tx",
            "evil.example",
            "",
            "/auth/callback?code=x",
        ] {
            assert_eq!(local_path(Some(evil)), "/", "{evil:?}");
        }
    }

    #[test]
    fn local_paths_are_kept() {
        for ok in ["/", "/me/tokens", "/?a=b&c=d", "/heroes#list", "/a%20b"] {
            assert_eq!(local_path(Some(ok)), ok);
        }
        assert_eq!(local_path(Some(&format!("/{}", "a".repeat(5000)))), "/");
    }
}
