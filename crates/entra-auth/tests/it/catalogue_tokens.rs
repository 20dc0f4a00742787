//! Security catalogue §1, parts B–F (cases 9–62): every token-level attack
//! the resource server must withstand, one test per case, each variant inside.
//!
//! Every rejection is checked for its precise [`InvalidToken`] reason where
//! the library's contract makes it deterministic, and always for a `401`.
#![allow(clippy::unwrap_used, clippy::expect_used)]


use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use crate::common::MockAuthority;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{
    AuthConfig, AuthConfigBuilder, Clock, Error, InvalidToken, Principal, Require, TokenVersions,
    Validator,
};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

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

// ---------------------------------------------------------------------------
// B. Structure and encoding
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_09_empty_and_wrong_segment_counts_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let good = issuer.delegated(["Heroes.Read"]).sign();
    accept(&validator, &good, "control").await;
    let (h, p, s) = split(&good);
    let variants = [
        ("empty string", String::new()),
        ("1 segment (header)", h.clone()),
        ("1 segment (signature)", s.clone()),
        ("2 segments", format!("{h}.{p}")),
        ("4 segments", format!("{h}.{p}.{s}.{s}")),
        ("4 segments, empty last", format!("{h}.{p}.{s}.")),
        ("4 segments, empty first", format!(".{h}.{p}.{s}")),
        ("dots only (2)", "..".to_owned()),
        ("dots only (3)", "...".to_owned()),
        ("empty header", format!(".{p}.{s}")),
        ("empty payload", format!("{h}..{s}")),
        ("6 segments", format!("{h}.{p}.{s}.{s}.{s}.{s}")),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Malformed, what).await;
    }
}

#[tokio::test]
async fn case_10_jwe_five_segments_is_rejected_without_decrypting() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let jwe_header = b64(br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k"}"#);
    let dir_header = b64(br#"{"alg":"dir","enc":"A128CBC-HS256"}"#);
    let blob = b64(&[0x42u8; 48]);
    let variants = [
        (
            "RSA-OAEP JWE",
            format!("{jwe_header}.{blob}.{blob}.{blob}.{blob}"),
        ),
        (
            "dir JWE with empty key",
            format!("{dir_header}..{blob}.{blob}.{blob}"),
        ),
        (
            "our signed token padded to 5 segments",
            format!("{}.{blob}.{blob}", issuer.delegated(["Heroes.Read"]).sign()),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Encrypted, what).await;
    }
    // A 3-segment token whose header says it is encrypted.
    let enc = issuer
        .delegated(["Heroes.Read"])
        .header("enc", "A256GCM")
        .sign();
    reject(
        &validator,
        &enc,
        InvalidToken::Encrypted,
        "enc header on 3 segments",
    )
    .await;
}

#[tokio::test]
async fn case_11_jws_json_serializations_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let good = issuer.delegated(["Heroes.Read"]).sign();
    let (h, p, s) = split(&good);
    let general = json!({"payload": p, "signatures": [{"protected": h, "signature": s}]});
    let flattened = json!({"payload": p, "protected": h, "signature": s});
    let with_header = json!({"payload": p, "protected": h, "header": {"kid": issuer.key().kid()}, "signature": s});
    let variants = [
        ("general JSON serialization", general.to_string()),
        ("flattened JSON serialization", flattened.to_string()),
        ("flattened with unprotected header", with_header.to_string()),
        (
            "pretty-printed flattened",
            serde_json::to_string_pretty(&flattened).unwrap(),
        ),
        ("quoted compact token", format!("\"{good}\"")),
        ("compact token in an array", format!("[\"{good}\"]")),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Malformed, what).await;
    }
}

#[tokio::test]
async fn case_12_base64_padding_in_any_segment_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    let builder = issuer.delegated(["Heroes.Read"]);
    // Lengths that need padding (1 or 2 trailing '=').
    for rem in [1, 2] {
        let header = with_len_mod3(json_bytes(builder.header_json()), rem);
        let payload = with_len_mod3(json_bytes(builder.claims_json()), rem);
        let (h, p) = (b64(&header), b64(&payload));
        let (h_pad, p_pad) = (URL_SAFE.encode(&header), URL_SAFE.encode(&payload));
        assert!(h_pad.ends_with('=') && p_pad.ends_with('='));
        // Control: the same bytes without padding verify.
        accept(
            &validator,
            &sign_segments(key, &h, &p),
            "control without padding",
        )
        .await;
        // The signature covers the padded text, so only the padding is wrong.
        let variants = [
            ("padded header", sign_segments(key, &h_pad, &p)),
            ("padded payload", sign_segments(key, &h, &p_pad)),
            (
                "padded header and payload",
                sign_segments(key, &h_pad, &p_pad),
            ),
        ];
        for (what, token) in variants {
            reject(
                &validator,
                &token,
                InvalidToken::Malformed,
                &format!("{what} (len%3={rem})"),
            )
            .await;
        }
    }
    // RSA-2048 signatures are 256 bytes: padded base64 ends with "==".
    let good = builder.sign();
    let (h, p, s) = split(&good);
    let signature = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let padded = URL_SAFE.encode(&signature);
    assert!(padded.ends_with("=="));
    for (what, token) in [
        ("padded signature", format!("{h}.{p}.{padded}")),
        ("one '=' on the signature", format!("{h}.{p}.{s}=")),
        ("'=' on the payload only", format!("{h}.{p}=.{s}")),
    ] {
        reject(&validator, &token, InvalidToken::Malformed, what).await;
    }
}

#[tokio::test]
async fn case_13_standard_base64_alphabet_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    // Header and payload in the standard alphabet, signed as presented.
    let mut covered = false;
    for k in 1..64 {
        let builder = issuer
            .delegated(["Heroes.Read"])
            .claim("x", "~?>".repeat(k))
            .header("x", "?~>".repeat(k));
        let header = json_bytes(builder.header_json());
        let payload = json_bytes(builder.claims_json());
        let (hs, ps) = (
            STANDARD_NO_PAD.encode(&header),
            STANDARD_NO_PAD.encode(&payload),
        );
        if !(hs.contains(['+', '/']) && ps.contains(['+', '/'])) {
            continue;
        }
        accept(
            &validator,
            &sign_segments(key, &b64(&header), &b64(&payload)),
            "control in base64url",
        )
        .await;
        let variants = [
            (
                "standard-alphabet header",
                sign_segments(key, &hs, &b64(&payload)),
            ),
            (
                "standard-alphabet payload",
                sign_segments(key, &b64(&header), &ps),
            ),
            ("standard-alphabet both", sign_segments(key, &hs, &ps)),
        ];
        for (what, token) in variants {
            reject(&validator, &token, InvalidToken::Malformed, what).await;
        }
        covered = true;
        break;
    }
    assert!(covered, "no header/payload with '+' and '/' was produced");

    // The signature in the standard alphabet (the same bytes).
    let mut covered = false;
    for _ in 0..32 {
        let good = issuer.delegated(["Heroes.Read"]).sign();
        let (h, p, s) = split(&good);
        let standard = STANDARD_NO_PAD.encode(URL_SAFE_NO_PAD.decode(&s).unwrap());
        if standard == s {
            continue;
        }
        reject(
            &validator,
            &format!("{h}.{p}.{standard}"),
            InvalidToken::Malformed,
            "standard-alphabet signature",
        )
        .await;
        covered = true;
        break;
    }
    assert!(covered, "no signature with '+' or '/' was produced");
}

#[tokio::test]
async fn case_14_non_canonical_last_base64_character_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    // The signature: same bytes, another string (token malleability).
    let good = issuer.delegated(["Heroes.Read"]).sign();
    accept(&validator, &good, "control").await;
    let (h, p, s) = split(&good);
    let variants = non_canonical_variants(&s);
    assert_eq!(variants.len(), 4);
    for variant in variants {
        reject(
            &validator,
            &format!("{h}.{p}.{variant}"),
            InvalidToken::BadSignature,
            &format!(
                "non-canonical signature ending {:?}",
                variant.chars().last()
            ),
        )
        .await;
    }
    // Header and payload whose encodings end in a non-canonical character,
    // signed as presented.
    let builder = issuer.delegated(["Heroes.Read"]);
    for rem in [1, 2] {
        let header = b64(&with_len_mod3(json_bytes(builder.header_json()), rem));
        let payload = b64(&with_len_mod3(json_bytes(builder.claims_json()), rem));
        accept(
            &validator,
            &sign_segments(key, &header, &payload),
            "control",
        )
        .await;
        for variant in non_canonical_variants(&header) {
            reject(
                &validator,
                &sign_segments(key, &variant, &payload),
                InvalidToken::Malformed,
                "non-canonical header",
            )
            .await;
        }
        for variant in non_canonical_variants(&payload) {
            reject(
                &validator,
                &sign_segments(key, &header, &variant),
                InvalidToken::Malformed,
                "non-canonical payload",
            )
            .await;
        }
    }
}

#[tokio::test]
async fn case_15_whitespace_inside_or_around_the_token_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let good = issuer.delegated(["Heroes.Read"]).sign();
    accept(&validator, &good, "control").await;
    let (h, p, s) = split(&good);
    let mid = s.len() / 2;
    let variants = [
        ("leading space", format!(" {good}")),
        ("trailing space", format!("{good} ")),
        ("trailing newline", format!("{good}\n")),
        ("trailing CRLF", format!("{good}\r\n")),
        ("trailing tab", format!("{good}\t")),
        ("leading newline", format!("\n{good}")),
        ("space after a dot", format!("{h}. {p}.{s}")),
        ("space before a dot", format!("{h} .{p}.{s}")),
        ("newline inside the payload", {
            let (a, b) = p.split_at(p.len() / 2);
            format!("{h}.{a}\n{b}.{s}")
        }),
        (
            "space inside the signature",
            format!("{h}.{p}.{} {}", &s[..mid], &s[mid..]),
        ),
        (
            "folded line (CRLF + space)",
            format!("{h}.{p}.{}\r\n {}", &s[..mid], &s[mid..]),
        ),
        ("non-breaking space", format!("{good}\u{a0}")),
        ("NUL byte", format!("{good}\0")),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Malformed, what).await;
    }
}

