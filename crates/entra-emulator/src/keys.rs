//! Token-signing keys, per tenant: RSA-2048 keys with a real self-signed
//! X.509 certificate each (so `x5c` and `x5t` are genuine; `kid` equals
//! `x5t`, as Entra publishes them), persisted in the data directory so tokens
//! survive a restart, and rotated on request: the new key signs at once, the
//! old one stays published for a grace period.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;
use crate::error::{AdminError, CryptoError};
use crate::util::{b64url, sha1_b64};

/// One signing key and its certificate.
pub(crate) struct SigningKey {
    /// `kid` (= `x5t`, the base64url SHA-1 thumbprint of the certificate).
    pub kid: String,
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
    cert_der: Vec<u8>,
    /// When it was created (Unix seconds).
    pub created: i64,
    /// When it stopped signing (Unix seconds); `i64::MAX` while it signs.
    retired: AtomicI64,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("retired", &self.retired())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new key with a fresh self-signed certificate.
    pub(crate) fn generate(now: i64) -> Result<Self, Error> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(CryptoError::KeyGeneration)?;
        let pkcs8 = pair
            .as_der()
            .map_err(CryptoError::KeyEncoding)?
            .as_ref()
            .to_vec();
        let cert_der = self_signed_certificate(&pkcs8)?;
        Self::from_parts(pkcs8, cert_der, now, None)
    }

    fn from_parts(
        pkcs8: Vec<u8>,
        cert_der: Vec<u8>,
        created: i64,
        retired: Option<i64>,
    ) -> Result<Self, Error> {
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).map_err(CryptoError::StoredKey)?;
        Ok(SigningKey {
            kid: sha1_b64(&cert_der),
            pair,
            pkcs8,
            cert_der,
            created,
            retired: AtomicI64::new(retired.unwrap_or(i64::MAX)),
        })
    }

    /// When it stopped signing (Unix seconds), if it was rotated out.
    pub(crate) fn retired(&self) -> Option<i64> {
        Some(self.retired.load(Ordering::Acquire)).filter(|&at| at != i64::MAX)
    }

    /// Signs `header.payload` with RS256 and returns the compact JWS.
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> Result<String, Error> {
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .map_err(CryptoError::Signing)?;
        Ok(format!("{input}.{}", b64url(&signature)))
    }

    /// The public key as Entra publishes it, with an `issuer` property.
    pub(crate) fn jwk(&self, issuer: Option<&str>) -> Value {
        let public = self.pair.public_key();
        let mut jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": b64url(public.modulus().big_endian_without_leading_zero()),
            "e": b64url(public.exponent().big_endian_without_leading_zero()),
            "x5c": [STANDARD.encode(&self.cert_der)],
        });
        if let Some(issuer) = issuer {
            jwk["issuer"] = issuer.into();
        }
        jwk
    }

    /// The PKCS#1 DER public key (to verify what this key signed).
    pub(crate) fn public_key_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }
}

/// A self-signed certificate for a token-signing key (Entra publishes one per key).
fn self_signed_certificate(pkcs8: &[u8]) -> Result<Vec<u8>, Error> {
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8.to_vec());
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256)
        .map_err(CryptoError::Certificate)?;
    let mut params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(CryptoError::Certificate)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        "accounts.accesscontrol.windows.net (entra-emulator)",
    );
    let cert = params.self_signed(&key).map_err(CryptoError::Certificate)?;
    Ok(cert.der().to_vec())
}

#[derive(Serialize, Deserialize)]
struct StoredKey {
    pkcs8: String,
    certificate: String,
    created: i64,
    retired: Option<i64>,
}

#[derive(Serialize, Deserialize)]
struct StoredTenant {
    active: String,
    keys: Vec<StoredKey>,
}

#[derive(Debug, Default)]
struct TenantKeys {
    active: usize,
    keys: Vec<Arc<SigningKey>>,
}

impl TenantKeys {
    /// The published key that will sign after the next rotation.
    fn next(&self) -> Option<usize> {
        self.keys
            .iter()
            .enumerate()
            .position(|(i, k)| i != self.active && k.retired().is_none())
    }
}

/// All tenants' keys.
#[derive(Debug)]
pub(crate) struct KeyRing {
    tenants: RwLock<HashMap<String, TenantKeys>>,
    dir: Option<PathBuf>,
    grace: i64,
}

impl KeyRing {
    /// Loads each tenant's keys from `data_dir/keys/{tenant}.json`, creating
    /// (and saving) a key for tenants that have none.
    pub(crate) fn load(
        data_dir: Option<&Path>,
        tenant_ids: &[String],
        grace: i64,
        now: i64,
    ) -> Result<Self, Error> {
        let dir = data_dir.map(|d| d.join("keys"));
        if let Some(dir) = &dir {
            crate::store::private_dir(dir)?;
        }
        let ring = KeyRing {
            tenants: RwLock::new(HashMap::new()),
            dir,
            grace,
        };
        for tid in tenant_ids {
            ring.ensure_tenant(tid, now)?;
        }
        Ok(ring)
    }

