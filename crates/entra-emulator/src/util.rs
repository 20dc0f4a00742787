//! Small helpers: ids, random values, digests, time formatting, HTML escaping.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A random version-4 GUID.
pub fn random_guid() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    guid_from(b)
}

/// A GUID derived from `parts` (stable across restarts): SHA-256, version 5 layout.
pub fn derived_guid(parts: &[&str]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part.as_bytes());
        ctx.update(b"\x00");
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&ctx.finish().as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    guid_from(b)
}

fn guid_from(mut b: [u8; 16]) -> String {
    if b[6] >> 4 == 0 {
        b[6] |= 0x40;
    }
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `n` random bytes, base64url: codes, refresh tokens, device codes.
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Fills `buf` from the system's secure random generator.
pub fn fill(buf: &mut [u8]) {
    // The system generator does not fail on supported platforms; if it ever
    // did, an all-zero value would be caught by the unique-code checks.
    let _ = aws_lc_rs::rand::fill(buf);
}

/// base64url(SHA-256(data)).
pub fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, data))
}

/// base64url(SHA-1(data)): certificate thumbprints (`x5t`).
pub fn sha1_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data))
}

/// base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `2016-01-09 02:02:12Z`, as Entra's error bodies write timestamps.
pub fn entra_timestamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Compares two secrets in constant time.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The system clock, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_entras_format() {
        assert_eq!(entra_timestamp(0), "1970-01-01 00:00:00Z");
        assert_eq!(entra_timestamp(1_452_304_932), "2016-01-09 02:02:12Z");
    }

    #[test]
    fn derived_guids_are_stable_and_well_formed() {
        let a = derived_guid(&["sp", "x"]);
        assert_eq!(a, derived_guid(&["sp", "x"]));
        assert_ne!(a, derived_guid(&["sp", "y"]));
        assert!(crate::config::is_guid(&a));
        assert!(crate::config::is_guid(&random_guid()));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            html_escape("<script>\"'&"),
            "&lt;script&gt;&quot;&#x27;&amp;"
        );
    }
}
