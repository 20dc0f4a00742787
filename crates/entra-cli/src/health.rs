//! `entra health URL...`: probes, for a container's `HEALTHCHECK` (the image
//! has no shell and no curl) or a script.
//!
//! GETs each URL (`http`, or `https` trusting the system's roots and
//! `--ca-file`) with a short timeout, following no redirect. Exit code 0
//! when every URL answers `2xx` (with `--any`: when one does); otherwise 1,
//! with one line on stderr saying what each failing URL gave (the status and
//! the start of the body, which for `/health/ready` names what is not
//! ready), and 2 for a URL that is not `http(s)`.
//!
//! `--any` is for the image, which runs one of several commands: its health
//! check (`ENTRA_HEALTH_URL`) lists the liveness URL of each, and whichever
//! the container runs answers.

use std::path::PathBuf;
use std::time::Duration;

use crate::Failure;
use crate::inspect::trust_ca_file;

/// The most of a failed answer's body the error line shows.
const BODY_SHOWN: usize = 200;

/// Options of `entra health`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The URLs to probe, e.g. `http://127.0.0.1:8080/health/ready`
    /// (comma-separated in the variable).
    #[arg(env = "ENTRA_HEALTH_URL", value_delimiter = ',', required = true)]
    urls: Vec<String>,

    /// Healthy when any one URL answers 2xx (default: every one must).
    #[arg(long)]
    any: bool,

    /// Seconds the whole request may take (connecting included).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,

    /// A PEM file of extra certificate authorities to trust (the emulator's
    /// `{data-dir}/emulator/tls/ca.pem` for its HTTPS listener).
    #[arg(long, env = "ENTRA_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// Probes the URLs: `Ok` when every one (with `--any`: one) answers `2xx`.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let urls = args
        .urls
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .map(check_url)
        .collect::<Result<Vec<_>, _>>()?;
    if urls.is_empty() {
        return Err(Failure::Misconfigured(
            "no URL to probe (give one, or set ENTRA_HEALTH_URL)".into(),
        ));
    }
    let timeout = Duration::from_secs(args.timeout);
    let builder = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none());
    let client = trust_ca_file(builder, args.ca_file.as_deref())?
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))?;
    let results = probe_all(&client, &urls, args.timeout).await;
    let (passed, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
    for line in passed.iter().flatten() {
        println!("{line}");
    }
    let healthy = if args.any {
        !passed.is_empty()
    } else {
        failed.is_empty()
    };
    if healthy {
        return Ok(());
    }
    let reasons: Vec<String> = failed.into_iter().filter_map(Result::err).collect();
    Err(Failure::Failed(reasons.join("; ")))
}

/// A URL to probe: absolute `http(s)`.
fn check_url(url: &str) -> Result<url::Url, Failure> {
    let parsed = url::Url::parse(url)
        .map_err(|e| Failure::Misconfigured(format!("{url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(Failure::Misconfigured(format!(
            "{parsed} is not an http:// or https:// URL"
        )));
    }
    Ok(parsed)
}

/// Probes every URL at once; each result is the line to print.
async fn probe_all(
    client: &reqwest::Client,
    urls: &[url::Url],
    timeout: u64,
) -> Vec<Result<String, String>> {
    let mut probes = tokio::task::JoinSet::new();
    for (index, url) in urls.iter().enumerate() {
        let client = client.clone();
        let url = url.clone();
        probes.spawn(async move { (index, probe(&client, url, timeout).await) });
    }
    let mut results: Vec<(usize, Result<String, String>)> = Vec::with_capacity(urls.len());
    while let Some(joined) = probes.join_next().await {
        match joined {
            Ok(result) => results.push(result),
            Err(e) => results.push((usize::MAX, Err(format!("a probe failed: {e}")))),
        }
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// One probe: `Ok(line)` on `2xx`, else `Err(reason)`.
async fn probe(client: &reqwest::Client, url: url::Url, timeout: u64) -> Result<String, String> {
    let response = client.get(url.clone()).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            format!("no answer within {timeout} s")
        } else {
            cause(&e)
        };
        format!("{url}: {why}")
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(format!("{url}: {status}"));
    }
    let body = one_line(&response.text().await.unwrap_or_default());
    if body.is_empty() {
        Err(format!("{url}: answered {status}"))
    } else {
        Err(format!("{url}: answered {status}: {body}"))
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
