//! `entra token`: gets an access token and prints it, alone, on stdout, for
//! `curl -H "Authorization: Bearer $(entra token)" http://localhost:8080/heroes`.
//!
//! - `--client-credentials` (the default): an app-only token for the demo
//!   daemon (`AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET` to use another app;
//!   the demo secret works with the local emulator only).
//! - `--device-code`: a user's token through the public `entra` CLI app:
//!   the sign-in instructions go to stderr, the token to stdout once the
//!   user has signed in in a browser.
//! - `--managed-identity`: the token of the managed identity of the machine
//!   it runs on: App Service / Container Apps (`IDENTITY_ENDPOINT` and
//!   `IDENTITY_HEADER`), else IMDS (`AZURE_POD_IDENTITY_AUTHORITY_HOST`, or
//!   the local emulator's IMDS-style endpoint when the authority is the
//!   local emulator, or 169.254.169.254); `--client-id` names a
//!   user-assigned identity.
//! - `--federated-token-file` (`AZURE_FEDERATED_TOKEN_FILE`): client
//!   credentials with the token in that file as the client assertion
//!   (workload identity federation) instead of a secret.
//!
//! - `--user UPN`: a user's delegated token minted by the local emulator
//!   (its administration API, `POST /_emulator/tokens`), with no sign-in:
//!   for trying user routes with curl. Only against an emulator.
//!
//! Nothing but the token is ever written to stdout; the token is never
//! logged.

use std::io::Write as _;
use std::path::PathBuf;

use entra_client::{
    Client, ClientCredential, ManagedIdentityCredential, ManagedIdentityId, ManagedIdentitySource,
};

use crate::Failure;
use crate::authority::check_authority;

/// The demo directory's daemon (client credentials).
const DAEMON_CLIENT_ID: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
/// The daemon's development secret, known to the local emulator only.
const DAEMON_SECRET: &str = "heroes-daemon-dev-secret";
/// The demo directory's public client for command-line tools (device code).
const CLI_CLIENT_ID: &str = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6";
/// The heroes API's permissions, all of them.
const DEFAULT_SCOPE: &str = "api://6e74172b-be56-4843-9ff4-e66a39bb12e3/.default";

/// Options of `entra token`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// An app-only token with the client credentials grant (the default).
    #[arg(long, conflicts_with = "device_code")]
    client_credentials: bool,

    /// A user's token with the device code flow: open the printed URL in a
    /// browser, enter the code, sign in.
    #[arg(long, conflicts_with = "managed_identity")]
    device_code: bool,

    /// The token of this machine's managed identity (App Service, Container
    /// Apps, Functions, virtual machines); with --client-id, the
    /// user-assigned identity of that client id.
    #[arg(long, env = "ENTRA_MANAGED_IDENTITY")]
    managed_identity: bool,

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

    /// Client credentials with the token in this file as the client
    /// assertion (workload identity federation), instead of a secret.
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE")]
    federated_token_file: Option<String>,

    /// Authority host: the local emulator by default,
    /// `https://login.microsoftonline.com` for Entra ID.
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        default_value = "http://localhost:9000"
    )]
    authority_host: String,

    /// Tenant id or verified domain.
    #[arg(
        long,
        env = "AZURE_TENANT_ID",
        default_value = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
    )]
    tenant: String,

    /// The client application (default: the demo daemon for client
    /// credentials, the `entra` CLI app for device code).
    #[arg(long, env = "AZURE_CLIENT_ID")]
    client_id: Option<String>,

    /// The client secret (client credentials). Default: the demo daemon's,
    /// with the local emulator only.
    #[arg(long, env = "AZURE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,

    /// The scope: `{App ID URI}/.default` for client credentials; any of the
    /// API's scopes for device code and --user (repeat or comma-separate;
    /// with --user, a bare name such as `Heroes.Read` is the heroes API's,
    /// and the default is its Heroes.Read, Heroes.Write and Heroes.Delete).
    #[arg(
        long = "scope",
        env = "ENTRA_TOKEN_SCOPE",
        value_delimiter = ',',
        default_value = DEFAULT_SCOPE
    )]
    scopes: Vec<String>,

    /// A user's delegated token, minted by the local emulator for this user
    /// (UPN or object id) without a sign-in, through its administration API.
    /// Only against an emulator.
    #[arg(
        long,
        env = "ENTRA_TOKEN_USER",
        conflicts_with_all = ["device_code", "client_credentials", "managed_identity"]
    )]
    user: Option<String>,

    /// The emulator's admin token, when it requires one (--user).
    #[arg(long, env = "ENTRA_EMULATOR_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,

    /// A PEM file of extra certificate authorities to trust: the emulator's
    /// `{data-dir}/emulator/tls/ca.pem` for its HTTPS listener.
    #[arg(long, env = "ENTRA_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
}

