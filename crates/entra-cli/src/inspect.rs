//! `entra inspect TOKEN`: what jwt.io shows, done honestly and offline.
//!
//! Without an API to check against, the token is only decoded: its header and
//! claims, with times in UTC and relative to now. Given the API's client id
//! (and the authority and tenant, which default to the local emulator's), each
//! check is run on its own and reported (signature against the tenant's
//! published keys, issuer, audience, lifetime, tenant, scopes and roles), and
//! then `entra-auth` gives the verdict an API would give, so the table explains
//! the verdict and never replaces it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::Failure;
use crate::authority::check_authority;

/// Tolerance for `exp`, `nbf` and `iat`, as `entra-auth` and Microsoft's libraries.
const SKEW: i64 = 300;

/// Options of `entra inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The token (a compact JWS), or `-` to read it from standard input.
    token: String,

    /// The API's application (client) id: given, the token is validated
    /// for this API (its `aud` may be the id or `api://{id}`).
    #[arg(long, env = "AZURE_CLIENT_ID")]
    client_id: Option<String>,

    /// Another accepted audience (a custom App ID URI).
    #[arg(long)]
    audience: Option<String>,

    /// The authority host whose keys sign the token.
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        default_value = "http://localhost:9000"
    )]
    authority_host: String,

    /// The tenant (GUID or domain) the API trusts.
    #[arg(
        long,
        env = "AZURE_TENANT_ID",
        default_value = "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"
    )]
    tenant: String,

    /// A scope (delegated) or app permission the token must carry; may be repeated.
    #[arg(long = "require")]
    required: Vec<String>,

    /// A PEM file of extra certificate authorities to trust (the emulator's
    /// `{data-dir}/emulator/ca.pem` for its HTTPS listener).
    #[arg(long, env = "ENTRA_CA_FILE")]
    ca_file: Option<PathBuf>,
}

/// Decodes, and validates when a client id is given. Exit code 1 when the
/// token is undecodable or invalid.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let token = read_token(&args.token)?;
    let decoded = Decoded::parse(&token)
        .map_err(|why| Failure::Failed(format!("the token cannot be decoded: {why}")))?;
    let now = unix_now();
    println!("Header");
    print_members(&decoded.header, now);
    println!("\nClaims");
    print_members(&decoded.claims, now);

    let Some(client_id) = args.client_id.clone() else {
        println!("\n(decoded only: pass --client-id to validate it for an API)");
        return Ok(());
    };
    let http = http_client(args.ca_file.as_deref())?;
    let insecure = check_authority(&args.authority_host)?;
    let authority = format!(
        "{}/{}",
        args.authority_host.trim_end_matches('/'),
        args.tenant
    );
    println!("\nChecks against {authority} for API {client_id}");
    let mut audiences = vec![client_id.clone(), format!("api://{client_id}")];
    audiences.extend(args.audience.clone());
    let checks = run_checks(&http, &authority, &decoded, &audiences, &args.required, now).await;
    for check in &checks {
        println!(
            "  {} {:<10} {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.name,
            check.detail
        );
    }

    let mut builder = entra_auth::AuthConfig::builder()
        .authority_host(&args.authority_host)
        .tenant(&args.tenant)
        .client_id(&client_id)
        .allow_insecure_http(insecure)
        .token_cache(false);
    if let Some(audience) = &args.audience {
        builder = builder.audience(audience);
    }
    let config = builder
        .build()
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    let validator = entra_auth::Validator::with_http_client(config, http)
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    let verdict = match validator.validate(&token).await {
        Ok(principal) => {
            let missing: Vec<&String> = args
                .required
                .iter()
                .filter(|r| !principal.has_scope(r) && !principal.has_app_permission(r))
                .collect();
            if missing.is_empty() {
                Ok(format!(
                    "valid: {} token of {} from client {}",
                    if principal.is_app_only() {
                        "an app-only"
                    } else {
                        "a delegated"
                    },
                    principal.key(),
                    principal.client_id().unwrap_or("?")
                ))
            } else {
                Err(format!(
                    "valid, but lacks what was required: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Err(e) => Err(format!("rejected ({} {}): {e}", e.status().as_u16(), {
            e.status().canonical_reason().unwrap_or("")
        })),
    };
    match verdict {
        Ok(line) => {
            println!("\nentra-auth: {line}");
            Ok(())
        }
        Err(line) => {
            println!("\nentra-auth: {line}");
            Err(Failure::Failed(
                "the token is not valid for this API".into(),
            ))
        }
    }
}

fn read_token(arg: &str) -> Result<String, Failure> {
    let raw = if arg == "-" {
        let mut buf = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Failure::Failed(format!("cannot read the token from stdin: {e}")))?;
        buf
    } else {
        arg.to_owned()
    };
    let token = raw.trim();
    // Accept what people paste: "Bearer eyJ..." or an Authorization header.
    let token = token
        .strip_prefix("Authorization:")
        .map(str::trim)
        .unwrap_or(token);
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    if token.is_empty() {
        return Err(Failure::Misconfigured("no token given".into()));
    }
    Ok(token.to_owned())
}

