//! Where the users' tokens live: entra-client's token cache, in a store
//! that matches the session backend, so that every instance that can read a
//! session can also call the API for its user (C22: tokens stay on the
//! server; the browser only ever holds the session cookie).
//!
//! - SQLite: the table `entra_token_cache` in the sessions' database file.
//! - Redis: keys under `{prefix}token:` (`demo-web:token:` by default), with
//!   a time to live.

use std::sync::Arc;

use entra_client::store::{RedisStore, SqliteStore, TokenStore};
use sqlx::SqlitePool;

use crate::error::StoreError;
use crate::session::RedisSessions;

/// The token table in the SQLite file.
pub(crate) const SQLITE_TABLE: &str = "entra_token_cache";

/// Tokens in the sessions' SQLite database.
pub(crate) async fn sqlite(pool: &SqlitePool) -> Result<Arc<dyn TokenStore>, StoreError> {
    let store = SqliteStore::new(pool.clone(), SQLITE_TABLE)
        .await
        .map_err(|e| StoreError::new(format!("token store: {e}")))?;
    Ok(Arc::new(store))
}

/// Tokens in the sessions' Redis, under `{prefix}token:`.
pub(crate) fn redis(sessions: &RedisSessions, prefix: &str) -> Arc<dyn TokenStore> {
    Arc::new(RedisStore::new(
        sessions.connection().clone(),
        format!("{prefix}token:"),
    ))
}
