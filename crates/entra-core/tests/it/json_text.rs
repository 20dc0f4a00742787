//! Generators of JSON *text*, not of values that `serde_json::to_string`
//! then writes: the same value is spelled many ways.
//!
//! - insignificant whitespace (space, tab, line feed, carriage return)
//!   between any two tokens;
//! - each character of a string literal, `\"`-style, as `\u00XX` (either
//!   case of hex), or as a surrogate pair beyond the BMP; control characters
//!   always escaped;
//! - numbers such as `1e3`, `-0`, `1E+2`, `-1.0e-3`, integers beyond `u64`,
//!   `1e400` (out of range) and a few that are not JSON (`01`, `.5`);
//! - member names from a small pool, so one name often appears twice in an
//!   object, spelled differently;
//! - nesting around `serde_json`'s limit of 128;
//! - broken strings (invalid UTF-8, raw control characters, lone
//!   surrogates, bad escapes) and broken documents (trailing bytes, a
//!   prefix, truncation, a replaced byte).
//!
//! A document is a [`Node`] tree plus a seed for the spelling choices; seed
//! 0 spells everything plainly, so a shrunk failure is readable.

use proptest::prelude::*;
use proptest::sample::select;

/// A JSON value as generated, before it is spelled.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// `null`, `true` or `false`.
    Literal(&'static str),
    /// A number's text as written (a few are not valid JSON).
    Number(String),
    Str(Text),
    Array(Vec<Node>),
    Object(Vec<(Text, Node)>),
}

/// A string's value, and a flaw that makes its literal invalid.
#[derive(Debug, Clone)]
pub(crate) struct Text {
    pub(crate) value: String,
    pub(crate) flaw: Option<&'static [u8]>,
}

/// Byte sequences that make a string literal invalid wherever they appear
/// inside it.
const FLAWS: &[&[u8]] = &[
    b"\xff",
    b"\x80",
    b"\xc0\xaf",         // overlong '/'
    b"\xe2\x82",         // truncated
    b"\xed\xa0\x80",     // a surrogate, UTF-8 encoded
    b"\xf4\x90\x80\x80", // beyond U+10FFFF
    b"\x00",             // raw control characters
    b"\x1f",
    b"\n",
    b"\\ud800", // lone surrogates
    b"\\udc00",
    b"\\ud800\\u0041",
    b"\\udbff\\udbff",
    b"\\x41", // not escapes
    b"\\u12g4",
    b"\\U0041",
    b"\\'",
];

/// Member names: a small pool (so names repeat) that needs escapes, plus
/// now and then any string.
const NAMES: &[&str] = &[
    "a", "b", "A", "ab", "alg", "exp", "", "é", "😀", "\"", "\\", "/", "\u{0}", "\n", "a\u{1f}",
];

/// A document: the top-level value, the spelling seed, and what is done to
/// its bytes afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub(crate) root: Node,
    pub(crate) seed: u64,
    pub(crate) damage: Damage,
}

/// What is done to a spelled document's bytes.
#[derive(Debug, Clone)]
pub(crate) enum Damage {
    None,
    /// Bytes after the value (whitespace is still valid JSON).
    Trailing(&'static str),
    /// Bytes before the value.
    Prefix(&'static [u8]),
    /// Cut at this index (modulo the length).
    Truncate(usize),
    /// This index (modulo the length) replaced by this byte.
    Replace(usize, u8),
}

impl Doc {
    /// The document's bytes.
    pub(crate) fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut style = Style::new(self.seed);
        if let Damage::Prefix(prefix) = self.damage {
            out.extend_from_slice(prefix);
        }
        style.space(&mut out);
        style.node(&self.root, &mut out);
        style.space(&mut out);
        match self.damage {
            Damage::Trailing(tail) => out.extend_from_slice(tail.as_bytes()),
            Damage::Truncate(at) => out.truncate(at % out.len().max(1)),
            Damage::Replace(at, byte) => {
                let at = at % out.len().max(1);
                if let Some(b) = out.get_mut(at) {
                    *b = byte;
                }
            }
            Damage::None | Damage::Prefix(_) => {}
        }
        out
    }

    /// Whether the bytes still spell [`Doc::root`], member names and all.
    pub(crate) fn intact(&self) -> bool {
        match self.damage {
            Damage::None => true,
            Damage::Trailing(tail) => tail.bytes().all(|b| b" \t\n\r".contains(&b)),
            _ => false,
        }
    }
}

impl Node {
    /// Whether an object anywhere in this value has one name twice, by the
    /// generator's own values.
    pub(crate) fn repeats_a_name(&self) -> bool {
        match self {
            Node::Array(items) => items.iter().any(Node::repeats_a_name),
            Node::Object(members) => {
                members.iter().enumerate().any(|(i, (name, _))| {
                    members[..i]
                        .iter()
                        .any(|(other, _)| other.value == name.value)
                }) || members.iter().any(|(_, value)| value.repeats_a_name())
            }
            _ => false,
        }
    }
}

/// The spelling choices, from a seed. Seed 0 always picks the first, plain
/// choice: no whitespace, no optional escape.
struct Style(u64);

impl Style {
    fn new(seed: u64) -> Self {
        Style(seed)
    }

