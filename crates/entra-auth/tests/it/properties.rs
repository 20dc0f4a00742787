#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests: random input never panics and never validates.
//!
//! 1. Random strings given to [`Validator::validate`] are rejected with 401.
//! 2. Random mutations of a valid signed token are rejected.
//! 3. Random JSON headers and claims, signed with the issuer's real key, are
//!    rejected whenever they are not a complete access token for the issuer.
//! 4. Random `Authorization` header values through the tower layer never
//!    reach the service (never 200) and never cause a 5xx.

use std::convert::Infallible;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use entra_auth::Validator;
use entra_auth::testing::TestIssuer;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use tower::{Layer as _, ServiceExt as _};

/// One issuer, one validator and one valid token shared by every test: RSA key
/// generation happens once. The validator uses static keys, so it spawns no
/// task and may be used from any runtime.
struct Fixture {
    issuer: TestIssuer,
    validator: Validator,
    token: String,
    header: Map<String, Value>,
    claims: Map<String, Value>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let validator = issuer.validator();
        let builder = issuer.delegated(["Heroes.Read"]);
        let token = builder.sign();
        let header = builder.header_json().clone();
        let claims = builder.claims_json().clone();
        Fixture {
            issuer,
            validator,
            token,
            header,
            claims,
        }
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        source_file: Some(file!()),
        max_global_rejects: 100_000,
        ..ProptestConfig::default()
    }
}

/// Runs a property, panicking with proptest's minimal failing input.
fn check<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// The validator rejects `token` with a 401; never accepts it, never panics.
fn assert_rejected(rt: &tokio::runtime::Runtime, token: &str) -> Result<(), TestCaseError> {
    let fx = fixture();
    match rt.block_on(fx.validator.validate(token)) {
        Ok(principal) => Err(TestCaseError::fail(format!(
            "accepted {token:?} as {}",
            principal.key()
        ))),
        Err(e) => {
            prop_assert_eq!(
                e.status(),
                StatusCode::UNAUTHORIZED,
                "{} for {:?}",
                e,
                token
            );
            Ok(())
        }
    }
}

/// The control: every property below starts from tokens that do validate.
fn assert_control_validates(rt: &tokio::runtime::Runtime) {
    let fx = fixture();
    rt.block_on(fx.validator.validate(&fx.token))
        .expect("the unmutated token validates");
}

// ---------------------------------------------------------------------------
// 1. Random strings
// ---------------------------------------------------------------------------

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random_strings() -> impl Strategy<Value = String> {
    let fx = fixture();
    let good_header = b64(serde_json::to_string(&fx.header).unwrap().as_bytes());
    prop_oneof![
        // Arbitrary bytes, as a string.
        prop::collection::vec(any::<u8>(), 0..3000)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        // Arbitrary UTF-8.
        "(?s).{0,3000}",
        // The base64url alphabet and dots.
        "[A-Za-z0-9_.-]{0,3000}",
        // Three segments (and five: JWE-shaped).
        "[A-Za-z0-9_-]{0,400}\\.[A-Za-z0-9_-]{0,1200}\\.[A-Za-z0-9_-]{0,400}",
        "[A-Za-z0-9_-]{0,100}(\\.[A-Za-z0-9_-]{0,200}){4}",
        // A real header, random payload and random signature bytes: this
        // reaches the signature check.
        (
            prop::collection::vec(any::<u8>(), 0..600),
            prop::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(move |(p, s)| format!("{good_header}.{}.{}", b64(&p), b64(&s))),
        // Random JSON header and payload, random signature.
        (
            json_value(),
            json_value(),
            prop::collection::vec(any::<u8>(), 0..300)
        )
            .prop_map(|(h, p, s)| format!(
                "{}.{}.{}",
                b64(h.to_string().as_bytes()),
                b64(p.to_string().as_bytes()),
                b64(&s)
            )),
    ]
}

#[test]
fn random_strings_never_validate() {
    let rt = runtime();
    assert_control_validates(&rt);
    check(512, random_strings(), |token| assert_rejected(&rt, &token));
}

// ---------------------------------------------------------------------------
// 2. Mutations of a valid token
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    Replace { at: usize, byte: u8 },
    Insert { at: usize, byte: u8 },
    Delete { at: usize },
    SwapSegments { a: usize, b: usize },
    DuplicateSegment { segment: usize, at: usize },
    OverwriteSegment { from: usize, to: usize },
    Truncate { len: usize },
    Append { tail: String },
}

