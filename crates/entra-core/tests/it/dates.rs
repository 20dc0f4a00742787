//! `claims::numeric_date` keeps its documented rule for any JSON number
//! text: the number, as JSON numbers are read (the nearest `f64`), must lie
//! in `0..=253402300799` (the end of year 9999), and its fraction is
//! truncated; any other JSON value fails closed.

use entra_core::InvalidToken;
use entra_core::claims::{self, Claims};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError};

use crate::json_text;

const LAST_SECOND: f64 = 253_402_300_799.0;

/// The documented rule, on the number as Rust's own (correctly rounding)
/// parser reads the text.
fn rule(text: &str) -> Result<Option<i64>, InvalidToken> {
    let value: f64 = text.parse().map_err(|_| InvalidToken::Malformed)?;
    if (0.0..=LAST_SECOND).contains(&value) {
        Ok(Some(value.trunc() as i64))
    } else {
        Err(InvalidToken::Claims)
    }
}

/// What the claim reader makes of `{"exp": <text>}`: an out-of-range
/// number is no JSON the reader accepts.
fn read(text: &str) -> Result<Option<i64>, InvalidToken> {
    let json = format!(r#"{{"exp":{text}}}"#);
    let claims = Claims::read(json.as_bytes())?;
    claims::numeric_date(&claims.exp)
}

fn check(text: &str) -> Result<(), TestCaseError> {
    let expected = match text.parse::<f64>() {
        Ok(value) if value.is_infinite() => Err(InvalidToken::Malformed),
        _ => rule(text),
    };
    prop_assert_eq!(read(text), expected, "{}", text);
    Ok(())
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn numeric_dates_follow_the_rule_for_any_number(text in json_text::number()) {
        check(&text)?;
    }

    #[test]
    fn numeric_dates_follow_the_rule_near_its_bounds(
        whole in prop_oneof![0u64..3, 253_402_300_797u64..253_402_300_802, 1_699_999_999u64..1_700_000_001],
        fraction in "[0-9]{0,8}",
        negative in any::<bool>(),
    ) {
        // One value, written four ways: with a point, and with its point
        // moved into an exponent.
        let sign = if negative { "-" } else { "" };
        let whole_len = whole.to_string().len();
        let digits = format!("{whole}{fraction}");
        let significant = match digits.trim_start_matches('0') {
            "" => "0",
            rest => rest,
        };
        let point = if fraction.is_empty() { String::new() } else { format!(".{fraction}") };
        check(&format!("{sign}{whole}{point}"))?;
        check(&format!("{sign}0.{digits}e{whole_len}"))?;
        check(&format!("{sign}{significant}E-{}", fraction.len()))?;
        check(&format!("{sign}{whole}{point}e+0"))?;
    }

    #[test]
    fn anything_but_a_number_fails_closed(doc in json_text::node()) {
        let value = json_text::Doc { root: doc, seed: 0, damage: json_text::Damage::None }.render();
        let Ok(text) = String::from_utf8(value) else { return Ok(()) };
        if serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| !v.is_number())
            && crate::oracle::expected_object(format!(r#"{{"exp":{text}}}"#).as_bytes())
                .map_err(TestCaseError::fail)?
                .is_some()
        {
            prop_assert_eq!(read(&text), Err(InvalidToken::Claims), "{}", text);
        }
    }
}

/// The examples the rule is written for.
#[test]
fn named_examples() {
    for (text, expected) in [
        ("1e3", Ok(Some(1000))),
        ("1E+2", Ok(Some(100))),
        ("-0", Ok(Some(0))),
        ("-0.0e5", Ok(Some(0))),
        ("0.5", Ok(Some(0))),
        ("1700000000.999", Ok(Some(1_700_000_000))),
        ("2.53402300799e11", Ok(Some(253_402_300_799))),
        ("253402300799", Ok(Some(253_402_300_799))),
        ("253402300800", Err(InvalidToken::Claims)),
        ("-1.0e-3", Err(InvalidToken::Claims)),
        ("-1", Err(InvalidToken::Claims)),
        ("1e300", Err(InvalidToken::Claims)),
        ("18446744073709551616", Err(InvalidToken::Claims)),
        ("1e400", Err(InvalidToken::Malformed)),
        ("\"1700000000\"", Err(InvalidToken::Claims)),
        ("true", Err(InvalidToken::Claims)),
        ("null", Err(InvalidToken::Claims)),
        ("[1]", Err(InvalidToken::Claims)),
        ("{}", Err(InvalidToken::Claims)),
    ] {
        assert_eq!(read(text), expected, "{text}");
    }
    assert_eq!(claims::numeric_date(&None), Ok(None));
}
