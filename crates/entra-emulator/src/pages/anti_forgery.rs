//! Anti-forgery tokens of the emulator's HTML forms (sign-in, consent,
//! device-code verification): random, single-use, bound to the browser they
//! were shown to (by a digest of its cookie), expiring on the real clock
//! (tests shift the emulator's clock; forms should not care), bounded in
//! number (the entries closest to expiry go first). Only digests of the
//! token ids are kept.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::state::lock;
use crate::util::{now, random_token, secrets_equal, sha256_b64};

/// How long a form stays valid, in seconds.
pub(crate) const FORM_TTL: i64 = 15 * 60;

/// How many forms may be pending at once.
pub(crate) const MAX_FORMS: usize = 10_000;

#[derive(Debug)]
struct Entry<T> {
    browser: String,
    value: T,
    expires: i64,
}

/// Pending forms, each carrying a `T` (what the form is for).
#[derive(Debug)]
pub(crate) struct FormTokens<T> {
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Default for FormTokens<T> {
    fn default() -> Self {
        FormTokens {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T: Clone> FormTokens<T> {
    /// Records a form shown to `browser` (its cookie value); returns the token.
    pub(crate) fn issue(&self, browser: &str, value: T) -> String {
        let id = random_token(32);
        let now = now();
        let mut map = lock(&self.entries);
        map.retain(|_, e| e.expires > now);
        while map.len() >= MAX_FORMS {
            let oldest = map
                .iter()
                .min_by_key(|(_, e)| e.expires)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => map.remove(&key),
                None => break,
            };
        }
        map.insert(
            sha256_b64(id.as_bytes()),
            Entry {
                browser: sha256_b64(browser.as_bytes()),
                value,
                expires: now + FORM_TTL,
            },
        );
        id
    }

    /// The form's value if `id` is live, was shown to `browser` and `accept`s
    /// its value; with `consume` it is then used up.
    pub(crate) fn check(
        &self,
        id: &str,
        browser: &str,
        consume: bool,
        accept: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let key = sha256_b64(id.as_bytes());
        let mut map = lock(&self.entries);
        let entry = map.get(&key)?;
        let ok = entry.expires > now()
            && secrets_equal(&entry.browser, &sha256_b64(browser.as_bytes()))
            && accept(&entry.value);
        if !ok {
            return None;
        }
        let value = entry.value.clone();
        if consume {
            map.remove(&key);
        }
        Some(value)
    }

    /// Uses up `id` whoever presents it (a token tried from the wrong browser
    /// is burnt too); its value only if it was live and shown to `browser`.
    pub(crate) fn take(&self, id: &str, browser: &str) -> Option<T> {
        let entry = lock(&self.entries).remove(&sha256_b64(id.as_bytes()))?;
        (entry.expires > now() && secrets_equal(&entry.browser, &sha256_b64(browser.as_bytes())))
            .then_some(entry.value)
    }
}