#[tokio::test]
async fn case_16_segments_that_are_not_utf8_json_objects_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    let header = json_bytes(builder.header_json());
    let payload = json_bytes(builder.claims_json());
    accept(&validator, &builder.sign_raw(&header, &payload), "control").await;

    let utf16 = |bytes: &[u8], le: bool, bom: bool| -> Vec<u8> {
        let text = std::str::from_utf8(bytes).unwrap();
        let mut units: Vec<u16> = Vec::new();
        if bom {
            units.push(0xfeff);
        }
        units.extend(text.encode_utf16());
        units
            .into_iter()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect()
    };
    let bom = |bytes: &[u8]| -> Vec<u8> { [&[0xef, 0xbb, 0xbf][..], bytes].concat() };
    let invalid_utf8 = {
        let mut bytes = append_member(&payload, "\"name\":\"X\"");
        let at = bytes.len() - 3;
        bytes[at] = 0xff; // the X becomes a lone 0xff byte
        bytes
    };

    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("payload UTF-16LE with BOM", utf16(&payload, true, true)),
        ("payload UTF-16BE with BOM", utf16(&payload, false, true)),
        ("payload UTF-16LE without BOM", utf16(&payload, true, false)),
        ("payload with a UTF-8 BOM", bom(&payload)),
        ("payload invalid UTF-8 in a string", invalid_utf8),
        (
            "payload JSON array",
            format!("[{}]", String::from_utf8(payload.clone()).unwrap()).into_bytes(),
        ),
        ("payload JSON string", b"\"admin\"".to_vec()),
        ("payload JSON number", b"42".to_vec()),
        ("payload JSON null", b"null".to_vec()),
        ("payload JSON true", b"true".to_vec()),
        ("payload not JSON", b"not json at all".to_vec()),
        (
            "payload truncated JSON",
            payload[..payload.len() - 1].to_vec(),
        ),
        (
            "payload with trailing garbage",
            [&payload[..], b" x"].concat(),
        ),
        ("payload two objects", [&payload[..], &payload[..]].concat()),
        ("payload binary", vec![0x00, 0x01, 0x02, 0xfe, 0xff]),
    ];
    for (what, bad) in payloads {
        reject(
            &validator,
            &builder.sign_raw(&header, &bad),
            InvalidToken::Malformed,
            what,
        )
        .await;
    }
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("header UTF-16LE with BOM", utf16(&header, true, true)),
        ("header UTF-16BE without BOM", utf16(&header, false, false)),
        ("header with a UTF-8 BOM", bom(&header)),
        (
            "header JSON array",
            format!("[{}]", String::from_utf8(header.clone()).unwrap()).into_bytes(),
        ),
        ("header JSON string", b"\"RS256\"".to_vec()),
        ("header not JSON", b"alg=RS256".to_vec()),
        ("header with trailing garbage", [&header[..], b"]"].concat()),
    ];
    for (what, bad) in headers {
        reject(
            &validator,
            &builder.sign_raw(&bad, &payload),
            InvalidToken::Malformed,
            what,
        )
        .await;
    }
    // A segment that is not even base64url.
    let (h, _, s) = split(&builder.sign());
    reject(
        &validator,
        &format!("{h}.%7B%7D.{s}"),
        InvalidToken::Malformed,
        "percent-encoded payload",
    )
    .await;
}

#[tokio::test]
async fn case_17_duplicate_member_names_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    let header = json_bytes(builder.header_json());
    let payload = json_bytes(builder.claims_json());
    accept(&validator, &builder.sign_raw(&header, &payload), "control").await;
    let kid = issuer.key().kid();

    let headers: Vec<(&str, Vec<u8>)> = vec![
        (
            "alg none then RS256",
            format!(r#"{{"typ":"JWT","alg":"none","alg":"RS256","kid":"{kid}"}}"#).into_bytes(),
        ),
        (
            "alg RS256 then none",
            format!(r#"{{"typ":"JWT","alg":"RS256","alg":"none","kid":"{kid}"}}"#).into_bytes(),
        ),
        (
            "kid twice",
            format!(r#"{{"typ":"JWT","alg":"RS256","kid":"attacker","kid":"{kid}"}}"#).into_bytes(),
        ),
        (
            "typ twice",
            format!(r#"{{"typ":"dpop+jwt","typ":"JWT","alg":"RS256","kid":"{kid}"}}"#).into_bytes(),
        ),
    ];
    for (what, bad) in headers {
        reject(
            &validator,
            &builder.sign_raw(&bad, &payload),
            InvalidToken::Malformed,
            what,
        )
        .await;
    }
    let other = random_guid();
    let client = issuer.client_id();
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        (
            "sub twice (alice, admin)",
            append_member(&payload, r#""sub":"admin""#),
        ),
        (
            "aud twice (other app, then us)",
            append_member(
                &json_bytes(builder.clone().claim("aud", other.clone()).claims_json()),
                &format!(r#""aud":"{client}""#),
            ),
        ),
        (
            "aud twice (us, then other app)",
            append_member(&payload, &format!(r#""aud":"{other}""#)),
        ),
        (
            "scp twice",
            append_member(&payload, r#""scp":"Heroes.Write Heroes.Admin""#),
        ),
        (
            "exp twice",
            append_member(&payload, &format!(r#""exp":{}"#, now() + 86_400 * 365)),
        ),
        (
            "duplicate inside a nested object",
            append_member(&payload, r#""x":{"a":1,"a":2}"#),
        ),
        (
            "duplicate inside an array element",
            append_member(&payload, r#""x":[{"a":1,"a":2}]"#),
        ),
    ];
    for (what, bad) in payloads {
        reject(
            &validator,
            &builder.sign_raw(&header, &bad),
            InvalidToken::Malformed,
            what,
        )
        .await;
    }
}

#[tokio::test]
async fn case_18_deep_nesting_huge_claims_and_oversized_tokens_are_bounded() {
    let issuer = TestIssuer::new();
    let key = issuer.key();
    // A validator that lets big tokens through the size check, so the parser
    // itself is exercised.
    let big = build(issuer.config().max_token_size(4 * 1024 * 1024));
    let builder = issuer.delegated(["Heroes.Read"]);
    let header = json_bytes(builder.header_json());
    let payload = json_bytes(builder.claims_json());
    let deep_arrays = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let deep_objects = format!("{}1{}", "{\"a\":".repeat(5000), "}".repeat(5000));
    let deep_mixed = format!("{}1{}", "[{\"a\":".repeat(5000), "}]".repeat(5000));
    let variants: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "payload claim nested 5000 arrays",
            header.clone(),
            append_member(&payload, &format!("\"deep\":{deep_arrays}")),
        ),
        (
            "payload claim nested 5000 objects",
            header.clone(),
            append_member(&payload, &format!("\"deep\":{deep_objects}")),
        ),
        (
            "payload claim nested 5000 array/object pairs",
            header.clone(),
            append_member(&payload, &format!("\"deep\":{deep_mixed}")),
        ),
        (
            "header member nested 5000 arrays",
            append_member(&header, &format!("\"x\":{deep_arrays}")),
            payload.clone(),
        ),
        (
            "header member nested 5000 objects",
            append_member(&header, &format!("\"x\":{deep_objects}")),
            payload.clone(),
        ),
    ];
    for (what, h, p) in variants {
        let token = sign_segments(key, &b64(&h), &b64(&p));
        let started = Instant::now();
        let result = big.validate(&token).await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: took {:?}",
            started.elapsed()
        );
        assert_rejected(&result, InvalidToken::Malformed, what);
    }

    // A huge (but flat) array claim: bounded time, never a crash.
    let huge = format!("[{}0]", "0,".repeat(500_000));
    let token = sign_segments(
        key,
        &b64(&header),
        &b64(&append_member(&payload, &format!("\"big\":{huge}"))),
    );
    let started = Instant::now();
    let result = big.validate(&token).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "huge array: took {:?}",
        started.elapsed()
    );
    if let Err(err) = &result {
        assert_eq!(err.status().as_u16(), 401, "huge array: {err:?}");
    }

    // Oversized tokens, with the default 16 KiB limit: refused before parsing.
    let validator = issuer.validator();
    let padding = "a".repeat(1024 * 1024);
    let oversized = issuer
        .delegated(["Heroes.Read"])
        .claim("padding", padding.as_str())
        .sign();
    let garbage = "A".repeat(1024 * 1024);
    let just_over = {
        let token = issuer
            .delegated(["Heroes.Read"])
            .claim("padding", "a".repeat(12 * 1024))
            .sign();
        assert!(token.len() > 16 * 1024, "{}", token.len());
        token
    };
    for (what, token) in [
        ("1 MiB signed token", oversized),
        ("1 MiB of base64url garbage", garbage),
        ("just over 16 KiB", just_over),
    ] {
        let started = Instant::now();
        let result = validator.validate(&token).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{what}: took {:?}",
            started.elapsed()
        );
        assert_rejected(&result, InvalidToken::Malformed, what);
    }
    // And a configured lower limit applies to an otherwise valid token.
    let tight = build(issuer.config().max_token_size(512));
    let normal = issuer.delegated(["Heroes.Read"]).sign();
    assert!(normal.len() > 512);
    reject(
        &tight,
        &normal,
        InvalidToken::Malformed,
        "valid token over a 512-byte limit",
    )
    .await;
}

// ---------------------------------------------------------------------------
// C. Algorithm
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_19_alg_none_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    accept(&validator, &builder.sign(), "control").await;
    let unsigned = builder.clone().unsigned("none");
    assert!(unsigned.ends_with('.'));
    let variants = [
        ("alg none, empty signature", unsigned),
        (
            "alg none, no kid, empty signature",
            builder.clone().without_header("kid").unsigned("none"),
        ),
        (
            "alg none, a valid RS256 signature kept",
            builder.clone().header("alg", "none").sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Algorithm, what).await;
    }
}

#[tokio::test]
async fn case_20_none_in_any_letter_case() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    for alg in ["none", "None", "NONE", "nOnE", "NoNe", "noNE"] {
        reject(
            &validator,
            &builder.clone().unsigned(alg),
            InvalidToken::Algorithm,
            &format!("alg {alg:?}, empty signature"),
        )
        .await;
        reject(
            &validator,
            &builder.clone().header("alg", alg).sign(),
            InvalidToken::Algorithm,
            &format!("alg {alg:?}, RS256 signature kept"),
        )
        .await;
    }
}

#[tokio::test]
async fn case_21_hs256_signed_with_public_key_in_each_pem_form() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    let jwk = key.jwk();
    let n_b64 = jwk["n"].as_str().unwrap().to_owned();
    let n_bytes = URL_SAFE_NO_PAD.decode(&n_b64).unwrap();
    let spki_pem = key.public_spki_pem();
    let pkcs1_pem = key.public_pkcs1_pem();
    assert!(spki_pem.ends_with('\n') && pkcs1_pem.ends_with('\n'));
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        (
            "SPKI PEM with trailing newline",
            spki_pem.clone().into_bytes(),
        ),
        (
            "SPKI PEM without trailing newline",
            spki_pem.trim_end().as_bytes().to_vec(),
        ),
        (
            "PKCS#1 PEM with trailing newline",
            pkcs1_pem.clone().into_bytes(),
        ),
        (
            "PKCS#1 PEM without trailing newline",
            pkcs1_pem.trim_end().as_bytes().to_vec(),
        ),
        (
            "SPKI PEM with CRLF line ends",
            spki_pem.replace('\n', "\r\n").into_bytes(),
        ),
        ("SPKI DER", key.public_spki_der()),
        ("PKCS#1 DER", key.public_pkcs1_der()),
        ("raw JWK n bytes", n_bytes),
        ("JWK n as base64url text", n_b64.into_bytes()),
        ("the JWK JSON", jwk.to_string().into_bytes()),
    ];
    for (what, secret) in secrets {
        assert!(!secret.is_empty(), "{what}");
        let builder = issuer.delegated(["Heroes.Read"]);
        reject(
            &validator,
            &builder.clone().sign_hs256(&secret),
            InvalidToken::Algorithm,
            &format!("HS256 with {what}"),
        )
        .await;
        reject(
            &validator,
            &builder.without_header("kid").sign_hs256(&secret),
            InvalidToken::Algorithm,
            &format!("HS256 with {what}, no kid"),
        )
        .await;
    }
}

#[tokio::test]
async fn case_22_same_key_family_wrong_algorithm_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    for alg in [
        "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA",
    ] {
        let token = issuer.delegated(["Heroes.Read"]).header("alg", alg).sign();
        reject(
            &validator,
            &token,
            InvalidToken::Algorithm,
            &format!("alg {alg} with the RS256 key"),
        )
        .await;
    }
}

#[tokio::test]
async fn case_23_alg_missing_null_numeric_or_lower_case_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let base = issuer.delegated(["Heroes.Read"]);
    let variants = [
        ("alg missing", base.clone().without_header("alg").sign()),
        ("alg null", base.clone().header("alg", Value::Null).sign()),
        ("alg numeric", base.clone().header("alg", 256).sign()),
        ("alg true", base.clone().header("alg", true).sign()),
        ("alg rs256", base.clone().header("alg", "rs256").sign()),
        ("alg Rs256", base.clone().header("alg", "Rs256").sign()),
        (
            "alg with trailing space",
            base.clone().header("alg", "RS256 ").sign(),
        ),
        ("alg empty", base.clone().header("alg", "").sign()),
        (
            "alg array",
            base.clone().header("alg", json!(["RS256"])).sign(),
        ),
        (
            "alg object",
            base.clone().header("alg", json!({"RS256": 1})).sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Algorithm, what).await;
    }
}

