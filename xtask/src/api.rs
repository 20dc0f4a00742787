//! `cargo xtask bench api`: demo-api's heroes endpoints under load, on SQLite
//! and on PostgreSQL in the same run, and the API's resident memory.
//!
//! - The emulator runs in this process (the demo directory, in memory, plain
//!   HTTP); it issues the daemon's app-only token (`Heroes.Read`,
//!   `Heroes.Write`, `Heroes.Delete` application permissions) that every
//!   request carries, and serves the signing keys the API loads.
//! - demo-api runs as the release `entra api` (built first with
//!   `cargo build --release -p entra-cli`), one child process per backend,
//!   so that its memory can be read from `/proc/{pid}/status`: with
//!   `TOKIO_WORKER_THREADS=1` (one tokio worker), `RUST_LOG=info` written to
//!   a file (one line per hero created, as `entra api` logs by default), in
//!   a temporary directory with an otherwise empty environment (no `.env`,
//!   no `AZURE_*` variables from the caller).
//! - Backends: SQLite, a fresh file in that temporary directory (WAL,
//!   `synchronous = FULL`: every `201` waits for an `fsync`); PostgreSQL, a
//!   fresh database `demo_api_bench_*` created on `--postgres-url` (default
//!   `postgres://postgres@127.0.0.1:5432/test`) with `psql`, dropped at the
//!   end. PostgreSQL must be reachable unless `--skip-postgres` is given.
//! - Each API is seeded with `--heroes` heroes (100) by `POST /heroes`, and
//!   must answer correctly before anything is measured: `GET /heroes`
//!   without a token is `401`, with it a page of 20, `GET /heroes/{id}` the
//!   seeded hero.
//! - Requests, each loaded with `wrk -t1` in interleaved rounds (every
//!   backend and request in turn, each round), after a 2 s warm-up each:
//!   `GET /` (public, no token check, no database: the baseline),
//!   `GET /heroes?limit=20` (the read path: one page of 20), `GET
//!   /heroes/{id}` (a point read of one seeded hero), and `POST /heroes`
//!   (the write path, with `bench/hero-post.lua`, which counts every answer
//!   that is not a `201` with the new hero). Any non-2xx answer or socket
//!   error (wrk's per-request limit is raised to 10 s, above demo-api's own
//!   5 s limits, so that a slow write lands in the latency tail) fails the
//!   benchmark.
//! - On a machine with 2 or more CPUs (and `taskset`), the API is confined
//!   to CPU 0 and wrk to CPU 1; PostgreSQL's backend processes serving the
//!   benchmark's database (the API's pool, found in `pg_stat_activity`
//!   before each run) are confined to CPU 0 too, so the server side, API and
//!   database, has one core on both backends. When allowed (root or
//!   `CAP_SYS_NICE`), the API, wrk and those PostgreSQL backends run at
//!   nice -20. PostgreSQL's shared background processes (WAL writer,
//!   checkpointer) are left alone.
//! - Reported per backend and request: the median round's requests/s, p50
//!   and p99, the ratio to `GET /` on the same backend, the API's CPU time
//!   per request (user + system of all its threads, SQLite's included) and,
//!   on PostgreSQL, its backends' CPU time per request. Memory: the API's
//!   resident set (`VmRSS`) after seeding, before any load; after all the
//!   runs; and its peak (`VmHWM`) over its whole life.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};

use crate::emulator::{
    children_cpu_ticks, clock_ticks, cpu_ticks, machine, raise_priority, workspace_root,
};
use crate::wrk::{self, Load, Run};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const DAEMON: &str = "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f";
const HEROES_API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// What `POST /heroes` sends during the runs.
const HERO_BODY: &str = r#"{"name":"Load Tester","secret_name":"Wrk Thread","age":30}"#;
const WARM_UP_SECONDS: u64 = 2;
/// wrk's time limit per request (its default is 2 s), above demo-api's own
/// 5 s limits (SQLite's busy timeout, the pool's acquire timeout): a slow
/// write is measured in the latency tail, and one that fails is a 5xx that
/// fails the run, rather than a wrk timeout that would leave it out of the
/// percentiles (wrk's timeouts fail the run too).
const WRK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the API may take to print its address and to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);

struct Options {
    seconds: u64,
    connections: u32,
    rounds: usize,
    heroes: usize,
    /// The PostgreSQL server's URL; `None`: `--skip-postgres`.
    postgres: Option<String>,
}

