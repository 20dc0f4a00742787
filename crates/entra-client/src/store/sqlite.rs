//! The SQLite store: one table, created if missing.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Row};

use super::{StoreError, StoreFuture, TokenStore, check_table_name, unix};

/// Expired rows are deleted every this many writes.
const PURGE_EVERY: u64 = 256;

/// Cache entries in a SQLite table (`key TEXT PRIMARY KEY, value BLOB,
/// expires_at INTEGER`: Unix seconds, `NULL` for no expiry).
#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Statements,
    writes: AtomicU64,
}

#[derive(Debug)]
struct Statements {
    get: Arc<str>,
    put: Arc<str>,
    remove: Arc<str>,
    remove_prefix: Arc<str>,
    purge: Arc<str>,
}

fn db_error(what: &str) -> impl FnOnce(sqlx::Error) -> StoreError + '_ {
    move |e| StoreError::with_source(format!("SQLite: {what}"), e)
}

impl SqliteStore {
    /// Opens (creating it if needed) the database at `url`
    /// (`sqlite:tokens.db`, `sqlite::memory:`) and the table
    /// `entra_token_cache`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db_error("bad database URL"))?
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error("cannot open the database"))?;
        Self::new(pool, "entra_token_cache").await
    }

    /// Uses `pool` and the table `table` (letters, digits and `_`), created
    /// if missing.
    pub async fn new(pool: SqlitePool, table: &str) -> Result<Self, StoreError> {
        check_table_name(table)?;
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, expires_at INTEGER)"
        );
        sqlx::query(AssertSqlSafe(create))
            .execute(&pool)
            .await
            .map_err(db_error("cannot create the table"))?;
        Ok(SqliteStore {
            pool,
            sql: Statements {
                get: format!(
                    "SELECT value FROM {table} WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
                )
                .into(),
                put: format!(
                    "INSERT INTO {table} (key, value, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at"
                )
                .into(),
                remove: format!("DELETE FROM {table} WHERE key = ?1").into(),
                // substr, not LIKE: LIKE is case-insensitive and treats _ and % as wildcards.
                remove_prefix: format!(
                    "DELETE FROM {table} WHERE substr(key, 1, length(?1)) = ?1"
                )
                .into(),
                purge: format!("DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= ?1")
                    .into(),
            },
            writes: AtomicU64::new(0),
        })
    }

    /// Deletes expired rows now; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(AssertSqlSafe(self.sql.purge.clone()))
            .bind(unix(SystemTime::now()))
            .execute(&self.pool)
            .await
            .map_err(db_error("cannot delete expired rows"))?;
        Ok(done.rows_affected())
    }

    /// The connection pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl TokenStore for SqliteStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let row = sqlx::query(AssertSqlSafe(self.sql.get.clone()))
                .bind(key)
                .bind(unix(SystemTime::now()))
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error("cannot read"))?;
            row.map(|row| row.try_get::<Vec<u8>, _>(0))
                .transpose()
                .map_err(db_error("cannot read a value"))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(AssertSqlSafe(self.sql.put.clone()))
                .bind(key)
                .bind(value)
                .bind(expires_at.map(unix))
                .execute(&self.pool)
                .await
                .map_err(db_error("cannot write"))?;
            if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
                self.purge_expired().await?;
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            sqlx::query(AssertSqlSafe(self.sql.remove.clone()))
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(db_error("cannot delete"))?;
            Ok(())
        })
    }

    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let done = sqlx::query(AssertSqlSafe(self.sql.remove_prefix.clone()))
                .bind(prefix)
                .execute(&self.pool)
                .await
                .map_err(db_error("cannot delete"))?;
            Ok(done.rows_affected())
        })
    }
}
