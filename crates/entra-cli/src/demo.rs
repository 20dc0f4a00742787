//! `entra demo`: the whole system in one process, on embedded defaults.
//!
//! The emulator (its built-in demo directory), demo-api (SQLite) and
//! demo-web (SQLite sessions), wired to each other on their default ports,
//! with everything they keep under one data directory. Ctrl-C stops all
//! three within a second and frees every port.
//!
//! It listens on loopback unless `--bind` (`ENTRA_BIND`, which the container
//! image sets to `0.0.0.0`) says otherwise. Beyond loopback the emulator's
//! administration API needs a bearer token: `ENTRA_EMULATOR_ADMIN_TOKEN`
//! when set, else a random one that is never shown, so that nobody who can
//! reach the published ports can drive it (the demo itself never uses it).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use demo_api::{ApiConfig, DemoApi};
use demo_web::{DemoWeb, SessionBackend, WebConfig};
use entra_emulator::config::Directory;
use entra_emulator::{Emulator, EmulatorConfig};
use tokio::net::TcpListener;

use crate::Failure;
use crate::emulator::{
    Secret, check_writable, managed_identity_lines, shown_password, wait_for_signal,
};

/// The demo directory's ids (crates/entra-emulator's default.toml).
const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API_APP: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const WEB_APP: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
const SWAGGER_APP: &str = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
const DAEMON_APP: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";

/// How long the parts together may take to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);
/// How long to wait for demo-api to load the emulator's keys.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of `entra demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Data directory: emulator keys and certificates in `emulator/`, the
    /// API's database in `api/demo-api.db`, web sessions in `web/sessions.db`.
    #[arg(long, env = "ENTRA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Port of the emulator's plain-HTTP listener.
    #[arg(long, env = "ENTRA_EMULATOR_HTTP_PORT", default_value_t = 9000)]
    emulator_port: u16,

    /// Port of the emulator's HTTPS listener (for MSAL and other clients that
    /// refuse `http` authorities).
    #[arg(long, env = "ENTRA_EMULATOR_HTTPS_PORT", default_value_t = 9443)]
    emulator_https_port: u16,

    /// Serve the emulator over plain HTTP only.
    #[arg(long, env = "ENTRA_EMULATOR_NO_HTTPS")]
    no_https: bool,

    /// Port of demo-api (Swagger UI at /docs).
    #[arg(long, env = "API_PORT", default_value_t = 8080)]
    api_port: u16,

    /// Port of demo-web (sign in at /).
    #[arg(long, env = "WEB_PORT", default_value_t = 8000)]
    web_port: u16,

    /// Address the three parts listen on. Beyond loopback (`0.0.0.0` in a
    /// container) the emulator's administration API requires the admin
    /// token: ENTRA_EMULATOR_ADMIN_TOKEN, else a random one never shown.
    #[arg(long, env = "ENTRA_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,

    /// Bearer token of the emulator's administration API (`/_emulator/`).
    /// Prefer the variable: flags show in process lists.
    #[arg(long, env = "ENTRA_EMULATOR_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<Secret>,

    /// The value code calling the emulator's managed-identity endpoint must
    /// send in `X-IDENTITY-HEADER` (its `IDENTITY_HEADER`). Default: a random
    /// value per run, printed at start.
    #[arg(long, env = "ENTRA_EMULATOR_IDENTITY_HEADER", hide_env_values = true)]
    identity_header: Option<Secret>,

    /// The API's database: `sqlite://path/file.db` or
    /// `postgres://user@host/database` (default: a SQLite file in
    /// {data-dir}/api), as for `entra api`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Redis for the web app's sessions and tokens (`redis://host:6379`,
    /// `rediss://...`; default: a SQLite file in {data-dir}/web), as for
    /// `entra web`.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,

    /// Do not serve Prometheus metrics at `/metrics` (served by default, on
    /// each part's own port).
    #[arg(long, env = "ENTRA_NO_METRICS")]
    no_metrics: bool,
}

