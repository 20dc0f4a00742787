//! `cargo xtask bench scale`: what a protected endpoint costs as callers
//! grow (issue 13), each figure beside its goal, in one interleaved run.
//!
//! - Tokens are minted in-process (`entra_auth::testing`), Entra v2 delegated
//!   tokens padded with Entra's usual extra claims to a typical size
//!   (about 1.3 KB), RS256 with 2048-bit keys.
//! - An in-process key server (axum, plain HTTP on 127.0.0.1) plays Entra
//!   for `--tenants` tenants (1,000): the `organizations` metadata (templated
//!   issuer) with a key set of one key per tenant, each bound to its tenant
//!   by Entra's `issuer` property (four RSA keys shared out among them, under
//!   distinct `kid`s), and each tenant's own metadata and key.
//! - The servers run in this process on one tokio worker (CPU 0); wrk runs
//!   with one thread on CPU 1 and rotates tokens itself with
//!   `bench/rotate.lua`: every request string is built before the run, and
//!   the single-token runs send as many distinct request strings as the
//!   rotation (`?r=N`), so both pay the same client cost.
//! - Runs, interleaved in each round: unprotected; protected (single tenant,
//!   cache on) with one token; the same server with `--tokens` distinct
//!   cached tokens in rotation; a multi-tenant (`organizations`, an
//!   allow-list of every tenant) server with `--tokens` tokens spread over
//!   the tenants; and a cold server (a fresh validator every round, its
//!   cache bounded to 20,000 entries so that it is full after the first
//!   20,000 requests) where every request carries a token it has never
//!   seen. Every cached server is warmed by one validation of each of its
//!   tokens before the first round. The server's CPU time per request is
//!   this process's CPU time over the run divided by the requests wrk
//!   completed.
//! - In-process, in CPU time (which other work on the machine disturbs less
//!   than the wall clock): cached validation, one token against the
//!   rotation (and what reading a rotated token from memory costs by
//!   itself); cold validation on every core, into a full cache, against
//!   bare RS256 verification of the same tokens on every core; a flood of
//!   `--flood` one-shot tokens whose first half fills the cache (default
//!   bounds), after which `--returning` callers call twice each, and whose
//!   second half comes with a returning caller's call after each one-shot
//!   token (their hit rate then, from the cache's counters); 40,000 tokens with a bad signature (what each costs, and
//!   that none is cached); resident memory per cached token (the growth of
//!   the process while the rotation's tokens were first validated, over the
//!   entries cached).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey};
use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{AuthConfig, Require, TokenVersions, Validator};
use serde_json::{Value, json};

use crate::emulator::{clock_ticks, cpu_ticks, machine, workspace_root};
use crate::wrk::{self, Load, Run};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The cold runs' cache bounds (entries): small enough to be full after a
/// moment, so that the runs measure steady state.
const COLD_CACHE: usize = 20_000;

/// Distinct RSA keys shared out among the tenants' `kid`s (generating a
/// thousand RSA keys would take minutes and changes nothing measured here).
const RSA_KEYS: usize = 4;

struct Options {
    seconds: u64,
    connections: u32,
    rounds: usize,
    tokens: usize,
    tenants: usize,
    flood: usize,
    returning: usize,
    /// Only the in-process figures (no wrk runs, no flood): for profiling.
    in_process_only: bool,
}

/// One tenant: its id and the `kid` its key is published under.
struct Tenant {
    id: String,
    kid: String,
}

/// Everything the in-process Entra serves.
struct Authority {
    issuer: TestIssuer,
    keys: Vec<TestKey>,
    tenants: Vec<Tenant>,
}

impl Authority {
    fn v2_issuer(tid: &str) -> String {
        format!("https://login.microsoftonline.com/{tid}/v2.0")
    }

    fn jwk(&self, i: usize) -> Value {
        let tenant = &self.tenants[i];
        let mut jwk = self.keys[i % self.keys.len()].jwk_with_issuer(&Self::v2_issuer(&tenant.id));
        jwk["kid"] = Value::String(tenant.kid.clone());
        jwk["x5t"] = Value::String(tenant.kid.clone());
        jwk
    }

