//! `entra api`: runs the Heroes API (`demo-api`) until Ctrl-C or SIGTERM.
//!
//! With no configuration it serves the emulator's demo directory: run
//! `entra emulator` beside it. For real Entra ID set `AZURE_AUTHORITY_HOST`
//! to `https://login.microsoftonline.com`, `AZURE_TENANT_ID` and
//! `AZURE_CLIENT_ID` (the API's app registration).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use demo_api::config::{demo, redact_password};
use demo_api::{ApiConfig, DemoApi, Error};

use crate::Failure;
use crate::authority::check_authority;
use crate::preflight;
use entra_core::is_guid;

/// Options of `entra api`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Authority host that issues the tokens: the local emulator by default,
    /// `https://login.microsoftonline.com` for Entra ID. Plain `http` is
    /// accepted for loopback hosts only.
    #[arg(long, env = "AZURE_AUTHORITY_HOST", default_value = demo::AUTHORITY_HOST)]
    authority_host: String,

    /// Tenant id or verified domain; `organizations` or `common` for a
    /// multi-tenant API (with --allowed-tenants).
    #[arg(long, env = "AZURE_TENANT_ID", default_value = demo::TENANT_ID)]
    tenant: String,

    /// The API's own application (client) id: tokens must be issued for it.
    #[arg(long, env = "AZURE_CLIENT_ID", default_value = demo::API_CLIENT_ID)]
    client_id: String,

    /// The API's App ID URI, when it is not `api://{client id}`.
    #[arg(long, env = "API_AUDIENCE")]
    audience: Option<String>,

    /// `sqlite://path/file.db` or `postgres://user@host/database` (default:
    /// a SQLite file in {data-dir}/api).
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,

    /// Data directory: the default SQLite database is `{data-dir}/api/demo-api.db`.
    #[arg(long, env = "ENTRA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Address to listen on [default: $ENTRA_BIND, else 127.0.0.1].
    #[arg(long, env = "API_BIND")]
    bind: Option<IpAddr>,

    /// Port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, env = "API_PORT", default_value_t = 8080)]
    port: u16,

    /// Accept tokens obtained by these client applications only
    /// (comma-separated app ids; default: any).
    #[arg(long, env = "API_ALLOWED_CLIENT_APPS", value_delimiter = ',')]
    allowed_client_apps: Vec<String>,

    /// Multi-tenant: accept tokens from these tenant ids (comma-separated),
    /// or `*` for any tenant.
    #[arg(long, env = "API_ALLOWED_TENANTS", value_delimiter = ',')]
    allowed_tenants: Vec<String>,

    /// The client id Swagger UI signs in with (a single-page application
    /// whose redirect URI is `http://localhost:{port}/docs/oauth2-redirect.html`).
    #[arg(long, env = "API_SWAGGER_CLIENT_ID", default_value = demo::SWAGGER_CLIENT_ID)]
    swagger_client_id: String,

    #[command(flatten)]
    oidc: crate::oidc::OidcArgs,

    /// Do not serve Prometheus metrics at `/metrics` (served by default, on
    /// the API's own port).
    #[arg(long, env = "API_NO_METRICS")]
    no_metrics: bool,
}

/// Starts the API, prints where it is, and serves until a signal.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    crate::metrics::enable(!args.no_metrics)?;
    let config = config(&args)?;
    let addr = SocketAddr::new(crate::bind::address(args.bind)?, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_failure(&e, args.port))?;
    let local = check_authority(&args.authority_host)?;
    // Entra's tenant check; a generic OpenID Connect provider has no tenant
    // (its discovery document is loaded, and retried, by the validator).
    let authority = if config.oidc_discovery_url.is_some() {
        preflight::Authority::NotYet
    } else {
        preflight::check_tenant(&config.authority_host, &config.tenant, local).await?
    };
    let port = listener.local_addr().map_or(args.port, |a| a.port());
    let api = DemoApi::start(config.clone(), listener)
        .await
        .map_err(|e| start_failure(e, &config))?;
    print!("{}", banner(&api, &config));
    if local && authority == preflight::Authority::Answers {
        // Swagger UI signs in with this redirect URI.
        preflight::check_redirect_uri(
            &config.authority_host,
            &config.tenant,
            &config.swagger_client_id,
            &format!("http://localhost:{port}/docs/oauth2-redirect.html"),
            "the API's Swagger UI",
        )
        .await;
    }

    // Say so when the authority is not up yet: the API keeps trying.
    let ready = api.validator().ready();
    let authority_host = config
        .oidc_discovery_url
        .clone()
        .unwrap_or_else(|| config.authority_host.clone());
    let waiting = tokio::spawn(async move {
        if tokio::time::timeout(std::time::Duration::from_secs(5), ready)
            .await
            .is_err()
        {
            if local {
                tracing::warn!(
                    authority = %authority_host,
                    "no signing keys yet: protected routes answer 503 until the emulator answers (is `entra emulator` running?)"
                );
            } else {
                tracing::warn!(
                    authority = %authority_host,
                    "no signing keys yet: protected routes answer 503 until the authority answers"
                );
            }
        }
    });

    let signal = crate::emulator::wait_for_signal().await;
    waiting.abort();
    tracing::info!("shutting down");
    api.shutdown().await;
    signal
}

