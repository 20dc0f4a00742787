//! Issue 12, finding 8: files on disk. The SQLite sessions database (the
//! sessions and the users' tokens) and its `-wal` and `-shm` files are
//! readable by their owner only, in a private directory.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::common::*;
use demo_web::SessionBackend;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn with_suffix(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[tokio::test]
async fn finding_8_sessions_database_is_private() {
    let dir = TempDir::new("finding-8");
    let db = dir.path().join("web").join("sessions.db");
    let stack = StackBuilder::default()
        .backend(SessionBackend::Sqlite(db.clone()))
        .start()
        .await;
    let browser = Browser::new();
    browser.sign_in(&stack).await;

    // Written to: the database and, in WAL mode, its -wal and -shm files.
    assert_eq!(mode(&dir.path().join("web")), 0o700);
    for file in [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    drop(stack);

    // A database an older version left readable by everyone is made private
    // (the directory, not created here, is left as it is).
    let old = TempDir::new("finding-8-old");
    std::fs::set_permissions(old.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = old.path().join("sessions.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stack = StackBuilder::default()
        .backend(SessionBackend::Sqlite(db.clone()))
        .start()
        .await;
    Browser::new().sign_in(&stack).await;
    for file in [
        db.clone(),
        with_suffix(&db, "-wal"),
        with_suffix(&db, "-shm"),
    ] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    assert_eq!(mode(old.path()), 0o755);
}
