//! `entra health` as a process: exit code 0 when the URLs answer 2xx (with
//! `--any`, when one does), 1 with one line on stderr otherwise (the status
//! and the start of the body, or why there was no answer), 2 for a URL that
//! is not http(s); https trusts `--ca-file` (`ENTRA_CA_FILE`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use entra_emulator::{Directory, Emulator, EmulatorConfig};

const TENANT: &str = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490";

/// `entra health ARGS` with a clean environment: exit code, stdout, stderr.
async fn health(args: Vec<String>, env: &[(&str, String)]) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command.arg("health").args(&args).env_clear();
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A server answering every request with `status` and a multi-line body.
async fn answering(status: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = raw_answer(status);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let response = app.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}

/// The raw HTTP/1.1 answer `answering` gives.
fn raw_answer(status: u16) -> String {
    let body = "{\n  \"status\": \"not ready\",\n  \"database\": \"unreachable\"\n}\n";
    format!(
        "HTTP/1.1 {status} Whatever\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_passes_on_2xx_and_explains_anything_else_in_one_line() {
    let ok = answering(204).await;
    let unavailable = answering(503).await;
    let redirect = answering(302).await;
    let dead = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", probe.local_addr().unwrap())
    };

    let (code, stdout, stderr) = health(vec![format!("{ok}/health/live")], &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("204 No Content"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");

    // 503: the status and the body, on one line.
    let (code, _, stderr) = health(vec![format!("{unavailable}/health/ready")], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "503 Service Unavailable: { \"status\": \"not ready\", \"database\": \"unreachable\" }"
        ),
        "{stderr}"
    );
    // A redirect is not followed, and not healthy.
    let (code, _, stderr) = health(vec![format!("{redirect}/")], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("302"), "{stderr}");
    // Nothing listening.
    let (code, _, stderr) = health(vec![format!("{dead}/health/live")], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");

    // Every URL must answer, unless --any; the URLs may come from ENTRA_HEALTH_URL.
    let both = format!("{dead}/health/live,{ok}/health/live");
    let (code, _, stderr) = health(vec![both.clone()], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, stderr) = health(vec!["--any".into(), both.clone()], &[]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = health(vec!["--any".into()], &[("ENTRA_HEALTH_URL", both)]).await;
    assert_eq!(code, Some(0), "{stderr}");
    let (code, _, stderr) = health(
        vec!["--any".into()],
        &[("ENTRA_HEALTH_URL", format!("{dead}/a,{unavailable}/b"))],
    )
    .await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("/a: ") && stderr.contains("/b: "),
        "{stderr}"
    );

    // Misconfiguration: exit code 2.
    for bad in ["ftp://localhost/", "not a url", "/health/live"] {
        let (code, _, stderr) = health(vec![bad.into()], &[]).await;
        assert_eq!(code, Some(2), "{bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let (code, _, stderr) = health(vec![], &[]).await;
    assert_eq!(code, Some(2), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_over_https_trusts_the_ca_file() {
    let dir = std::env::temp_dir().join(format!(
        "entra-cli-health-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let emulator = Emulator::start(EmulatorConfig::for_tests(Directory::default_demo()))
        .await
        .unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, emulator.ca_pem().unwrap()).unwrap();
    let url = format!(
        "{}/{TENANT}/v2.0/.well-known/openid-configuration",
        emulator.https_url().unwrap()
    );

    // Without the CA: the certificate is not trusted.
    let (code, _, stderr) = health(vec![url.clone()], &[]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, stdout, stderr) = health(
        vec![url.clone(), "--ca-file".into(), ca.display().to_string()],
        &[],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("200 OK"), "{stdout}");
    let (code, _, stderr) = health(
        vec![url.clone()],
        &[("ENTRA_CA_FILE", ca.display().to_string())],
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    // A CA file that is not one: a misconfiguration.
    let (code, _, stderr) = health(
        vec![
            url,
            "--ca-file".into(),
            dir.join("missing.pem").display().to_string(),
        ],
        &[],
    )
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
