//! One strict pass over a JSON object, borrowing from its bytes.
//!
//! The hot path reads a token's header and claims with this instead of
//! building a `serde_json::Map`: the members it acts on are kept as borrowed
//! [`Json`] values, every other member is validated and skipped, and no
//! string is copied unless it contains an escape. The rules: one object,
//! UTF-8, no trailing bytes, and no member name twice in any object at any
//! depth (RFC 7515 §4, RFC 7519 §4), so the validator and the authorizer can
//! never read two different values. `serde_json`'s recursion limit bounds
//! nesting.
//!
//! This is the only JSON reader that judges a token. [`to_map`] gives the
//! whole object as a `serde_json` map for display and for
//! `Principal::claims`, after this reader has accepted the bytes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

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
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let members = de
        .deserialize_map(ObjectVisitor(PhantomData))
        .map_err(|_| InvalidToken::Malformed)?;
    de.end().map_err(|_| InvalidToken::Malformed)?;
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

struct ObjectVisitor<M>(PhantomData<M>);

impl<'de, M: Members<'de>> Visitor<'de> for ObjectVisitor<M> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<M, A::Error> {
        let mut members = M::default();
        let mut names = Names::new();
        while let Some(name) = access.next_key_seed(NameSeed)? {
            match members.slot(&name) {
                Some(slot) => *slot = Some(access.next_value_seed(JsonSeed)?),
                None => access.next_value_seed(Skip)?,
            }
            names.push(name);
        }
        names.check()?;
        Ok(members)
    }
}

/// Member names seen in one object, checked for repeats when it closes.
struct Names<'a>(Vec<Cow<'a, str>>);

impl<'a> Names<'a> {
    fn new() -> Self {
        Names(Vec::new())
    }

    fn push(&mut self, name: Cow<'a, str>) {
        self.0.push(name);
    }

    fn check<E: de::Error>(mut self) -> Result<Vec<Cow<'a, str>>, E> {
        self.0.sort_unstable();
        if self.0.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(E::custom("duplicate member name"));
        }
        Ok(self.0)
    }
}

/// A member name, borrowed unless it has escapes.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(NameVisitor)
    }
}

struct NameVisitor;

impl<'de> Visitor<'de> for NameVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A member value the reader keeps.
struct JsonSeed;

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = Json<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Json::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Json::Float(v as f64), Json::Int))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(JsonSeed)? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut names = Names::new();
        while let Some(name) = access.next_key_seed(NameSeed)? {
            access.next_value_seed(Skip)?;
            names.push(name);
        }
        Ok(Json::Object(names.check()?))
    }
}

/// A member value that is validated (syntax, UTF-8, no repeated names in
/// its objects) and dropped.
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<(), A::Error> {
        let mut names = Names::new();
        while let Some(name) = access.next_key_seed(NameSeed)? {
            access.next_value_seed(Skip)?;
            names.push(name);
        }
        names.check::<A::Error>().map(drop)
    }
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