/// One request of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Request {
    /// `GET /`: public, no token check, no database.
    Index,
    /// `GET /heroes?limit=20`.
    List,
    /// `GET /heroes/{id}`.
    Point,
    /// `POST /heroes`.
    Create,
}

const REQUESTS: [Request; 4] = [
    Request::Index,
    Request::List,
    Request::Point,
    Request::Create,
];

impl Request {
    fn label(self, hero: i64) -> String {
        match self {
            Request::Index => "`GET /` (no auth, no database)".to_owned(),
            Request::List => "`GET /heroes?limit=20`".to_owned(),
            Request::Point => format!("`GET /heroes/{{id}}` (id {hero})"),
            Request::Create => "`POST /heroes`".to_owned(),
        }
    }

    fn path(self, hero: i64) -> String {
        match self {
            Request::Index => "/".to_owned(),
            Request::List => "/heroes?limit=20".to_owned(),
            Request::Point => format!("/heroes/{hero}"),
            Request::Create => "/heroes".to_owned(),
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
struct Measured {
    run: Run,
    /// The API process's CPU time per request, in µs.
    api_cpu_us: f64,
    /// PostgreSQL's backends' CPU time per request, in µs (PostgreSQL only).
    db_cpu_us: Option<f64>,
    /// The share of a CPU wrk itself used.
    wrk_cpu: f64,
}

/// Runs the benchmark; `args` are the options after `bench api`.
pub(crate) fn bench(mut args: impl Iterator<Item = String>) -> Result<()> {
    let mut options = Options {
        seconds: 10,
        connections: 32,
        rounds: 3,
        heroes: 100,
        postgres: Some(DEFAULT_POSTGRES.to_owned()),
    };
    let mut skip_postgres = false;
    while let Some(flag) = args.next() {
        if flag == "--skip-postgres" {
            skip_postgres = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => options.seconds = value.parse()?,
            "--connections" => options.connections = value.parse()?,
            "--rounds" => options.rounds = value.parse()?,
            "--heroes" => options.heroes = value.parse()?,
            "--postgres-url" => options.postgres = Some(value),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if skip_postgres {
        options.postgres = None;
    }
    if options.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    if options.heroes == 0 {
        return Err("--heroes must be at least 1".into());
    }
    if !wrk::installed() {
        return Err("wrk is not installed (Debian: apt-get install wrk)".into());
    }
    let root = workspace_root()?;
    let script = root.join("bench/hero-post.lua");
    let script = script.to_str().ok_or("non-UTF-8 path")?.to_owned();

    // PostgreSQL first: an unreachable server fails the run before the build.
    let postgres = options
        .postgres
        .as_deref()
        .map(PgDatabase::create)
        .transpose()?;
    let entra = build_entra(&root)?;

    let machine = machine();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let pinned = cpus >= 2
        && Command::new("taskset")
            .args(["-c", "0", "true"])
            .status()
            .is_ok_and(|s| s.success());
    let wrk_prefix: &[&str] = if pinned { &["taskset", "-c", "1"] } else { &[] };
    // Before any child starts: the API and wrk inherit it.
    let prioritized = raise_priority();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut config = EmulatorConfig::for_tests(Directory::default_demo());
    config.https_addr = None;
    let emulator = runtime.block_on(Emulator::start(config))?;
    let token = emulator.mint_access_token(MintRequest::app_only(TENANT, DAEMON, HEROES_API))?;

    let temp = TempDir::new()?;
    let sqlite_file = temp.path.join("heroes.db");
    let mut backends = vec![Backend::start(
        "SQLite",
        &entra,
        &format!("sqlite://{}", sqlite_file.display()),
        &emulator.http_url(),
        &temp.path,
        pinned,
        None,
    )?];
    if let Some(database) = &postgres {
        backends.push(Backend::start(
            "PostgreSQL",
            &entra,
            &database.url,
            &emulator.http_url(),
            &temp.path,
            pinned,
            Some(database),
        )?);
    }
    for backend in &mut backends {
        backend.seed(&token, options.heroes)?;
        backend.rss_idle_kib = memory(backend.server.pid())?.rss_kib;
    }

    let ticks = clock_ticks();
    let warm_up = Load {
        seconds: WARM_UP_SECONDS,
        connections: options.connections,
    };
    for backend in &backends {
        for request in REQUESTS {
            load(
                wrk_prefix, backend, request, &token, &script, warm_up, ticks,
            )?;
        }
    }

    println!(
        "{}\nwrk: 1 thread, {} connections, {} s per run, {} interleaved rounds, after a {WARM_UP_SECONDS} s warm-up each; \
         demo-api: release `entra api`, 1 tokio worker, RUST_LOG=info to a file; {} seeded heroes; \
         SQLite: a file on {} (WAL, synchronous=FULL){}; {}; {}\n",
        machine,
        options.connections,
        options.seconds,
        options.rounds,
        options.heroes,
        filesystem(&temp.path),
        match &postgres {
            Some(database) => format!(
                "; PostgreSQL {} on {} (API connections over TLS: {})",
                database.server_version(),
                redact(&database.admin_url),
                database.tls(),
            ),
            None => "; PostgreSQL skipped (--skip-postgres)".to_owned(),
        },
        if pinned {
            "API and its PostgreSQL backends pinned to CPU 0, wrk to CPU 1"
        } else {
            "not pinned (fewer than 2 CPUs or no taskset)"
        },
        if prioritized {
            "API, wrk and the PostgreSQL backends at nice -20"
        } else {
            "at the default priority"
        },
    );
    let measure = Load {
        seconds: options.seconds,
        connections: options.connections,
    };
    let mut results: Vec<Vec<Vec<Measured>>> =
        vec![vec![Vec::new(); REQUESTS.len()]; backends.len()];
    for round in 0..options.rounds {
        for (b, backend) in backends.iter().enumerate() {
            for (r, request) in REQUESTS.into_iter().enumerate() {
                let measured = load(
                    wrk_prefix, backend, request, &token, &script, measure, ticks,
                )?;
                eprintln!(
                    "round {}: {}: {}: {:.0} req/s, {:.0} µs API CPU per request{} (wrk used {:.0}% of a CPU)",
                    round + 1,
                    backend.name,
                    request.path(backend.hero_id),
                    measured.run.rps,
                    measured.api_cpu_us,
                    measured
                        .db_cpu_us
                        .map(|us| format!(", {us:.0} µs PostgreSQL CPU"))
                        .unwrap_or_default(),
                    measured.wrk_cpu,
                );
                results[b][r].push(measured);
            }
        }
    }

    println!(
        "| backend | request | requests/s | p50 | p99 | API CPU per request | PostgreSQL CPU per request | ratio to `GET /` |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (backend, per_request) in backends.iter().zip(&results) {
        let medians: Vec<(Run, f64, Option<f64>)> =
            per_request.iter().map(|runs| summary(runs)).collect();
        let base = medians[0].0.rps;
        for (request, (run, api_cpu, db_cpu)) in REQUESTS.into_iter().zip(&medians) {
            println!(
                "| {} | {} | {:.0} | {} | {} | {api_cpu:.0} µs | {} | {:.2}x |",
                backend.name,
                request.label(backend.hero_id),
                run.rps,
                run.p50,
                run.p99,
                db_cpu.map_or_else(|| "–".to_owned(), |us| format!("{us:.0} µs")),
                run.rps / base,
            );
        }
    }

    println!(
        "\n| backend | RSS after seeding, before load | RSS after all runs | peak RSS (VmHWM) |"
    );
    println!("|---|---:|---:|---:|");
    for backend in &backends {
        let now = memory(backend.server.pid())?;
        println!(
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            backend.name,
            backend.rss_idle_kib as f64 / 1024.0,
            now.rss_kib as f64 / 1024.0,
            now.peak_kib as f64 / 1024.0,
        );
    }
    let created: u64 = backends.iter().map(|b| b.created()).sum();
    eprintln!("\n{created} heroes created in all (seeds, warm-ups and runs)");

    // The APIs stop before their database is dropped.
    drop(backends);
    runtime.block_on(emulator.shutdown());
    drop(postgres);
    Ok(())
}

/// Throughput and latency from the median-throughput run; CPU times as their
/// own medians (what the machine's other load disturbs least).
fn summary(runs: &[Measured]) -> (Run, f64, Option<f64>) {
    let median_of = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let only_runs: Vec<Run> = runs.iter().map(|m| m.run.clone()).collect();
    let db: Vec<f64> = runs.iter().filter_map(|m| m.db_cpu_us).collect();
    (
        wrk::median(&only_runs),
        median_of(runs.iter().map(|m| m.api_cpu_us).collect()),
        (!db.is_empty()).then(|| median_of(db)),
    )
}

/// One wrk run of `request` against `backend`. Fails on any non-2xx answer
/// or socket error (wrk's report), and for `POST /heroes` on any answer that
/// is not a 201 with the new hero (the script's count).
fn load(
    prefix: &[&str],
    backend: &Backend<'_>,
    request: Request,
    token: &str,
    script: &str,
    load: Load,
    ticks: f64,
) -> Result<Measured> {
    let authorization = format!("Authorization: Bearer {token}");
    let timeout = format!("{}s", WRK_TIMEOUT.as_secs());
    let mut before_url = vec!["--timeout", &timeout, "-H", authorization.as_str()];
    let mut after_url = Vec::new();
    if request == Request::Create {
        before_url.extend(["-s", script]);
        after_url.extend(["--", HERO_BODY]);
    }
    let url = format!("{}{}", backend.url, request.path(backend.hero_id));
    let db_pids = match backend.postgres {
        Some(database) => Some(database.backends(true)?),
        None => None,
    };
    let db_before = db_pids.as_deref().map(sum_cpu_ticks);
    let api_before = cpu_ticks(backend.server.pid())?;
    let wrk_before = children_cpu_ticks()?;
    let (run, text) = wrk::run(prefix, &url, &before_url, &after_url, load)
        .map_err(|e| format!("{}: {url}: {e}", backend.name))?;
    let api_used = cpu_ticks(backend.server.pid())?.saturating_sub(api_before);
    let wrk_used = children_cpu_ticks()?.saturating_sub(wrk_before);
    let db_used = db_pids
        .as_deref()
        .map(sum_cpu_ticks)
        .zip(db_before)
        .map(|(after, before)| after.saturating_sub(before));
    if request == Request::Create {
        let bad = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("bad responses:"))
            .ok_or_else(|| format!("{}: the wrk script did not report:\n{text}", backend.name))?
            .trim()
            .parse::<u64>()?;
        if bad > 0 {
            return Err(format!(
                "{}: {bad} answers to POST /heroes were not a 201 with the new hero; the run is invalid:\n{text}",
                backend.name
            )
            .into());
        }
        backend.add_created(run.requests);
    }
    if run.rps <= 0.0 || run.requests == 0 {
        return Err(format!(
            "{}: {url}: no throughput in wrk's report:\n{text}",
            backend.name
        )
        .into());
    }
    let per_request = |used: u64| used as f64 / ticks * 1e6 / run.requests as f64;
    Ok(Measured {
        api_cpu_us: per_request(api_used),
        db_cpu_us: db_used.map(per_request),
        wrk_cpu: wrk_used as f64 / ticks / load.seconds as f64 * 100.0,
        run,
    })
}

/// User + system CPU time of these processes, in clock ticks; a process
/// that has ended counts for nothing.
fn sum_cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|pid| cpu_ticks(*pid).ok()).sum()
}

/// One backend: its API process, the hero read by the point reads.
struct Backend<'a> {
    name: &'static str,
    server: ApiServer,
    url: String,
    postgres: Option<&'a PgDatabase>,
    hero_id: i64,
    rss_idle_kib: u64,
    created: std::cell::Cell<u64>,
}

impl<'a> Backend<'a> {
    /// Starts `entra api` on `database_url` and waits until `/health` is 200
    /// (signing keys loaded, database reachable).
    fn start(
        name: &'static str,
        entra: &Path,
        database_url: &str,
        authority: &str,
        temp: &Path,
        pinned: bool,
        postgres: Option<&'a PgDatabase>,
    ) -> Result<Self> {
        let log = temp.join(format!("{}.log", name.to_lowercase()));
        let server = ApiServer::start(entra, database_url, authority, temp, &log, pinned)
            .map_err(|e| format!("{name}: {e}"))?;
        let url = server.url.clone();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match http(&url, "GET", "/health", None, None) {
                Ok((200, _)) => break,
                Ok(_) | Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok((status, body)) => {
                    return Err(format!("{name}: /health still answers {status}: {body}").into());
                }
                Err(e) => return Err(format!("{name}: /health: {e}").into()),
            }
        }
        Ok(Backend {
            name,
            server,
            url,
            postgres,
            hero_id: 0,
            rss_idle_kib: 0,
            created: std::cell::Cell::new(0),
        })
    }

