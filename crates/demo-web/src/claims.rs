//! Decoding a JWT for display: its header and its claims, never its
//! signature, and never the raw token (`/me/tokens`, for learning).
//!
//! Nothing here validates: the ID token was validated at sign-in by
//! entra-client, the access token is validated by the API that receives it.
//! Reading is the token core's, strict as everywhere else
//! ([`entra_core::jws::split`]).

use serde_json::Value;

/// A JWT's header and payload, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decoded {
    pub(crate) header: Value,
    pub(crate) claims: Value,
}

/// Decodes the header and payload of a compact JWS; `None` when it is not
/// one (three strict base64url segments, two JSON objects without repeated
/// member names).
pub(crate) fn decode(jwt: &str) -> Option<Decoded> {
    let segments = entra_core::jws::split(jwt).ok()?;
    Some(Decoded {
        header: Value::Object(segments.header().ok()?),
        claims: Value::Object(segments.claims().ok()?),
    })
}

/// Pretty JSON (not yet escaped for HTML).
pub(crate) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use entra_core::jws::encode_segment;

    #[test]
    fn header_and_claims_are_decoded_and_the_signature_ignored() {
        let header = encode_segment(br#"{"alg":"RS256","kid":"k1"}"#);
        let claims = encode_segment(br#"{"name":"<b>Alice</b>","scp":"Heroes.Read"}"#);
        let decoded = decode(&format!("{header}.{claims}.c2lnbmF0dXJl"));
        let decoded = decoded.unwrap_or_else(|| panic!("decodes"));
        assert_eq!(decoded.header["kid"], "k1");
        assert_eq!(decoded.claims["scp"], "Heroes.Read");
        assert!(!pretty(&decoded.claims).contains("c2lnbmF0dXJl"));
        assert!(decode("not a token").is_none());
        assert!(decode("e30.bm90IGpzb24.x").is_none());
    }
}
