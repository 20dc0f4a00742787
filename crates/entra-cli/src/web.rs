//! `entra web`: runs the heroes web app (`demo-web`) until Ctrl-C or SIGTERM.
//!
//! With no configuration it signs users in at the local emulator as the
//! demo directory's Heroes Web app and calls `entra api` on port 8080: run
//! `entra emulator` and `entra api` beside it, then open
//! <http://localhost:8000>. For real Entra ID set `AZURE_AUTHORITY_HOST`,
//! `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (the web
//! app's registration, whose redirect URI is `{WEB_PUBLIC_URL}/auth/callback`).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use demo_web::config::demo;
use demo_web::{DemoWeb, SessionBackend, WebConfig};

use crate::Failure;
use crate::authority::check_authority;
use entra_core::is_guid;

/// Options of `entra web`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Authority host that signs users in: the local emulator by default,
    /// `https://login.microsoftonline.com` for Entra ID. Plain `http` is
    /// accepted for loopback hosts only.
    #[arg(long, env = "AZURE_AUTHORITY_HOST", default_value = demo::AUTHORITY_HOST)]
    authority_host: String,

    /// Tenant id or verified domain.
    #[arg(long, env = "AZURE_TENANT_ID", default_value = demo::TENANT_ID)]
    tenant: String,

    /// The web app's application (client) id.
    #[arg(long, env = "AZURE_CLIENT_ID", default_value = demo::CLIENT_ID)]
    client_id: String,

    /// The web app's client secret. Default: the demo secret, with the local
    /// emulator only; any other authority needs one.
    #[arg(long, env = "AZURE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,

    /// Where browsers reach the app (default `http://localhost:{port}`); the
    /// redirect URI to register is this plus `/auth/callback`.
    #[arg(long, env = "WEB_PUBLIC_URL")]
    public_url: Option<String>,

    /// The heroes API (`entra api`).
    #[arg(long, env = "API_BASE_URL", default_value = demo::API_BASE_URL)]
    api_url: String,

    /// Scopes to sign in with and call the API with (comma-separated; default
    /// the heroes API's Heroes.Read, Heroes.Write and Heroes.Delete).
    #[arg(long = "scope", env = "WEB_SCOPES", value_delimiter = ',')]
    scopes: Vec<String>,

    /// Where sessions and tokens are kept: `sqlite` (a file in
    /// {data-dir}/web), `redis` (REDIS_URL; several instances share them) or
    /// `memory`. Default: `redis` when REDIS_URL is set, else `sqlite`.
    #[arg(long, env = "SESSION_STORE")]
    session_store: Option<String>,

    /// Redis for sessions and tokens (`redis://host:6379`, `rediss://...`).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,

    /// Data directory: SQLite sessions and tokens in `{data-dir}/web/sessions.db`.
    #[arg(long, env = "ENTRA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Address to listen on [default: $ENTRA_BIND, else 127.0.0.1].
    #[arg(long, env = "WEB_BIND")]
    bind: Option<IpAddr>,

    /// Port to listen on (0: any free port; the one chosen is printed).
    #[arg(long, env = "WEB_PORT", default_value_t = 8000)]
    port: u16,

    /// Do not serve Prometheus metrics at `/metrics` (served by default, on
    /// the web app's own port).
    #[arg(long, env = "WEB_NO_METRICS")]
    no_metrics: bool,
}

/// Starts the web app, prints where it is, and serves until a signal.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    crate::metrics::enable(!args.no_metrics)?;
    // Everything that can be wrong without a port is reported first.
    let mut config = config(&args, args.port)?;
    let addr = SocketAddr::new(crate::bind::address(args.bind)?, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| bind_failure(&e, args.port))?;
    let port = listener
        .local_addr()
        .map_err(|e| Failure::Failed(format!("cannot read the listening address: {e}")))?
        .port();
    if args.public_url.is_none() {
        config.public_base_url = format!("http://localhost:{port}");
    }
    let web = DemoWeb::start(config.clone(), listener)
        .await
        .map_err(start_failure)?;
    print!("{}", banner(&web, &config));
    let signal = crate::emulator::wait_for_signal().await;
    tracing::info!("shutting down");
    web.shutdown().await;
    signal
}