/// The heroes API's delegated scopes: what `--user` asks for by default.
const USER_SCOPES: [&str; 3] = ["Heroes.Read", "Heroes.Write", "Heroes.Delete"];

/// Gets the token and prints it.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let local = check_authority(&args.authority_host)?;
    let token = if let Some(user) = &args.user {
        minted(&args, user, local).await
    } else if args.device_code {
        device_code(&args).await
    } else if args.managed_identity {
        managed_identity(&args, local).await
    } else {
        client_credentials(&args, local).await
    };
    let token = match token {
        Ok(token) => token,
        Err(failure) => return Err(explain_tls(&args, failure).await),
    };
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{token}")
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::Failed(format!("cannot write the token: {e}")))
}

async fn client_credentials(args: &Args, local: bool) -> Result<String, Failure> {
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| DAEMON_CLIENT_ID.to_owned());
    let secret = args
        .client_secret
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let federated = args
        .federated_token_file
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(PathBuf::from);
    let credential = match (secret, &federated) {
        (Some(_), Some(_)) => {
            return Err(Failure::Misconfigured(
                "both a client secret (AZURE_CLIENT_SECRET / --client-secret) and a federated token file (AZURE_FEDERATED_TOKEN_FILE / --federated-token-file) are set: set one".into(),
            ));
        }
        (Some(secret), None) => ClientCredential::secret(secret),
        (None, Some(file)) => {
            std::fs::metadata(file).map_err(|e| {
                Failure::Misconfigured(format!(
                    "cannot read the federated token file {} (AZURE_FEDERATED_TOKEN_FILE / --federated-token-file): {e}",
                    file.display()
                ))
            })?;
            ClientCredential::federated_token_file(file)
        }
        (None, None) if local && args.client_id.is_none() => {
            ClientCredential::secret(DAEMON_SECRET)
        }
        (None, None) => {
            return Err(Failure::Misconfigured(format!(
                "AZURE_CLIENT_SECRET (or --client-secret), or AZURE_FEDERATED_TOKEN_FILE (or --federated-token-file), is required for client credentials with {} (the demo secret is the local emulator's daemon's only)",
                if local {
                    "another app than the demo daemon"
                } else {
                    "this authority"
                }
            )));
        }
    };
    let client = Client::builder(args.tenant.trim(), client_id.trim())
        .authority_host(args.authority_host.trim().trim_end_matches('/'))
        .http_client(http_client(args)?)
        .build_confidential(credential)
        .map_err(misconfigured)?;
    let token = client
        .acquire_token_for_client(&args.scopes)
        .await
        .map_err(failed)?;
    Ok(token.secret().to_owned())
}

async fn managed_identity(args: &Args, local: bool) -> Result<String, Failure> {
    let set = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let source = managed_identity_source(
        set(&args.identity_endpoint),
        set(&args.identity_header),
        set(&args.imds_host),
        &args.authority_host,
        local,
    )?;
    let identity = match set(&args.client_id) {
        Some(client_id) => ManagedIdentityId::ClientId(client_id),
        None => ManagedIdentityId::SystemAssigned,
    };
    // Off Azure, 169.254.169.254 does not answer: say so within seconds
    // rather than after the retries of a minute.
    let credential = ManagedIdentityCredential::builder()
        .source(source)
        .identity(identity)
        .probe_timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(misconfigured)?;
    let token = credential.get_token(&args.scopes).await.map_err(failed)?;
    Ok(token.secret().to_owned())
}