/// The API's configuration from the command line, checked.
fn config(args: &Args) -> Result<ApiConfig, Failure> {
    let guid = |flag: &str, value: &str| {
        if is_guid(value.trim()) {
            Ok(value.trim().to_owned())
        } else {
            Err(Failure::Misconfigured(format!(
                "{flag} {value:?} is not an application (client) id: expected a GUID"
            )))
        }
    };
    let database_url = match &args.database_url {
        Some(url) => url.trim().to_owned(),
        None => {
            let path = args.data_dir.join("api").join("demo-api.db");
            format!("sqlite://{}", path.display())
        }
    };
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|scheme| database_url.starts_with(scheme))
    {
        return Err(Failure::Misconfigured(format!(
            "the database URL {} must start with sqlite: or postgres:// (check --database-url or DATABASE_URL)",
            redact_password(&database_url)
        )));
    }
    if let Some(path) = sqlite_file(&database_url) {
        prepare_directory(&path, args.database_url.is_none())?;
    }
    check_authority(&args.authority_host)?;
    let mut config = ApiConfig::new(
        args.authority_host.trim(),
        args.tenant.trim(),
        guid("--client-id", &args.client_id)?,
        database_url,
    );
    config.audience = args.audience.clone().filter(|a| !a.trim().is_empty());
    config.allowed_client_apps = args
        .allowed_client_apps
        .iter()
        .filter(|a| !a.trim().is_empty())
        .map(|a| guid("--allowed-client-apps", a))
        .collect::<Result<_, _>>()?;
    config.allowed_tenants = args
        .allowed_tenants
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let multi_tenant = ["organizations", "common"]
        .iter()
        .any(|t| config.tenant.eq_ignore_ascii_case(t));
    match (multi_tenant, config.allowed_tenants.is_empty()) {
        (true, true) => {
            return Err(Failure::Misconfigured(format!(
                "--tenant {} is multi-tenant: name the tenants to accept with --allowed-tenants (tenant ids, or * for any) or API_ALLOWED_TENANTS",
                config.tenant
            )));
        }
        (false, false) => {
            return Err(Failure::Misconfigured(
                "--allowed-tenants is for a multi-tenant API: set --tenant organizations (or common), or leave --allowed-tenants and API_ALLOWED_TENANTS empty".into(),
            ));
        }
        _ => {}
    }
    config.swagger_client_id = guid("--swagger-client-id", &args.swagger_client_id)?;
    let oidc = args.oidc.resolve()?;
    config.oidc_discovery_url = oidc.discovery_url;
    config.oidc_issuer = oidc.issuer;
    config.scope_claim = oidc.scope_claim;
    // Plain http only where entra-auth allows it by itself: loopback hosts.
    config.allow_insecure_http = false;
    // Check it now, to explain it in terms of flags.
    config
        .auth_config()
        .map_err(|e| start_failure(e, &config))?;
    Ok(config)
}

/// The file a `sqlite:` URL names, if any (not for in-memory databases).
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or(url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(PathBuf::from(path))
}

