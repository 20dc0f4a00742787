//! [`Error`]: why the web app could not start.
//!
//! Failures while serving a request never surface as an [`Error`]: each is a
//! page with its own status (`400` for a forged or stale callback, `403` for
//! a missing anti-forgery token, `502` when the API or the identity provider
//! cannot be reached...), built where it happens.

/// Why [`DemoWeb::start`](crate::DemoWeb::start) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or contradicts itself: a public base
    /// URL with a path, an API URL that is not `http(s)`, no API scope, an
    /// empty secret, a zero timeout.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// entra-client refused the identity provider settings (authority host,
    /// tenant, client id, redirect URI).
    #[error("the sign-in client cannot be built: {0}")]
    Client(#[from] entra_client::Error),

    /// The session store could not be opened: the SQLite file cannot be
    /// created or migrated, or Redis does not answer.
    #[error("{0}")]
    Store(#[from] StoreError),

    /// The listener failed (its address could not be read).
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A session store failed: the database or Redis is unreachable, or a query
/// failed. Never holds a session id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("session store: {message}")]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError {
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::new(format!("SQLite: {e}"))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::new(format!("SQLite migration: {e}"))
    }
}

impl From<redis::RedisError> for StoreError {
    fn from(e: redis::RedisError) -> Self {
        StoreError::new(format!("Redis: {e}"))
    }
}
