//! Escaping text for HTML: the one escaper every page uses.

/// Escapes `& < > " '` so the text is safe in element content and in quoted
/// attribute values.
///
/// ```
/// assert_eq!(
///     entra_core::html_escape("<a href='x'>\"Tom\" & Jerry</a>"),
///     "&lt;a href=&#x27;x&#x27;&gt;&quot;Tom&quot; &amp; Jerry&lt;/a&gt;"
/// );
/// ```
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}
