//! Sessions in a SQLite file: one table, `web_sessions`, created if missing.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use super::store::{SessionStore, StoreFuture};
use crate::error::StoreError;

/// Expired rows are deleted every this many saves.
const PURGE_EVERY: u32 = 256;

/// Sessions in a SQLite database (one instance of the app at a time; for
/// several, use [`RedisSessions`](super::RedisSessions)).
#[derive(Debug)]
pub struct SqliteSessions {
    pool: SqlitePool,
    saves: AtomicU32,
}

impl SqliteSessions {
    /// Opens (creating if missing, with its directory) the database at
    /// `path` and creates the sessions table.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::new(format!("cannot create directory {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| StoreError::new(format!("cannot open {}: {e}", path.display())))?;
        Self::from_pool(pool).await
    }

    /// Uses an open pool, creating the sessions table if missing.
    pub async fn from_pool(pool: SqlitePool) -> Result<Self, StoreError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS web_sessions (\
                 key TEXT PRIMARY KEY NOT NULL, \
                 record BLOB NOT NULL, \
                 expires_at INTEGER NOT NULL)",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS web_sessions_expires_at ON web_sessions (expires_at)",
        )
        .execute(&pool)
        .await?;
        Ok(SqliteSessions {
            pool,
            saves: AtomicU32::new(0),
        })
    }

    /// The connection pool (the token store shares it).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl SessionStore for SqliteSessions {
    fn load<'a>(&'a self, key: &'a str, now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let row: Option<(Vec<u8>,)> = sqlx::query_as(
                "SELECT record FROM web_sessions WHERE key = $1 AND expires_at > $2",
            )
            .bind(key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(|(record,)| record))
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        record: &'a [u8],
        now: i64,
        expires_at: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO web_sessions (key, record, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET record = excluded.record, expires_at = excluded.expires_at",
            )
            .bind(key)
            .bind(record)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
            if self
                .saves
                .fetch_add(1, Ordering::Relaxed)
                .is_multiple_of(PURGE_EVERY)
            {
                sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
            }
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query("DELETE FROM web_sessions WHERE key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
    }
}
