//! The OpenAPI 3 document (`/openapi.json`), generated from the handlers'
//! `#[utoipa::path]` attributes, and Swagger UI (`/docs`) signing in with
//! the authorization-code flow and PKCE.
//!
//! The handlers name scopes briefly (`Heroes.Read`); the document names them
//! as the authority knows them (`api://{client id}/Heroes.Read`), which is
//! only known at run time: [`document`] qualifies them, declares the `entra`
//! security scheme with the configured tenant's endpoints, and adds the
//! `400`/`401`/`403`/`431`/`503` answers every protected operation can give
//! (entra-auth's, before any handler runs).
//!
//! The document is exact: every constraint the server enforces is in it
//! (`limit` and `after` optional with their default and range, path ids
//! positive 64-bit integers, text fields with their `maxLength` and the
//! [`TEXT_PATTERN`](crate::input::TEXT_PATTERN) saying which characters are
//! refused, unknown body fields refused with `additionalProperties: false`),
//! and every status an operation can answer is listed with its content type.
//! CI checks it against the running server with schemathesis
//! (`.ci/schemathesis`).

use std::collections::btree_map::Entry;

use utoipa::OpenApi;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::{AuthorizationCode, Flow, OAuth2, Scopes, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr, Response, ResponseBuilder};
use utoipa_swagger_ui::{Config, SwaggerUi, oauth};

use crate::ApiConfig;
use crate::heroes::{DELETE, READ, WRITE};

/// The `400` of a protected route that has no other.
const TOKEN_SENT_TWICE: &str = "The token was sent more than once (two `Authorization` headers, or also as `access_token`): `invalid_request`";
/// Added to the description of a protected route's own `400`.
const TOKEN_SENT_TWICE_ALSO: &str = "; or the token was sent more than once (`invalid_request`)";

/// The name of the OAuth2 security scheme in the document.
pub const SECURITY_SCHEME: &str = "entra";

/// The scopes this API defines, and what each grants (as registered).
const SCOPES: [(&str, &str); 3] = [
    (READ, "List and view heroes"),
    (WRITE, "Create heroes"),
    (DELETE, "Delete heroes"),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Heroes API",
        description = "The reference API protected by entra-auth: heroes and each signed-in \
            user's todo items. Sign in with **Authorize**: the authorization-code flow with \
            PKCE against the configured Entra ID tenant (or the local emulator). Daemons call the \
            heroes routes with an app-only token carrying the application permission of the same \
            name (client credentials, scope `api://{client id}/.default`)."
    ),
    tags(
        (name = "heroes", description = "Heroes: delegated scope or application permission `Heroes.Read` / `Heroes.Write` / `Heroes.Delete`"),
        (name = "todo items", description = "Each signed-in user's todo items; the `Admin` app role sees and deletes all"),
        (name = "service", description = "Public: index page and readiness"),
    )
)]
struct ApiDoc;

/// The skeleton the routers add their operations to.
pub(crate) fn skeleton() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// Completes the generated document for this deployment: the `entra`
/// security scheme, fully qualified scopes, and the answers of the auth layer.
pub(crate) fn document(
    mut doc: utoipa::openapi::OpenApi,
    config: &ApiConfig,
) -> utoipa::openapi::OpenApi {
    let prefix = config.scope_prefix();
    let qualify = |scope: &str| format!("{prefix}/{scope}");

    let scopes = Scopes::from_iter(
        SCOPES
            .iter()
            .map(|(scope, description)| (qualify(scope), (*description).to_owned())),
    );
    let flow = Flow::AuthorizationCode(AuthorizationCode::new(
        config.oauth2_endpoint("authorize"),
        config.oauth2_endpoint("token"),
        scopes,
    ));
    let scheme = SecurityScheme::OAuth2(OAuth2::with_description(
        [flow],
        format!(
            "Microsoft Entra ID, tenant {}: authorization code with PKCE",
            config.tenant
        ),
    ));
    doc.components
        .get_or_insert_with(Components::new)
        .add_security_scheme(SECURITY_SCHEME, scheme);

    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let Some(security) = operation.security.as_mut() else {
                continue;
            };
            for requirement in security.iter_mut() {
                *requirement = qualified(requirement, &qualify);
            }
            let responses = &mut operation.responses.responses;
            // entra-auth refuses a token sent more than once before any
            // handler runs: a 400 on every protected route.
            match responses.entry("400".to_owned()) {
                Entry::Occupied(mut entry) => {
                    if let RefOr::T(response) = entry.get_mut() {
                        response.description.push_str(TOKEN_SENT_TWICE_ALSO);
                    }
                }
                Entry::Vacant(entry) => {
                    entry.insert(problem_response(TOKEN_SENT_TWICE));
                }
            }
            for (status, description) in [
                (
                    "401",
                    "No bearer token, or an invalid one (`WWW-Authenticate` says why)",
                ),
                (
                    "403",
                    "The token lacks what this route requires (`insufficient_scope`)",
                ),
                (
                    "431",
                    "The `Authorization` header is larger than the largest token accepted (16 KiB)",
                ),
                (
                    "503",
                    "The authority's signing keys are not loaded yet, or the database is unavailable (`Retry-After`)",
                ),
            ] {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem_response(description));
            }
        }
    }
    doc
}

/// `requirement` with each scope under the API's App ID URI.
fn qualified(
    requirement: &SecurityRequirement,
    qualify: &impl Fn(&str) -> String,
) -> SecurityRequirement {
    // The requirement's map is private: read it back through its JSON form.
    let value = serde_json::to_value(requirement).unwrap_or_default();
    let Some((name, scopes)) = value.as_object().and_then(|m| m.iter().next()) else {
        return requirement.clone();
    };
    let scopes = scopes
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str()).map(qualify).collect())
        .unwrap_or_else(Vec::new);
    SecurityRequirement::new(name, scopes)
}

fn problem_response(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            utoipa::openapi::Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
        .into()
}

/// Swagger UI at `/docs`, reading `/openapi.json`, whose **Authorize** button
/// signs in with PKCE as `config.swagger_client_id`, all scopes preselected.
///
/// Its redirect URI is `/docs/oauth2-redirect.html` on the page's own origin
/// (`http://localhost:8080/docs/oauth2-redirect.html` by default): register
/// exactly that as a single-page-application redirect URI.
pub(crate) fn swagger_ui(doc: utoipa::openapi::OpenApi, config: &ApiConfig) -> SwaggerUi {
    let prefix = config.scope_prefix();
    let scopes = SCOPES
        .iter()
        .map(|(scope, _)| format!("{prefix}/{scope}"))
        .collect();
    SwaggerUi::new("/docs")
        .url("/openapi.json", doc)
        // `config` replaces the whole configuration: it must come before
        // `oauth`, or the OAuth settings are lost.
        .config(
            Config::default()
                .persist_authorization(false)
                .try_it_out_enabled(true),
        )
        .oauth(
            oauth::Config::new()
                .client_id(&config.swagger_client_id)
                .app_name("Heroes API")
                .scopes(scopes)
                .use_pkce_with_authorization_code_grant(true),
        )
}
