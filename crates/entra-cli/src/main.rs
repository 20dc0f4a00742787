//! `entra`: one command for the whole system. `entra demo` runs the local
//! Entra ID emulator, the heroes API and the web app together; `entra
//! emulator`, `entra api` and `entra web` run each part alone; `entra token`
//! gets a token, `entra inspect` explains one, and `entra health` probes a
//! URL (a container's health check).
//!
//! Configuration comes from flags, environment variables and a `.env` file in
//! the working directory (which never overrides variables already set).
//! Misconfiguration (a port in use, an unreadable configuration file, an
//! unwritable data directory) is explained in one line on stderr, with exit
//! code 2.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod api;
mod authority;
mod bind;
mod demo;
mod emulator;
mod health;
mod inspect;
mod metrics;
mod oidc;
mod preflight;
mod telemetry;
mod token;
mod web;

/// Secure web APIs with Microsoft Entra ID, locally or for real.
#[derive(Debug, Parser)]
#[command(name = "entra", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How log lines are written on stderr: `text`, or `json` (one object per
    /// line). Traces are exported over OTLP/HTTP when
    /// OTEL_EXPORTER_OTLP_ENDPOINT is set.
    #[arg(
        long,
        global = true,
        env = "ENTRA_LOG_FORMAT",
        value_enum,
        default_value_t = telemetry::LogFormat::Text
    )]
    log_format: telemetry::LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole system: the emulator, the heroes API and the web app
    /// (ports 9000/9443, 8080, 8000; data in ./data).
    Demo(demo::Args),
    /// Run the local Entra ID emulator (discovery, keys, sign-in, tokens).
    Emulator(emulator::Args),
    /// Run the Heroes API (heroes and todo items, Swagger UI at /docs).
    Api(api::Args),
    /// Decode a token and, given the API's client id, check it as the API would.
    Inspect(inspect::Args),
    /// Run the heroes web app (sign in, heroes, todo items; port 8000).
    Web(web::Args),
    /// Get an access token (client credentials with a secret or a federated
    /// token file, device code, managed identity, or a user's token from the
    /// emulator) and print it, for `curl -H "Authorization: Bearer $(entra
    /// token)"`.
    Token(token::Args),
    /// Probe URLs (e.g. http://127.0.0.1:8080/health/ready): exit code 0 when
    /// each answers 2xx (--any: one), else 1 with one line on stderr.
    Health(health::Args),
}

/// Why a command failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The configuration is wrong: exit code 2.
    Misconfigured(String),
    /// Something failed at run time: exit code 1.
    Failed(String),
}

fn main() -> ExitCode {
    // Before parsing: `.env` values act as environment variables for clap.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse();
    // A probe says what it found in one line of its own: libraries' logs
    // (a TLS verifier's error...) only when RUST_LOG asks for them.
    // A certificate the platform verifier refuses is explained by the
    // command itself, in words: not as the verifier's own error line.
    // `entra token` prints a token or one line saying why not, and `entra
    // inspect` explains each check itself: the libraries' own warnings only
    // when RUST_LOG asks for them.
    let default_filter = match cli.command {
        Command::Health(_) => "off",
        Command::Token(_) | Command::Inspect(_) => "entra::token=info,entra::inspect=info",
        _ => "info,rustls_platform_verifier=off",
    };
    let telemetry =
        match telemetry::init(cli.log_format, default_filter, service_name(&cli.command)) {
            Ok(telemetry) => telemetry,
            Err(message) => {
                eprintln!("entra: {message}");
                return ExitCode::from(2);
            }
        };
    if let Err(e) = &dotenv {
        if !e.not_found() {
            tracing::warn!(error = %e, "ignoring an unreadable .env file");
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("entra: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Emulator(args) => emulator::run(args).await,
            Command::Api(args) => api::run(args).await,
            Command::Inspect(args) => inspect::run(args).await,
            Command::Web(args) => web::run(args).await,
            Command::Token(args) => token::run(args).await,
            Command::Health(args) => health::run(args).await,
        }
    });
    // Do not wait for stray blocking tasks.
    runtime.shutdown_background();
    tracing::debug!("runtime stopped");
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Misconfigured(message)) => {
            eprintln!("entra: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("entra: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The service name traces carry unless `OTEL_SERVICE_NAME` says otherwise.
fn service_name(command: &Command) -> &'static str {
    match command {
        Command::Demo(_) => "entra-demo",
        Command::Emulator(_) => "entra-emulator",
        Command::Api(_) => "demo-api",
        Command::Web(_) => "demo-web",
        Command::Inspect(_) | Command::Token(_) | Command::Health(_) => "entra",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_help_speaks_to_users() {
        let help = Cli::command().render_long_help().to_string();
        assert!(!help.contains("later"), "{help}");
        assert!(help.contains("demo"), "{help}");
    }
}