/// Starts the three parts, prints what to open, and runs until a signal.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    crate::metrics::enable(!args.no_metrics)?;
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    check_database_url(args.database_url.as_deref())?;
    let redis_url = redis_url(args.redis_url.as_deref())?;
    for part in ["emulator", "api", "web"] {
        check_writable(&data_dir, &data_dir.join(part))?;
    }

    // Every port is taken before anything starts, so a port in use is a
    // one-line explanation and nothing half-started.
    let api_listener = bind(args.bind, args.api_port, "--api-port", "API_PORT").await?;
    let web_listener = bind(args.bind, args.web_port, "--web-port", "WEB_PORT").await?;
    let api_port = port_of(&api_listener)?;
    let web_port = port_of(&web_listener)?;
    let web_url = format!("http://localhost:{web_port}");
    let api_url = format!("http://localhost:{api_port}");

    let emulator = Emulator::start(EmulatorConfig {
        directory: directory_for(&web_url, &api_url),
        data_dir: Some(data_dir.join("emulator")),
        http_addr: SocketAddr::new(args.bind, args.emulator_port),
        https_addr: (!args.no_https).then(|| SocketAddr::new(args.bind, args.emulator_https_port)),
        public_host: Some("localhost".to_owned()),
        issuer_base: None,
        allowed_hosts: Vec::new(),
        admin_token: admin_token(args.bind, args.admin_token.as_ref())?,
        identity_header: args.identity_header.as_ref().map(|h| h.0.clone()),
    })
    .await
    .map_err(emulator_failure)?;
    let authority_host = format!("http://localhost:{}", emulator.http_addr().port());

    let database_url = match args
        .database_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        Some(url) => url.to_owned(),
        None => format!(
            "sqlite://{}",
            data_dir.join("api").join("demo-api.db").display()
        ),
    };
    let api_config = ApiConfig::demo(authority_host.clone(), database_url.clone());
    let api = match DemoApi::start(api_config, api_listener).await {
        Ok(api) => api,
        Err(e) => {
            emulator.shutdown().await;
            return Err(Failure::Misconfigured(format!(
                "demo-api cannot start: {e}"
            )));
        }
    };

    let mut web_config = WebConfig::demo(authority_host.clone());
    web_config.public_base_url = web_url.clone();
    web_config.api_base_url = api_url.clone();
    web_config.session_backend = match &redis_url {
        Some(url) => SessionBackend::Redis(url.clone()),
        None => SessionBackend::Sqlite(data_dir.join("web").join("sessions.db")),
    };
    let web = match DemoWeb::start(web_config, web_listener).await {
        Ok(web) => web,
        Err(e) => {
            api.shutdown().await;
            emulator.shutdown().await;
            return Err(Failure::Misconfigured(format!(
                "demo-web cannot start: {e}"
            )));
        }
    };

    if tokio::time::timeout(READY_TIMEOUT, api.validator().ready())
        .await
        .is_err()
    {
        tracing::warn!("demo-api has not loaded the emulator's keys yet; /health says why");
    }
    let stores = Stores {
        database: demo_api::config::redact_password(&database_url),
        sessions: if redis_url.is_some() {
            "Redis (REDIS_URL)".to_owned()
        } else {
            format!(
                "SQLite {}",
                data_dir.join("web").join("sessions.db").display()
            )
        },
    };
    print!(
        "{}",
        banner(
            &emulator,
            &authority_host,
            &api_url,
            &web_url,
            &data_dir,
            &stores
        )
    );

    let waited = wait_for_signal().await;
    tracing::info!("shutting down");
    let started = std::time::Instant::now();
    let stop = async {
        tokio::join!(web.shutdown(), api.shutdown());
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "web app and API stopped"
        );
        emulator.shutdown().await;
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "emulator stopped"
        );
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, stop).await.is_err() {
        tracing::debug!("open connections did not close in time; dropping them");
    }
    waited
}

