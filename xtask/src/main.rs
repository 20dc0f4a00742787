//! `cargo xtask bench`: load benchmarks on loopback, side by side in one run.
//!
//! The same `GET /heroes` handler is served three ways: unprotected,
//! protected by `entra-auth` with the verified-token cache off, and with it on.
//! Each is loaded with `wrk` (one thread; the servers get one tokio worker, so
//! each side has a core of a 2-core machine), in interleaved rounds; the
//! median of the rounds is reported with the ratio to the unprotected server.
//! Then the resident memory of a validator holding 100,000 distinct cached
//! tokens is measured.

use std::process::Command;

use axum::routing::get;
use axum::{Json, Router};
use entra_auth::testing::TestIssuer;
use entra_auth::{Require, Validator};

struct Options {
    seconds: u64,
    connections: u32,
    rounds: usize,
    memory_tokens: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("bench") => {}
        _ => {
            eprintln!(
                "usage: cargo xtask bench [--seconds N] [--connections N] [--rounds N] [--memory-tokens N]"
            );
            std::process::exit(2);
        }
    }
    let mut options = Options {
        seconds: 10,
        connections: 32,
        rounds: 3,
        memory_tokens: 100_000,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => options.seconds = value.parse()?,
            "--connections" => options.connections = value.parse()?,
            "--rounds" => options.rounds = value.parse()?,
            "--memory-tokens" => options.memory_tokens = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        return Err("wrk is not installed (Debian: apt-get install wrk)".into());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let issuer = TestIssuer::new();
    let token = issuer.delegated(["Heroes.Read"]).sign();
    let cached = issuer.validator();
    let uncached = Validator::new(issuer.config().token_cache(false).build()?)?;

    let servers = runtime.block_on(async {
        let mut servers = Vec::new();
        for (name, auth) in [
            ("unprotected", None),
            ("protected, cache off", Some(&uncached)),
            ("protected, cache on", Some(&cached)),
        ] {
            let mut route = get(heroes);
            if let Some(auth) = auth {
                route = route.layer(auth.require(Require::scope_or_app_permission("Heroes.Read")));
            }
            let app = Router::new().route("/heroes", route);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/heroes", listener.local_addr()?);
            tokio::spawn(async move { axum::serve(listener, app).await });
            servers.push((name, url));
        }
        Ok::<_, std::io::Error>(servers)
    })?;

    // Every server answers 200 before anything is measured.
    for (name, url) in &servers {
        let probe = Command::new("wrk")
            .args([
                "-t1",
                "-c1",
                "-d1s",
                "-H",
                &format!("Authorization: Bearer {token}"),
                url,
            ])
            .output()?;
        let text = String::from_utf8_lossy(&probe.stdout);
        if text.contains("Non-2xx") {
            return Err(format!("{name} answers errors: {text}").into());
        }
    }

    println!(
        "wrk: 1 thread, {} connections, {} s per run, {} interleaved rounds; server: 1 tokio worker\n",
        options.connections, options.seconds, options.rounds
    );
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); servers.len()];
    for round in 0..options.rounds {
        for (i, (name, url)) in servers.iter().enumerate() {
            let run = wrk(url, &token, &options)?;
            eprintln!("round {}: {name}: {:.0} req/s", round + 1, run.rps);
            results[i].push(run);
        }
    }
    let medians: Vec<Run> = results.iter().map(|runs| median(runs)).collect();
    let base = medians[0].rps;
    println!("| server | requests/s | p50 | p99 | ratio to unprotected |");
    println!("|---|---:|---:|---:|---:|");
    for ((name, _), run) in servers.iter().zip(&medians) {
        println!(
            "| {name} | {:.0} | {} | {} | {:.2}x |",
            run.rps,
            run.p50,
            run.p99,
            run.rps / base
        );
    }

    if options.memory_tokens > 0 {
        println!();
        memory(&runtime, &issuer, options.memory_tokens)?;
    }
    Ok(())
}

async fn heroes() -> Json<serde_json::Value> {
    Json(serde_json::json!([
        {"id": 1, "name": "Deadpond", "secret_name": "Dive Wilson"},
        {"id": 2, "name": "Spider-Boy", "secret_name": "Pedro Parqueador", "age": 16},
    ]))
}

#[derive(Debug, Clone)]
struct Run {
    rps: f64,
    p50: String,
    p99: String,
}

fn median(runs: &[Run]) -> Run {
    let mut sorted = runs.to_vec();
    sorted.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    sorted[sorted.len() / 2].clone()
}

fn wrk(url: &str, token: &str, options: &Options) -> Result<Run, Box<dyn std::error::Error>> {
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{}", options.connections),
            &format!("-d{}s", options.seconds),
            "--latency",
            "-H",
            &format!("Authorization: Bearer {token}"),
            url,
        ])
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("errors during the run:\n{text}").into());
    }
    let field = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| "?".to_owned())
    };
    Ok(Run {
        rps: field("Requests/sec:").parse().unwrap_or(0.0),
        p50: field("50%"),
        p99: field("99%"),
    })
}

/// Resident memory before and after caching `count` distinct tokens.
fn memory(
    runtime: &tokio::runtime::Runtime,
    issuer: &TestIssuer,
    count: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    // Room for every token: this measures what holding them costs.
    let validator = Validator::new(
        issuer
            .config()
            .token_cache_limits(count, 1024 * 1024 * 1024)
            .build()?,
    )?;
    // Mint on every core: RSA signing is the slow part.
    let per_thread = count.div_ceil(2);
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    (0..per_thread)
                        .map(|_| issuer.delegated(["Heroes.Read"]).sign())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .take(count)
            .collect()
    });
    let before = rss_kib();
    let started = std::time::Instant::now();
    runtime.block_on(async {
        for token in &tokens {
            validator
                .validate(token)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    })?;
    let elapsed = started.elapsed();
    let after = rss_kib();
    let stats = validator.cache_stats();
    println!(
        "{} distinct tokens ({} bytes each) validated in {:.1} s; cache: {} entries, {:.1} MiB of its byte budget; \
         resident memory {:.1} MiB -> {:.1} MiB (+{:.1} MiB, tokens themselves included: {:.1} MiB)",
        tokens.len(),
        tokens.first().map_or(0, String::len),
        elapsed.as_secs_f64(),
        stats.entries,
        stats.bytes as f64 / 1048576.0,
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after.saturating_sub(before)) as f64 / 1024.0,
        tokens.iter().map(String::len).sum::<usize>() as f64 / 1048576.0,
    );
    Ok(())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:")
                    .map(|v| v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0))
            })
        })
        .unwrap_or(0)
}
