//! One directory, two places: the emulator's built-in directory
//! (`crates/entra-emulator/default.toml`) and the Terraform that creates the
//! same app registrations in a real tenant (`deploy/terraform/entra.tf`).
//!
//! Both are read into the same shape — per registration: display name,
//! identifier URIs, token version, group claims, scopes, app roles with their
//! member types, platforms with their redirect URI paths, public-client flag,
//! whether it has a secret, and every permission it requires with whether an
//! admin consented to it — and compared. Fixed emulator app ids and Terraform
//! references meet through `local.emulator_app_ids` in entra.tf; the hosts
//! meet through the ports: `localhost:8000` is the web app
//! (`local.web_public_url`), `localhost:8080` the API
//! (`local.api_public_url`). Every `.tf` file must parse as HCL2 too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use entra_emulator::config::{Application, Directory, MemberType};
use hcl::{Block, Body, Expression, TemplateExpr};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn terraform_dir() -> PathBuf {
    repo_root().join("deploy/terraform")
}

/// Every `.tf` file of deploy/terraform, parsed as HCL2, by file name.
fn terraform_files() -> BTreeMap<String, Body> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(terraform_dir()).expect("deploy/terraform exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().and_then(|e| e.to_str()) != Some("tf") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable .tf file");
        let body = hcl::parse(&text)
            .unwrap_or_else(|e| panic!("{} is not valid HCL2: {e}", path.display()));
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("UTF-8 file name")
            .to_owned();
        files.insert(name, body);
    }
    assert!(
        files.contains_key("entra.tf"),
        "deploy/terraform/entra.tf is missing"
    );
    files
}

/// An expression as text: a string or template's raw text, else its HCL source.
fn text(expr: &Expression) -> String {
    match expr {
        Expression::String(s) => s.clone(),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => s.clone(),
            TemplateExpr::Heredoc(h) => h.template.clone(),
        },
        other => other.to_string(),
    }
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes().find(|a| a.key() == key).map(|a| a.expr())
}

fn attr_text(body: &Body, key: &str) -> Option<String> {
    attr(body, key).map(text)
}

/// A list attribute's elements as text (empty when absent).
fn attr_list(body: &Body, key: &str) -> Vec<String> {
    match attr(body, key) {
        Some(Expression::Array(items)) => items.iter().map(text).collect(),
        Some(other) => panic!("{key} is not a list: {other}"),
        None => Vec::new(),
    }
}

fn blocks<'a>(body: &'a Body, identifier: &'a str) -> impl Iterator<Item = &'a Block> + 'a {
    body.blocks().filter(move |b| b.identifier() == identifier)
}

/// `resource "TYPE" "NAME"` blocks of every file, by name.
fn resources<'a>(files: &'a BTreeMap<String, Body>, kind: &str) -> BTreeMap<String, &'a Body> {
    let mut found = BTreeMap::new();
    for body in files.values() {
        for block in blocks(body, "resource") {
            let labels: Vec<&str> = block.labels().iter().map(|l| l.as_str()).collect();
            if labels.first() == Some(&kind) {
                let name = labels.get(1).expect("resource name").to_string();
                assert!(
                    found.insert(name.clone(), block.body()).is_none(),
                    "two {kind}.{name}"
                );
            }
        }
    }
    found
}

/// `TYPE.NAME.ATTR` in an expression's text: NAME.
fn referenced(expr_text: &str, kind: &str, attribute: &str) -> Option<String> {
    let rest = expr_text.trim().strip_prefix(&format!("{kind}."))?;
    let name = rest.strip_suffix(&format!(".{attribute}"))?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// The string literals in an expression's text (`toset(["a", "b"])`: a, b).
fn literals(expr_text: &str) -> BTreeSet<String> {
    expr_text
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A URI with its host replaced by the part of the system it points at.
fn emulator_uri(uri: &str) -> String {
    for (origin, part) in [
        ("http://localhost:8000", "{web}"),
        ("http://localhost:8080", "{api}"),
    ] {
        if let Some(path) = uri.strip_prefix(origin) {
            return format!("{part}{path}");
        }
    }
    uri.to_owned()
}

fn terraform_uri(uri: &str) -> String {
    uri.replace("${local.web_public_url}", "{web}")
        .replace("${local.api_public_url}", "{api}")
}

/// A permission one registration requires of another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Permission {
    /// The resource application (Terraform resource name).
    resource: String,
    /// `Scope` (delegated) or `Role` (application permission).
    kind: &'static str,
    value: String,
    admin_consented: bool,
}

/// One app registration, as both sides describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Registration {
    display_name: String,
    identifier_uris: BTreeSet<String>,
    access_token_version: Option<u8>,
    group_membership_claims: Option<String>,
    scopes: BTreeSet<String>,
    /// Scope -> the description users consent to.
    scope_descriptions: BTreeMap<String, String>,
    app_roles: BTreeMap<String, BTreeSet<String>>,
    /// App role -> its display name.
    app_role_names: BTreeMap<String, String>,
    web_redirect_uris: BTreeSet<String>,
    web_logout_url: Option<String>,
    spa_redirect_uris: BTreeSet<String>,
    public_client_redirect_uris: BTreeSet<String>,
    fallback_public_client: bool,
    has_secret: bool,
    permissions: BTreeSet<Permission>,
}

