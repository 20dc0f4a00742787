//! Comparing secrets (client secrets, `state`, nonces, CSRF tokens) in time
//! independent of where they differ.

/// Whether `a` and `b` are equal, compared in constant time (for equal
/// lengths; the length itself is not secret).
///
/// ```
/// use entra_core::secrets_equal;
/// assert!(secrets_equal("s3cret", "s3cret"));
/// assert!(!secrets_equal("s3cret", "s3creT"));
/// assert!(!secrets_equal("s3cret", "s3cre"));
/// ```
pub fn secrets_equal(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}
