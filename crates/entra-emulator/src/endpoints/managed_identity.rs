//! The managed-identity endpoints, as the Azure hosts serve them to code
//! running on a resource:
//!
//! - **App Service** (also Azure Functions and Container Apps):
//!   `GET /msi/token?api-version=2019-08-01&resource=…` with the
//!   `X-IDENTITY-HEADER` the platform put in `IDENTITY_HEADER`
//!   (`IDENTITY_ENDPOINT` is this URL). `client_id`, `principal_id` (or
//!   `object_id`) or `mi_res_id` select a user-assigned identity. The answer
//!   is `{"access_token", "expires_on", "resource", "token_type",
//!   "client_id"}`, `expires_on` a string of Unix seconds; errors are
//!   `{"statusCode", "message", "correlationId"}`: 401 without the right
//!   header, 400 for a bad parameter, an unknown identity or resource.
//! - **IMDS** (virtual machines): `GET
//!   /metadata/identity/oauth2/token?api-version=2018-02-01&resource=…` with
//!   `Metadata: true`; requests without it, or with `X-Forwarded-For` (a
//!   proxied request: the SSRF defence), are refused. `client_id`,
//!   `object_id` or `msi_res_id` select a user-assigned identity. The answer
//!   is `{"access_token", "client_id", "expires_in", "expires_on",
//!   "ext_expires_in", "not_before", "resource", "token_type"}`, every value
//!   a string; errors are `{"error", "error_description"}`, 400: `bad_request_102`
//!   without `Metadata: true`, `invalid_request` (`Identity not found`...),
//!   `invalid_resource` (AADSTS500011) for an unknown resource.
//!
//! Without a selector the system-assigned identity answers. Tokens are app
//! tokens of the identity (`idtyp: app`, `oid`/`sub` its principal id,
//! `appid`/`azp` its client id, `xms_mirid` its resource id, `roles` its
//! app-role assignments on the resource), v1 or v2 as the resource's
//! `accessTokenAcceptedVersion` says. The resource `api://AzureADTokenExchange`
//! gives a v2 token with that audience: a federated assertion for an
//! application whose federated credential trusts the identity (issuer the
//! tenant's v2 issuer, subject the principal id), as in Entra.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::config::{
    Application, IdentitySelector, ManagedIdentity, ResourceAccess, TOKEN_EXCHANGE_AUDIENCE,
};
use crate::error::no_store;
use crate::state::State as Shared;
use crate::tokens::{self, AccessTokenRequest, ClientAcr, Issued};
use crate::util::{random_guid, secrets_equal};

/// The App Service endpoint's path (`IDENTITY_ENDPOINT` is `{http base}/msi/token`).
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";
/// The IMDS endpoint's path.
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The App Service API version the emulator serves.
const APP_SERVICE_VERSION: &str = "2019-08-01";
/// IMDS API versions of the identity endpoint (`2018-02-01` or later).
const IMDS_VERSIONS: &[&str] = &["2018-02-01", "2019-03-11", "2019-08-01", "2021-02-01"];
/// The application id of Entra's token-exchange resource (`api://AzureADTokenExchange`).
const TOKEN_EXCHANGE_APP_ID: &str = "fb60f99c-7a34-4190-8149-302f77469936";

/// Which endpoint is answering: their errors differ in shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    AppService,
    Imds,
}

/// A refusal, rendered in the endpoint's own shape.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    /// IMDS's `error` (App Service has none).
    error: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            error,
            message: message.into(),
        }
    }

    fn bad_request(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    fn render(self, flavor: Flavor) -> Response {
        let body = match flavor {
            Flavor::AppService => json!({
                "statusCode": self.status.as_u16(),
                "message": self.message,
                "correlationId": random_guid(),
            }),
            Flavor::Imds => json!({
                "error": self.error,
                "error_description": self.message,
            }),
        };
        let mut response = (self.status, Json(body)).into_response();
        no_store(response.headers_mut());
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET"));
        }
        response
    }
}

