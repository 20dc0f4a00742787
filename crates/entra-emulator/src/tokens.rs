//! Minting tokens with Entra's claims: access tokens in the version the
//! resource asks for (`accessTokenAcceptedVersion`), ID tokens, `client_info`.

use serde_json::{Map, Value, json};

use crate::Error;
use crate::config::{Application, Tenant, User};
use crate::error::CryptoError;
use crate::scopes::GRAPH_APP_ID;
use crate::state::State;
use crate::util::{b64url, derived_guid, random_token, sha256_b64};

/// How the client authenticated: `azpacr` / `appidacr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAcr {
    /// A public client (no credential): `"0"`.
    Public,
    /// A client secret: `"1"`.
    Secret,
    /// A certificate (client assertion): `"2"`.
    Certificate,
}

impl ClientAcr {
    fn as_str(self) -> &'static str {
        match self {
            ClientAcr::Public => "0",
            ClientAcr::Secret => "1",
            ClientAcr::Certificate => "2",
        }
    }
}

/// What an access token is for and on whose behalf.
#[derive(Debug)]
pub(crate) struct AccessTokenRequest<'a> {
    /// The tenant issuing it.
    pub tenant: &'a Tenant,
    /// The client application receiving it.
    pub client: &'a Application,
    /// The API it is for (`None`: Microsoft Graph, for OpenID-only requests).
    pub resource: Option<&'a Application>,
    /// How the request named the resource: the `aud` of v1 tokens.
    pub identifier: &'a str,
    /// The signed-in user (`None`: app-only).
    pub user: Option<&'a User>,
    /// Delegated scopes (user tokens).
    pub scopes: &'a [String],
    /// How the client authenticated.
    pub acr: ClientAcr,
    /// Extra claims (tests).
    pub extra: Option<&'a Map<String, Value>>,
}

/// An issued token and its lifetime.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Seconds until expiry.
    pub expires_in: i64,
    /// Unix time of expiry.
    pub expires_on: i64,
}

/// The object id of an application's service principal in a tenant.
pub(crate) fn service_principal_id(tenant: &Tenant, app: &Application) -> String {
    app.service_principal_object_id
        .clone()
        .unwrap_or_else(|| derived_guid(&["service-principal", &tenant.tenant_id, &app.app_id]))
}

/// Pairwise subject: stable per user and application, different across applications.
fn pairwise_sub(object_id: &str, app_id: &str) -> String {
    sha256_b64(format!("{object_id}|{app_id}").as_bytes())[..43].to_owned()
}

/// Mints an access token.
pub(crate) fn access_token(state: &State, req: &AccessTokenRequest<'_>) -> Result<Issued, Error> {
    let now = state.now();
    let lifetime = i64::try_from(state.dir().settings.access_token_lifetime).unwrap_or(3600);
    let tid = &req.tenant.tenant_id;
    let (resource_id, version) = match req.resource {
        Some(r) => (r.app_id.as_str(), r.token_version()),
        None => (GRAPH_APP_ID, 1),
    };
    let mut c = Map::new();
    let put = |c: &mut Map<String, Value>, k: &str, v: Value| {
        c.insert(k.to_owned(), v);
    };
    if version == 2 {
        put(&mut c, "aud", resource_id.into());
        put(&mut c, "iss", state.issuer_v2(tid).into());
    } else {
        put(&mut c, "aud", req.identifier.into());
        put(&mut c, "iss", state.issuer_v1(tid).into());
    }
    put(&mut c, "iat", now.into());
    put(&mut c, "nbf", now.into());
    put(&mut c, "exp", (now + lifetime).into());
    put(&mut c, "aio", random_token(48).into());
    if version == 2 {
        put(&mut c, "azp", req.client.app_id.clone().into());
        put(&mut c, "azpacr", req.acr.as_str().into());
    } else {
        put(&mut c, "appid", req.client.app_id.clone().into());
        put(&mut c, "appidacr", req.acr.as_str().into());
    }
    match req.user {
        Some(user) => {
            put(&mut c, "name", user.display_name.clone().into());
            put(&mut c, "oid", user.object_id.clone().into());
            if version == 2 {
                put(
                    &mut c,
                    "preferred_username",
                    user.user_principal_name.clone().into(),
                );
            } else {
                put(&mut c, "upn", user.user_principal_name.clone().into());
                put(
                    &mut c,
                    "unique_name",
                    user.user_principal_name.clone().into(),
                );
                if let Some(given) = &user.given_name {
                    put(&mut c, "given_name", given.clone().into());
                }
                if let Some(surname) = &user.surname {
                    put(&mut c, "family_name", surname.clone().into());
                }
                put(&mut c, "amr", json!(["pwd"]));
            }
            put(&mut c, "scp", req.scopes.join(" ").into());
            let roles: Vec<&str> = user
                .app_role_assignments
                .iter()
                .filter(|a| a.resource_app_id.eq_ignore_ascii_case(resource_id))
                .map(|a| a.app_role.as_str())
                .collect();
            if !roles.is_empty() {
                put(&mut c, "roles", json!(roles));
            }
            put(
                &mut c,
                "sub",
                pairwise_sub(&user.object_id, resource_id).into(),
            );
            if user.guest {
                put(&mut c, "acct", 1.into());
            }
            if let Some(resource) = req.resource {
                if resource.group_membership_claims.is_some() && !user.groups.is_empty() {
                    if user.groups.len() > 200 {
                        put(&mut c, "_claim_names", json!({"groups": "src1"}));
                        put(
                            &mut c,
                            "_claim_sources",
                            json!({"src1": {"endpoint": format!("https://graph.microsoft.com/v1.0/users/{}/getMemberObjects", user.object_id)}}),
                        );
                    } else {
                        put(&mut c, "groups", json!(user.groups));
                    }
                }
            }
            if !user.wids.is_empty() {
                put(&mut c, "wids", json!(user.wids));
            }
            put(&mut c, "idtyp", "user".into());
        }
        None => {
            let sp = service_principal_id(req.tenant, req.client);
            if version == 1 {
                // As Entra's v1 app-only tokens: the identity provider is the
                // tenant's own STS, the issuer (so no validator takes the
                // client for a guest).
                put(&mut c, "idp", state.issuer_v1(tid).into());
            }
            put(&mut c, "oid", sp.clone().into());
            put(&mut c, "sub", sp.into());
            let roles = req
                .resource
                .map(|r| crate::scopes::app_permissions(req.client, r))
                .unwrap_or_default();
            if !roles.is_empty() {
                put(&mut c, "roles", json!(roles));
            }
            put(&mut c, "idtyp", "app".into());
        }
    }
    put(&mut c, "rh", random_token(24).into());
    put(&mut c, "tid", tid.clone().into());
    put(&mut c, "uti", random_token(16).into());
    put(
        &mut c,
        "ver",
        if version == 2 { "2.0" } else { "1.0" }.into(),
    );
    if let Some(extra) = req.extra {
        for (k, v) in extra {
            c.insert(k.clone(), v.clone());
        }
    }
    let key = state
        .keys
        .active(tid)
        .ok_or_else(|| CryptoError::NoSigningKey {
            tenant: tid.clone(),
        })?;
    let mut header = json!({"typ": "JWT", "alg": "RS256", "kid": key.kid});
    if version == 1 {
        header["x5t"] = key.kid.clone().into();
    }
    Ok(Issued {
        token: key.sign(&header, &Value::Object(c))?,
        expires_in: lifetime,
        expires_on: now + lifetime,
    })
}

