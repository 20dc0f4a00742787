//! The client applications: [`Client`] (any application: the user flows) and
//! [`ConfidentialClient`] (an application with a credential: also app-only
//! tokens and on-behalf-of).

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use entra_auth::id_token::{IdToken, IdTokenError, IdTokenValidator};
use entra_auth::{AuthConfig, InvalidToken, TokenVersions};
use tokio::sync::OnceCell;
use url::Url;

use crate::cache::{CachedAccessToken, CachedRefreshToken, OIDC_SCOPES, Owner, TokenCache};
use crate::config::{ClientBuilder, Parts, Settings};
use crate::credential::ClientCredential;
use crate::protocol::{self, Answer, Endpoints, Issued, TokenRequest, TokenResponse};
use crate::token::AccessToken;
use crate::util::sha256_b64;
use crate::{Account, Error};

/// A client application registered in Entra ID. Cheap to clone; clones share
/// the discovery cache, the key cache and the token cache.
///
/// Without a credential it is a public client (a CLI, a desktop app); built
/// with [`ClientBuilder::build_confidential`] it is the user-flow half of a
/// [`ConfidentialClient`].
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) core: Arc<Core>,
}

/// Everything a client shares between its clones.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) settings: Settings,
    pub(crate) http: reqwest::Client,
    pub(crate) credential: Option<ClientCredential>,
    endpoints: OnceCell<Endpoints>,
    pub(crate) id_tokens: IdTokenValidator,
    pub(crate) cache: TokenCache,
    /// Digests of the `state`s of completed authorizations, until they expire.
    used_states: Mutex<HashMap<String, i64>>,
}

impl Client {
    /// Starts building a client for application `client_id` in `tenant` (a
    /// tenant id, a verified domain, `organizations` or `common`).
    ///
    /// ```no_run
    /// use entra_client::{Client, ClientCredential};
    ///
    /// # fn build() -> Result<(), entra_client::Error> {
    /// let web = Client::builder("contoso.onmicrosoft.com", "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10")
    ///     .authority_host("http://localhost:9000")
    ///     .redirect_uri("http://localhost:8000/auth/callback")
    ///     .build_confidential(ClientCredential::secret("heroes-web-dev-secret"))?;
    /// let cli = Client::builder("contoso.onmicrosoft.com", "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
    pub fn builder(tenant: impl Into<String>, client_id: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(tenant.into(), client_id.into())
    }