/// Where managed identity tokens come from, as `entra token
/// --managed-identity` and `entra web --managed-identity-assertion` resolve
/// it: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (App Service, Container
/// Apps; both or neither), else IMDS at `AZURE_POD_IDENTITY_AUTHORITY_HOST`,
/// else the local emulator's IMDS-style endpoint when the authority is the
/// local emulator, else IMDS at 169.254.169.254. Empty values are unset.
pub(crate) fn managed_identity_source(
    identity_endpoint: Option<String>,
    identity_header: Option<String>,
    imds_host: Option<String>,
    authority_host: &str,
    local: bool,
) -> Result<ManagedIdentitySource, Failure> {
    let set = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match (set(identity_endpoint), set(identity_header)) {
        (Some(endpoint), Some(header)) => ManagedIdentitySource::app_service(&endpoint, header),
        (Some(_), None) | (None, Some(_)) => {
            return Err(Failure::Misconfigured(
                "IDENTITY_ENDPOINT (--identity-endpoint) and IDENTITY_HEADER (--identity-header) go together: set both, or neither for IMDS".into(),
            ));
        }
        (None, None) => match set(imds_host) {
            Some(host) => ManagedIdentitySource::imds_at(&imds_url(&host)),
            // The local emulator serves IMDS's protocol too.
            None if local => ManagedIdentitySource::imds_at(&imds_url(authority_host)),
            None => Ok(ManagedIdentitySource::imds()),
        },
    }
    .map_err(misconfigured)
}

/// IMDS's token endpoint on `host`.
fn imds_url(host: &str) -> String {
    format!(
        "{}/metadata/identity/oauth2/token",
        host.trim().trim_end_matches('/')
    )
}

async fn device_code(args: &Args) -> Result<String, Failure> {
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| CLI_CLIENT_ID.to_owned());
    let client = Client::builder(args.tenant.trim(), client_id.trim())
        .authority_host(args.authority_host.trim().trim_end_matches('/'))
        .http_client(http_client(args)?)
        .build()
        .map_err(misconfigured)?;
    let mut flow = client
        .start_device_code(&args.scopes)
        .await
        .map_err(failed)?;
    // The instructions are for the person; stdout is for the token.
    eprintln!("{}", flow.message());
    let sign_in = flow.poll().await.map_err(failed)?;
    if let Some(user) = sign_in.account.username() {
        tracing::info!(%user, "signed in");
    }
    Ok(sign_in.access_token.secret().to_owned())
}

/// The HTTP client, trusting `--ca-file` too.
fn http_client(args: &Args) -> Result<reqwest::Client, Failure> {
    crate::inspect::trust_ca_file(reqwest::Client::builder(), args.ca_file.as_deref())?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))
}

