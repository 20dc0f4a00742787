//! One strict pass over a JSON object, borrowing from its bytes.
//!
//! The hot path reads a token's header and claims with this instead of
//! building a `serde_json::Map`: the members it acts on are kept as borrowed
//! [`Json`] values, every other member is validated and skipped, and no
//! string is copied unless it contains an escape. The rules: one object,
//! UTF-8, no trailing bytes, and no member name twice in any object at any
//! depth (RFC 7515 §4, RFC 7519 §4), so the validator and the authorizer can
//! never read two different values. Nesting is bounded as `serde_json`
//! bounds it (127 containers), and what it accepts is exactly what
//! `serde_json` reads as one object, with the same values: the property tests
//! and the fuzz target hold the two side by side.
//!
//! It is a reader of its own rather than a `serde` visitor because every
//! uncached token passes through it: the text is checked for UTF-8 once, then
//! strings are scanned eight bytes at a time, and one list of names serves
//! every object's duplicate check. It reads a typical Entra access token's
//! claims in a quarter of the instructions `serde_json`'s visitor took.
//!
//! This is the only JSON reader that judges a token. [`to_map`] gives the
//! whole object as a `serde_json` map for display and for
//! `Principal::claims`, after this reader has accepted the bytes.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::reason::InvalidToken;

/// A JSON value read from a token, borrowing its strings where it can.
///
/// Objects keep only their member names: no member the validator reads is
/// an object whose values matter (`_claim_names` is read for its names).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// Any other number (fractions, or integers beyond `i64`).
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// An object's member names.
    Object(Vec<Cow<'a, str>>),
}

impl<'a> Json<'a> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number as `serde_json`'s `as_i64` reads it: integers only.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Any number, as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(i) => Some(*i as f64),
            Json::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// The members a reader acts on: a slot per member name it knows.
pub trait Members<'a>: Default {
    /// The slot for `name`, or `None` for a member that is only validated.
    fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>>;
}

/// Reads one JSON object into `M`, strictly (see the module documentation).
///
/// ```
/// use entra_core::json::{self, Json, Members};
///
/// #[derive(Default)]
/// struct Iss<'a> { iss: Option<Json<'a>> }
///
/// impl<'a> Members<'a> for Iss<'a> {
///     fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>> {
///         (name == "iss").then_some(&mut self.iss)
///     }
/// }
///
/// let read: Iss<'_> = json::read_object(br#"{"iss":"https://issuer","n":[1,{"a":2}]}"#).unwrap();
/// assert_eq!(read.iss.as_ref().and_then(Json::as_str), Some("https://issuer"));
/// // A member name twice, at any depth, refuses the whole object.
/// assert!(json::read_object::<Iss<'_>>(br#"{"n":{"a":1,"a":2}}"#).is_err());
/// ```
pub fn read_object<'a, M: Members<'a>>(bytes: &'a [u8]) -> Result<M, InvalidToken> {
    let text = std::str::from_utf8(bytes).map_err(|_| InvalidToken::Malformed)?;
    let mut reader = Reader {
        text,
        bytes,
        at: 0,
        depth: 0,
        names: Vec::with_capacity(32),
    };
    reader.space();
    let members = reader
        .top::<M>()
        .map_err(|Refused| InvalidToken::Malformed)?;
    reader.space();
    if reader.at != bytes.len() {
        return Err(InvalidToken::Malformed);
    }
    Ok(members)
}

/// The whole object as a `serde_json` map, once the strict reader has
/// accepted it: duplicates, trailing bytes and non-UTF-8 are refused exactly
/// as [`read_object`] refuses them (`serde_json` alone would keep the last of
/// two members with one name).
pub fn to_map(bytes: &[u8]) -> Result<Map<String, Value>, InvalidToken> {
    #[derive(Default)]
    struct Nothing;
    impl<'a> Members<'a> for Nothing {
        fn slot(&mut self, _: &str) -> Option<&mut Option<Json<'a>>> {
            None
        }
    }
    read_object::<Nothing>(bytes)?;
    serde_json::from_slice(bytes).map_err(|_| InvalidToken::Malformed)
}