/// A byte to write into a token: mostly plausible ones (alphabet, separators,
/// padding, the standard alphabet, whitespace), sometimes any byte.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(B64URL),
        1 => prop::sample::select(&b".=+/ \t\r\n\0~"[..]),
        1 => any::<u8>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (any::<usize>(), interesting_byte()).prop_map(|(at, byte)| Mutation::Replace { at, byte }),
        (any::<usize>(), interesting_byte()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapSegments { a, b }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(segment, at)| Mutation::DuplicateSegment { segment, at }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(from, to)| Mutation::OverwriteSegment { from, to }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        prop_oneof!["[A-Za-z0-9_.=+/-]{1,8}", "(?s).{1,8}"]
            .prop_map(|tail| Mutation::Append { tail }),
    ]
}

fn apply(token: &str, mutation: &Mutation) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let len = bytes.len();
    let segments = |s: &str| s.split('.').map(str::to_owned).collect::<Vec<_>>();
    match mutation {
        Mutation::FlipBit { at, bit } if len > 0 => bytes[at % len] ^= 1 << bit,
        Mutation::Replace { at, byte } if len > 0 => bytes[at % len] = *byte,
        Mutation::Insert { at, byte } => bytes.insert(at % (len + 1), *byte),
        Mutation::Delete { at } if len > 0 => {
            bytes.remove(at % len);
        }
        Mutation::SwapSegments { a, b } => {
            let mut segs = segments(token);
            let n = segs.len();
            segs.swap(a % n, b % n);
            return segs.join(".");
        }
        Mutation::DuplicateSegment { segment, at } => {
            let mut segs = segments(token);
            let n = segs.len();
            let copy = segs[segment % n].clone();
            segs.insert(at % (n + 1), copy);
            return segs.join(".");
        }
        Mutation::OverwriteSegment { from, to } => {
            let mut segs = segments(token);
            let n = segs.len();
            segs[to % n] = segs[from % n].clone();
            return segs.join(".");
        }
        Mutation::Truncate { len: keep } => bytes.truncate(keep % (len + 1)),
        Mutation::Append { tail } => bytes.extend_from_slice(tail.as_bytes()),
        _ => {}
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn mutated_token() -> impl Strategy<Value = String> {
    let original = fixture().token.clone();
    prop::collection::vec(mutation(), 1..4).prop_map(move |ms| {
        ms.iter()
            .fold(original.clone(), |token, m| apply(&token, m))
    })
}

#[test]
fn mutated_tokens_never_validate() {
    let rt = runtime();
    assert_control_validates(&rt);
    let original = fixture().token.clone();
    check(1024, mutated_token(), |token| {
        prop_assume!(token != original, "the identity mutation");
        assert_rejected(&rt, &token)
    });
}

/// The last character of a segment carries bits that are not part of any
/// byte; another character with the same significant bits decodes to the same
/// bytes. Canonical base64url means every such variant is rejected, including
/// in the signature, where it leaves the signing input untouched.
#[test]
fn every_other_last_character_of_every_segment_is_rejected() {
    let rt = runtime();
    assert_control_validates(&rt);
    let token = &fixture().token;
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3);
    let mut same_bytes = 0;
    for (i, segment) in segments.iter().enumerate() {
        let last = *segment.as_bytes().last().unwrap();
        for &c in B64URL.iter().filter(|&&c| c != last) {
            let mut changed = segments.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            changed[i].pop();
            changed[i].push(char::from(c));
            let decodes_the_same = base64::engine::GeneralPurpose::new(
                &base64::alphabet::URL_SAFE,
                base64::engine::GeneralPurposeConfig::new()
                    .with_decode_allow_trailing_bits(true)
                    .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
            )
            .decode(&changed[i])
            .is_ok_and(|b| URL_SAFE_NO_PAD.decode(segment).is_ok_and(|o| o == b));
            if decodes_the_same {
                same_bytes += 1;
            }
            let candidate = changed.join(".");
            assert_rejected(&rt, &candidate)
                .unwrap_or_else(|e| panic!("segment {i}, last character {:?}: {e}", c as char));
        }
    }
    // An RS256 signature is 256 bytes: 342 characters, 4 unused bits, so 15
    // other characters decode to the same signature.
    assert!(
        same_bytes >= 15,
        "non-canonical variants tried: {same_bytes}"
    );
}