/// A compact JWS, decoded without trusting anything in it.
#[derive(Debug)]
struct Decoded {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Decoded {
    fn parse(token: &str) -> Result<Self, String> {
        let parts: Vec<&str> = token.split('.').collect();
        match parts.len() {
            3 => {}
            5 => {
                return Err(
                    "it is an encrypted token (JWE), which only its audience can read".into(),
                );
            }
            n => return Err(format!("a JWS has 3 dot-separated parts, this has {n}")),
        }
        let object = |part: &str, what: &str| -> Result<Map<String, Value>, String> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|e| format!("the {what} is not base64url: {e}"))?;
            match serde_json::from_slice(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err(format!("the {what} is not a JSON object")),
                Err(e) => Err(format!("the {what} is not JSON: {e}")),
            }
        };
        Ok(Decoded {
            header: object(parts[0], "header")?,
            claims: object(parts[1], "payload")?,
            signing_input: format!("{}.{}", parts[0], parts[1]),
            signature: URL_SAFE_NO_PAD
                .decode(parts[2])
                .map_err(|e| format!("the signature is not base64url: {e}"))?,
        })
    }

    fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

fn print_members(map: &Map<String, Value>, now: i64) {
    let width = map.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in map {
        let shown = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match (name.as_str(), value.as_f64()) {
            ("exp" | "nbf" | "iat" | "auth_time" | "xms_tcdt", Some(t)) => {
                let t = t as i64;
                println!(
                    "  {name:<width$}  {shown}  ({}, {})",
                    utc(t),
                    relative(t - now)
                );
            }
            _ => println!("  {name:<width$}  {shown}"),
        }
    }
}

/// One check's outcome.
#[derive(Debug)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

fn check(name: &'static str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok,
        detail: detail.into(),
    }
}

async fn run_checks(
    http: &reqwest::Client,
    authority: &str,
    token: &Decoded,
    audiences: &[String],
    required: &[String],
    now: i64,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let v1 = token.claim_str("ver") == Some("1.0");
    let metadata_url = if v1 {
        format!("{authority}/.well-known/openid-configuration")
    } else {
        format!("{authority}/v2.0/.well-known/openid-configuration")
    };
    let metadata = fetch_json(http, &metadata_url).await;

    // Signature: RS256 with the key the header names, from the tenant's key set.
    let alg = token
        .header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kid = token.header.get("kid").and_then(Value::as_str);
    let signature = match (&metadata, alg) {
        (Err(e), _) => check("signature", false, format!("no metadata: {e}")),
        (_, alg) if alg != "RS256" => check(
            "signature",
            false,
            format!("alg {alg:?}: Entra ID signs with RS256 only"),
        ),
        (Ok(metadata), _) => match metadata.get("jwks_uri").and_then(Value::as_str) {
            None => check("signature", false, "the metadata has no jwks_uri"),
            Some(jwks_uri) => match fetch_json(http, jwks_uri).await {
                Err(e) => check("signature", false, format!("no key set: {e}")),
                Ok(jwks) => verify_with(&jwks, kid, token, jwks_uri),
            },
        },
    };
    checks.push(signature);

    // Issuer: the metadata's, with {tenantid} filled from the token's tid.
    let iss = token.claim_str("iss").unwrap_or("");
    let tid = token.claim_str("tid").unwrap_or("");
    checks.push(match &metadata {
        Err(e) => check("issuer", false, format!("no metadata: {e}")),
        Ok(metadata) => {
            let expected = metadata
                .get("issuer")
                .and_then(Value::as_str)
                .unwrap_or("")
                .replace("{tenantid}", tid);
            if iss == expected {
                check("issuer", true, iss.to_owned())
            } else {
                check("issuer", false, format!("{iss:?}, expected {expected:?}"))
            }
        }
    });

    // Audience: one of the API's identifiers.
    let auds: Vec<&str> = match token.claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let aud_ok = auds.iter().any(|a| audiences.iter().any(|b| b == a));
    checks.push(check(
        "audience",
        aud_ok,
        if aud_ok {
            auds.join(", ")
        } else {
            format!("{:?}, expected one of {}", auds, audiences.join(", "))
        },
    ));

    // Lifetime, with the usual five minutes of skew.
    let time = |name: &str| {
        token
            .claims
            .get(name)
            .and_then(Value::as_f64)
            .map(|t| t as i64)
    };
    checks.push(match (time("exp"), time("nbf"), time("iat")) {
        (None, _, _) => check("lifetime", false, "no exp claim"),
        (Some(exp), _, _) if now > exp + SKEW => check(
            "lifetime",
            false,
            format!("expired {} (exp {})", relative(exp - now), utc(exp)),
        ),
        (_, Some(nbf), _) if nbf > now + SKEW => check(
            "lifetime",
            false,
            format!("not valid until {} ({})", utc(nbf), relative(nbf - now)),
        ),
        (_, _, Some(iat)) if iat > now + SKEW => check(
            "lifetime",
            false,
            format!("issued in the future ({})", utc(iat)),
        ),
        (Some(exp), _, _) => check(
            "lifetime",
            true,
            format!("valid until {} ({})", utc(exp), relative(exp - now)),
        ),
    });

    // Tenant: the token's tid names the tenant whose issuer signed it.
    checks.push(if tid.is_empty() {
        check("tenant", false, "no tid claim")
    } else if iss.contains(tid) {
        check("tenant", true, tid.to_owned())
    } else {
        check(
            "tenant",
            false,
            format!("tid {tid} is not the issuer's tenant"),
        )
    });

    // Scopes (delegated) and roles (app permissions or user roles).
    let scp = token.claim_str("scp").unwrap_or("");
    let roles: Vec<&str> = token
        .claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let missing: Vec<&str> = required
        .iter()
        .map(String::as_str)
        .filter(|r| !scp.split(' ').any(|s| s == *r) && !roles.contains(r))
        .collect();
    let kind = if scp.is_empty() {
        "app-only"
    } else {
        "delegated"
    };
    let mut detail = format!(
        "{kind}; scp: {}; roles: {}",
        if scp.is_empty() { "-" } else { scp },
        if roles.is_empty() {
            "-".to_owned()
        } else {
            roles.join(" ")
        }
    );
    if !missing.is_empty() {
        detail.push_str(&format!("; missing: {}", missing.join(", ")));
    }
    checks.push(check("scopes", missing.is_empty(), detail));
    checks
}