    /// A delegated token of tenant `i`, about the size Entra issues.
    fn token(&self, i: usize) -> String {
        let tenant = &self.tenants[i];
        let padding = |guids: usize| -> String {
            let raw: String = (0..guids).map(|_| random_guid()).collect();
            URL_SAFE_NO_PAD.encode(raw)
        };
        self.issuer
            .delegated(["Heroes.Read", "Heroes.Write"])
            .tenant(&tenant.id)
            .header("kid", tenant.kid.clone())
            .claim("aio", padding(2))
            .claim("rh", format!("1.A{}", padding(1)))
            .claim("given_name", "Test")
            .claim("family_name", "User")
            .claim("ipaddr", "203.0.113.7")
            .sign_with(&self.keys[i % self.keys.len()])
    }
}

struct KeyServer {
    base: String,
    authority: Arc<Authority>,
    all_keys: String,
}

async fn metadata(
    State(server): State<Arc<KeyServer>>,
    UrlPath(tenant): UrlPath<String>,
) -> axum::Json<Value> {
    let issuer = if tenant == "organizations" {
        Authority::v2_issuer("{tenantid}")
    } else {
        Authority::v2_issuer(&tenant)
    };
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/{tenant}/discovery/v2.0/keys", server.base),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn key_set(
    State(server): State<Arc<KeyServer>>,
    UrlPath(tenant): UrlPath<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    if tenant == "organizations" {
        return (json, server.all_keys.clone()).into_response();
    }
    let authority = &server.authority;
    match authority.tenants.iter().position(|t| t.id == tenant) {
        Some(i) => (json, json!({"keys": [authority.jwk(i)]}).to_string()).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn heroes() -> axum::Json<Value> {
    axum::Json(json!([
        {"id": 1, "name": "Deadpond", "secret_name": "Dive Wilson"},
        {"id": 2, "name": "Spider-Boy", "secret_name": "Pedro Parqueador", "age": 16},
    ]))
}

/// Serves `GET /heroes`, behind `validator` when there is one.
async fn serve(validator: Option<&Validator>) -> Result<String> {
    let mut route = get(heroes);
    if let Some(auth) = validator {
        route = route.layer(auth.require(Require::scope_or_app_permission("Heroes.Read")));
    }
    let app = Router::new().route("/heroes", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/heroes", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Mints `count` tokens on every core; token `i` belongs to `tenant_of(i)`.
fn mint(
    authority: &Authority,
    count: usize,
    tenant_of: impl Fn(usize) -> usize + Sync,
) -> Vec<String> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let per_thread = count.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let tenant_of = &tenant_of;
                s.spawn(move || {
                    (t * per_thread..((t + 1) * per_thread).min(count))
                        .map(|i| authority.token(tenant_of(i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// A token file for `bench/rotate.lua`, in the target directory.
fn token_file(dir: &Path, name: &str, tokens: &[String]) -> Result<String> {
    let path = dir.join(name);
    std::fs::write(&path, tokens.join("\n"))?;
    Ok(path.to_str().ok_or("non-UTF-8 path")?.to_owned())
}

/// One measured wrk run and the server's CPU time per request.
#[derive(Clone)]
struct Measured {
    run: Run,
    cpu_us: f64,
}

fn load(prefix: &[&str], url: &str, script: &str, args: &[&str], load: Load) -> Result<Measured> {
    let ticks = clock_ticks();
    let before = cpu_ticks(std::process::id())?;
    let (run, text) = wrk::run(
        prefix,
        url,
        &["-s", script],
        &[&["--"], args].concat(),
        load,
    )?;
    let used = cpu_ticks(std::process::id())?.saturating_sub(before);
    if run.requests == 0 {
        return Err(format!("no requests completed:\n{text}").into());
    }
    Ok(Measured {
        cpu_us: used as f64 / ticks * 1e6 / run.requests as f64,
        run,
    })
}

/// `wrk`'s latency figure (`412.00us`, `1.23ms`, `2.01s`) in microseconds.
fn micros(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => number,
        "ms" => number * 1e3,
        "s" => number * 1e6,
        "m" => number * 60e6,
        _ => f64::NAN,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The median-throughput run, and the median server CPU per request.
fn summary(runs: &[Measured]) -> (Run, f64) {
    let only: Vec<Run> = runs.iter().map(|m| m.run.clone()).collect();
    (
        wrk::median(&only),
        median(runs.iter().map(|m| m.cpu_us).collect()),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

pub(crate) fn bench(mut args: impl Iterator<Item = String>) -> Result<()> {
    let mut options = Options {
        seconds: 10,
        connections: 32,
        rounds: 3,
        tokens: 100_000,
        tenants: 1_000,
        flood: 200_000,
        returning: 10_000,
        in_process_only: false,
    };
    while let Some(flag) = args.next() {
        if flag == "--in-process" {
            options.in_process_only = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => options.seconds = value.parse()?,
            "--connections" => options.connections = value.parse()?,
            "--rounds" => options.rounds = value.parse()?,
            "--tokens" => options.tokens = value.parse()?,
            "--tenants" => options.tenants = value.parse()?,
            "--flood" => options.flood = value.parse()?,
            "--returning" => options.returning = value.parse()?,
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if options.rounds == 0 || options.tokens == 0 || options.tenants == 0 {
        return Err("--rounds, --tokens and --tenants must be at least 1".into());
    }
    if options.returning == 0 || options.returning > options.flood {
        return Err("--returning must be between 1 and --flood".into());
    }
    if !wrk::installed() {
        return Err("wrk is not installed (Debian: apt-get install wrk)".into());
    }
    let root = workspace_root()?;
    let script = root.join("bench/rotate.lua");
    let script = script.to_str().ok_or("non-UTF-8 path")?.to_owned();
    let dir: PathBuf = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"))
        .join("bench/scale");
    std::fs::create_dir_all(&dir)?;

    // Minting runs on every core; everything after it on CPU 0.
    let machine = machine();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let authority = Arc::new(Authority {
        issuer: TestIssuer::new(),
        keys: (0..RSA_KEYS)
            .map(|i| TestKey::generate(format!("rsa-{i}")))
            .collect(),
        tenants: (0..options.tenants)
            .map(|i| Tenant {
                id: random_guid(),
                kid: format!("tenant-key-{i}"),
            })
            .collect(),
    });
    let single_tokens = mint(&authority, options.tokens, |_| 0);
    let tenants = options.tenants;
    let multi_tokens = mint(&authority, options.tokens, |i| i % tenants);
    // The flood: one-shot tokens (the two rotations', then fresh ones) and
    // the returning callers' own tokens.
    let extra = options.flood.saturating_sub(2 * options.tokens);
    let fresh = mint(&authority, extra + options.returning, |i| i % tenants);
    let (fresh_one_shots, returning) = fresh.split_at(extra);
    let one_shots: Vec<&String> = single_tokens
        .iter()
        .chain(&multi_tokens)
        .chain(fresh_one_shots)
        .take(options.flood)
        .collect();
    eprintln!(
        "minted {} tokens ({} bytes each, typically) in {:.1} s",
        single_tokens.len() + multi_tokens.len() + fresh.len(),
        single_tokens.first().map_or(0, String::len),
        started.elapsed().as_secs_f64()
    );

    let pinned = crate::emulator::pin_self_to_cpu0();
    let wrk_prefix: &[&str] = if pinned { &["taskset", "-c", "1"] } else { &[] };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;

    // The key server, and the validators it feeds.
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    let all_keys = json!({
        "keys": (0..options.tenants).map(|i| authority.jwk(i)).collect::<Vec<_>>()
    })
    .to_string();
    let key_server = Arc::new(KeyServer {
        base: base.clone(),
        authority: authority.clone(),
        all_keys,
    });
    let app = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(metadata),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(key_set))
        .with_state(key_server);
    runtime.spawn(async move { axum::serve(listener, app).await });

    let api = authority.issuer.client_id().to_owned();
    let tenant_ids: Vec<String> = authority.tenants.iter().map(|t| t.id.clone()).collect();
    let single_config = |entries: usize| {
        AuthConfig::builder()
            .authority_host(&base)
            .tenant(&authority.tenants[0].id)
            .client_id(&api)
            .versions(TokenVersions::V2)
            .token_cache_limits(entries, entries as u64 * 8 * 1024)
    };
    let multi_config = || {
        AuthConfig::builder()
            .authority_host(&base)
            .tenant("organizations")
            .allowed_tenants(tenant_ids.iter())
            .client_id(&api)
            .versions(TokenVersions::V2)
    };
    // Room for every token: the rotations run within the cache's bounds.
    let room = options.tokens + options.tokens / 10;
    let ready = |config: entra_auth::AuthConfigBuilder| -> Result<Validator> {
        // Built inside the runtime, which then loads its keys.
        let validator = runtime.block_on(async { Validator::new(config.build()?) })?;
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), validator.ready()).await
        })?;
        Ok(validator)
    };
    let single = runtime.block_on(async { Validator::new(single_config(room).build()?) })?;
    let multi = runtime.block_on(async {
        Validator::new(
            multi_config()
                .token_cache_limits(room, room as u64 * 8 * 1024)
                .build()?,
        )
    })?;
    for validator in [&single, &multi] {
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), validator.ready()).await
        })?;
    }

    // Warm-up: every cached token validated once (and the resident memory
    // that costs).
    let rss_before = rss_kib();
    let warm = |validator: &Validator, tokens: &[String]| -> Result<()> {
        runtime.block_on(async {
            for token in tokens {
                validator.validate(token).await.map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        })?;
        Ok(())
    };
    warm(&single, &single_tokens)?;
    let rss_single = rss_kib();
    warm(&multi, &multi_tokens)?;
    let cached = single.cache_stats().entries;
    let memory_per_token =
        rss_single.saturating_sub(rss_before) as f64 * 1024.0 / cached.max(1) as f64;

    let urls = runtime.block_on(async {
        Ok::<_, Box<dyn std::error::Error>>((
            serve(None).await?,
            serve(Some(&single)).await?,
            serve(Some(&multi)).await?,
        ))
    })?;
    let (unprotected_url, single_url, multi_url) = urls;

    let one_file = token_file(&dir, "one.txt", &single_tokens[..1])?;
    let single_file = token_file(&dir, "single.txt", &single_tokens)?;
    let multi_file = token_file(&dir, "multi.txt", &multi_tokens)?;
    let cold_tokens: Vec<String> = single_tokens.iter().chain(&multi_tokens).cloned().collect();
    let cold_file = token_file(&dir, "cold.txt", &cold_tokens)?;
    let copies = options.tokens.to_string();

    println!(
        "{}\nwrk: 1 thread, {} connections, {} s per run, {} interleaved rounds, tokens rotated by \
         bench/rotate.lua; server: 1 tokio worker; {}; {} tenants, {} distinct tokens per rotation, \
         {} bytes each\n",
        machine,
        options.connections,
        options.seconds,
        options.rounds,
        if pinned {
            "server on CPU 0, wrk on CPU 1"
        } else {
            "not pinned (fewer than 2 CPUs or no taskset)"
        },
        options.tenants,
        options.tokens,
        single_tokens.first().map_or(0, String::len),
    );

    if options.in_process_only {
        let inproc = in_process(
            &runtime,
            &authority,
            &single,
            &single_tokens,
            &cold_tokens,
            &multi_config,
            cpus,
        )?;
        println!(
            "memory: {:.2} KB per cached token ({cached} entries)",
            memory_per_token / 1000.0
        );
        println!(
            "cached: one token {:.0} ns, rotation {:.0} ns; cold {:.0}/s vs bare {:.0}/s on {} threads: {:.2}x",
            inproc.one_ns,
            inproc.rotation_ns,
            inproc.cold_per_s,
            inproc.bare_per_s,
            inproc.threads,
            inproc.cold_per_s / inproc.bare_per_s
        );
        return Ok(());
    }

    let measure = Load {
        seconds: options.seconds,
        connections: options.connections,
    };
    // A cold run must not wrap around its tokens: at most ~40,000 cold
    // requests per second on one core.
    let cold_seconds = (cold_tokens.len() as u64 / 40_000).clamp(1, options.seconds);
    let cold_load = Load {
        seconds: cold_seconds,
        connections: options.connections,
    };
    let names = [
        "unprotected, one token",
        "protected, one token",
        "protected, rotation",
        "protected multi-tenant, rotation",
        "protected, cold (every token new)",
    ];
    let mut results: Vec<Vec<Measured>> = vec![Vec::new(); names.len()];
    let mut cold_hits = 0;
    for round in 0..options.rounds {
        let mut record = |i: usize, measured: Measured| {
            eprintln!(
                "round {}: {}: {:.0} req/s, p99 {}, {:.2} µs server CPU per request",
                round + 1,
                names[i],
                measured.run.rps,
                measured.run.p99,
                measured.cpu_us
            );
            results[i].push(measured);
        };
        record(
            0,
            load(
                wrk_prefix,
                &unprotected_url,
                &script,
                &[&one_file, &copies],
                measure,
            )?,
        );
        record(
            1,
            load(
                wrk_prefix,
                &single_url,
                &script,
                &[&one_file, &copies],
                measure,
            )?,
        );
        record(
            2,
            load(wrk_prefix, &single_url, &script, &[&single_file], measure)?,
        );
        record(
            3,
            load(wrk_prefix, &multi_url, &script, &[&multi_file], measure)?,
        );
        let cold =
            ready(multi_config().token_cache_limits(COLD_CACHE, COLD_CACHE as u64 * 8 * 1024))?;
        let cold_url = runtime.block_on(serve(Some(&cold)))?;
        record(
            4,
            load(wrk_prefix, &cold_url, &script, &[&cold_file], cold_load)?,
        );
        cold_hits += cold.cache_stats().hits;
    }
    let s: Vec<(Run, f64)> = results.iter().map(|r| summary(r)).collect();
    println!("| run | requests/s | p50 | p99 | server CPU per request |");
    println!("|---|---:|---:|---:|---:|");
    for (name, (run, cpu)) in names.iter().zip(&s) {
        println!(
            "| {name} | {:.0} | {} | {} | {cpu:.2} µs |",
            run.rps, run.p50, run.p99
        );
    }
    println!(
        "\ncold runs: {cold_seconds} s each, a fresh validator each (cache bounds {COLD_CACHE} entries, so \
         full after the first {COLD_CACHE} requests), {} cache hits in all (0: no token was seen twice)\n",
        cold_hits
    );

    // In-process figures.
    let inproc = in_process(
        &runtime,
        &authority,
        &single,
        &single_tokens,
        &cold_tokens,
        &multi_config,
        cpus,
    )?;
    let flood = flood(&runtime, &multi_config, &one_shots, returning)?;

    let rps = |i: usize| s[i].0.rps;
    let p99 = |i: usize| micros(&s[i].0.p99);
    let bare_rps_one_core = 1e6 / inproc.bare_us;
    println!("| goal | target | measured | |");
    println!("|---|---|---:|---|");
    let rows: Vec<(String, String, String, bool)> = vec![
        (
            format!(
                "1. {} cached tokens in rotation vs one token: requests/s",
                options.tokens
            ),
            "≥ 0.90x".into(),
            format!("{:.2}x", rps(2) / rps(1)),
            rps(2) / rps(1) >= 0.9,
        ),
        (
            "1. the same: p99 latency".into(),
            "≤ 1.5x".into(),
            format!("{:.2}x ({} vs {})", p99(2) / p99(1), s[2].0.p99, s[1].0.p99),
            p99(2) / p99(1) <= 1.5,
        ),
        (
            "1. the same: cached validation in-process (one thread)".into(),
            String::new(),
            format!(
                "{:.0} ns vs {:.0} ns ({:.2}x; of the difference, {:.0} ns is reading the token from memory)",
                inproc.rotation_ns,
                inproc.one_ns,
                inproc.rotation_ns / inproc.one_ns,
                inproc.read_ns,
            ),
            true,
        ),
        (
            format!(
                "2. cold tokens, in-process on {} threads vs bare RS256 verification × threads",
                inproc.threads
            ),
            "≥ 0.90x".into(),
            format!(
                "{:.2}x ({:.0}/s vs {:.0}/s)",
                inproc.cold_per_s / inproc.bare_per_s,
                inproc.cold_per_s,
                inproc.bare_per_s
            ),
            inproc.cold_per_s / inproc.bare_per_s >= 0.9,
        ),
        (
            "2. cold tokens over HTTP (wrk, 1 server core) vs one core's bare RS256 verifications"
                .into(),
            "≥ 0.90x".into(),
            format!(
                "{:.2}x ({:.0} req/s vs {:.0}/s)",
                rps(4) / bare_rps_one_core,
                rps(4),
                bare_rps_one_core
            ),
            rps(4) / bare_rps_one_core >= 0.9,
        ),
        (
            format!(
                "2. {} one-shot tokens, the second half interleaved with {} returning callers' calls: their hit rate",
                one_shots.len(),
                returning.len()
            ),
            "> 95%".into(),
            format!("{:.1}%", flood.hit_rate * 100.0),
            flood.hit_rate > 0.95,
        ),
        (
            format!(
                "2. {} tokens with a bad signature: verifications, entries cached",
                flood.invalid
            ),
            "one each, none".into(),
            format!(
                "{} misses, +{} entries, {:.1} µs each",
                flood.invalid_misses, flood.invalid_cached, flood.invalid_us
            ),
            flood.invalid_misses == flood.invalid as u64 && flood.invalid_cached == 0,
        ),
        (
            format!(
                "3. {} tenants (`organizations`, allow-list) vs one tenant, same rotation: CPU per request",
                options.tenants
            ),
            "≤ 1.10x".into(),
            format!(
                "{:.2}x ({:.2} µs vs {:.2} µs; requests/s {:.2}x)",
                s[3].1 / s[2].1,
                s[3].1,
                s[2].1,
                rps(3) / rps(2)
            ),
            s[3].1 / s[2].1 <= 1.1,
        ),
        (
            "4. protected and cached, one token, vs unprotected: requests/s".into(),
            "≥ 0.95x".into(),
            format!(
                "{:.2}x (server CPU {:.2} µs vs {:.2} µs)",
                rps(1) / rps(0),
                s[1].1,
                s[0].1
            ),
            rps(1) / rps(0) >= 0.95,
        ),
        (
            format!("5. resident memory per cached token ({} entries)", cached),
            "< 1 KB".into(),
            format!("{:.2} KB", memory_per_token / 1000.0),
            memory_per_token < 1000.0,
        ),
    ];
    for (what, goal, measured, ok) in rows {
        println!(
            "| {what} | {goal} | {measured} | {} |",
            if goal.is_empty() { "" } else { verdict(ok) }
        );
    }
    Ok(())
}

/// A token as a bare verification sees it: which RSA key, the signing
/// input, the decoded signature.
type Signed = (usize, Vec<u8>, Vec<u8>);

struct InProcess {
    threads: usize,
    one_ns: f64,
    rotation_ns: f64,
    /// Reading a rotated token, beyond reading the same token again.
    read_ns: f64,
    bare_us: f64,
    bare_per_s: f64,
    cold_per_s: f64,
}

/// Cached validation (one token, then the rotation), cold validation and
/// bare verification on every core.
fn in_process(
    runtime: &tokio::runtime::Runtime,
    authority: &Authority,
    single: &Validator,
    rotation: &[String],
    cold_tokens: &[String],
    multi_config: &dyn Fn() -> entra_auth::AuthConfigBuilder,
    threads: usize,
) -> Result<InProcess> {
    let time_cached = |tokens: &[String], iterations: usize| -> Result<f64> {
        let started = thread_cpu();
        runtime.block_on(async {
            for i in 0..iterations {
                single
                    .validate(&tokens[i % tokens.len()])
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok::<_, String>(())
        })?;
        Ok((thread_cpu() - started) * 1e9 / iterations as f64)
    };
    // What reading each token from memory costs by itself (a server reads
    // it from its socket anyway; in-process, the rotation reads it cold).
    let time_read = |tokens: &[String], iterations: usize| -> f64 {
        let started = thread_cpu();
        let mut buffer = String::with_capacity(4096);
        for i in 0..iterations {
            buffer.clear();
            buffer.push_str(&tokens[i % tokens.len()]);
            std::hint::black_box(&buffer);
        }
        (thread_cpu() - started) * 1e9 / iterations as f64
    };
    let iterations = rotation.len().max(200_000) * 2;
    let mut one = Vec::new();
    let mut rotated = Vec::new();
    let mut read = Vec::new();
    for _ in 0..3 {
        // CPU time is counted in clock ticks (10 ms): enough iterations
        // for a few hundred of them.
        one.push(time_cached(&rotation[..1], 5 * iterations)?);
        rotated.push(time_cached(rotation, iterations)?);
        read.push(time_read(rotation, iterations) - time_read(&rotation[..1], 20 * iterations));
    }

    // Cold and bare on every core, over distinct tokens: each thread takes
    // its own share, each token once. These run unpinned.
    let _ = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &format!("0-{}", threads - 1),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status();
    // What is not measured fills the cold validator's cache first.
    let count = cold_tokens
        .len()
        .saturating_sub(COLD_CACHE)
        .clamp(1, 40_000 * threads);
    let shares: Vec<&[String]> = cold_tokens[..count]
        .chunks(count.div_ceil(threads))
        .collect();
    let parsed: Vec<Vec<Signed>> = shares
        .iter()
        .map(|share| {
            share
                .iter()
                .map(|token| {
                    let (input, sig) = token.rsplit_once('.').unwrap_or_default();
                    let header: Value = token
                        .split('.')
                        .next()
                        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
                        .and_then(|h| serde_json::from_slice(&h).ok())
                        .unwrap_or_default();
                    let kid = header["kid"].as_str().unwrap_or_default();
                    let tenant = authority
                        .tenants
                        .iter()
                        .position(|t| t.kid == kid)
                        .unwrap_or(0);
                    (
                        tenant % authority.keys.len(),
                        input.as_bytes().to_vec(),
                        URL_SAFE_NO_PAD.decode(sig).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .collect();
    let keys: Vec<ParsedPublicKey> = authority
        .keys
        .iter()
        .map(|k| ParsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, k.public_pkcs1_der()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| format!("public key: {e}"))?;
    // Each thread reports its failures and its CPU time.
    let run_bare = |shares: &[&[Signed]]| -> (usize, f64) {
        std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .iter()
                .map(|share| {
                    let keys = &keys;
                    s.spawn(move || {
                        let started = thread_cpu();
                        let failed = share
                            .iter()
                            .filter(|(k, input, sig)| keys[*k].verify_sig(input, sig).is_err())
                            .count();
                        (failed, thread_cpu() - started)
                    })
                })
                .collect();
            sum(handles.into_iter().map(|h| h.join().unwrap_or((1, 0.0))))
        })
    };
    // One thread's bare verification, for the wrk comparison.
    let one_share = &parsed[0][..parsed[0].len().min(20_000)];
    let started = thread_cpu();
    for (k, input, sig) in one_share {
        keys[*k]
            .verify_sig(input, sig)
            .map_err(|e| format!("verify: {e}"))?;
    }
    let bare_us = (thread_cpu() - started) * 1e6 / one_share.len() as f64;

    // Cold validation in steady state: the cache is full, so every new
    // token evicts one and reuses its memory, as in a server that has run
    // for a while. (Filling an empty cache also costs the fresh memory's
    // page faults: measured too, and reported beside.)
    let cold = runtime.block_on(async {
        Validator::new(
            multi_config()
                .token_cache_limits(COLD_CACHE, COLD_CACHE as u64 * 8 * 1024)
                .build()?,
        )
    })?;
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), cold.ready()).await })?;
    let run_cold = |shares: &[&[String]]| -> (usize, f64) {
        std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .iter()
                .map(|share| {
                    let cold = &cold;
                    s.spawn(move || {
                        let rt = tokio::runtime::Builder::new_current_thread().build();
                        let Ok(rt) = rt else {
                            return (share.len(), 0.0);
                        };
                        let started = thread_cpu();
                        let failed = rt.block_on(async {
                            let mut failed = 0;
                            for token in *share {
                                if cold.validate(token).await.is_err() {
                                    failed += 1;
                                }
                            }
                            failed
                        });
                        (failed, thread_cpu() - started)
                    })
                })
                .collect();
            sum(handles.into_iter().map(|h| h.join().unwrap_or((1, 0.0))))
        })
    };
    let fill = &cold_tokens[count..(count + COLD_CACHE).min(cold_tokens.len())];
    let fill_shares: Vec<&[String]> = fill.chunks(fill.len().div_ceil(threads).max(1)).collect();
    let (fill_failures, fill_cpu) = run_cold(&fill_shares);
    // Bare and cold in alternation, a quarter of the tokens at a time, so
    // that both see the same machine.
    const ROUNDS: usize = 4;
    let (mut failures, mut bare_failures, mut cold_cpu, mut bare_cpu) = (0, 0, 0.0, 0.0);
    let quarter = |share: &[String], round: usize| -> std::ops::Range<usize> {
        let n = share.len();
        n * round / ROUNDS..n * (round + 1) / ROUNDS
    };
    for round in 0..ROUNDS {
        let bare_shares: Vec<&[Signed]> = parsed
            .iter()
            .zip(&shares)
            .map(|(p, s)| &p[quarter(s, round)])
            .collect();
        let cold_shares: Vec<&[String]> = shares.iter().map(|s| &s[quarter(s, round)]).collect();
        let (failed, cpu) = run_bare(&bare_shares);
        bare_failures += failed;
        bare_cpu += cpu;
        let (failed, cpu) = run_cold(&cold_shares);
        failures += failed;
        cold_cpu += cpu;
    }
    if bare_failures > 0 {
        return Err(format!("{bare_failures} bare verifications failed").into());
    }
    if failures + fill_failures > 0 {
        return Err(format!("{} cold validations failed", failures + fill_failures).into());
    }
    let stats = cold.cache_stats();
    if stats.hits > 0 {
        return Err(format!("cold tokens hit the cache: {stats:?}").into());
    }
    eprintln!(
        "in-process cold: filling the empty cache ({} tokens): {:.1} µs CPU per token; \
         full ({count} tokens): {:.1} µs; bare verification {:.1} µs",
        fill.len(),
        fill_cpu * 1e6 / fill.len().max(1) as f64,
        cold_cpu * 1e6 / count as f64,
        bare_cpu * 1e6 / count as f64,
    );
    // Throughput on `threads` cores, each thread given a whole core: the
    // tokens over the CPU time they took, spread over the threads.
    let bare_per_s = count as f64 * threads as f64 / bare_cpu;
    let cold_per_s = count as f64 * threads as f64 / cold_cpu;
    crate::emulator::pin_self_to_cpu0();
    Ok(InProcess {
        threads,
        one_ns: median(one),
        rotation_ns: median(rotated),
        read_ns: median(read),
        bare_us,
        bare_per_s,
        cold_per_s,
    })
}

struct Flood {
    hit_rate: f64,
    invalid: usize,
    invalid_misses: u64,
    invalid_cached: usize,
    invalid_us: f64,
}

/// One-shot tokens interleaved with returning callers, on a validator with
/// the default cache bounds; then tokens with a bad signature.
fn flood(
    runtime: &tokio::runtime::Runtime,
    multi_config: &dyn Fn() -> entra_auth::AuthConfigBuilder,
    one_shots: &[&String],
    returning: &[String],
) -> Result<Flood> {
    let validator = runtime.block_on(async { Validator::new(multi_config().build()?) })?;
    runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(30), validator.ready()).await
    })?;
    // The flood starts first and fills the cache (default bounds: 100,000
    // entries, 256 MiB); the returning callers then call twice each (they
    // are the hot set), and the flood goes on, a returning caller's call
    // after each further one-shot token, in turn.
    let fill = (one_shots.len() / 2).min(100_000);
    let (mut calls, mut hits) = (0u64, 0u64);
    runtime.block_on(async {
        for one_shot in &one_shots[..fill] {
            validator
                .validate(one_shot)
                .await
                .map_err(|e| e.to_string())?;
        }
        for token in returning.iter().chain(returning) {
            validator.validate(token).await.map_err(|e| e.to_string())?;
        }
        Ok::<_, String>(())
    })?;
    let full = validator.cache_stats();
    runtime.block_on(async {
        for (i, one_shot) in one_shots[fill..].iter().enumerate() {
            validator
                .validate(one_shot)
                .await
                .map_err(|e| e.to_string())?;
            let before = validator.cache_stats().hits;
            validator
                .validate(&returning[i % returning.len()])
                .await
                .map_err(|e| e.to_string())?;
            calls += 1;
            hits += validator.cache_stats().hits - before;
        }
        Ok::<_, String>(())
    })?;
    eprintln!(
        "flood: {} one-shot tokens, of which {fill} before {} returning callers called twice each \
         ({:?}), then one call of theirs after each further one-shot token ({} each): {:?}",
        one_shots.len(),
        returning.len(),
        full,
        (one_shots.len() - fill) / returning.len(),
        validator.cache_stats()
    );

    // Bad signatures: a valid token's signature with one byte changed,
    // each sent twice.
    let invalid: Vec<String> = one_shots
        .iter()
        .take(20_000)
        .map(|token| {
            let mut bytes = token.as_bytes().to_vec();
            let at = bytes.len() - 10;
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            String::from_utf8(bytes).unwrap_or_default()
        })
        .collect();
    let fresh = runtime.block_on(async { Validator::new(multi_config().build()?) })?;
    runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(30), fresh.ready()).await })?;
    let before = fresh.cache_stats();
    let started = thread_cpu();
    runtime.block_on(async {
        for token in invalid.iter().chain(&invalid) {
            if fresh.validate(token).await.is_ok() {
                return Err("a forged token was accepted".to_owned());
            }
        }
        Ok(())
    })?;
    let elapsed = thread_cpu() - started;
    let after = fresh.cache_stats();
    Ok(Flood {
        hit_rate: hits as f64 / calls.max(1) as f64,
        invalid: invalid.len() * 2,
        invalid_misses: after.misses - before.misses,
        invalid_cached: after.entries.saturating_sub(before.entries),
        invalid_us: elapsed * 1e6 / (invalid.len() * 2) as f64,
    })
}

/// Failures and CPU time summed over threads.
fn sum(results: impl Iterator<Item = (usize, f64)>) -> (usize, f64) {
    results.fold((0, 0.0), |(f, t), (failed, cpu)| (f + failed, t + cpu))
}

/// This thread's CPU time (user + system), in seconds: the in-process
/// figures are CPU time, which other work on the machine disturbs less than
/// the wall clock.
fn thread_cpu() -> f64 {
    let ticks = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|stat| {
            let fields: Vec<u64> = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .skip(11)
                .take(2)
                .map(|f| f.parse().unwrap_or(0))
                .collect();
            Some(fields.iter().sum::<u64>())
        })
        .unwrap_or(0);
    ticks as f64 / clock_ticks()
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
