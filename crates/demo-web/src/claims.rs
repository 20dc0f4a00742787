//! Decoding a JWT for display: its header and its claims, never its
//! signature, and never the raw token (`/me/tokens`, as seed 000 shows
//! them, for learning).
//!
//! Nothing here validates: the ID token was validated at sign-in by
//! entra-client, the access token is validated by the API that receives it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// A JWT's header and payload, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) header: Value,
    pub(crate) claims: Value,
}

/// Decodes the first two segments of a compact JWS; `None` when they are not
/// base64url-encoded JSON objects.
pub(crate) fn decode(jwt: &str) -> Option<Decoded> {
    let mut parts = jwt.split('.');
    let header = segment(parts.next()?)?;
    let claims = segment(parts.next()?)?;
    Some(Decoded { header, claims })
}

fn segment(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.is_object().then_some(value)
}

/// Pretty JSON (not yet escaped for HTML).
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_claims_are_decoded_and_the_signature_ignored() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"name":"<b>Alice</b>","scp":"Heroes.Read"}"#);
        let decoded = decode(&format!("{header}.{claims}.c2lnbmF0dXJl"));
        let decoded = decoded.unwrap_or_else(|| panic!("decodes"));
        assert_eq!(decoded.header["kid"], "k1");
        assert_eq!(decoded.claims["scp"], "Heroes.Read");
        assert!(!pretty(&decoded.claims).contains("c2lnbmF0dXJl"));
        assert!(decode("not a token").is_none());
        assert!(decode("e30.bm90IGpzb24.x").is_none());
    }
}