    pub(crate) fn from_parts(
        parts: Parts,
        credential: Option<ClientCredential>,
    ) -> Result<Self, Error> {
        let settings = parts.settings;
        let clock = settings.clock.clone();
        let mut config = AuthConfig::builder()
            .authority_host(parts.host.clone())
            .tenant(settings.tenant.clone())
            .client_id(settings.client_id.clone())
            .versions(TokenVersions::V2)
            .allow_insecure_http(settings.allow_insecure_http)
            .token_cache(false)
            .clock(clock);
        if matches!(settings.tenant.as_str(), "common" | "organizations") {
            // Users of any work or school tenant may sign in.
            config = config.any_tenant();
        }
        let config = config
            .build()
            .map_err(|e| Error::Config(format!("ID-token validation: {e}")))?;
        let id_tokens = IdTokenValidator::with_http_client(config, parts.http.clone())
            .map_err(|e| Error::Config(format!("ID-token validation: {e}")))?;
        Ok(Client {
            core: Arc::new(Core {
                settings,
                http: parts.http,
                credential,
                endpoints: OnceCell::new(),
                id_tokens,
                cache: parts.cache,
                used_states: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The application (client) id.
    pub fn client_id(&self) -> &str {
        &self.core.settings.client_id
    }

    /// The authority: `{authority host}/{tenant}`.
    pub fn authority(&self) -> &Url {
        &self.core.settings.authority
    }

    /// Whether the client authenticates with a credential.
    pub fn is_confidential(&self) -> bool {
        self.core.credential.is_some()
    }

    /// The token cache.
    pub fn token_cache(&self) -> &TokenCache {
        &self.core.cache
    }

    /// The authority's endpoints, from its metadata document (fetched once,
    /// then cached; a failed fetch is tried again on the next call).
    pub async fn endpoints(&self) -> Result<&Endpoints, Error> {
        self.core
            .endpoints
            .get_or_try_init(|| protocol::discover(&self.core.settings, &self.core.http))
            .await
    }

    /// Gets an access token for `account` without the user: a cached token
    /// valid for more than the expiry margin, else one obtained with the
    /// account's refresh token (the rotated refresh token is kept), else
    /// [`Error::InteractionRequired`].
    ///
    /// Concurrent calls for the same account and scopes make one request.
    ///
    /// ```no_run
    /// # async fn call(client: &entra_client::Client, account: &entra_client::Account) -> Result<(), entra_client::Error> {
    /// match client
    ///     .acquire_token_silent(account, &["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Heroes.Read"])
    ///     .await
    /// {
    ///     Ok(token) => println!("Authorization: {}", token.authorization_header()),
    ///     Err(e) if e.is_interaction_required() => println!("sign in again"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_silent<S: AsRef<str>>(
        &self,
        account: &Account,
        scopes: &[S],
    ) -> Result<AccessToken, Error> {
        let scopes = resource_scopes(scopes)?;
        let settings = &self.core.settings;
        let key = TokenCache::access_key(
            &settings.client_id,
            &settings.tenant,
            &Owner::User(account),
            &scopes,
        );
        if let Some(token) = self.cached(&key).await? {
            return Ok(token);
        }
        self.core
            .cache
            .single_flight(&key, || self.refresh(account, &scopes, &key))
            .await
    }

    /// A cached access token still valid beyond the margin.
    pub(crate) async fn cached(&self, key: &str) -> Result<Option<AccessToken>, Error> {
        let Some(entry) = self.core.cache.get_access(key).await? else {
            return Ok(None);
        };
        let now = self.core.settings.clock.now();
        if entry.expires_on.saturating_sub(now) <= self.core.settings.expiry_margin {
            return Ok(None);
        }
        Ok(Some(AccessToken {
            secret: entry.secret,
            token_type: entry.token_type,
            expires_on: entry.expires_on,
            ext_expires_on: entry.ext_expires_on,
            scopes: entry.scopes,
            account: entry.account,
            from_cache: true,
        }))
    }

    /// The refresh leg of silent acquisition (inside the single flight).
    async fn refresh(
        &self,
        account: &Account,
        scopes: &[String],
        key: &str,
    ) -> Result<AccessToken, Error> {
        // Someone may have refreshed between our cache check and now.
        if let Some(token) = self.cached(key).await? {
            return Ok(token);
        }
        let settings = &self.core.settings;
        let rt_key = TokenCache::refresh_key(&settings.client_id, &settings.tenant, account);
        // One refresh per account at a time: each uses the latest rotated token.
        let _guard = self.core.cache.lock_key(&rt_key).await;
        let Some(refresh_token) = self.core.cache.get_refresh(&rt_key).await? else {
            return Err(Error::InteractionRequired { server: None });
        };
        let endpoints = self.endpoints().await?;
        let answer = self
            .token_request(
                &endpoints.token,
                vec![
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", refresh_token.secret),
                    ("scope", with_oidc(scopes).join(" ")),
                ],
                true,
            )
            .send()
            .await?;
        let response = match answer {
            Answer::Tokens(response) => response,
            Answer::Refused(server) => {
                // An expired, revoked or unknown refresh token is dead: forget it.
                if server.error == "invalid_grant"
                    && server
                        .aadsts
                        .is_some_and(|c| DEAD_REFRESH_TOKEN.contains(&c))
                    && let Err(e) = self.core.cache.remove(&rt_key).await
                {
                    tracing::warn!(error = %e, "cannot remove a dead refresh token");
                }
                return Err(protocol::classify(server, true));
            }
        };
        let issued = response.issued(&endpoints.token, settings.clock.now())?;
        if let Some(id_token) = &response.id_token {
            let id_token = self.validate_id_token(endpoints, id_token, None).await?;
            let refreshed = Account::from_id_token(&id_token)?;
            if !refreshed.same_user(account) {
                return Err(Error::UnexpectedResponse {
                    url: endpoints.token.to_string(),
                    status: 200,
                    reason: "the refreshed ID token names another user".into(),
                });
            }
        }
        Ok(self
            .store_user_tokens(account, scopes, &response, issued)
            .await)
    }

    /// Caches a user's tokens (the access token under the requested scopes,
    /// the refresh token for the account) and returns the access token.
    pub(crate) async fn store_user_tokens(
        &self,
        account: &Account,
        requested: &[String],
        response: &TokenResponse,
        issued: Issued,
    ) -> AccessToken {
        let settings = &self.core.settings;
        let key = TokenCache::access_key(
            &settings.client_id,
            &settings.tenant,
            &Owner::User(account),
            requested,
        );
        let token = AccessToken {
            secret: issued.access_token,
            token_type: issued.token_type,
            expires_on: issued.expires_on,
            ext_expires_on: issued.ext_expires_on,
            scopes: response.granted_scopes(requested),
            account: Some(account.clone()),
            from_cache: false,
        };
        let group =
            TokenCache::owner_prefix(&settings.client_id, &settings.tenant, &Owner::User(account));
        self.core
            .cache
            .put_access(&key, Some(&group), &cached(&token))
            .await;
        if let Some(refresh_token) = &response.refresh_token {
            let rt_key = TokenCache::refresh_key(&settings.client_id, &settings.tenant, account);
            self.core
                .cache
                .put_refresh(
                    &rt_key,
                    &group,
                    &CachedRefreshToken {
                        secret: refresh_token.clone(),
                        account: account.clone(),
                    },
                )
                .await;
        }
        token
    }

    /// Forgets every token cached for `account` (local sign-out). Send the
    /// browser to [`sign_out_url`](Self::sign_out_url) as well to end the
    /// identity provider's session.
    pub async fn remove_account(&self, account: &Account) -> Result<(), Error> {
        let settings = &self.core.settings;
        let group =
            TokenCache::owner_prefix(&settings.client_id, &settings.tenant, &Owner::User(account));
        self.core.cache.remove_group(&group).await?;
        Ok(())
    }

    /// A token request with this client's credential.
    pub(crate) fn token_request<'a>(
        &'a self,
        endpoint: &'a Url,
        params: Vec<(&'static str, String)>,
        client_info: bool,
    ) -> TokenRequest<'a> {
        TokenRequest {
            settings: &self.core.settings,
            http: &self.core.http,
            credential: self.core.credential.as_ref(),
            endpoint,
            params,
            client_info,
        }
    }

    /// Validates an ID token (with `entra-auth`: signature with the tenant's
    /// keys, issuer, audience, lifetime, nonce) and checks that its issuer is
    /// the one of the metadata document this client uses (no mix-up).
    pub(crate) async fn validate_id_token(
        &self,
        endpoints: &Endpoints,
        raw: &str,
        nonce: Option<&str>,
    ) -> Result<IdToken, Error> {
        let id_token = self.core.id_tokens.validate(raw, nonce).await?;
        let iss = id_token.claims().get("iss").and_then(|v| v.as_str());
        if !endpoints.issued(iss, id_token.tenant_id()) {
            return Err(IdTokenError::Invalid(InvalidToken::Issuer).into());
        }
        Ok(id_token)
    }

    /// Records `state` as used; false when it was used already.
    pub(crate) fn consume_state(&self, state: &str) -> bool {
        let now = self.core.settings.clock.now();
        let until = now
            .saturating_add(self.core.settings.authorization_lifetime)
            .saturating_add(300);
        let digest = sha256_b64(state.as_bytes());
        let mut used = self
            .core
            .used_states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if used.len() >= 1024 {
            used.retain(|_, expires| *expires > now);
        }
        match used.get(&digest) {
            Some(expires) if *expires > now => false,
            _ => {
                used.insert(digest, until);
                true
            }
        }
    }
}

/// AADSTS codes of a refresh token that will never work again: expired,
/// revoked, issued to another client, unknown.
const DEAD_REFRESH_TOKEN: &[u32] = &[70_000, 70_008, 700_082, 700_084, 9_002_313];

/// The cache entry of a token.
pub(crate) fn cached(token: &AccessToken) -> CachedAccessToken {
    CachedAccessToken {
        secret: token.secret.clone(),
        token_type: token.token_type.clone(),
        expires_on: token.expires_on,
        ext_expires_on: token.ext_expires_on,
        scopes: token.scopes.clone(),
        account: token.account.clone(),
    }
}

/// The resource scopes of a request: trimmed, split on whitespace, without
/// duplicates and without the OpenID Connect scopes (added by the flows).
/// They must all belong to one resource: Entra's token endpoint issues a
/// token for one resource at a time.
pub(crate) fn resource_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for scope in scopes.iter().flat_map(|s| s.as_ref().split_whitespace()) {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(scope)) {
            continue;
        }
        if !out.iter().any(|s| s.eq_ignore_ascii_case(scope)) {
            out.push(scope.to_owned());
        }
    }
    let resource = |scope: &str| -> String {
        match scope.rsplit_once('/') {
            Some((resource, _)) => resource.trim_end_matches('/').to_ascii_lowercase(),
            // A bare scope (User.Read) is Microsoft Graph's.
            None => "https://graph.microsoft.com".to_owned(),
        }
    };
    if let Some(first) = out.first() {
        let first = resource(first);
        if let Some(other) = out.iter().find(|s| resource(s) != first) {
            return Err(Error::Config(format!(
                "the scopes name more than one resource ({first} and {}): request one resource at a time",
                resource(other)
            )));
        }
    }
    Ok(out)
}

/// Resource scopes plus `openid profile offline_access`, as MSAL sends them.
pub(crate) fn with_oidc(scopes: &[String]) -> Vec<String> {
    let mut out = scopes.to_vec();
    out.extend(OIDC_SCOPES.iter().map(|s| (*s).to_owned()));
    out
}

/// A client application with a credential (a client secret or a
/// certificate): a web app, a daemon, an API calling another API.
///
/// It is a [`Client`] (it dereferences to one: every user flow works, with
/// the credential), plus app-only tokens and on-behalf-of.
#[derive(Debug, Clone)]
pub struct ConfidentialClient {
    client: Client,
}

impl Deref for ConfidentialClient {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl ConfidentialClient {
    pub(crate) fn new(client: Client) -> Self {
        ConfidentialClient { client }
    }

