//! Security catalogue §1, parts B–F (cases 9–62): every token-level attack
//! the resource server must withstand, one test per case, each variant inside.
//!
//! Every rejection is checked for its precise [`InvalidToken`] reason where
//! the library's contract makes it deterministic, and always for a `401`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use entra_auth::testing::{TestIssuer, TestKey};
use entra_auth::{AuthConfig, AuthConfigBuilder, Error, InvalidToken, Principal, Validator};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

mod algorithm;
mod claims;
mod header;
mod key_selection;
mod structure;

/// A self-signed X.509 certificate (CN=attacker), DER in standard base64, as
/// an `x5c` chain carries it.
const SELF_SIGNED_CERT: &str = concat!(
    "MIIDBzCCAe+gAwIBAgIUeoRPUBjSrmCuuinZe5mAoQfbcjgwDQYJKoZIhvcNAQELBQAwEzERMA8G",
    "A1UEAwwIYXR0YWNrZXIwHhcNMjYxMTIzMjMwNDMyWhcNMzYxMTIwMjMwNDMyWjATMREwDwYDVQQD",
    "DAhhdHRhY2tlcjCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAOE/KkYrge84JN7PsnBp",
    "rT91FkFjkqpnVOT6MIATCV+x4GOXLbuV2WEvwNKGCW7/1t3OVu/ZWMbKXe+poUxDl5dV2jwLv9cq",
    "m2nY7uVK1vkoXi53v2JJXzElK0HmZ+BY0aMRTT+SuuUvfrrner3Ve41xunhjRHUB+07a2tV6X1Ja",
    "uW4mBTM4yru3mqy5bBqc/LOIUPk+liSZeBZciV0UF3zhzxL5WJRK5ntwgFrtQLVJTRbijtECFNhY",
    "wNd9ASw/152M84CNY0JFl4TfOtPFBWLKQ2sbECIBg6JSrXsECLlxSDHzi6qGCqtMNBTOxSiupqDo",
    "QkMOaqL4tAhCnewfdi0CAwEAAaNTMFEwHQYDVR0OBBYEFKuDZ99cArjr9aPyUiHV/N5T23b3MB8G",
    "A1UdIwQYMBaAFKuDZ99cArjr9aPyUiHV/N5T23b3MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcN",
    "AQELBQADggEBAD7dCr7cahVg6+TXwHrZXylnIz5Enx5fnxVV4gvtQdwvdhoXRse+E57I01hNGrLV",
    "QgjLviLz1CU/w+Dx5ja6edkjZ6Tj+GESKCL2F+iYM/gCW7digDsxcDXMwv91AnKrzIMGhDcU2uuv",
    "GMCmpYkMa8R4P1kPIbqZEGeknuqgm2xZlDzNbWYj9hDQLE1OXQLNiK4euGl/nEIDTnrjVLVP6abL",
    "6zVaw87vYKMq9utrww/W9P+cXbpfgYYDsPn6NEwcqgcgoUa+XLSS8qSirpLqEcn3qe2uRmvGRebm",
    "FaXp+Zv1zsIW7RXXfN4aix7ePaMaFS7Nz/Wk7ks5OVwXlsfndDc=",
);

/// Microsoft Graph's application id: a token for Graph is not a token for us.
const GRAPH: &str = "00000003-0000-0000-c000-000000000000";

/// The base64url alphabet, in index order.
const URL_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The three segments of a compact token.
fn split(token: &str) -> (String, String, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    (
        parts[0].to_owned(),
        parts[1].to_owned(),
        parts[2].to_owned(),
    )
}

/// Signs `header.payload`, both taken verbatim (whatever their encoding),
/// with RS256 and appends the base64url signature.
fn sign_segments(key: &TestKey, header: &str, payload: &str) -> String {
    let input = format!("{header}.{payload}");
    let signature = key.sign_rs256(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn json_bytes(map: &Map<String, Value>) -> Vec<u8> {
    Value::Object(map.clone()).to_string().into_bytes()
}

/// JSON bytes with trailing spaces (still valid JSON) until `len % 3 == rem`,
/// to control how the base64 encoding ends.
fn with_len_mod3(mut bytes: Vec<u8>, rem: usize) -> Vec<u8> {
    while bytes.len() % 3 != rem {
        bytes.push(b' ');
    }
    bytes
}

/// A JSON object's text with `extra` (`"name":value`) appended as its last member.
fn append_member(json: &[u8], extra: &str) -> Vec<u8> {
    let text = std::str::from_utf8(json).unwrap().trim_end();
    let body = text.strip_suffix('}').unwrap();
    format!("{body},{extra}}}").into_bytes()
}

/// Every string that differs from `segment` only in the unused low bits of
/// its last character (same bytes under a lenient decoder).
fn non_canonical_variants(segment: &str) -> Vec<String> {
    let last = *segment.as_bytes().last().unwrap();
    let index = URL_ALPHABET.iter().position(|&c| c == last).unwrap();
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        other => panic!("segment length {other} mod 4 has no unused bits"),
    };
    let lenient = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    );
    let canonical = URL_SAFE_NO_PAD.decode(segment).unwrap();
    (0..unused_bits)
        .map(|bit| {
            let mut s = segment[..segment.len() - 1].to_owned();
            s.push(char::from(URL_ALPHABET[index ^ (1 << bit)]));
            assert_ne!(s, segment);
            assert_eq!(
                lenient.decode(&s).unwrap(),
                canonical,
                "the variant must carry the same bytes"
            );
            s
        })
        .collect()
}

/// Asserts a rejection with exactly `expected`, answered 401 `invalid_token`.
#[track_caller]
fn assert_rejected(result: &Result<Principal, Error>, expected: InvalidToken, what: &str) {
    match result {
        Ok(p) => panic!(
            "{what}: ACCEPTED (subject {:?}), expected InvalidToken::{expected:?}",
            p.subject()
        ),
        Err(err) => {
            assert!(
                matches!(err, Error::InvalidToken(reason) if *reason == expected),
                "{what}: expected InvalidToken::{expected:?}, got {err:?}"
            );
            assert_eq!(err.status().as_u16(), 401, "{what}: {err:?}");
            let challenge = err.challenge().expect("a challenge");
            assert!(
                challenge
                    .to_str()
                    .unwrap()
                    .contains("error=\"invalid_token\""),
                "{what}: {challenge:?}"
            );
        }
    }
}

async fn reject(validator: &Validator, token: &str, expected: InvalidToken, what: &str) {
    let result = validator.validate(token).await;
    assert_rejected(&result, expected, what);
}

async fn accept(validator: &Validator, token: &str, what: &str) -> Principal {
    match validator.validate(token).await {
        Ok(principal) => principal,
        Err(err) => panic!("{what}: rejected with {err:?}, expected acceptance"),
    }
}

/// A configuration trusting `issuer`'s issuers and exactly these JWKs.
fn static_config(issuer: &TestIssuer, keys: Vec<Value>) -> AuthConfigBuilder {
    AuthConfig::builder()
        .client_id(issuer.client_id())
        .static_keys(
            Some(issuer.issuer_v2()),
            Some(issuer.issuer_v1()),
            json!({ "keys": keys }).to_string(),
        )
}

fn build(config: AuthConfigBuilder) -> Validator {
    Validator::new(config.build().unwrap()).unwrap()
}

/// A loopback listener that counts the connections it receives.
async fn canary() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            if let Ok((socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        }
    });
    (format!("http://{addr}"), hits)
}
