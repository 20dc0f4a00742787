//! Security catalogue §1 F. Claims (cases 43–62).

use std::sync::Arc;
use std::time::Duration;

use crate::common::MockAuthority;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use entra_auth::testing::{TestIssuer, TestKey, random_guid};
use entra_auth::{AuthConfig, Clock, Error, InvalidToken, Require, TokenVersions, Validator};
use serde_json::{Map, Value, json};

use super::{GRAPH, accept, assert_rejected, b64, build, json_bytes, now, reject, split};

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
    // A token that grants nothing is refused too, with its own reason
    // (issue 12, finding 4): it need not be an ID token.
    let grants_nothing = [
        ("neither scp nor roles", base.clone().without("scp").sign()),
        (
            "app-only without roles",
            issuer.app_only(["Heroes.Write"]).without("roles").sign(),
        ),
    ];
    for (what, token) in grants_nothing {
        reject(&validator, &token, InvalidToken::NoScopeOrRoles, what).await;
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
        // App roles and application permissions are not scopes (RFC 6750
        // §3): they are named in the description, never in `scope`.
        let is_scope = what.contains("scope");
        assert_eq!(
            challenge.contains("scope=\""),
            is_scope,
            "{what}: {challenge}"
        );
        assert!(challenge.contains(named), "{what}: {challenge}");
        // The problem details name what the token lacks.
        assert!(err.to_string().contains(named), "{what}: {err}");
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
