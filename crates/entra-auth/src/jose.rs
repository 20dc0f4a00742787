//! Strict parsing of compact JWS tokens (RFC 7515 §7.1, RFC 8725).
//!
//! Nothing here trusts the token: every rule that `jsonwebtoken` and other
//! libraries leave open (padding, alphabet, duplicate members, `crit`, `b64`,
//! embedded keys, JWE) is closed before a signature is ever checked.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::error::InvalidToken;
use crate::json::{self, Json, Members};

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

/// The header members read while parsing. Any member that carries or points
/// to a key is refused, since a token that names its own key is never trusted
/// (RFC 8725 §3.10), and so is any member that changes how the payload is read.
#[derive(Debug, Default)]
struct HeaderMembers<'a> {
    alg: Option<Json<'a>>,
    typ: Option<Json<'a>>,
    kid: Option<Json<'a>>,
    x5t: Option<Json<'a>>,
    /// The first forbidden member seen, as the reason it is refused.
    forbidden: Option<InvalidToken>,
}

impl<'a> Members<'a> for HeaderMembers<'a> {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>> {
        let reason = match name {
            "alg" => return Some(&mut self.alg),
            "typ" => return Some(&mut self.typ),
            "kid" => return Some(&mut self.kid),
            "x5t" => return Some(&mut self.x5t),
            "jwk" | "jku" | "x5u" | "x5c" => InvalidToken::EmbeddedKey,
            "enc" => InvalidToken::Encrypted,
            "zip" | "b64" | "cty" => InvalidToken::UnsupportedHeader,
            "crit" => InvalidToken::CriticalHeader,
            _ => return None,
        };
        self.forbidden.get_or_insert(reason);
        None
    }
}

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
    // Two dots, found with memchr. JWE compact serialization has five parts.
    let (h, rest) = token.split_once('.').ok_or(InvalidToken::Malformed)?;
    let (p, s) = rest.split_once('.').ok_or(InvalidToken::Malformed)?;
    if s.contains('.') {
        return Err(match s.bytes().filter(|&b| b == b'.').count() {
            2 => InvalidToken::Encrypted,
            _ => InvalidToken::Malformed,
        });
    }
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
    let header: HeaderMembers<'_> = json::read_object(bytes)?;
    if let Some(reason) = header.forbidden {
        return Err(reason);
    }
    match header.alg.as_ref().and_then(Json::as_str) {
        Some(alg) if allowed_algs.contains(&alg) => {}
        _ => return Err(InvalidToken::Algorithm),
    }
    if let Some(typ) = &header.typ {
        let Some(typ) = typ.as_str() else {
            return Err(InvalidToken::UnsupportedHeader);
        };
        let typ = match typ.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        };
        // Entra access tokens say "JWT"; RFC 9068 tokens say "at+jwt". Anything
        // else (logout+jwt, dpop+jwt, secevent+jwt...) is another kind of token.
        if !typ.eq_ignore_ascii_case("jwt") && !typ.eq_ignore_ascii_case("at+jwt") {
            return Err(InvalidToken::UnsupportedHeader);
        }
    }
    let opt_string = |member: Option<Json<'_>>| -> Result<Option<String>, InvalidToken> {
        match member {
            None => Ok(None),
            Some(Json::Str(s)) if !s.is_empty() && s.len() <= 256 => Ok(Some(s.into_owned())),
            Some(_) => Err(InvalidToken::Malformed),
        }
    };
    Ok(Header {
        kid: opt_string(header.kid)?,
        x5t: opt_string(header.x5t)?,
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
