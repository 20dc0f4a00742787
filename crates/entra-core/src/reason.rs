//! Why a token was refused: [`InvalidToken`], each reason's text written once.

use http::HeaderValue;

/// Declares [`InvalidToken`] from one table: each variant with its fixed
/// text, which `Display`, [`InvalidToken::description`] and the
/// `WWW-Authenticate` challenge all render, so a text cannot drift between
/// the log line, the problem-details body and the header.
macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal, )*) => {
        /// Why a token was refused. Every variant is answered `401 invalid_token`.
        ///
        /// The descriptions are fixed texts: nothing from the token is echoed back.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum InvalidToken {
            $( $(#[$doc])* $variant, )*
        }

        impl InvalidToken {
            /// Every reason, in declaration order.
            pub const ALL: &'static [InvalidToken] = &[$(InvalidToken::$variant,)*];

            /// The fixed text of this reason.
            pub const fn description(self) -> &'static str {
                match self {
                    $(InvalidToken::$variant => $text,)*
                }
            }

            /// The `WWW-Authenticate` challenge for this reason (RFC 6750
            /// §3: `error="invalid_token"` with the description; static, no
            /// allocation).
            pub fn challenge(self) -> HeaderValue {
                match self {
                    $(InvalidToken::$variant => HeaderValue::from_static(concat!(
                        "Bearer error=\"invalid_token\", error_description=\"",
                        $text,
                        "\""
                    )),)*
                }
            }
        }
    };
}

reasons! {
    /// Not a compact JWS: wrong number of segments, characters outside base64url,
    /// padding, a segment that is not a JSON object, duplicate members.
    Malformed => "the token is malformed",
    /// A JWE (five segments or an `enc` header): encrypted tokens are not accepted.
    Encrypted => "encrypted tokens are not accepted",
    /// `alg` is missing or not on the allow-list (`none`, HMAC, RS512...).
    Algorithm => "the signing algorithm is not allowed",
    /// The header carries or points to a key (`jwk`, `jku`, `x5u`, `x5c`).
    EmbeddedKey => "tokens may not carry or point to their own key",
    /// The header has a `crit` member: no extension is understood here.
    CriticalHeader => "the token has critical header extensions",
    /// The header uses `b64`, `zip`, `cty`, or an unexpected `typ`.
    UnsupportedHeader => "the token header is not supported",
    /// No published key matches the token's `kid`.
    UnknownKey => "the signing key was not found",
    /// The signature does not verify.
    BadSignature => "the signature is invalid",
    /// `exp` is in the past (beyond the clock skew).
    Expired => "the token has expired",
    /// `nbf` is in the future (beyond the clock skew).
    NotYetValid => "the token is not valid yet",
    /// `iat` is in the future (beyond the clock skew).
    IssuedInFuture => "the token was issued in the future",
    /// A required claim is missing, or a claim has the wrong type.
    Claims => "a required claim is missing or has the wrong type",
    /// `iss` is not the issuer configured for this token's version and tenant,
    /// or not the issuer of the key that signed it.
    Issuer => "the issuer is invalid",
    /// `aud` does not name this API.
    Audience => "the audience is invalid",
    /// The token's tenant is not allowed.
    Tenant => "the tenant is not allowed",
    /// The token's version (`ver`) is not accepted.
    Version => "the token version is not accepted",
    /// The token is an ID token, not an access token (`nonce`, `at_hash`,
    /// `c_hash`, or no client named).
    IdToken => "ID tokens are not access tokens",
    /// The access token grants nothing: neither delegated scopes (`scp`) nor
    /// app roles or permissions (`roles`).
    NoScopeOrRoles => "the token carries neither scopes nor roles",
}

impl std::fmt::Display for InvalidToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

impl std::error::Error for InvalidToken {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_renders_its_one_text_everywhere() {
        let mut seen = std::collections::HashSet::new();
        for &reason in InvalidToken::ALL {
            let text = reason.description();
            assert!(seen.insert(text), "{text} is used twice");
            assert_eq!(reason.to_string(), text);
            assert_eq!(
                reason.challenge().to_str().ok(),
                Some(
                    format!("Bearer error=\"invalid_token\", error_description=\"{text}\"")
                        .as_str()
                )
            );
            // Header-safe: no quote or backslash that would end the quoted string.
            assert!(!text.contains(['"', '\\']), "{text}");
        }
        assert_eq!(InvalidToken::ALL.len(), 18);
    }
}
