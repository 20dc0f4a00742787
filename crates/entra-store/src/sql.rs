//! The SQL stores: one implementation ([`SqlStore`]) for SQLite and
//! PostgreSQL; what differs between them is in `sealed::Dialect`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use sqlx::Pool;

use crate::{Operation, Store, StoreError, StoreFuture, check_group, check_key, unix_millis};

/// Expired rows are deleted every this many writes.
const PURGE_EVERY: u64 = 256;

/// The longest table name: its index names (`{table}_group_name`,
/// `{table}_expires_at`) must fit PostgreSQL's 63 bytes.
const MAX_TABLE_NAME: usize = 52;

/// Entries in a SQLite table.
#[cfg(feature = "sqlite")]
pub type SqliteStore = SqlStore<sqlx::Sqlite>;

/// Entries in a PostgreSQL table.
#[cfg(feature = "postgres")]
pub type PostgresStore = SqlStore<sqlx::Postgres>;

/// Entries in a table of a SQL database: `SqliteStore` (feature `sqlite`)
/// or `PostgresStore` (feature `postgres`).
///
/// The table, created if missing: `key TEXT PRIMARY KEY`, `group_name TEXT`
/// (indexed), `value` (`BLOB` / `BYTEA`), `expires_at BIGINT` (Unix
/// milliseconds, `NULL` for no expiry; indexed). A group's removal is one
/// `DELETE ... WHERE group_name = $1`. Expired rows are never read, and are
/// deleted every 256 writes or by [`purge_expired`](Self::purge_expired).
pub struct SqlStore<DB: SqlDatabase> {
    pool: Pool<DB>,
    table: String,
    sql: Statements,
    writes: AtomicU64,
}

/// A database [`SqlStore`] can use: `sqlx::Sqlite` or `sqlx::Postgres`
/// (sealed).
pub trait SqlDatabase: sealed::Run {}

impl<DB: sealed::Run> SqlDatabase for DB {}

impl<DB: SqlDatabase> fmt::Debug for SqlStore<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &DB::BACKEND)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

/// The statements of one table.
#[derive(Debug)]
struct Statements {
    get: Arc<str>,
    put: Arc<str>,
    remove: Arc<str>,
    remove_group: Arc<str>,
    purge: Arc<str>,
}

impl Statements {
    fn new(table: &str) -> Self {
        Statements {
            get: format!(
                "SELECT value FROM {table} WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)"
            )
            .into(),
            put: format!(
                "INSERT INTO {table} (key, group_name, value, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET group_name = excluded.group_name, \
                 value = excluded.value, expires_at = excluded.expires_at"
            )
            .into(),
            remove: format!("DELETE FROM {table} WHERE key = $1").into(),
            remove_group: format!("DELETE FROM {table} WHERE group_name = $1").into(),
            purge: format!("DELETE FROM {table} WHERE expires_at IS NOT NULL AND expires_at <= $1")
                .into(),
        }
    }

    /// Creates the table if missing.
    fn create<DB: SqlDatabase>(table: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (key TEXT PRIMARY KEY NOT NULL, group_name TEXT, \
             value {} NOT NULL, expires_at BIGINT)",
            DB::BLOB
        )
    }

    /// Reads nothing, but fails unless the table has the columns written.
    fn layout(table: &str) -> String {
        format!("SELECT key, group_name, value, expires_at FROM {table} WHERE 1 = 0")
    }

    /// Creates the indexes if missing: groups, and expiry (for purging).
    fn indexes(table: &str) -> [String; 2] {
        [
            format!("CREATE INDEX IF NOT EXISTS {table}_group_name ON {table} (group_name)"),
            format!("CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at)"),
        ]
    }
}

/// A table name: letters, digits and `_`, starting with a letter or `_`,
/// at most [`MAX_TABLE_NAME`] bytes.
fn check_table_name(name: &str) -> Result<(), StoreError> {
    let ok = name.len() <= MAX_TABLE_NAME
        && name
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidTableName(name.to_owned()))
    }
}