    /// Creates `count` heroes; checks the routes answer as they must before
    /// they are loaded; picks the hero of the point reads (the middle one).
    fn seed(&mut self, token: &str, count: usize) -> Result<()> {
        let name = self.name;
        let mut ids = Vec::with_capacity(count);
        for i in 0..count {
            let body = format!(
                r#"{{"name":"Hero {i}","secret_name":"Secret Identity {i}","age":{}}}"#,
                20 + i % 60
            );
            let (status, answer) = http(&self.url, "POST", "/heroes", Some(token), Some(&body))?;
            if status != 201 {
                return Err(format!("{name}: POST /heroes answered {status}: {answer}").into());
            }
            let hero: serde_json::Value = serde_json::from_str(&answer)?;
            ids.push(
                hero["id"]
                    .as_i64()
                    .ok_or_else(|| format!("{name}: no id in {answer}"))?,
            );
        }
        self.add_created(count as u64);
        self.hero_id = ids[ids.len() / 2];

        let (status, _) = http(&self.url, "GET", "/heroes?limit=20", None, None)?;
        if status != 401 {
            return Err(
                format!("{name}: GET /heroes without a token answered {status}, not 401").into(),
            );
        }
        let (status, answer) = http(&self.url, "GET", "/heroes?limit=20", Some(token), None)?;
        let page: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        let expected = count.min(20);
        if status != 200 || page["items"].as_array().map(Vec::len) != Some(expected) {
            return Err(format!(
                "{name}: GET /heroes?limit=20 answered {status} without {expected} heroes: {answer}"
            )
            .into());
        }
        let path = format!("/heroes/{}", self.hero_id);
        let (status, answer) = http(&self.url, "GET", &path, Some(token), None)?;
        let hero: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
        if status != 200 || hero["id"] != self.hero_id {
            return Err(format!("{name}: GET {path} answered {status}: {answer}").into());
        }
        let (status, _) = http(&self.url, "GET", "/", None, None)?;
        if status != 200 {
            return Err(format!("{name}: GET / answered {status}").into());
        }
        eprintln!(
            "{name}: {count} heroes seeded; 401 without a token, 200 with it; point reads of hero {}",
            self.hero_id
        );
        Ok(())
    }

