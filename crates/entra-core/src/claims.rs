//! The claims of a token that the rules and the callers act on, taken from
//! the payload in one borrowed pass ([`json::read_object`]), and the readers
//! that give each claim its one type: a string, a list of strings, a
//! NumericDate. A claim of another type fails closed.

use crate::json::{self, Json, Members};
use crate::reason::InvalidToken;

/// The members the rules and the callers act on; every other claim is
/// validated as JSON and left in the payload.
#[derive(Debug, Default)]
#[allow(missing_docs)] // each field is the claim of its name
pub struct Claims<'a> {
    pub exp: Option<Json<'a>>,
    pub nbf: Option<Json<'a>>,
    pub iat: Option<Json<'a>>,
    pub iss: Option<Json<'a>>,
    pub ver: Option<Json<'a>>,
    pub tid: Option<Json<'a>>,
    pub oid: Option<Json<'a>>,
    pub sub: Option<Json<'a>>,
    pub azp: Option<Json<'a>>,
    pub appid: Option<Json<'a>>,
    pub aud: Option<Json<'a>>,
    pub nonce: Option<Json<'a>>,
    pub at_hash: Option<Json<'a>>,
    pub c_hash: Option<Json<'a>>,
    pub scp: Option<Json<'a>>,
    /// `scope` (RFC 9068, RFC 8693): where providers other than Entra put
    /// the scopes; read in place of `scp` only when a validator is told to.
    pub scope: Option<Json<'a>>,
    pub roles: Option<Json<'a>>,
    pub groups: Option<Json<'a>>,
    pub wids: Option<Json<'a>>,
    pub name: Option<Json<'a>>,
    pub preferred_username: Option<Json<'a>>,
    pub upn: Option<Json<'a>>,
    pub claim_names: Option<Json<'a>>,
    pub hasgroups: Option<Json<'a>>,
    pub idtyp: Option<Json<'a>>,
    pub acct: Option<Json<'a>>,
    pub idp: Option<Json<'a>>,
}

impl<'a> Members<'a> for Claims<'a> {
    fn slot(&mut self, name: &str) -> Option<&mut Option<Json<'a>>> {
        Some(match name {
            "exp" => &mut self.exp,
            "nbf" => &mut self.nbf,
            "iat" => &mut self.iat,
            "iss" => &mut self.iss,
            "ver" => &mut self.ver,
            "tid" => &mut self.tid,
            "oid" => &mut self.oid,
            "sub" => &mut self.sub,
            "azp" => &mut self.azp,
            "appid" => &mut self.appid,
            "aud" => &mut self.aud,
            "nonce" => &mut self.nonce,
            "at_hash" => &mut self.at_hash,
            "c_hash" => &mut self.c_hash,
            "scp" => &mut self.scp,
            "scope" => &mut self.scope,
            "roles" => &mut self.roles,
            "groups" => &mut self.groups,
            "wids" => &mut self.wids,
            "name" => &mut self.name,
            "preferred_username" => &mut self.preferred_username,
            "upn" => &mut self.upn,
            "_claim_names" => &mut self.claim_names,
            "hasgroups" => &mut self.hasgroups,
            "idtyp" => &mut self.idtyp,
            "acct" => &mut self.acct,
            "idp" => &mut self.idp,
            _ => return None,
        })
    }
}

impl<'a> Claims<'a> {
    /// Reads the payload of a token whose signature holds.
    pub fn read(payload: &'a [u8]) -> Result<Self, InvalidToken> {
        json::read_object(payload)
    }
}

/// A string claim: absent is `None`; any other type fails closed.
pub fn string<'j>(claim: &'j Option<Json<'_>>) -> Result<Option<&'j str>, InvalidToken> {
    match claim {
        None => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(InvalidToken::Claims),
    }
}

/// A list of strings (`roles`, `groups`, `wids`): absent is empty; any other
/// type, or a non-string item, fails closed.
pub fn strings(claim: &Option<Json<'_>>) -> Result<Vec<String>, InvalidToken> {
    match claim {
        None => Ok(Vec::new()),
        Some(Json::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or(InvalidToken::Claims))
            .collect(),
        Some(_) => Err(InvalidToken::Claims),
    }
}

/// `exp` / `nbf` / `iat`: a JSON number of seconds (fractions allowed, as
/// MSAL sends them); strings, booleans, negatives and absurd values fail closed.
pub fn numeric_date(claim: &Option<Json<'_>>) -> Result<Option<i64>, InvalidToken> {
    match claim {
        None => Ok(None),
        Some(value) => seconds(value.as_f64()).map(Some),
    }
}

/// The one rule for a NumericDate's value: seconds from 0 to the end of year 9999.
pub fn seconds(number: Option<f64>) -> Result<i64, InvalidToken> {
    let secs = number.ok_or(InvalidToken::Claims)?;
    if !(0.0..=253_402_300_799.0).contains(&secs) {
        return Err(InvalidToken::Claims);
    }
    Ok(secs as i64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims<'_> {
        Claims::read(json.as_bytes()).unwrap()
    }

    #[test]
    fn numeric_dates_are_strict() {
        let date = |json: &str| numeric_date(&claims(json).exp);
        assert_eq!(date(r#"{"exp":1700000000}"#), Ok(Some(1_700_000_000)));
        assert_eq!(date(r#"{"exp":1700000000.9}"#), Ok(Some(1_700_000_000)));
        assert_eq!(date(r#"{}"#), Ok(None));
        for bad in [
            r#"{"exp":"1700000000"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":null}"#,
            r#"{"exp":-1}"#,
            r#"{"exp":1e300}"#,
            r#"{"exp":18446744073709551615}"#,
            r#"{"exp":[1]}"#,
        ] {
            assert_eq!(date(bad), Err(InvalidToken::Claims), "{bad}");
        }
    }

    #[test]
    fn strings_and_lists_fail_closed_on_other_types() {
        let c = claims(r#"{"sub":"s","oid":1,"roles":["a","b"],"groups":"g","wids":["w",2]}"#);
        assert_eq!(string(&c.sub), Ok(Some("s")));
        assert_eq!(string(&c.oid), Err(InvalidToken::Claims));
        assert_eq!(string(&c.tid), Ok(None));
        assert_eq!(strings(&c.roles), Ok(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(strings(&c.groups), Err(InvalidToken::Claims));
        assert_eq!(strings(&c.wids), Err(InvalidToken::Claims));
        assert_eq!(strings(&c.scp), Ok(Vec::new()));
    }
}
