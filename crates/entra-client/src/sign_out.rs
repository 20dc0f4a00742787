//! Signing out at the identity provider (OpenID Connect RP-initiated logout:
//! the `end_session_endpoint`).
//!
//! ```no_run
//! use entra_client::SignOutRequest;
//!
//! # async fn logout(client: &entra_client::Client, account: &entra_client::Account, id_token: &str) -> Result<(), entra_client::Error> {
//! client.remove_account(account).await?; // the tokens this app holds
//! let url = client
//!     .sign_out_url(
//!         &SignOutRequest::new()
//!             .post_logout_redirect_uri("http://localhost:8000/")
//!             .id_token_hint(id_token),
//!     )
//!     .await?;
//! // ... redirect the browser to url ...
//! # Ok(()) }
//! ```

use std::fmt;

use url::Url;

use crate::{Client, Error};

/// What to put in the sign-out URL.
#[derive(Clone, Default)]
pub struct SignOutRequest {
    post_logout_redirect_uri: Option<String>,
    id_token_hint: Option<String>,
    logout_hint: Option<String>,
    state: Option<String>,
}

impl fmt::Debug for SignOutRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignOutRequest")
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field(
                "id_token_hint",
                &self.id_token_hint.as_ref().map(|_| "<redacted>"),
            )
            .field("logout_hint", &self.logout_hint)
            .finish_non_exhaustive()
    }
}

impl SignOutRequest {
    /// A request with no parameter but the client id.
    pub fn new() -> Self {
        SignOutRequest::default()
    }

    /// Where to return after signing out. Entra returns only to a URI
    /// registered for the application (a redirect URI or its logout URL).
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The ID token of the sign-in being ended (`id_token_hint`): no account
    /// picker.
    pub fn id_token_hint(mut self, id_token: impl Into<String>) -> Self {
        self.id_token_hint = Some(id_token.into());
        self
    }

    /// The account to sign out (`logout_hint`, the `login_hint` optional claim).
    pub fn logout_hint(mut self, hint: impl Into<String>) -> Self {
        self.logout_hint = Some(hint.into());
        self
    }

    /// A value echoed to the post-logout redirect URI.
    pub fn state(mut self, state: impl Into<String>) -> Self {
        self.state = Some(state.into());
        self
    }
}

impl Client {
    /// The URL that ends the user's session at the identity provider
    /// (`end_session_endpoint`), to redirect the browser to.
    pub async fn sign_out_url(&self, request: &SignOutRequest) -> Result<Url, Error> {
        if let Some(uri) = &request.post_logout_redirect_uri {
            crate::config::check_redirect_uri(uri)?;
        }
        let mut url = self.endpoints().await?.end_session.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("client_id", self.client_id());
            for (name, value) in [
                (
                    "post_logout_redirect_uri",
                    &request.post_logout_redirect_uri,
                ),
                ("id_token_hint", &request.id_token_hint),
                ("logout_hint", &request.logout_hint),
                ("state", &request.state),
            ] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
        }
        Ok(url)
    }
}