    fn add_created(&self, n: u64) {
        self.created.set(self.created.get() + n);
    }

    fn created(&self) -> u64 {
        self.created.get()
    }
}

/// `entra api` as a child process; killed when dropped (errors included).
struct ApiServer {
    child: Child,
    url: String,
}

impl ApiServer {
    fn start(
        entra: &Path,
        database_url: &str,
        authority: &str,
        dir: &Path,
        log: &Path,
        pinned: bool,
    ) -> Result<Self> {
        let mut command = if pinned {
            let mut command = Command::new("taskset");
            command.args(["-c", "0"]).arg(entra);
            command
        } else {
            Command::new(entra)
        };
        command
            .args(["api", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--authority-host", authority])
            .args(["--database-url", database_url])
            .arg("--data-dir")
            .arg(dir.join("data"))
            // Nothing from the caller's environment or a `.env` file.
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TOKIO_WORKER_THREADS", "1")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?);
        let mut child = command
            .spawn()
            .map_err(|e| format!("{}: {e}", entra.display()))?;
        let (ready, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout)
                    .lines()
                    .map_while(std::io::Result::ok)
                {
                    if let Some((_, url)) = line.split_once("listening:") {
                        let _ = ready.send(url.trim().to_owned());
                    }
                }
            });
        }
        let mut server = ApiServer {
            child,
            url: String::new(),
        };
        match lines.recv_timeout(START_TIMEOUT) {
            Ok(url) => server.url = url,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                return Err(format!(
                    "entra api did not start ({}):\n{}",
                    status.map_or_else(|| "no address printed".to_owned(), |s| s.to_string()),
                    std::fs::read_to_string(log).unwrap_or_default()
                )
                .into());
            }
        }
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database for the benchmark, dropped when this is.
struct PgDatabase {
    /// The server's URL as given (the database `psql` connects to).
    admin_url: String,
    name: String,
    /// The benchmark database's URL.
    url: String,
}

