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
    let id_token = section(
        "ID token",
        "id-token",
        claims::decode(&user.id_token).as_ref(),
    );
    let access = section(
        "Access token",
        "access-token",
        claims::decode(token.secret()).as_ref(),
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
             <p>Access token scopes: <code id=\"scopes\">{scopes}</code>; it expires at \
             <code>{expires}</code> (Unix time).</p>\
             {id_token}{access}<p><a href=\"/\">Back to the heroes</a></p>",
            expires = token.expires_on(),
        ),
    )
}

fn section(title: &str, id: &str, decoded: Option<&Decoded>) -> String {
    match decoded {
        Some(decoded) => format!(
            "<h2>{title}</h2><h3>Header</h3><pre id=\"{id}-header\">{}</pre>\
             <h3>Claims</h3><pre id=\"{id}-claims\">{}</pre>",
            escape(&claims::pretty(&decoded.header)),
            escape(&claims::pretty(&decoded.claims)),
            title = escape(title),
        ),
        None => format!(
            "<h2>{}</h2><p class=\"note\">This token is not a JWT this page can decode \
             (some access tokens are opaque to clients).</p>",
            escape(title)
        ),
    }
}
