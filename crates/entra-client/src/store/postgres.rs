//! The PostgreSQL store: one table, created if missing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};

use super::{StoreError, StoreFuture, TokenStore, check_table_name, unix};

/// Expired rows are deleted every this many writes.
const PURGE_EVERY: u64 = 256;

/// Cache entries in a PostgreSQL table (`key TEXT PRIMARY KEY, value BYTEA,
/// expires_at BIGINT`: Unix seconds, `NULL` for no expiry).
#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
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
    move |e| StoreError::with_source(format!("PostgreSQL: {what}"), e)
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host:5432/db`; TLS with
    /// `sslmode=require`) and uses the table `entra_token_cache`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(db_error("cannot connect"))?;
        Self::new(pool, "entra_token_cache").await
    }

    /// Uses `pool` and the table `table` (letters, digits and `_`), created
    /// if missing.
    pub async fn new(pool: PgPool, table: &str) -> Result<Self, StoreError> {
        check_table_name(table)?;
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY, value BYTEA NOT NULL, expires_at BIGINT)"
        );
        sqlx::query(AssertSqlSafe(create))
            .execute(&pool)
            .await
            .map_err(db_error("cannot create the table"))?;
        Ok(PostgresStore {
            pool,
            sql: Statements {
                get: format!(
                    "SELECT value FROM {table} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)"
                )
                .into(),
                put: format!(
                    "INSERT INTO {table} (key, value, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"
                )
                .into(),
                remove: format!("DELETE FROM {table} WHERE key = $1").into(),
                // left(), not LIKE: _ and % in keys are not wildcards.
                remove_prefix: format!(
                    "DELETE FROM {table} WHERE left(key, char_length($1)) = $1"
                )
                .into(),
                purge: format!("DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= $1")
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
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl TokenStore for PostgresStore {
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
