//! The JSON administration API under `/_emulator/`, its persisted journal,
//! and the same operations as library calls on [`Emulator`].
//!
//! | Method and path | Body | Answer |
//! |---|---|---|
//! | `GET /_emulator/tenants` | | every tenant, as below |
//! | `GET /_emulator/tenants/{tenant}` | | the tenant's registrations and users, without secrets or passwords |
//! | `POST /_emulator/tenants/{tenant}/users` | a user (`objectId` generated when absent) | 201 with the user; 409 if the UPN or object id exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/users/{objectId or upn}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/applications` | an app registration (`appId` generated when absent) | 201 with the registration; 409 if the app id or an App ID URI exists; 422 if invalid |
//! | `DELETE /_emulator/tenants/{tenant}/applications/{appId}` | | 204; 404 |
//! | `POST /_emulator/tenants/{tenant}/keys/rotate` | | `{"kid": ...}` |
//! | `GET /_emulator/requests` | | the request log (secrets redacted) |
//! | `GET /_emulator/clock`, `POST /_emulator/clock` | `{"offsetSeconds": n}` and/or `{"fixed": unix or null}` | `{"now": unix}` |
//! | `POST /_emulator/tokens` | `{"tenant", "clientId", "resource", "user"?, "scopes"?, "claims"?}` | `{"access_token", "token_type", "expires_in", "expires_on"}` |
//!
//! `{tenant}` is a tenant id or domain. Errors are `{"error": kind, "message": text}`
//! with 400 (malformed JSON), 404, 409 or 422. Every change is checked
//! against the whole directory ([`Directory::check`]) before it takes effect,
//! and appended to `{data_dir}/admin-journal.json`, which
//! [`apply_journal`] replays over the configuration file at start, so
//! changes survive restarts. Key rotations need no journal: the key files
//! themselves are persisted.
//!
//! The API has no authentication: it is for a local emulator bound to
//! loopback, like the rest of it.

use std::path::Path;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, State as Shared};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::config::{Application, Directory, User};
use crate::server::Emulator;
use crate::state::{State, lock};
use crate::store::JsonFile;
use crate::tokens::{AccessTokenRequest, ClientAcr, Issued};
use crate::{Error, util};

/// The journal's file name in the data directory.
pub const JOURNAL: &str = "admin-journal.json";

/// A request to mint an access token directly (tests): any user or none,
/// any scopes, extra claims.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MintRequest {
    /// The issuing tenant (id or domain).
    pub tenant: String,
    /// The client application (`azp` / `appid`). An app id the directory
    /// does not know is accepted as a bare registration (no permissions).
    pub client_id: String,
    /// The API the token is for: its app id or an App ID URI (the `aud` of
    /// v1 tokens is this value as given).
    pub resource: String,
    /// The signed-in user (UPN or object id); `None`: an app-only token
    /// carrying the client's granted application permissions.
    #[serde(default)]
    pub user: Option<String>,
    /// Delegated scopes (`scp`) of a user token, as `Heroes.Read` or
    /// `api://.../Heroes.Read`. Any value is accepted.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Claims added last (they replace the computed ones: `exp`, `roles`...).
    #[serde(default)]
    pub claims: Map<String, Value>,
}

impl MintRequest {
    /// An app-only token for `client_id` on `resource`.
    pub fn app_only(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        MintRequest {
            tenant: tenant.into(),
            client_id: client_id.into(),
            resource: resource.into(),
            ..MintRequest::default()
        }
    }

    /// A delegated token for `user` (UPN or object id) with `scopes`.
    pub fn delegated<S: Into<String>>(
        tenant: impl Into<String>,
        client_id: impl Into<String>,
        resource: impl Into<String>,
        user: impl Into<String>,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        MintRequest {
            user: Some(user.into()),
            scopes: scopes.into_iter().map(Into::into).collect(),
            ..Self::app_only(tenant, client_id, resource)
        }
    }

    /// Adds (or replaces) a claim.
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }
}

/// One administrative change, as journaled (tenants by id).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum AdminOp {
    AddUser {
        tenant: String,
        user: Box<User>,
    },
    RemoveUser {
        tenant: String,
        user: String,
    },
    AddApplication {
        tenant: String,
        application: Box<Application>,
    },
    RemoveApplication {
        tenant: String,
        app_id: String,
    },
}

