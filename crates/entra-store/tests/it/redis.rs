//! The Redis store, a key prefix per test: the contract, expiry, the
//! groups' indexes (no scan, no leak), and values it did not write.

use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use entra_store::{Operation, RedisStore, Store, StoreError};
use redis::aio::MultiplexedConnection;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::contract::{contract, expiry};
use crate::services::{reachable, unique_suffix};

const ADDRESS: &str = "127.0.0.1:6379";

/// A store under a fresh prefix, through `address`, and a connection of the
/// test's own; or `None` (skip) when Redis is unreachable and `CI` is unset.
async fn fresh_prefix_at(address: &str) -> Option<(RedisStore, Raw)> {
    let prefix = format!("entra-store-test:{}:", unique_suffix());
    let connect = async {
        let store = RedisStore::connect(&format!("redis://{address}"), prefix.clone()).await?;
        let raw = redis::Client::open(format!("redis://{ADDRESS}"))
            .map_err(|e| StoreError::backend("Redis", Operation::Connect, e))?
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| StoreError::backend("Redis", Operation::Connect, e))?;
        Ok::<_, StoreError>((
            store,
            Raw {
                connection: raw,
                prefix,
            },
        ))
    };
    let attempt = tokio::time::timeout(Duration::from_secs(10), connect)
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::backend(
                "Redis",
                Operation::Connect,
                "no answer in 10 seconds",
            ))
        });
    reachable(&format!("Redis at {ADDRESS}"), attempt)
}

async fn fresh_prefix() -> Option<(RedisStore, Raw)> {
    fresh_prefix_at(ADDRESS).await
}

/// The test's own connection, to look at what the store wrote.
struct Raw {
    connection: MultiplexedConnection,
    prefix: String,
}

impl Raw {
    /// The index of `group`, as the store names it.
    fn index(&self, group: &str) -> String {
        format!("{}\0{group}", self.prefix)
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &mut redis::Cmd) -> T {
        command
            .query_async(&mut self.connection.clone())
            .await
            .unwrap()
    }

    /// Every key under the prefix.
    async fn keys(&self) -> Vec<String> {
        let pattern = format!("{}*", self.prefix);
        let mut keys: Vec<String> = self.query(redis::cmd("KEYS").arg(pattern)).await;
        keys.sort();
        keys
    }

    /// Deletes every key under the prefix.
    async fn clean(&self) {
        for key in self.keys().await {
            let () = self.query(redis::cmd("DEL").arg(key)).await;
        }
    }

    async fn pttl(&self, key: &str) -> i64 {
        self.query(redis::cmd("PTTL").arg(key)).await
    }

    async fn members(&self, index: &str) -> Vec<String> {
        let mut members: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(index)).await;
        members.sort();
        members
    }
}

#[tokio::test]
async fn redis_store_honours_the_contract() {
    let Some((store, raw)) = fresh_prefix().await else {
        return;
    };
    contract(Arc::new(store)).await;
    raw.clean().await;
}

#[tokio::test]
async fn redis_entries_expire_and_so_do_their_indexes() {
    let Some((store, raw)) = fresh_prefix().await else {
        return;
    };
    expiry(Arc::new(store.clone())).await;
    // Every index went with its group.
    assert!(
        raw.keys().await.iter().all(|k| !k.contains('\0')),
        "{:?}",
        raw.keys().await
    );
    // An index whose entries all expire goes with them.
    let soon = Some(SystemTime::now() + Duration::from_millis(300));
    store.put("a", Some("g"), b"a", soon).await.unwrap();
    assert!(raw.pttl(&raw.index("g")).await > 0);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(raw.pttl(&raw.index("g")).await, -2, "the index is gone");
    raw.clean().await;
}

#[tokio::test]
async fn a_group_index_lives_as_long_as_its_longest_lived_entry() {
    let Some((store, raw)) = fresh_prefix().await else {
        return;
    };
    let in_hours = |h: u64| Some(SystemTime::now() + Duration::from_secs(h * 3600));
    let hour: i64 = 3_600_000;
    let index = raw.index("user");

    store
        .put("at", Some("user"), b"1", in_hours(1))
        .await
        .unwrap();
    store
        .put("rt", Some("user"), b"2", in_hours(2))
        .await
        .unwrap();
    let ttl = raw.pttl(&index).await;
    assert!(ttl > hour && ttl <= 2 * hour, "{ttl}");
    // An entry that never expires keeps its index forever...
    store.put("id", Some("user"), b"3", None).await.unwrap();
    assert_eq!(raw.pttl(&index).await, -1);
    // ...until it goes.
    store.remove("id").await.unwrap();
    let ttl = raw.pttl(&index).await;
    assert!(ttl > hour && ttl <= 2 * hour, "{ttl}");
    // A shorter expiry written over the longest shortens the index's.
    store
        .put("rt", Some("user"), b"2", in_hours(1))
        .await
        .unwrap();
    let ttl = raw.pttl(&index).await;
    assert!(ttl > 0 && ttl <= hour, "{ttl}");
    // The index names exactly the group's live entries.
    let entry = |key: &str| format!("{}{key}", raw.prefix);
    assert_eq!(raw.members(&index).await, [entry("at"), entry("rt")]);
    // An entry moved to another group, or gone, leaves the index.
    store
        .put("at", Some("other"), b"1", in_hours(1))
        .await
        .unwrap();
    assert_eq!(raw.members(&index).await, [entry("rt")]);
    store.remove("rt").await.unwrap();
    assert_eq!(raw.pttl(&index).await, -2, "an empty index is deleted");
    // Expired entries are dropped from the index at its next write.
    let soon = Some(SystemTime::now() + Duration::from_millis(200));
    store.put("short", Some("user"), b"4", soon).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    store
        .put("next", Some("user"), b"5", in_hours(1))
        .await
        .unwrap();
    assert_eq!(raw.members(&index).await, [entry("next")]);
    raw.clean().await;
}

