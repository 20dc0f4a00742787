//! The Redis store: a hash per entry, a set per group, written by Lua
//! scripts (`src/redis/*.lua`) so that an entry and its group's index
//! change together. The layout is [`RedisStore`]'s to document.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{Operation, Store, StoreError, StoreFuture, check_group, check_key};

/// The backend's name in errors.
const BACKEND: &str = "Redis";

/// The longest time to live written: an expiry further away is cut to it
/// (Redis refuses times past the 64-bit millisecond range).
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How long connecting, and each command, may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The scripts, sharing the functions of `common.lua`.
struct Scripts {
    get: Script,
    put: Script,
    remove: Script,
    remove_group: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    let common = include_str!("redis/common.lua");
    let with_common = |body: &str| Script::new(&format!("{common}\n{body}"));
    Scripts {
        get: Script::new(include_str!("redis/get.lua")),
        put: with_common(include_str!("redis/put.lua")),
        remove: with_common(include_str!("redis/remove.lua")),
        remove_group: with_common(include_str!("redis/remove_group.lua")),
    }
});

/// Entries in Redis under a key prefix. Cheap to clone; reconnects by
/// itself after a connection loss.
///
/// - The entry of `key` is the hash `{prefix}{key}`: field `v` the value,
///   field `g` the group (absent in no group), expiring with the entry
///   (`PEXPIRE`).
/// - The index of `group` is the set `{prefix}\0{group}`, naming the
///   group's entries. No key contains a NUL character, so no entry has an
///   index's name. Each write or removal in a group drops the index's
///   members that are gone and makes the index expire with its
///   longest-lived entry (never, if one never expires): an index never
///   outlives its entries.
/// - [`remove_group`](Store::remove_group) reads the index: it never scans
///   the keyspace (`SCAN`, `KEYS`).
/// - A value this store did not write (a plain string under an entry's
///   name) reads as absent, and a write replaces it.
///
/// Each operation is one Lua script, run atomically by Redis. The scripts
/// touch the entries an index names, so the store needs a standalone Redis
/// (5 or later), not Redis Cluster.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    /// `{prefix}\0`: a group's index is this followed by the group.
    index_prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn error(operation: Operation) -> impl FnOnce(redis::RedisError) -> StoreError {
    StoreError::from_backend(BACKEND, operation)
}

impl RedisStore {
    /// Connects to `url` (`redis://host:6379/0`, `rediss://` for TLS), checks
    /// that the server answers, and names every entry `{prefix}{key}` (e.g.
    /// `app:tokens:`). Connecting and each command time out after 5
    /// seconds.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(error(Operation::Connect))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(error(Operation::Connect))?;
        let store = Self::new(connection, prefix);
        let mut connection = store.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map_err(error(Operation::Connect))?;
        Ok(store)
    }

    /// Uses an existing connection (another store's: see
    /// [`connection`](Self::connection)) and names every entry
    /// `{prefix}{key}`.
    pub fn new(connection: ConnectionManager, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        RedisStore {
            connection,
            index_prefix: format!("{prefix}\0"),
            prefix,
        }
    }

    /// The connection, to share with another store (another prefix on the
    /// same server).
    pub fn connection(&self) -> &ConnectionManager {
        &self.connection
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of the entry `key`.
    fn entry(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The Redis key of the index of `group`.
    fn index(&self, group: &str) -> String {
        format!("{}{group}", self.index_prefix)
    }
}

impl Store for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            check_key(key)?;
            let mut connection = self.connection.clone();
            SCRIPTS
                .get
                .key(self.entry(key))
                .invoke_async(&mut connection)
                .await
                .map_err(error(Operation::Get))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        group: Option<&'a str>,
        value: &'a [u8],
        expires_at: Option<SystemTime>,
    ) -> StoreFuture<'a, ()> {
        if let Err(e) = check_key(key).and(check_group(group)) {
            return Box::pin(std::future::ready(Err(e)));
        }
        let ttl = match expires_at.map(|at| at.duration_since(SystemTime::now())) {
            None => String::new(),
            Some(Ok(left)) if left.as_millis() > 0 => left.min(MAX_TTL).as_millis().to_string(),
            // Already expired: it must not be readable.
            Some(_) => return self.remove(key),
        };
        Box::pin(async move {
            let mut invocation = SCRIPTS.put.key(self.entry(key));
            if let Some(group) = group {
                invocation.key(self.index(group));
            }
            invocation.arg(&self.index_prefix).arg(value).arg(ttl);
            if let Some(group) = group {
                invocation.arg(group);
            }
            let mut connection = self.connection.clone();
            invocation
                .invoke_async::<()>(&mut connection)
                .await
                .map_err(error(Operation::Put))
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_key(key)?;
            let mut connection = self.connection.clone();
            SCRIPTS
                .remove
                .key(self.entry(key))
                .arg(&self.index_prefix)
                .invoke_async::<()>(&mut connection)
                .await
                .map_err(error(Operation::Remove))
        })
    }

    fn remove_group<'a>(&'a self, group: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            check_group(Some(group))?;
            let mut connection = self.connection.clone();
            SCRIPTS
                .remove_group
                .key(self.index(group))
                .arg(group)
                .invoke_async::<()>(&mut connection)
                .await
                .map_err(error(Operation::RemoveGroup))
        })
    }
}
