//! What the emulator records through the `metrics` facade (`/metrics` when
//! the process installed a recorder):
//!
//! - `entra_emulator_tokens_issued_total{grant}`: token responses, by grant
//!   (`authorization_code`, `client_credentials`, `refresh_token`,
//!   `device_code`, `on_behalf_of`, `password`, and `admin` for tokens
//!   minted through `POST /_emulator/tokens`);
//! - `entra_emulator_errors_total{code, error}`: the token endpoint's error
//!   answers, by AADSTS number and OAuth `error` code.
//!
//! Both label sets are bounded: grants are the fixed list above (anything
//! else never issues a token), and AADSTS numbers and `error` codes are the
//! emulator's own constants, never a value from the request.

use crate::error::OAuthError;

const ISSUED: &str = "entra_emulator_tokens_issued_total";
const ERRORS: &str = "entra_emulator_errors_total";

/// The label of a `grant_type` that was granted.
fn grant_label(grant: Option<&str>) -> &'static str {
    match grant {
        Some("authorization_code") => "authorization_code",
        Some("client_credentials") => "client_credentials",
        Some("refresh_token") => "refresh_token",
        Some("urn:ietf:params:oauth:grant-type:device_code" | "device_code") => "device_code",
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => "on_behalf_of",
        Some("password") => "password",
        _ => "other",
    }
}

/// Counts a token response of the token endpoint.
pub(crate) fn issued(grant: Option<&str>) {
    metrics::counter!(ISSUED, "grant" => grant_label(grant)).increment(1);
}

/// Counts a token minted through the administration API.
pub(crate) fn minted() {
    metrics::counter!(ISSUED, "grant" => "admin").increment(1);
}

/// Counts an error answer of the token endpoint.
pub(crate) fn error(error: &OAuthError) {
    metrics::counter!(ERRORS, "code" => error.code.to_string(), "error" => error.error)
        .increment(1);
}

/// Describes the families (once per recorder; repeating it is harmless).
pub(crate) fn describe() {
    metrics::describe_counter!(ISSUED, "Tokens issued, by grant");
    metrics::describe_counter!(
        ERRORS,
        "Token endpoint error answers, by AADSTS code and OAuth error"
    );
}
