//! What the tests of one backend need: unique names, and the rule for a
//! missing service (skip, unless `CI` is set).
// SQLite alone needs no service.
#![cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(dead_code))]

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether a missing service is a failure (`CI` set, and not `0` or
/// `false`) rather than a reason to skip.
pub(crate) fn services_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The connection `attempt` made to `service`, or `None` (the test skips,
/// saying so) when it failed and `CI` is unset. Panics when it failed and
/// `CI` is set.
pub(crate) fn reachable<T, E: Display>(service: &str, attempt: Result<T, E>) -> Option<T> {
    match attempt {
        Ok(connection) => Some(connection),
        Err(e) if services_required() => {
            panic!("{service} is required (CI is set) but unreachable: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {service} is unreachable ({e}); set CI=1 to make this a failure");
            None
        }
    }
}

/// A lowercase name part no other test, run or process uses.
pub(crate) fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}_{nanos:x}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
