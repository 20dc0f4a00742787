//! Running the `entra` binary in a test: a clean environment, a temporary
//! working directory, its output collected, killed on drop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A unique directory under the system's temporary directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("entra-cli-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `entra {args}` with a clean environment, run in `cwd`.
pub(crate) fn entra(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_entra"));
    command.args(args).current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("ENTRA_")
            || name.starts_with("AZURE_")
            || name.starts_with("API_")
            || name.starts_with("WEB_")
            || name == "SESSION_STORE"
            || name == "REDIS_URL"
            || name == "DATABASE_URL"
            || name == "RUST_LOG"
        {
            command.env_remove(name);
        }
    }
    command
}

fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// A child process killed on drop.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stdout: Arc<Mutex<String>>,
    pub(crate) stderr: Arc<Mutex<String>>,
}

impl Running {
    pub(crate) fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
        }
    }

    pub(crate) fn out(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub(crate) fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub(crate) async fn until(&self, what: &str, f: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (out, err) = (self.out(), self.err());
            if f(&out, &err) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}; stdout: {out}\nstderr: {err}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn wait(&mut self, limit: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                return status;
            }
            if started.elapsed() > limit {
                let _ = self.child.kill();
                panic!("still running after {limit:?}; stderr: {}", self.err());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