impl AdminOp {
    /// What the change is, for logs (never secrets).
    fn describe(&self) -> String {
        match self {
            AdminOp::AddUser { tenant, user } => {
                format!("add user {} to {tenant}", user.user_principal_name)
            }
            AdminOp::RemoveUser { tenant, user } => format!("remove user {user} from {tenant}"),
            AdminOp::AddApplication {
                tenant,
                application,
            } => format!("add application {} to {tenant}", application.app_id),
            AdminOp::RemoveApplication { tenant, app_id } => {
                format!("remove application {app_id} from {tenant}")
            }
        }
    }
}

/// Why an administrative request was refused.
#[derive(Debug)]
enum Refusal {
    /// Not JSON at all (400).
    BadJson(String),
    /// The tenant, user or application does not exist (404).
    NotFound(String),
    /// It exists already (409).
    Conflict(String),
    /// Well-formed but invalid, or the directory would become invalid (422).
    Invalid(String),
    /// Storage or signing failed (500).
    Failed(Error),
}

impl Refusal {
    fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Refusal::BadJson(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            Refusal::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            Refusal::Conflict(m) => (StatusCode::CONFLICT, "conflict", m.clone()),
            Refusal::Invalid(m) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid", m.clone()),
            Refusal::Failed(e) => (StatusCode::INTERNAL_SERVER_ERROR, "failed", e.to_string()),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, error, message) = self.parts();
        (status, Json(json!({"error": error, "message": message}))).into_response()
    }
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Failed(e) => e,
            other => Error::Admin(other.parts().2),
        }
    }
}

// --- The changes -------------------------------------------------------------

/// The index of the tenant named by id or domain.
fn tenant_index(directory: &Directory, name: &str) -> Result<usize, Refusal> {
    directory
        .tenants
        .iter()
        .position(|t| t.tenant_id.eq_ignore_ascii_case(name) || t.domain.eq_ignore_ascii_case(name))
        .ok_or_else(|| Refusal::NotFound(format!("no tenant {name}")))
}

/// Applies `op` to `directory` (unchecked); returns the op as journaled.
fn apply(directory: &mut Directory, op: AdminOp) -> Result<AdminOp, Refusal> {
    match op {
        AdminOp::AddUser { tenant, user } => {
            let index = tenant_index(directory, &tenant)?;
            let upn = user.user_principal_name.trim();
            if upn.is_empty() || upn.len() != user.user_principal_name.len() {
                return Err(Refusal::Invalid(
                    "userPrincipalName must be non-empty, without surrounding spaces".into(),
                ));
            }
            let t = &mut directory.tenants[index];
            if t.users
                .iter()
                .any(|u| u.user_principal_name.eq_ignore_ascii_case(upn))
            {
                return Err(Refusal::Conflict(format!(
                    "user {upn} already exists in {}",
                    t.domain
                )));
            }
            if t.users
                .iter()
                .any(|u| u.object_id.eq_ignore_ascii_case(&user.object_id))
            {
                return Err(Refusal::Conflict(format!(
                    "a user with objectId {} already exists in {}",
                    user.object_id, t.domain
                )));
            }
            t.users.push((*user).clone());
            Ok(AdminOp::AddUser {
                tenant: t.tenant_id.clone(),
                user,
            })
        }
        AdminOp::RemoveUser { tenant, user } => {
            let index = tenant_index(directory, &tenant)?;
            let t = &mut directory.tenants[index];
            let position = t
                .users
                .iter()
                .position(|u| {
                    u.object_id.eq_ignore_ascii_case(&user)
                        || u.user_principal_name.eq_ignore_ascii_case(&user)
                })
                .ok_or_else(|| Refusal::NotFound(format!("no user {user} in {}", t.domain)))?;
            let removed = t.users.remove(position);
            Ok(AdminOp::RemoveUser {
                tenant: t.tenant_id.clone(),
                user: removed.object_id,
            })
        }
        AdminOp::AddApplication {
            tenant,
            application,
        } => {
            let index = tenant_index(directory, &tenant)?;
            if directory.application(&application.app_id).is_some() {
                return Err(Refusal::Conflict(format!(
                    "application {} already exists",
                    application.app_id
                )));
            }
            for uri in &application.identifier_uris {
                if let Some(other) = directory.resource(uri) {
                    return Err(Refusal::Conflict(format!(
                        "identifier URI {uri} is already used by {}",
                        other.app_id
                    )));
                }
            }
            let t = &mut directory.tenants[index];
            t.applications.push((*application).clone());
            Ok(AdminOp::AddApplication {
                tenant: t.tenant_id.clone(),
                application,
            })
        }
        AdminOp::RemoveApplication { tenant, app_id } => {
            let index = tenant_index(directory, &tenant)?;
            let t = &mut directory.tenants[index];
            let position = t
                .applications
                .iter()
                .position(|a| a.app_id.eq_ignore_ascii_case(&app_id))
                .ok_or_else(|| {
                    Refusal::NotFound(format!("no application {app_id} in {}", t.domain))
                })?;
            let removed = t.applications.remove(position);
            Ok(AdminOp::RemoveApplication {
                tenant: t.tenant_id.clone(),
                app_id: removed.app_id,
            })
        }
    }
}

