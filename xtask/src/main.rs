//! Project automation. Load benchmarks on loopback, side by side in one run:
//!
//! - `cargo xtask bench [--seconds N] [--connections N] [--rounds N] [--memory-tokens N]`:
//!   `entra-auth`'s cost on a protected route. The same `GET /heroes`
//!   handler is served three ways: unprotected, protected by `entra-auth`
//!   with the verified-token cache off, and with it on. Each is loaded with
//!   `wrk` (one thread; the servers get one tokio worker, so each side has a
//!   core of a 2-core machine), in interleaved rounds; the median of the
//!   rounds is reported with the ratio to the unprotected server. Then the
//!   resident memory of a validator holding 100,000 distinct cached tokens is
//!   measured.
//! - `cargo xtask bench emulator [--seconds N] [--connections N] [--rounds N]`:
//!   the emulator's client-credentials token endpoint against panva's
//!   `oidc-provider` (npm, pinned in `bench/oidc-provider/`, installed with
//!   `npm ci` into `target/bench/oidc-provider/`) issuing RS256 JWT access
//!   tokens through a resource indicator, both loaded by the same `wrk` with
//!   `bench/token-post.lua`. See the `emulator` module.
//! - `cargo xtask bench api [--seconds N] [--connections N] [--rounds N] [--heroes N]
//!   [--postgres-url URL] [--skip-postgres]`: demo-api's heroes endpoints
//!   (`GET /heroes?limit=20`, `GET /heroes/{id}`, `POST /heroes` with
//!   `bench/hero-post.lua`) with the emulator's daemon token, against
//!   `GET /` (no token check, no database) as the baseline, on SQLite and on
//!   PostgreSQL (a fresh database on `postgres://postgres@127.0.0.1:5432/test`
//!   by default, dropped at the end; an unreachable server fails the run
//!   unless `--skip-postgres`), each served by the release `entra api` as a
//!   child process (one tokio worker); and that process's resident memory
//!   before the load and at its peak. See the `api` module.
//! - `cargo xtask bench scale [--seconds N] [--connections N] [--rounds N]
//!   [--tokens N] [--tenants N] [--flood N] [--returning N] [--in-process]`: issue 13's
//!   figures, each beside its goal: 100,000 distinct cached tokens in
//!   rotation against one repeated token, cold tokens against bare RS256
//!   verification, a flood of one-shot tokens against returning callers,
//!   bad signatures, 1,000 tenants against one, and memory per cached
//!   token. `--in-process` prints only the in-process figures (cached and
//!   cold validation), for profiling. See the `scale` module.
//! - `cargo xtask bench cold [--tokens N] [--cache N]`: one thread, cold
//!   validation against the bare RS256 verification of the same tokens;
//!   made to be counted with callgrind. See the `cold` module.
//!
//! # Layout
//!
//! - `main`: the command line and the `entra-auth` benchmark.
//! - `emulator`: the token-endpoint benchmark.
//! - `api`: the demo-api benchmark.
//! - `scale`: many callers, many tenants, cold tokens.
//! - `wrk`: running `wrk` and reading its report; medians.

mod api;
mod cold;
mod emulator;
mod scale;
mod wrk;

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
    let mut args = std::env::args().skip(1).peekable();
    match args.next().as_deref() {
        Some("bench") => {}
        _ => {
            eprintln!(
                "usage: cargo xtask bench [--seconds N] [--connections N] [--rounds N] [--memory-tokens N]\n       \
                 cargo xtask bench emulator [--seconds N] [--connections N] [--rounds N]\n       \
                 cargo xtask bench api [--seconds N] [--connections N] [--rounds N] [--heroes N] \
                 [--postgres-url URL] [--skip-postgres]\n       \
                 cargo xtask bench scale [--seconds N] [--connections N] [--rounds N] [--tokens N] \
                 [--tenants N] [--flood N] [--returning N] [--in-process]\n       \
                 cargo xtask bench cold [--tokens N] [--cache N]"
            );
            std::process::exit(2);
        }
    }
    match args.peek().map(String::as_str) {
        Some("emulator") => {
            args.next();
            return emulator::bench(args);
        }
        Some("api") => {
            args.next();
            return api::bench(args);
        }
        Some("scale") => {
            args.next();
            return scale::bench(args);
        }
        Some("cold") => {
            args.next();
            return cold::bench(args);
        }
        _ => {}
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
    if !wrk::installed() {
        return Err("wrk is not installed (Debian: apt-get install wrk)".into());
    }
    // The servers (this process's threads) on CPU 0, wrk on CPU 1.
    let pinned = emulator::pin_self_to_cpu0();
    let wrk_prefix: &[&str] = if pinned { &["taskset", "-c", "1"] } else { &[] };
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
        "wrk: 1 thread, {} connections, {} s per run, {} interleaved rounds; server: 1 tokio worker; {}\n",
        options.connections,
        options.seconds,
        options.rounds,
        if pinned {
            "server on CPU 0, wrk on CPU 1"
        } else {
            "not pinned (fewer than 2 CPUs or no taskset)"
        }
    );
    let ticks = emulator::clock_ticks();
    // The server's CPU per request: this process does nothing else during a
    // run (wrk is a child, whose time is not counted here).
    let mut cpu_us: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut results: Vec<Vec<wrk::Run>> = vec![Vec::new(); servers.len()];
    for round in 0..options.rounds {
        for (i, (name, url)) in servers.iter().enumerate() {
            let before = emulator::cpu_ticks(std::process::id())?;
            let (run, _) = wrk::run(
                wrk_prefix,
                url,
                &["-H", &format!("Authorization: Bearer {token}")],
                &[],
                wrk::Load {
                    seconds: options.seconds,
                    connections: options.connections,
                },
            )?;
            let used = emulator::cpu_ticks(std::process::id())?.saturating_sub(before);
            let us = used as f64 / ticks * 1e6 / run.requests.max(1) as f64;
            eprintln!(
                "round {}: {name}: {:.0} req/s, {us:.2} µs server CPU per request",
                round + 1,
                run.rps
            );
            results[i].push(run);
            cpu_us[i].push(us);
        }
    }
    let medians: Vec<wrk::Run> = results.iter().map(|runs| wrk::median(runs)).collect();
    let cpu_medians: Vec<f64> = cpu_us
        .iter_mut()
        .map(|runs| {
            runs.sort_by(f64::total_cmp);
            runs[runs.len() / 2]
        })
        .collect();
    let base = medians[0].rps;
    println!(
        "| server | requests/s | p50 | p99 | server CPU per request | ratio to unprotected (requests/s) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (((name, _), run), cpu) in servers.iter().zip(&medians).zip(&cpu_medians) {
        println!(
            "| {name} | {:.0} | {} | {} | {cpu:.2} µs | {:.2}x |",
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