#[tokio::test]
async fn case_24_null_truncated_or_tampered_signature_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    let good = issuer.delegated(["Heroes.Read"]).sign();
    accept(&validator, &good, "control").await;
    let (h, p, s) = split(&good);
    let flip = |segment: &str, at: usize| -> String {
        let mut bytes = segment.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).unwrap()
    };
    // A tampered payload: the same claims with another subject, re-encoded.
    let tampered_payload = {
        let mut claims: Map<String, Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&p).unwrap()).unwrap();
        claims.insert("sub".into(), "admin".into());
        claims.insert("scp".into(), "Heroes.Read Heroes.Admin".into());
        b64(&json_bytes(&claims))
    };
    // A tampered header (still a valid, allowed header).
    let tampered_header = {
        let mut header: Map<String, Value> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&h).unwrap()).unwrap();
        header.insert("typ".into(), "at+jwt".into());
        b64(&json_bytes(&header))
    };
    let mut variants = vec![
        ("null signature (h.p.)", format!("{h}.{p}.")),
        (
            "all-zero signature",
            format!("{h}.{p}.{}", b64(&[0u8; 256])),
        ),
        ("one-byte signature", format!("{h}.{p}.{}", b64(&[0u8]))),
        ("signature of 1 character", format!("{h}.{p}.A")),
        (
            "signature flipped at start",
            format!("{h}.{p}.{}", flip(&s, 0)),
        ),
        (
            "signature flipped in the middle",
            format!("{h}.{p}.{}", flip(&s, s.len() / 2)),
        ),
        ("payload tampered", format!("{h}.{tampered_payload}.{s}")),
        ("header tampered", format!("{tampered_header}.{p}.{s}")),
        (
            "payload flipped",
            format!("{h}.{}.{s}", flip(&p, p.len() / 2)),
        ),
        (
            "signature of another token",
            format!(
                "{h}.{p}.{}",
                split(&issuer.delegated(["Heroes.Read"]).sign()).2
            ),
        ),
        (
            "signature over the payload only",
            format!("{h}.{p}.{}", b64(&key.sign_rs256(p.as_bytes()))),
        ),
        (
            "signature with a byte appended",
            format!(
                "{h}.{p}.{}",
                b64(&[URL_SAFE_NO_PAD.decode(&s).unwrap(), vec![0]].concat())
            ),
        ),
    ];
    // Truncation at several points of the signature.
    for cut in [1, 2, 3, 4, 8, 100, s.len() - 1] {
        variants.push((
            "truncated signature",
            format!("{h}.{p}.{}", &s[..s.len() - cut]),
        ));
    }
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::BadSignature, what).await;
    }
    // Truncation that removes whole segments is a structural error.
    for (what, token) in [
        ("truncated to header.payload", format!("{h}.{p}")),
        (
            "truncated inside the payload",
            format!("{h}.{}", &p[..p.len() / 2]),
        ),
        ("truncated inside the header", h[..h.len() / 2].to_owned()),
    ] {
        reject(&validator, &token, InvalidToken::Malformed, what).await;
    }
}

#[tokio::test]
async fn case_25_hs256_with_a_blank_secret_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    let variants = [
        ("HS256, empty secret", builder.clone().sign_hs256(b"")),
        (
            "HS256, empty secret, no kid",
            builder.clone().without_header("kid").sign_hs256(b""),
        ),
        (
            "HS256, empty secret, empty kid",
            builder.clone().header("kid", "").sign_hs256(b""),
        ),
        ("HS256, one NUL byte", builder.clone().sign_hs256(&[0u8])),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Algorithm, what).await;
    }
}

#[tokio::test]
async fn case_26_ecdsa_psychic_signature_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    // r = s = 0 in P1363 form (CVE-2022-21449), and an ASN.1 DER variant.
    for (alg, len) in [("ES256", 64usize), ("ES384", 96), ("ES512", 132)] {
        let (h, p, _) = split(&issuer.delegated(["Heroes.Read"]).header("alg", alg).sign());
        for (form, signature) in [
            ("P1363 r=s=0", vec![0u8; len]),
            (
                "DER r=s=0",
                vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
            ),
        ] {
            reject(
                &validator,
                &format!("{h}.{p}.{}", b64(&signature)),
                InvalidToken::Algorithm,
                &format!("{alg} {form}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn case_27_token_signed_by_an_attacker_key_under_our_kid_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let attacker = TestKey::generate(issuer.key().kid());
    let variants = [
        (
            "v2 delegated",
            issuer.delegated(["Heroes.Read"]).sign_with(&attacker),
        ),
        (
            "v2 app-only",
            issuer.app_only(["Heroes.Write"]).sign_with(&attacker),
        ),
        (
            "v1 (kid and x5t ours)",
            issuer.delegated(["Heroes.Read"]).v1().sign_with(&attacker),
        ),
        (
            "no kid, x5t ours",
            issuer
                .delegated(["Heroes.Read"])
                .v1()
                .without_header("kid")
                .sign_with(&attacker),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::BadSignature, what).await;
    }
}

// ---------------------------------------------------------------------------
// D. Key selection
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_28_attacker_key_embedded_in_a_jwk_header_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let attacker = TestKey::generate("attacker-key");
    let builder = issuer.delegated(["Heroes.Read"]);
    let variants = [
        (
            "jwk header, attacker kid",
            builder
                .clone()
                .header("kid", attacker.kid())
                .header("jwk", attacker.jwk())
                .sign_with(&attacker),
        ),
        (
            "jwk header, our kid",
            builder
                .clone()
                .header("jwk", attacker.jwk())
                .sign_with(&attacker),
        ),
        (
            "jwk header, no kid",
            builder
                .clone()
                .without_header("kid")
                .header("jwk", attacker.jwk())
                .sign_with(&attacker),
        ),
        (
            "jwk header holding our own public key",
            builder.clone().header("jwk", issuer.key().jwk()).sign(),
        ),
        (
            "jwk header as a string",
            builder
                .clone()
                .header("jwk", attacker.jwk().to_string())
                .sign_with(&attacker),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::EmbeddedKey, what).await;
    }
}

#[tokio::test]
async fn case_29_jku_is_rejected_and_never_fetched() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let validator = authority.ready_validator(authority.config()).await;
    let fetches = validator.key_fetches();
    let discovery_hits = authority.discovery_hits();
    let keys_hits = authority.keys_hits();
    let (canary_url, canary_hits) = canary().await;
    let attacker = TestKey::generate("attacker-key");
    let builder = issuer.delegated(["Heroes.Read"]);
    let urls = [
        format!("{canary_url}/jwks.json"),
        format!("{canary_url}/.well-known/jwks.json"),
        canary_url.replace("127.0.0.1", "localhost") + "/keys",
        format!("{}/common/discovery/v2.0/keys", authority.base()),
    ];
    for url in &urls {
        let variants = [
            (
                "attacker kid",
                builder
                    .clone()
                    .header("kid", attacker.kid())
                    .header("jku", url.as_str())
                    .sign_with(&attacker),
            ),
            (
                "our kid",
                builder
                    .clone()
                    .header("jku", url.as_str())
                    .sign_with(&attacker),
            ),
            (
                "no kid",
                builder
                    .clone()
                    .without_header("kid")
                    .header("jku", url.as_str())
                    .sign_with(&attacker),
            ),
        ];
        for (what, token) in variants {
            reject(
                &validator,
                &token,
                InvalidToken::EmbeddedKey,
                &format!("jku {url}, {what}"),
            )
            .await;
        }
    }
    // Give any stray background request time to land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        canary_hits.load(Ordering::SeqCst),
        0,
        "the jku URL was contacted"
    );
    assert_eq!(
        validator.key_fetches(),
        fetches,
        "a jku token caused a fetch"
    );
    assert_eq!(authority.discovery_hits(), discovery_hits);
    assert_eq!(authority.keys_hits(), keys_hits);
}

