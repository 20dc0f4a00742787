//! Strict parsing of compact JWS tokens (RFC 7515 §7.1, RFC 8725).
//!
//! Nothing here trusts the token: every rule that `jsonwebtoken` and other
//! libraries leave open (padding, alphabet, duplicate members, `crit`, `b64`,
//! embedded keys, JWE) is closed before a signature is ever checked.
//!
//! - [`parse`]: the structure and the header, by a [`Profile`] (which
//!   algorithms, and whether an `x5c` chain is tolerated); the caller then
//!   verifies [`Parsed::signature`] over [`Parsed::signing_input`] and reads
//!   the payload with [`json`](crate::json) or [`claims`](crate::claims).
//! - [`split`]: the structure only, for showing a token that is not judged
//!   (`entra inspect`, a claims page): the same strict base64url and the same
//!   JSON reader, whatever the header says.
//!
//! ```
//! use entra_core::jws::{self, Profile};
//! use entra_core::InvalidToken;
//!
//! // {"alg":"none"}.{"sub":"x"}.
//! let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
//! assert_eq!(jws::parse(unsigned, &Profile::ACCESS_TOKEN).unwrap_err(), InvalidToken::Algorithm);
//! // Shown, never trusted.
//! let shown = jws::split(unsigned).unwrap();
//! assert_eq!(shown.header()?["alg"], "none");
//! # Ok::<(), InvalidToken>(())
//! ```

use serde_json::{Map, Value};

use crate::json::{self, Json, Members};
use crate::reason::InvalidToken;

/// What a kind of token may use in its header.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'p> {
    /// The algorithm allow-list (exact, case-sensitive).
    pub algorithms: &'p [&'p str],
    /// Whether an `x5c` chain is tolerated (and ignored: the key always comes
    /// from the verifier's own registration). Entra accepts it in client
    /// assertions, where MSAL sends it for subject-name/issuer certificate
    /// authentication. `jwk`, `jku` and `x5u` are refused whatever this says.
    pub ignore_x5c: bool,
}

impl Profile<'static> {
    /// Entra ID access and ID tokens: `RS256` only, no key in the header.
    pub const ACCESS_TOKEN: Profile<'static> = Profile {
        algorithms: &["RS256"],
        ignore_x5c: false,
    };

    /// Client assertions (RFC 7523) as Entra takes them: `RS256` or `PS256`,
    /// a certificate chain tolerated.
    pub const CLIENT_ASSERTION: Profile<'static> = Profile {
        algorithms: &["RS256", "PS256"],
        ignore_x5c: true,
    };
}

/// A compact JWS split into its parts and decoded, nothing judged yet.
#[derive(Debug)]
pub struct Segments<'a> {
    /// `base64url(header) . base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded header (JSON, not yet read).
    pub header: Vec<u8>,
    /// The decoded payload (JSON, not yet read).
    pub payload: Vec<u8>,
    /// The decoded signature (empty for `alg: none`).
    pub signature: Vec<u8>,
}

impl Segments<'_> {
    /// The header as a JSON map, read strictly.
    pub fn header(&self) -> Result<Map<String, Value>, InvalidToken> {
        json::to_map(&self.header)
    }

    /// The payload as a JSON map, read strictly.
    pub fn claims(&self) -> Result<Map<String, Value>, InvalidToken> {
        json::to_map(&self.payload)
    }
}

/// A compact JWS split into its parts, with the header already checked.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// `base64url(header) . base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'a str,
    /// The decoded payload (its JSON is read only after the signature holds).
    pub payload: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
    /// The header members a verifier acts on.
    pub header: Header,
}

