//! The stores behind the sessions and the token cache (entra-store), opened
//! for the configured [`SessionBackend`]. Both live in the same place, so
//! that every instance that can read a session can also call the API for
//! its user (C22: tokens stay on the server; the browser only ever holds
//! the session cookie).
//!
//! - Memory: two [`MemoryStore`]s, for this process only.
//! - SQLite: the tables `web_sessions` and `entra_token_cache` of one file
//!   (its directory created if missing), in WAL mode: one instance of the
//!   app at a time. The file and its `-wal` and `-shm` files are readable
//!   by their owner only (`0600`; a directory created for them is `0700`).
//! - Redis: sessions under `{prefix}session:`, tokens under
//!   `{prefix}token:` (`demo-web:` by default), on one connection: several
//!   instances share them.
//!
//! Sessions are in no group: each is removed by its key. The token cache
//! groups each user's tokens, so that sign-out removes them at once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use entra_store::{MemoryStore, Operation, RedisStore, SqliteStore, Store, StoreError};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::config::SessionBackend;

/// The sessions' table in the SQLite file.
const SESSIONS_TABLE: &str = "web_sessions";

/// The token cache's table in the SQLite file.
const TOKENS_TABLE: &str = "entra_token_cache";

/// The two stores, and the SQLite pool to close at shutdown.
#[derive(Debug)]
pub(crate) struct Stores {
    pub(crate) sessions: Arc<dyn Store>,
    pub(crate) tokens: Arc<dyn Store>,
    pub(crate) sqlite: Option<SqlitePool>,
}

/// Opens the stores of `backend`; Redis keys start with `redis_key_prefix`.
pub(crate) async fn open(
    backend: &SessionBackend,
    redis_key_prefix: &str,
) -> Result<Stores, StoreError> {
    match backend {
        SessionBackend::Memory => Ok(Stores {
            sessions: Arc::new(MemoryStore::new()),
            tokens: Arc::new(MemoryStore::new()),
            sqlite: None,
        }),
        SessionBackend::Sqlite(path) => {
            let pool = open_sqlite(path).await?;
            Ok(Stores {
                sessions: Arc::new(SqliteStore::new(pool.clone(), SESSIONS_TABLE).await?),
                tokens: Arc::new(SqliteStore::new(pool.clone(), TOKENS_TABLE).await?),
                sqlite: Some(pool),
            })
        }
        SessionBackend::Redis(url) => {
            let sessions = RedisStore::connect(url, format!("{redis_key_prefix}session:")).await?;
            let tokens = RedisStore::new(
                sessions.connection().clone(),
                format!("{redis_key_prefix}token:"),
            );
            Ok(Stores {
                sessions: Arc::new(sessions),
                tokens: Arc::new(tokens),
                sqlite: None,
            })
        }
    }
}

/// Why the SQLite file could not be opened (a [`StoreError`]'s source).
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("cannot create the directory {}: {source}", dir.display())]
    Directory {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {} or make it private: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {}: {source}", path.display())]
    Database {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
}

/// Opens (creating it and its directory if missing) the database at `path`.
///
/// Sessions and users' tokens are secrets: the file is made private
/// (`0600`) before SQLite opens it, and SQLite gives its `-wal` and `-shm`
/// files the same mode; a missing directory is created `0700`. A file or a
/// `-wal`/`-shm` file left readable by an older version is tightened.
async fn open_sqlite(path: &Path) -> Result<SqlitePool, StoreError> {
    let failed = |e: OpenError| StoreError::backend("SQLite", Operation::Connect, e);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        entra_core::fs::create_private_dir(dir).map_err(|source| {
            failed(OpenError::Directory {
                dir: dir.to_owned(),
                source,
            })
        })?;
    }
    let private = |file: &Path| {
        entra_core::fs::make_file_private(file).map_err(|source| {
            failed(OpenError::File {
                path: file.to_owned(),
                source,
            })
        })
    };
    private(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = PathBuf::from(companion);
        if companion.exists() {
            private(&companion)?;
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5));
    SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| {
            failed(OpenError::Database {
                path: path.to_owned(),
                source,
            })
        })
}
