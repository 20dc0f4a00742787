//! `entra emulator`: runs the local Entra ID until Ctrl-C or SIGTERM.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use entra_emulator::config::Directory;
use entra_emulator::error::ConfigError;
use entra_emulator::{Emulator, EmulatorConfig, Error};

use crate::Failure;

/// How long a graceful shutdown may take before the listeners are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// Options of `entra emulator`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Port of the plain-HTTP listener (0: any free port; the one chosen is printed).
    #[arg(long, env = "ENTRA_EMULATOR_HTTP_PORT", default_value_t = 9000)]
    http_port: u16,

    /// Port of the HTTPS listener, for clients such as MSAL that refuse `http`
    /// authorities (0: any free port).
    #[arg(long, env = "ENTRA_EMULATOR_HTTPS_PORT", default_value_t = 9443)]
    https_port: u16,

    /// Serve plain HTTP only.
    #[arg(long, env = "ENTRA_EMULATOR_NO_HTTPS")]
    no_https: bool,

    /// Address the listeners bind to [default: $ENTRA_BIND, else
    /// 127.0.0.1]. Any address other than loopback needs an admin token
    /// (--admin-token), which then guards the administration API
    /// (`/_emulator/`).
    #[arg(long, env = "ENTRA_EMULATOR_BIND")]
    bind: Option<IpAddr>,

    /// Host name used in endpoint URLs (discovery documents, printed URLs).
    #[arg(long, env = "ENTRA_EMULATOR_PUBLIC_HOST", default_value = "localhost")]
    public_host: String,

    /// Data directory: the emulator keeps its signing keys, TLS certificates,
    /// refresh tokens, consents and administrative changes in `{data-dir}/emulator`.
    #[arg(long, env = "ENTRA_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,

    /// Directory file (TOML: tenants, app registrations, users). Default: the
    /// built-in demo configuration.
    #[arg(long, env = "ENTRA_EMULATOR_CONFIG")]
    config: Option<PathBuf>,

    /// Other host names answered (comma-separated in the variable), besides
    /// localhost, *.localhost, IP addresses, the public host and the
    /// issuer's host: a name, or `.example.com` for a domain and its
    /// subdomains. Requests for any other `Host` are refused (421), so a web
    /// page on a DNS-rebound name cannot read the emulator.
    #[arg(
        long = "allowed-host",
        env = "ENTRA_EMULATOR_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,

    /// Bearer token the administration API (`/_emulator/`) then requires
    /// (`Authorization: Bearer <token>`); required with a non-loopback
    /// --bind. Prefer the variable: flags show in process lists.
    #[arg(long, env = "ENTRA_EMULATOR_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<Secret>,

    /// Issuer base URL written into tokens and discovery documents (default:
    /// the HTTPS listener's URL, or the HTTP one with --no-https), e.g. when
    /// the emulator sits behind a proxy.
    #[arg(long, env = "ENTRA_EMULATOR_ISSUER")]
    issuer: Option<String>,

    /// The value code calling the managed-identity endpoint must send in
    /// `X-IDENTITY-HEADER` (its `IDENTITY_HEADER`). Default: a random value
    /// per run, printed at start.
    #[arg(long, env = "ENTRA_EMULATOR_IDENTITY_HEADER", hide_env_values = true)]
    identity_header: Option<Secret>,

    /// Registers one more redirect URI: `APP=URI`, where APP is an app
    /// registration's application (client) id or its display name (e.g.
    /// `"Heroes Web=http://localhost:8001/auth/callback"`); repeat it, or
    /// separate pairs with commas in the variable. The URI joins the app's
    /// web platform (its single-page-application platform for an app with
    /// only SPA redirect URIs, its mobile-and-desktop one for a public client).
    #[arg(
        long = "redirect-uri",
        env = "ENTRA_EMULATOR_REDIRECT_URIS",
        value_delimiter = ',',
        value_name = "APP=URI"
    )]
    redirect_uris: Vec<ExtraRedirect>,

    /// Do not serve Prometheus metrics at `/metrics` (served by default, on
    /// both listeners).
    #[arg(long, env = "ENTRA_EMULATOR_NO_METRICS")]
    no_metrics: bool,
}

/// `--redirect-uri APP=URI`.
#[derive(Debug, Clone)]
pub(crate) struct ExtraRedirect {
    /// The application id or display name.
    app: String,
    /// The redirect URI, an absolute URL.
    uri: String,
}