    /// Makes sure a tenant has keys (loading or creating them).
    pub(crate) fn ensure_tenant(&self, tid: &str, now: i64) -> Result<(), Error> {
        let tid = tid.to_ascii_lowercase();
        if self.read().contains_key(&tid) {
            return Ok(());
        }
        let mut keys = match self.load_tenant(&tid)? {
            Some(keys) => keys,
            None => TenantKeys {
                active: 0,
                keys: vec![Arc::new(SigningKey::generate(now)?)],
            },
        };
        // Like Entra, always publish more than one key: the next signing key
        // is in the key set before it signs anything.
        if keys.next().is_none() {
            keys.keys.push(Arc::new(SigningKey::generate(now)?));
            self.save_tenant(&tid, &keys)?;
        }
        self.write().insert(tid, keys);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, TenantKeys>> {
        self.tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, TenantKeys>> {
        self.tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The key that signs the tenant's tokens now.
    pub(crate) fn active(&self, tid: &str) -> Option<Arc<SigningKey>> {
        let tenants = self.read();
        let keys = tenants.get(&tid.to_ascii_lowercase())?;
        keys.keys.get(keys.active).cloned()
    }

    /// The keys the tenant publishes: the active one, the next one, and those
    /// retired less than the grace period ago.
    pub(crate) fn published(&self, tid: &str, now: i64) -> Vec<Arc<SigningKey>> {
        let tenants = self.read();
        tenants
            .get(&tid.to_ascii_lowercase())
            .map(|keys| {
                keys.keys
                    .iter()
                    .filter(|k| k.retired().is_none_or(|at| now < at + self.grace))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every published key of every tenant (the `common` key set), with its tenant.
    pub(crate) fn all_published(&self, now: i64) -> Vec<(String, Arc<SigningKey>)> {
        let tids: Vec<String> = self.read().keys().cloned().collect();
        tids.into_iter()
            .flat_map(|tid| {
                self.published(&tid, now)
                    .into_iter()
                    .map(move |k| (tid.clone(), k))
            })
            .collect()
    }

    /// Any published key by `kid` (to check tokens the emulator issued).
    pub(crate) fn find(&self, kid: &str, now: i64) -> Option<(String, Arc<SigningKey>)> {
        self.all_published(now)
            .into_iter()
            .find(|(_, k)| k.kid == kid)
    }

    /// Publishes a new key and signs with it from now on; the previous key
    /// stays published for the grace period. Returns the new `kid`.
    ///
    /// The key that signs from now on is the one already published as the
    /// next key, so validators that cached the key set before the rotation
    /// verify the new tokens without fetching it again; a fresh next key is
    /// published in its place.
    pub(crate) fn rotate(&self, tid: &str, now: i64) -> Result<String, Error> {
        let tid = tid.to_ascii_lowercase();
        let fresh = Arc::new(SigningKey::generate(now)?);
        let mut tenants = self.write();
        let keys = tenants
            .get_mut(&tid)
            .ok_or_else(|| AdminError::UnknownTenant {
                tenant: tid.clone(),
            })?;
        let old = keys.keys[keys.active].clone();
        let _ = old
            .retired
            .compare_exchange(i64::MAX, now, Ordering::AcqRel, Ordering::Acquire);
        let promoted = match keys.next() {
            Some(next) => next,
            None => {
                keys.keys.push(Arc::new(SigningKey::generate(now)?));
                keys.keys.len() - 1
            }
        };
        let kid = keys.keys[promoted].kid.clone();
        keys.keys.push(fresh);
        keys.keys
            .retain(|k| k.retired().is_none_or(|at| now < at + self.grace));
        keys.active = keys.keys.iter().position(|k| k.kid == kid).ok_or_else(|| {
            CryptoError::NoSigningKey {
                tenant: tid.clone(),
            }
        })?;
        self.save_tenant(&tid, keys)?;
        Ok(kid)
    }

    fn path(&self, tid: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{tid}.json")))
    }

    fn load_tenant(&self, tid: &str) -> Result<Option<TenantKeys>, Error> {
        let Some(path) = self.path(tid) else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::storage(path, e)),
        };
        let stored: StoredTenant =
            serde_json::from_str(&text).map_err(|e| Error::unreadable(&path, e))?;
        let mut keys = Vec::new();
        for key in stored.keys {
            let decode = |s: &str| STANDARD.decode(s).map_err(|e| Error::unreadable(&path, e));
            keys.push(Arc::new(SigningKey::from_parts(
                decode(&key.pkcs8)?,
                decode(&key.certificate)?,
                key.created,
                key.retired,
            )?));
        }
        let active = keys
            .iter()
            .position(|k| k.kid == stored.active)
            .ok_or_else(|| Error::unreadable(&path, "the active key is missing"))?;
        Ok(Some(TenantKeys { active, keys }))
    }

    fn save_tenant(&self, tid: &str, keys: &TenantKeys) -> Result<(), Error> {
        let Some(path) = self.path(tid) else {
            return Ok(());
        };
        let stored = StoredTenant {
            active: keys.keys[keys.active].kid.clone(),
            keys: keys
                .keys
                .iter()
                .map(|k| StoredKey {
                    pkcs8: STANDARD.encode(&k.pkcs8),
                    certificate: STANDARD.encode(&k.cert_der),
                    created: k.created,
                    retired: k.retired(),
                })
                .collect(),
        };
        let text =
            serde_json::to_string_pretty(&stored).map_err(|e| Error::storage(&path, e.into()))?;
        crate::store::write_atomically(&path, text.as_bytes())
    }
}