/// The demo directory, with the web app's callback and Swagger UI's
/// redirect registered for the ports actually used.
fn directory_for(web_url: &str, api_url: &str) -> Directory {
    let mut directory = Directory::default_demo();
    for tenant in &mut directory.tenants {
        for app in &mut tenant.applications {
            let (uris, wanted) = match app.app_id.as_str() {
                WEB_APP => (
                    &mut app.web.redirect_uris,
                    vec![format!("{web_url}/auth/callback"), format!("{web_url}/")],
                ),
                SWAGGER_APP => (
                    &mut app.spa.redirect_uris,
                    vec![format!("{api_url}/docs/oauth2-redirect.html")],
                ),
                _ => continue,
            };
            for uri in wanted {
                if !uris.contains(&uri) {
                    uris.push(uri);
                }
            }
        }
    }
    directory
}

/// `--database-url` / `DATABASE_URL`, when given: SQLite or PostgreSQL.
fn check_database_url(url: Option<&str>) -> Result<(), Failure> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(url)
            if !["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|scheme| url.starts_with(scheme)) =>
        {
            Err(Failure::Misconfigured(format!(
                "the database URL {} must start with sqlite: or postgres:// (check --database-url or DATABASE_URL)",
                demo_api::config::redact_password(url)
            )))
        }
        _ => Ok(()),
    }
}

/// `--redis-url` / `REDIS_URL`, when given.
fn redis_url(url: Option<&str>) -> Result<Option<String>, Failure> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(None),
        Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            Ok(Some(url.to_owned()))
        }
        Some(_) => Err(Failure::Misconfigured(
            "REDIS_URL (--redis-url) must start with redis:// or rediss://".into(),
        )),
    }
}

/// Where the API's data and the web app's sessions are, for the banner.
#[derive(Debug)]
struct Stores {
    database: String,
    sessions: String,
}

async fn bind(address: IpAddr, port: u16, flag: &str, var: &str) -> Result<TcpListener, Failure> {
    let addr = SocketAddr::new(address, port);
    TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Failure::Misconfigured(format!(
                "port {port} is already in use (is another demo running? choose another port with {flag} or {var})"
            ))
        } else {
            Failure::Misconfigured(format!(
                "cannot listen on {addr}: {e} (check --bind or ENTRA_BIND)"
            ))
        }
    })
}

/// The emulator's admin token: the one given; beyond loopback without one,
/// a random token nobody is told, which closes the administration API to
/// everyone who can reach the published ports.
fn admin_token(bind: IpAddr, given: Option<&Secret>) -> Result<Option<String>, Failure> {
    if let Some(token) = given {
        return Ok(Some(token.0.clone()));
    }
    if bind.is_loopback() {
        return Ok(None);
    }
    let random = || {
        entra_core::random_guid()
            .map_err(|_| Failure::Failed("no randomness for the emulator's admin token".into()))
    };
    let token = format!("{}{}", random()?, random()?).replace('-', "");
    tracing::info!(
        %bind,
        "listening beyond loopback: the emulator's administration API (/_emulator/) is closed (set ENTRA_EMULATOR_ADMIN_TOKEN to use it)"
    );
    Ok(Some(token))
}

fn port_of(listener: &TcpListener) -> Result<u16, Failure> {
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Failure::Failed(format!("cannot read a listener's address: {e}")))
}

fn emulator_failure(error: entra_emulator::Error) -> Failure {
    match error {
        entra_emulator::Error::Bind { addr, source } => {
            if source.kind() == std::io::ErrorKind::AddrInUse {
                Failure::Misconfigured(format!(
                    "{addr} is already in use (is an emulator running? choose other ports with --emulator-port / --emulator-https-port)"
                ))
            } else {
                Failure::Misconfigured(format!("the emulator cannot listen on {addr}: {source}"))
            }
        }
        other => Failure::Misconfigured(format!("the emulator cannot start: {other}")),
    }
}

