//! Sessions in Redis: one key per session under a prefix, with a time to
//! live, so that several instances of the app share them.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::store::{SessionStore, StoreFuture};
use crate::error::StoreError;

/// The default key prefix.
pub(crate) const DEFAULT_PREFIX: &str = "demo-web:session:";

/// Sessions in Redis (`SET key record EX ttl`).
#[derive(Clone)]
pub struct RedisSessions {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Connects to `url` (`redis://host:port/db` or `rediss://`) and checks
    /// that the server answers.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::new(format!("invalid Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StoreError::new(format!("cannot connect to Redis: {e}")))?;
        let sessions = RedisSessions {
            connection,
            prefix: DEFAULT_PREFIX.to_owned(),
        };
        let mut connection = sessions.connection.clone();
        let _: String = redis::cmd("PING").query_async(&mut connection).await?;
        Ok(sessions)
    }

    /// Uses another key prefix (several apps on one Redis).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The connection (the token store shares it).
    pub fn connection(&self) -> &ConnectionManager {
        &self.connection
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

impl SessionStore for RedisSessions {
    fn load<'a>(&'a self, key: &'a str, _now: i64) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let record: Option<Vec<u8>> = redis::cmd("GET")
                .arg(self.key(key))
                .query_async(&mut connection)
                .await?;
            Ok(record)
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
            let ttl = expires_at.saturating_sub(now).max(1);
            let mut connection = self.connection.clone();
            let () = redis::cmd("SET")
                .arg(self.key(key))
                .arg(record)
                .arg("EX")
                .arg(ttl)
                .query_async(&mut connection)
                .await?;
            Ok(())
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = redis::cmd("DEL")
                .arg(self.key(key))
                .query_async(&mut connection)
                .await?;
            Ok(())
        })
    }
}