impl<DB: SqlDatabase> SqlStore<DB> {
    /// Uses `pool` and the table `table` (letters, digits and `_`, at most
    /// 52 bytes), created with its indexes if missing.
    ///
    /// Fails with [`StoreError::TableLayout`] when the table exists with
    /// other columns.
    pub async fn new(pool: Pool<DB>, table: &str) -> Result<Self, StoreError> {
        check_table_name(table)?;
        DB::execute(&pool, Statements::create::<DB>(table).into())
            .await
            .map_err(error::<DB>(Operation::CreateTable))?;
        DB::execute(&pool, Statements::layout(table).into())
            .await
            .map_err(|source| StoreError::TableLayout {
                table: table.to_owned(),
                source: source.into(),
            })?;
        for statement in Statements::indexes(table) {
            DB::execute(&pool, statement.into())
                .await
                .map_err(error::<DB>(Operation::CreateTable))?;
        }
        Ok(SqlStore {
            pool,
            table: table.to_owned(),
            sql: Statements::new(table),
            writes: AtomicU64::new(0),
        })
    }

    /// Deletes expired rows now; returns how many.
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        DB::delete_number(
            &self.pool,
            self.sql.purge.clone(),
            unix_millis(SystemTime::now()),
        )
        .await
        .map_err(error::<DB>(Operation::PurgeExpired))
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }
}

#[cfg(feature = "sqlite")]
impl SqlStore<sqlx::Sqlite> {
    /// Opens (creating it if needed) the database at `url`
    /// (`sqlite:tokens.db`, `sqlite::memory:`) with up to 4 connections, and
    /// uses the table `table`, created if missing.
    pub async fn connect(url: &str, table: &str) -> Result<Self, StoreError> {
        use std::str::FromStr as _;
        let connect = error::<sqlx::Sqlite>(Operation::Connect);
        let options = match sqlx::sqlite::SqliteConnectOptions::from_str(url) {
            Ok(options) => options.create_if_missing(true),
            Err(e) => return Err(connect(e)),
        };
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(connect)?;
        Self::new(pool, table).await
    }
}

#[cfg(feature = "postgres")]
impl SqlStore<sqlx::Postgres> {
    /// Connects to `url` (`postgres://user@host:5432/db`; TLS with
    /// `sslmode=require`) with up to 8 connections, and uses the table
    /// `table`, created if missing.
    pub async fn connect(url: &str, table: &str) -> Result<Self, StoreError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .connect(url)
            .await
            .map_err(error::<sqlx::Postgres>(Operation::Connect))?;
        Self::new(pool, table).await
    }
}

impl<DB: SqlDatabase> Store for SqlStore<DB> {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            check_key(key)?;
            DB::fetch_value(
                &self.pool,
                self.sql.get.clone(),
                key,
                unix_millis(SystemTime::now()),
            )
            .await
            .map_err(error::<DB>(Operation::Get))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        group: Option<&'a str>,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_key(key)?;
            check_group(group)?;
            let row = sealed::Entry {
                key,
                group,
                value,
                expires_at: expires_at.map(unix_millis),
            };
            DB::upsert(&self.pool, self.sql.put.clone(), row)
                .await
                .map_err(error::<DB>(Operation::Put))?;
            if self.writes.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
                self.purge_expired().await?;
            }
            Ok(())
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_key(key)?;
            DB::delete_text(&self.pool, self.sql.remove.clone(), key)
                .await
                .map_err(error::<DB>(Operation::Remove))?;
            Ok(())
        })
    }

    fn remove_group<'a>(&'a self, group: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_group(Some(group))?;
            DB::delete_text(&self.pool, self.sql.remove_group.clone(), group)
                .await
                .map_err(error::<DB>(Operation::RemoveGroup))?;
            Ok(())
        })
    }
}

/// `map_err` for a failure of `DB` at `operation`.
fn error<DB: SqlDatabase>(operation: Operation) -> impl FnOnce(sqlx::Error) -> StoreError {
    StoreError::from_backend(DB::BACKEND, operation)
}

mod sealed {
    //! What [`SqlStore`](super::SqlStore) needs of a database, written once
    //! for every database sqlx can bind these types for.

    use std::future::Future;
    use std::sync::Arc;

    use sqlx::{
        AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row,
        Type,
    };