/// `directory` with `op` applied, if the result is a valid directory.
fn applied(directory: &Directory, op: AdminOp) -> Result<(Directory, AdminOp), Refusal> {
    let mut next = directory.clone();
    let op = apply(&mut next, op)?;
    next.check()
        .map_err(|e| Refusal::Invalid(e.to_string().replace("invalid configuration: ", "")))?;
    Ok((next, op))
}

/// Applies a change to the running emulator: checked, journaled, then visible.
fn change(state: &State, op: AdminOp) -> Result<(), Refusal> {
    let mut directory = state.dir_mut();
    let (next, op) = applied(&directory, op)?;
    if let Some(data_dir) = &state.data_dir {
        let journal: JsonFile<Vec<AdminOp>> =
            JsonFile::load(Some(data_dir), JOURNAL).map_err(Refusal::Failed)?;
        journal
            .update(|ops| ops.push(op.clone()))
            .map_err(Refusal::Failed)?;
    }
    *directory = Arc::new(next);
    tracing::info!(change = %op.describe(), "directory changed");
    Ok(())
}

/// Applies the administrative changes recorded in the data directory on top
/// of the configured directory. Changes that no longer apply (the file
/// changed since) are skipped with a warning.
pub fn apply_journal(directory: Directory, data_dir: Option<&Path>) -> Result<Directory, Error> {
    let Some(data_dir) = data_dir else {
        return Ok(directory);
    };
    let journal: JsonFile<Vec<AdminOp>> = JsonFile::load(Some(data_dir), JOURNAL)?;
    let ops = journal.read(Clone::clone);
    let mut directory = directory;
    let mut replayed = 0usize;
    for op in ops {
        let what = op.describe();
        match applied(&directory, op) {
            Ok((next, _)) => {
                directory = next;
                replayed += 1;
            }
            Err(refusal) => {
                let (_, _, reason) = refusal.parts();
                tracing::warn!(change = %what, %reason, "administrative change skipped: it no longer applies");
            }
        }
    }
    if replayed > 0 {
        tracing::info!(replayed, "administrative changes replayed from the journal");
    }
    Ok(directory)
}

// --- Minting -----------------------------------------------------------------