/// The query's parameters (a repeated one is refused).
fn params(query: Option<&str>) -> Result<Vec<(String, String)>, Refusal> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if out.iter().any(|(name, _)| *name == k) {
            return Err(Refusal::bad_request(
                "invalid_request",
                format!("The query parameter '{k}' is repeated."),
            ));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// A selector's query parameter and the selection it makes.
type SelectorParam = (&'static str, fn(String) -> IdentitySelector);

/// The identity the parameters name: at most one selector.
fn selector(
    params: &[(String, String)],
    names: &[SelectorParam],
) -> Result<IdentitySelector, Refusal> {
    let given: Vec<(&str, IdentitySelector)> = names
        .iter()
        .filter_map(|(name, make)| get(params, name).map(|v| (*name, make(v.to_owned()))))
        .collect();
    match given.as_slice() {
        [] => Ok(IdentitySelector::SystemAssigned),
        [(_, one)] => Ok(one.clone()),
        _ => Err(Refusal::bad_request(
            "invalid_request",
            format!(
                "Only one of {} may be specified.",
                names.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// `GET /msi/token`: the App Service managed-identity endpoint.
pub(crate) async fn app_service(
    State(state): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    app_service_token(&state, &method, &headers, query.as_deref())
        .unwrap_or_else(|refusal| refusal.render(Flavor::AppService))
}

fn app_service_token(
    state: &Shared,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, Refusal> {
    if method != Method::GET {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            format!(
                "The managed identity endpoint only accepts GET requests. Received a {method} request."
            ),
        ));
    }
    let presented = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    match presented {
        None => {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "The request is missing the X-IDENTITY-HEADER header (the value of IDENTITY_HEADER).",
            ));
        }
        Some(value) if !secrets_equal(value, &state.identity_header) => {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request",
                "The X-IDENTITY-HEADER header does not match this host's IDENTITY_HEADER.",
            ));
        }
        Some(_) => {}
    }
    let params = params(query)?;
    match get(&params, "api-version") {
        Some(APP_SERVICE_VERSION) => {}
        Some(other) => {
            return Err(Refusal::bad_request(
                "invalid_request",
                format!("The api-version '{other}' is not supported: use {APP_SERVICE_VERSION}."),
            ));
        }
        None => {
            return Err(Refusal::bad_request(
                "invalid_request",
                "The query parameter 'api-version' is required.",
            ));
        }
    }
    let resource = get(&params, "resource").ok_or_else(|| {
        Refusal::bad_request(
            "invalid_request",
            "The query parameter 'resource' is required.",
        )
    })?;
    let selector = selector(
        &params,
        &[
            ("client_id", IdentitySelector::ClientId),
            ("principal_id", IdentitySelector::PrincipalId),
            ("object_id", IdentitySelector::PrincipalId),
            ("mi_res_id", IdentitySelector::ResourceId),
        ],
    )?;
    let (issued, client_id) = issue(state, &selector, resource)?;
    let body = json!({
        "access_token": issued.token,
        "expires_on": issued.expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
    });
    Ok(ok(body))
}

/// `GET /metadata/identity/oauth2/token`: the IMDS managed-identity endpoint.
pub(crate) async fn imds(
    State(state): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    imds_token(&state, &method, &headers, query.as_deref())
        .unwrap_or_else(|refusal| refusal.render(Flavor::Imds))
}

fn imds_token(
    state: &Shared,
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, Refusal> {
    if method != Method::GET {
        return Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            format!("The HTTP method {method} is not supported on this endpoint: use GET."),
        ));
    }
    // IMDS answers only requests made on the machine itself, never relayed.
    if headers.contains_key("x-forwarded-for") {
        return Err(Refusal::bad_request(
            "invalid_request",
            "Requests containing an X-Forwarded-For header are not accepted.",
        ));
    }
    let metadata: Vec<&HeaderValue> = headers.get_all("metadata").iter().collect();
    if !matches!(metadata.as_slice(), [value] if value.as_bytes() == b"true") {
        return Err(Refusal::bad_request(
            "bad_request_102",
            "Required metadata header not specified",
        ));
    }
    let params = params(query)?;
    match get(&params, "api-version") {
        Some(version) if IMDS_VERSIONS.contains(&version) => {}
        Some(other) => {
            return Err(Refusal::bad_request(
                "invalid_request",
                format!("Invalid version of api: '{other}'. Use 2018-02-01 or later."),
            ));
        }
        None => {
            return Err(Refusal::bad_request(
                "invalid_request",
                "Required query variable 'api-version' is missing",
            ));
        }
    }
    let resource = get(&params, "resource").ok_or_else(|| {
        Refusal::bad_request(
            "invalid_request",
            "Required query variable 'resource' is missing",
        )
    })?;
    let selector = selector(
        &params,
        &[
            ("client_id", IdentitySelector::ClientId),
            ("object_id", IdentitySelector::PrincipalId),
            ("msi_res_id", IdentitySelector::ResourceId),
        ],
    )?;
    let (issued, client_id) = issue(state, &selector, resource)?;
    let now = state.now();
    let body = json!({
        "access_token": issued.token,
        "client_id": client_id,
        "expires_in": issued.expires_in.to_string(),
        "expires_on": issued.expires_on.to_string(),
        "ext_expires_in": issued.expires_in.to_string(),
        "not_before": now.to_string(),
        "resource": resource,
        "token_type": "Bearer",
    });
    Ok(ok(body))
}

fn ok(body: Value) -> Response {
    let mut response = Json(body).into_response();
    no_store(response.headers_mut());
    response
}

/// Mints the selected identity's token for `resource`; returns it and the
/// identity's client id.
fn issue(
    state: &Shared,
    selector: &IdentitySelector,
    resource: &str,
) -> Result<(Issued, String), Refusal> {
    let directory = state.dir();
    let Some((tenant, identity)) = directory.managed_identity(selector) else {
        let message = match selector {
            IdentitySelector::SystemAssigned => {
                "No managed identity was specified and this resource has no system-assigned identity."
            }
            _ => "Identity not found",
        };
        return Err(Refusal::bad_request("invalid_request", message));
    };
    let identifier = resource.trim_end_matches("/.default");
    let exchange = identifier.trim_end_matches('/') == TOKEN_EXCHANGE_AUDIENCE;
    let exchange_app;
    let resource_app = if exchange {
        exchange_app = Application {
            app_id: TOKEN_EXCHANGE_APP_ID.to_owned(),
            display_name: "AzureADTokenExchange".to_owned(),
            identifier_uris: vec![TOKEN_EXCHANGE_AUDIENCE.to_owned()],
            access_token_accepted_version: Some(2),
            ..Application::default()
        };
        &exchange_app
    } else {
        directory.resource(identifier).ok_or_else(|| {
            Refusal::bad_request(
                "invalid_resource",
                format!(
                    "AADSTS500011: The resource principal named {identifier} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
                    tenant.tenant_id
                ),
            )
        })?
    };
    let client = as_application(identity);
    let mut extra = Map::new();
    extra.insert("xms_mirid".into(), identity.resource_id.clone().into());
    if exchange {
        extra.insert("aud".into(), TOKEN_EXCHANGE_AUDIENCE.into());
    }
    let issued = tokens::access_token(
        state,
        &AccessTokenRequest {
            tenant,
            client: &client,
            resource: Some(resource_app),
            identifier,
            user: None,
            scopes: &[],
            acr: ClientAcr::Certificate,
            extra: Some(&extra),
        },
    )
    .map_err(|e| {
        tracing::error!(error = %e, "managed identity token could not be signed");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unknown",
            "Failed to retrieve token from the Active directory.",
        )
    })?;
    Ok((issued, identity.client_id.clone()))
}

/// The identity as the service principal it is: its client id, its
/// principal id as the service principal's object id, and its app-role
/// assignments as application permissions an admin granted.
fn as_application(identity: &ManagedIdentity) -> Application {
    let mut access: Vec<ResourceAccess> = Vec::new();
    for assignment in &identity.app_role_assignments {
        match access.iter_mut().find(|a| {
            a.resource_app_id
                .eq_ignore_ascii_case(&assignment.resource_app_id)
        }) {
            Some(entry) => entry.roles.push(assignment.app_role.clone()),
            None => access.push(ResourceAccess {
                resource_app_id: assignment.resource_app_id.clone(),
                scopes: Vec::new(),
                roles: vec![assignment.app_role.clone()],
                admin_consented: true,
            }),
        }
    }
    Application {
        app_id: identity.client_id.clone(),
        display_name: identity.display_name.clone(),
        required_resource_access: access,
        service_principal_object_id: Some(identity.principal_id.clone()),
        ..Application::default()
    }
}