    /// A choice among `n`, 0 being the plain one.
    fn pick(&mut self, n: u64) -> u64 {
        if self.0 == 0 {
            return 0;
        }
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn space(&mut self, out: &mut Vec<u8>) {
        let count = [0, 0, 1, 3][self.pick(4) as usize];
        for _ in 0..count {
            out.push(b" \t\n\r"[self.pick(4) as usize]);
        }
    }

    fn node(&mut self, node: &Node, out: &mut Vec<u8>) {
        match node {
            Node::Literal(text) => out.extend_from_slice(text.as_bytes()),
            Node::Number(text) => out.extend_from_slice(text.as_bytes()),
            Node::Str(text) => self.text(text, out),
            Node::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.space(out);
                        out.push(b',');
                    }
                    self.space(out);
                    self.node(item, out);
                }
                self.space(out);
                out.push(b']');
            }
            Node::Object(members) => {
                out.push(b'{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        self.space(out);
                        out.push(b',');
                    }
                    self.space(out);
                    self.text(name, out);
                    self.space(out);
                    out.push(b':');
                    self.space(out);
                    self.node(value, out);
                }
                self.space(out);
                out.push(b'}');
            }
        }
    }

    fn text(&mut self, text: &Text, out: &mut Vec<u8>) {
        out.push(b'"');
        let chars: Vec<char> = text.value.chars().collect();
        let flaw_at = self.pick(chars.len() as u64 + 1) as usize;
        for (i, &c) in chars.iter().enumerate() {
            if i == flaw_at {
                out.extend_from_slice(text.flaw.unwrap_or_default());
            }
            self.char(c, out);
        }
        if flaw_at == chars.len() {
            out.extend_from_slice(text.flaw.unwrap_or_default());
        }
        out.push(b'"');
    }

    fn char(&mut self, c: char, out: &mut Vec<u8>) {
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let literal = !(c < ' ' || c == '"' || c == '\\');
        // 0: literal when allowed; 1: the short escape when there is one;
        // 2: \u escapes.
        let mut choice = self.pick(3);
        if choice == 0 && !literal {
            choice = 1;
        }
        if choice == 1 && short.is_none() {
            choice = 2;
        }
        match (choice, short) {
            (0, _) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            (1, Some(short)) => out.extend_from_slice(short.as_bytes()),
            _ => {
                let upper = self.pick(2) == 1;
                for unit in c.encode_utf16(&mut [0; 2]) {
                    let hex = if upper {
                        format!("\\u{unit:04X}")
                    } else {
                        format!("\\u{unit:04x}")
                    };
                    out.extend_from_slice(hex.as_bytes());
                }
            }
        }
    }
}

/// Characters for string values: any, with control characters and the
/// ones that need escapes well represented.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => any::<char>(),
        2 => (0u8..0x20).prop_map(char::from),
        2 => select(vec!['"', '\\', '/', 'a', '\u{7f}', 'é', '\u{2028}', '\u{fffd}', '\u{ffff}', '😀', '\u{10ffff}']),
    ]
}