#[tokio::test]
async fn case_30_x5u_and_self_signed_x5c_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let attacker = TestKey::generate("attacker-key");
    let (canary_url, canary_hits) = canary().await;
    let builder = issuer.delegated(["Heroes.Read"]);
    let variants = [
        (
            "x5u to a loopback canary",
            builder
                .clone()
                .header("x5u", format!("{canary_url}/cert.pem"))
                .sign_with(&attacker),
        ),
        (
            "x5u to an https URL",
            builder
                .clone()
                .header("x5u", "https://attacker.example/cert.pem")
                .sign_with(&attacker),
        ),
        (
            "x5c self-signed chain, attacker kid",
            builder
                .clone()
                .header("kid", attacker.kid())
                .header("x5c", json!([SELF_SIGNED_CERT]))
                .sign_with(&attacker),
        ),
        (
            "x5c self-signed chain, our kid, our signature",
            builder
                .clone()
                .header("x5c", json!([SELF_SIGNED_CERT]))
                .sign(),
        ),
        (
            "x5c self-signed chain, no kid",
            builder
                .clone()
                .without_header("kid")
                .header("x5c", json!([SELF_SIGNED_CERT, SELF_SIGNED_CERT]))
                .sign_with(&attacker),
        ),
        (
            "x5c as a string",
            builder
                .clone()
                .header("x5c", SELF_SIGNED_CERT)
                .sign_with(&attacker),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::EmbeddedKey, what).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(canary_hits.load(Ordering::SeqCst), 0, "x5u was contacted");
}

const TRAVERSAL_KIDS: &[&str] = &[
    "../../../../dev/null",
    "../../../../../../../../dev/null",
    "/dev/null",
    "../../../../../../etc/passwd",
    "..\\..\\..\\..\\windows\\win.ini",
    "file:///dev/null",
    "%2e%2e%2f%2e%2e%2fdev%2fnull",
    "....//....//dev/null",
    "../../../../proc/self/environ",
    "\0",
];

#[tokio::test]
async fn case_31_kid_path_traversal_is_rejected_quickly() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    for kid in TRAVERSAL_KIDS {
        let builder = issuer.delegated(["Heroes.Read"]).header("kid", *kid);
        // The PortSwigger form: HS256 with the (empty) content of /dev/null.
        let started = Instant::now();
        reject(
            &validator,
            &builder.clone().sign_hs256(b""),
            InvalidToken::Algorithm,
            &format!("HS256, kid {kid:?}"),
        )
        .await;
        // RS256 signed with our real key, but under a kid we never published.
        reject(
            &validator,
            &builder.sign(),
            InvalidToken::UnknownKey,
            &format!("RS256, kid {kid:?}"),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "kid {kid:?} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn case_32_kid_sql_and_command_injection_is_rejected_quickly() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let validator = authority.ready_validator(authority.config()).await;
    let kids = [
        "x' UNION SELECT '1';--",
        "' OR '1'='1",
        "1; DROP TABLE keys;--",
        "|sleep 10",
        "; sleep 10",
        "`sleep 10`",
        "$(sleep 10)",
        "& ping -n 10 127.0.0.1 &",
        "{{7*7}}",
        "${jndi:ldap://127.0.0.1/a}",
    ];
    for kid in kids {
        let builder = issuer.delegated(["Heroes.Read"]).header("kid", kid);
        let started = Instant::now();
        // The UNION SELECT '1' attack: HS256 keyed with "1".
        reject(
            &validator,
            &builder.clone().sign_hs256(b"1"),
            InvalidToken::Algorithm,
            &format!("HS256, kid {kid:?}"),
        )
        .await;
        reject(
            &validator,
            &builder.sign(),
            InvalidToken::UnknownKey,
            &format!("RS256, kid {kid:?}"),
        )
        .await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "kid {kid:?} took {:?}",
            started.elapsed()
        );
    }
    accept(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "a valid token afterwards",
    )
    .await;
}

#[tokio::test]
async fn case_33_random_unknown_kids_are_rejected_with_bounded_refetches() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let validator = authority.ready_validator(authority.config()).await;
    let fetches = validator.key_fetches();
    let keys_hits = authority.keys_hits();
    for i in 0..50 {
        let token = issuer
            .delegated(["Heroes.Read"])
            .header("kid", random_guid())
            .sign();
        reject(
            &validator,
            &token,
            InvalidToken::UnknownKey,
            &format!("random kid #{i}"),
        )
        .await;
    }
    // One on-demand refresh at most: v2 + v1 metadata and their two key sets.
    let extra = validator.key_fetches() - fetches;
    assert!(extra <= 4, "{extra} fetches for 50 unknown kids");
    let extra_keys = authority.keys_hits() - keys_hits;
    assert!(
        extra_keys <= 2,
        "{extra_keys} key-set fetches for 50 unknown kids"
    );
    accept(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "a valid token afterwards",
    )
    .await;
}

#[tokio::test]
async fn case_34_kid_absent_one_key_accepted_several_keys_rejected() {
    let issuer = TestIssuer::new();
    // One key: the only key is used.
    let single = issuer.validator();
    let no_kid = issuer
        .delegated(["Heroes.Read"])
        .without_header("kid")
        .sign();
    accept(&single, &no_kid, "no kid, one key").await;
    accept(
        &single,
        &issuer
            .app_only(["Heroes.Write"])
            .without_header("kid")
            .sign(),
        "no kid, one key, app-only",
    )
    .await;
    // ...but still only with a signature by that key.
    let attacker = TestKey::generate("attacker-key");
    reject(
        &single,
        &issuer
            .delegated(["Heroes.Read"])
            .without_header("kid")
            .sign_with(&attacker),
        InvalidToken::BadSignature,
        "no kid, one key, attacker signature",
    )
    .await;

    // Several keys: no guessing, and no panic.
    let other = TestKey::generate("other-key");
    let several = build(static_config(
        &issuer,
        vec![issuer.key().jwk(), other.jwk()],
    ));
    accept(
        &several,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "control with kid, several keys",
    )
    .await;
    for (what, token) in [
        (
            "no kid, several keys, first key's signature",
            no_kid.clone(),
        ),
        (
            "no kid, several keys, second key's signature",
            issuer
                .delegated(["Heroes.Read"])
                .without_header("kid")
                .sign_with(&other),
        ),
        (
            "no kid, several keys, attacker signature",
            issuer
                .delegated(["Heroes.Read"])
                .without_header("kid")
                .sign_with(&attacker),
        ),
    ] {
        let result = several.validate(&token).await;
        assert_rejected(&result, InvalidToken::UnknownKey, what);
    }
    // Empty or non-string kids are not "absent".
    reject(
        &single,
        &issuer.delegated(["Heroes.Read"]).header("kid", "").sign(),
        InvalidToken::Malformed,
        "empty kid",
    )
    .await;
    reject(
        &single,
        &issuer
            .delegated(["Heroes.Read"])
            .header("kid", Value::Null)
            .sign(),
        InvalidToken::Malformed,
        "null kid",
    )
    .await;
}

