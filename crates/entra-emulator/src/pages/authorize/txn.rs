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
//! - an expiry on the real clock (tests shift the emulator's clock).
//!
//! The transactions live in the emulator's state ([`crate::pages::anti_forgery::FormTokens`]).

use crate::state::State as Shared;

/// What a form is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The sign-in form.
    SignIn,
    /// The consent form of one signed-in session (digest of its id).
    Consent { session: String },
}

/// A pending form: the digest of its hidden fields, and its stage.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    request: String,
    stage: Stage,
}

/// Records a new transaction; returns its id (the form's `txn` field).
pub(crate) fn create(
    state: &Shared,
    request_digest: String,
    browser: &str,
    stage: Stage,
) -> String {
    state.sign_in_forms.issue(
        browser,
        Pending {
            request: request_digest,
            stage,
        },
    )
}

/// Whether `id` is a live transaction of this emulator, for this request,
/// browser and stage. `consume` removes it when it matches.
pub(crate) fn check(
    state: &Shared,
    id: &str,
    request_digest: &str,
    browser: Option<&str>,
    stage: &Stage,
    consume: bool,
) -> bool {
    let Some(browser) = browser else {
        return false;
    };
    state
        .sign_in_forms
        .check(id, browser, consume, |p| {
            crate::util::secrets_equal(&p.request, request_digest) && &p.stage == stage
        })
        .is_some()
}
