//! [`StoreError`]: why a store refused or failed, keeping the backend's own
//! error as its [`source`](std::error::Error::source).

use std::fmt;

/// A boxed error of a backend (sqlx, redis, or a store of your own).
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
///
/// Never holds a value, and never a key: keys can name a user (the token
/// cache) or derive from a secret (sessions).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key contains a NUL character (`\0`), which no store accepts.
    #[error("a store key cannot contain a NUL character")]
    InvalidKey,

    /// The group contains a NUL character (`\0`), which no store accepts.
    #[error("a store group cannot contain a NUL character")]
    InvalidGroup,

    /// A table name that is not letters, digits and `_` (not starting with a
    /// digit), or is longer than 52 bytes (its index names must fit
    /// PostgreSQL's 63).
    #[error("{0:?} is not a valid table name (letters, digits and _, at most 52 bytes)")]
    InvalidTableName(String),

    /// The table exists, but without the columns this crate writes (`key`,
    /// `group_name`, `value`, `expires_at`): another program's table, or one
    /// written by an older version. Drop it, or use another table.
    #[error(
        "the table {table:?} exists with other columns than key, group_name, value, expires_at: {source}"
    )]
    TableLayout {
        /// The table.
        table: String,
        /// The database's answer to a query of those columns.
        #[source]
        source: BoxError,
    },

    /// The backend failed: unreachable, refused the credentials, a query or
    /// command failed. `source` is the backend's own error (`sqlx::Error`,
    /// `redis::RedisError`, ...).
    #[error("{backend} store: cannot {operation}: {source}")]
    Backend {
        /// Which backend: `SQLite`, `PostgreSQL`, `Redis`, or a store's own name.
        backend: &'static str,
        /// What it was doing.
        operation: Operation,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// The backend `backend` failed at `operation` because of `source`.
    pub fn backend(
        backend: &'static str,
        operation: Operation,
        source: impl Into<BoxError>,
    ) -> Self {
        StoreError::Backend {
            backend,
            operation,
            source: source.into(),
        }
    }

    /// A function turning a backend error into a [`StoreError`], for
    /// `map_err`.
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "redis"))]
    pub(crate) fn from_backend<E: Into<BoxError>>(
        backend: &'static str,
        operation: Operation,
    ) -> impl FnOnce(E) -> StoreError {
        move |source| StoreError::backend(backend, operation, source)
    }
}

/// What a store was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Opening the database or connecting to the server.
    Connect,
    /// Creating the table (or its indexes).
    CreateTable,
    /// [`Store::get`](crate::Store::get).
    Get,
    /// [`Store::put`](crate::Store::put).
    Put,
    /// [`Store::remove`](crate::Store::remove).
    Remove,
    /// [`Store::remove_group`](crate::Store::remove_group).
    RemoveGroup,
    /// Deleting expired entries.
    PurgeExpired,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Connect => "connect",
            Operation::CreateTable => "create its table",
            Operation::Get => "read an entry",
            Operation::Put => "write an entry",
            Operation::Remove => "remove an entry",
            Operation::RemoveGroup => "remove a group",
            Operation::PurgeExpired => "delete expired entries",
        })
    }
}