/// Why the reader stopped: the text is not what it accepts.
struct Refused;

type Read<T> = Result<T, Refused>;

/// How many containers may be open at once, counting the outer object:
/// fewer than `serde_json`'s recursion limit of 128.
const MAX_DEPTH: u32 = 128;

/// The reader's position in text already known to be UTF-8.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Containers open.
    depth: u32,
    /// Every open object's member names so far, outermost first: an object
    /// checks its own (from where it started) for repeats when it closes,
    /// then removes them.
    names: Vec<Cow<'a, str>>,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// JSON's whitespace (RFC 8259 §2).
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte`, after whitespace.
    fn eat(&mut self, byte: u8) -> Read<()> {
        self.space();
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Refused)
        }
    }

    fn open(&mut self) -> Read<()> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(Refused);
        }
        self.at += 1;
        Ok(())
    }

    /// The outer object, its members read into `M`'s slots.
    fn top<M: Members<'a>>(&mut self) -> Read<M> {
        if self.peek() != Some(b'{') {
            return Err(Refused);
        }
        self.open()?;
        let mut members = M::default();
        let first = self.names.len();
        let mut more = self.first_member()?;
        while more {
            let name = self.name()?;
            match members.slot(&name) {
                Some(slot) => *slot = Some(self.value()?),
                None => self.skip()?,
            }
            self.names.push(name);
            more = self.next_member()?;
        }
        self.close_object(first)?;
        Ok(members)
    }

    /// After `{`: whether a member follows (or the object is empty).
    fn first_member(&mut self) -> Read<bool> {
        self.space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After a member: `,` (another follows) or `}`.
    fn next_member(&mut self) -> Read<bool> {
        self.space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(Refused),
        }
    }

    /// After an element: `,` (another follows) or `]`.
    fn next_element(&mut self) -> Read<bool> {
        self.space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b']') => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(Refused),
        }
    }

    /// After `[`: whether an element follows (or the array is empty).
    fn first_element(&mut self) -> Read<bool> {
        self.space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A member's name and its colon.
    fn name(&mut self) -> Read<Cow<'a, str>> {
        self.eat(b'"')?;
        let name = self.string()?;
        self.eat(b':')?;
        Ok(name)
    }

    /// The object closed: its names (from `first`) repeat none, and are
    /// removed, sorted.
    fn close_object(&mut self, first: usize) -> Read<std::vec::Drain<'_, Cow<'a, str>>> {
        self.depth -= 1;
        let own = &mut self.names[first..];
        own.sort_unstable();
        if own.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(Refused);
        }
        Ok(self.names.drain(first..))
    }

    /// A value the reader keeps.
    fn value(&mut self) -> Read<Json<'a>> {
        self.space();
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                Ok(Json::Str(self.string()?))
            }
            Some(b'[') => {
                self.open()?;
                let mut items = Vec::new();
                let mut more = self.first_element()?;
                while more {
                    items.push(self.value()?);
                    more = self.next_element()?;
                }
                self.depth -= 1;
                Ok(Json::Array(items))
            }
            Some(b'{') => {
                self.open()?;
                let first = self.names.len();
                let mut more = self.first_member()?;
                while more {
                    let name = self.name()?;
                    self.skip()?;
                    self.names.push(name);
                    more = self.next_member()?;
                }
                Ok(Json::Object(self.close_object(first)?.collect()))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.literal(),
        }
    }

    /// A value that is validated exactly as [`Reader::value`] validates it,
    /// and dropped.
    fn skip(&mut self) -> Read<()> {
        self.space();
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                self.string().map(drop)
            }
            Some(b'[') => {
                self.open()?;
                let mut more = self.first_element()?;
                while more {
                    self.skip()?;
                    more = self.next_element()?;
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'{') => {
                self.open()?;
                let first = self.names.len();
                let mut more = self.first_member()?;
                while more {
                    let name = self.name()?;
                    self.skip()?;
                    self.names.push(name);
                    more = self.next_member()?;
                }
                self.close_object(first).map(drop)
            }
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            _ => self.literal().map(drop),
        }
    }

    fn literal(&mut self) -> Read<Json<'a>> {
        let rest = &self.bytes[self.at..];
        let (value, length) = if rest.starts_with(b"true") {
            (Json::Bool(true), 4)
        } else if rest.starts_with(b"false") {
            (Json::Bool(false), 5)
        } else if rest.starts_with(b"null") {
            (Json::Null, 4)
        } else {
            return Err(Refused);
        };
        self.at += length;
        Ok(value)
    }

    /// A number (RFC 8259 §6), with `serde_json`'s value: integers that fit
    /// `i64` are [`Json::Int`]; `-0`, fractions, exponents and longer
    /// integers are `serde_json`'s own `f64` (which refuses what would be
    /// infinite).
    fn number(&mut self) -> Read<Json<'a>> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let digits = self.at;
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Refused),
        }
        let integer = &self.text[digits..self.at];
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Refused);
            }
            self.digits();
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(Refused);
            }
            self.digits();
            float = true;
        }
        if !float {
            if let Ok(magnitude) = integer.parse::<u64>() {
                if !negative {
                    return Ok(
                        i64::try_from(magnitude).map_or(Json::Float(magnitude as f64), Json::Int)
                    );
                }
                // As serde_json: `-0` and magnitudes beyond i64 are floats.
                let value = (magnitude as i64).wrapping_neg();
                return Ok(if value >= 0 {
                    Json::Float(-(magnitude as f64))
                } else {
                    Json::Int(value)
                });
            }
        }
        // Rare in a token: serde_json's own reading, so that the value and
        // the refusal of what would be infinite are exactly its own.
        serde_json::from_str::<f64>(&self.text[start..self.at])
            .map(Json::Float)
            .map_err(|_| Refused)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// The rest of a string whose opening quote is consumed: borrowed
    /// unless it has an escape.
    fn string(&mut self) -> Read<Cow<'a, str>> {
        let start = self.at;
        self.at = plain_run(self.bytes, self.at);
        match self.peek() {
            Some(b'"') => {
                let text = &self.text[start..self.at];
                self.at += 1;
                Ok(Cow::Borrowed(text))
            }
            Some(b'\\') => {
                let mut owned = String::with_capacity(self.at - start + 16);
                owned.push_str(&self.text[start..self.at]);
                self.escaped(owned).map(Cow::Owned)
            }
            // A control character, or the end of the text.
            _ => Err(Refused),
        }
    }

    /// The rest of a string from an escape on, into `owned`.
    fn escaped(&mut self, mut owned: String) -> Read<String> {
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(owned);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escape = self.peek().ok_or(Refused)?;
                    self.at += 1;
                    owned.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(Refused),
                    });
                }
                Some(_) => {
                    let start = self.at;
                    self.at = plain_run(self.bytes, self.at);
                    if self.at == start {
                        // A control character.
                        return Err(Refused);
                    }
                    owned.push_str(&self.text[start..self.at]);
                }
                None => return Err(Refused),
            }
        }
    }

    /// After `\u`: one character, from a pair of escapes when it is beyond
    /// the Basic Multilingual Plane. A surrogate without its pair is refused,
    /// as `serde_json` refuses it in a string.
    fn unicode_escape(&mut self) -> Read<char> {
        let high = self.hex4()?;
        if !(0xD800..=0xDFFF).contains(&high) {
            return char::from_u32(high).ok_or(Refused);
        }
        if high >= 0xDC00 || !self.bytes[self.at..].starts_with(b"\\u") {
            return Err(Refused);
        }
        self.at += 2;
        let low = self.hex4()?;
        if !(0xDC00..=0xDFFF).contains(&low) {
            return Err(Refused);
        }
        char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).ok_or(Refused)
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self.bytes.get(self.at..self.at + 4).ok_or(Refused)?;
        let mut value = 0;
        for &digit in digits {
            let nibble = match digit {
                b'0'..=b'9' => digit - b'0',
                b'a'..=b'f' => digit - b'a' + 10,
                b'A'..=b'F' => digit - b'A' + 10,
                _ => return Err(Refused),
            };
            value = value << 4 | u32::from(nibble);
        }
        self.at += 4;
        Ok(value)
    }
}

/// Where the run of string bytes that need no attention ends, from `at`:
/// the first quote, backslash or control character (or the end). Eight
/// bytes at a time, then byte by byte within the word that has one.
fn plain_run(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte below `n` (n ≤ 0x80) in `word`, as a high bit set (a byte
    // above a true match may be flagged too: the byte loop settles it).
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGH;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_ne_bytes(chunk);
        if below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1)
            | below(word, 0x20)
            != 0
        {
            break;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Two<'a> {
        a: Option<Json<'a>>,
        b: Option<Json<'a>>,
    }

    impl<'a> Members<'a> for Two<'a> {
        fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>> {
            match name {
                "a" => Some(&mut self.a),
                "b" => Some(&mut self.b),
                _ => None,
            }
        }
    }

    fn read(json: &str) -> Result<Two<'_>, InvalidToken> {
        read_object(json.as_bytes())
    }

    #[test]
    fn known_members_are_kept_and_borrowed() {
        let two = read(r#"{"a":"x","b":[1,2.5,"y",null,true,{"k":1}],"c":{"d":[1]}}"#).unwrap();
        assert!(matches!(two.a, Some(Json::Str(Cow::Borrowed("x")))));
        assert_eq!(
            two.b,
            Some(Json::Array(vec![
                Json::Int(1),
                Json::Float(2.5),
                Json::Str("y".into()),
                Json::Null,
                Json::Bool(true),
                Json::Object(vec!["k".into()]),
            ]))
        );
        // An escape costs a copy, and reads the same.
        assert_eq!(
            read(r#"{"\u0061":"\u0078"}"#).unwrap().a,
            Some(Json::Str("x".into()))
        );
        assert_eq!(
            read(r#"{"a":18446744073709551615}"#).unwrap().a,
            Some(Json::Float(18446744073709551615.0))
        );
    }

    #[test]
    fn repeated_names_are_refused_at_any_depth_and_through_escapes() {
        for json in [
            r#"{"a":1,"a":1}"#,
            r#"{"a":1,"\u0061":1}"#,
            r#"{"c":1,"c":2}"#,
            r#"{"b":{"k":1,"k":2}}"#,
            r#"{"c":{"k":1,"k":2}}"#,
            r#"{"c":[{"k":1,"k":2}]}"#,
            r#"{"c":{"d":[[{"k":1,"\u006b":2}]]}}"#,
        ] {
            assert_eq!(read(json).unwrap_err(), InvalidToken::Malformed, "{json}");
        }
        assert!(read(r#"{"a":1,"c":{"a":2},"d":[{"a":3},{"a":4}]}"#).is_ok());
    }

    #[test]
    fn anything_but_one_object_is_malformed() {
        for json in [
            "",
            "[]",
            "1",
            "\"a\"",
            "{",
            "{}x",
            "{} {}",
            r#"{"a":}"#,
            "{\"a\":\"\u{0}\"}",
        ] {
            assert_eq!(read(json).unwrap_err(), InvalidToken::Malformed, "{json:?}");
        }
        assert_eq!(
            read_object::<Two<'_>>(b"{\"a\":\"\xff\"}").unwrap_err(),
            InvalidToken::Malformed
        );
        assert_eq!(
            read_object::<Two<'_>>(b"{\"c\":\"\xff\"}").unwrap_err(),
            InvalidToken::Malformed
        );
        let deep = format!("{{\"c\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(read(&deep).unwrap_err(), InvalidToken::Malformed);
    }
}
