//! The Redis store: one key per entry under a prefix, with a time to live.

use std::time::SystemTime;

use redis::aio::ConnectionManager;

use super::{StoreError, StoreFuture, TokenStore};

fn redis_error(what: &str) -> impl FnOnce(redis::RedisError) -> StoreError + '_ {
    move |e| StoreError::with_source(format!("Redis: {what}"), e)
}

/// Cache entries as Redis strings named `{prefix}{key}`, expiring with
/// their entry (`PX`). Reconnects by itself after a connection loss.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://127.0.0.1:6379`, `rediss://` for TLS) and
    /// names every key `{prefix}{key}` (e.g. `entra:`).
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error("bad URL"))?;
        let connection = ConnectionManager::new(client)
            .await
            .map_err(redis_error("cannot connect"))?;
        Ok(Self::new(connection, prefix))
    }

    /// Uses an existing connection manager.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        RedisStore {
            connection,
            prefix: prefix.into(),
        }
    }

    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

/// `prefix*` as a SCAN pattern, with the glob characters of `prefix` escaped.
fn pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 2);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('*');
    out
}

impl TokenStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("GET")
                .arg(self.name(key))
                .query_async::<Option<Vec<u8>>>(&mut connection)
                .await
                .map_err(redis_error("cannot read"))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let mut cmd = redis::cmd("SET");
            cmd.arg(self.name(key)).arg(value);
            if let Some(at) = expires_at {
                let millis = at
                    .duration_since(SystemTime::now())
                    .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
                    .unwrap_or(0);
                if millis == 0 {
                    // Already expired: it must not be readable.
                    return redis::cmd("DEL")
                        .arg(self.name(key))
                        .query_async::<()>(&mut connection)
                        .await
                        .map_err(redis_error("cannot delete"));
                }
                cmd.arg("PX").arg(millis);
            }
            cmd.query_async::<()>(&mut connection)
                .await
                .map_err(redis_error("cannot write"))
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            redis::cmd("DEL")
                .arg(self.name(key))
                .query_async::<()>(&mut connection)
                .await
                .map_err(redis_error("cannot delete"))
        })
    }

    fn remove_prefix<'a>(&'a self, prefix: &'a str) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let pattern = pattern(&self.name(prefix));
            let mut cursor: u64 = 0;
            let mut removed = 0u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(500)
                    .query_async(&mut connection)
                    .await
                    .map_err(redis_error("cannot scan"))?;
                if !keys.is_empty() {
                    let n: u64 = redis::cmd("DEL")
                        .arg(&keys)
                        .query_async(&mut connection)
                        .await
                        .map_err(redis_error("cannot delete"))?;
                    removed += n;
                }
                if next == 0 {
                    return Ok(removed);
                }
                cursor = next;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_patterns_escape_globs() {
        assert_eq!(pattern("a|b*c?[d]\\"), "a|b\\*c\\?\\[d\\]\\\\*");
    }
}
