//! Security catalogue §1 D. Key selection (cases 28–37).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::common::MockAuthority;
use entra_auth::InvalidToken;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use serde_json::{Value, json};

use super::{SELF_SIGNED_CERT, accept, assert_rejected, build, canary, reject, static_config};

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
