//! Hand-written HTML: [`escape`] for every dynamic value, the page shell,
//! and the headers every answer carries.
//!
//! There is no template engine and no JavaScript. Every value that did not
//! come from this file (names from tokens, heroes from the API, texts from
//! the identity provider's redirect) goes through [`escape`] before it
//! reaches a page (security catalogue C5).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};

/// Escapes `text` for an HTML text node or a double- or single-quoted
/// attribute value: the token core's one escaper (`& < > " '`).
///
/// ```
/// assert_eq!(
///     demo_web::html::escape("<script>alert('x')</script> & \"y\""),
///     "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;y&quot;"
/// );
/// ```
pub use entra_core::html_escape as escape;

/// The little CSS the pages use (inline: no other request, no JavaScript).
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}\
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ddd;padding-bottom:.5rem}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee}\
form.inline{display:inline}input{margin:.2rem .3rem .2rem 0;padding:.3rem}\
button,.button{padding:.35rem .8rem;border:1px solid #0b5cad;background:#0b5cad;color:#fff;border-radius:4px;text-decoration:none;cursor:pointer;font-size:.95rem}\
button.secondary{background:#fff;color:#0b5cad}button.danger{background:#b3261e;border-color:#b3261e}\
.error{border-left:4px solid #b3261e;background:#fdf0ef;padding:.6rem 1rem}.note{color:#555}\
pre{background:#f5f5f7;padding:.8rem;overflow:auto;font-size:.85rem}";

/// A whole page: `title` (escaped here) and `body` (already HTML, its
/// dynamic values escaped by the caller).
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Heroes</title><style>{STYLE}</style></head>\
         <body><header><strong><a href=\"/\">Heroes</a></strong><span class=\"note\">demo-web</span></header>\
         <main>{body}</main></body></html>\n",
        title = escape(title),
    );
    let mut response = Response::new(Body::from(html));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// An error page: a heading, an explanation (HTML, escaped by the caller)
/// and a way on.
pub(crate) fn error_page(status: StatusCode, title: &str, explanation: &str) -> Response {
    page(
        status,
        title,
        &format!(
            "<h1>{}</h1><div class=\"error\">{explanation}</div>\
             <p><a href=\"/\">Back to the start page</a></p>",
            escape(title)
        ),
    )
}

/// A hidden anti-forgery field for a form of this session.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf_token\" value=\"{}\">",
        escape(token)
    )
}

/// Headers every answer carries: no framing (C28), no MIME sniffing, no
/// `Referer` leaving the site (C21), no caching (C23: pages show personal
/// data, and the callback's answer must not be stored), and a content
/// security policy that allows no script at all.
///
/// `form_action` lists the origins a form submission may end at (this site,
/// and the identity provider, where sign-out sends the browser).
pub(crate) fn protect(headers: &mut HeaderMap, csp: &HeaderValue) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The content security policy: no script, inline style only, forms to
/// this site and to `authority_origin`, never in a frame.
pub(crate) fn content_security_policy(authority_origin: &str) -> String {
    format!(
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
         form-action 'self' {authority_origin}; frame-ancestors 'none'; base-uri 'none'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_markup_character_is_escaped() {
        // The one escaper (entra-core) escapes what can end a text node or a
        // quoted attribute; every attribute on these pages is quoted.
        let out = escape("<img src=x onerror=alert(1)>\"'&");
        for c in ['<', '>', '"', '\''] {
            assert!(!out.contains(c), "{c} in {out}");
        }
        assert_eq!(out.matches('&').count(), out.matches(';').count());
        assert_eq!(escape("Dive Wilson"), "Dive Wilson");
        assert_eq!(escape("Zoë"), "Zoë");
    }
}