/// What to open, who to sign in as, and a curl example (stdout).
fn banner(
    emulator: &Emulator,
    authority_host: &str,
    api_url: &str,
    web_url: &str,
    data_dir: &Path,
    stores: &Stores,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "entra demo: everything runs on this machine");
    let _ = writeln!(out);
    let _ = writeln!(out, "  web app      {web_url}/   <- open this and sign in");
    let _ = writeln!(
        out,
        "  heroes API   {api_url}/   (Swagger UI: {api_url}/docs)"
    );
    let _ = writeln!(
        out,
        "  Entra ID     {authority_host}/{TENANT}/v2.0   (local emulator)"
    );
    if let Some(https) = emulator.https_url() {
        let _ = writeln!(
            out,
            "               {https}/{TENANT}/v2.0   (HTTPS, for MSAL)"
        );
    }
    if let Some(ca) = emulator.ca_path() {
        let _ = writeln!(
            out,
            "  trust CA     {}   (--ca-file / ENTRA_CA_FILE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS)",
            ca.display()
        );
    }
    let _ = writeln!(out, "  data         {}", data_dir.display());
    let _ = writeln!(out, "  database     {}", stores.database);
    let _ = writeln!(out, "  sessions     {}", stores.sessions);
    let _ = writeln!(out);
    let directory = emulator.directory();
    if let Some(tenant) = directory.tenants.iter().find(|t| t.tenant_id == TENANT) {
        let _ = writeln!(out, "Users (development passwords):");
        for user in &tenant.users {
            let _ = writeln!(
                out,
                "  {:<34} {:<22} {}",
                user.user_principal_name,
                shown_password(user),
                user.display_name
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "Call the API as the daemon app (client credentials):");
    let _ = writeln!(
        out,
        "  TOKEN=$(curl -s {authority_host}/{TENANT}/oauth2/v2.0/token \\\n    \
         -d grant_type=client_credentials -d client_id={DAEMON_APP} \\\n    \
         -d client_secret={DAEMON_SECRET} -d scope=api://{API_APP}/.default \\\n    \
         | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
    );
    let _ = writeln!(
        out,
        "  curl -s -X POST {api_url}/heroes -H \"Authorization: Bearer $TOKEN\" \\\n    \
         -H 'content-type: application/json' -d '{{\"name\":\"Deadpond\",\"secret_name\":\"Dive Wilson\"}}'"
    );
    let _ = writeln!(
        out,
        "  curl -s {api_url}/heroes -H \"Authorization: Bearer $TOKEN\""
    );
    let _ = writeln!(
        out,
        "  (or: TOKEN=$(entra token); entra inspect \"$TOKEN\" --client-id {API_APP})"
    );
    let _ = writeln!(
        out,
        "  As a user, without a browser: TOKEN=$(entra token --user alice@contoso.onmicrosoft.com)"
    );
    let _ = writeln!(
        out,
        "  curl -s {api_url}/todoitems -H \"Authorization: Bearer $TOKEN\""
    );
    let _ = writeln!(out);
    out.push_str(&managed_identity_lines(emulator));
    let _ = writeln!(out);
    let _ = writeln!(out, "Press Ctrl-C to stop.");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn other_ports_are_registered_in_the_directory() {
        let directory = directory_for("http://localhost:18000", "http://localhost:18080");
        let apps = &directory.tenants[0].applications;
        let web = apps.iter().find(|a| a.app_id == WEB_APP).unwrap();
        assert!(
            web.web
                .redirect_uris
                .contains(&"http://localhost:18000/auth/callback".to_owned())
        );
        // The default registration stays.
        assert!(
            web.web
                .redirect_uris
                .contains(&"http://localhost:8000/auth/callback".to_owned())
        );
        let spa = apps.iter().find(|a| a.app_id == SWAGGER_APP).unwrap();
        let count = spa
            .spa
            .redirect_uris
            .iter()
            .filter(|u| *u == "http://localhost:18080/docs/oauth2-redirect.html")
            .count();
        assert_eq!(count, 1);
    }
}
