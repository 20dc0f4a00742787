//! The differential checks of the token core, written once: the property
//! tests in this binary and the fuzz targets in `fuzz/` (which include this
//! file by path) call the same functions. Each returns what disagreed, as
//! text, so proptest can shrink it and libFuzzer can report it.
//!
//! Nothing here shares code with `entra_core`: the duplicate-name check is a
//! scanner of its own, the syntax is `serde_json`'s own verdict, and base64
//! is the `base64` crate's.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_core::InvalidToken;
use entra_core::json::{self, Json, Members};
use entra_core::jws::{self, Profile};
use serde_json::{Map, Value};

/// A reader that keeps member `a`, the path a validator reads a claim by.
#[derive(Debug, Default)]
pub(crate) struct KeepA<'a> {
    pub(crate) a: Option<Json<'a>>,
}

impl<'a> Members<'a> for KeepA<'a> {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>> {
        (name == "a").then_some(&mut self.a)
    }
}

/// What the strict reader must make of `bytes`: the object, exactly when
/// `serde_json` reads one object from them and no object at any depth has
/// two members of one name once the names are unescaped.
pub(crate) fn expected_object(bytes: &[u8]) -> Result<Option<Map<String, Value>>, String> {
    let Ok(map) = serde_json::from_slice::<Map<String, Value>>(bytes) else {
        return Ok(None);
    };
    match repeats_a_name(bytes) {
        Some(true) => Ok(None),
        Some(false) => Ok(Some(map)),
        None => Err("serde_json read an object the scanner cannot read".to_owned()),
    }
}

/// `json::read_object` and `json::to_map` against [`expected_object`]: the
/// same verdict (a refusal is `Malformed`), the same map, and the same value
/// for a member the reader keeps.
pub(crate) fn check_reader(bytes: &[u8]) -> Result<(), String> {
    let expected = expected_object(bytes)?;
    let read = json::read_object::<KeepA<'_>>(bytes);
    let map = json::to_map(bytes);
    match (&expected, &read, &map) {
        (None, Err(InvalidToken::Malformed), Err(InvalidToken::Malformed)) => Ok(()),
        (Some(expected), Ok(keep), Ok(map)) => {
            if map != expected {
                return Err(format!("to_map gave {map:?}, serde_json {expected:?}"));
            }
            let same = match (&keep.a, expected.get("a")) {
                (None, None) => true,
                (Some(json), Some(value)) => same_value(json, value),
                _ => false,
            };
            if same {
                Ok(())
            } else {
                Err(format!(
                    "member a read as {:?}, serde_json has {:?}",
                    keep.a,
                    expected.get("a")
                ))
            }
        }
        _ => Err(format!(
            "expected {}, read_object gave {:?}, to_map gave {:?}",
            if expected.is_some() {
                "acceptance"
            } else {
                "refusal"
            },
            read.as_ref().map(drop),
            map.as_ref().map(drop),
        )),
    }
}

/// Whether the reader's value is the one `serde_json` read: the same scalar
/// (an integer that fits `i64` is `Int`, any other number `Float`), the same
/// items, and for an object the same member names.
pub(crate) fn same_value(json: &Json<'_>, value: &Value) -> bool {
    match (json, value) {
        (Json::Null, Value::Null) => true,
        (Json::Bool(a), Value::Bool(b)) => a == b,
        (Json::Int(a), Value::Number(n)) => n.as_i64() == Some(*a),
        (Json::Float(a), Value::Number(n)) => n.as_i64().is_none() && n.as_f64() == Some(*a),
        (Json::Str(a), Value::String(b)) => a == b,
        (Json::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_value(a, b))
        }
        (Json::Object(names), Value::Object(map)) => {
            let mut names: Vec<&str> = names.iter().map(|name| name.as_ref()).collect();
            let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
            names.sort_unstable();
            keys.sort_unstable();
            names == keys
        }
        _ => false,
    }
}

/// Whether any object in `bytes`, one JSON text that `serde_json` accepted,
/// has two members whose names are equal once unescaped. `None` when the
/// text cannot be scanned. `serde_json::Value` cannot answer this: its maps
/// keep the last of two members.
pub(crate) fn repeats_a_name(bytes: &[u8]) -> Option<bool> {
    let mut scan = Scan { bytes, at: 0 };
    let repeats = scan.value()?;
    scan.space();
    (scan.at == bytes.len()).then_some(repeats)
}

