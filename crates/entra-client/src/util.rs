//! Small helpers: randomness, digests, bounded response bodies.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;

/// Largest response body read from the identity provider (1 MiB).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// `n` random bytes, base64url without padding.
pub(crate) fn random_b64(n: usize) -> Result<String, Error> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::Credential("the system random generator failed".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A random (version 4) GUID, as Entra's correlation ids and `jti`s look.
pub(crate) fn random_guid() -> Result<String, Error> {
    entra_core::random_guid()
        .map_err(|_| Error::Credential("the system random generator failed".into()))
}

/// SHA-256, base64url without padding.
pub(crate) fn sha256_b64(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, input))
}

/// Reads a response body up to [`MAX_BODY`] bytes.
pub(crate) async fn read_body(
    url: &str,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, Error> {
    let status = response.status().as_u16();
    let too_large = || Error::UnexpectedResponse {
        url: url.to_owned(),
        status,
        reason: "the answer is larger than 1 MiB".into(),
    };
    if response
        .content_length()
        .is_some_and(|len| len > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error as [`Error::Timeout`] or [`Error::Http`].
pub(crate) fn transport_error(url: &str, e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout {
            url: url.to_owned(),
        }
    } else {
        Error::Http {
            url: url.to_owned(),
            source: std::sync::Arc::new(e.without_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use entra_core::is_guid;

    #[test]
    fn guids_are_version_4() {
        let g = random_guid().unwrap_or_default();
        assert!(is_guid(&g), "{g}");
        assert_eq!(&g[14..15], "4");
        assert_ne!(random_guid().unwrap_or_default(), g);
    }
}