// ---------------------------------------------------------------------------
// 3. Random JSON, really signed
// ---------------------------------------------------------------------------

/// Member names: random ones, and the ones the validator acts on.
fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "[a-z_]{1,6}",
        1 => "(?s).{0,6}",
        3 => prop::sample::select(vec![
            "alg", "kid", "x5t", "typ", "crit", "jwk", "jku", "x5u", "x5c", "enc", "zip", "b64",
            "cty", "exp", "nbf", "iat", "iss", "ver", "tid", "oid", "sub", "aud", "azp", "appid",
            "scp", "roles", "nonce", "at_hash", "c_hash", "idtyp", "wids", "groups", "name",
        ])
        .prop_map(str::to_owned),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let fx = fixture();
    let known = vec![
        Value::from("RS256"),
        Value::from("none"),
        Value::from("HS256"),
        Value::from("JWT"),
        Value::from("at+jwt"),
        Value::from(fx.issuer.key().kid()),
        Value::from(fx.issuer.tenant_id()),
        Value::from(fx.issuer.client_id()),
        Value::from(fx.issuer.caller_id()),
        Value::from(fx.issuer.issuer_v2()),
        Value::from(fx.issuer.issuer_v1()),
        Value::from("2.0"),
        Value::from("1.0"),
        Value::from("Heroes.Read"),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0i64..4_000_000_000).prop_map(Value::from),
        "(?s).{0,12}".prop_map(Value::String),
        prop::sample::select(known),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(member_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(member_name(), json_value(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

/// Claims that can never be a valid access token for the issuer, with why.
#[derive(Debug, Clone)]
enum BadClaims {
    /// Any JSON value at all, as long as it has no `exp`.
    Random(Value),
    /// The valid claims, with random members added (possibly overwriting),
    /// then one required claim removed.
    Missing {
        extra: Map<String, Value>,
        missing: &'static str,
    },
    /// The valid claims with random members, and `iss` a random other string.
    WrongIssuer {
        extra: Map<String, Value>,
        iss: String,
    },
    /// The valid claims with random members, and `aud` a random other string.
    WrongAudience {
        extra: Map<String, Value>,
        aud: String,
    },
    /// The valid claims as JSON text, then one of them written again: a
    /// duplicate member must be rejected even if both values are good.
    Duplicate {
        name: &'static str,
        value: Option<Value>,
    },
    /// Not JSON, or not UTF-8.
    Bytes(Vec<u8>),
}

const REQUIRED: &[&str] = &[
    "exp",
    "iss",
    "ver",
    "tid",
    "oid",
    "sub",
    "aud",
    "azp",
    "scp+roles",
];

fn bad_claims() -> impl Strategy<Value = BadClaims> {
    prop_oneof![
        json_value().prop_map(BadClaims::Random),
        (json_object(), prop::sample::select(REQUIRED))
            .prop_map(|(extra, missing)| BadClaims::Missing { extra, missing }),
        (json_object(), "(?s).{0,80}")
            .prop_map(|(extra, iss)| BadClaims::WrongIssuer { extra, iss }),
        (json_object(), "(?s).{0,40}")
            .prop_map(|(extra, aud)| BadClaims::WrongAudience { extra, aud }),
        (
            prop::sample::select(vec!["exp", "iss", "aud", "tid", "scp", "nbf", "oid"]),
            prop::option::of(json_value())
        )
            .prop_map(|(name, value)| BadClaims::Duplicate { name, value }),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(BadClaims::Bytes),
    ]
}

fn claims_bytes(bad: &BadClaims) -> Option<Vec<u8>> {
    let fx = fixture();
    let with = |extra: &Map<String, Value>| {
        let mut claims = fx.claims.clone();
        claims.extend(extra.clone());
        claims
    };
    let claims = match bad {
        BadClaims::Random(value) => {
            let mut value = value.clone();
            if let Value::Object(map) = &mut value {
                map.remove("exp");
            }
            return Some(value.to_string().into_bytes());
        }
        BadClaims::Missing { extra, missing } => {
            let mut claims = with(extra);
            if *missing == "scp+roles" {
                claims.remove("scp");
                claims.remove("roles");
            } else {
                claims.remove(*missing);
            }
            claims
        }
        BadClaims::WrongIssuer { extra, iss } => {
            // Skip the one case that would make the issuer right.
            if *iss == fx.issuer.issuer_v2() {
                return None;
            }
            let mut claims = with(extra);
            claims.insert("iss".into(), iss.clone().into());
            claims
        }
        BadClaims::WrongAudience { extra, aud } => {
            if *aud == fx.issuer.client_id() {
                return None;
            }
            let mut claims = with(extra);
            claims.insert("aud".into(), aud.clone().into());
            claims
        }
        BadClaims::Duplicate { name, value } => {
            let text = Value::Object(fx.claims.clone()).to_string();
            let again = value.clone().unwrap_or_else(|| fx.claims[*name].clone());
            let body = text.strip_suffix('}').unwrap();
            let text = format!("{body},{}:{again}}}", Value::from(*name));
            return Some(text.into_bytes());
        }
        BadClaims::Bytes(bytes) => return Some(bytes.clone()),
    };
    Some(Value::Object(claims).to_string().into_bytes())
}

/// A header: random JSON, or the real one with random members added.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let good = fixture().header.clone();
    prop_oneof![
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => json_object().prop_map(move |extra| {
            let mut header = good.clone();
            header.extend(extra);
            Value::Object(header).to_string().into_bytes()
        }),
        // The real header: the claims alone must make the token fail.
        2 => Just(Value::Object(fixture().header.clone()).to_string().into_bytes()),
    ]
}

#[test]
fn signed_random_json_never_validates_unless_complete() {
    let rt = runtime();
    let fx = fixture();
    let builder = fx.issuer.delegated(["Heroes.Read"]);
    // The control: the real header and claims, through sign_raw, validate.
    let control = builder.sign_raw(
        Value::Object(fx.header.clone()).to_string().as_bytes(),
        Value::Object(fx.claims.clone()).to_string().as_bytes(),
    );
    rt.block_on(fx.validator.validate(&control))
        .expect("sign_raw of the real header and claims validates");
    check(256, (header_bytes(), bad_claims()), |(header, bad)| {
        let Some(claims) = claims_bytes(&bad) else {
            return Err(TestCaseError::reject("a valid value by chance"));
        };
        let token = builder.sign_raw(&header, &claims);
        assert_rejected(&rt, &token)
    });
}

// ---------------------------------------------------------------------------
// 4. Authorization header values through the tower layer
// ---------------------------------------------------------------------------

async fn ok(_req: Request<()>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(b"reached"))))
}