impl std::str::FromStr for ExtraRedirect {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (app, uri) = text
            .split_once('=')
            .map(|(a, u)| (a.trim(), u.trim()))
            .filter(|(a, u)| !a.is_empty() && !u.is_empty())
            .ok_or_else(|| {
                format!("{text:?} is not APP=URI (an app id or display name, '=', a redirect URI)")
            })?;
        match url::Url::parse(uri) {
            Ok(url) if url.has_host() || url.scheme() != "http" && url.scheme() != "https" => {}
            _ => return Err(format!("{uri:?} is not an absolute URI")),
        }
        Ok(ExtraRedirect {
            app: app.to_owned(),
            uri: uri.to_owned(),
        })
    }
}

/// Adds each `--redirect-uri` to its app registration (by application id,
/// else by display name, both case-insensitive; a display name must name
/// one app).
pub(crate) fn add_redirect_uris(
    directory: &mut Directory,
    extra: &[ExtraRedirect],
) -> Result<(), Failure> {
    for ExtraRedirect { app, uri } in extra {
        let apps = directory
            .tenants
            .iter_mut()
            .flat_map(|t| t.applications.iter_mut());
        let mut by_id = None;
        let mut by_name = Vec::new();
        for registration in apps {
            if registration.app_id.eq_ignore_ascii_case(app) {
                by_id = Some(registration);
                break;
            }
            if registration.display_name.eq_ignore_ascii_case(app) {
                by_name.push(registration);
            }
        }
        let registration = match (by_id, by_name.len()) {
            (Some(registration), _) => registration,
            (None, 1) => by_name.remove(0),
            (None, 0) => {
                let known: Vec<String> = directory
                    .tenants
                    .iter()
                    .flat_map(|t| t.applications.iter())
                    .map(|a| format!("{} ({})", a.app_id, a.display_name))
                    .collect();
                return Err(Failure::Misconfigured(format!(
                    "--redirect-uri: no app registration {app:?}; use an application id or display name: {}",
                    known.join(", ")
                )));
            }
            (None, _) => {
                return Err(Failure::Misconfigured(format!(
                    "--redirect-uri: several app registrations are named {app:?}; use the application id"
                )));
            }
        };
        let platform =
            if !registration.web.redirect_uris.is_empty() || registration.is_confidential() {
                &mut registration.web
            } else if !registration.spa.redirect_uris.is_empty() {
                &mut registration.spa
            } else {
                &mut registration.public_client
            };
        if !platform.redirect_uris.contains(uri) {
            platform.redirect_uris.push(uri.clone());
        }
    }
    Ok(())
}

/// A secret given on the command line; its `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Secret(pub(crate) String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Secret(value.to_owned()))
    }
}

/// Starts the emulator, prints what it serves, and runs until a signal.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    crate::metrics::enable(!args.no_metrics)?;
    let mut directory = match &args.config {
        Some(path) => load_directory(path)?,
        None => Directory::default_demo(),
    };
    add_redirect_uris(&mut directory, &args.redirect_uris)?;
    let issuer_base = match &args.issuer {
        Some(issuer) => Some(check_issuer(issuer)?),
        None => None,
    };
    let data_dir = args.data_dir.join("emulator");
    check_writable(&args.data_dir, &data_dir)?;
    // Absolute, so the printed paths (the CA to trust) work from anywhere.
    let data_dir = std::path::absolute(&data_dir).unwrap_or(data_dir);

    let bind = crate::bind::address(args.bind)?;
    let http_addr = SocketAddr::new(bind, args.http_port);
    let https_addr = (!args.no_https).then(|| SocketAddr::new(bind, args.https_port));
    let config = EmulatorConfig {
        directory,
        data_dir: Some(data_dir.clone()),
        http_addr,
        https_addr,
        public_host: Some(args.public_host.clone()),
        issuer_base,
        allowed_hosts: args.allowed_hosts.clone(),
        admin_token: args.admin_token.as_ref().map(|t| t.0.clone()),
        identity_header: args.identity_header.as_ref().map(|h| h.0.clone()),
    };
    let emulator = Emulator::start(config)
        .await
        .map_err(|e| start_failure(e, &args))?;
    if !bind.is_loopback() {
        tracing::info!(
            %bind,
            "listening beyond loopback: the administration API (/_emulator/) requires the admin token"
        );
    }
    print!("{}", banner(&emulator, &args, &data_dir));

    wait_for_signal().await?;
    tracing::info!("shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, emulator.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("open connections did not close in time; dropping them");
    }
    Ok(())
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn wait_for_signal() -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure::Failed(format!("cannot listen for signals: {e}"));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).map_err(failed)?;
        let mut interrupt = signal(SignalKind::interrupt()).map_err(failed)?;
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(failed)
    }
}

