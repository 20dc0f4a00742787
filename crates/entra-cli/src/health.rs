//! `entra health URL`: one probe, for a container's `HEALTHCHECK` (the image
//! has no shell and no curl) or a script.
//!
//! GETs the URL (`http`, or `https` trusting the system's roots and
//! `--ca-file`) with a short timeout, following no redirect. Exit code 0 on
//! a `2xx` answer; otherwise 1, with one line on stderr saying what it got
//! (the status and the start of the body, which for `/health/ready` names
//! what is not ready), and 2 for a URL that is not `http(s)`.

use std::path::PathBuf;
use std::time::Duration;

use crate::Failure;
use crate::inspect::trust_ca_file;

/// The most of a failed answer's body the error line shows.
const BODY_SHOWN: usize = 200;

/// Options of `entra health`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URL to probe, e.g. `http://127.0.0.1:8080/health/ready`.
    #[arg(env = "ENTRA_HEALTH_URL")]
    url: String,

    /// Seconds the whole request may take (connecting included).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,

    /// A PEM file of extra certificate authorities to trust (the emulator's
    /// `{data-dir}/emulator/tls/ca.pem` for its HTTPS listener).
    #[arg(long, env = "ENTRA_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// Probes the URL: `Ok` on a `2xx` answer.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let url = url::Url::parse(args.url.trim())
        .map_err(|e| Failure::Misconfigured(format!("{:?} is not a URL: {e}", args.url)))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(Failure::Misconfigured(format!(
            "{url} is not an http:// or https:// URL"
        )));
    }
    let timeout = Duration::from_secs(args.timeout);
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let client = trust_ca_file(builder, args.ca_file.as_deref())?
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))?;
    let response = client.get(url.clone()).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            format!("no answer within {} s", args.timeout)
        } else {
            cause(&e)
        };
        Failure::Failed(format!("{url}: {why}"))
    })?;
    let status = response.status();
    if status.is_success() {
        println!("{url}: {status}");
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let body = one_line(&body);
    if body.is_empty() {
        Err(Failure::Failed(format!("{url}: answered {status}")))
    } else {
        Err(Failure::Failed(format!("{url}: answered {status}: {body}")))
    }
}

/// The innermost cause of a request failure (`Connection refused`...).
fn cause(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// The start of a body on one line: control characters become spaces, runs
/// of spaces one, at most [`BODY_SHOWN`] characters.
fn one_line(body: &str) -> String {
    let cleaned: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut line = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some((cut, _)) = line.char_indices().nth(BODY_SHOWN) {
        line.truncate(cut);
        line.push_str("...");
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_shown_on_one_short_line() {
        assert_eq!(
            one_line("{\n  \"status\": \"not ready\"\n}\r\n"),
            "{ \"status\": \"not ready\" }"
        );
        assert_eq!(one_line("a\u{1b}[31mb"), "a [31mb");
        let long = "é".repeat(500);
        let shown = one_line(&long);
        assert_eq!(shown.chars().count(), BODY_SHOWN + 3);
        assert!(shown.ends_with("..."));
    }
}