fn mint(state: &State, request: &MintRequest) -> Result<Issued, Refusal> {
    let (tenant, client, resource, user) = {
        let directory = state.dir();
        let tenant = directory
            .tenant(&request.tenant)
            .cloned()
            .ok_or_else(|| Refusal::NotFound(format!("no tenant {}", request.tenant)))?;
        let client = match directory.application(&request.client_id) {
            Some(app) => app.clone(),
            None if crate::config::is_guid(&request.client_id) => Application {
                app_id: request.client_id.clone(),
                ..Application::default()
            },
            None => {
                return Err(Refusal::Invalid(format!(
                    "clientId {:?} is not a GUID",
                    request.client_id
                )));
            }
        };
        let resource = directory
            .resource(&request.resource)
            .cloned()
            .ok_or_else(|| Refusal::Invalid(format!("no resource {:?}", request.resource)))?;
        let user = match &request.user {
            Some(name) => Some(
                tenant
                    .users
                    .iter()
                    .find(|u| {
                        u.object_id.eq_ignore_ascii_case(name)
                            || u.user_principal_name.eq_ignore_ascii_case(name)
                    })
                    .cloned()
                    .ok_or_else(|| {
                        Refusal::Invalid(format!("no user {name} in {}", tenant.domain))
                    })?,
            ),
            None => None,
        };
        (tenant, client, resource, user)
    };
    if user.is_none() && !request.scopes.is_empty() {
        return Err(Refusal::Invalid(
            "scopes are for user tokens: app-only tokens carry the client's application \
             permissions (or set \"roles\" in claims)"
                .into(),
        ));
    }
    let scopes: Vec<String> = request
        .scopes
        .iter()
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let identifier = request.resource.trim_end_matches('/');
    let acr = if client.is_confidential() {
        ClientAcr::Secret
    } else {
        ClientAcr::Public
    };
    crate::tokens::access_token(
        state,
        &AccessTokenRequest {
            tenant: &tenant,
            client: &client,
            resource: Some(&resource),
            identifier,
            user: user.as_ref(),
            scopes: &scopes,
            acr,
            extra: Some(&request.claims),
        },
    )
    .map_err(Refusal::Failed)
}

// --- Views without secrets ---------------------------------------------------

fn public_user(user: &User) -> Value {
    let mut value = serde_json::to_value(user).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("password");
    }
    value
}

fn public_application(app: &Application) -> Value {
    let mut value = serde_json::to_value(app).unwrap_or(Value::Null);
    if let Some(credentials) = value
        .get_mut("passwordCredentials")
        .and_then(Value::as_array_mut)
    {
        for credential in credentials {
            if let Some(object) = credential.as_object_mut() {
                object.remove("secretText");
            }
        }
    }
    value
}

fn public_tenant(tenant: &crate::config::Tenant) -> Value {
    json!({
        "tenantId": tenant.tenant_id,
        "domain": tenant.domain,
        "displayName": tenant.display_name,
        "applications": tenant.applications.iter().map(public_application).collect::<Vec<_>>(),
        "users": tenant.users.iter().map(public_user).collect::<Vec<_>>(),
    })
}

// --- HTTP --------------------------------------------------------------------

/// The administration routes.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/_emulator/tenants", get(list_tenants))
        .route("/_emulator/tenants/{tenant}", get(get_tenant))
        .route("/_emulator/tenants/{tenant}/users", post(add_user))
        .route(
            "/_emulator/tenants/{tenant}/users/{user}",
            delete(remove_user),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications",
            post(add_application),
        )
        .route(
            "/_emulator/tenants/{tenant}/applications/{app_id}",
            delete(remove_application),
        )
        .route("/_emulator/tenants/{tenant}/keys/rotate", post(rotate_keys))
        .route("/_emulator/requests", get(requests))
        .route("/_emulator/clock", get(get_clock).post(set_clock))
        .route("/_emulator/tokens", post(mint_token))
}

/// Parses a JSON body: malformed JSON is 400, a wrong shape 422.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let value = json_value(body)?;
    from_value(value)
}

fn json_value(body: &[u8]) -> Result<Value, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::BadJson(format!("malformed JSON: {e}")))
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Refusal> {
    serde_json::from_value(value).map_err(|e| Refusal::Invalid(e.to_string()))
}

/// A JSON object body with `field` set to a fresh GUID when absent.
fn with_generated_id<T: DeserializeOwned>(body: &[u8], field: &str) -> Result<T, Refusal> {
    let mut value = json_value(body)?;
    if let Some(object) = value.as_object_mut() {
        object
            .entry(field)
            .or_insert_with(|| util::random_guid().into());
    }
    from_value(value)
}

async fn list_tenants(Shared(state): Shared<Arc<State>>) -> Response {
    let directory = state.dir();
    let tenants: Vec<Value> = directory.tenants.iter().map(public_tenant).collect();
    Json(tenants).into_response()
}

async fn get_tenant(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
) -> Response {
    match state.tenant(&tenant) {
        Some(t) => Json(public_tenant(&t)).into_response(),
        None => Refusal::NotFound(format!("no tenant {tenant}")).into_response(),
    }
}