/// The web app's configuration from the command line, checked.
fn config(args: &Args, port: u16) -> Result<WebConfig, Failure> {
    let local = check_authority(&args.authority_host)?;
    let secret = match args.client_secret.as_deref().map(str::trim) {
        Some(secret) if !secret.is_empty() => secret.to_owned(),
        _ if local => demo::CLIENT_SECRET.to_owned(),
        _ => {
            return Err(Failure::Misconfigured(format!(
                "AZURE_CLIENT_SECRET (or --client-secret) is required with the authority {} (the demo secret works with the local emulator only)",
                args.authority_host.trim()
            )));
        }
    };
    if !is_guid(args.client_id.trim()) {
        return Err(Failure::Misconfigured(format!(
            "--client-id {:?} is not an application (client) id: expected a GUID (AZURE_CLIENT_ID)",
            args.client_id
        )));
    }
    let mut config = WebConfig::new(
        args.authority_host.trim(),
        args.tenant.trim(),
        args.client_id.trim(),
        secret,
    );
    config.public_base_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{port}"))
        .trim()
        .trim_end_matches('/')
        .to_owned();
    config.api_base_url = args.api_url.trim().to_owned();
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .flat_map(|s| s.split_whitespace())
        .map(str::to_owned)
        .collect();
    if !scopes.is_empty() {
        config.api_scopes = scopes;
    }
    config.session_backend = session_backend(args)?;
    // Check it now, to explain it in terms of flags.
    config.redirect_uri().map_err(|e| {
        Failure::Misconfigured(format!("{e} (check --public-url or WEB_PUBLIC_URL)"))
    })?;
    Ok(config)
}

/// The session store the flags choose.
fn session_backend(args: &Args) -> Result<SessionBackend, Failure> {
    let redis = args
        .redis_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let kind = args
        .session_store
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    match (kind.as_deref(), redis) {
        (None, Some(url)) | (Some("redis"), Some(url)) => redis_backend(url),
        (Some(url), _) if url.starts_with("redis://") || url.starts_with("rediss://") => {
            redis_backend(args.session_store.as_deref().unwrap_or_default().trim())
        }
        (Some("redis"), None) => Err(Failure::Misconfigured(
            "SESSION_STORE=redis needs REDIS_URL (or --redis-url), e.g. redis://127.0.0.1:6379"
                .into(),
        )),
        (None | Some("sqlite"), _) => Ok(SessionBackend::Sqlite(
            args.data_dir.join("web").join("sessions.db"),
        )),
        (Some("memory"), _) => Ok(SessionBackend::Memory),
        (Some(other), _) => Err(Failure::Misconfigured(format!(
            "SESSION_STORE {other:?} is not a session store: use sqlite, redis or memory"
        ))),
    }
}

fn redis_backend(url: &str) -> Result<SessionBackend, Failure> {
    if url.starts_with("redis://") || url.starts_with("rediss://") {
        Ok(SessionBackend::Redis(url.to_owned()))
    } else {
        Err(Failure::Misconfigured(
            "REDIS_URL must start with redis:// or rediss://".into(),
        ))
    }
}

/// Explains a failed bind in one line.
fn bind_failure(error: &std::io::Error, port: u16) -> Failure {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => Failure::Misconfigured(format!(
            "port {port} is already in use (is another web app running? choose another port with --port or WEB_PORT)"
        )),
        std::io::ErrorKind::PermissionDenied => Failure::Misconfigured(format!(
            "not allowed to listen on port {port} ({error}); choose a port above 1023 with --port or WEB_PORT"
        )),
        _ => Failure::Misconfigured(format!(
            "cannot listen on port {port}: {error} (check --bind and --port)"
        )),
    }
}

