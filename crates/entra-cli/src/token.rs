//! `entra token`: gets an access token and prints it, alone, on stdout, for
//! `curl -H "Authorization: Bearer $(entra token)" http://localhost:8080/heroes`.
//!
//! - `--client-credentials` (the default): an app-only token for the demo
//!   daemon (`AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET` to use another app;
//!   the demo secret works with the local emulator only).
//! - `--device-code`: a user's token through the public `entra` CLI app:
//!   the sign-in instructions go to stderr, the token to stdout once the
//!   user has signed in in a browser.
//!
//! Nothing but the token is ever written to stdout; the token is never
//! logged.

use std::io::Write as _;

use entra_client::{Client, ClientCredential};

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
    #[arg(long)]
    device_code: bool,

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
    /// API's scopes for device code (repeat or comma-separate).
    #[arg(long = "scope", value_delimiter = ',', default_value = DEFAULT_SCOPE)]
    scopes: Vec<String>,
}

/// Gets the token and prints it.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let local = check_authority(&args.authority_host)?;
    let token = if args.device_code {
        device_code(&args).await?
    } else {
        client_credentials(&args, local).await?
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
    let secret = match args.client_secret.as_deref().map(str::trim) {
        Some(secret) if !secret.is_empty() => secret.to_owned(),
        _ if local && args.client_id.is_none() => DAEMON_SECRET.to_owned(),
        _ => {
            return Err(Failure::Misconfigured(format!(
                "AZURE_CLIENT_SECRET (or --client-secret) is required for client credentials with {} (the demo secret is the local emulator's daemon's only)",
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
        .build_confidential(ClientCredential::secret(secret))
        .map_err(misconfigured)?;
    let token = client
        .acquire_token_for_client(&args.scopes)
        .await
        .map_err(failed)?;
    Ok(token.secret().to_owned())
}

async fn device_code(args: &Args) -> Result<String, Failure> {
    let client_id = args
        .client_id
        .clone()
        .unwrap_or_else(|| CLI_CLIENT_ID.to_owned());
    let client = Client::builder(args.tenant.trim(), client_id.trim())
        .authority_host(args.authority_host.trim().trim_end_matches('/'))
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

/// Whether the authority is the local emulator (a loopback host); `http`
/// elsewhere is refused.
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

/// A refusal of the authority (wrong secret, unknown app, bad scope) is a
/// configuration problem; anything else (unreachable, declined) a failure.
fn failed(e: entra_client::Error) -> Failure {
    match &e {
        entra_client::Error::Config(_) | entra_client::Error::Authority(_) => misconfigured(e),
        _ => Failure::Failed(one_line(&e.to_string())),
    }
}