async fn add_user(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
    body: Bytes,
) -> Response {
    let result = with_generated_id::<User>(&body, "objectId").and_then(|user| {
        let view = public_user(&user);
        change(
            &state,
            AdminOp::AddUser {
                tenant,
                user: Box::new(user),
            },
        )
        .map(|()| view)
    });
    created(result)
}

async fn remove_user(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, user)): UrlPath<(String, String)>,
) -> Response {
    no_content(change(&state, AdminOp::RemoveUser { tenant, user }))
}

async fn add_application(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
    body: Bytes,
) -> Response {
    let result = with_generated_id::<Application>(&body, "appId").and_then(|application| {
        let view = public_application(&application);
        change(
            &state,
            AdminOp::AddApplication {
                tenant,
                application: Box::new(application),
            },
        )
        .map(|()| view)
    });
    created(result)
}

async fn remove_application(
    Shared(state): Shared<Arc<State>>,
    UrlPath((tenant, app_id)): UrlPath<(String, String)>,
) -> Response {
    no_content(change(
        &state,
        AdminOp::RemoveApplication { tenant, app_id },
    ))
}

async fn rotate_keys(
    Shared(state): Shared<Arc<State>>,
    UrlPath(tenant): UrlPath<String>,
) -> Response {
    let Some(t) = state.tenant(&tenant) else {
        return Refusal::NotFound(format!("no tenant {tenant}")).into_response();
    };
    match state.keys.rotate(&t.tenant_id, state.now()) {
        Ok(kid) => {
            tracing::info!(tenant = %t.tenant_id, %kid, "signing key rotated");
            Json(json!({"kid": kid})).into_response()
        }
        Err(e) => Refusal::Failed(e).into_response(),
    }
}

async fn requests(Shared(state): Shared<Arc<State>>) -> Response {
    let log: Vec<_> = lock(&state.log).iter().cloned().collect();
    Json(log).into_response()
}

async fn get_clock(Shared(state): Shared<Arc<State>>) -> Response {
    Json(json!({"now": state.now()})).into_response()
}

