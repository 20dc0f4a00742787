//! entra-store's tests, for real: one contract run against every store, and
//! each backend's own behaviour, against SQLite (temporary files),
//! PostgreSQL (127.0.0.1:5432, a table per test) and Redis (127.0.0.1:6379,
//! a key prefix per test).
//!
//! A test needing PostgreSQL or Redis skips (and says so) when the service
//! is unreachable and `CI` is unset; with `CI` set it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;
#[cfg(any(feature = "postgres", feature = "redis", feature = "sqlite"))]
mod services;
#[cfg(feature = "sqlite")]
mod sqlite;
