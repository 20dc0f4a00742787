//! The request log: what clients sent, bounded by bytes and redacted by
//! allow-list.
//!
//! Each value is redacted or shortened when it is recorded, so a secret or a
//! large body never stays in memory: only the parameters in [`SAFE_PARAMS`]
//! keep their values (at most [`VALUE_CAP`] bytes, the full length noted),
//! every other value becomes [`REDACTED`]. The log keeps at most
//! [`LOG_CAPACITY`] records and [`LOG_BUDGET`] bytes, evicting the oldest.

use std::collections::VecDeque;
use std::mem::size_of;

use crate::state::RequestRecord;

/// Records kept in the log, whatever their size.
pub(crate) const LOG_CAPACITY: usize = 10_000;

/// Bytes the log's records may take, in total (evicting the oldest).
pub(crate) const LOG_BUDGET: usize = 4 * 1024 * 1024;

/// Bytes kept of each logged value (and path): longer ones are cut, and end
/// with a note of their full length, such as `…(1048576 bytes)`.
pub(crate) const VALUE_CAP: usize = 256;

/// Parameters kept per record: the rest are counted, not kept.
pub(crate) const PARAMS_CAP: usize = 64;

/// What a value not on the allow-list is logged as.
pub(crate) const REDACTED: &str = "***";

/// The only parameters whose values are logged: the ones known to carry no
/// secret. Every other value (secrets, assertions, codes, tokens, passwords,
/// verifiers, parameters the emulator does not know) is [`REDACTED`].
const SAFE_PARAMS: &[&str] = &[
    "api-version",
    "claims",
    "client_assertion_type",
    "client_id",
    "client_info",
    "code_challenge_method",
    "domain_hint",
    "grant_type",
    "login_hint",
    "max_age",
    "nonce",
    "post_logout_redirect_uri",
    "prompt",
    "redirect_uri",
    "requested_token_use",
    "resource",
    "response_mode",
    "response_type",
    "scope",
    "state",
    "x-client-CPU",
    "x-client-OS",
    "x-client-SKU",
    "x-client-VER",
];

/// Longest parameter name not on the allow-list that is logged as sent.
const NAME_CAP: usize = 64;

/// The request log.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    records: VecDeque<RequestRecord>,
    /// The sum of [`footprint`] over `records`.
    bytes: usize,
}

impl RequestLog {
    /// Appends `record`, evicting the oldest records until the log is within
    /// its capacity and byte budget.
    pub(crate) fn push(&mut self, record: RequestRecord) {
        let size = footprint(&record);
        while !self.records.is_empty()
            && (self.records.len() >= LOG_CAPACITY || self.bytes + size > LOG_BUDGET)
        {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= footprint(&old);
            }
        }
        self.bytes += size;
        self.records.push_back(record);
    }

    /// The records, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &RequestRecord> {
        self.records.iter()
    }
}

/// The parameters of a request as they are logged: names on the
/// allow-list keep their (shortened) values, every other value is redacted,
/// and at most [`PARAMS_CAP`] are kept. Returns them and how many were left
/// out.
pub(crate) fn logged_params<'a>(
    params: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
) -> (Vec<(String, String)>, usize) {
    let mut kept = Vec::new();
    let mut omitted = 0;
    for (name, value) in params {
        if kept.len() == PARAMS_CAP {
            omitted += 1;
            continue;
        }
        kept.push(logged_param(&name, &value));
    }
    (kept, omitted)
}

/// One parameter as it is logged. A name is shown when it is on the
/// allow-list, or plain and with a value: a body that is a bare secret
/// parses as a name without one.
fn logged_param(name: &str, value: &str) -> (String, String) {
    if SAFE_PARAMS.contains(&name) {
        return (name.to_owned(), capped(value));
    }
    let plain_name = !value.is_empty()
        && name.len() <= NAME_CAP
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    let name = if plain_name { name } else { REDACTED };
    (name.to_owned(), REDACTED.to_owned())
}

/// `text` cut to [`VALUE_CAP`] bytes (on a character boundary), with its
/// full length noted when it was cut.
pub(crate) fn capped(text: &str) -> String {
    if text.len() <= VALUE_CAP {
        return text.to_owned();
    }
    let mut end = VALUE_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &text[..end], text.len())
}

/// The bytes a record holds: its own size and its strings' contents.
fn footprint(record: &RequestRecord) -> usize {
    size_of::<RequestRecord>()
        + record.method.len()
        + record.path.len()
        + record
            .params
            .iter()
            .map(|(k, v)| size_of::<(String, String)>() + k.len() + v.len())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(value: &str) -> RequestRecord {
        RequestRecord {
            aadsts: None,
            time: 0,
            method: "POST".to_owned(),
            path: "/t/oauth2/v2.0/token".to_owned(),
            params: vec![("scope".to_owned(), value.to_owned())],
            omitted_params: 0,
            status: 200,
        }
    }

    #[test]
    fn long_values_are_cut_on_a_character_boundary_with_their_length() {
        let text = "é".repeat(VALUE_CAP);
        let cut = capped(&text);
        assert!(
            cut.ends_with(&format!("…({} bytes)", VALUE_CAP * 2)),
            "{cut}"
        );
        assert!(cut.len() <= VALUE_CAP + 20);
        assert_eq!(capped("short"), "short");
    }

    #[test]
    fn the_log_evicts_the_oldest_records_beyond_its_budget() {
        let mut log = RequestLog::default();
        let big = "x".repeat(VALUE_CAP);
        for _ in 0..LOG_CAPACITY {
            log.push(record(&big));
        }
        assert!(log.bytes <= LOG_BUDGET);
        assert!(log.iter().count() < LOG_CAPACITY);
        let sum: usize = log.iter().map(footprint).sum();
        assert_eq!(sum, log.bytes);
        for _ in 0..LOG_CAPACITY {
            log.push(record(""));
        }
        assert_eq!(log.iter().count(), LOG_CAPACITY);
    }

    #[test]
    fn odd_names_and_unknown_parameters_are_redacted() {
        let params = [
            ("eyJhbGciOi.a.b c", "x"),
            ("my_new_secret", "xyz"),
            ("grant_type", "password"),
            ("bare-secret", ""),
        ];
        let (kept, omitted) = logged_params(params.iter().map(|&(k, v)| (k.into(), v.into())));
        assert_eq!(omitted, 0);
        assert_eq!(kept[0], (REDACTED.to_owned(), REDACTED.to_owned()));
        assert_eq!(kept[1], ("my_new_secret".to_owned(), REDACTED.to_owned()));
        assert_eq!(kept[2], ("grant_type".to_owned(), "password".to_owned()));
        assert_eq!(kept[3], (REDACTED.to_owned(), REDACTED.to_owned()));
    }
}