/// Explains a failed start in one line.
fn start_failure(error: demo_web::Error) -> Failure {
    let line = |s: String| s.lines().map(str::trim).collect::<Vec<_>>().join(": ");
    match error {
        demo_web::Error::Store(e) => Failure::Misconfigured(line(format!(
            "{e} (check SESSION_STORE, REDIS_URL or --data-dir)"
        ))),
        demo_web::Error::Io(e) => Failure::Failed(line(e.to_string())),
        other => Failure::Misconfigured(line(other.to_string())),
    }
}

/// Where the app is, for people (stdout). Never the secret.
fn banner(web: &DemoWeb, config: &WebConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "entra web: the heroes web app, signing in with entra-client"
    );
    let _ = writeln!(out, "  open:          {}/", config.public_base_url);
    let _ = writeln!(out, "  listening:     {}", web.url());
    let _ = writeln!(
        out,
        "  authority:     {}/{}",
        config.authority_host.trim_end_matches('/'),
        config.tenant
    );
    let _ = writeln!(out, "  client id:     {}", config.client_id);
    if let Ok(redirect) = config.redirect_uri() {
        let _ = writeln!(
            out,
            "  redirect URI:  {redirect}   (register it for the app)"
        );
    }
    let _ = writeln!(out, "  API:           {}", config.api_base_url);
    let _ = writeln!(out, "  scopes:        {}", config.api_scopes.join(" "));
    let sessions = match &config.session_backend {
        SessionBackend::Sqlite(path) => format!("SQLite {}", path.display()),
        SessionBackend::Redis(_) => "Redis".to_owned(),
        _ => "memory (lost at exit)".to_owned(),
    };
    let _ = writeln!(out, "  sessions:      {sessions}");
    let _ = writeln!(out);
    let _ = writeln!(out, "Press Ctrl-C to stop.");
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// Parsed flags; the settings a developer's environment may hold are
    /// given explicitly (empty) unless the test names them.
    fn args(argv: &[&str]) -> Args {
        let mut full = vec!["web"];
        for flag in ["--client-secret", "--redis-url", "--session-store"] {
            if !argv.contains(&flag) {
                full.extend([flag, ""]);
            }
        }
        full.extend_from_slice(argv);
        Cli::try_parse_from(full).unwrap().args
    }

    #[test]
    fn the_demo_secret_is_for_the_local_emulator_only() {
        let local = config(&args(&["--authority-host", "http://localhost:9000"]), 8000).unwrap();
        assert_eq!(local.client_secret, demo::CLIENT_SECRET);
        let remote = config(
            &args(&["--authority-host", "https://login.microsoftonline.com"]),
            8000,
        );
        assert!(
            matches!(remote, Err(Failure::Misconfigured(m)) if m.contains("AZURE_CLIENT_SECRET"))
        );
        let remote = config(
            &args(&[
                "--authority-host",
                "https://login.microsoftonline.com",
                "--client-secret",
                "s",
            ]),
            8000,
        )
        .unwrap();
        assert_eq!(remote.client_secret, "s");
    }

    #[test]
    fn session_stores_are_chosen_by_flags() {
        let chosen = |argv: &[&str]| session_backend(&args(argv));
        assert!(matches!(chosen(&[]), Ok(SessionBackend::Sqlite(_))));
        assert!(matches!(
            chosen(&["--redis-url", "redis://127.0.0.1:6379"]),
            Ok(SessionBackend::Redis(_))
        ));
        assert!(matches!(
            chosen(&["--session-store", "redis://127.0.0.1:6379"]),
            Ok(SessionBackend::Redis(_))
        ));
        assert!(chosen(&["--session-store", "redis"]).is_err());
        assert!(chosen(&["--session-store", "mongo"]).is_err());
        assert!(matches!(
            chosen(&["--session-store", "memory"]),
            Ok(SessionBackend::Memory)
        ));
    }
}
