//! Where the token cache keeps its entries: a [`Store`] from
//! [`entra_store`], holding opaque bytes under string keys, each with an
//! optional expiry and an optional group.
//!
//! - [`MemoryStore`]: in this process (the default).
//! - `SqliteStore` (feature `sqlite`), `PostgresStore` (feature `postgres`):
//!   one table, created if missing.
//! - `RedisStore` (feature `redis`): a hash per entry under a prefix, with a
//!   time to live, and a set per group.
//!
//! The cache puts each user's tokens in one group (see [`crate::cache`]),
//! so that [`Client::remove_account`](crate::Client::remove_account) removes
//! them with one [`Store::remove_group`]: on Redis, without scanning the
//! keyspace.
//!
//! Entries hold access and refresh tokens in clear: protect the database or
//! the Redis instance as you would protect the tokens themselves.
//!
//! A store of your own implements [`Store`] (see [`entra_store`]'s docs for
//! an example) and goes to
//! [`ClientBuilder::token_store`](crate::ClientBuilder::token_store).
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn sqlite() -> Result<(), entra_client::Error> {
//! use entra_client::Client;
//! use entra_client::store::SqliteStore;
//!
//! let store = SqliteStore::connect("sqlite:tokens.db", "entra_token_cache").await?;
//! let client = Client::builder("contoso.onmicrosoft.com", "3f7a1c52-8d6e-4b0a-9e21-5c4d7b8a9f10")
//!     .token_store(store)
//!     .build()?;
//! # drop(client);
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "postgres")]
pub use entra_store::PostgresStore;
#[cfg(feature = "redis")]
pub use entra_store::RedisStore;
#[cfg(feature = "sqlite")]
pub use entra_store::SqliteStore;
pub use entra_store::{MemoryStore, Operation, Store, StoreError, StoreFuture};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use entra_store::{SqlDatabase, SqlStore};
