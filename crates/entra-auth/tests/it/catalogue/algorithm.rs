//! Security catalogue §1 C. Algorithm (cases 19–27).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_auth::InvalidToken;
use entra_auth::testing::{TestIssuer, TestKey};
use serde_json::{Map, Value, json};

use super::{accept, b64, json_bytes, reject, split};

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