/// `--issuer` must be an absolute `http(s)` URL.
fn check_issuer(issuer: &str) -> Result<String, Failure> {
    match url::Url::parse(issuer) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(issuer.trim_end_matches('/').to_owned())
        }
        Ok(_) => Err(Failure::Misconfigured(format!(
            "--issuer {issuer:?} must be an http:// or https:// URL"
        ))),
        Err(e) => Err(Failure::Misconfigured(format!(
            "--issuer {issuer:?} is not a URL: {e}"
        ))),
    }
}

/// A user's password as the banner shows it: the configured development
/// password, or `(hashed)` for a user whose password is kept only as a hash
/// (added through the administration API).
pub(crate) fn shown_password(user: &entra_emulator::config::User) -> &str {
    if user.password.is_empty() {
        "(hashed)"
    } else {
        &user.password
    }
}

/// Creates the data directory (private: `0700`, like each missing parent)
/// and proves it writable.
pub(crate) fn check_writable(root: &Path, dir: &Path) -> Result<(), Failure> {
    let unwritable = |e: std::io::Error| {
        Failure::Misconfigured(format!(
            "data directory {} is not writable: {e} (set --data-dir or ENTRA_DATA_DIR)",
            root.display()
        ))
    };
    entra_core::fs::create_private_dir(dir).map_err(unwritable)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(unwritable)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Explains a failed start in one line.
fn start_failure(error: Error, args: &Args) -> Failure {
    match error {
        Error::Bind { addr, source } => {
            let port = addr.port();
            let (flag, var) =
                if port == args.http_port && (args.no_https || args.http_port != args.https_port) {
                    ("--http-port", "ENTRA_EMULATOR_HTTP_PORT")
                } else {
                    ("--https-port", "ENTRA_EMULATOR_HTTPS_PORT")
                };
            match source.kind() {
                std::io::ErrorKind::AddrInUse => Failure::Misconfigured(format!(
                    "port {port} is already in use (is another emulator running? choose another port with {flag} or {var})"
                )),
                std::io::ErrorKind::PermissionDenied => Failure::Misconfigured(format!(
                    "not allowed to listen on port {port} ({source}); choose a port above 1023 with {flag} or {var}"
                )),
                _ => {
                    Failure::Misconfigured(one_line(&format!("cannot listen on {addr}: {source}")))
                }
            }
        }
        Error::Config(ConfigError::AdminTokenRequired { addr }) => Failure::Misconfigured(format!(
            "listening on {addr}, which is not a loopback address, requires an admin token for the administration API: set ENTRA_EMULATOR_ADMIN_TOKEN (or --admin-token), or --bind 127.0.0.1"
        )),
        Error::Config(ConfigError::AdminToken) => Failure::Misconfigured(
            "ENTRA_EMULATOR_ADMIN_TOKEN (--admin-token) must be non-empty printable ASCII without spaces".to_owned(),
        ),
        Error::Config(ConfigError::IdentityHeader) => Failure::Misconfigured(
            "ENTRA_EMULATOR_IDENTITY_HEADER (--identity-header) must be non-empty printable ASCII without spaces".to_owned(),
        ),
        Error::Config(ConfigError::AllowedHost { host }) => Failure::Misconfigured(format!(
            "--allowed-host / ENTRA_EMULATOR_ALLOWED_HOSTS: {host:?} is not a host name (letters, digits, '-', '_', '.'; '.example.com' for a domain and its subdomains)"
        )),
        Error::Config(_) => Failure::Misconfigured(one_line(&error.to_string())),
        Error::Storage { .. } => Failure::Misconfigured(one_line(&format!(
            "{error} (check --data-dir or ENTRA_DATA_DIR)"
        ))),
        other => Failure::Failed(one_line(&other.to_string())),
    }
}

/// Reads and checks the directory file.
fn load_directory(path: &Path) -> Result<Directory, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Misconfigured(format!(
            "cannot read configuration file {}: {e}",
            path.display()
        ))
    })?;
    Directory::from_toml(&text).map_err(|e| {
        let reason = e.to_string();
        let reason = reason
            .strip_prefix("invalid configuration: ")
            .unwrap_or(&reason);
        Failure::Misconfigured(one_line(&format!(
            "invalid configuration file {}: {reason}",
            path.display()
        )))
    })
}