/// Creates the SQLite file's directory (private: `0700`, like each missing
/// parent) and proves it writable.
fn prepare_directory(file: &Path, from_data_dir: bool) -> Result<(), Failure> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    let hint = if from_data_dir {
        "set --data-dir or ENTRA_DATA_DIR"
    } else {
        "check --database-url or DATABASE_URL"
    };
    let unwritable = |e: std::io::Error| {
        Failure::Misconfigured(format!(
            "database directory {} is not writable: {e} ({hint})",
            dir.display()
        ))
    };
    entra_core::fs::create_private_dir(dir).map_err(unwritable)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(unwritable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Explains a failed bind in one line.
fn bind_failure(error: &std::io::Error, port: u16) -> Failure {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => Failure::Misconfigured(format!(
            "port {port} is already in use (is another API running? choose another port with --port or API_PORT)"
        )),
        std::io::ErrorKind::PermissionDenied => Failure::Misconfigured(format!(
            "not allowed to listen on port {port} ({error}); choose a port above 1023 with --port or API_PORT"
        )),
        _ => Failure::Misconfigured(format!(
            "cannot listen on port {port}: {error} (check --bind and --port)"
        )),
    }
}

/// Explains a failed start in one line; never prints a database password.
fn start_failure(error: Error, config: &ApiConfig) -> Failure {
    let line = |s: String| s.lines().map(str::trim).collect::<Vec<_>>().join(": ");
    match error {
        Error::Config(reason) => Failure::Misconfigured(line(format!(
            "invalid configuration: {reason} (check --tenant, --client-id and --allowed-tenants, or AZURE_TENANT_ID, AZURE_CLIENT_ID and API_ALLOWED_TENANTS)"
        ))),
        Error::Database(e) => Failure::Misconfigured(line(format!(
            "cannot open the database {}: {e} (check --database-url or DATABASE_URL)",
            redact_password(&config.database_url)
        ))),
        other => Failure::Failed(line(other.to_string())),
    }
}

/// What the API serves, for people (stdout).
fn banner(api: &DemoApi, config: &ApiConfig) -> String {
    let url = api.url();
    // Swagger UI's redirect URI is registered on localhost.
    let browser = if api.local_addr().ip().is_loopback() {
        format!("http://localhost:{}", api.local_addr().port())
    } else {
        url.clone()
    };
    let prefix = config.scope_prefix();
    let mut out = String::new();
    let _ = writeln!(out, "entra api: the Heroes API, protected by entra-auth");
    let _ = writeln!(out, "  listening:   {url}");
    let _ = writeln!(
        out,
        "  Swagger UI:  {browser}/docs/   (Authorize signs in with PKCE as {})",
        config.swagger_client_id
    );
    let _ = writeln!(out, "  OpenAPI:     {url}/openapi.json");
    let _ = writeln!(out, "  health:      {url}/health");
    match &config.oidc_discovery_url {
        Some(discovery) => {
            let _ = writeln!(out, "  OIDC:        {discovery}");
            let _ = writeln!(out, "  scope claim: {}", config.scope_claim.name());
        }
        None => {
            let _ = writeln!(
                out,
                "  authority:   {}/{}",
                config.authority_host.trim_end_matches('/'),
                config.tenant
            );
        }
    }
    let _ = writeln!(out, "  API app id:  {}", config.client_id);
    let _ = writeln!(
        out,
        "  scopes:      {prefix}/Heroes.Read, Heroes.Write, Heroes.Delete (or the app permissions of the same names)"
    );
    if !config.allowed_client_apps.is_empty() {
        let _ = writeln!(
            out,
            "  clients:     {}",
            config.allowed_client_apps.join(", ")
        );
    }
    if !config.allowed_tenants.is_empty() {
        let _ = writeln!(out, "  tenants:     {}", config.allowed_tenants.join(", "));
    }
    let _ = writeln!(
        out,
        "  database:    {} ({})",
        redact_password(&config.database_url),
        api.database_backend()
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "Press Ctrl-C to stop.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_file("sqlite://./data/api/demo-api.db"),
            Some(PathBuf::from("./data/api/demo-api.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
    }

    #[test]
    fn passwords_are_never_printed() {
        let shown = redact_password("postgres://heroes:s3cret@db.internal/heroes");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(
            redact_password("sqlite://./data/api/demo-api.db"),
            "sqlite://./data/api/demo-api.db"
        );
    }
}
