//! A scripted browser for the emulator's pages: a cookie-keeping HTTP
//! client, parsing of the pages' forms, PKCE values, and the sign-in flow
//! driven end to end over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, unreachable_pub)]

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_emulator::{Directory, Emulator};
use serde_json::Value;

use crate::common::*;

/// A browser: keeps cookies, follows no redirects, trusts the emulator's CA.
pub fn browser(emulator: &Emulator) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = emulator.ca_pem() {
        builder =
            builder.add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

/// The demo directory with `autoLoginWithHint` on.
pub fn auto_login_directory() -> Directory {
    let mut directory = Directory::default_demo();
    directory.settings.auto_login_with_hint = true;
    directory
}

/// `{base}/{TENANT}/oauth2/v2.0/authorize?{params}`.
pub fn authorize_url(emulator: &Emulator, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?{query}",
        emulator.http_url()
    )
}

/// A fetched page.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub async fn from(response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
    }

    /// The parameters of the redirect (query or fragment).
    pub fn redirect_params(&self) -> HashMap<String, String> {
        let location = self
            .location()
            .unwrap_or_else(|| panic!("expected a redirect, got {}: {}", self.status, self.body));
        params_of(&location)
    }

    /// `Set-Cookie` values.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies().iter().find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }

    pub fn is_sign_in(&self) -> bool {
        self.body.contains("name=\"password\"")
    }

    pub fn is_consent(&self) -> bool {
        self.body.contains("value=\"accept\"")
    }

    /// The first form's action and its hidden fields.
    pub fn form(&self) -> (String, Vec<(String, String)>) {
        (form_action(&self.body), hidden_inputs(&self.body))
    }
}

/// The query or fragment parameters of a URL.
pub fn params_of(location: &str) -> HashMap<String, String> {
    let part = location
        .split_once('#')
        .map(|(_, f)| f)
        .or_else(|| location.split_once('?').map(|(_, q)| q))
        .unwrap_or_default();
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The hidden inputs of an HTML page, in order.
pub fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect()
}

/// The first form's `action`.
pub fn form_action(html: &str) -> String {
    let rest = &html[html.find("<form").expect("a form")..];
    let tag = &rest[..rest.find('>').unwrap()];
    attribute(tag, "action").unwrap()
}

/// GETs a URL with the browser.
pub async fn get(browser: &reqwest::Client, url: &str) -> Page {
    Page::from(browser.get(url).send().await.unwrap()).await
}

/// POSTs a page's form (relative action) with extra fields.
pub async fn submit(
    browser: &reqwest::Client,
    emulator: &Emulator,
    page: &Page,
    extra: &[(&str, &str)],
) -> Page {
    let (action, mut fields) = page.form();
    for (k, v) in extra {
        fields.push(((*k).to_owned(), (*v).to_owned()));
    }
    let url = if action.starts_with('/') {
        format!("{}{action}", emulator.http_url())
    } else {
        action
    };
    Page::from(browser.post(url).form(&fields).send().await.unwrap()).await
}

/// Signs in on the sign-in page.
pub async fn sign_in_as(
    browser: &reqwest::Client,
    emulator: &Emulator,
    page: &Page,
    user: &str,
    password: &str,
) -> Page {
    assert!(page.is_sign_in(), "not the sign-in page: {}", page.body);
    submit(
        browser,
        emulator,
        page,
        &[("username", user), ("password", password)],
    )
    .await
}

/// The whole interactive flow: authorize, sign in as alice, accept consent
/// if asked; returns the final redirect's parameters.
pub async fn interactive_code(
    browser: &reqwest::Client,
    emulator: &Emulator,
    params: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut page = get(browser, &authorize_url(emulator, params)).await;
    if page.is_sign_in() {
        page = sign_in_as(browser, emulator, &page, ALICE, ALICE_PASSWORD).await;
    }
    if page.is_consent() {
        page = submit(browser, emulator, &page, &[("action", "accept")]).await;
    }
    assert_eq!(page.status, 302, "{}", page.body);
    page.redirect_params()
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}

/// The API scope `Heroes.{name}` in full.
pub fn api_scope(name: &str) -> String {
    format!("{API_URI}/Heroes.{name}")
}

/// A code for the SPA, signed in as alice with `autoLoginWithHint` (the
/// emulator must run [`auto_login_directory`]); returns code and verifier.
pub async fn spa_code(emulator: &Emulator, scope: &str, nonce: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let browser = browser(emulator);
    let page = get(
        &browser,
        &authorize_url(
            emulator,
            &[
                ("client_id", SPA),
                ("response_type", "code"),
                ("redirect_uri", SPA_REDIRECT),
                ("scope", scope),
                ("state", "s1"),
                ("nonce", nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("login_hint", ALICE),
            ],
        ),
    )
    .await;
    assert_eq!(page.status, 302, "{}", page.body);
    let params = page.redirect_params();
    assert_eq!(params["state"], "s1");
    (params["code"].clone(), verifier)
}

/// Redeems a SPA code (public client, no secret, cross-origin from the SPA's page).
pub async fn redeem_spa(emulator: &Emulator, code: &str, verifier: &str) -> (u16, Value) {
    post_spa_token(
        emulator,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("code", code),
            ("redirect_uri", SPA_REDIRECT),
            ("code_verifier", verifier),
            ("client_info", "1"),
        ],
    )
    .await
}

/// A JWT's payload.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Verifies a JWT's RS256 signature against the tenant's published keys.
pub async fn assert_signed_by_tenant(emulator: &Emulator, jwt: &str) {
    let keys: Value = client(emulator)
        .get(format!(
            "{}/{TENANT}/discovery/v2.0/keys",
            emulator.http_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut parts = jwt.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
    let key = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the signing key is published");
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let public = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
    public
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{p}").as_bytes(),
            &URL_SAFE_NO_PAD.decode(s).unwrap(),
        )
        .expect("valid RS256 signature");
}

/// Asserts an error sent to the client's redirect URI: `error`, an
/// `AADSTS{code}:` description, and the echoed `state`.
pub fn assert_redirect_error(
    params: &HashMap<String, String>,
    error: &str,
    code: u64,
    state: Option<&str>,
) {
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{params:?}"
    );
    assert!(
        params["error_description"].starts_with(&format!("AADSTS{code}:")),
        "{params:?}"
    );
    assert_eq!(params.get("state").map(String::as_str), state, "{params:?}");
}

/// Asserts the protective headers of every page and authorize answer.
pub fn assert_protected(page: &Page) {
    let h = &page.headers;
    assert_eq!(h["x-frame-options"], "DENY", "{h:?}");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{h:?}"
    );
    assert_eq!(h["referrer-policy"], "no-referrer", "{h:?}");
    assert!(
        h["cache-control"].to_str().unwrap().contains("no-store"),
        "{h:?}"
    );
}
