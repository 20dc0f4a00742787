//! Issue 16, item 6: what a new user ran into, as processes against an
//! emulator running in the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_auth::{AuthConfig, Validator};

use crate::process::{Running, TempDir, entra};
use entra_emulator::admin::MintRequest;
use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";
const API: &str = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
const WEB: &str = "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10";
const ALICE: &str = "alice@contoso.onmicrosoft.com";

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        https_addr: None,
        public_host: Some("localhost".into()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs to the end; exit code, stdout, stderr.
async fn run(command: Command) -> (Option<i32>, String, String) {
    let mut running = Running::start(command);
    let status = running.wait(Duration::from_secs(60)).await;
    (status.code(), running.out(), running.err())
}

fn assert_one_line_exit_2(what: &str, (code, stdout, stderr): &(Option<i32>, String, String)) {
    assert_eq!(*code, Some(2), "{what}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("entra: "), "{what}: {stderr}");
    assert!(stdout.is_empty(), "{what}: {stdout}");
}

/// `entra web --port P` with an emulator that does not know P: the exact
/// `entra emulator --redirect-uri` command is printed, and an emulator
/// started with it accepts the redirect URI.
#[tokio::test(flavor = "multi_thread")]
async fn aadsts50011_prints_the_redirect_uri_command_that_fixes_it() {
    let emulator = emulator().await;
    let dir = TempDir::new("50011");
    let port = free_port();
    let web = |authority: &str| {
        let mut command = entra(
            &dir.0,
            &[
                "web",
                "--port",
                &port.to_string(),
                "--authority-host",
                authority,
                "--data-dir",
                &dir.0.join("data").display().to_string(),
            ],
        );
        command.env("RUST_LOG", "off");
        Running::start(command)
    };
    let running = web(&emulator.http_url());
    let expected =
        format!("entra emulator --redirect-uri {WEB}=http://localhost:{port}/auth/callback");
    running
        .until("the hint", |_, err| err.contains(&expected))
        .await;
    assert!(running.err().contains("AADSTS50011"), "{}", running.err());
    drop(running);

    // The printed command, run (on free ports), registers it.
    let command: Vec<String> = expected
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let mut args: Vec<&str> = command.iter().map(String::as_str).collect();
    let data = dir.0.join("emulator-data").display().to_string();
    args.extend(["--http-port", "0", "--no-https", "--data-dir", &data]);
    let started = Running::start(entra(&dir.0, &args));
    started
        .until("the emulator's banner", |out, _| {
            out.contains("Press Ctrl-C")
        })
        .await;
    let banner = started.out();
    let http = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("HTTP:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(
        banner.contains(&format!("http://localhost:{port}/auth/callback")),
        "{banner}"
    );
    let running = web(&http);
    running
        .until("the web banner", |out, _| out.contains("Press Ctrl-C"))
        .await;
    // The check has run (it follows the banner): no hint this time.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!running.err().contains("AADSTS50011"), "{}", running.err());
}

/// A real tenant id with the emulator's authority, and an authority host
/// that does not resolve: one line, exit code 2, nothing served.
#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_the_emulator_lacks_or_an_unresolvable_authority_is_exit_2() {
    let emulator = emulator().await;
    let dir = TempDir::new("tenant");
    let real_tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    for command in ["web", "api"] {
        let result = run(entra(
            &dir.0,
            &[
                command,
                "--port",
                "0",
                "--tenant",
                real_tenant,
                "--authority-host",
                &emulator.http_url(),
                "--data-dir",
                &dir.0.join("data").display().to_string(),
            ],
        ))
        .await;
        assert_one_line_exit_2(command, &result);
        assert!(
            result.2.contains(real_tenant) && result.2.contains("login.microsoftonline.com"),
            "{}",
            result.2
        );
    }
    let result = run(entra(
        &dir.0,
        &[
            "web",
            "--port",
            "0",
            "--authority-host",
            "https://login.nowhere.invalid",
            "--client-secret",
            "s",
            "--data-dir",
            &dir.0.join("data").display().to_string(),
        ],
    ))
    .await;
    assert_one_line_exit_2("unresolvable", &result);
    assert!(result.2.contains("does not resolve"), "{}", result.2);
}

/// `entra token --user` mints a delegated token through the emulator's
/// administration API; the API's validator accepts it. Against another
/// authority it is refused in one line.
#[tokio::test(flavor = "multi_thread")]
async fn entra_token_user_mints_a_delegated_token_from_the_emulator() {
    let emulator = emulator().await;
    let dir = TempDir::new("user");
    let (code, stdout, stderr) = run(entra(
        &dir.0,
        &[
            "token",
            "--user",
            ALICE,
            "--scope",
            "Heroes.Read,Heroes.Write",
            "--authority-host",
            &emulator.http_url(),
        ],
    ))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let validator = Validator::new(
        AuthConfig::builder()
            .authority_host(emulator.http_url())
            .tenant(TENANT)
            .client_id(API)
            .build()
            .unwrap(),
    )
    .unwrap();
    let principal = validator.validate(stdout.trim()).await.unwrap();
    assert!(!principal.is_app_only());
    assert!(principal.has_scope("Heroes.Read") && principal.has_scope("Heroes.Write"));
    assert!(!principal.has_scope("Heroes.Delete"));
    assert!(!stderr.contains("eyJ"), "{stderr}");

    // The default: every heroes scope; ENTRA_TOKEN_USER works as the flag.
    let mut command = entra(&dir.0, &["token", "--authority-host", &emulator.http_url()]);
    command.env("ENTRA_TOKEN_USER", ALICE);
    let (code, stdout, stderr) = run(command).await;
    assert_eq!(code, Some(0), "{stderr}");
    let principal = validator.validate(stdout.trim()).await.unwrap();
    assert!(principal.has_scope("Heroes.Delete"));

    for (what, args) in [
        (
            "not an emulator",
            vec![
                "token",
                "--user",
                ALICE,
                "--authority-host",
                "https://login.microsoftonline.com",
            ],
        ),
        (
            "unknown user",
            vec![
                "token",
                "--user",
                "nobody@contoso.onmicrosoft.com",
                "--authority-host",
                &emulator.http_url(),
            ],
        ),
    ] {
        let result = run(entra(&dir.0, &args)).await;
        assert_one_line_exit_2(what, &result);
    }
}

/// `entra token --ca-file` trusts the emulator's HTTPS listener; without
/// it, the refusal says what to do instead of a raw TLS error.
#[tokio::test(flavor = "multi_thread")]
async fn entra_token_trusts_a_ca_file_and_explains_an_untrusted_certificate() {
    let dir = TempDir::new("tls");
    let emulator = Emulator::start(EmulatorConfig {
        data_dir: Some(dir.0.join("emulator")),
        public_host: Some("localhost".into()),
        ..EmulatorConfig::for_tests(Directory::default_demo())
    })
    .await
    .unwrap();
    let https = emulator.https_url().unwrap();
    let ca = emulator.ca_path().unwrap().display().to_string();
    let result = run(entra(&dir.0, &["token", "--authority-host", &https])).await;
    assert_one_line_exit_2("untrusted", &result);
    assert!(
        result.2.contains("not trusted") && result.2.contains("--ca-file"),
        "{}",
        result.2
    );
    let (code, stdout, stderr) = run(entra(
        &dir.0,
        &["token", "--authority-host", &https, "--ca-file", &ca],
    ))
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("eyJ"), "{stdout}");
    // entra inspect says the same in its key check, and trusts --ca-file.
    let (_, token, _) = run(entra(
        &dir.0,
        &["token", "--authority-host", &https, "--ca-file", &ca],
    ))
    .await;
    let inspect = |extra: &[&str]| {
        let mut args = vec![
            "inspect",
            token.trim(),
            "--client-id",
            API,
            "--authority-host",
            &https,
        ];
        args.extend_from_slice(extra);
        entra(&dir.0, &args)
    };
    let (code, stdout, stderr) = run(inspect(&[])).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let key = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("key"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        key.contains("the certificate of localhost is not trusted") && key.contains("--ca-file"),
        "{key}"
    );
    assert!(!stderr.contains("UnknownIssuer"), "{stderr}");
    let (code, stdout, stderr) = run(inspect(&["--ca-file", &ca])).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");

    // --user over HTTPS too, with ENTRA_CA_FILE.
    let mut command = entra(
        &dir.0,
        &["token", "--user", ALICE, "--authority-host", &https],
    );
    command.env("ENTRA_CA_FILE", &ca);
    let (code, stdout, stderr) = run(command).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("eyJ"), "{stdout}");
}

