//! Small helpers: ids, random values, digests, time formatting, HTML escaping.

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A random version-4 GUID.
pub(crate) fn random_guid() -> String {
    let mut b = [0u8; 16];
    fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    entra_core::guid_from_bytes(b)
}

/// A GUID derived from `parts` (stable across restarts): SHA-256, version 5 layout.
pub(crate) fn derived_guid(parts: &[&str]) -> String {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for part in parts {
        ctx.update(part.as_bytes());
        ctx.update(b"\x00");
    }
    let mut b = [0u8; 16];
    b.copy_from_slice(&ctx.finish().as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    entra_core::guid_from_bytes(b)
}

/// `n` random bytes, base64url: codes, refresh tokens, device codes.
pub(crate) fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Fills `buf` from the system's secure random generator.
pub(crate) fn fill(buf: &mut [u8]) {
    // The system generator does not fail on supported platforms; if it ever
    // did, an all-zero value would be caught by the unique-code checks.
    let _ = aws_lc_rs::rand::fill(buf);
}

/// base64url(SHA-256(data)).
pub(crate) fn sha256_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, data))
}

/// base64url(SHA-1(data)): certificate thumbprints (`x5t`).
pub(crate) fn sha1_b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data))
}

/// base64url without padding.
pub(crate) fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `2016-01-09 02:02:12Z`, as Entra's error bodies write timestamps.
pub(crate) fn entra_timestamp(unix: i64) -> String {
    format!("{}Z", entra_core::time::Utc::from_unix(unix))
}

pub(crate) use entra_core::{html_escape, secrets_equal};

/// The system clock, in Unix seconds.
pub(crate) fn now() -> i64 {
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
