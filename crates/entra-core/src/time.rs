//! Times for people: civil UTC and "in 59 min" / "3 h ago".

/// A civil date and time in UTC, from seconds since the Unix epoch.
///
/// Displayed as `2026-11-24 10:00:00`; callers add the zone as their
/// readers expect it (`Z` in Entra's error timestamps, ` UTC` for people).
///
/// ```
/// use entra_core::time::Utc;
/// assert_eq!(Utc::from_unix(951_782_400).to_string(), "2000-02-29 00:00:00");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Utc {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
}

impl Utc {
    /// The civil time of `unix` seconds (Howard Hinnant's algorithm).
    pub fn from_unix(unix: i64) -> Self {
        let days = unix.div_euclid(86_400);
        let secs = unix.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        Utc {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: secs / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
        }
    }
}

impl std::fmt::Display for Utc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// `in 59 min`, `3 h ago`, `now`, for a difference in seconds.
///
/// ```
/// assert_eq!(entra_core::time::relative(-100), "100 s ago");
/// assert_eq!(entra_core::time::relative(3_600), "in 60 min");
/// ```
pub fn relative(delta: i64) -> String {
    let magnitude = delta.unsigned_abs();
    if magnitude < 2 {
        return "now".to_owned();
    }
    let amount = match magnitude {
        0..=119 => format!("{magnitude} s"),
        120..=5_999 => format!("{} min", magnitude / 60),
        6_000..=172_799 => format!("{} h", magnitude / 3600),
        _ => format!("{} days", magnitude / 86_400),
    };
    if delta >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_civil_utc() {
        let utc = |t| Utc::from_unix(t).to_string();
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(utc(-1), "1969-12-31 23:59:59");
        assert_eq!(relative(-30), "30 s ago");
        assert_eq!(relative(-100), "100 s ago");
        assert_eq!(relative(3_600), "in 60 min");
        assert_eq!(relative(-7_200), "2 h ago");
        assert_eq!(relative(1), "now");
    }
}