#[tokio::test]
async fn a_group_is_removed_without_scanning_the_keyspace() {
    let Some(proxy) = Proxy::start().await else {
        return;
    };
    let Some((store, raw)) = fresh_prefix_at(&proxy.address).await else {
        return;
    };
    let later = Some(SystemTime::now() + Duration::from_secs(3600));
    for i in 0..300 {
        let key = format!("other|{i}");
        let group = if i % 2 == 0 { None } else { Some("others") };
        store.put(&key, group, b"x", later).await.unwrap();
    }
    store
        .put("alice|at", Some("alice"), b"1", later)
        .await
        .unwrap();
    store
        .put("alice|rt", Some("alice"), b"2", None)
        .await
        .unwrap();
    let before = raw.keys().await.len();

    proxy.sent.lock().unwrap().clear();
    store.remove_group("alice").await.unwrap();
    let commands = commands(&proxy.sent.lock().unwrap());
    assert!(!commands.is_empty());
    for command in &commands {
        assert!(
            ["EVALSHA", "EVAL", "SCRIPT"].contains(&command.as_str()),
            "{commands:?}"
        );
    }
    assert!(commands.len() <= 3, "{commands:?}");

    // Alice's entries and her index are gone; nothing else is.
    assert_eq!(store.get("alice|at").await.unwrap(), None);
    assert_eq!(store.get("alice|rt").await.unwrap(), None);
    assert_eq!(raw.pttl(&raw.index("alice")).await, -2);
    assert_eq!(raw.keys().await.len(), before - 3);
    for i in 0..300 {
        assert!(store.get(&format!("other|{i}")).await.unwrap().is_some());
    }
    raw.clean().await;
}

#[tokio::test]
async fn a_value_the_store_did_not_write_reads_as_absent() {
    let Some((store, raw)) = fresh_prefix().await else {
        return;
    };
    // A plain string, as an older version or another program writes.
    let name = format!("{}legacy", raw.prefix);
    let () = raw.query(redis::cmd("SET").arg(&name).arg("plain")).await;
    assert_eq!(store.get("legacy").await.unwrap(), None);
    store.put("legacy", Some("g"), b"new", None).await.unwrap();
    assert_eq!(store.get("legacy").await.unwrap(), Some(b"new".to_vec()));
    // And an index member that is not an entry of the group is left alone.
    let () = raw
        .query(
            redis::cmd("SET")
                .arg(format!("{}foreign", raw.prefix))
                .arg("x"),
        )
        .await;
    let () = raw
        .query(
            redis::cmd("SADD")
                .arg(raw.index("g"))
                .arg(format!("{}foreign", raw.prefix)),
        )
        .await;
    store.remove_group("g").await.unwrap();
    assert_eq!(store.get("legacy").await.unwrap(), None);
    let foreign: Option<String> = raw
        .query(redis::cmd("GET").arg(format!("{}foreign", raw.prefix)))
        .await;
    assert_eq!(foreign.as_deref(), Some("x"));
    raw.clean().await;
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_with_its_source() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", closed.local_addr().unwrap());
    drop(closed);
    let error = RedisStore::connect(&url, "p:").await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Backend {
                backend: "Redis",
                operation: Operation::Connect,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.source().unwrap().is::<redis::RedisError>(),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("Redis store: cannot connect: "),
        "{error}"
    );
}

/// A TCP proxy in front of Redis that records what clients send.
struct Proxy {
    address: String,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl Proxy {
    /// Listens on `127.0.0.1:0`; `None` (skip) when Redis is unreachable and
    /// `CI` is unset.
    async fn start() -> Option<Proxy> {
        reachable(
            &format!("Redis at {ADDRESS}"),
            TcpStream::connect(ADDRESS).await,
        )?;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(ADDRESS).await else {
                    return;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buffer = [0u8; 16 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut buffer).await {
                        log.lock().unwrap().extend_from_slice(&buffer[..n]);
                        if server_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Some(Proxy { address, sent })
    }
}

/// The names of the commands in `sent` (RESP arrays of bulk strings),
/// upper-cased.
fn commands(sent: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = sent;
    let line = |rest: &mut &[u8]| -> String {
        let end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let text = String::from_utf8_lossy(&rest[..end]).into_owned();
        *rest = &rest[end + 2..];
        text
    };
    while !rest.is_empty() {
        let header = line(&mut rest);
        let count: usize = header.strip_prefix('*').unwrap().parse().unwrap();
        for i in 0..count {
            let length: usize = line(&mut rest).strip_prefix('$').unwrap().parse().unwrap();
            if i == 0 {
                names.push(String::from_utf8_lossy(&rest[..length]).to_ascii_uppercase());
            }
            rest = &rest[length + 2..];
        }
    }
    names
}