/// A token expired 100 s ago is inside the 5 min clock skew: `entra
/// inspect` says so instead of a bare "ok".
#[tokio::test(flavor = "multi_thread")]
async fn inspect_explains_an_expired_token_accepted_within_the_skew() {
    let emulator = emulator().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let token = emulator
        .mint_access_token(
            MintRequest::delegated(TENANT, WEB, API, ALICE, ["Heroes.Read"])
                .claim("iat", now - 600)
                .claim("nbf", now - 600)
                .claim("exp", now - 100),
        )
        .unwrap();
    let dir = TempDir::new("skew");
    let (code, stdout, stderr) = run(entra(
        &dir.0,
        &[
            "inspect",
            &token,
            "--client-id",
            API,
            "--authority-host",
            &emulator.http_url(),
        ],
    ))
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("lifetime"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let detail = line.split_once("lifetime").unwrap().1.trim();
    assert!(
        detail.starts_with("expired 10")
            && detail.contains("s ago, accepted within the 5 min clock skew"),
        "{line}"
    );
}

/// Every option of `token` and `inspect` has its variable, as the README
/// says.
#[test]
fn token_and_inspect_options_have_their_variables() {
    for (command, pairs) in [
        (
            "token",
            &[
                ("--scope", "ENTRA_TOKEN_SCOPE"),
                ("--user", "ENTRA_TOKEN_USER"),
                ("--ca-file", "ENTRA_CA_FILE"),
            ][..],
        ),
        (
            "inspect",
            &[
                ("--audience", "API_AUDIENCE"),
                ("--require", "ENTRA_INSPECT_REQUIRE"),
                ("--ca-file", "ENTRA_CA_FILE"),
            ],
        ),
        (
            "demo",
            &[
                ("--database-url", "DATABASE_URL"),
                ("--redis-url", "REDIS_URL"),
            ],
        ),
        (
            "emulator",
            &[("--redirect-uri", "ENTRA_EMULATOR_REDIRECT_URIS")],
        ),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_entra"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        for (flag, var) in pairs {
            let lines: Vec<&str> = help.lines().collect();
            let at = lines
                .iter()
                .position(|l| l.trim_start().starts_with(&format!("{flag} ")))
                .unwrap_or_else(|| panic!("{command}: no {flag} in {help}"));
            // The option's own lines: up to the next option.
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('-'))
                .map_or(lines.len(), |n| at + 1 + n);
            let block = lines[at..end].join("\n");
            assert!(block.contains(var), "{command} {flag}: {block}");
        }
    }
    // The CA path inspect's help names is the one the emulator writes.
    let output = Command::new(env!("CARGO_BIN_EXE_entra"))
        .args(["inspect", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("emulator/tls/ca.pem"), "{help}");
}

