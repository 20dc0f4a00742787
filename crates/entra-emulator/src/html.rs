//! The HTML shell of the emulator's pages: accessible, no JavaScript, never
//! framed (`frame-ancestors 'none'`), never cached, no referrer.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use crate::util::html_escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=email],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}\
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.error{color:#a4262c}.muted{color:#605e5c;font-size:.9rem}ul{padding-left:1.2rem}";

/// A complete page. `body` is trusted HTML: escape every value put into it
/// with [`html_escape`] or [`hidden`].
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    page_styled(status, title, body, "")
}

/// A complete page with `style` (trusted CSS) after the shared style.
pub(crate) fn page_styled(status: StatusCode, title: &str, body: &str, style: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} - Entra emulator</title><style>{STYLE}{style}</style></head>\
<body><main><h1>{title}</h1>{body}</main>\
<p class=\"muted\">Microsoft Entra ID emulator: a local stand-in, not Microsoft.</p></body></html>",
        title = html_escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    protect(response.headers_mut());
    response
}

/// An error page (for errors that must not be redirected to the client,
/// such as an unknown client or an unregistered redirect URI).
pub(crate) fn error_page(status: StatusCode, code: u32, message: &str) -> Response {
    let mut response = page(
        status,
        "Sign-in error",
        &format!(
            "<p class=\"error\" role=\"alert\">AADSTS{code}: {}</p>",
            html_escape(message)
        ),
    );
    response
        .extensions_mut()
        .insert(crate::state::AadstsCode(code));
    response
}

/// `<input type="hidden">` with an escaped value.
pub(crate) fn hidden(name: &str, value: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
        html_escape(name),
        html_escape(value)
    )
}

/// Headers every page and every authorize answer carries.
pub(crate) fn protect(headers: &mut http::HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}