#[tokio::test]
async fn case_35_unknown_or_unparseable_jwks_entries_are_ignored() {
    let issuer = TestIssuer::new();
    let good = issuer.key().jwk();
    let kid = issuer.key().kid();
    let junk = vec![
        json!({"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        json!({"kty": "OKP", "kid": "okp", "crv": "Ed25519", "x": "AAAA"}),
        json!({"kty": "oct", "kid": "oct", "k": "c2VjcmV0"}),
        json!({"kty": "FOO", "kid": "foo"}),
        json!({"kty": "RSA", "kid": "broken-n", "n": "!!!", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "tiny", "n": "AQAB", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "missing-n-e"}),
        json!({"kty": 7, "kid": "numeric-kty"}),
        json!({"kid": "no-kty"}),
        json!({}),
        json!("not an object"),
        json!(42),
        Value::Null,
        json!([good.clone()]),
        // An unparseable entry under the good key's own kid, listed first.
        json!({"kty": "RSA", "kid": kid, "n": "%%%", "e": "AQAB"}),
    ];
    let token = issuer.delegated(["Heroes.Read"]).sign();
    for (what, keys) in [
        ("junk first", [junk.clone(), vec![good.clone()]].concat()),
        ("junk last", [vec![good.clone()], junk.clone()].concat()),
        (
            "good key in the middle",
            [junk[..7].to_vec(), vec![good.clone()], junk[7..].to_vec()].concat(),
        ),
    ] {
        let validator = build(static_config(&issuer, keys));
        accept(&validator, &token, &format!("static JWKS, {what}")).await;
    }
    // The same over HTTP from the authority.
    let authority = MockAuthority::start_with(issuer.clone()).await;
    authority.set_keys([junk, vec![good]].concat());
    let validator = authority.ready_validator(authority.config()).await;
    accept(&validator, &token, "fetched JWKS with junk").await;
}

#[tokio::test]
async fn case_36_keys_not_meant_for_rs256_verification_are_not_used() {
    let issuer = TestIssuer::new();
    let other = TestKey::generate("other-key");
    let token = issuer.delegated(["Heroes.Read"]).sign();
    let with = |members: Value| -> Value {
        let mut jwk = issuer.key().jwk();
        for (name, value) in members.as_object().unwrap() {
            if value.is_null() {
                jwk.as_object_mut().unwrap().remove(name);
            } else {
                jwk[name] = value.clone();
            }
        }
        jwk
    };
    // Control: fully qualified for RS256 verification.
    let fine = build(static_config(
        &issuer,
        vec![
            with(json!({"use": "sig", "key_ops": ["verify"], "alg": "RS256"})),
            other.jwk(),
        ],
    ));
    accept(&fine, &token, "use sig, key_ops verify, alg RS256").await;
    let variants = [
        ("use enc", json!({"use": "enc"})),
        ("use ENC-ish unknown", json!({"use": "tls"})),
        (
            "key_ops without verify",
            json!({"use": Value::Null, "key_ops": ["encrypt", "wrapKey"]}),
        ),
        (
            "key_ops sign only",
            json!({"use": Value::Null, "key_ops": ["sign"]}),
        ),
        ("key_ops empty", json!({"use": Value::Null, "key_ops": []})),
        ("alg RS512", json!({"alg": "RS512"})),
        ("alg PS256", json!({"alg": "PS256"})),
        ("alg RSA-OAEP", json!({"alg": "RSA-OAEP", "use": "enc"})),
        ("alg HS256", json!({"alg": "HS256"})),
    ];
    for (what, members) in variants {
        let validator = build(static_config(&issuer, vec![with(members), other.jwk()]));
        reject(&validator, &token, InvalidToken::UnknownKey, what).await;
    }
}

#[tokio::test]
async fn case_37_signing_key_bound_to_another_tenant_is_rejected() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let key = issuer.key();
    let other_tenant = random_guid();
    let tid = issuer.tenant_id().to_owned();
    let v2 = issuer.delegated(["Heroes.Read"]).sign();
    let v1 = issuer.delegated(["Heroes.Read"]).v1().sign();

    // Single tenant: the key's issuer names another tenant.
    authority.set_keys(vec![key.jwk_with_issuer(&format!(
        "https://login.microsoftonline.com/{other_tenant}/v2.0"
    ))]);
    let validator = authority.ready_validator(authority.config()).await;
    reject(
        &validator,
        &v2,
        InvalidToken::Issuer,
        "v2, key of another tenant",
    )
    .await;
    reject(
        &validator,
        &v1,
        InvalidToken::Issuer,
        "v1, key of another tenant",
    )
    .await;

    for bad in [
        format!("https://sts.windows.net/{other_tenant}/"),
        format!("https://login.microsoftonline.com/{other_tenant}/v2.0/"),
        "https://login.microsoftonline.com/common/v2.0".to_owned(),
    ] {
        authority.set_keys(vec![key.jwk_with_issuer(&bad)]);
        validator.refresh().await.unwrap();
        reject(
            &validator,
            &v2,
            InvalidToken::Issuer,
            &format!("v2, key issuer {bad}"),
        )
        .await;
        reject(
            &validator,
            &v1,
            InvalidToken::Issuer,
            &format!("v1, key issuer {bad}"),
        )
        .await;
    }

    // Controls: the key bound to our tenant, or to the template, is used.
    for good in [
        format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
    ] {
        authority.set_keys(vec![key.jwk_with_issuer(&good)]);
        validator.refresh().await.unwrap();
        accept(&validator, &v2, &format!("v2, key issuer {good}")).await;
        accept(&validator, &v1, &format!("v1, key issuer {good}")).await;
    }

    // Multi-tenant: the shared keys are published per tenant; a token from
    // another tenant signed with a key bound to ours is refused.
    authority.set_keys(vec![
        key.jwk_with_issuer(&format!("https://login.microsoftonline.com/{tid}/v2.0")),
    ]);
    let multi = authority
        .ready_validator(authority.multi_tenant_config().any_tenant())
        .await;
    accept(
        &multi,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "multi-tenant, own tenant",
    )
    .await;
    reject(
        &multi,
        &issuer
            .delegated(["Heroes.Read"])
            .tenant(&other_tenant)
            .sign(),
        InvalidToken::Issuer,
        "multi-tenant v2, other tenant, key bound to ours",
    )
    .await;
    reject(
        &multi,
        &issuer
            .delegated(["Heroes.Read"])
            .v1()
            .tenant(&other_tenant)
            .sign(),
        InvalidToken::Issuer,
        "multi-tenant v1, other tenant, key bound to ours",
    )
    .await;
}

// ---------------------------------------------------------------------------
// E. Header semantics
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_38_crit_with_unknown_extensions_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let base = issuer.delegated(["Heroes.Read"]);
    let variants = [
        (
            "crit names an unknown extension",
            base.clone()
                .header("crit", json!(["urn:example:unknown"]))
                .header("urn:example:unknown", true)
                .sign(),
        ),
        (
            "crit names an absent extension",
            base.clone().header("crit", json!(["foo"])).sign(),
        ),
        (
            "crit names a registered parameter",
            base.clone().header("crit", json!(["exp"])).sign(),
        ),
        ("crit empty", base.clone().header("crit", json!([])).sign()),
        (
            "crit as a string",
            base.clone().header("crit", "foo").sign(),
        ),
        ("crit null", base.clone().header("crit", Value::Null).sign()),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::CriticalHeader, what).await;
    }
}

#[tokio::test]
async fn case_39_b64_false_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let key = issuer.key();
    let base = issuer.delegated(["Heroes.Read"]);
    let mut variants = vec![
        (
            "b64 false with crit [b64]",
            base.clone()
                .header("b64", false)
                .header("crit", json!(["b64"]))
                .sign(),
        ),
        (
            "b64 false without crit",
            base.clone().header("b64", false).sign(),
        ),
        (
            "b64 true with crit [b64]",
            base.clone()
                .header("b64", true)
                .header("crit", json!(["b64"]))
                .sign(),
        ),
    ];
    // RFC 7797 proper: the signature covers the unencoded payload.
    let header = base
        .clone()
        .header("b64", false)
        .header("crit", json!(["b64"]));
    let h = b64(&json_bytes(header.header_json()));
    let raw = String::from_utf8(json_bytes(header.claims_json())).unwrap();
    let signature = key.sign_rs256(format!("{h}.{raw}").as_bytes());
    let p = b64(raw.as_bytes());
    variants.push((
        "RFC 7797 signature over the raw payload",
        format!("{h}.{p}.{}", b64(&signature)),
    ));
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::UnsupportedHeader, what).await;
    }
    // The unencoded form itself is not even base64url.
    reject(
        &validator,
        &format!("{h}.{raw}.{}", b64(&signature)),
        InvalidToken::Malformed,
        "RFC 7797 unencoded payload in the token",
    )
    .await;
}

#[tokio::test]
async fn case_40_cty_jwt_nested_tokens_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let inner = issuer.delegated(["Heroes.Read"]).sign();
    let outer = issuer.delegated(["Heroes.Read"]);
    for cty in ["JWT", "jwt", "application/jwt", "json"] {
        let header = json_bytes(outer.clone().header("cty", cty).header_json());
        reject(
            &validator,
            &outer.sign_raw(&header, inner.as_bytes()),
            InvalidToken::UnsupportedHeader,
            &format!("cty {cty}, nested JWT payload"),
        )
        .await;
        reject(
            &validator,
            &outer.clone().header("cty", cty).sign(),
            InvalidToken::UnsupportedHeader,
            &format!("cty {cty}, claims payload"),
        )
        .await;
    }
}

#[tokio::test]
async fn case_41_zip_on_a_jws_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let builder = issuer.delegated(["Heroes.Read"]);
    // A stored (uncompressed) DEFLATE block around a small JSON object, and
    // a highly repetitive "bomb"-like body.
    let json = br#"{"sub":"admin"}"#;
    let mut stored = vec![0x01, json.len() as u8, 0x00, !(json.len() as u8), 0xff];
    stored.extend_from_slice(json);
    for zip in ["DEF", "def", "GZIP", ""] {
        let header = json_bytes(builder.clone().header("zip", zip).header_json());
        for (what, payload) in [
            ("deflate payload", stored.clone()),
            ("zero bytes", vec![0u8; 4096]),
        ] {
            reject(
                &validator,
                &builder.sign_raw(&header, &payload),
                InvalidToken::UnsupportedHeader,
                &format!("zip {zip:?}, {what}"),
            )
            .await;
        }
        reject(
            &validator,
            &builder.clone().header("zip", zip).sign(),
            InvalidToken::UnsupportedHeader,
            &format!("zip {zip:?}, plain claims"),
        )
        .await;
    }
}