/// What an ID token is for: the user signed in to `client`.
#[derive(Debug)]
pub(crate) struct IdTokenRequest<'a> {
    /// The tenant issuing it.
    pub tenant: &'a Tenant,
    /// The client application (`aud`).
    pub client: &'a Application,
    /// The signed-in user.
    pub user: &'a User,
    /// The authorize request's `nonce`, echoed verbatim.
    pub nonce: Option<&'a str>,
    /// When the user signed in.
    pub auth_time: i64,
    /// Whether the `email` scope was asked for (`email`, when the user has
    /// an address, only then).
    pub email: bool,
}

/// Mints an ID token (v2 form) with Entra's default claims: `aud`, `iss`,
/// `iat`, `nbf`, `exp`, `auth_time`, `aio`, `name`, `oid`,
/// `preferred_username`, `rh`, `sub`, `tid`, `uti`, `ver`; `nonce` when the
/// authorize request had one, `email` with the `email` scope, `roles` the
/// user holds on the client.
pub(crate) fn id_token(state: &State, req: &IdTokenRequest<'_>) -> Result<String, Error> {
    let IdTokenRequest {
        tenant,
        client,
        user,
        nonce,
        auth_time,
        email,
    } = *req;
    let now = state.now();
    let lifetime = i64::try_from(state.dir().settings.id_token_lifetime).unwrap_or(3600);
    let tid = &tenant.tenant_id;
    let mut c = json!({
        "aud": client.app_id,
        "iss": state.issuer_v2(tid),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "auth_time": auth_time,
        "aio": random_token(48),
        "name": user.display_name,
        "oid": user.object_id,
        "preferred_username": user.user_principal_name,
        "rh": random_token(24),
        "sub": pairwise_sub(&user.object_id, &client.app_id),
        "tid": tid,
        "uti": random_token(16),
        "ver": "2.0",
    });
    if let Some(nonce) = nonce {
        c["nonce"] = nonce.into();
    }
    if let Some(mail) = user.mail.as_ref().filter(|_| email) {
        c["email"] = mail.clone().into();
    }
    let roles: Vec<&str> = user
        .app_role_assignments
        .iter()
        .filter(|a| a.resource_app_id.eq_ignore_ascii_case(&client.app_id))
        .map(|a| a.app_role.as_str())
        .collect();
    if !roles.is_empty() {
        c["roles"] = json!(roles);
    }
    let key = state
        .keys
        .active(tid)
        .ok_or_else(|| CryptoError::NoSigningKey {
            tenant: tid.clone(),
        })?;
    key.sign(&json!({"typ": "JWT", "alg": "RS256", "kid": key.kid}), &c)
}

/// `client_info`: base64url `{"uid": oid, "utid": tid}` (MSAL's home account id).
pub(crate) fn client_info(tenant: &Tenant, user: &User) -> String {
    b64url(
        json!({"uid": user.object_id, "utid": tenant.tenant_id})
            .to_string()
            .as_bytes(),
    )
}