/// `entra demo` honours `DATABASE_URL` and `REDIS_URL` (a URL that is not
/// one is exit 2), and its banner names the database, the session store
/// and the emulator's CA.
#[tokio::test(flavor = "multi_thread")]
async fn entra_demo_honours_database_url_and_prints_the_ca() {
    let dir = TempDir::new("demo");
    let data = dir.0.join("data").display().to_string();
    let ports = [
        "--emulator-port",
        "0",
        "--emulator-https-port",
        "0",
        "--api-port",
        "0",
        "--web-port",
        "0",
    ];
    for (name, value) in [
        ("DATABASE_URL", "mysql://x@y/z"),
        ("REDIS_URL", "memcached://x"),
    ] {
        let mut command = entra(&dir.0, &["demo", "--data-dir", &data]);
        command.args(ports).env(name, value);
        let result = run(command).await;
        assert_one_line_exit_2(name, &result);
        assert!(result.2.contains(name), "{}", result.2);
    }
    let custom = dir.0.join("elsewhere").join("heroes.db");
    std::fs::create_dir_all(custom.parent().unwrap()).unwrap();
    let mut command = entra(&dir.0, &["demo", "--data-dir", &data]);
    command.args(ports).env(
        "DATABASE_URL",
        format!("sqlite://{}?mode=rwc", custom.display()),
    );
    let running = Running::start(command);
    running
        .until("the banner", |out, _| out.contains("Press Ctrl-C"))
        .await;
    let banner = running.out();
    assert!(banner.contains("heroes.db"), "{banner}");
    assert!(custom.exists(), "{banner}");
    assert!(!dir.0.join("data/api/demo-api.db").exists(), "{banner}");
    let ca = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("trust CA"))
        .unwrap_or_else(|| panic!("{banner}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(ca.ends_with("emulator/tls/ca.pem"), "{ca}");
    assert!(Path::new(&ca).exists(), "{ca}");
    assert!(banner.contains("sessions     SQLite"), "{banner}");
}
