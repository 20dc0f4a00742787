//! `entra web`: runs the heroes web app (`demo-web`) until Ctrl-C or SIGTERM.
//!
//! With no configuration it signs users in at the local emulator as the
//! demo directory's Heroes Web app and calls `entra api` on port 8080: run
//! `entra emulator` and `entra api` beside it, then open
//! <http://localhost:8000>. For real Entra ID set `AZURE_AUTHORITY_HOST`,
//! `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (the web
//! app's registration, whose redirect URI is `{WEB_PUBLIC_URL}/auth/callback`),
//! or `AZURE_FEDERATED_TOKEN_FILE` instead of the secret (workload identity
//! federation: the token in the file is the client assertion), or
//! `WEB_MANAGED_IDENTITY_ASSERTION=true` (the machine's managed identity is
//! the federated credential: its token for `api://AzureADTokenExchange` is
//! the client assertion; `WEB_MANAGED_IDENTITY_CLIENT_ID` names a
//! user-assigned identity, since `AZURE_CLIENT_ID` is the web app's).

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use demo_web::config::demo;
use demo_web::{DemoWeb, SessionBackend, WebConfig};
use entra_client::{ManagedIdentityCredential, ManagedIdentityId};

use crate::Failure;
use crate::authority::check_authority;
use crate::preflight;
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

    /// Instead of a secret: the file holding the token the app
    /// registration's federated credential trusts (a Kubernetes projected
    /// service-account token), read again whenever it changes.
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE")]
    federated_token_file: Option<String>,

    /// Instead of a secret: this machine's managed identity is the app
    /// registration's federated credential (its token for
    /// api://AzureADTokenExchange is the client assertion). The endpoint is
    /// IDENTITY_ENDPOINT + IDENTITY_HEADER (App Service, Container Apps),
    /// else IMDS, as for `entra token --managed-identity`.
    #[arg(long, env = "WEB_MANAGED_IDENTITY_ASSERTION")]
    managed_identity_assertion: bool,

    /// With --managed-identity-assertion: the client id of the user-assigned
    /// identity to use (default: the system-assigned identity).
    #[arg(long, env = "WEB_MANAGED_IDENTITY_CLIENT_ID")]
    managed_identity_client_id: Option<String>,

    /// The App Service-style managed identity endpoint (with
    /// --identity-header).
    #[arg(long, env = "IDENTITY_ENDPOINT")]
    identity_endpoint: Option<String>,

    /// The value sent as X-IDENTITY-HEADER to the managed identity endpoint.
    #[arg(long, env = "IDENTITY_HEADER", hide_env_values = true)]
    identity_header: Option<String>,

    /// Another IMDS host (default: the local emulator with a loopback
    /// authority, else http://169.254.169.254).
    #[arg(long, env = "AZURE_POD_IDENTITY_AUTHORITY_HOST")]
    imds_host: Option<String>,

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
    let local = check_authority(&args.authority_host)?;
    let authority = preflight::check_tenant(&config.authority_host, &config.tenant, local).await?;
    let web = DemoWeb::start(config.clone(), listener)
        .await
        .map_err(start_failure)?;
    print!("{}", banner(&web, &config));
    if local && authority == preflight::Authority::Answers {
        if let Ok(redirect_uri) = config.redirect_uri() {
            preflight::check_redirect_uri(
                &config.authority_host,
                &config.tenant,
                &config.client_id,
                &redirect_uri,
                "the web app",
            )
            .await;
        }
    }
    let signal = crate::emulator::wait_for_signal().await;
    tracing::info!("shutting down");
    web.shutdown().await;
    signal
}