/// A tiny JSON scanner for texts already known to be valid: it tracks only
/// member names.
struct Scan<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// One value (after optional space); whether it repeats a name inside.
    fn value(&mut self) -> Option<bool> {
        self.space();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(|_| false),
            _ => {
                let start = self.at;
                while matches!(self.peek(), Some(b) if !b",]} \t\n\r".contains(&b)) {
                    self.at += 1;
                }
                (self.at > start).then_some(false)
            }
        }
    }

    fn array(&mut self) -> Option<bool> {
        self.at += 1;
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(false);
        }
        let mut repeats = false;
        loop {
            repeats |= self.value()?;
            self.space();
            match self.next()? {
                b',' => {}
                b']' => return Some(repeats),
                _ => return None,
            }
        }
    }

    fn object(&mut self) -> Option<bool> {
        self.at += 1;
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(false);
        }
        let mut names: Vec<Vec<u16>> = Vec::new();
        let mut repeats = false;
        loop {
            self.space();
            let name = self.string()?;
            repeats |= names.contains(&name);
            names.push(name);
            self.space();
            if self.next()? != b':' {
                return None;
            }
            repeats |= self.value()?;
            self.space();
            match self.next()? {
                b',' => {}
                b'}' => return Some(repeats),
                _ => return None,
            }
        }
    }

    /// A string as UTF-16 code units: escapes decoded and raw UTF-8
    /// re-encoded, so every spelling of one name gives the same units.
    fn string(&mut self) -> Option<Vec<u16>> {
        if self.next()? != b'"' {
            return None;
        }
        let mut units = Vec::new();
        loop {
            let start = self.at;
            while !matches!(self.peek()?, b'"' | b'\\') {
                self.at += 1;
            }
            let raw = std::str::from_utf8(&self.bytes[start..self.at]).ok()?;
            units.extend(raw.encode_utf16());
            if self.next()? == b'"' {
                return Some(units);
            }
            units.push(match self.next()? {
                b'"' => 0x22,
                b'\\' => 0x5c,
                b'/' => 0x2f,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => 0x0a,
                b'r' => 0x0d,
                b't' => 0x09,
                b'u' => {
                    let hex = self.bytes.get(self.at..self.at + 4)?;
                    self.at += 4;
                    u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?
                }
                _ => return None,
            });
        }
    }
}

/// `jws::decode_segment` against the `base64` crate's strict
/// `URL_SAFE_NO_PAD` (no padding, no stray trailing bits).
pub(crate) fn check_base64(segment: &str) -> Result<(), String> {
    let ours = jws::decode_segment(segment).ok();
    let theirs = URL_SAFE_NO_PAD.decode(segment).ok();
    if ours == theirs {
        Ok(())
    } else {
        Err(format!(
            "{segment:?}: decode_segment {ours:?}, base64 {theirs:?}"
        ))
    }
}

/// `jws::split` and `jws::parse` agree on a token's structure.
///
/// - Split, the token is the three decoded segments (each checked against
///   the `base64` crate); parse then gives the same parts with a non-empty
///   signature, or refuses for the header alone, or for an empty signature.
/// - Refused by split, the token is refused by parse for the same reason,
///   or, when only the signature segment was wrong, for the header.
///
/// "For the header alone" is what parse says of the same token with a
/// signature segment that decodes (`AA`).
pub(crate) fn check_jws(token: &str) -> Result<(), String> {
    let split = jws::split(token);
    let parse = jws::parse(token, &Profile::ACCESS_TOKEN);
    let resigned = token
        .rsplit_once('.')
        .map(|(input, _)| format!("{input}.AA"));
    let header_only = resigned
        .as_deref()
        .map(|t| jws::parse(t, &Profile::ACCESS_TOKEN).map(drop));
    let fail = |what: &str| {
        Err(format!(
            "{token:?}: {what}: split {:?}, parse {:?}, header alone {header_only:?}",
            split.as_ref().map(drop),
            parse.as_ref().map(drop),
        ))
    };
    match (&split, &parse) {
        (Ok(segments), _) => {
            let mut parts = token.split('.');
            let (Some(h), Some(p), Some(s), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return fail("split a token that is not three segments");
            };
            for segment in [h, p, s] {
                check_base64(segment)?;
            }
            let decoded = |segment: &str| URL_SAFE_NO_PAD.decode(segment).ok();
            if segments.signing_input.len() != h.len() + 1 + p.len()
                || !token.starts_with(segments.signing_input)
                || decoded(h).as_ref() != Some(&segments.header)
                || decoded(p).as_ref() != Some(&segments.payload)
                || decoded(s).as_ref() != Some(&segments.signature)
            {
                return fail("split gave other parts than the token's");
            }
            match &parse {
                Ok(parsed) => {
                    let alg = segments.header().ok().and_then(|h| h.get("alg").cloned());
                    if parsed.signature.is_empty() {
                        return fail("parse took an empty signature");
                    }
                    if parsed.signing_input != segments.signing_input
                        || parsed.payload != segments.payload
                        || parsed.signature != segments.signature
                        || alg.as_ref().and_then(Value::as_str) != Some(parsed.header.alg.as_str())
                    {
                        return fail("parse gave other parts than split");
                    }
                    Ok(())
                }
                Err(InvalidToken::BadSignature) if s.is_empty() && header_only == Some(Ok(())) => {
                    Ok(())
                }
                Err(e) if header_only == Some(Err(*e)) => Ok(()),
                Err(_) => fail("parse refused what split took, not for the header"),
            }
        }
        (Err(_), Ok(_)) => fail("parse took what split refused"),
        (Err(split), Err(parse)) => {
            let signature_only = resigned.as_deref().is_some_and(|t| jws::split(t).is_ok());
            if split == parse || (signature_only && header_only == Some(Err(*parse))) {
                Ok(())
            } else {
                fail("they refuse for different reasons")
            }
        }
    }
}
