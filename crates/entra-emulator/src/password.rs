//! Users' passwords as the administration journal keeps them: Argon2id
//! hashes in the PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`),
//! never the password itself.
//!
//! New hashes use OWASP's minimum for Argon2id: 19 MiB of memory, 2
//! passes, 1 lane. Argon2 is built with optimisations even in debug builds
//! (the workspace's `[profile.dev.package]` settings), so a verification
//! costs tens of milliseconds there too, not seconds. A stored hash is
//! accepted only within bounds (at most 64 MiB, 10 passes, 4 lanes): a
//! hash handed to the administration API cannot make every sign-in
//! exhaust the machine.

use std::fmt;

use argon2::password_hash::{self, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Argon2, Params};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::error::{ConfigError, CryptoError};

/// The largest memory cost accepted in a stored hash, in KiB.
const MAX_MEMORY_KIB: u32 = 64 * 1024;
/// The most passes accepted in a stored hash.
const MAX_PASSES: u32 = 10;
/// The most lanes accepted in a stored hash.
const MAX_LANES: u32 = 4;

/// A password as an Argon2id hash (PHC string). Its `Debug` shows no part
/// of the hash, and the administration API never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str) -> Result<Self, Error> {
        let mut salt = [0u8; 16];
        aws_lc_rs::rand::fill(&mut salt).map_err(CryptoError::Random)?;
        let salt = SaltString::encode_b64(&salt).map_err(CryptoError::PasswordHashing)?;
        let hash = Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map_err(CryptoError::PasswordHashing)?;
        Ok(PasswordHash(hash.to_string()))
    }

    /// Whether `password` is the password hashed.
    pub fn verify(&self, password: &str) -> bool {
        password_hash::PasswordHash::new(&self.0).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }

    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PasswordHash {
    type Error = ConfigError;

    /// Accepts an Argon2id PHC string with a salt, a hash and costs within bounds.
    fn try_from(text: String) -> Result<Self, ConfigError> {
        let refuse = |reason: String| ConfigError::PasswordHash { reason };
        let hash = password_hash::PasswordHash::new(&text).map_err(|e| refuse(format!("{e}")))?;
        if hash.algorithm != argon2::ARGON2ID_IDENT {
            return Err(refuse(format!(
                "the algorithm is {}, not argon2id",
                hash.algorithm
            )));
        }
        if hash.salt.is_none() || hash.hash.is_none() {
            return Err(refuse("the salt or the hash is missing".to_owned()));
        }
        let params = Params::try_from(&hash).map_err(|e| refuse(format!("{e}")))?;
        if params.m_cost() > MAX_MEMORY_KIB
            || params.t_cost() > MAX_PASSES
            || params.p_cost() > MAX_LANES
        {
            return Err(refuse(format!(
                "costs m={},t={},p={} exceed m={MAX_MEMORY_KIB},t={MAX_PASSES},p={MAX_LANES}",
                params.m_cost(),
                params.t_cost(),
                params.p_cost()
            )));
        }
        Ok(PasswordHash(text))
    }
}

impl From<PasswordHash> for String {
    fn from(hash: PasswordHash) -> String {
        hash.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hashes_verify_their_password_only() {
        let hash = PasswordHash::new("carol-dev-password").unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!hash.as_str().contains("carol-dev-password"));
        assert!(hash.verify("carol-dev-password"));
        assert!(!hash.verify("carol-dev-passwor"));
        assert!(!hash.verify(""));
        // Salted: the same password hashes differently.
        assert_ne!(hash, PasswordHash::new("carol-dev-password").unwrap());
        // Round trip through its serde shape, a string.
        let json = serde_json::to_string(&hash).unwrap();
        let back: PasswordHash = serde_json::from_str(&json).unwrap();
        assert!(back.verify("carol-dev-password"));
        assert_eq!(format!("{hash:?}"), "PasswordHash(..)");
    }

    #[test]
    fn only_bounded_argon2id_hashes_are_accepted() {
        let refused = |text: &str| PasswordHash::try_from(text.to_owned()).is_err();
        assert!(refused("carol-dev-password"));
        assert!(refused(
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
        assert!(refused("$argon2id$v=19$m=19456,t=2,p=1"));
        assert!(refused(
            "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
        assert!(refused(
            "$argon2id$v=19$m=19456,t=1000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
        assert!(!refused(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"
        ));
    }
}