/// The web app's configuration from the command line, checked.
fn config(args: &Args, port: u16) -> Result<WebConfig, Failure> {
    let local = check_authority(&args.authority_host)?;
    let federated = args
        .federated_token_file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    let secret = args
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    const SECRET: &str = "a client secret (AZURE_CLIENT_SECRET / --client-secret)";
    const FILE: &str =
        "a federated token file (AZURE_FEDERATED_TOKEN_FILE / --federated-token-file)";
    const IDENTITY: &str =
        "the managed identity (WEB_MANAGED_IDENTITY_ASSERTION / --managed-identity-assertion)";
    let chosen: Vec<&str> = [
        (secret.is_some(), SECRET),
        (federated.is_some(), FILE),
        (args.managed_identity_assertion, IDENTITY),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if chosen.len() > 1 {
        return Err(Failure::Misconfigured(format!(
            "{} are set: set one",
            chosen.join(" and ")
        )));
    }
    let identity_client_id = args
        .managed_identity_client_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    if identity_client_id.is_some() && !args.managed_identity_assertion {
        return Err(Failure::Misconfigured(
            "WEB_MANAGED_IDENTITY_CLIENT_ID (--managed-identity-client-id) is set without WEB_MANAGED_IDENTITY_ASSERTION (--managed-identity-assertion): set both to sign in with that user-assigned identity, or neither".into(),
        ));
    }
    let mut managed_identity = None;
    let secret = match (secret, &federated) {
        (_, Some(file)) => {
            std::fs::metadata(file).map_err(|e| {
                Failure::Misconfigured(format!(
                    "cannot read the federated token file {} (AZURE_FEDERATED_TOKEN_FILE / --federated-token-file): {e}",
                    file.display()
                ))
            })?;
            String::new()
        }
        (Some(secret), None) => secret.to_owned(),
        (None, None) if args.managed_identity_assertion => {
            managed_identity = Some(managed_identity_credential(
                args,
                identity_client_id,
                local,
            )?);
            String::new()
        }
        (None, None) if local => demo::CLIENT_SECRET.to_owned(),
        (None, None) => {
            return Err(Failure::Misconfigured(format!(
                "AZURE_CLIENT_SECRET (or --client-secret), AZURE_FEDERATED_TOKEN_FILE (or --federated-token-file), or WEB_MANAGED_IDENTITY_ASSERTION=true (or --managed-identity-assertion) is required with the authority {} (the demo secret works with the local emulator only)",
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
    config.federated_token_file = federated;
    config.managed_identity_assertion = managed_identity;
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

/// The managed identity whose token is the web app's client assertion.
fn managed_identity_credential(
    args: &Args,
    client_id: Option<&str>,
    local: bool,
) -> Result<ManagedIdentityCredential, Failure> {
    let source = crate::token::managed_identity_source(
        args.identity_endpoint.clone(),
        args.identity_header.clone(),
        args.imds_host.clone(),
        &args.authority_host,
        local,
    )?;
    let identity = match client_id {
        Some(id) if is_guid(id) => ManagedIdentityId::ClientId(id.to_owned()),
        Some(id) => {
            return Err(Failure::Misconfigured(format!(
                "--managed-identity-client-id {id:?} is not a managed identity's client id: expected a GUID (WEB_MANAGED_IDENTITY_CLIENT_ID)"
            )));
        }
        None => ManagedIdentityId::SystemAssigned,
    };
    // Off Azure, 169.254.169.254 does not answer: a sign-in says so within
    // seconds rather than after the retries of a minute.
    ManagedIdentityCredential::builder()
        .source(source)
        .identity(identity)
        .probe_timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| Failure::Misconfigured(e.to_string()))
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
    let credential = match (
        &config.federated_token_file,
        &config.managed_identity_assertion,
    ) {
        (Some(file), _) => format!("federated token file {}", file.display()),
        (None, Some(identity)) => match identity.identity() {
            ManagedIdentityId::ClientId(id) => {
                format!("managed identity {id} (federated credential)")
            }
            _ => "system-assigned managed identity (federated credential)".to_owned(),
        },
        (None, None) => "client secret".to_owned(),
    };
    let _ = writeln!(out, "  credential:    {credential}");
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
        for flag in [
            "--client-secret",
            "--redis-url",
            "--session-store",
            "--federated-token-file",
            "--managed-identity-client-id",
            "--identity-endpoint",
            "--identity-header",
            "--imds-host",
        ] {
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
        assert!(remote.federated_token_file.is_none());
    }

    #[test]
    fn a_federated_token_file_replaces_the_secret() {
        let file = std::env::temp_dir().join(format!("entra-web-fic-{}", std::process::id()));
        std::fs::write(&file, "a.b.c").unwrap();
        let path = file.to_str().unwrap();
        let remote = config(
            &args(&[
                "--authority-host",
                "https://login.microsoftonline.com",
                "--federated-token-file",
                path,
            ]),
            8000,
        )
        .unwrap();
        assert_eq!(remote.client_secret, "");
        assert_eq!(remote.federated_token_file.as_deref(), Some(file.as_path()));
        // Even with the local emulator, the file replaces the demo secret.
        let local = config(&args(&["--federated-token-file", path]), 8000).unwrap();
        assert_eq!(local.client_secret, "");
        let both = config(
            &args(&["--federated-token-file", path, "--client-secret", "s"]),
            8000,
        );
        assert!(matches!(both, Err(Failure::Misconfigured(m)) if m.contains("set one")));
        std::fs::remove_file(&file).unwrap();
        let missing = config(&args(&["--federated-token-file", path]), 8000);
        assert!(
            matches!(missing, Err(Failure::Misconfigured(m)) if m.contains("cannot read the federated token file"))
        );
    }

    #[test]
    fn the_managed_identity_replaces_the_secret() {
        const IDENTITY: &str = "a7c3e9f1-4b2d-4e8a-9f6c-1d3b5a7c9e2f";
        // On App Service: IDENTITY_ENDPOINT and IDENTITY_HEADER, a
        // user-assigned identity.
        let remote = config(
            &args(&[
                "--authority-host",
                "https://login.microsoftonline.com",
                "--managed-identity-assertion",
                "--managed-identity-client-id",
                IDENTITY,
                "--identity-endpoint",
                "http://127.0.0.1:41000/msi/token",
                "--identity-header",
                "header-value",
            ]),
            8000,
        )
        .unwrap();
        assert_eq!(remote.client_secret, "");
        assert!(remote.federated_token_file.is_none());
        let identity = remote.managed_identity_assertion.clone().unwrap();
        assert!(identity.source().is_app_service());
        assert_eq!(
            identity.identity(),
            &ManagedIdentityId::ClientId(IDENTITY.into())
        );
        assert!(!format!("{remote:?}").contains("header-value"));

        // Beside the local emulator, without IDENTITY_ENDPOINT: its
        // IMDS-style endpoint, the system-assigned identity; never the demo
        // secret.
        let local = config(&args(&["--managed-identity-assertion"]), 8000).unwrap();
        assert_eq!(local.client_secret, "");
        let identity = local.managed_identity_assertion.unwrap();
        assert!(!identity.source().is_app_service());
        assert_eq!(
            identity.source().endpoint().as_str(),
            "http://localhost:9000/metadata/identity/oauth2/token"
        );
        assert_eq!(identity.identity(), &ManagedIdentityId::SystemAssigned);

        let refused = |argv: &[&str], expected: &str| match config(&args(argv), 8000) {
            Err(Failure::Misconfigured(m)) => assert!(m.contains(expected), "{m}"),
            other => panic!("{argv:?}: {other:?}"),
        };
        refused(
            &["--managed-identity-assertion", "--client-secret", "s"],
            "set one",
        );
        refused(
            &["--managed-identity-client-id", IDENTITY],
            "WEB_MANAGED_IDENTITY_ASSERTION",
        );
        refused(
            &[
                "--managed-identity-assertion",
                "--managed-identity-client-id",
                "not-a-guid",
            ],
            "expected a GUID",
        );
        refused(
            &[
                "--managed-identity-assertion",
                "--identity-endpoint",
                "http://127.0.0.1:41000/msi/token",
            ],
            "go together",
        );
        // IDENTITY_ENDPOINT is on every App Service: without the flag it is
        // ignored, and the secret is used.
        let secret = config(
            &args(&[
                "--client-secret",
                "s",
                "--identity-endpoint",
                "http://127.0.0.1:41000/msi/token",
            ]),
            8000,
        )
        .unwrap();
        assert_eq!(secret.client_secret, "s");
        assert!(secret.managed_identity_assertion.is_none());
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
