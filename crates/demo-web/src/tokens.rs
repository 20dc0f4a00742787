//! `GET /me/tokens`: the decoded header and claims of the user's ID token and
//! of the current access token, for learning.
//!
//! Never the raw tokens, never their signatures: the page is built from the
//! decoded JSON only, every value escaped.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use crate::claims::{self, Decoded};
use crate::html::{escape, page};
use crate::server::{App, Visitor, sign_in_again};

/// This page's path.
const PATH: &str = "/me/tokens";

/// `GET /me/tokens`.
pub(crate) async fn show(State(app): State<App>, headers: HeaderMap) -> Response {
    let session = match app.visitor(&headers).await {
        Ok(Visitor::SignedIn(session)) => session,
        Ok(Visitor::Anonymous { .. } | Visitor::Pending(_)) => return sign_in_again(PATH),
        Err(response) => return response,
    };
    let Some(user) = &session.data.user else {
        return sign_in_again(PATH);
    };
    let token = match app.access_token(user, PATH).await {
        Ok(token) => token,
        Err(response) => return response,
    };
    let now = app.sessions.now();
    let id_token = section(
        "ID token",
        "id-token",
        claims::decode(&user.id_token).as_ref(),
        now,
    );
    let access = section(
        "Access token",
        "access-token",
        claims::decode(token.secret()).as_ref(),
        now,
    );
    let scopes = escape(&token.scopes().join(" "));
    page(
        StatusCode::OK,
        "Your tokens",
        &format!(
            "<h1>Your tokens</h1>\
             <p>What the identity provider said about you (the ID token, for this app) and what \
             this app shows the heroes API (the access token, for the API: its <code>aud</code> is \
             the API, its <code>scp</code> the scopes granted). The tokens themselves and their \
             signatures stay on the server.</p>\
             <p>Access token scopes: <code id=\"scopes\">{scopes}</code>; it expires \
             <span id=\"expires\">{expires}</span>.</p>\
             {id_token}{access}<p><a href=\"/\">Back to the heroes</a></p>",
            expires = escape(&date(token.expires_on(), app.sessions.now())),
        ),
    )
}

/// The claims that are times (NumericDate: seconds since 1970, UTC).
const TIME_CLAIMS: [(&str, &str); 5] = [
    ("iat", "issued"),
    ("nbf", "valid from"),
    ("exp", "expires"),
    ("auth_time", "signed in"),
    ("xms_tcdt", "tenant created"),
];

/// `2026-12-02 13:00:00 UTC (in 59 min)`.
fn date(unix: i64, now: i64) -> String {
    format!(
        "{} UTC ({})",
        entra_core::time::Utc::from_unix(unix),
        entra_core::time::relative(unix - now)
    )
}

/// The time claims of `claims` as dates, in a list.
fn dates(id: &str, claims: &serde_json::Value, now: i64) -> String {
    let items: String = TIME_CLAIMS
        .iter()
        .filter_map(|(name, label)| {
            let unix = claims.get(*name)?.as_f64()? as i64;
            Some(format!(
                "<li><code>{name}</code> ({label}): <span class=\"date\" data-claim=\"{name}\">{}</span></li>",
                escape(&date(unix, now))
            ))
        })
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("<h3>Times</h3><ul id=\"{id}-times\">{items}</ul>")
    }
}

fn section(title: &str, id: &str, decoded: Option<&Decoded>, now: i64) -> String {
    match decoded {
        Some(decoded) => format!(
            "<h2>{title}</h2><h3>Header</h3><pre id=\"{id}-header\">{}</pre>\
             <h3>Claims</h3><pre id=\"{id}-claims\">{}</pre>{}",
            escape(&claims::pretty(&decoded.header)),
            escape(&claims::pretty(&decoded.claims)),
            dates(id, &decoded.claims, now),
            title = escape(title),
        ),
        None => format!(
            "<h2>{}</h2><p class=\"note\">This token is not a JWT this page can decode \
             (some access tokens are opaque to clients).</p>",
            escape(title)
        ),
    }
}
