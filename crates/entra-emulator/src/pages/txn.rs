//! Pending sign-in and consent transactions: the anti-forgery tokens of the
//! emulator's forms.
//!
//! Design: the authorize request travels in the forms' hidden fields (so a
//! page is self-describing and the server keeps almost nothing), and a
//! random transaction id, the form's anti-forgery token, is recorded here
//! with
//!
//! - a digest of those hidden fields (so they cannot be altered),
//! - a digest of the browser cookie of the browser the form was shown to (a
//!   form posted from another browser, or cross-site without the `SameSite`
//!   cookie, is refused: login and consent CSRF),
//! - the stage (sign-in, or consent for one signed-in session),
//! - the emulator that issued it (several emulators share this process in tests),
//! - an expiry on the real clock (tests shift the emulator's clock).
//!
//! The map is a process-wide `LazyLock` because the shared state is not this
//! module's to extend; it is bounded ([`MAX_PENDING`], the entries closest to
//! expiry dropped first), entries expire after [`PENDING_TTL`] seconds, and a
//! transaction is consumed when its stage completes. Keys are SHA-256 digests
//! of the ids.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use crate::state::lock;
use crate::util::{now, random_token, sha256_b64};

/// How long a form stays valid, in seconds.
pub(crate) const PENDING_TTL: i64 = 15 * 60;

/// How many forms may be pending at once.
pub(crate) const MAX_PENDING: usize = 10_000;

/// What a form is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The sign-in form.
    SignIn,
    /// The consent form of one signed-in session (digest of its id).
    Consent { session: String },
}

#[derive(Debug, Clone)]
struct Pending {
    emulator: String,
    request: String,
    browser: String,
    stage: Stage,
    expires: i64,
}

static PENDING: LazyLock<Mutex<HashMap<String, Pending>>> = LazyLock::new(Default::default);

/// Records a new transaction; returns its id (the form's `txn` field).
pub(crate) fn create(
    emulator: &str,
    request_digest: String,
    browser: &str,
    stage: Stage,
) -> String {
    let id = random_token(32);
    let now = now();
    let mut map = lock(&PENDING);
    map.retain(|_, p| p.expires > now);
    while map.len() >= MAX_PENDING {
        let oldest = map
            .iter()
            .min_by_key(|(_, p)| p.expires)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => map.remove(&key),
            None => break,
        };
    }
    map.insert(
        sha256_b64(id.as_bytes()),
        Pending {
            emulator: emulator.to_owned(),
            request: request_digest,
            browser: sha256_b64(browser.as_bytes()),
            stage,
            expires: now + PENDING_TTL,
        },
    );
    id
}

/// Whether `id` is a live transaction of this emulator, for this request,
/// browser and stage. `consume` removes it when it matches.
pub(crate) fn check(
    id: &str,
    emulator: &str,
    request_digest: &str,
    browser: Option<&str>,
    stage: &Stage,
    consume: bool,
) -> bool {
    let Some(browser) = browser else {
        return false;
    };
    let key = sha256_b64(id.as_bytes());
    let mut map = lock(&PENDING);
    let ok = map.get(&key).is_some_and(|p| {
        p.expires > now()
            && p.emulator == emulator
            && crate::util::secrets_equal(&p.request, request_digest)
            && crate::util::secrets_equal(&p.browser, &sha256_b64(browser.as_bytes()))
            && &p.stage == stage
    });
    if ok && consume {
        map.remove(&key);
    }
    ok
}