#[tokio::test]
async fn case_42_typ_other_than_jwt_or_at_jwt_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let base = issuer.delegated(["Heroes.Read"]);
    for typ in ["JWT", "jwt", "at+jwt", "AT+JWT", "application/at+jwt"] {
        accept(
            &validator,
            &base.clone().header("typ", typ).sign(),
            &format!("typ {typ}"),
        )
        .await;
    }
    accept(
        &validator,
        &base.clone().without_header("typ").sign(),
        "typ absent",
    )
    .await;
    let rejected: Vec<(String, Value)> = [
        "logout+jwt",
        "secevent+jwt",
        "dpop+jwt",
        "id_token+jwt",
        "token-introspection+jwt",
        "application/logout+jwt",
        "JWE",
        "JOSE",
        "JOSE+JSON",
        "at+jwt ",
        "",
    ]
    .into_iter()
    .map(|t| (format!("typ {t:?}"), Value::from(t)))
    .chain([
        ("typ number".to_owned(), json!(1)),
        ("typ null".to_owned(), Value::Null),
        ("typ array".to_owned(), json!(["JWT"])),
    ])
    .collect();
    for (what, typ) in rejected {
        reject(
            &validator,
            &base.clone().header("typ", typ).sign(),
            InvalidToken::UnsupportedHeader,
            &what,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// F. Claims
// ---------------------------------------------------------------------------

#[tokio::test]
async fn case_43_expired_token_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let variants = [
        (
            "expired an hour ago",
            issuer.delegated(["Heroes.Read"]).expired().sign(),
        ),
        (
            "expired just beyond the 5-minute skew",
            issuer
                .delegated(["Heroes.Read"])
                .expires_in(-301 - 5)
                .sign(),
        ),
        (
            "app-only, expired a day ago",
            issuer.app_only(["Heroes.Write"]).expires_in(-86_400).sign(),
        ),
        (
            "v1, expired",
            issuer.delegated(["Heroes.Read"]).v1().expired().sign(),
        ),
        (
            "exp = 0",
            issuer.delegated(["Heroes.Read"]).claim("exp", 0).sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Expired, what).await;
    }
}

#[tokio::test]
async fn case_44_exp_boundary_with_an_injected_clock() {
    let issuer = TestIssuer::new();
    let fixed = now();
    let at = |exp: i64| {
        issuer
            .delegated(["Heroes.Read"])
            .claim("iat", fixed - 3600)
            .claim("nbf", fixed - 3600)
            .claim("exp", exp)
            .sign()
    };
    // Default skew: 5 minutes.
    let default_skew = build(issuer.config().clock(Clock::from_fn(move || fixed)));
    reject(
        &default_skew,
        &at(fixed - 300 - 1),
        InvalidToken::Expired,
        "now - skew - 1",
    )
    .await;
    accept(&default_skew, &at(fixed - 300 + 1), "now - skew + 1").await;
    accept(&default_skew, &at(fixed - 300), "now - skew").await;
    // A configured 60-second skew.
    let short = build(
        issuer
            .config()
            .clock(Clock::from_fn(move || fixed))
            .clock_skew(Duration::from_secs(60)),
    );
    reject(
        &short,
        &at(fixed - 61),
        InvalidToken::Expired,
        "60 s skew, now - 61",
    )
    .await;
    accept(&short, &at(fixed - 59), "60 s skew, now - 59").await;
    // No skew at all.
    let none = build(
        issuer
            .config()
            .clock(Clock::from_fn(move || fixed))
            .clock_skew(Duration::ZERO),
    );
    reject(
        &none,
        &at(fixed - 1),
        InvalidToken::Expired,
        "no skew, now - 1",
    )
    .await;
    accept(&none, &at(fixed), "no skew, exp = now").await;
    // The clock moving forward expires a token that was valid.
    let token = at(fixed + 10);
    accept(&default_skew, &token, "before").await;
    let later = build(
        issuer
            .config()
            .clock(Clock::from_fn(move || fixed + 10 + 301)),
    );
    reject(
        &later,
        &token,
        InvalidToken::Expired,
        "clock moved past exp + skew",
    )
    .await;
}

#[tokio::test]
async fn case_45_missing_exp_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let variants = [
        (
            "v2 delegated",
            issuer.delegated(["Heroes.Read"]).without("exp").sign(),
        ),
        (
            "v2 app-only",
            issuer.app_only(["Heroes.Write"]).without("exp").sign(),
        ),
        (
            "v1",
            issuer.delegated(["Heroes.Read"]).v1().without("exp").sign(),
        ),
        (
            "no exp, nbf or iat",
            issuer
                .delegated(["Heroes.Read"])
                .without("exp")
                .without("nbf")
                .without("iat")
                .sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Claims, what).await;
    }
}

#[tokio::test]
async fn case_46_exp_and_nbf_of_the_wrong_type_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let far = now() + 3600;
    let wrong: Vec<(&str, Value)> = vec![
        ("string \"9999999999\"", json!("9999999999")),
        ("numeric string of a valid time", json!(far.to_string())),
        ("bool true", json!(true)),
        ("bool false", json!(false)),
        ("negative", json!(-1)),
        ("large negative", json!(-9_999_999_999i64)),
        ("1e20", json!(1e20)),
        ("u64::MAX", json!(u64::MAX)),
        ("after year 9999", json!(253_402_300_800i64)),
        ("null", Value::Null),
        ("array", json!([far])),
        ("object", json!({"exp": far})),
    ];
    for claim in ["exp", "nbf", "iat"] {
        for (what, value) in &wrong {
            let token = issuer
                .delegated(["Heroes.Read"])
                .claim(claim, value.clone())
                .sign();
            reject(
                &validator,
                &token,
                InvalidToken::Claims,
                &format!("{claim} {what}"),
            )
            .await;
        }
    }
    // Fractions are numbers (MSAL sends them): accepted.
    accept(
        &validator,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("exp", far as f64 + 0.5)
            .sign(),
        "fractional exp",
    )
    .await;
}

#[tokio::test]
async fn case_47_nbf_in_the_future_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let n = now();
    for (what, nbf) in [
        ("an hour ahead", n + 3600),
        ("just beyond the 5-minute skew", n + 300 + 10),
        ("a year ahead", n + 365 * 86_400),
    ] {
        let token = issuer
            .delegated(["Heroes.Read"])
            .claim("nbf", nbf)
            .claim("exp", nbf + 3600)
            .sign();
        reject(&validator, &token, InvalidToken::NotYetValid, what).await;
    }
    accept(
        &validator,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("nbf", n + 60)
            .sign(),
        "nbf within the skew",
    )
    .await;
    // Exact boundary with a fixed clock.
    let fixed = n;
    let clocked = build(issuer.config().clock(Clock::from_fn(move || fixed)));
    let at = |nbf: i64| {
        issuer
            .delegated(["Heroes.Read"])
            .claim("iat", fixed - 60)
            .claim("nbf", nbf)
            .sign()
    };
    reject(
        &clocked,
        &at(fixed + 301),
        InvalidToken::NotYetValid,
        "now + skew + 1",
    )
    .await;
    accept(&clocked, &at(fixed + 299), "now + skew - 1").await;
}

#[tokio::test]
async fn case_48_iat_in_the_future_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let n = now();
    for (what, iat) in [
        ("an hour ahead", n + 3600),
        ("just beyond the skew", n + 300 + 10),
        ("far future", n + 10 * 365 * 86_400),
    ] {
        let token = issuer.delegated(["Heroes.Read"]).claim("iat", iat).sign();
        reject(&validator, &token, InvalidToken::IssuedInFuture, what).await;
    }
    accept(
        &validator,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("iat", n + 60)
            .sign(),
        "iat within the skew",
    )
    .await;
}

#[tokio::test]
async fn case_49_issuer_variants_are_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let tid = issuer.tenant_id().to_owned();
    let other = random_guid();
    let v2 = issuer.issuer_v2();
    let v1 = issuer.issuer_v1();
    let v2_variants = [
        ("trailing slash", format!("{v2}/")),
        (
            "upper-case host",
            v2.replace("login.microsoftonline.com", "LOGIN.microsoftonline.com"),
        ),
        ("upper-case tenant", v2.replace(&tid, &tid.to_uppercase())),
        ("upper-case V2.0", v2.replace("v2.0", "V2.0")),
        ("http instead of https", v2.replace("https://", "http://")),
        ("other tenant", v2.replace(&tid, &other)),
        (
            "common",
            "https://login.microsoftonline.com/common/v2.0".to_owned(),
        ),
        (
            "template literal",
            "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
        ),
        ("v1 form on a v2 token", v1.clone()),
        ("v2 without /v2.0", v2.replace("/v2.0", "")),
        ("trailing space", format!("{v2} ")),
        (
            "other cloud",
            v2.replace("microsoftonline.com", "microsoftonline.us"),
        ),
        (
            "tenant as a suffix",
            format!("https://login.microsoftonline.com/{other}/v2.0?{tid}"),
        ),
        ("empty", String::new()),
    ];
    for (what, iss) in v2_variants {
        let token = issuer.delegated(["Heroes.Read"]).claim("iss", iss).sign();
        reject(
            &validator,
            &token,
            InvalidToken::Issuer,
            &format!("v2: {what}"),
        )
        .await;
    }
    let v1_variants = [
        ("no trailing slash", v1.trim_end_matches('/').to_owned()),
        ("http", v1.replace("https://", "http://")),
        ("other tenant", v1.replace(&tid, &other)),
        ("v2 form on a v1 token", v2.clone()),
        (
            "upper-case host",
            v1.replace("sts.windows.net", "STS.windows.net"),
        ),
    ];
    for (what, iss) in v1_variants {
        let token = issuer
            .delegated(["Heroes.Read"])
            .v1()
            .claim("iss", iss)
            .sign();
        reject(
            &validator,
            &token,
            InvalidToken::Issuer,
            &format!("v1: {what}"),
        )
        .await;
    }
    // Missing or mistyped iss.
    for (what, token) in [
        (
            "iss missing",
            issuer.delegated(["Heroes.Read"]).without("iss").sign(),
        ),
        (
            "iss a number",
            issuer.delegated(["Heroes.Read"]).claim("iss", 1).sign(),
        ),
        (
            "iss an array",
            issuer
                .delegated(["Heroes.Read"])
                .claim("iss", json!([v2]))
                .sign(),
        ),
    ] {
        reject(&validator, &token, InvalidToken::Claims, what).await;
    }
    // Only v2 configured: the v1 issuer is not acceptable on any token.
    let v2_only = build(issuer.config().versions(TokenVersions::V2));
    accept(
        &v2_only,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "v2-only control",
    )
    .await;
    reject(
        &v2_only,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("iss", v1.clone())
            .sign(),
        InvalidToken::Issuer,
        "v2-only: v1 issuer on a v2 token",
    )
    .await;
    reject(
        &v2_only,
        &issuer.delegated(["Heroes.Read"]).v1().sign(),
        InvalidToken::Version,
        "v2-only: a complete v1 token",
    )
    .await;
}

