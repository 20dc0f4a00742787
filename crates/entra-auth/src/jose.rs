//! Strict parsing of compact JWS tokens (RFC 7515 §7.1, RFC 8725).
//!
//! Nothing here trusts the token: every rule that `jsonwebtoken` and other
//! libraries leave open (padding, alphabet, duplicate members, `crit`, `b64`,
//! embedded keys, JWE) is closed before a signature is ever checked.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::error::InvalidToken;

/// A compact JWS split into its parts, with the header already checked.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// `base64url(header) . base64url(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    /// The decoded payload (its JSON is read only after the signature holds).
    pub(crate) payload: Vec<u8>,
    pub(crate) signature: Vec<u8>,
    pub(crate) header: Header,
}

/// The header members we act on. Everything dangerous is rejected while parsing.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub(crate) kid: Option<String>,
    pub(crate) x5t: Option<String>,
}

/// Header parameters that carry or point to a key, or change how the payload is read.
/// A token that names its own key is never trusted (RFC 8725 §3.10).
const FORBIDDEN_HEADER: &[(&str, InvalidToken)] = &[
    ("jwk", InvalidToken::EmbeddedKey),
    ("jku", InvalidToken::EmbeddedKey),
    ("x5u", InvalidToken::EmbeddedKey),
    ("x5c", InvalidToken::EmbeddedKey),
    ("enc", InvalidToken::Encrypted),
    ("zip", InvalidToken::UnsupportedHeader),
    ("b64", InvalidToken::UnsupportedHeader),
    ("cty", InvalidToken::UnsupportedHeader),
    ("crit", InvalidToken::CriticalHeader),
];

/// Splits and checks a compact JWS. `allowed_algs` is the algorithm allow-list
/// (exact, case-sensitive).
///
/// All three segments are decoded here, before any signature is checked: the
/// strict base64url decoder is the character check (padding, whitespace, the
/// standard alphabet, non-ASCII and stray trailing bits are all refused), so
/// the token is read once instead of scanned and then decoded.
pub(crate) fn parse<'a>(token: &'a str, allowed_algs: &[&str]) -> Result<Parsed<'a>, InvalidToken> {
    if token.is_empty() {
        return Err(InvalidToken::Malformed);
    }
    // A vectorizable count: JWE compact serialization has five parts.
    match token.bytes().filter(|&b| b == b'.').count() {
        2 => {}
        4 => return Err(InvalidToken::Encrypted),
        _ => return Err(InvalidToken::Malformed),
    }
    let mut parts = token.splitn(3, '.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(InvalidToken::Malformed);
    };
    if h.is_empty() || p.is_empty() {
        return Err(InvalidToken::Malformed);
    }
    // The header first: `alg: none` with its empty signature is an algorithm
    // rejection, in the documented order of checks. The payload's encoding is
    // judged before the signature too: a malformed token is malformed, whoever
    // signed it.
    let header_bytes = decode_segment(h)?;
    let payload = decode_segment(p)?;
    let header = parse_header(&header_bytes, allowed_algs)?;
    if s.is_empty() {
        return Err(InvalidToken::BadSignature);
    }
    // Padding, whitespace or a foreign byte is a malformed token; a segment
    // of the right alphabet that is no canonical encoding is a bad signature.
    let signature = match decode_segment(s) {
        Ok(signature) => signature,
        Err(_) if s.bytes().all(is_base64url) => return Err(InvalidToken::BadSignature),
        Err(_) => return Err(InvalidToken::Malformed),
    };
    let signing_input = &token[..h.len() + 1 + p.len()];
    Ok(Parsed {
        signing_input,
        payload,
        signature,
        header,
    })
}

/// base64url without padding, canonical (no stray trailing bits), decoded
/// with SIMD: this runs over every uncached token.
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment)
        .map_err(|_| InvalidToken::Malformed)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn parse_header(bytes: &[u8], allowed_algs: &[&str]) -> Result<Header, InvalidToken> {
    let map = strict_object(bytes)?;
    for (name, reason) in FORBIDDEN_HEADER {
        if map.contains_key(*name) {
            return Err(*reason);
        }
    }
    let alg = match map.get("alg") {
        Some(Value::String(alg)) => alg,
        _ => return Err(InvalidToken::Algorithm),
    };
    if !allowed_algs.contains(&alg.as_str()) {
        return Err(InvalidToken::Algorithm);
    }
    if let Some(typ) = map.get("typ") {
        let Value::String(typ) = typ else {
            return Err(InvalidToken::UnsupportedHeader);
        };
        let typ = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ.as_str(),
        };
        // Entra access tokens say "JWT"; RFC 9068 tokens say "at+jwt". Anything
        // else (logout+jwt, dpop+jwt, secevent+jwt...) is another kind of token.
        if !typ.eq_ignore_ascii_case("jwt") && !typ.eq_ignore_ascii_case("at+jwt") {
            return Err(InvalidToken::UnsupportedHeader);
        }
    }
    let opt_string = |name: &str| -> Result<Option<String>, InvalidToken> {
        match map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Ok(Some(s.clone())),
            Some(_) => Err(InvalidToken::Malformed),
        }
    };
    Ok(Header {
        kid: opt_string("kid")?,
        x5t: opt_string("x5t")?,
    })
}

/// Parses a JSON object, rejecting duplicate member names at any depth
/// (RFC 7515 §4, RFC 7519 §4: the validator and the authorizer must never
/// read two different values), non-objects, and anything that is not UTF-8.
/// `serde_json`'s recursion limit bounds nesting.
pub(crate) fn strict_object(bytes: &[u8]) -> Result<Map<String, Value>, InvalidToken> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue::deserialize_from(&mut de).map_err(|_| InvalidToken::Malformed)?;
    de.end().map_err(|_| InvalidToken::Malformed)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(InvalidToken::Malformed),
    }
}

struct StrictValue;

impl StrictValue {
    fn deserialize_from<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictSeed;

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(StrictSeed)?;
            if map.insert(key, value).is_some() {
                return Err(de::Error::custom("duplicate member"));
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    #[test]
    fn segments_decode_strictly() {
        assert_eq!(decode_segment("aGk").ok().as_deref(), Some(&b"hi"[..]));
        // padding, the standard alphabet, whitespace, non-canonical trailing bits
        for bad in ["aGk=", "a+8", "a/8", "aG k", "aGl", "a", "aGk\n", "é"] {
            assert!(decode_segment(bad).is_err(), "{bad:?}");
            assert_eq!(
                decode_segment(bad).is_err(),
                URL_SAFE_NO_PAD.decode(bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn duplicate_members_are_rejected_at_any_depth() {
        assert!(strict_object(br#"{"a":1,"a":2}"#).is_err());
        assert!(strict_object(br#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(strict_object(br#"{"a":[{"b":1,"b":1}]}"#).is_err());
        assert!(strict_object(br#"{"a":1,"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn non_objects_and_trailing_garbage_are_rejected() {
        assert!(strict_object(b"[]").is_err());
        assert!(strict_object(b"\"x\"").is_err());
        assert!(strict_object(b"{} x").is_err());
        assert!(strict_object(b"\xef\xbb\xbf{}").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        assert!(strict_object(deep.as_bytes()).is_err());
    }
}
