//! Running `wrk` and reading its report.

use std::process::Command;

/// One wrk run: throughput and latency percentiles as wrk prints them.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub(crate) rps: f64,
    /// Requests completed during the run.
    pub(crate) requests: u64,
    pub(crate) p50: String,
    pub(crate) p99: String,
}

/// Load settings shared by every run of a benchmark.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Load {
    pub(crate) seconds: u64,
    pub(crate) connections: u32,
}

/// The run with the median throughput.
pub(crate) fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    sorted[sorted.len() / 2].clone()
}

/// Whether `wrk` can be started.
pub(crate) fn installed() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// Runs `wrk -t1` against `url`; `before` goes before the URL (headers,
/// `-s script`), `after` after it (the script's arguments, after `--`).
/// `prefix` is a command to run wrk under (e.g. `taskset -c 1`), or empty.
/// Fails when wrk reports non-2xx answers or socket errors.
pub(crate) fn run(
    prefix: &[&str],
    url: &str,
    before: &[&str],
    after: &[&str],
    load: Load,
) -> Result<(Run, String), Box<dyn std::error::Error>> {
    let mut command = match prefix.split_first() {
        Some((program, args)) => {
            let mut command = Command::new(program);
            command.args(args).arg("wrk");
            command
        }
        None => Command::new("wrk"),
    };
    let output = command
        .args([
            "-t1".to_owned(),
            format!("-c{}", load.connections),
            format!("-d{}s", load.seconds),
            "--latency".to_owned(),
        ])
        .args(before)
        .arg(url)
        .args(after)
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}):\n{text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("errors during the run:\n{text}").into());
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "?".to_owned())
    };
    let run = Run {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        requests: text
            .lines()
            .find_map(|l| l.trim().split_once(" requests in "))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(0),
        p50: field("50%"),
        p99: field("99%"),
    };
    Ok((run, text))
}
