//! The strict JSON reader against `serde_json` and the scanner in
//! [`oracle`](crate::oracle): `read_object` accepts exactly the single
//! objects `serde_json` reads that repeat no member name at any depth, and
//! then `to_map` and a kept member are `serde_json`'s own values.

use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::json_text::{self, Doc, Node};
use crate::oracle::{self, check_reader, repeats_a_name};

fn config(cases: u32) -> Config {
    Config {
        cases,
        ..Config::default()
    }
}

/// The differential check, and for a document whose bytes still spell its
/// tree, the scanner's verdict on names against the generator's own.
fn check_doc(doc: &Doc) -> Result<(), TestCaseError> {
    let bytes = doc.render();
    check_reader(&bytes).map_err(TestCaseError::fail)?;
    if doc.intact() && serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
        prop_assert_eq!(repeats_a_name(&bytes), Some(doc.root.repeats_a_name()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn reader_agrees_with_serde_json_on_any_spelling(doc in json_text::document()) {
        check_doc(&doc)?;
    }

    #[test]
    fn reader_keeps_a_member_as_serde_json_reads_it(
        value in prop_oneof![json_text::number_or_not().prop_map(Node::Number), json_text::node()],
        doc in json_text::document(),
    ) {
        let Doc { root, seed, damage } = doc;
        let mut members = vec![(json_text::plain("a"), value)];
        if let Node::Object(rest) = root {
            members.extend(rest);
        }
        check_doc(&Doc { root: Node::Object(members), seed, damage })?;
    }

    #[test]
    fn reader_agrees_with_serde_json_around_the_nesting_limit(doc in json_text::deep_document()) {
        check_doc(&doc)?;
    }

    #[test]
    fn reader_agrees_with_serde_json_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        check_reader(&bytes).map_err(TestCaseError::fail)?;
    }
}

/// Verdicts of the reader over a sample of generated documents.
#[derive(Debug, Default)]
struct Tally {
    accepted: u32,
    /// Refused although `serde_json` reads the object: a name repeats.
    repeated: u32,
    /// Refused by `serde_json` too.
    invalid: u32,
}

fn tally(strategy: impl Strategy<Value = Doc>, samples: u32) -> Tally {
    let mut runner = TestRunner::deterministic();
    let mut tally = Tally::default();
    for _ in 0..samples {
        let bytes = strategy.new_tree(&mut runner).unwrap().current().render();
        match oracle::expected_object(&bytes).unwrap() {
            Some(_) => tally.accepted += 1,
            None if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() => {
                tally.repeated += 1
            }
            None => tally.invalid += 1,
        }
    }
    tally
}

/// The properties above are only as good as their input: the generators
/// reach every verdict, each often.
#[test]
fn generators_reach_every_verdict() {
    let any = tally(json_text::document(), 1000);
    assert!(
        any.accepted >= 250 && any.repeated >= 100 && any.invalid >= 150,
        "{any:?}"
    );
    let deep = tally(json_text::deep_document(), 300);
    assert!(deep.accepted >= 30 && deep.invalid >= 30, "{deep:?}");
}

/// The spellings the generators promise appear in what they write.
#[test]
fn generators_spell_values_every_way() {
    let mut runner = TestRunner::deterministic();
    let strategy = json_text::document();
    let mut text = Vec::new();
    for _ in 0..300 {
        text.extend(strategy.new_tree(&mut runner).unwrap().current().render());
    }
    let text = String::from_utf8_lossy(&text);
    for needle in [
        " ",
        "\t",
        "\n",
        "\r",
        "\\u00",
        "\\u00E9",
        "\\ud83d\\ude00",
        "\\\"",
        "\\\\",
        "\\/",
        "\\n",
        "\\u0000",
        "e+",
        "E",
        "-0",
        "1e3",
        "18446744073709551616",
        "\"\\u0061\"",
        "\"a\"",
    ] {
        assert!(text.contains(needle), "{needle:?} never written");
    }
}

/// Examples the issue names, with their verdicts written out.
#[test]
fn named_examples() {
    let accepted = [
        "{ \"a\" :\t1e3 ,\n\"b\":\r-0 }",
        r#"{"\u0061":1E+2,"b":[0.5,-1.0e-3,123456789012345678901234567890]}"#,
        r#"{"\"":1,"\\":2,"\ud83d\ude00":3,"😀x":4}"#,
        r#"{"a":"\u0000\u001f\b\f\n\r\t\/"}"#,
    ];
    for json in accepted {
        check_reader(json.as_bytes()).unwrap();
        assert!(
            oracle::expected_object(json.as_bytes()).unwrap().is_some(),
            "{json}"
        );
    }
    let refused: [&[u8]; 8] = [
        br#"{"a":1,"\u0061":2}"#,
        br#"{"x":[{"\\":1,"\u005c":2}]}"#,
        br#"{"\ud83d\ude00":1,"\uD83D\uDE00":2}"#,
        br#"{"a":"\ud800"}"#,
        b"{\"a\":\"\xed\xa0\x80\"}",
        b"{\"a\":\"\x01\"}",
        br#"{"a":1e400}"#,
        b"{\"a\":1}\x00",
    ];
    for json in refused {
        check_reader(json).unwrap();
        assert!(
            oracle::expected_object(json).unwrap().is_none(),
            "{}",
            String::from_utf8_lossy(json)
        );
    }
}
