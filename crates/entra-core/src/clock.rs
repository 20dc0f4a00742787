//! [`Clock`]: the time every rule and cache reads, fixed or shifted in tests.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A clock: seconds since the Unix epoch. Cheap to clone.
///
/// ```
/// use entra_core::Clock;
///
/// let fixed = Clock::from_fn(|| 1_800_000_000);
/// assert_eq!(fixed.now(), 1_800_000_000);
/// assert!(Clock::offset(60).now() > Clock::system().now());
/// ```
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock(Arc::new(system_now))
    }

    /// A clock that reads `f`: fixed or shifted time in tests.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The system clock moved by `offset` seconds.
    pub fn offset(offset: i64) -> Self {
        Clock(Arc::new(move || system_now().saturating_add(offset)))
    }

    /// Now, in seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

fn system_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