/// Joins a multi-line message (a TOML error with its source excerpt) into one
/// line, leaving out the excerpt.
fn one_line(message: &str) -> String {
    let excerpt = |line: &str| {
        let t = line.trim_start();
        t.starts_with('|')
            || t.split_once('|').is_some_and(|(n, _)| {
                !n.trim().is_empty() && n.trim().bytes().all(|b| b.is_ascii_digit())
            })
    };
    message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !excerpt(l))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(": ")
}

/// What the emulator serves, for people (stdout).
fn banner(emulator: &Emulator, args: &Args, data_dir: &Path) -> String {
    let directory = emulator.directory();
    let http = emulator.http_url();
    let https = emulator.https_url();
    let mut out = String::new();
    let _ = writeln!(out, "entra emulator: a local Microsoft Entra ID");
    let _ = writeln!(out, "  HTTP:        {http}");
    let _ = writeln!(
        out,
        "  home page:   {http}/   (directory, mint and decode tokens, recent requests)"
    );
    match &https {
        Some(url) => {
            let _ = writeln!(out, "  HTTPS:       {url}");
        }
        None => {
            let _ = writeln!(out, "  HTTPS:       off");
        }
    }
    if let Some(tenant) = directory.tenants.first() {
        let base = https.as_deref().unwrap_or(&http);
        let _ = writeln!(
            out,
            "  authority:   {base}/{}   ({})",
            tenant.tenant_id, tenant.domain
        );
        let _ = writeln!(
            out,
            "  discovery:   {http}/{}/v2.0/.well-known/openid-configuration",
            tenant.tenant_id
        );
        let _ = writeln!(
            out,
            "  issuer:      {}",
            emulator.issuer_v2(&tenant.tenant_id)
        );
    }
    if let Some(ca) = emulator.ca_path() {
        let _ = writeln!(out, "  trust CA:    {}", ca.display());
        let _ = writeln!(
            out,
            "               (REQUESTS_CA_BUNDLE for MSAL Python, NODE_EXTRA_CA_CERTS for MSAL Node, SSL_CERT_FILE)"
        );
    }
    let _ = writeln!(out, "  data:        {}", data_dir.display());
    let _ = writeln!(
        out,
        "  config:      {}",
        args.config
            .as_ref()
            .map_or_else(|| "built-in demo".to_owned(), |p| p.display().to_string())
    );
    if args.admin_token.is_some() {
        let _ = writeln!(
            out,
            "  admin API:   {http}/_emulator/   (Authorization: Bearer <admin token>)"
        );
    } else {
        let _ = writeln!(out, "  admin API:   {http}/_emulator/");
    }
    let _ = writeln!(out);
    out.push_str(&managed_identity_lines(emulator));
    for tenant in &directory.tenants {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "tenant {} ({}) {}",
            tenant.domain, tenant.tenant_id, tenant.display_name
        );
        if !tenant.users.is_empty() {
            let _ = writeln!(out, "  users (development passwords):");
            let width = |f: fn(&entra_emulator::config::User) -> usize| {
                tenant.users.iter().map(f).max().unwrap_or(0)
            };
            let upn = width(|u| u.user_principal_name.len());
            let password = width(|u| shown_password(u).len());
            for user in &tenant.users {
                let _ = writeln!(
                    out,
                    "    {:<upn$}  {:<password$}  {}",
                    user.user_principal_name,
                    shown_password(user),
                    user.display_name
                );
            }
        }
        if !tenant.applications.is_empty() {
            let _ = writeln!(out, "  applications:");
            for app in &tenant.applications {
                let _ = writeln!(out, "    {}  {}", app.app_id, describe_app(app));
            }
        }
        if !tenant.managed_identities.is_empty() {
            let _ = writeln!(out, "  managed identities:");
            for mi in &tenant.managed_identities {
                let kind = match mi.r#type {
                    entra_emulator::config::ManagedIdentityType::SystemAssigned => {
                        "system-assigned (the default)"
                    }
                    entra_emulator::config::ManagedIdentityType::UserAssigned => "user-assigned",
                };
                let _ = writeln!(out, "    {}  {:<24}  {kind}", mi.client_id, mi.display_name);
            }
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Press Ctrl-C to stop.");
    out
}

