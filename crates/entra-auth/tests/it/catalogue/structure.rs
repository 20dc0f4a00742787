//! Security catalogue §1 B. Structure and encoding (cases 9–18).

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use entra_auth::InvalidToken;
use entra_auth::testing::{TestIssuer, random_guid};
use serde_json::json;

use super::{
    accept, append_member, assert_rejected, b64, build, json_bytes, non_canonical_variants, now,
    reject, sign_segments, split, with_len_mod3,
};

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