async fn set_clock(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let result = (|| {
        let value = json_value(&body)?;
        let Some(object) = value.as_object() else {
            return Err(Refusal::Invalid("expected a JSON object".into()));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| *k != "offsetSeconds" && *k != "fixed")
        {
            return Err(Refusal::Invalid(format!(
                "unknown field {unknown:?}: expected offsetSeconds or fixed"
            )));
        }
        let offset = match object.get("offsetSeconds") {
            None => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| Refusal::Invalid("offsetSeconds must be an integer".into()))?,
            ),
        };
        let fixed = match object.get("fixed") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(v.as_i64().ok_or_else(|| {
                Refusal::Invalid("fixed must be Unix seconds or null".into())
            })?)),
        };
        if offset.is_none() && fixed.is_none() {
            return Err(Refusal::Invalid(
                "expected {\"offsetSeconds\": n} or {\"fixed\": unix|null}".into(),
            ));
        }
        if let Some(fixed) = fixed {
            state.set_clock_fixed(fixed);
        }
        if let Some(offset) = offset {
            state.set_clock_offset(offset);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Json(json!({"now": state.now()})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn mint_token(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    match parse::<MintRequest>(&body).and_then(|request| mint(&state, &request)) {
        Ok(issued) => {
            let mut response = Json(json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "expires_on": issued.expires_on,
            }))
            .into_response();
            crate::error::no_store(response.headers_mut());
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

fn created(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(view) => (StatusCode::CREATED, Json(view)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn no_content(result: Result<(), Refusal>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

// --- Library calls -----------------------------------------------------------

impl Emulator {
    /// Adds a user to `tenant` (id or domain), as `POST
    /// /_emulator/tenants/{tenant}/users` does: checked and journaled.
    pub fn add_user(&self, tenant: &str, user: User) -> Result<(), Error> {
        Ok(change(
            &self.state,
            AdminOp::AddUser {
                tenant: tenant.to_owned(),
                user: Box::new(user),
            },
        )?)
    }

    /// Removes a user (object id or UPN) from `tenant`.
    pub fn remove_user(&self, tenant: &str, user: &str) -> Result<(), Error> {
        Ok(change(
            &self.state,
            AdminOp::RemoveUser {
                tenant: tenant.to_owned(),
                user: user.to_owned(),
            },
        )?)
    }

    /// Adds an app registration to `tenant`.
    pub fn add_application(&self, tenant: &str, application: Application) -> Result<(), Error> {
        Ok(change(
            &self.state,
            AdminOp::AddApplication {
                tenant: tenant.to_owned(),
                application: Box::new(application),
            },
        )?)
    }

    /// Removes an app registration from `tenant`.
    pub fn remove_application(&self, tenant: &str, app_id: &str) -> Result<(), Error> {
        Ok(change(
            &self.state,
            AdminOp::RemoveApplication {
                tenant: tenant.to_owned(),
                app_id: app_id.to_owned(),
            },
        )?)
    }

    /// Mints an access token directly, as `POST /_emulator/tokens` does,
    /// signed with the tenant's active key on the emulator's clock.
    pub fn mint_access_token(&self, request: MintRequest) -> Result<String, Error> {
        Ok(mint(&self.state, &request)?.token)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn demo() -> Directory {
        Directory::default_demo()
    }

    fn user(upn: &str) -> User {
        User {
            object_id: util::random_guid(),
            user_principal_name: upn.into(),
            password: "pw".into(),
            ..User::default()
        }
    }

    #[test]
    fn changes_are_checked_against_the_whole_directory() {
        let d = demo();
        let tid = d.tenants[0].tenant_id.clone();
        let op = AdminOp::AddUser {
            tenant: "contoso.onmicrosoft.com".into(),
            user: Box::new(user("carol@contoso.onmicrosoft.com")),
        };
        let (next, op) = applied(&d, op).unwrap();
        assert_eq!(next.tenants[0].users.len(), d.tenants[0].users.len() + 1);
        // Journaled with the tenant's id.
        assert!(matches!(op, AdminOp::AddUser { tenant, .. } if tenant == tid));

        let dup = AdminOp::AddUser {
            tenant: tid.clone(),
            user: Box::new(user("ALICE@contoso.onmicrosoft.com")),
        };
        assert!(matches!(applied(&d, dup), Err(Refusal::Conflict(_))));

        let mut bad = user("dave@contoso.onmicrosoft.com");
        bad.object_id = "nope".into();
        let bad = AdminOp::AddUser {
            tenant: tid.clone(),
            user: Box::new(bad),
        };
        assert!(matches!(applied(&d, bad), Err(Refusal::Invalid(_))));

        // The API is referenced by the other registrations: removing it breaks them.
        let api = d.tenants[0].applications[0].app_id.clone();
        let remove = AdminOp::RemoveApplication {
            tenant: tid.clone(),
            app_id: api,
        };
        assert!(matches!(applied(&d, remove), Err(Refusal::Invalid(_))));

        let missing = AdminOp::RemoveUser {
            tenant: tid,
            user: "nobody@contoso.onmicrosoft.com".into(),
        };
        assert!(matches!(applied(&d, missing), Err(Refusal::NotFound(_))));
    }

    #[test]
    fn journal_entries_round_trip() {
        let op = AdminOp::RemoveApplication {
            tenant: "t".into(),
            app_id: "a".into(),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(
            text,
            r#"{"op":"removeApplication","tenant":"t","appId":"a"}"#
        );
        let back: AdminOp = serde_json::from_str(&text).unwrap();
        assert_eq!(back.describe(), op.describe());
    }

    #[test]
    fn views_drop_secrets_and_passwords() {
        let d = demo();
        let view = public_tenant(&d.tenants[0]).to_string();
        assert!(!view.contains("dev-secret"), "{view}");
        assert!(!view.contains("dev-password"), "{view}");
        assert!(view.contains("alice@contoso.onmicrosoft.com"));
    }

    #[test]
    fn bodies_distinguish_malformed_json_from_invalid_values() {
        assert!(matches!(
            parse::<MintRequest>(b"{nope"),
            Err(Refusal::BadJson(_))
        ));
        assert!(matches!(
            parse::<MintRequest>(br#"{"tenant": 3}"#),
            Err(Refusal::Invalid(_))
        ));
        let user: User = with_generated_id(
            br#"{"userPrincipalName": "x@y", "password": "p"}"#,
            "objectId",
        )
        .unwrap();
        assert!(crate::config::is_guid(&user.object_id));
    }
}