/// Calls the protected service with these `Authorization` header values.
fn call(rt: &tokio::runtime::Runtime, values: &[HeaderValue]) -> StatusCode {
    let service = fixture().validator.layer().layer(tower::service_fn(ok));
    let mut request = Request::builder().uri("/heroes");
    for value in values {
        request = request.header(AUTHORIZATION, value.clone());
    }
    let request = request.body(()).unwrap();
    rt.block_on(service.oneshot(request)).unwrap().status()
}

fn assert_refused(status: StatusCode, what: &dyn std::fmt::Debug) -> Result<(), TestCaseError> {
    prop_assert_ne!(
        status,
        StatusCode::OK,
        "reached the service with {:?}",
        what
    );
    prop_assert!(
        !status.is_server_error() && !status.is_success(),
        "{} for {:?}",
        status,
        what
    );
    Ok(())
}

/// `Bearer` in any case, followed by one to three spaces.
fn bearer_prefix() -> impl Strategy<Value = String> {
    ("[bB][eE][aA][rR][eE][rR]", " {1,3}").prop_map(|(scheme, spaces)| scheme + &spaces)
}

/// Bytes a header value may hold: visible ASCII, space, tab, obs-text.
fn header_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        20 => 0x20u8..=0x7e,
        4 => 0x80u8..=0xff,
        1 => Just(b'\t'),
    ]
}