/// `local.emulator_app_ids`: Terraform resource name -> emulator app id.
fn emulator_app_ids(files: &BTreeMap<String, Body>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for body in files.values() {
        for block in blocks(body, "locals") {
            if let Some(Expression::Object(object)) = attr(block.body(), "emulator_app_ids") {
                for (key, value) in object {
                    let key = key.to_string().trim_matches('"').to_owned();
                    map.insert(key, text(value));
                }
            }
        }
    }
    assert!(
        !map.is_empty(),
        "entra.tf has no locals.emulator_app_ids mapping"
    );
    map
}

/// The emulator's demo tenant, from the file itself.
fn emulator_apps() -> Vec<Application> {
    let path = repo_root().join("crates/entra-emulator/default.toml");
    let text = std::fs::read_to_string(&path).expect("default.toml");
    let directory = Directory::from_toml(&text).expect("default.toml parses");
    assert_eq!(directory.tenants.len(), 1, "one demo tenant");
    directory.tenants[0].applications.clone()
}

fn from_emulator(app: &Application, names: &BTreeMap<String, String>) -> Registration {
    let name_of = |app_id: &str| {
        names.get(app_id).cloned().unwrap_or_else(|| {
            panic!("emulator app {app_id} has no entry in local.emulator_app_ids")
        })
    };
    let mut permissions = BTreeSet::new();
    for access in &app.required_resource_access {
        let resource = name_of(&access.resource_app_id);
        for (kind, values) in [("Scope", &access.scopes), ("Role", &access.roles)] {
            for value in values {
                permissions.insert(Permission {
                    resource: resource.clone(),
                    kind,
                    value: value.clone(),
                    admin_consented: access.admin_consented,
                });
            }
        }
    }
    Registration {
        display_name: app.display_name.clone(),
        identifier_uris: app
            .identifier_uris
            .iter()
            .map(|u| u.replace(&app.app_id, "{self}"))
            .collect(),
        access_token_version: app.access_token_accepted_version,
        group_membership_claims: app.group_membership_claims.clone(),
        scopes: app
            .oauth2_permission_scopes
            .iter()
            .map(|s| s.value.clone())
            .collect(),
        scope_descriptions: app
            .oauth2_permission_scopes
            .iter()
            .map(|s| (s.value.clone(), s.user_consent_description.clone()))
            .collect(),
        app_role_names: app
            .app_roles
            .iter()
            .map(|r| (r.value.clone(), r.display_name.clone()))
            .collect(),
        app_roles: app
            .app_roles
            .iter()
            .map(|r| {
                let types = r
                    .allowed_member_types
                    .iter()
                    .map(|t| match t {
                        MemberType::User => "User".to_owned(),
                        MemberType::Application => "Application".to_owned(),
                    })
                    .collect();
                (r.value.clone(), types)
            })
            .collect(),
        web_redirect_uris: app
            .web
            .redirect_uris
            .iter()
            .map(|u| emulator_uri(u))
            .collect(),
        web_logout_url: app.web.logout_url.as_deref().map(emulator_uri),
        spa_redirect_uris: app
            .spa
            .redirect_uris
            .iter()
            .map(|u| emulator_uri(u))
            .collect(),
        public_client_redirect_uris: app
            .public_client
            .redirect_uris
            .iter()
            .map(|u| emulator_uri(u))
            .collect(),
        fallback_public_client: app.is_fallback_public_client,
        has_secret: !app.password_credentials.is_empty(),
        permissions,
    }
}

