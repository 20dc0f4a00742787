//! What a request may send, and the answer when it is wrong: [`ValidJson`]
//! (the body), [`PageQuery`] (`?limit=&after=`) and [`ItemId`] (`/{id}`).
//!
//! | what is wrong | answer |
//! |---|---|
//! | `Content-Type` missing or not JSON | `415` |
//! | body larger than the limit | `413` |
//! | body is not JSON | `400` |
//! | a field missing, of the wrong type, unknown, or out of range | `422`, each field named |
//! | a text field blank, too long, or with a control character | `422`, the field named |
//! | a query parameter or path id that is not what the route takes | `400`, the parameter named |
//!
//! Every rejection is an RFC 9457 problem, never a `500`, and is decided
//! before the handler runs: a refused request changes nothing.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use http::header;
use http::request::Parts;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::Error;
use crate::config::DEFAULT_MAX_BODY_BYTES;
use crate::error::FieldError;

/// A request body that checks itself, turning raw input into a valid value.
///
/// Parse, don't validate: the handler receives [`Validate::Valid`], which
/// cannot hold an invalid hero.
pub trait Validate {
    /// The checked value.
    type Valid;

    /// Checks every field and reports all that are invalid at once.
    fn validate(self) -> Result<Self::Valid, Vec<FieldError>>;
}

/// A JSON object of type `T`, checked by [`Validate`]: the handler gets `T::Valid`.
///
/// Unlike `axum::Json`, every rejection is a problem-details answer naming
/// the field at fault, and unknown fields are refused (`422`) when `T` denies
/// them (`#[serde(deny_unknown_fields)]`): a misspelt `secretName` is an
/// error, not silently dropped. The body size limit is axum's
/// `DefaultBodyLimit`, set by the router.
#[derive(Debug)]
pub struct ValidJson<T: Validate>(pub T::Valid);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(Error::UnsupportedMediaType);
        }
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .map_or(DEFAULT_MAX_BODY_BYTES, |l| l.0);
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    http::StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge { limit },
                    _ => Error::BadRequest {
                        detail: "the request body could not be read".into(),
                        errors: Vec::new(),
                    },
                })?;
        // Syntax first (400), then shape (422): a field can only be named in
        // a document that parses.
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| Error::BadRequest {
                detail: format!("the body is not valid JSON: {e}"),
                errors: Vec::new(),
            })?;
        // serde would read a struct from an array, by position: refuse it.
        if !value.is_object() {
            return Err(Error::InvalidFields(vec![FieldError::new(
                "body",
                "must be a JSON object",
            )]));
        }
        let input: T = serde_path_to_error::deserialize(value).map_err(|e| {
            let field = match e.path().to_string() {
                root if root == "." => "body".to_owned(),
                path => path,
            };
            Error::InvalidFields(vec![FieldError::new(field, e.inner().to_string())])
        })?;
        input
            .validate()
            .map(ValidJson)
            .map_err(Error::InvalidFields)
    }
}

/// The body size limit the router enforces (with axum's `DefaultBodyLimit`),
/// as a request extension so that a `413` can name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// `application/json`, or `application/<anything>+json`, with any parameters.
fn is_json(headers: &http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", subtype)) => subtype == "json" || subtype.ends_with("+json"),
        _ => false,
    }
}

/// The largest page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The page size when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// Keyset pagination: items are ordered by id, and a page holds up to
/// `limit` items whose id is greater than `after`.
///
/// Unlike an offset, a cursor is stable: items created or deleted while a
/// client pages through never make it skip or repeat one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return, 1 to 100 (default 20).
    #[param(required = false, minimum = 1, maximum = 100, default = 20)]
    pub limit: u32,
    /// Return items whose id is greater than this one: the `next_after` of
    /// the previous page. Absent for the first page.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    pub after: Option<i64>,
}

impl Default for PageQuery {
    fn default() -> Self {
        PageQuery {
            limit: DEFAULT_PAGE_SIZE,
            after: None,
        }
    }
}

impl PageQuery {
    /// The cursor of the page after `items` (this page): its last id when
    /// the page is full, `None` when it is the last.
    pub fn next_after<T>(&self, items: &[T], id: impl Fn(&T) -> i64) -> Option<i64> {
        if items.len() < self.limit as usize {
            None
        } else {
            items.last().map(id)
        }
    }

    /// Parses `limit` and `after`; other parameters are ignored.
    pub fn parse(query: &str) -> Result<Self, Error> {
        let mut page = PageQuery::default();
        let mut errors = Vec::new();
        let mut seen = (false, false);
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*name {
                "limit" => {
                    if std::mem::replace(&mut seen.0, true) {
                        errors.push(FieldError::new("limit", "given more than once"));
                    }
                    match value.parse::<u32>() {
                        Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => page.limit = n,
                        _ => errors.push(FieldError::new(
                            "limit",
                            format!("must be an integer from 1 to {MAX_PAGE_SIZE}"),
                        )),
                    }
                }
                "after" => {
                    if std::mem::replace(&mut seen.1, true) {
                        errors.push(FieldError::new("after", "given more than once"));
                    }
                    match value.parse::<i64>() {
                        Ok(n) if n >= 0 => page.after = Some(n),
                        _ => errors.push(FieldError::new(
                            "after",
                            "must be a non-negative integer (an item id)",
                        )),
                    }
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(page)
        } else {
            Err(Error::BadRequest {
                detail: "invalid query parameters".into(),
                errors,
            })
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageQuery {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        PageQuery::parse(parts.uri.query().unwrap_or_default())
    }
}

/// The `{id}` of `/heroes/{id}` and `/todoitems/{id}`: a positive integer,
/// else `400` naming `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let invalid = || Error::BadRequest {
            detail: "the id in the path must be a positive integer".into(),
            errors: vec![FieldError::new("id", "must be a positive integer")],
        };
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| invalid())?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(ItemId(id)),
            _ => Err(invalid()),
        }
    }
}

