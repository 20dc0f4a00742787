//! `entra inspect TOKEN`: what jwt.io shows, done honestly and offline.
//!
//! Without an API to check against, the token is only decoded (with the same
//! strict reader the validators use): its header and claims, with times in
//! UTC and relative to now. Given the API's client id (and the authority and
//! tenant, which default to the local emulator's), `entra-auth`'s
//! [`Validator::explain`](entra_auth::Validator::explain) runs each of the
//! validator's own rules on its own (structure, key, signature, lifetime,
//! issuer, tenant, key issuer, subject, audience, kind) and gives the verdict
//! an API would give: the table is the validator's, never a copy of its rules.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use entra_auth::Require;
use entra_core::jws;
use entra_core::time::{Utc, relative};
use serde_json::{Map, Value};

use crate::Failure;
use crate::authority::check_authority;

/// Options of `entra inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The token (a compact JWS), or `-` to read it from standard input.
    token: String,

    /// The API's application (client) id: given, the token is validated
    /// for this API (its `aud` may be the id or `api://{id}`).
    #[arg(long, env = "AZURE_CLIENT_ID")]
    client_id: Option<String>,

    /// Another accepted audience (a custom App ID URI; with
    /// --oidc-discovery-url, the provider's resource or API identifier).
    #[arg(long, env = "API_AUDIENCE")]
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

    /// A scope (delegated) or app permission the token must carry; may be
    /// repeated (comma-separated in the variable).
    #[arg(long = "require", env = "ENTRA_INSPECT_REQUIRE", value_delimiter = ',')]
    required: Vec<String>,

    /// A PEM file of extra certificate authorities to trust (the emulator's
    /// `{data-dir}/emulator/tls/ca.pem` for its HTTPS listener).
    #[arg(long, env = "ENTRA_CA_FILE")]
    ca_file: Option<PathBuf>,

    #[command(flatten)]
    oidc: crate::oidc::OidcArgs,
}