/// Every `azuread_application`, read the same way.
fn from_terraform(files: &BTreeMap<String, Body>) -> BTreeMap<String, Registration> {
    let apps = resources(files, "azuread_application");
    let principals: BTreeMap<String, String> = resources(files, "azuread_service_principal")
        .into_iter()
        .map(|(sp, body)| {
            let client = attr_text(body, "client_id").expect("service principal client_id");
            let app = referenced(&client, "azuread_application", "client_id")
                .unwrap_or_else(|| panic!("service principal {sp}: client_id {client}"));
            (sp, app)
        })
        .collect();
    let app_of_principal = |expr: &str| {
        let sp = referenced(expr, "azuread_service_principal", "object_id")
            .unwrap_or_else(|| panic!("not a service principal's object_id: {expr}"));
        principals
            .get(&sp)
            .cloned()
            .unwrap_or_else(|| panic!("no azuread_service_principal.{sp}"))
    };
    // Admin consent: delegated grants and application app-role assignments,
    // as (client app, resource app) -> values.
    let mut consented: BTreeMap<(String, String, &str), BTreeSet<String>> = BTreeMap::new();
    for body in resources(
        files,
        "azuread_service_principal_delegated_permission_grant",
    )
    .values()
    {
        let client =
            app_of_principal(&attr_text(body, "service_principal_object_id").expect("client"));
        let resource = app_of_principal(
            &attr_text(body, "resource_service_principal_object_id").expect("resource"),
        );
        consented
            .entry((client, resource, "Scope"))
            .or_default()
            .extend(attr_list(body, "claim_values"));
    }
    for body in resources(files, "azuread_app_role_assignment").values() {
        let principal = attr_text(body, "principal_object_id").expect("principal");
        // Users' and groups' assignments are given as variables; only
        // applications' (application permissions) are admin consent.
        if referenced(&principal, "azuread_service_principal", "object_id").is_none() {
            continue;
        }
        let client = app_of_principal(&principal);
        let resource = app_of_principal(&attr_text(body, "resource_object_id").expect("resource"));
        let roles = literals(&attr_text(body, "for_each").expect("for_each over the roles"));
        consented
            .entry((client, resource, "Role"))
            .or_default()
            .extend(roles);
    }
    let identifier_uris: BTreeMap<String, BTreeSet<String>> =
        resources(files, "azuread_application_identifier_uri")
            .values()
            .map(|body| {
                let app_expr = attr_text(body, "application_id").expect("application_id");
                let app = referenced(&app_expr, "azuread_application", "id")
                    .unwrap_or_else(|| panic!("identifier URI of {app_expr}"));
                let uri = attr_text(body, "identifier_uri")
                    .expect("identifier_uri")
                    .replace(
                        &format!("${{azuread_application.{app}.client_id}}"),
                        "{self}",
                    );
                (app, uri)
            })
            .fold(BTreeMap::new(), |mut map, (app, uri)| {
                map.entry(app).or_insert_with(BTreeSet::new).insert(uri);
                map
            });
    let passwords: BTreeSet<String> = resources(files, "azuread_application_password")
        .values()
        .map(|body| {
            let app = attr_text(body, "application_id").expect("application_id");
            referenced(&app, "azuread_application", "id")
                .unwrap_or_else(|| panic!("password of {app}"))
        })
        .collect();

    // The id expressions of each app's scopes and roles: id -> (kind, value).
    let mut ids: BTreeMap<String, BTreeMap<String, (&'static str, String)>> = BTreeMap::new();
    for (name, body) in &apps {
        let entry = ids.entry(name.clone()).or_default();
        for api in blocks(body, "api") {
            for scope in blocks(api.body(), "oauth2_permission_scope") {
                entry.insert(
                    attr_text(scope.body(), "id").expect("scope id"),
                    (
                        "Scope",
                        attr_text(scope.body(), "value").expect("scope value"),
                    ),
                );
            }
        }
        for role in blocks(body, "app_role") {
            entry.insert(
                attr_text(role.body(), "id").expect("role id"),
                ("Role", attr_text(role.body(), "value").expect("role value")),
            );
        }
    }

    let mut registrations = BTreeMap::new();
    for (name, body) in &apps {
        let platform = |kind: &str| -> (BTreeSet<String>, Option<String>) {
            let mut uris = BTreeSet::new();
            let mut logout = None;
            for block in blocks(body, kind) {
                uris.extend(
                    attr_list(block.body(), "redirect_uris")
                        .iter()
                        .map(|u| terraform_uri(u)),
                );
                logout = attr_text(block.body(), "logout_url").map(|u| terraform_uri(&u));
            }
            (uris, logout)
        };
        let (web_redirect_uris, web_logout_url) = platform("web");
        let (spa_redirect_uris, _) = platform("spa");
        let (public_client_redirect_uris, _) = platform("public_client");
        let mut permissions = BTreeSet::new();
        for access in blocks(body, "required_resource_access") {
            let resource_expr =
                attr_text(access.body(), "resource_app_id").expect("resource_app_id");
            let resource = referenced(&resource_expr, "azuread_application", "client_id")
                .unwrap_or_else(|| panic!("{name}: resource_app_id {resource_expr}"));
            for item in blocks(access.body(), "resource_access") {
                let id = attr_text(item.body(), "id").expect("resource_access id");
                let declared = attr_text(item.body(), "type").expect("resource_access type");
                let (kind, value) = ids
                    .get(&resource)
                    .and_then(|m| m.get(&id))
                    .cloned()
                    .unwrap_or_else(|| panic!("{name}: {id} is no scope or role of {resource}"));
                assert_eq!(
                    declared, kind,
                    "{name}: {value} of {resource} is a {kind}, declared {declared}"
                );
                let admin_consented = consented
                    .get(&(name.clone(), resource.clone(), kind))
                    .is_some_and(|values| values.contains(&value));
                permissions.insert(Permission {
                    resource: resource.clone(),
                    kind,
                    value,
                    admin_consented,
                });
            }
        }
        let api = blocks(body, "api").next().map(|b| b.body());
        let registration = Registration {
            display_name: attr_text(body, "display_name").expect("display_name"),
            identifier_uris: identifier_uris.get(name).cloned().unwrap_or_default(),
            access_token_version: api
                .and_then(|api| attr_text(api, "requested_access_token_version"))
                .map(|v| v.parse().expect("a token version number")),
            group_membership_claims: {
                let claims = attr_list(body, "group_membership_claims");
                (!claims.is_empty()).then(|| claims.join(","))
            },
            scopes: api
                .map(|api| {
                    blocks(api, "oauth2_permission_scope")
                        .map(|s| attr_text(s.body(), "value").expect("scope value"))
                        .collect()
                })
                .unwrap_or_default(),
            scope_descriptions: api
                .map(|api| {
                    blocks(api, "oauth2_permission_scope")
                        .map(|s| {
                            (
                                attr_text(s.body(), "value").expect("scope value"),
                                attr_text(s.body(), "user_consent_description")
                                    .expect("user_consent_description"),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            app_role_names: blocks(body, "app_role")
                .map(|r| {
                    (
                        attr_text(r.body(), "value").expect("role value"),
                        attr_text(r.body(), "display_name").expect("role display_name"),
                    )
                })
                .collect(),
            app_roles: blocks(body, "app_role")
                .map(|r| {
                    (
                        attr_text(r.body(), "value").expect("role value"),
                        attr_list(r.body(), "allowed_member_types")
                            .into_iter()
                            .collect(),
                    )
                })
                .collect(),
            web_redirect_uris,
            web_logout_url,
            spa_redirect_uris,
            public_client_redirect_uris,
            fallback_public_client: attr_text(body, "fallback_public_client_enabled").as_deref()
                == Some("true"),
            has_secret: passwords.contains(name),
            permissions,
        };
        registrations.insert(name.clone(), registration);
    }
    registrations
}

/// The differences between the two descriptions of the directory, one line each.
fn differences(files: &BTreeMap<String, Body>, emulator: &[Application]) -> Vec<String> {
    let mapping = emulator_app_ids(files);
    let names: BTreeMap<String, String> = mapping
        .iter()
        .map(|(name, app_id)| (app_id.clone(), name.clone()))
        .collect();
    let terraform = from_terraform(files);
    let mut found = Vec::new();
    for name in terraform.keys() {
        if !mapping.contains_key(name) {
            found.push(format!(
                "azuread_application.{name} is not in local.emulator_app_ids"
            ));
        }
    }
    for (name, app_id) in &mapping {
        if !emulator.iter().any(|a| &a.app_id == app_id) {
            found.push(format!(
                "local.emulator_app_ids.{name} = {app_id}: no such app in default.toml"
            ));
        }
        if !terraform.contains_key(name) {
            found.push(format!(
                "local.emulator_app_ids.{name}: no azuread_application.{name}"
            ));
        }
    }
    for app in emulator {
        let Some(name) = names.get(&app.app_id) else {
            found.push(format!(
                "default.toml's {} ({}) has no Terraform registration",
                app.display_name, app.app_id
            ));
            continue;
        };
        let Some(tf) = terraform.get(name) else {
            continue;
        };
        let emu = from_emulator(app, &names);
        macro_rules! compare {
            ($($field:ident),*) => {$(
                if emu.$field != tf.$field {
                    found.push(format!(
                        "{} ({name}): {}: default.toml has {:?}, Terraform has {:?}",
                        app.display_name,
                        stringify!($field),
                        emu.$field,
                        tf.$field
                    ));
                }
            )*};
        }
        compare!(
            display_name,
            identifier_uris,
            access_token_version,
            group_membership_claims,
            scopes,
            scope_descriptions,
            app_roles,
            app_role_names,
            web_redirect_uris,
            web_logout_url,
            spa_redirect_uris,
            public_client_redirect_uris,
            fallback_public_client,
            has_secret,
            permissions
        );
    }
    found
}

#[test]
fn every_terraform_file_parses_as_hcl2() {
    let files = terraform_files();
    for expected in [
        "entra.tf",
        "azure.tf",
        "github.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
    ] {
        assert!(
            files.contains_key(expected),
            "deploy/terraform/{expected} is missing"
        );
    }
}

#[test]
fn terraform_registrations_mirror_the_emulator_directory() {
    let files = terraform_files();
    let emulator = emulator_apps();
    assert_eq!(emulator.len(), 5, "the demo directory's five registrations");
    let found = differences(&files, &emulator);
    assert!(
        found.is_empty(),
        "deploy/terraform/entra.tf and crates/entra-emulator/default.toml disagree:\n  {}",
        found.join("\n  ")
    );
}

/// The comparison is not vacuous: changing either side alone is caught.
#[test]
fn a_change_on_one_side_only_is_caught() {
    let files = terraform_files();
    let emulator = emulator_apps();

    // A scope renamed in the emulator only.
    let mut renamed = emulator.clone();
    let api = renamed
        .iter_mut()
        .find(|a| a.display_name == "Heroes API")
        .expect("Heroes API");
    api.oauth2_permission_scopes[0].value = "Heroes.Browse".into();
    let found = differences(&files, &renamed);
    assert!(
        found
            .iter()
            .any(|d| d.contains("scopes") && d.contains("Heroes.Browse")),
        "{found:?}"
    );

    // A redirect URI path changed, a role's member type, admin consent.
    let mut changed = emulator.clone();
    for app in &mut changed {
        match app.display_name.as_str() {
            "Heroes Web" => {
                app.web.redirect_uris = vec!["http://localhost:8000/signin-oidc".into()]
            }
            "Heroes Daemon" => app.required_resource_access[0].admin_consented = false,
            "Heroes API" => app.app_roles[0].allowed_member_types = vec![MemberType::Application],
            _ => {}
        }
    }
    let found = differences(&files, &changed);
    for field in ["web_redirect_uris", "permissions", "app_roles"] {
        assert!(
            found.iter().any(|d| d.contains(field)),
            "{field}: {found:?}"
        );
    }

    // A scope renamed in the Terraform only.
    let entra = std::fs::read_to_string(terraform_dir().join("entra.tf")).expect("entra.tf");
    let edited = entra.replacen(
        "value                      = \"Heroes.Write\"",
        "value                      = \"Heroes.Create\"",
        1,
    );
    assert_ne!(
        edited, entra,
        "the scope's line is where this test expects it"
    );
    let mut files = files;
    files.insert("entra.tf".into(), hcl::parse(&edited).expect("still HCL2"));
    let found = differences(&files, &emulator);
    assert!(
        found
            .iter()
            .any(|d| d.contains("scopes") && d.contains("Heroes.Create")),
        "{found:?}"
    );
}

/// The `{ NAME = value }` objects an `app_settings` expression is made of: an
/// object, or `merge(...)` of objects and of `cond ? tomap({...}) :
/// tomap({...})` (settings that depend on a variable: every branch counts).
fn setting_objects<'a>(
    expr: &'a Expression,
    out: &mut Vec<&'a hcl::Object<hcl::ObjectKey, Expression>>,
) {
    match expr {
        Expression::Object(object) => out.push(object),
        Expression::Parenthesis(inner) => setting_objects(inner, out),
        Expression::Conditional(conditional) => {
            setting_objects(&conditional.true_expr, out);
            setting_objects(&conditional.false_expr, out);
        }
        Expression::FuncCall(call)
            if matches!(call.name.name.as_str(), "merge" | "tomap") && !call.expand_final =>
        {
            for arg in &call.args {
                setting_objects(arg, out);
            }
        }
        other => panic!(
            "app_settings: {other} is neither an object nor merge/tomap/a conditional of objects"
        ),
    }
}

/// The variables a command of `entra` reads: its clap `env = "..."` names.
fn variables_read_by(source: &str) -> BTreeSet<String> {
    let path = repo_root().join("crates/entra-cli/src").join(source);
    let text = std::fs::read_to_string(&path).expect("entra-cli source");
    text.split("env = \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// The web apps' settings are variables their command really reads (no
/// invented names), and each runs the command whose variables it sets.
#[test]
fn app_settings_are_the_variables_the_binaries_read() {
    let files = terraform_files();
    let apps = resources(&files, "azurerm_linux_web_app");
    // App Service's own setting: the port the container listens on.
    let platform = BTreeSet::from(["WEBSITES_PORT".to_owned()]);
    for (app, command, required) in [
        (
            "api",
            "api.rs",
            &[
                "AZURE_AUTHORITY_HOST",
                "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID",
                "DATABASE_URL",
                "API_BIND",
                "API_PORT",
            ][..],
        ),
        (
            "web",
            "web.rs",
            &[
                "AZURE_AUTHORITY_HOST",
                "AZURE_TENANT_ID",
                "AZURE_CLIENT_ID",
                // web_credential: "secret" or "federated".
                "AZURE_CLIENT_SECRET",
                "WEB_MANAGED_IDENTITY_ASSERTION",
                "WEB_MANAGED_IDENTITY_CLIENT_ID",
                "WEB_PUBLIC_URL",
                "API_BASE_URL",
                "REDIS_URL",
                "WEB_BIND",
                "WEB_PORT",
            ][..],
        ),
    ] {
        let body = apps
            .get(app)
            .unwrap_or_else(|| panic!("no azurerm_linux_web_app.{app}"));
        let site = blocks(body, "site_config").next().expect("site_config");
        assert_eq!(
            attr_text(site.body(), "app_command_line").as_deref(),
            Some(app),
            "azurerm_linux_web_app.{app} runs `entra {app}`"
        );
        let Some(expr) = attr(body, "app_settings") else {
            panic!("azurerm_linux_web_app.{app} has no app_settings");
        };
        let mut objects = Vec::new();
        setting_objects(expr, &mut objects);
        let settings: Vec<(&hcl::ObjectKey, &Expression)> =
            objects.iter().flat_map(|o| o.iter()).collect();
        let names: BTreeSet<String> = settings
            .iter()
            .map(|(k, _)| k.to_string().trim_matches('"').to_owned())
            .collect();
        let read = variables_read_by(command);
        assert!(!read.is_empty(), "no env = \"...\" in {command}");
        let unknown: Vec<&String> = names
            .iter()
            .filter(|n| !read.contains(*n) && !platform.contains(*n))
            .collect();
        assert!(
            unknown.is_empty(),
            "azurerm_linux_web_app.{app} sets {unknown:?}, which `entra {app}` does not read (it reads {read:?})"
        );
        for name in required {
            assert!(
                names.contains(*name),
                "azurerm_linux_web_app.{app} does not set {name}"
            );
        }
        // Secrets come from Key Vault, never inline.
        for secret in ["AZURE_CLIENT_SECRET", "DATABASE_URL", "REDIS_URL"] {
            if let Some((_, value)) = settings
                .iter()
                .find(|(k, _)| k.to_string().trim_matches('"') == secret)
            {
                assert!(
                    text(value).starts_with("@Microsoft.KeyVault(SecretUri="),
                    "azurerm_linux_web_app.{app}: {secret} must be a Key Vault reference"
                );
            }
        }
    }
}

/// With `web_credential = "federated"`, Heroes Web trusts the managed
/// identity the web app runs as (no secret); with `"secret"`, it has a secret
/// in Key Vault and no federated credential: never both, never neither.
#[test]
fn the_web_app_signs_in_with_its_managed_identity_or_a_secret() {
    let files = terraform_files();
    let credentials = resources(&files, "azuread_application_federated_identity_credential");
    let fic = credentials
        .get("heroes_web")
        .expect("azuread_application_federated_identity_credential.heroes_web");
    assert_eq!(
        attr_text(fic, "application_id").as_deref(),
        Some("azuread_application.heroes_web.id")
    );
    assert_eq!(attr_list(fic, "audiences"), ["api://AzureADTokenExchange"]);
    assert_eq!(
        attr_text(fic, "issuer").as_deref(),
        Some("https://login.microsoftonline.com/${var.tenant_id}/v2.0")
    );
    assert_eq!(
        attr_text(fic, "subject").as_deref(),
        Some("azurerm_user_assigned_identity.apps.principal_id")
    );
    let web = resources(&files, "azurerm_linux_web_app");
    let web = web.get("web").expect("azurerm_linux_web_app.web");
    let identity = blocks(web, "identity").next().expect("identity block");
    assert_eq!(
        attr_list(identity.body(), "identity_ids"),
        ["azurerm_user_assigned_identity.apps.id"],
        "the web app runs as the identity Heroes Web trusts"
    );
    let count = |kind: &str, name: &str| {
        let all = resources(&files, kind);
        let body = all.get(name).unwrap_or_else(|| panic!("{kind}.{name}"));
        attr_text(body, "count").unwrap_or_else(|| panic!("{kind}.{name} has no count"))
    };
    assert_eq!(
        count(
            "azuread_application_federated_identity_credential",
            "heroes_web"
        ),
        "local.web_uses_secret ? 0 : 1"
    );
    assert_eq!(
        count("azuread_application_password", "heroes_web"),
        "local.web_uses_secret ? 1 : 0"
    );
    assert_eq!(
        count("azurerm_key_vault_secret", "web_client_secret"),
        "local.web_uses_secret ? 1 : 0"
    );
    let variables: BTreeMap<String, &Body> = files
        .values()
        .flat_map(|body| blocks(body, "variable"))
        .filter_map(|b| Some((b.labels().first()?.as_str().to_owned(), b.body())))
        .collect();
    let variable = variables
        .get("web_credential")
        .expect("variable web_credential");
    assert_eq!(attr_text(variable, "default").as_deref(), Some("federated"));
}

/// The admin principal gets what the emulator's admin (alice) holds, the
/// further users what its other users (bob) hold.
#[test]
fn user_role_assignments_mirror_the_demo_users() {
    let files = terraform_files();
    let path = repo_root().join("crates/entra-emulator/default.toml");
    let directory = Directory::from_toml(&std::fs::read_to_string(path).expect("default.toml"))
        .expect("default.toml parses");
    let roles_of = |admin: bool| -> BTreeSet<BTreeSet<String>> {
        directory.tenants[0]
            .users
            .iter()
            .map(|u| {
                u.app_role_assignments
                    .iter()
                    .map(|a| a.app_role.clone())
                    .collect::<BTreeSet<_>>()
            })
            .filter(|roles| roles.contains("Admin") == admin)
            .collect()
    };
    let assignments = resources(&files, "azuread_app_role_assignment");
    let admin = assignments
        .get("admin")
        .expect("azuread_app_role_assignment.admin");
    assert_eq!(
        attr_text(admin, "principal_object_id").as_deref(),
        Some("var.admin_principal_object_id")
    );
    let admin_roles = literals(&attr_text(admin, "for_each").expect("for_each"));
    assert_eq!(
        BTreeSet::from([admin_roles]),
        roles_of(true),
        "azuread_app_role_assignment.admin's roles against default.toml's admin users' roles"
    );

    let users = assignments
        .get("users")
        .expect("azuread_app_role_assignment.users");
    let role = attr_text(users, "app_role_id").expect("app_role_id");
    assert_eq!(
        BTreeSet::from([literals(&role)]),
        roles_of(false),
        "azuread_app_role_assignment.users' role against default.toml's other users' roles"
    );
}
