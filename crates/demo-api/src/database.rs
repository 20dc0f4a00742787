//! Persistence: [`Database`], SQLite or PostgreSQL behind one set of queries.
//!
//! The URL picks the backend: `sqlite:` (a file, created if missing) or
//! `postgres://` / `postgresql://`. Each backend has its own embedded
//! migrations (`migrations/sqlite`, `migrations/postgres`), applied at
//! start-up. The queries are written once: both backends take `$1`-style
//! parameters and `RETURNING`, and [`with_pool!`] (reads) and
//! [`with_writer!`] (writes) run the same code on whichever pool is open. No
//! query needs a database at compile time.
//!
//! Durability: every write is one statement, committed before the handler
//! answers. SQLite runs in WAL mode with `synchronous = FULL`, so a hero
//! answered `201` survives the process being killed the next instant.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::Error;
use crate::caller::{Caller, CallerKind, UserId};
use crate::heroes::{Hero, HeroDraft};
use crate::input::PageQuery;
use crate::todo_items::{TodoDraft, TodoItem};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a request waits for a connection before it is answered `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Open connection pools to one of the two backends.
#[derive(Debug, Clone)]
pub(crate) enum Database {
    /// Reads share a pool; writes go through one connection of their own, so
    /// concurrent writes queue in order instead of sleeping and retrying on
    /// SQLite's single write lock (which made their tail latency seconds).
    Sqlite {
        readers: SqlitePool,
        writer: SqlitePool,
    },
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever read pool `$db` holds: the
/// same query text and binds, compiled once per backend.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite { readers: $pool, .. } => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

/// [`with_pool!`] for statements that write.
macro_rules! with_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            Database::Sqlite { writer: $pool, .. } => $body,
            Database::Postgres($pool) => $body,
        }
    };
}

impl Database {
    /// Opens the database `url` names and applies the migrations.
    pub(crate) async fn open(url: &str) -> Result<Self, Error> {
        let database = if url.starts_with("sqlite:") {
            let (readers, writer) = open_sqlite(url).await?;
            Database::Sqlite { readers, writer }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Database::Postgres(open_postgres(url).await?)
        } else {
            return Err(Error::Config(
                "the database URL must start with sqlite: or postgres://".into(),
            ));
        };
        match &database {
            Database::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Database::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(database)
    }

    /// `sqlite` or `postgres`.
    pub(crate) fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers a trivial query.
    pub(crate) async fn ping(&self) -> bool {
        let query = with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop));
        query.is_ok()
    }

    /// Closes every connection (SQLite checkpoints its write-ahead log).
    pub(crate) async fn close(&self) {
        if let Database::Sqlite { writer, .. } = self {
            writer.close().await;
        }
        with_pool!(self, pool => pool.close().await);
    }

    // --- Heroes ---------------------------------------------------------------

    pub(crate) async fn insert_hero(&self, hero: &HeroDraft, by: &Caller) -> Result<Hero, Error> {
        const SQL: &str = "INSERT INTO heroes \
             (name, secret_name, age, created_by_kind, created_by_tenant, created_by_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             RETURNING id, name, secret_name, age, created_by_kind, created_by_tenant, created_by_id, created_at";
        let row: HeroRow = with_writer!(self, pool => sqlx::query_as(SQL)
            .bind(&hero.name)
            .bind(&hero.secret_name)
            .bind(hero.age)
            .bind(by.kind.as_str())
            .bind(&by.tenant_id)
            .bind(&by.id)
            .bind(now())
            .fetch_one(pool)
            .await)?;
        row.try_into()
    }

    pub(crate) async fn list_heroes(&self, page: PageQuery) -> Result<Vec<Hero>, Error> {
        const SQL: &str = "SELECT id, name, secret_name, age, created_by_kind, created_by_tenant, created_by_id, created_at \
             FROM heroes WHERE id > $1 ORDER BY id LIMIT $2";
        let rows: Vec<HeroRow> = with_pool!(self, pool => sqlx::query_as(SQL)
            .bind(page.after.unwrap_or(0))
            .bind(i64::from(page.limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Hero::try_from).collect()
    }

    pub(crate) async fn get_hero(&self, id: i64) -> Result<Option<Hero>, Error> {
        const SQL: &str = "SELECT id, name, secret_name, age, created_by_kind, created_by_tenant, created_by_id, created_at \
             FROM heroes WHERE id = $1";
        let row: Option<HeroRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)?;
        row.map(Hero::try_from).transpose()
    }

    /// Whether a hero was deleted.
    pub(crate) async fn delete_hero(&self, id: i64) -> Result<bool, Error> {
        const SQL: &str = "DELETE FROM heroes WHERE id = $1";
        let done = with_writer!(self, pool => sqlx::query(SQL).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    // --- Todo items -------------------------------------------------------------

    pub(crate) async fn insert_todo(
        &self,
        item: &TodoDraft,
        owner: &UserId,
    ) -> Result<TodoItem, Error> {
        const SQL: &str = "INSERT INTO todo_items (title, owner_tenant_id, owner_object_id, created_at) \
             VALUES ($1, $2, $3, $4) \
             RETURNING id, title, owner_tenant_id, owner_object_id, created_at";
        let row: TodoRow = with_writer!(self, pool => sqlx::query_as(SQL)
            .bind(&item.title)
            .bind(&owner.tenant_id)
            .bind(&owner.object_id)
            .bind(now())
            .fetch_one(pool)
            .await)?;
        Ok(row.into())
    }

    /// One page of `owner`'s items, or of everyone's when `owner` is `None`.
    pub(crate) async fn list_todos(
        &self,
        owner: Option<&UserId>,
        page: PageQuery,
    ) -> Result<Vec<TodoItem>, Error> {
        const MINE: &str = "SELECT id, title, owner_tenant_id, owner_object_id, created_at \
             FROM todo_items WHERE owner_tenant_id = $1 AND owner_object_id = $2 AND id > $3 \
             ORDER BY id LIMIT $4";
        const ALL: &str = "SELECT id, title, owner_tenant_id, owner_object_id, created_at \
             FROM todo_items WHERE id > $1 ORDER BY id LIMIT $2";
        let after = page.after.unwrap_or(0);
        let limit = i64::from(page.limit);
        let rows: Vec<TodoRow> = match owner {
            Some(owner) => with_pool!(self, pool => sqlx::query_as(MINE)
                .bind(&owner.tenant_id)
                .bind(&owner.object_id)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await)?,
            None => with_pool!(self, pool => sqlx::query_as(ALL)
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await)?,
        };
        Ok(rows.into_iter().map(TodoItem::from).collect())
    }

    pub(crate) async fn get_todo(&self, id: i64) -> Result<Option<TodoItem>, Error> {
        const SQL: &str = "SELECT id, title, owner_tenant_id, owner_object_id, created_at \
             FROM todo_items WHERE id = $1";
        let row: Option<TodoRow> =
            with_pool!(self, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)?;
        Ok(row.map(TodoItem::from))
    }

    /// Whether an item was deleted.
    pub(crate) async fn delete_todo(&self, id: i64) -> Result<bool, Error> {
        const SQL: &str = "DELETE FROM todo_items WHERE id = $1";
        let done = with_writer!(self, pool => sqlx::query(SQL).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// How many items were deleted.
    pub(crate) async fn delete_all_todos(&self) -> Result<u64, Error> {
        const SQL: &str = "DELETE FROM todo_items";
        Ok(
            with_writer!(self, pool => sqlx::query(SQL).execute(pool).await.map(|r| r.rows_affected()))?,
        )
    }
}

/// A SQLite file (created if missing) in WAL mode, each commit flushed to disk.
/// The read pool and the one-connection write pool of a SQLite database.
async fn open_sqlite(url: &str) -> Result<(SqlitePool, SqlitePool), Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // FULL: a commit is on disk before the answer goes out (NORMAL could
        // lose the last transactions on a power cut).
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let pool = |connections: u32| {
        SqlitePoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_connections(connections)
            // An in-memory database lives as long as one of its connections.
            .min_connections(u32::from(in_memory))
            .idle_timeout((!in_memory).then_some(Duration::from_secs(600)))
            .max_lifetime((!in_memory).then_some(Duration::from_secs(1800)))
    };
    if in_memory {
        // One connection is the database: it reads and writes.
        let only = pool(1).connect_with(options).await?;
        return Ok((only.clone(), only));
    }
    let writer = pool(1).connect_with(options.clone()).await?;
    let readers = pool(8).connect_with(options).await?;
    Ok((readers, writer))
}

/// A PostgreSQL pool, after one plain connection: its error says why
/// (refused, authentication, no such database) where a pool would only
/// report that it timed out.
async fn open_postgres(url: &str) -> Result<PgPool, Error> {
    let options = PgConnectOptions::from_str(url)?;
    PgConnection::connect_with(&options).await?.close().await?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Now, to the millisecond (what both backends store exactly).
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(u32::from(now.millisecond()) * 1_000_000)
        .unwrap_or(now)
}

#[derive(sqlx::FromRow)]
struct HeroRow {
    id: i64,
    name: String,
    secret_name: String,
    age: Option<i32>,
    created_by_kind: String,
    created_by_tenant: String,
    created_by_id: String,
    created_at: OffsetDateTime,
}

impl TryFrom<HeroRow> for Hero {
    type Error = Error;

    fn try_from(row: HeroRow) -> Result<Self, Error> {
        let kind = CallerKind::parse(&row.created_by_kind).ok_or_else(|| {
            Error::Database(sqlx::Error::Decode(
                format!("unknown caller kind {:?}", row.created_by_kind).into(),
            ))
        })?;
        Ok(Hero {
            id: row.id,
            name: row.name,
            secret_name: row.secret_name,
            age: row.age,
            created_by: Caller {
                kind,
                tenant_id: row.created_by_tenant,
                id: row.created_by_id,
            },
            created_at: row.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct TodoRow {
    id: i64,
    title: String,
    owner_tenant_id: String,
    owner_object_id: String,
    created_at: OffsetDateTime,
}

impl From<TodoRow> for TodoItem {
    fn from(row: TodoRow) -> Self {
        TodoItem {
            id: row.id,
            title: row.title,
            owner: UserId {
                tenant_id: row.owner_tenant_id,
                object_id: row.owner_object_id,
            },
            created_at: row.created_at,
        }
    }
}