    /// One row to write.
    #[derive(Debug)]
    pub struct Entry<'a> {
        pub key: &'a str,
        pub group: Option<&'a str>,
        pub value: &'a [u8],
        /// Unix milliseconds.
        pub expires_at: Option<i64>,
    }

    /// What differs between the databases.
    pub trait Dialect: Database {
        /// The backend's name in errors.
        const BACKEND: &'static str;
        /// The column type of bytes.
        const BLOB: &'static str;
        /// How many rows a statement changed.
        fn rows_affected(result: &Self::QueryResult) -> u64;
    }

    #[cfg(feature = "sqlite")]
    impl Dialect for sqlx::Sqlite {
        const BACKEND: &'static str = "SQLite";
        const BLOB: &'static str = "BLOB";
        fn rows_affected(result: &Self::QueryResult) -> u64 {
            result.rows_affected()
        }
    }

    #[cfg(feature = "postgres")]
    impl Dialect for sqlx::Postgres {
        const BACKEND: &'static str = "PostgreSQL";
        const BLOB: &'static str = "BYTEA";
        fn rows_affected(result: &Self::QueryResult) -> u64 {
            result.rows_affected()
        }
    }

    /// The statements a store runs.
    pub trait Run: Dialect {
        /// Runs a statement without parameters.
        fn execute(
            pool: &Pool<Self>,
            sql: Arc<str>,
        ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

        /// The first column of the row `sql` finds for `key` and `now`.
        fn fetch_value<'a>(
            pool: &'a Pool<Self>,
            sql: Arc<str>,
            key: &'a str,
            now: i64,
        ) -> impl Future<Output = Result<Option<Vec<u8>>, sqlx::Error>> + Send + 'a;

        /// Writes `row` with `sql` (its four fields, in order).
        fn upsert<'a>(
            pool: &'a Pool<Self>,
            sql: Arc<str>,
            row: Entry<'a>,
        ) -> impl Future<Output = Result<(), sqlx::Error>> + Send + 'a;

        /// Deletes the rows `sql` selects with a text; returns how many.
        fn delete_text<'a>(
            pool: &'a Pool<Self>,
            sql: Arc<str>,
            text: &'a str,
        ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send + 'a;

        /// Deletes the rows `sql` selects with a number; returns how many.
        fn delete_number(
            pool: &Pool<Self>,
            sql: Arc<str>,
            number: i64,
        ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;
    }

    impl<DB> Run for DB
    where
        DB: Dialect,
        for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
        DB::Arguments: IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
        for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
        for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
        for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
        usize: ColumnIndex<DB::Row>,
    {
        async fn execute(pool: &Pool<Self>, sql: Arc<str>) -> Result<(), sqlx::Error> {
            sqlx::query::<DB>(AssertSqlSafe(sql)).execute(pool).await?;
            Ok(())
        }

        async fn fetch_value(
            pool: &Pool<Self>,
            sql: Arc<str>,
            key: &str,
            now: i64,
        ) -> Result<Option<Vec<u8>>, sqlx::Error> {
            let row = sqlx::query::<DB>(AssertSqlSafe(sql))
                .bind(key)
                .bind(now)
                .fetch_optional(pool)
                .await?;
            row.map(|row| row.try_get::<Vec<u8>, _>(0_usize))
                .transpose()
        }

        async fn upsert(
            pool: &Pool<Self>,
            sql: Arc<str>,
            row: Entry<'_>,
        ) -> Result<(), sqlx::Error> {
            sqlx::query::<DB>(AssertSqlSafe(sql))
                .bind(row.key)
                .bind(row.group)
                .bind(row.value)
                .bind(row.expires_at)
                .execute(pool)
                .await?;
            Ok(())
        }

        async fn delete_text(
            pool: &Pool<Self>,
            sql: Arc<str>,
            text: &str,
        ) -> Result<u64, sqlx::Error> {
            let done = sqlx::query::<DB>(AssertSqlSafe(sql))
                .bind(text)
                .execute(pool)
                .await?;
            Ok(DB::rows_affected(&done))
        }

        async fn delete_number(
            pool: &Pool<Self>,
            sql: Arc<str>,
            number: i64,
        ) -> Result<u64, sqlx::Error> {
            let done = sqlx::query::<DB>(AssertSqlSafe(sql))
                .bind(number)
                .execute(pool)
                .await?;
            Ok(DB::rows_affected(&done))
        }
    }
}
