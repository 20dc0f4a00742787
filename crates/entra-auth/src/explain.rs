//! Why a token is accepted or refused, rule by rule.
//!
//! [`Validator::explain`] runs the validator's own rules one at a time and
//! reports each one's verdict, then validates the token for real. The table
//! comes from the same functions as the verdict (the token core's
//! [`Rules`](entra_core::rules::Rules)), so it can never contradict it; it
//! only goes on where validation stops at the first failure.
//!
//! ```no_run
//! # async fn run(validator: entra_auth::Validator, token: &str) {
//! let explanation = validator.explain(token).await;
//! for check in &explanation.checks {
//!     let mark = if check.result.is_ok() { "ok  " } else { "FAIL" };
//!     println!("{mark} {:<10} {}", check.rule, check.detail);
//! }
//! println!("{:?}", explanation.verdict.map(|p| p.key()));
//! # }
//! ```

use entra_core::claims::Claims;
use entra_core::jws::{self, Parsed};
pub use entra_core::rules::{Rule, Verdict};

use crate::verifier::{KeyError, verify_signature};
use crate::{Error, Principal, Validator};

/// Each rule's verdict on a token, and the validator's own.
#[derive(Debug)]
#[non_exhaustive]
pub struct Explanation {
    /// Every rule, in the order validation runs them.
    pub checks: Vec<Verdict>,
    /// What [`Validator::validate`] answers for the token.
    pub verdict: Result<Principal, Error>,
}

impl Validator {
    /// Runs each of this validator's rules on `token` on its own, and then
    /// validates it (which may fetch keys, as [`validate`](Self::validate)).
    pub async fn explain(&self, token: &str) -> Explanation {
        let verdict = self.validate(token).await;
        let mut checks = Vec::new();
        let parsed = self.inner.verifier.parse(token);
        checks.push(Verdict::new(
            Rule::Structure,
            parsed.as_ref().map(drop).map_err(|r| *r),
            match &parsed {
                Ok(p) => format!("a compact JWS signed with {}", p.header.alg),
                Err(_) => structure_detail(token),
            },
        ));
        // Claims are shown for a token whose header is refused too (alg none,
        // an embedded key): the reasons it would fail otherwise still matter.
        let payload = match &parsed {
            Ok(parsed) => Some(parsed.payload.clone()),
            Err(_) => jws::split(token).ok().map(|s| s.payload),
        };
        let key = match &parsed {
            Ok(parsed) => Some(self.explain_key(parsed, &mut checks).await),
            Err(_) => None,
        };
        let snapshot = self.inner.verifier.keys.snapshot();
        let key_issuer = key.flatten().and_then(|k| k.issuer.clone());
        match payload.as_deref().map(Claims::read) {
            Some(Ok(mut claims)) => {
                self.inner.verifier.config.scope_claim.apply(&mut claims);
                let rules = self.rules(&snapshot);
                checks.extend(rules.explain(&claims, key_issuer.as_deref()));
            }
            Some(Err(reason)) => checks.push(Verdict::new(
                Rule::Structure,
                Err(reason),
                "the payload is not one strict JSON object",
            )),
            None => {}
        }
        Explanation { checks, verdict }
    }

    async fn explain_key(
        &self,
        parsed: &Parsed<'_>,
        checks: &mut Vec<Verdict>,
    ) -> Option<std::sync::Arc<crate::keys::SigningKey>> {
        let kid = parsed.header.kid.as_deref().unwrap_or("(none)");
        match self.inner.verifier.key(parsed).await {
            Ok((key, _snapshot)) => {
                checks.push(Verdict::new(Rule::Key, Ok(()), format!("kid {kid}")));
                let signature = verify_signature(parsed, &key);
                checks.push(Verdict::new(
                    Rule::Signature,
                    signature,
                    if signature.is_ok() {
                        "verifies with the published key"
                    } else {
                        "does not verify with the published key"
                    },
                ));
                Some(key.clone())
            }
            Err(KeyError::Invalid(reason)) => {
                checks.push(Verdict::new(
                    Rule::Key,
                    Err(reason),
                    format!("no published key {kid} (rotated away, or another tenant's)"),
                ));
                None
            }
            Err(KeyError::Unavailable { reason, .. }) => {
                checks.push(Verdict::new(
                    Rule::Key,
                    Err(entra_core::InvalidToken::UnknownKey),
                    format!("the keys are unavailable: {reason}"),
                ));
                None
            }
        }
    }
}

/// Why the structure fails, in words.
fn structure_detail(token: &str) -> String {
    let dots = token.bytes().filter(|&b| b == b'.').count();
    match dots {
        4 => "an encrypted token (JWE), which only its audience can read".to_owned(),
        2 => match jws::split(token) {
            Err(_) => "a segment is not strict base64url".to_owned(),
            Ok(segments) => match segments.header() {
                Ok(header) => format!(
                    "the header is refused: {}",
                    serde_json::Value::Object(header)
                ),
                Err(_) => "the header is not one strict JSON object".to_owned(),
            },
        },
        n => format!("a JWS has 3 dot-separated parts, this has {}", n + 1),
    }
}
