//! Strict parsing of compact JWS tokens (RFC 7515 §7.1, RFC 8725).
//!
//! Nothing here trusts the token: every rule that `jsonwebtoken` and other
//! libraries leave open (padding, alphabet, duplicate members, `crit`, `b64`,
//! embedded keys, JWE) is closed before a signature is ever checked.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::error::InvalidToken;

/// A compact JWS split into its parts, with the header already checked.
#[derive(Debug)]
pub(crate) struct Parsed<'a> {
    /// `base64url(header) . base64url(payload)`: the bytes the signature covers.
    pub(crate) signing_input: &'a str,
    pub(crate) payload_b64: &'a str,
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

/// Byte classes of a compact JWS: 1 = base64url alphabet, 2 = the dot,
/// 0 = anything else (padding, whitespace, `+`, `/`, JSON...).
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            table[i] = 1;
        }
        i += 1;
    }
    table[b'.' as usize] = 2;
    table
};

/// Splits and checks a compact JWS. `allowed_algs` is the algorithm allow-list
/// (exact, case-sensitive).
pub(crate) fn parse<'a>(token: &'a str, allowed_algs: &[&str]) -> Result<Parsed<'a>, InvalidToken> {
    if token.is_empty() {
        return Err(InvalidToken::Malformed);
    }
    // One table lookup per byte, no branch in the loop: this runs on every
    // uncached request over the whole token.
    let mut dots = 0usize;
    let mut invalid = false;
    for &b in token.as_bytes() {
        let class = CLASS[usize::from(b)];
        invalid |= class == 0;
        dots += usize::from(class == 2);
    }
    if invalid {
        // padding, whitespace, the standard alphabet, JSON serialization...
        return Err(InvalidToken::Malformed);
    }
    match dots {
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
    // rejection, in the documented order of checks.
    let header_bytes = decode_segment(h)?;
    let header = parse_header(&header_bytes, allowed_algs)?;
    if s.is_empty() {
        return Err(InvalidToken::BadSignature);
    }
    let signature = decode_segment(s).map_err(|_| InvalidToken::BadSignature)?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    Ok(Parsed {
        signing_input,
        payload_b64: p,
        signature,
        header,
    })
}

/// base64url without padding, canonical (no stray trailing bits).
pub(crate) fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| InvalidToken::Malformed)
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
        let typ = typ.to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        // Entra access tokens say "JWT"; RFC 9068 tokens say "at+jwt". Anything
        // else (logout+jwt, dpop+jwt, secevent+jwt...) is another kind of token.
        if typ != "jwt" && typ != "at+jwt" {
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
