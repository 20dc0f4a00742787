//! GUIDs, as Entra writes tenant, object and application ids.

/// Whether `s` is `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal
/// digits (either case), and nothing else.
///
/// ```
/// use entra_core::is_guid;
/// assert!(is_guid("72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// assert!(!is_guid("72f988bf86f141af91ab2d7cd011db47"));
/// assert!(!is_guid(" 72f988bf-86f1-41af-91ab-2d7cd011db47"));
/// ```
pub fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Writes 16 bytes as a GUID, marking them as RFC 9562 variant 1 (the
/// version nibble is the caller's; a zero one becomes 4).
///
/// ```
/// let guid = entra_core::guid_from_bytes([0xab; 16]);
/// assert_eq!(guid, "abababab-abab-abab-abab-abababababab");
/// assert!(entra_core::is_guid(&guid));
/// ```
pub fn guid_from_bytes(mut b: [u8; 16]) -> String {
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

/// A random (version 4) GUID, as Entra's correlation ids and `jti`s look.
///
/// ```
/// let guid = entra_core::random_guid().unwrap();
/// assert!(entra_core::is_guid(&guid));
/// assert_eq!(&guid[14..15], "4");
/// ```
pub fn random_guid() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    Ok(guid_from_bytes(b))
}