#[derive(Debug, Clone)]
enum HeaderInput {
    /// Any bytes.
    Bytes(Vec<u8>),
    /// `Bearer` and a random string in (and around) the b64token grammar.
    Bearer(String, String),
    /// `Bearer` and a mutated valid token.
    Mutated(String, String),
    /// Another scheme (or none) with the valid token.
    OtherScheme(String, String),
    /// The valid header, and another `Authorization` header besides.
    Twice(Vec<u8>, bool),
    /// `Bearer` and the valid token grown past the size limit.
    TooLarge(String, usize),
}

fn header_input() -> impl Strategy<Value = HeaderInput> {
    let token = fixture().token.clone();
    let token2 = token.clone();
    prop_oneof![
        prop::collection::vec(header_byte(), 0..600).prop_map(HeaderInput::Bytes),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(HeaderInput::Bytes),
        (
            bearer_prefix(),
            prop_oneof!["[A-Za-z0-9._~+/-]{0,3000}=*", "[A-Za-z0-9._~+/= -]{0,300}"]
        )
            .prop_map(|(p, t)| HeaderInput::Bearer(p, t)),
        (bearer_prefix(), mutated_token()).prop_map(|(p, t)| HeaderInput::Mutated(p, t)),
        ("[A-Za-z0-9!#$%&'*+.^_`|~-]{0,10}", " {0,3}").prop_map(move |(scheme, spaces)| {
            HeaderInput::OtherScheme(scheme + &spaces, token.clone())
        }),
        (prop::collection::vec(header_byte(), 0..200), any::<bool>())
            .prop_map(|(b, first)| HeaderInput::Twice(b, first)),
        (bearer_prefix(), 15_000usize..20_000).prop_map(|(p, n)| HeaderInput::TooLarge(p, n)),
    ]
    .prop_filter(
        "the valid token in another scheme must not say Bearer",
        move |input| match input {
            HeaderInput::OtherScheme(scheme, _) => {
                !scheme.trim_end().eq_ignore_ascii_case("bearer")
            }
            HeaderInput::Mutated(_, t) => t.trim_start_matches(' ') != token2,
            _ => true,
        },
    )
}

#[test]
fn random_authorization_headers_never_reach_the_service() {
    let rt = runtime();
    let fx = fixture();
    let valid = HeaderValue::from_str(&format!("Bearer {}", fx.token)).unwrap();
    // The control: the valid header, in any case and spacing, gets through.
    assert_eq!(call(&rt, std::slice::from_ref(&valid)), StatusCode::OK);
    let odd = HeaderValue::from_str(&format!("bEaReR   {}", fx.token)).unwrap();
    assert_eq!(call(&rt, &[odd]), StatusCode::OK);

    check(512, header_input(), |input| {
        let values = match &input {
            HeaderInput::Bytes(b) => vec![HeaderValue::from_bytes(b)],
            HeaderInput::Bearer(p, t)
            | HeaderInput::Mutated(p, t)
            | HeaderInput::OtherScheme(p, t) => {
                vec![HeaderValue::from_str(&format!("{p}{t}"))]
            }
            HeaderInput::TooLarge(p, n) => {
                vec![HeaderValue::from_str(&format!(
                    "{p}{}{}",
                    fx.token,
                    "A".repeat(*n)
                ))]
            }
            HeaderInput::Twice(b, first) => {
                let other = HeaderValue::from_bytes(b);
                if *first {
                    vec![other, Ok(valid.clone())]
                } else {
                    vec![Ok(valid.clone()), other]
                }
            }
        };
        let Ok(values) = values.into_iter().collect::<Result<Vec<_>, _>>() else {
            return Err(TestCaseError::reject("not a header value"));
        };
        assert_refused(call(&rt, &values), &input)
    });
}

/// Whether a header the validator accepted is one it should have accepted.
fn acceptable_header(header: &Value) -> Result<(), String> {
    let fx = fixture();
    let header = header.as_object().ok_or("not an object")?;
    if header.get("alg") != Some(&Value::from("RS256")) {
        return Err("alg is not RS256".into());
    }
    for forbidden in [
        "jwk", "jku", "x5u", "x5c", "enc", "zip", "b64", "cty", "crit",
    ] {
        if header.contains_key(forbidden) {
            return Err(format!("{forbidden} is present"));
        }
    }
    if let Some(typ) = header.get("typ") {
        let typ = typ
            .as_str()
            .ok_or("typ is not a string")?
            .to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if typ != "jwt" && typ != "at+jwt" {
            return Err(format!("typ {typ:?}"));
        }
    }
    let kid = fx.issuer.key().kid();
    match (header.get("kid"), header.get("x5t")) {
        (Some(k), _) | (None, Some(k)) if k != kid => Err(format!("key {k}")),
        _ => Ok(()),
    }
}