fn verify_with(jwks: &Value, kid: Option<&str>, token: &Decoded, jwks_uri: &str) -> Check {
    let keys = jwks.get("keys").and_then(Value::as_array);
    let key = keys.and_then(|keys| {
        keys.iter()
            .find(|k| kid.is_some() && k.get("kid").and_then(Value::as_str) == kid)
    });
    let Some(key) = key else {
        return check(
            "signature",
            false,
            format!("no key {kid:?} in {jwks_uri} (rotated away, or another tenant's)"),
        );
    };
    let component = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    let (Some(n), Some(e)) = (component("n"), component("e")) else {
        return check("signature", false, "the key has no RSA modulus or exponent");
    };
    let public = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e };
    match public.verify(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        token.signing_input.as_bytes(),
        &token.signature,
    ) {
        Ok(()) => check(
            "signature",
            true,
            format!("RS256, key {} from {jwks_uri}", kid.unwrap_or("?")),
        ),
        Err(_) => check(
            "signature",
            false,
            format!("does not verify with key {}", kid.unwrap_or("?")),
        ),
    }
}

async fn fetch_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url} is unreachable ({})", e.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered {}", response.status()));
    }
    response
        .json()
        .await
        .map_err(|e| format!("{url} is not JSON ({})", e.without_url()))
}

fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, Failure> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Misconfigured(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            Failure::Misconfigured(format!("{} is not a PEM certificate: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    builder
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-24 10:00:00 UTC`.
pub(crate) fn utc(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `in 59 min`, `3 h ago`.
pub(crate) fn relative(delta: i64) -> String {
    let magnitude = delta.unsigned_abs();
    if magnitude < 2 {
        return "now".to_owned();
    }
    let amount = match magnitude {
        0..=59 => format!("{magnitude} s"),
        60..=5_999 => format!("{} min", magnitude / 60),
        6_000..=172_799 => format!("{} h", magnitude / 3600),
        _ => format!("{} days", magnitude / 86_400),
    };
    if delta >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(relative(-30), "30 s ago");
        assert_eq!(relative(3_600), "in 60 min");
        assert_eq!(relative(-7_200), "2 h ago");
    }

    #[test]
    fn pasted_headers_are_accepted() {
        assert_eq!(
            read_token("Bearer abc.def.ghi").ok().as_deref(),
            Some("abc.def.ghi")
        );
        assert_eq!(
            read_token(" Authorization: Bearer abc.def.ghi\n")
                .ok()
                .as_deref(),
            Some("abc.def.ghi")
        );
        assert!(read_token("  ").is_err());
    }

    #[test]
    fn encrypted_and_garbage_tokens_are_explained() {
        assert!(
            Decoded::parse("a.b.c.d.e")
                .unwrap_err()
                .contains("encrypted")
        );
        assert!(
            Decoded::parse("abc")
                .unwrap_err()
                .contains("3 dot-separated")
        );
        assert!(
            Decoded::parse("e30.e30.!!")
                .unwrap_err()
                .contains("signature")
        );
        assert!(Decoded::parse("e30.e30.").is_ok());
    }
}