/// Decodes, and validates when a client id is given. Exit code 1 when the
/// token is undecodable or invalid.
pub(crate) async fn run(args: Args) -> Result<(), Failure> {
    let token = read_token(&args.token)?;
    let (header, claims) = decode(&token)
        .map_err(|why| Failure::Failed(format!("the token cannot be decoded: {why}")))?;
    let now = unix_now();
    println!("Header");
    print_members(&header, now);
    println!("\nClaims");
    print_members(&claims, now);

    let oidc = args.oidc.resolve()?;
    // The expected audience: the client id, else (any provider) --audience alone.
    let client_id = match (&args.client_id, &args.audience, &oidc.discovery_url) {
        (Some(client_id), _, _) => client_id.clone(),
        (None, Some(audience), Some(_)) => audience.clone(),
        _ => {
            println!(
                "\n(decoded only: pass --client-id, or --audience with --oidc-discovery-url, to validate it for an API)"
            );
            return Ok(());
        }
    };
    let http = http_client(args.ca_file.as_deref())?;
    let mut builder = entra_auth::AuthConfig::builder()
        .client_id(&client_id)
        .scope_claim(oidc.scope_claim)
        .token_cache(false);
    match &oidc.discovery_url {
        Some(url) => {
            println!("\nChecks against {url} for API {client_id}");
            builder = builder.oidc_discovery(url, oidc.issuer.clone());
        }
        None => {
            let insecure = check_authority(&args.authority_host)?;
            let authority = format!(
                "{}/{}",
                args.authority_host.trim_end_matches('/'),
                args.tenant
            );
            println!("\nChecks against {authority} for API {client_id}");
            builder = builder
                .authority_host(&args.authority_host)
                .tenant(&args.tenant)
                .allow_insecure_http(insecure);
        }
    }
    if let Some(audience) = args.audience.as_ref().filter(|a| **a != client_id) {
        builder = builder.audience(audience);
    }
    let config = builder
        .build()
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    let validator = entra_auth::Validator::with_http_client(config, http)
        .map_err(|e| Failure::Misconfigured(e.to_string()))?;
    let explanation = validator.explain(&token).await;
    for check in &explanation.checks {
        // A TLS refusal is explained in words, with what to do.
        let detail = match crate::preflight::untrusted_certificate(&check.detail) {
            Some(why) => format!(
                "the certificate of {} is not trusted ({why}): pass --ca-file (ENTRA_CA_FILE) with its CA, the emulator's {{data-dir}}/emulator/tls/ca.pem",
                url::Url::parse(&args.authority_host)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_else(|| args.authority_host.clone())
            ),
            None => check.detail.clone(),
        };
        print_check(check.result.is_ok(), check.rule.name(), &detail);
    }
    // What the caller asked to require, judged by entra-auth's Require.
    let required = args
        .required
        .iter()
        .map(|name| (name, Require::scope_or_app_permission(name.as_str())));
    let kind_detail = explanation
        .checks
        .iter()
        .find(|c| c.rule == entra_core::rules::Rule::Kind)
        .map_or("", |c| c.detail.as_str());
    let missing: Vec<&str> = match &explanation.verdict {
        Ok(principal) => required
            .filter(|(_, r)| !r.is_met(principal))
            .map(|(name, _)| name.as_str())
            .collect(),
        Err(_) => Vec::new(),
    };
    if !args.required.is_empty() || explanation.verdict.is_ok() {
        let mut detail = kind_detail.to_owned();
        if !missing.is_empty() {
            detail.push_str(&format!("; missing: {}", missing.join(", ")));
        }
        print_check(missing.is_empty(), "scopes", &detail);
    }

    let verdict = match &explanation.verdict {
        Ok(principal) if missing.is_empty() => Ok(format!(
            "valid: {} token of {} from client {}",
            if principal.is_app_only() {
                "an app-only"
            } else {
                "a delegated"
            },
            principal.key(),
            principal.client_id().unwrap_or("?")
        )),
        Ok(_) => Err(format!(
            "valid, but lacks what was required: {}",
            missing.join(", ")
        )),
        Err(e) => Err(format!(
            "rejected ({} {}): {e}",
            e.status().as_u16(),
            e.status().canonical_reason().unwrap_or("")
        )),
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

fn print_check(ok: bool, name: &str, detail: &str) {
    println!("  {} {name:<10} {detail}", if ok { "ok  " } else { "FAIL" });
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

type Members = Map<String, Value>;

/// The header and claims of a compact JWS, read by the token core's strict
/// reader without trusting anything in them.
fn decode(token: &str) -> Result<(Members, Members), String> {
    let dots = token.bytes().filter(|&b| b == b'.').count();
    match dots {
        2 => {}
        4 => return Err("it is an encrypted token (JWE), which only its audience can read".into()),
        n => {
            return Err(format!(
                "a JWS has 3 dot-separated parts, this has {}",
                n + 1
            ));
        }
    }
    let segments =
        jws::split(token).map_err(|e| format!("{e} (a segment is not strict base64url)"))?;
    let header = segments
        .header()
        .map_err(|_| "the header is not one strict JSON object".to_owned())?;
    let claims = segments
        .claims()
        .map_err(|_| "the payload is not one strict JSON object".to_owned())?;
    Ok((header, claims))
}

fn print_members(map: &Members, now: i64) {
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
                    "  {name:<width$}  {shown}  ({} UTC, {})",
                    Utc::from_unix(t),
                    relative(t - now)
                );
            }
            _ => println!("  {name:<width$}  {shown}"),
        }
    }
}

fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, Failure> {
    let builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10));
    trust_ca_file(builder, ca_file)?
        .build()
        .map_err(|e| Failure::Failed(format!("cannot build the HTTP client: {e}")))
}

/// Adds the certificate authority of `ca_file` (`--ca-file`, PEM), if any,
/// to the roots `builder` trusts.
pub(crate) fn trust_ca_file(
    mut builder: reqwest::ClientBuilder,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::ClientBuilder, Failure> {
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            Failure::Misconfigured(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        let certificate = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            Failure::Misconfigured(format!("{} is not a PEM certificate: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(certificate);
    }
    Ok(builder)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
        assert!(decode("a.b.c.d.e").unwrap_err().contains("encrypted"));
        assert!(decode("abc").unwrap_err().contains("3 dot-separated"));
        assert!(decode("e30.e30.!!").unwrap_err().contains("base64url"));
        assert!(decode("e30.e30.").is_ok());
        // The strict reader: a member twice is refused, not shown as the last.
        let twice = jws::encode_segment(br#"{"a":1,"a":2}"#);
        assert!(
            decode(&format!("e30.{twice}."))
                .unwrap_err()
                .contains("payload")
        );
    }
}