/// The header members a verifier acts on. Everything dangerous was refused
/// while parsing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// `alg`, one of the profile's algorithms.
    pub alg: String,
    /// `kid`: which published key signed the token.
    pub kid: Option<String>,
    /// `x5t`: the SHA-1 thumbprint of the signing certificate (base64url).
    pub x5t: Option<String>,
    /// `x5t#S256`: the SHA-256 thumbprint of the signing certificate.
    pub x5t_s256: Option<String>,
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
    x5t_s256: Option<Json<'a>>,
    x5c: Option<Json<'a>>,
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
            "x5t#S256" => return Some(&mut self.x5t_s256),
            "x5c" => return Some(&mut self.x5c),
            "jwk" | "jku" | "x5u" => InvalidToken::EmbeddedKey,
            "enc" => InvalidToken::Encrypted,
            "zip" | "b64" | "cty" => InvalidToken::UnsupportedHeader,
            "crit" => InvalidToken::CriticalHeader,
            _ => return None,
        };
        self.forbidden.get_or_insert(reason);
        None
    }
}

/// Splits and decodes a compact JWS without judging its header: exactly three
/// segments (five is a JWE), each strict base64url without padding, the
/// first two non-empty.
///
/// All three segments are decoded here: the strict base64url decoder is the
/// character check (padding, whitespace, the standard alphabet, non-ASCII and
/// stray trailing bits are all refused), so the token is read once instead of
/// scanned and then decoded.
pub fn split(token: &str) -> Result<Segments<'_>, InvalidToken> {
    let (h, p, s) = segments(token)?;
    let header = decode_segment(h)?;
    let payload = decode_segment(p)?;
    Ok(Segments {
        signing_input: &token[..h.len() + 1 + p.len()],
        header,
        payload,
        signature: decode_signature(s)?,
    })
}

fn segments(token: &str) -> Result<(&str, &str, &str), InvalidToken> {
    if token.is_empty() {
        return Err(InvalidToken::Malformed);
    }
    // JWE compact serialization has five parts.
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
    Ok((h, p, s))
}

/// Padding, whitespace or a foreign byte is a malformed token; a segment of
/// the right alphabet that is no canonical encoding is a bad signature.
fn decode_signature(s: &str) -> Result<Vec<u8>, InvalidToken> {
    match decode_segment(s) {
        Ok(signature) => Ok(signature),
        Err(_) if s.bytes().all(is_base64url) => Err(InvalidToken::BadSignature),
        Err(_) => Err(InvalidToken::Malformed),
    }
}

/// Splits and checks a compact JWS: the structure ([`split`]'s rules) and the
/// header by `profile`. The signature is left to the caller, who has the key.
pub fn parse<'a>(token: &'a str, profile: &Profile<'_>) -> Result<Parsed<'a>, InvalidToken> {
    let (h, p, s) = segments(token)?;
    // The header first: `alg: none` with its empty signature is an algorithm
    // rejection, in the documented order of checks. The payload's encoding is
    // judged before the signature too: a malformed token is malformed, whoever
    // signed it.
    let header_bytes = decode_segment(h)?;
    let payload = decode_segment(p)?;
    let header = parse_header(&header_bytes, profile)?;
    if s.is_empty() {
        return Err(InvalidToken::BadSignature);
    }
    let signature = decode_signature(s)?;
    Ok(Parsed {
        signing_input: &token[..h.len() + 1 + p.len()],
        payload,
        signature,
        header,
    })
}

/// base64url without padding, canonical (no stray trailing bits), decoded
/// with SIMD: this runs over every uncached token.
pub fn decode_segment(segment: &str) -> Result<Vec<u8>, InvalidToken> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(segment)
        .map_err(|_| InvalidToken::Malformed)
}

/// base64url without padding: how every JWS segment and JWK member is written.
pub fn encode_segment(bytes: &[u8]) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(bytes)
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn parse_header(bytes: &[u8], profile: &Profile<'_>) -> Result<Header, InvalidToken> {
    let header: HeaderMembers<'_> = json::read_object(bytes)?;
    if let Some(reason) = header.forbidden {
        return Err(reason);
    }
    if header.x5c.is_some() && !profile.ignore_x5c {
        return Err(InvalidToken::EmbeddedKey);
    }
    let alg = match header.alg.as_ref().and_then(Json::as_str) {
        Some(alg) if profile.algorithms.contains(&alg) => alg.to_owned(),
        _ => return Err(InvalidToken::Algorithm),
    };
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
        alg,
        kid: opt_string(header.kid)?,
        x5t: opt_string(header.x5t)?,
        x5t_s256: opt_string(header.x5t_s256)?,
    })
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
}