#[tokio::test]
async fn case_50_tenant_mismatch_with_shared_keys_is_rejected() {
    let issuer = TestIssuer::new();
    let other = random_guid();
    // Single tenant: a correctly signed token from another tenant.
    let single = issuer.validator();
    for (what, token) in [
        (
            "v2 other tenant",
            issuer.delegated(["Heroes.Read"]).tenant(&other).sign(),
        ),
        (
            "v1 other tenant",
            issuer.delegated(["Heroes.Read"]).v1().tenant(&other).sign(),
        ),
        (
            "app-only other tenant",
            issuer.app_only(["Heroes.Write"]).tenant(&other).sign(),
        ),
        (
            "tid other tenant, iss ours",
            issuer
                .delegated(["Heroes.Read"])
                .claim("tid", other.clone())
                .sign(),
        ),
    ] {
        reject(&single, &token, InvalidToken::Issuer, what).await;
    }
    // Multi-tenant (templated issuers, shared keys) with an allow-list.
    let multi = build(
        AuthConfig::builder()
            .client_id(issuer.client_id())
            .static_keys(
                Some("https://login.microsoftonline.com/{tenantid}/v2.0".to_owned()),
                Some("https://sts.windows.net/{tenantid}/".to_owned()),
                issuer.jwks().to_string(),
            )
            .allowed_tenants([issuer.tenant_id()]),
    );
    accept(
        &multi,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "allowed tenant",
    )
    .await;
    accept(
        &multi,
        &issuer.delegated(["Heroes.Read"]).v1().sign(),
        "allowed tenant, v1",
    )
    .await;
    for (what, token) in [
        (
            "v2 tenant not allowed",
            issuer.delegated(["Heroes.Read"]).tenant(&other).sign(),
        ),
        (
            "v1 tenant not allowed",
            issuer.delegated(["Heroes.Read"]).v1().tenant(&other).sign(),
        ),
    ] {
        reject(&multi, &token, InvalidToken::Tenant, what).await;
    }
    // iss and tid disagreeing is an issuer error even where any tenant is fine.
    reject(
        &multi,
        &issuer
            .delegated(["Heroes.Read"])
            .claim("tid", other.clone())
            .sign(),
        InvalidToken::Issuer,
        "multi-tenant, tid and iss disagree",
    )
    .await;
}

#[tokio::test]
async fn case_51_wrong_audience_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let client = issuer.client_id().to_owned();
    let other = random_guid();
    let variants: Vec<(&str, Option<Value>)> = vec![
        ("missing", None),
        ("empty string", Some(json!(""))),
        ("other app", Some(json!(other))),
        (
            "case variant (upper-case)",
            Some(json!(client.to_uppercase())),
        ),
        (
            "case variant of api://",
            Some(json!(format!("API://{client}"))),
        ),
        ("trailing slash", Some(json!(format!("{client}/")))),
        ("trailing space", Some(json!(format!("{client} ")))),
        ("prefix of ours", Some(json!(&client[..30]))),
        ("ours as a prefix", Some(json!(format!("{client}x")))),
        ("empty array", Some(json!([]))),
        ("array without us", Some(json!([other, GRAPH]))),
        ("array of empty strings", Some(json!([""]))),
        ("null", Some(Value::Null)),
    ];
    for (what, aud) in variants {
        let builder = issuer.delegated(["Heroes.Read"]);
        let builder = match aud {
            Some(aud) => builder.claim("aud", aud),
            None => builder.without("aud"),
        };
        reject(&validator, &builder.sign(), InvalidToken::Audience, what).await;
    }
}

#[tokio::test]
async fn case_52_aud_array_containing_us_is_accepted() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let client = issuer.client_id().to_owned();
    let other = random_guid();
    for (what, aud) in [
        ("[us]", json!([client])),
        ("[other, us]", json!([other, client])),
        ("[us, other]", json!([client, other])),
        ("[api://us]", json!([format!("api://{client}")])),
        (
            "[Graph, api://us]",
            json!([GRAPH, format!("api://{client}")]),
        ),
        ("api://us as a string", json!(format!("api://{client}"))),
    ] {
        let principal = accept(
            &validator,
            &issuer.delegated(["Heroes.Read"]).claim("aud", aud).sign(),
            what,
        )
        .await;
        assert!(Require::scope("Heroes.Read").is_met(&principal), "{what}");
    }
}

#[tokio::test]
async fn case_53_token_for_another_api_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let other = random_guid();
    for (what, aud) in [
        ("another app", other.clone()),
        ("another app's App ID URI", format!("api://{other}")),
        ("Microsoft Graph", GRAPH.to_owned()),
        (
            "Microsoft Graph URL",
            "https://graph.microsoft.com".to_owned(),
        ),
        (
            "Azure AD Graph",
            "00000002-0000-0000-c000-000000000000".to_owned(),
        ),
        (
            "Azure Resource Manager",
            "https://management.azure.com/".to_owned(),
        ),
    ] {
        for (shape, token) in [
            (
                "delegated",
                issuer
                    .delegated(["User.Read"])
                    .claim("aud", aud.as_str())
                    .sign(),
            ),
            (
                "app-only",
                issuer
                    .app_only(["User.Read.All"])
                    .claim("aud", aud.as_str())
                    .sign(),
            ),
            (
                "v1",
                issuer
                    .delegated(["User.Read"])
                    .v1()
                    .claim("aud", aud.as_str())
                    .sign(),
            ),
        ] {
            reject(
                &validator,
                &token,
                InvalidToken::Audience,
                &format!("{what}, {shape}"),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn case_54_id_token_presented_as_access_token_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let base = issuer.delegated(["Heroes.Read"]);
    let id_token_like = base
        .clone()
        .without("scp")
        .without("azp")
        .without("azpacr")
        .claim("nonce", "n-0S6_WzA2Mj")
        .claim("aio", "Df2UVXL1ix");
    let variants = [
        ("has a nonce", base.clone().claim("nonce", "abc").sign()),
        (
            "has at_hash",
            base.clone()
                .claim("at_hash", "77QmUPtjPfzWtF2AnpK9RQ")
                .sign(),
        ),
        (
            "has c_hash",
            base.clone()
                .claim("c_hash", "LDktKdoQak3Pk0cnXxCltA")
                .sign(),
        ),
        ("neither scp nor roles", base.clone().without("scp").sign()),
        (
            "app-only without roles",
            issuer.app_only(["Heroes.Write"]).without("roles").sign(),
        ),
        ("v2 without azp", base.clone().without("azp").sign()),
        (
            "v1 without appid",
            base.clone().v1().without("appid").sign(),
        ),
        ("a realistic v2 ID token", id_token_like.clone().sign()),
        (
            "a realistic ID token with scp",
            id_token_like.clone().claim("scp", "Heroes.Read").sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::IdToken, what).await;
    }
}

#[tokio::test]
async fn case_55_valid_token_without_the_required_scope_or_role_is_forbidden() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let delegated = accept(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "delegated",
    )
    .await;
    let app = accept(
        &validator,
        &issuer.app_only(["Heroes.Read"]).sign(),
        "app-only",
    )
    .await;
    assert!(Require::scope("Heroes.Read").check(&delegated).is_ok());
    assert!(Require::app_permission("Heroes.Read").check(&app).is_ok());
    for (what, principal, requirement, named) in [
        (
            "missing scope",
            &delegated,
            Require::scope("Heroes.Write"),
            "Heroes.Write",
        ),
        (
            "scope case variant",
            &delegated,
            Require::scope("heroes.read"),
            "heroes.read",
        ),
        (
            "missing app permission",
            &app,
            Require::app_permission("Heroes.Write"),
            "Heroes.Write",
        ),
        (
            "missing one of all scopes",
            &delegated,
            Require::all_scopes(["Heroes.Read", "Heroes.Admin"]),
            "Heroes.Admin",
        ),
        (
            "missing user role",
            &delegated,
            Require::role("Admin"),
            "Admin",
        ),
    ] {
        let err = requirement.check(principal).expect_err(what);
        assert!(
            matches!(err, Error::InsufficientScope { .. }),
            "{what}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 403, "{what}");
        let challenge = err.challenge().unwrap();
        let challenge = challenge.to_str().unwrap();
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{what}: {challenge}"
        );
        assert!(challenge.contains("scope=\""), "{what}: {challenge}");
        assert!(challenge.contains(named), "{what}: {challenge}");
    }
}

#[tokio::test]
async fn case_56_app_only_on_delegated_routes_and_the_reverse_are_forbidden() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let app = accept(
        &validator,
        &issuer.app_only(["Heroes.Read"]).sign(),
        "app-only",
    )
    .await;
    assert!(app.is_app_only());
    let app_with_scp = accept(
        &validator,
        &issuer
            .app_only(["Heroes.Read"])
            .claim("scp", "Heroes.Read")
            .sign(),
        "app-only with a scp claim",
    )
    .await;
    let user = accept(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "delegated",
    )
    .await;
    assert!(!user.is_app_only());
    let user_with_role = accept(
        &validator,
        &issuer
            .delegated(["Heroes.Read"])
            .roles(["Heroes.Read"])
            .sign(),
        "delegated with a user role",
    )
    .await;
    for (what, principal, requirement) in [
        (
            "app-only on a delegated route",
            &app,
            Require::scope("Heroes.Read"),
        ),
        (
            "app-only (idtyp app) carrying scp on a delegated route",
            &app_with_scp,
            Require::scope("Heroes.Read"),
        ),
        (
            "app-only on a user-role route",
            &app,
            Require::role("Heroes.Read"),
        ),
        (
            "delegated on an app-only route",
            &user,
            Require::app_permission("Heroes.Read"),
        ),
        (
            "delegated with a same-named user role on an app-only route",
            &user_with_role,
            Require::app_permission("Heroes.Read"),
        ),
    ] {
        let err = requirement.check(principal).expect_err(what);
        assert!(
            matches!(err, Error::InsufficientScope { .. }),
            "{what}: {err:?}"
        );
        assert_eq!(err.status().as_u16(), 403, "{what}");
    }
}

