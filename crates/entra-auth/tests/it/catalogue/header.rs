//! Security catalogue §1 E. Header semantics (cases 38–42).

use entra_auth::InvalidToken;
use entra_auth::testing::TestIssuer;
use serde_json::{Value, json};

use super::{accept, b64, json_bytes, reject};

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