/// A string value; one in a hundred is flawed.
pub(crate) fn text() -> impl Strategy<Value = Text> {
    (
        prop::collection::vec(any_char(), 0..6).prop_map(String::from_iter),
        prop::option::weighted(0.01, select(FLAWS)),
    )
        .prop_map(|(value, flaw)| Text { value, flaw })
}

/// A member name: mostly from the pool.
pub(crate) fn name() -> impl Strategy<Value = Text> {
    prop_oneof![
        4 => (select(NAMES), prop::option::weighted(0.01, select(FLAWS)))
            .prop_map(|(value, flaw)| Text { value: value.to_owned(), flaw }),
        1 => text(),
    ]
}

/// Numbers in JSON's grammar, with exponents small enough that most are in
/// `f64`'s range.
pub(crate) fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "-?(0|[1-9][0-9]{0,24})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,2})?",
        1 => select(vec![
            "0", "-0", "-0.0", "0e0", "-0E-0", "1e3", "1E+2", "0.5", "-1.0e-3", "1e300", "-1e300",
            "1e308", "1.7976931348623157e308", "5e-324", "1e-400", "-1e-400",
            "9223372036854775807", "9223372036854775808", "-9223372036854775808",
            "-9223372036854775809", "18446744073709551615", "18446744073709551616",
            "123456789012345678901234567890", "253402300799", "253402300799.5", "253402300800",
            "2.53402300799e11",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Anything in the number position, a few of them not JSON numbers.
pub(crate) fn number_or_not() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => number(),
        1 => select(vec![
            "1e400", "-1e400", "01", "-01", "1.", ".5", "+1", "1e", "1e+", "-", "0x10", "NaN",
            "Infinity", "1.e3", "1E", "--1",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Any JSON value, up to a few levels deep.
pub(crate) fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        select(vec!["null", "true", "false"]).prop_map(Node::Literal),
        number_or_not().prop_map(Node::Number),
        text().prop_map(Node::Str),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Node::Array),
            prop::collection::vec((name(), inner), 0..5).prop_map(Node::Object),
        ]
    })
}

/// An object, or now and then another value at the top.
fn root() -> impl Strategy<Value = Node> {
    prop_oneof![
        12 => prop::collection::vec((name(), node()), 0..7).prop_map(Node::Object),
        1 => node(),
    ]
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        24 => Just(Damage::None),
        2 => select(vec![" ", "\n\t\r ", "x", "{}", ",", "}", "]", "\0", "\u{feff}"]).prop_map(Damage::Trailing),
        1 => select(vec![&b"\xef\xbb\xbf"[..], b"[", b",", b"\0"]).prop_map(Damage::Prefix),
        1 => any::<usize>().prop_map(Damage::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Damage::Replace(at, byte)),
    ]
}

/// A document of any shape, spelled any way.
pub(crate) fn document() -> impl Strategy<Value = Doc> {
    (root(), any::<u64>(), damage()).prop_map(|(root, seed, damage)| Doc { root, seed, damage })
}

/// An object whose member `d` nests arrays and objects (member `k`) to a
/// total depth around `serde_json`'s limit of 128, with a scalar (or a
/// repeated name) at the bottom.
pub(crate) fn deep_document() -> impl Strategy<Value = Doc> {
    let bottom = prop_oneof![
        node(),
        Just(Node::Object(vec![
            (plain("k"), Node::Literal("null")),
            (plain("k"), Node::Literal("true"))
        ])),
    ];
    (
        prop::collection::vec(any::<bool>(), 118..138),
        bottom,
        any::<u64>(),
    )
        .prop_map(|(levels, bottom, seed)| {
            let nested = levels.iter().fold(bottom, |inner, &array| {
                if array {
                    Node::Array(vec![inner])
                } else {
                    Node::Object(vec![(plain("k"), inner)])
                }
            });
            Doc {
                root: Node::Object(vec![(plain("d"), nested)]),
                seed,
                damage: Damage::None,
            }
        })
}

pub(crate) fn plain(value: &str) -> Text {
    Text {
        value: value.to_owned(),
        flaw: None,
    }
}