#[tokio::test]
async fn case_57_missing_sub_oid_or_tid_is_rejected() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    for claim in ["sub", "oid", "tid"] {
        for (shape, token) in [
            (
                "v2 delegated",
                issuer.delegated(["Heroes.Read"]).without(claim).sign(),
            ),
            (
                "v2 app-only",
                issuer.app_only(["Heroes.Write"]).without(claim).sign(),
            ),
            (
                "v1",
                issuer.delegated(["Heroes.Read"]).v1().without(claim).sign(),
            ),
        ] {
            reject(
                &validator,
                &token,
                InvalidToken::Claims,
                &format!("{claim} missing, {shape}"),
            )
            .await;
        }
    }
    for (what, token) in [
        (
            "sub empty",
            issuer.delegated(["Heroes.Read"]).claim("sub", "").sign(),
        ),
        (
            "sub null",
            issuer
                .delegated(["Heroes.Read"])
                .claim("sub", Value::Null)
                .sign(),
        ),
        (
            "oid a number",
            issuer.delegated(["Heroes.Read"]).claim("oid", 7).sign(),
        ),
        (
            "tid not a GUID",
            issuer
                .delegated(["Heroes.Read"])
                .claim("tid", "contoso")
                .sign(),
        ),
    ] {
        reject(&validator, &token, InvalidToken::Claims, what).await;
    }
}

#[tokio::test]
async fn case_58_claim_type_confusion_fails_closed() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let client = issuer.client_id().to_owned();
    for (what, aud) in [
        ("aud a number", json!(1)),
        ("aud a bool", json!(true)),
        ("aud an object", json!({"aud": client})),
        ("aud array with us and a number", json!([client, 1])),
        ("aud array with us and null", json!([client, Value::Null])),
        ("aud nested array", json!([[client]])),
    ] {
        let token = issuer.delegated(["Heroes.Read"]).claim("aud", aud).sign();
        reject(&validator, &token, InvalidToken::Audience, what).await;
    }
    let variants = [
        (
            "scp as an array",
            issuer
                .delegated(["Heroes.Read"])
                .claim("scp", json!(["Heroes.Read"]))
                .sign(),
        ),
        (
            "scp a number",
            issuer.delegated(["Heroes.Read"]).claim("scp", 1).sign(),
        ),
        (
            "roles as a string",
            issuer
                .app_only(["Heroes.Write"])
                .claim("roles", "Heroes.Write")
                .sign(),
        ),
        (
            "roles an object",
            issuer
                .app_only(["Heroes.Write"])
                .claim("roles", json!({"Heroes.Write": true}))
                .sign(),
        ),
        (
            "roles with a number",
            issuer
                .app_only(["Heroes.Write"])
                .claim("roles", json!(["Heroes.Write", 1]))
                .sign(),
        ),
        (
            "azp a number",
            issuer.delegated(["Heroes.Read"]).claim("azp", 1).sign(),
        ),
        (
            "ver a number",
            issuer.delegated(["Heroes.Read"]).claim("ver", 2.0).sign(),
        ),
        (
            "ver unknown",
            issuer.delegated(["Heroes.Read"]).claim("ver", "3.0").sign(),
        ),
        (
            "tid a number",
            issuer.delegated(["Heroes.Read"]).claim("tid", 1).sign(),
        ),
        (
            "sub an object",
            issuer
                .delegated(["Heroes.Read"])
                .claim("sub", json!({}))
                .sign(),
        ),
        (
            "groups a string",
            issuer
                .delegated(["Heroes.Read"])
                .claim("groups", "admins")
                .sign(),
        ),
    ];
    for (what, token) in variants {
        reject(&validator, &token, InvalidToken::Claims, what).await;
    }
}

#[tokio::test]
async fn case_59_v1_tokens_only_where_configured() {
    let issuer = TestIssuer::new();
    // Default (both): v1 and v2 accepted.
    let both = issuer.validator();
    let p = accept(&both, &issuer.delegated(["Heroes.Read"]).sign(), "v2, both").await;
    assert_eq!(p.version(), Some(entra_auth::TokenVersion::V2));
    let p = accept(
        &both,
        &issuer.delegated(["Heroes.Read"]).v1().sign(),
        "v1, both",
    )
    .await;
    assert_eq!(p.version(), Some(entra_auth::TokenVersion::V1));
    accept(
        &both,
        &issuer.app_only(["Heroes.Write"]).v1().sign(),
        "v1 app-only, both",
    )
    .await;
    // v2 only.
    let v2_only = build(issuer.config().versions(TokenVersions::V2));
    accept(
        &v2_only,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "v2, v2-only",
    )
    .await;
    for (what, token) in [
        (
            "v1 delegated",
            issuer.delegated(["Heroes.Read"]).v1().sign(),
        ),
        ("v1 app-only", issuer.app_only(["Heroes.Write"]).v1().sign()),
    ] {
        reject(
            &v2_only,
            &token,
            InvalidToken::Version,
            &format!("{what}, v2-only"),
        )
        .await;
    }
    // v1 only: the reverse.
    let v1_only = build(issuer.config().versions(TokenVersions::V1));
    accept(
        &v1_only,
        &issuer.delegated(["Heroes.Read"]).v1().sign(),
        "v1, v1-only",
    )
    .await;
    reject(
        &v1_only,
        &issuer.delegated(["Heroes.Read"]).sign(),
        InvalidToken::Version,
        "v2, v1-only",
    )
    .await;
    // ver missing.
    reject(
        &both,
        &issuer.delegated(["Heroes.Read"]).without("ver").sign(),
        InvalidToken::Claims,
        "ver missing",
    )
    .await;
}

#[tokio::test]
async fn case_60_token_signed_by_a_removed_key_is_rejected_after_refresh() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let validator = authority.ready_validator(authority.config()).await;
    let old_v2 = issuer.delegated(["Heroes.Read"]).sign();
    let old_v1 = issuer.delegated(["Heroes.Read"]).v1().sign();
    accept(&validator, &old_v2, "before the rollover").await;
    accept(&validator, &old_v1, "before the rollover, v1").await;

    // Emergency rollover: a new key is published, the old one withdrawn.
    let new_key = TestKey::generate("rollover-key");
    authority.add_key(&new_key);
    authority.remove_key(issuer.key().kid());
    validator.refresh().await.unwrap();

    reject(
        &validator,
        &old_v2,
        InvalidToken::UnknownKey,
        "removed key, v2",
    )
    .await;
    reject(
        &validator,
        &old_v1,
        InvalidToken::UnknownKey,
        "removed key, v1",
    )
    .await;
    reject(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        InvalidToken::UnknownKey,
        "a fresh token by the removed key",
    )
    .await;
    accept(
        &validator,
        &issuer
            .delegated(["Heroes.Read"])
            .header("kid", new_key.kid())
            .sign_with(&new_key),
        "signed by the new key",
    )
    .await;
}

#[tokio::test]
async fn case_61_weak_hmac_secrets_are_never_accepted() {
    let issuer = TestIssuer::new();
    let validator = issuer.validator();
    let client = issuer.client_id().to_owned();
    let tid = issuer.tenant_id().to_owned();
    let secrets: Vec<&[u8]> = vec![
        b"",
        b"secret",
        b"password",
        b"123456",
        b"jwt",
        b"key",
        b"changeme",
        b"your-256-bit-secret",
        b"secretkey",
        b"admin",
        client.as_bytes(),
        tid.as_bytes(),
        issuer.key().kid().as_bytes(),
    ];
    for secret in secrets {
        let label = String::from_utf8_lossy(secret).into_owned();
        for (shape, token) in [
            (
                "delegated",
                issuer.delegated(["Heroes.Read"]).sign_hs256(secret),
            ),
            (
                "app-only",
                issuer.app_only(["Heroes.Write"]).sign_hs256(secret),
            ),
            ("labelled HS512", {
                let (h, p, s) = split(&issuer.delegated(["Heroes.Read"]).sign_hs256(secret));
                let mut header: Map<String, Value> =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
                header.insert("alg".into(), "HS512".into());
                format!("{}.{p}.{s}", b64(&json_bytes(&header)))
            }),
        ] {
            let result = validator.validate(&token).await;
            assert_rejected(
                &result,
                InvalidToken::Algorithm,
                &format!("HS {label:?}, {shape}"),
            );
        }
    }
    // The test issuer itself never mints HMAC tokens.
    let (h, _, _) = split(&issuer.delegated(["Heroes.Read"]).sign());
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    assert_eq!(header["alg"], "RS256");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_62_same_forged_token_validated_1000_times_concurrently_is_always_rejected() {
    let authority = MockAuthority::start().await;
    let issuer = authority.issuer.clone();
    let validator = authority.ready_validator(authority.config()).await;
    let attacker = TestKey::generate(issuer.key().kid());
    let fetches = validator.key_fetches();
    let keys_hits = authority.keys_hits();

    async fn hammer(validator: &Validator, token: &str, expected: InvalidToken, what: &str) {
        let token: Arc<str> = Arc::from(token);
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let validator = validator.clone();
                let token = token.clone();
                tokio::spawn(async move { validator.validate(&token).await })
            })
            .collect();
        let mut rejected = 0;
        for task in tasks {
            let result = task.await.expect("no validation task panicked");
            assert_rejected(&result, expected, what);
            rejected += 1;
        }
        assert_eq!(rejected, 1000, "{what}");
    }

    let forged = issuer.delegated(["Heroes.Admin"]).sign_with(&attacker);
    hammer(
        &validator,
        &forged,
        InvalidToken::BadSignature,
        "forged under our kid",
    )
    .await;
    assert_eq!(
        validator.key_fetches(),
        fetches,
        "a forged token caused fetches"
    );
    assert_eq!(authority.keys_hits(), keys_hits);

    // (alg none with its RS256 signature kept: the empty-signature form is case 19.)
    let none = issuer
        .delegated(["Heroes.Admin"])
        .header("alg", "none")
        .sign_with(&attacker);
    hammer(&validator, &none, InvalidToken::Algorithm, "alg none").await;

    let unknown = issuer
        .delegated(["Heroes.Admin"])
        .header("kid", "attacker-kid")
        .sign_with(&attacker);
    hammer(
        &validator,
        &unknown,
        InvalidToken::UnknownKey,
        "forged under an unknown kid",
    )
    .await;
    let extra = validator.key_fetches() - fetches;
    assert!(
        extra <= 4,
        "{extra} fetches for 1000 copies of one unknown kid"
    );

    accept(
        &validator,
        &issuer.delegated(["Heroes.Read"]).sign(),
        "a valid token afterwards",
    )
    .await;
}