    /// The user-flow client (cheap: shares everything).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An app-only token (client credentials) for `scopes`: exactly one
    /// `{resource}/.default` (the application permissions granted to this
    /// client on that resource). Cached; a token within the expiry margin is
    /// replaced. Concurrent calls make one request.
    ///
    /// ```no_run
    /// use entra_client::{Client, ClientCredential};
    ///
    /// # async fn daemon() -> Result<(), entra_client::Error> {
    /// let daemon = Client::builder("contoso.onmicrosoft.com", "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f")
    ///     .build_confidential(ClientCredential::secret("heroes-daemon-dev-secret"))?;
    /// let token = daemon
    ///     .acquire_token_for_client(&["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default"])
    ///     .await?;
    /// println!("expires on {}", token.expires_on());
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_for_client<S: AsRef<str>>(
        &self,
        scopes: &[S],
    ) -> Result<AccessToken, Error> {
        let scopes = resource_scopes(scopes)?;
        match scopes.as_slice() {
            [scope] if scope.ends_with("/.default") => {}
            _ => {
                return Err(Error::Config(
                    "client credentials take exactly one scope, {resource}/.default".into(),
                ));
            }
        }
        let settings = &self.core.settings;
        let key =
            TokenCache::access_key(&settings.client_id, &settings.tenant, &Owner::App, &scopes);
        if let Some(token) = self.cached(&key).await? {
            return Ok(token);
        }
        self.core
            .cache
            .single_flight(&key, || async {
                if let Some(token) = self.cached(&key).await? {
                    return Ok(token);
                }
                let params = vec![
                    ("grant_type", "client_credentials".to_owned()),
                    ("scope", scopes.join(" ")),
                ];
                self.app_token(&key, params, &scopes).await
            })
            .await
    }

