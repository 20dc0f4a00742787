//! Sign-in on a device without a browser (RFC 8628, as Entra answers it):
//! show the user a code and a URL, then poll until they signed in elsewhere.
//!
//! ```no_run
//! # async fn cli(client: &entra_client::Client) -> Result<(), entra_client::Error> {
//! let mut flow = client
//!     .start_device_code(&["api://6e74172b-be56-4843-9ff4-e66a39bb12e3/Heroes.Read"])
//!     .await?;
//! eprintln!("{}", flow.message());
//! let sign_in = flow.poll().await?;
//! println!("signed in as {:?}", sign_in.account.username());
//! # Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::client::{resource_scopes, with_oidc};
use crate::protocol::{self, Answer};
use crate::token::SignIn;
use crate::util::{read_body, transport_error};
use crate::{Account, Client, Error};

/// The grant type the token endpoint is polled with.
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Added to the interval on each `slow_down` (RFC 8628 §3.5).
const SLOW_DOWN: Duration = Duration::from_secs(5);

/// The device-code endpoint's answer (v2 numbers or v1 strings).
#[derive(Deserialize)]
struct DeviceCodeResponse {
    device_code: String,
    user_code: String,
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<i64>,
    #[serde(default, deserialize_with = "number_or_string")]
    interval: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error as _;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(n.as_i64()),
        Some(serde_json::Value::String(s)) => s.trim().parse().map(Some).map_err(D::Error::custom),
        Some(_) => Err(D::Error::custom("expected a number")),
    }
}

/// A device-code sign-in under way. Its `Debug` output never shows the
/// device code.
pub struct DeviceCodeFlow {
    client: Client,
    device_code: String,
    user_code: String,
    verification_uri: String,
    message: String,
    expires_at: i64,
    interval: Duration,
    scopes: Vec<String>,
}

impl fmt::Debug for DeviceCodeFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceCodeFlow")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a device-code sign-in for these resource scopes (plus `openid
    /// profile offline_access`). Show the user [`DeviceCodeFlow::message`],
    /// then [`poll`](DeviceCodeFlow::poll).
    pub async fn start_device_code<S: AsRef<str>>(
        &self,
        scopes: &[S],
    ) -> Result<DeviceCodeFlow, Error> {
        let resource = resource_scopes(scopes)?;
        let endpoint = self.endpoints().await?.device_authorization.clone();
        let url = endpoint.as_str();
        let request_id = crate::util::random_guid()?;
        let response = self
            .core
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .header("client-request-id", &request_id)
            .form(&[
                ("client_id", self.client_id()),
                ("scope", &with_oidc(&resource).join(" ")),
            ])
            .send()
            .await
            .map_err(|e| transport_error(url, e))?;
        let status = response.status().as_u16();
        let body = read_body(url, response).await?;
        if !(200..300).contains(&status) {
            return Err(match protocol::parse_error(&body, status, &request_id) {
                Some(server) => protocol::classify(Box::new(server), false),
                None => Error::UnexpectedResponse {
                    url: url.to_owned(),
                    status,
                    reason: "not an OAuth error".into(),
                },
            });
        }
        let answer: DeviceCodeResponse =
            serde_json::from_slice(&body).map_err(|e| Error::UnexpectedResponse {
                url: url.to_owned(),
                status,
                reason: format!("not a device-code response: {e}"),
            })?;
        let now = self.core.settings.clock.now();
        let message = answer.message.unwrap_or_else(|| {
            format!(
                "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
                answer.verification_uri, answer.user_code
            )
        });
        Ok(DeviceCodeFlow {
            client: self.clone(),
            device_code: answer.device_code,
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            message,
            expires_at: now.saturating_add(answer.expires_in.unwrap_or(900).max(0)),
            // RFC 8628: 5 seconds when the server says nothing; never a busy loop.
            interval: Duration::from_secs(
                u64::try_from(answer.interval.unwrap_or(5))
                    .unwrap_or(5)
                    .max(1),
            ),
            scopes: resource,
        })
    }
}

impl DeviceCodeFlow {
    /// The code the user types.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user types it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// The identity provider's instructions for the user (show them as they are).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// When the code expires, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The current polling interval (grows by 5 seconds on each `slow_down`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Polls until the user signs in, declines, or the code expires, waiting
    /// [`interval`](Self::interval) before each request.
    pub async fn poll(&mut self) -> Result<SignIn, Error> {
        loop {
            if self.client.core.settings.clock.now() >= self.expires_at {
                return Err(Error::DeviceCodeExpired);
            }
            tokio::time::sleep(self.interval).await;
            if let Some(sign_in) = self.poll_once().await? {
                return Ok(sign_in);
            }
        }
    }

    /// Asks once, without waiting: `Ok(None)` while the user has not finished
    /// (`authorization_pending`, or `slow_down`, which also lengthens the
    /// interval). Callers that drive their own loop must wait
    /// [`interval`](Self::interval) between calls.
    pub async fn poll_once(&mut self) -> Result<Option<SignIn>, Error> {
        let client = &self.client;
        let settings = &client.core.settings;
        if settings.clock.now() >= self.expires_at {
            return Err(Error::DeviceCodeExpired);
        }
        let endpoints = client.endpoints().await?;
        let answer = client
            .token_request(
                &endpoints.token,
                vec![
                    ("grant_type", DEVICE_CODE_GRANT.to_owned()),
                    ("device_code", self.device_code.clone()),
                ],
                true,
            )
            .send()
            .await?;
        let response = match answer {
            Answer::Tokens(response) => response,
            Answer::Refused(server) => {
                return match server.error.as_str() {
                    "authorization_pending" => Ok(None),
                    "slow_down" => {
                        self.interval += SLOW_DOWN;
                        Ok(None)
                    }
                    "expired_token" | "code_expired" => Err(Error::DeviceCodeExpired),
                    "authorization_declined" | "access_denied" => Err(Error::DeviceCodeDeclined),
                    _ => Err(protocol::classify(server, false)),
                };
            }
        };
        let issued = response.issued(&endpoints.token, settings.clock.now())?;
        let raw_id_token =
            response
                .id_token
                .as_deref()
                .ok_or_else(|| Error::UnexpectedResponse {
                    url: endpoints.token.to_string(),
                    status: 200,
                    reason: "the token response has no id_token".into(),
                })?;
        // The device flow has no nonce: the device code itself binds the answer.
        let id_token = client
            .validate_id_token(endpoints, raw_id_token, None)
            .await?;
        let account = Account::from_id_token(&id_token)?;
        let access_token = client
            .store_user_tokens(&account, &self.scopes, &response, issued)
            .await;
        Ok(Some(SignIn {
            account,
            id_token,
            access_token,
        }))
    }
}
