//! Compact-JWS splitting and parsing: any three segments come back as they
//! were encoded; every deviation from strict base64url and three segments
//! is refused, never a panic; `split` and `parse` agree on structure
//! ([`oracle::check_jws`]); the segment decoder is the `base64` crate's
//! strict `URL_SAFE_NO_PAD`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_core::InvalidToken;
use entra_core::jws;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError};

use crate::json_text;
use crate::oracle::{check_base64, check_jws};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn config(cases: u32) -> Config {
    Config {
        cases,
        ..Config::default()
    }
}

fn enc(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Headers that each take another path through `parse`.
const HEADERS: &[&str] = &[
    r#"{"alg":"RS256"}"#,
    r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#,
    r#"{"typ":"application/at+JWT","alg":"RS256","x5t":"t"}"#,
    r#"{"alg":"none"}"#,
    r#"{"alg":"HS256"}"#,
    r#"{"alg":"rs256"}"#,
    r#"{"alg":["RS256"]}"#,
    r#"{"alg":"RS256","jwk":{}}"#,
    r#"{"alg":"RS256","jku":"https://x"}"#,
    r#"{"alg":"RS256","x5c":["x"]}"#,
    r#"{"alg":"RS256","crit":["b64"]}"#,
    r#"{"alg":"RS256","b64":false}"#,
    r#"{"alg":"RS256","enc":"A128GCM"}"#,
    r#"{"alg":"RS256","typ":"logout+jwt"}"#,
    r#"{"alg":"RS256","typ":1}"#,
    r#"{"alg":"RS256","kid":""}"#,
    r#"{"alg":"RS256","kid":7}"#,
    r#"{"alg":"RS256","alg":"RS256"}"#,
    r#"{"alg":"RS256","\u0061lg":"none"}"#,
    r#"{"alg":"RS256","x":{"y":1,"y":2}}"#,
    " {\"alg\":\"RS256\"} ",
    r#"{"alg":"RS256"}x"#,
    "[]",
    "{",
    "\u{feff}{}",
];

/// Header bytes: from the list, or any generated document.
fn header() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => select(HEADERS).prop_map(|h| h.as_bytes().to_vec()),
        1 => json_text::document().prop_map(|doc| doc.render()),
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

/// A well-formed token of random parts: `(header, payload, signature)`.
fn parts() -> impl Strategy<Value = (Vec<u8>, Vec<u8>, Vec<u8>)> {
    (
        header(),
        prop_oneof![
            bytes(40),
            json_text::document().prop_map(|doc| doc.render())
        ],
        bytes(64),
    )
}

/// One way to break a well-formed token.
#[derive(Debug, Clone)]
enum Break {
    /// `=` padding at the end of segment `.0`, `.1` times.
    Pad(usize, usize),
    /// A character of the token replaced by `+` or `/`.
    Alphabet(usize, char),
    /// Whitespace inserted anywhere.
    Space(usize, char),
    /// A stray trailing bit in the last character of segment `.0`.
    NonCanonical(usize),
    /// The token with this many dots instead of two.
    Dots(usize),
}

fn breaks() -> impl Strategy<Value = Break> {
    prop_oneof![
        (0..3usize, 1..3usize).prop_map(|(segment, n)| Break::Pad(segment, n)),
        (any::<usize>(), select(vec!['+', '/'])).prop_map(|(at, c)| Break::Alphabet(at, c)),
        (any::<usize>(), select(vec![' ', '\t', '\n', '\r']))
            .prop_map(|(at, c)| Break::Space(at, c)),
        (0..3usize).prop_map(Break::NonCanonical),
        select(vec![0usize, 1, 3, 4, 5, 6]).prop_map(Break::Dots),
    ]
}

/// The broken token and the reason `split` must give, or `None` when this
/// break does not apply to this token (no character to replace, or a
/// segment whose length leaves no trailing bits).
fn apply(token: &str, brk: &Break) -> Option<(String, InvalidToken)> {
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    match *brk {
        Break::Pad(segment, n) => {
            segments[segment].push_str(&"=".repeat(n));
            Some((segments.join("."), InvalidToken::Malformed))
        }
        Break::Alphabet(at, c) => {
            let positions: Vec<usize> = token
                .char_indices()
                .filter(|&(_, c)| c != '.')
                .map(|(i, _)| i)
                .collect();
            let at = *positions.get(at % positions.len().max(1))?;
            let mut broken = token.to_owned();
            broken.replace_range(at..at + 1, &c.to_string());
            Some((broken, InvalidToken::Malformed))
        }
        Break::Space(at, c) => {
            let mut broken = token.to_owned();
            broken.insert(at % (token.len() + 1), c);
            Some((broken, InvalidToken::Malformed))
        }
        Break::NonCanonical(segment) => {
            let text = &mut segments[segment];
            let spare_bits = match text.len() % 4 {
                2 => 4,
                3 => 2,
                _ => return None,
            };
            let last = text.pop()?;
            let index = ALPHABET.iter().position(|&b| char::from(b) == last)?;
            let stray = index | (1 << (spare_bits - 1));
            text.push(char::from(ALPHABET[stray]));
            let reason = if segment == 2 {
                InvalidToken::BadSignature
            } else {
                InvalidToken::Malformed
            };
            Some((segments.join("."), reason))
        }
        Break::Dots(dots) => {
            let joined = segments.concat();
            let mut broken = String::new();
            // The token's characters with `dots` dots spread among them.
            let step = joined.len() / (dots + 1);
            for (i, c) in joined.chars().enumerate() {
                if dots > 0
                    && i > 0
                    && step > 0
                    && i % step == 0
                    && broken.matches('.').count() < dots
                {
                    broken.push('.');
                }
                broken.push(c);
            }
            while broken.matches('.').count() < dots {
                broken.push('.');
            }
            let reason = if dots == 4 {
                InvalidToken::Encrypted
            } else {
                InvalidToken::Malformed
            };
            Some((broken, reason))
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn split_gives_back_what_was_encoded(h in bytes(48), p in bytes(48), s in bytes(300)) {
        let token = format!("{}.{}.{}", enc(&h), enc(&p), enc(&s));
        check_jws(&token).map_err(TestCaseError::fail)?;
        match jws::split(&token) {
            Ok(segments) => {
                prop_assert!(!h.is_empty() && !p.is_empty());
                prop_assert_eq!(segments.header, h);
                prop_assert_eq!(segments.payload, p);
                prop_assert_eq!(segments.signature, s);
            }
            Err(reason) => {
                prop_assert!(h.is_empty() || p.is_empty());
                prop_assert_eq!(reason, InvalidToken::Malformed);
            }
        }
    }

    #[test]
    fn split_and_parse_agree_on_whole_tokens((h, p, s) in parts()) {
        check_jws(&format!("{}.{}.{}", enc(&h), enc(&p), enc(&s))).map_err(TestCaseError::fail)?;
        check_jws(&format!("{}.{}.", enc(&h), enc(&p))).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn every_break_is_refused_for_its_reason((h, p, s) in parts(), brk in breaks()) {
        let token = format!("{}.{}.{}", enc(&h), enc(&p), enc(&s));
        let Some((broken, reason)) = apply(&token, &brk) else {
            return Ok(());
        };
        // An empty segment is refused before its padding or bits are looked at.
        let empty = broken.split('.').take(2).any(str::is_empty) && broken.matches('.').count() == 2;
        let expected = if empty { InvalidToken::Malformed } else { reason };
        prop_assert_eq!(jws::split(&broken).map(drop), Err(expected), "{:?}", broken);
        check_jws(&broken).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn split_and_parse_agree_on_any_string(token in prop_oneof![
        "[A-Za-z0-9_.=+/ \t\r\n-]{0,40}",
        "([A-Za-z0-9_-]{0,12}\\.){0,5}[A-Za-z0-9_-]{0,12}",
        any::<String>(),
    ]) {
        check_jws(&token).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn segments_decode_as_the_base64_crate_decodes(segment in prop_oneof![
        "[A-Za-z0-9_-]{0,24}",
        "[A-Za-z0-9_=+/ -]{0,24}",
        any::<String>(),
    ]) {
        check_base64(&segment).map_err(TestCaseError::fail)?;
    }
}

/// Every last character of a short segment: exactly the canonical ones
/// decode, as the `base64` crate decodes them.
#[test]
fn every_last_character_of_every_length() {
    for prefix in ["", "A", "AA", "AAA", "AAAA", "AAAAA"] {
        for &last in ALPHABET.iter().chain(b"=+/ .\xff") {
            let segment = format!("{prefix}{}", char::from(last));
            check_base64(&segment).unwrap();
        }
    }
}