    /// A token for a downstream API on behalf of the user whose access token
    /// (`user_assertion`, its audience this API) came with the request
    /// (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
    /// `requested_token_use=on_behalf_of`). Cached by the digest of the
    /// incoming token; concurrent calls make one request.
    ///
    /// Consent or conditional-access refusals are
    /// [`Error::InteractionRequired`], with the `claims` challenge to pass
    /// back to the caller.
    ///
    /// ```no_run
    /// # async fn handler(api: &entra_client::ConfidentialClient, incoming: &str) -> Result<(), entra_client::Error> {
    /// let downstream = api
    ///     .acquire_token_on_behalf_of(incoming, &["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Heroes.Read"])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire_token_on_behalf_of<S: AsRef<str>>(
        &self,
        user_assertion: &str,
        scopes: &[S],
    ) -> Result<AccessToken, Error> {
        let user_assertion = user_assertion.trim();
        if user_assertion.is_empty() {
            return Err(Error::Config("on-behalf-of needs the user's token".into()));
        }
        let scopes = resource_scopes(scopes)?;
        if scopes.is_empty() {
            return Err(Error::Config(
                "on-behalf-of needs the downstream API's scopes".into(),
            ));
        }
        let settings = &self.core.settings;
        let key = TokenCache::access_key(
            &settings.client_id,
            &settings.tenant,
            &Owner::OnBehalfOf(user_assertion),
            &scopes,
        );
        if let Some(token) = self.cached(&key).await? {
            return Ok(token);
        }
        self.core
            .cache
            .single_flight(&key, || async {
                if let Some(token) = self.cached(&key).await? {
                    return Ok(token);
                }
                let params = vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                    ),
                    ("requested_token_use", "on_behalf_of".to_owned()),
                    ("assertion", user_assertion.to_owned()),
                    ("scope", scopes.join(" ")),
                ];
                self.app_token(&key, params, &scopes).await
            })
            .await
    }

    /// Requests a token that belongs to no cached account, and caches it.
    async fn app_token(
        &self,
        key: &str,
        params: Vec<(&'static str, String)>,
        scopes: &[String],
    ) -> Result<AccessToken, Error> {
        let endpoints = self.endpoints().await?;
        let answer = self
            .token_request(&endpoints.token, params, false)
            .send()
            .await?;
        let response = match answer {
            Answer::Tokens(response) => response,
            Answer::Refused(server) => return Err(protocol::classify(server, false)),
        };
        let issued = response.issued(&endpoints.token, self.core.settings.clock.now())?;
        let token = AccessToken {
            secret: issued.access_token,
            token_type: issued.token_type,
            expires_on: issued.expires_on,
            ext_expires_on: issued.ext_expires_on,
            scopes: response.granted_scopes(scopes),
            account: None,
            from_cache: false,
        };
        self.core.cache.put_access(key, None, &cached(&token)).await;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_scopes_are_deduplicated_and_single_resource() {
        let scopes = resource_scopes(&[
            "openid api://x/Heroes.Read",
            "API://X/heroes.read offline_access",
            "api://x/Heroes.Write",
        ]);
        assert_eq!(
            scopes.unwrap_or_default(),
            ["api://x/Heroes.Read", "api://x/Heroes.Write"]
        );
        assert!(resource_scopes(&["api://x/Heroes.Read", "User.Read"]).is_err());
        assert!(resource_scopes(&["User.Read", "Mail.Read"]).is_ok());
        assert_eq!(
            resource_scopes::<&str>(&[]).unwrap_or_default(),
            Vec::<String>::new()
        );
    }
}
