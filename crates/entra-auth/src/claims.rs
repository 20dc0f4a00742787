//! The claims of an access token that validation and [`Principal`] read,
//! taken from the payload in one borrowed pass ([`json::read_object`]).
//!
//! [`Principal`]: crate::Principal

use crate::error::InvalidToken;
use crate::json::{self, Json, Members};

/// The members the validator and the principal act on; every other claim is
/// validated as JSON and left in the payload (see `Principal::claims`).
#[derive(Debug, Default)]
pub(crate) struct AccessClaims<'a> {
    pub(crate) exp: Option<Json<'a>>,
    pub(crate) nbf: Option<Json<'a>>,
    pub(crate) iat: Option<Json<'a>>,
    pub(crate) iss: Option<Json<'a>>,
    pub(crate) ver: Option<Json<'a>>,
    pub(crate) tid: Option<Json<'a>>,
    pub(crate) oid: Option<Json<'a>>,
    pub(crate) sub: Option<Json<'a>>,
    pub(crate) azp: Option<Json<'a>>,
    pub(crate) appid: Option<Json<'a>>,
    pub(crate) aud: Option<Json<'a>>,
    pub(crate) nonce: Option<Json<'a>>,
    pub(crate) at_hash: Option<Json<'a>>,
    pub(crate) c_hash: Option<Json<'a>>,
    pub(crate) scp: Option<Json<'a>>,
    pub(crate) roles: Option<Json<'a>>,
    pub(crate) groups: Option<Json<'a>>,
    pub(crate) wids: Option<Json<'a>>,
    pub(crate) name: Option<Json<'a>>,
    pub(crate) preferred_username: Option<Json<'a>>,
    pub(crate) upn: Option<Json<'a>>,
    pub(crate) claim_names: Option<Json<'a>>,
    pub(crate) hasgroups: Option<Json<'a>>,
    pub(crate) idtyp: Option<Json<'a>>,
    pub(crate) acct: Option<Json<'a>>,
    pub(crate) idp: Option<Json<'a>>,
}

impl<'a> Members<'a> for AccessClaims<'a> {
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

impl<'a> AccessClaims<'a> {
    /// Reads the payload of a token whose signature holds.
    pub(crate) fn read(payload: &'a [u8]) -> Result<Self, InvalidToken> {
        json::read_object(payload)
    }
}

/// A string claim: absent is `None`; any other type fails closed.
pub(crate) fn string<'j>(claim: &'j Option<Json<'_>>) -> Result<Option<&'j str>, InvalidToken> {
    match claim {
        None => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(InvalidToken::Claims),
    }
}

/// A list of strings (`roles`, `groups`, `wids`): absent is empty; any other
/// type, or a non-string item, fails closed.
pub(crate) fn strings(claim: &Option<Json<'_>>) -> Result<Vec<String>, InvalidToken> {
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
pub(crate) fn numeric_date(claim: &Option<Json<'_>>) -> Result<Option<i64>, InvalidToken> {
    match claim {
        None => Ok(None),
        Some(value) => seconds(value.as_f64()).map(Some),
    }
}

/// The one rule for a NumericDate's value, shared with the ID-token reader.
pub(crate) fn seconds(number: Option<f64>) -> Result<i64, InvalidToken> {
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

    fn claims(json: &str) -> AccessClaims<'_> {
        AccessClaims::read(json.as_bytes()).unwrap()
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