/// `--user`: a delegated token minted by the emulator's `POST
/// /_emulator/tokens` for the user, the client (default: the `entra` CLI
/// app) and the scopes, which must all be one API's.
async fn minted(args: &Args, user: &str, local: bool) -> Result<String, Failure> {
    if !local {
        return Err(Failure::Misconfigured(format!(
            "--user mints a token through the local emulator's administration API, and {} is not a local emulator: use --device-code to sign a user in",
            args.authority_host.trim()
        )));
    }
    let heroes = DEFAULT_SCOPE.trim_end_matches("/.default");
    let requested: Vec<&str> = if args.scopes.iter().map(String::as_str).eq([DEFAULT_SCOPE]) {
        USER_SCOPES.to_vec()
    } else {
        args.scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .collect()
    };
    let mut resource: Option<&str> = None;
    let mut names = Vec::new();
    for scope in requested {
        let (api, name) = scope.rsplit_once('/').unwrap_or((heroes, scope));
        if name.is_empty() || name == ".default" {
            return Err(Failure::Misconfigured(format!(
                "--scope {scope:?}: name the delegated scopes for --user (e.g. {heroes}/Heroes.Read)"
            )));
        }
        match resource {
            Some(r) if r != api => {
                return Err(Failure::Misconfigured(format!(
                    "--scope: a token is for one API, and these name {r} and {api}"
                )));
            }
            _ => resource = Some(api),
        }
        names.push(name);
    }
    let body = serde_json::json!({
        "tenant": args.tenant.trim(),
        "clientId": args.client_id.as_deref().map_or(CLI_CLIENT_ID, str::trim),
        "resource": resource.unwrap_or(heroes),
        "user": user.trim(),
        "scopes": names,
    });
    let url = format!(
        "{}/_emulator/tokens",
        args.authority_host.trim().trim_end_matches('/')
    );
    let mut request = http_client(args)?.post(&url).json(&body);
    if let Some(token) = args.admin_token.as_deref().filter(|t| !t.is_empty()) {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| {
        let chain = crate::preflight::error_chain(&e);
        match crate::preflight::untrusted_certificate(&chain) {
            Some(why) => untrusted(&args.authority_host, why),
            None => Failure::Failed(format!(
                "the emulator at {} does not answer (is `entra emulator` running?): {}",
                args.authority_host.trim(),
                one_line(&chain)
            )),
        }
    })?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    match answer["access_token"].as_str() {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => {
            let why = answer["message"]
                .as_str()
                .map_or_else(|| status.to_string(), one_line);
            let hint = if status == reqwest::StatusCode::UNAUTHORIZED {
                " (set ENTRA_EMULATOR_ADMIN_TOKEN or --admin-token)"
            } else if status == reqwest::StatusCode::NOT_FOUND && answer.is_null() {
                " (is it an emulator?)"
            } else {
                ""
            };
            Err(Failure::Misconfigured(format!(
                "the emulator refused to mint the token: {why}{hint}"
            )))
        }
    }
}

/// When the authority is `https` and its certificate is what failed, says
/// so in words (the token client's error does not carry the TLS cause).
async fn explain_tls(args: &Args, failure: Failure) -> Failure {
    if !args.authority_host.trim().starts_with("https://") {
        return failure;
    }
    let Ok(http) = http_client(args) else {
        return failure;
    };
    match http.get(args.authority_host.trim()).send().await {
        Err(e) => match crate::preflight::untrusted_certificate(&crate::preflight::error_chain(&e))
        {
            Some(why) => untrusted(&args.authority_host, why),
            None => failure,
        },
        Ok(_) => failure,
    }
}

/// The one line for a certificate the client does not trust.
fn untrusted(authority_host: &str, why: &str) -> Failure {
    let host = url::Url::parse(authority_host.trim())
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| authority_host.trim().to_owned());
    Failure::Misconfigured(format!(
        "the certificate of {host} is not trusted ({why}): pass --ca-file (ENTRA_CA_FILE) with its CA, the emulator's {{data-dir}}/emulator/tls/ca.pem"
    ))
}

/// The lines of `text`, trimmed, on one line (errors are one line on stderr).
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn misconfigured(e: entra_client::Error) -> Failure {
    Failure::Misconfigured(one_line(&e.to_string()))
}

/// A refusal of the authority (wrong secret, unknown app, bad scope), an
/// unusable credential (an unreadable token file) or a managed identity
/// endpoint's refusal (unknown identity, wrong header) is a configuration
/// problem; anything else (unreachable, declined, still failing after the
/// retries) a failure.
fn failed(e: entra_client::Error) -> Failure {
    if let Some(why) = crate::preflight::untrusted_certificate(&crate::preflight::error_chain(&e)) {
        return Failure::Misconfigured(format!(
            "the certificate of the authority is not trusted ({why}): pass --ca-file (ENTRA_CA_FILE) with its CA, the emulator's {{data-dir}}/emulator/tls/ca.pem"
        ));
    }
    match &e {
        entra_client::Error::Config(_)
        | entra_client::Error::Authority(_)
        | entra_client::Error::Credential(_) => misconfigured(e),
        entra_client::Error::ManagedIdentity {
            status: 400..=403, ..
        } => misconfigured(e),
        _ => Failure::Failed(one_line(&e.to_string())),
    }
}