/// The two lines to copy for code that gets managed-identity tokens the
/// App Service way (azure-identity, MSAL, `entra token --managed-identity`).
pub(crate) fn managed_identity_lines(emulator: &Emulator) -> String {
    format!(
        "Managed identity (App Service style): copy these two lines into the shell that runs your code\n  \
         export IDENTITY_ENDPOINT={}\n  export IDENTITY_HEADER={}\n",
        emulator.identity_endpoint(),
        emulator.identity_header()
    )
}

/// What kind of client (or API) an app registration is; never its secrets.
fn describe_app(app: &entra_emulator::config::Application) -> String {
    let mut kinds = Vec::new();
    if !app.oauth2_permission_scopes.is_empty() || !app.identifier_uris.is_empty() {
        kinds.push("API".to_owned());
    }
    if app.is_confidential() {
        let mut how = Vec::new();
        if !app.password_credentials.is_empty() {
            how.push("secret");
        }
        if !app.key_credentials.is_empty() {
            how.push("certificate");
        }
        if !app.federated_identity_credentials.is_empty() {
            how.push("federated");
        }
        kinds.push(format!("confidential client ({})", how.join(", ")));
    } else if app.is_fallback_public_client
        || !app.spa.redirect_uris.is_empty()
        || !app.public_client.redirect_uris.is_empty()
    {
        kinds.push("public client".to_owned());
    }
    let redirects: Vec<&str> = app.all_redirect_uris().map(String::as_str).collect();
    let mut line = format!("{:<24}", app.display_name);
    if !kinds.is_empty() {
        line.push_str("  ");
        line.push_str(&kinds.join(", "));
    }
    if !redirects.is_empty() {
        line.push_str("; redirect ");
        line.push_str(&redirects.join(", "));
    }
    line
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn toml_errors_become_one_line() {
        let error = Directory::from_toml("tenants = [\nnonsense").unwrap_err();
        let line = one_line(&error.to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("line 2"), "{line}");
    }

    #[test]
    fn redirect_uris_are_added_by_app_id_or_display_name() {
        let mut directory = Directory::default_demo();
        let web = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
        let swagger = "b9c8d7e6-5f4a-4b3c-8d2e-1f0a9b8c7d6e";
        let extra: Vec<ExtraRedirect> = [
            "heroes web=http://localhost:8001/auth/callback",
            &format!(
                "{}=http://localhost:8081/docs/oauth2-redirect.html",
                swagger.to_uppercase()
            ),
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        add_redirect_uris(&mut directory, &extra).unwrap();
        let app = |id: &str| directory.application(id).unwrap().clone();
        assert!(
            app(web)
                .web
                .redirect_uris
                .iter()
                .any(|u| u == "http://localhost:8001/auth/callback")
        );
        assert!(
            app(swagger)
                .spa
                .redirect_uris
                .iter()
                .any(|u| u == "http://localhost:8081/docs/oauth2-redirect.html")
        );
        // Twice is once.
        add_redirect_uris(&mut directory, &extra).unwrap();
        assert_eq!(
            directory
                .application(web)
                .unwrap()
                .web
                .redirect_uris
                .iter()
                .filter(|u| u.ends_with(":8001/auth/callback"))
                .count(),
            1
        );

        let unknown: ExtraRedirect = "Nobody=http://localhost:1/cb".parse().unwrap();
        assert!(
            matches!(add_redirect_uris(&mut directory, &[unknown]), Err(Failure::Misconfigured(m)) if m.contains("Heroes Web"))
        );
        assert!("no-equals-sign".parse::<ExtraRedirect>().is_err());
        assert!("Heroes Web=not a uri".parse::<ExtraRedirect>().is_err());
        assert!("Heroes Web=".parse::<ExtraRedirect>().is_err());
    }

    #[test]
    fn issuers_must_be_http_urls() {
        assert!(check_issuer("https://login.example.test/").is_ok());
        assert!(check_issuer("ftp://x").is_err());
        assert!(check_issuer("nope").is_err());
    }
}