impl PgDatabase {
    /// Checks the server answers, then creates `demo_api_bench_*`.
    fn create(admin_url: &str) -> Result<Self> {
        let (base, _) = admin_url
            .split('?')
            .next()
            .and_then(|u| u.rsplit_once('/'))
            .filter(|(base, _)| base.contains("://"))
            .ok_or_else(|| {
                format!(
                    "--postgres-url {}: expected postgres://user@host:port/database",
                    redact(admin_url)
                )
            })?;
        psql(admin_url, "SELECT 1").map_err(|e| {
            format!(
                "PostgreSQL is unreachable at {}: {e}\n(start it, point --postgres-url at one, or pass --skip-postgres to measure SQLite only)",
                redact(admin_url)
            )
        })?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("demo_api_bench_{}_{nanos}", std::process::id());
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        eprintln!("PostgreSQL: created database {name}");
        Ok(PgDatabase {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    /// The server's version, for the report.
    fn server_version(&self) -> String {
        psql(&self.admin_url, "SHOW server_version").unwrap_or_else(|_| "?".to_owned())
    }

    /// How many of the benchmark database's connections use TLS (with no
    /// `sslmode` in the URL, the API's driver prefers TLS when the server
    /// offers it, loopback included), for the report.
    fn tls(&self) -> String {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE s.ssl) || ' of ' || count(*) \
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{}'",
            self.name
        );
        psql(&self.admin_url, &sql).unwrap_or_else(|_| "?".to_owned())
    }

    /// The backend processes connected to the benchmark's database (the
    /// API's pool). With `confine`, they are pinned to CPU 0 and raised to
    /// nice -20 like the API (each silently skipped where not allowed).
    fn backends(&self, confine: bool) -> Result<Vec<u32>> {
        let text = psql(
            &self.admin_url,
            &format!(
                "SELECT pid FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ),
        )?;
        let pids: Vec<u32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        if confine && !pids.is_empty() {
            let list: Vec<String> = pids.iter().map(u32::to_string).collect();
            let quiet = |command: &mut Command| {
                let _ = command.stdout(Stdio::null()).stderr(Stdio::null()).status();
            };
            for pid in &list {
                quiet(Command::new("taskset").args(["-p", "-c", "0", pid]));
            }
            quiet(Command::new("renice").args(["-n", "-20", "-p"]).args(&list));
        }
        Ok(pids)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        match psql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        ) {
            Ok(_) => eprintln!("PostgreSQL: dropped database {}", self.name),
            Err(e) => eprintln!("PostgreSQL: could not drop database {}: {e}", self.name),
        }
    }
}

/// Runs one SQL statement with `psql`; its output, unaligned, tuples only.
fn psql(url: &str, sql: &str) -> Result<String> {
    let output = Command::new("psql")
        .args([
            url,
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("psql: {e} (Debian: apt-get install postgresql-client)"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr)
            .trim()
            .to_owned()
            .into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `url` with its password, if any, replaced by `****`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:****@{host}")
        }
        _ => url.to_owned(),
    }
}

/// `cargo build --release -p entra-cli`; the binary's path.
fn build_entra(root: &Path) -> Result<PathBuf> {
    eprintln!("building entra (cargo build --release -p entra-cli)");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", "entra-cli"])
        .current_dir(root)
        .status()?;
    if !status.success() {
        return Err(format!("cargo build --release -p entra-cli failed: {status}").into());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(|d| root.join(d))
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("release/entra"))
}

/// Resident memory of a process, now and at its peak.
struct Memory {
    rss_kib: u64,
    peak_kib: u64,
}

/// `VmRSS` and `VmHWM` of `/proc/{pid}/status`.
fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no {name} in /proc/{pid}/status").into())
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        peak_kib: field("VmHWM:")?,
    })
}

/// The file system a path is on (`findmnt`), for the report.
fn filesystem(path: &Path) -> String {
    Command::new("findmnt")
        .args(["-n", "-o", "FSTYPE", "-T"])
        .arg(path)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "?".to_owned())
}

/// A minimal HTTP/1.0 request (the answer ends when the server closes):
/// status and body.
fn http(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    json: Option<&str>,
) -> Result<(u16, String)> {
    let authority = base
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http URL: {base}"))?;
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\n");
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    let body = json.unwrap_or_default();
    if json.is_some() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body))
}

/// A directory under the system's temporary directory, removed when dropped.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("demo-api-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