/// What a text field (`name`, `secret_name`, `title`) accepts, as the
/// ECMA-262 regular expression the OpenAPI document gives as each one's
/// `pattern`: no control
/// character anywhere (Unicode category Cc: U+0000 to U+001F, U+007F to
/// U+009F), and at least one character that is not white space (Unicode
/// `White_Space`, what [`str::trim`] removes). Written with `\uXXXX` escapes
/// only, no `\s` or `\p{..}`, whose meaning differs between regular
/// expression engines: ECMA-262, Python's `re` and Rust's `regex` all read it
/// the same way. The length limit is the field's `maxLength`.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$";

/// A string field: required, at most `max` characters as sent (Unicode
/// scalar values, as JSON Schema's `maxLength` counts them), no control
/// characters anywhere, not blank; stored trimmed. Exactly what
/// [`TEXT_PATTERN`] and `maxLength = max` say. Pushes the error, if any, to
/// `errors`.
pub(crate) fn text_field(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<String>,
    max: usize,
) -> String {
    let Some(value) = value else {
        errors.push(FieldError::new(field, "is required"));
        return String::new();
    };
    let length = value.chars().count();
    let trimmed = value.trim();
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    } else if trimmed.is_empty() {
        errors.push(FieldError::new(field, "must not be blank"));
    } else if length > max {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max} characters (is {length})"),
        ));
    }
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(content_type: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        if let Ok(v) = content_type.parse() {
            h.insert(header::CONTENT_TYPE, v);
        }
        h
    }

    #[test]
    fn json_content_types() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(is_json(&headers("application/merge-patch+json")));
        assert!(!is_json(&headers("text/plain")));
        assert!(!is_json(&headers("application/x-www-form-urlencoded")));
        assert!(!is_json(&http::HeaderMap::new()));
    }

    #[test]
    fn page_queries() {
        assert_eq!(PageQuery::parse("").ok(), Some(PageQuery::default()));
        assert_eq!(
            PageQuery::parse("limit=5&after=10&x=y").ok(),
            Some(PageQuery {
                limit: 5,
                after: Some(10)
            })
        );
        for bad in [
            "limit=0",
            "limit=101",
            "limit=abc",
            "after=-1",
            "limit=1&limit=2",
        ] {
            assert!(PageQuery::parse(bad).is_err(), "{bad}");
        }
        let Err(Error::BadRequest { errors, .. }) = PageQuery::parse("limit=0&after=x") else {
            panic!("expected a bad request");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "after"]);
    }

    #[test]
    fn text_fields_are_trimmed_and_bounded() {
        let mut errors = Vec::new();
        assert_eq!(
            text_field(&mut errors, "name", Some("  Deadpond ".into()), 11),
            "Deadpond"
        );
        assert!(errors.is_empty());
        text_field(&mut errors, "a", None, 10);
        text_field(&mut errors, "b", Some("   ".into()), 10);
        text_field(&mut errors, "c", Some("ééééééééééé".into()), 10);
        text_field(&mut errors, "d", Some("x\u{0}y".into()), 10);
        // Control characters are refused even where trimming would drop them.
        text_field(&mut errors, "e", Some("\tx".into()), 10);
        text_field(&mut errors, "f", Some("x\n".into()), 10);
        // The limit counts the characters sent.
        text_field(&mut errors, "g", Some(" 123456789 ".into()), 10);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["a", "b", "c", "d", "e", "f", "g"]);
    }

    #[test]
    fn every_text_field_documents_the_text_pattern() {
        use utoipa::PartialSchema;
        for (schema, fields) in [
            (
                crate::heroes::NewHero::schema(),
                &["name", "secret_name"][..],
            ),
            (crate::todo_items::NewTodoItem::schema(), &["title"][..]),
        ] {
            let schema = serde_json::to_value(schema).unwrap_or_default();
            for field in fields {
                assert_eq!(
                    schema["properties"][field]["pattern"], TEXT_PATTERN,
                    "{field}: {schema}"
                );
            }
        }
    }

    #[test]
    fn the_text_pattern_is_what_text_fields_accept() {
        let pattern = regex::Regex::new(TEXT_PATTERN);
        let Ok(pattern) = pattern else {
            panic!("{TEXT_PATTERN}: {pattern:?}");
        };
        for sample in [
            "x", " x ", "\u{a0}x", "日本", "😀", "\u{feff}", "", " ", "\u{3000}", "\u{2028}",
            "a\tb", "\u{85}x", "x\u{9f}", "\nx", "x\n",
        ] {
            let mut errors = Vec::new();
            text_field(&mut errors, "f", Some(sample.into()), 100);
            assert_eq!(pattern.is_match(sample), errors.is_empty(), "{sample:?}");
        }
    }
}