/// Whether claims the validator accepted are an access token for the issuer.
fn acceptable_claims(claims: &Value) -> Result<(), String> {
    let fx = fixture();
    let claims = claims.as_object().ok_or("not an object")?;
    let is = |name: &str, want: &str| -> Result<(), String> {
        if claims.get(name) == Some(&Value::from(want)) {
            Ok(())
        } else {
            Err(format!("{name} is {:?}", claims.get(name)))
        }
    };
    let string = |name: &str| -> Result<&str, String> {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{name} is {:?}", claims.get(name)))
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let exp = claims.get("exp").and_then(Value::as_f64).ok_or("exp")?;
    if exp + 600.0 < now {
        return Err(format!("expired at {exp}"));
    }
    for name in ["nbf", "iat"] {
        if let Some(t) = claims.get(name) {
            let t = t.as_f64().ok_or(format!("{name} is {t}"))?;
            if t > now + 600.0 {
                return Err(format!("{name} is in the future: {t}"));
            }
        }
    }
    is("iss", &fx.issuer.issuer_v2())?;
    is("tid", fx.issuer.tenant_id())?;
    is("ver", "2.0")?;
    string("oid")?;
    string("azp")?;
    if string("sub")?.is_empty() {
        return Err("sub is empty".into());
    }
    let aud = Value::from(fx.issuer.client_id());
    match claims.get("aud") {
        Some(Value::Array(auds)) if auds.contains(&aud) && auds.iter().all(Value::is_string) => {}
        Some(a) if *a == aud => {}
        other => return Err(format!("aud is {other:?}")),
    }
    if !claims.contains_key("scp") && !claims.contains_key("roles") {
        return Err("neither scp nor roles".into());
    }
    for id_token in ["nonce", "at_hash", "c_hash"] {
        if claims.contains_key(id_token) {
            return Err(format!("{id_token} is present"));
        }
    }
    Ok(())
}

/// The real header and claims with random members added (or overwritten),
/// really signed: never a panic or a 5xx, and a token is only ever accepted
/// when its header and claims meet every rule.
#[test]
fn signed_tokens_with_random_members_are_accepted_only_when_complete() {
    let rt = runtime();
    let fx = fixture();
    let builder = fx.issuer.delegated(["Heroes.Read"]);
    let strategy = (
        prop::collection::btree_map(member_name(), json_value(), 0..3),
        prop::collection::btree_map(member_name(), json_value(), 0..4),
    );
    let accepted = std::cell::Cell::new(0u32);
    check(512, strategy, |(extra_header, extra_claims)| {
        let mut header = fx.header.clone();
        header.extend(extra_header);
        let mut claims = fx.claims.clone();
        claims.extend(extra_claims);
        let (header, claims) = (Value::Object(header), Value::Object(claims));
        let token = builder.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes());
        match rt.block_on(fx.validator.validate(&token)) {
            Ok(principal) => {
                accepted.set(accepted.get() + 1);
                if let Err(why) = acceptable_header(&header) {
                    return Err(TestCaseError::fail(format!(
                        "accepted, but {why}: {header}"
                    )));
                }
                if let Err(why) = acceptable_claims(&claims) {
                    return Err(TestCaseError::fail(format!(
                        "accepted, but {why}: {claims}"
                    )));
                }
                prop_assert_eq!(principal.tenant_id(), Some(fx.issuer.tenant_id()));
                prop_assert_eq!(Some(principal.subject()), claims["sub"].as_str());
                Ok(())
            }
            Err(e) => {
                prop_assert_eq!(e.status(), StatusCode::UNAUTHORIZED, "{} for {}", e, claims);
                Ok(())
            }
        }
    });
    // Not vacuous: many of these tokens are still complete.
    assert!(accepted.get() > 0, "no token was accepted");
}
