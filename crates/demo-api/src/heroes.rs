//! `/heroes` (seeds 000 and 001): each route guarded by one line, a delegated
//! scope or the application permission of the same name, so a user through
//! the web app and a daemon with client credentials can both call it.
//!
//! | route | requires |
//! |---|---|
//! | `POST /heroes` | `Heroes.Write` |
//! | `GET /heroes`, `GET /heroes/{id}` | `Heroes.Read` |
//! | `DELETE /heroes/{id}` | `Heroes.Delete` |

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use entra_auth::{Principal, Require, Validator};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::caller::Caller;
use crate::error::{Error, FieldError, Problem};
use crate::input::{ItemId, PageQuery, ValidJson, Validate, text_field};
use crate::server::AppState;

/// Read heroes: the delegated scope, or the application permission.
pub const READ: &str = "Heroes.Read";
/// Create heroes.
pub const WRITE: &str = "Heroes.Write";
/// Delete heroes.
pub const DELETE: &str = "Heroes.Delete";

/// The longest name or secret name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The highest age.
pub const MAX_AGE: i32 = 10_000;

/// A hero, as stored and answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hero {
    /// Assigned by the database, increasing, never reused.
    #[schema(example = 1)]
    pub id: i64,
    /// The public name.
    #[schema(example = "Deadpond")]
    pub name: String,
    /// The civilian name.
    #[schema(example = "Dive Wilson")]
    pub secret_name: String,
    /// Age in years, if known.
    #[schema(example = 30)]
    pub age: Option<i32>,
    /// The user or application that created it.
    pub created_by: Caller,
    /// When it was created (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The body of `POST /heroes`. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHero {
    /// 1 to 100 characters as sent, not blank, no control characters
    /// (the `pattern`); stored trimmed.
    #[serde(default)]
    #[schema(required, value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$", example = "Deadpond")]
    pub name: Option<String>,
    /// 1 to 100 characters as sent, not blank, no control characters
    /// (the `pattern`); stored trimmed.
    #[serde(default)]
    #[schema(required, value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$", example = "Dive Wilson")]
    pub secret_name: Option<String>,
    /// 0 to 10000: a whole number, as JSON Schema's `integer` (`30`, `30.0`
    /// and `3e1` alike), or `null`.
    #[serde(default)]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 10000, example = 30)]
    pub age: Option<serde_json::Number>,
}

/// A checked [`NewHero`].
#[derive(Debug, Clone)]
pub struct HeroDraft {
    pub(crate) name: String,
    pub(crate) secret_name: String,
    pub(crate) age: Option<i32>,
}

impl Validate for NewHero {
    type Valid = HeroDraft;

    fn validate(self) -> Result<HeroDraft, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = text_field(&mut errors, "name", self.name, MAX_NAME_CHARS);
        let secret_name = text_field(&mut errors, "secret_name", self.secret_name, MAX_NAME_CHARS);
        let age = match self.age.as_ref().map(whole_number) {
            None => None,
            Some(Some(age)) if (0..=i64::from(MAX_AGE)).contains(&age) => i32::try_from(age).ok(),
            Some(_) => {
                errors.push(FieldError::new(
                    "age",
                    format!("must be a whole number from 0 to {MAX_AGE}"),
                ));
                None
            }
        };
        if errors.is_empty() {
            Ok(HeroDraft {
                name,
                secret_name,
                age,
            })
        } else {
            Err(errors)
        }
    }
}

/// `number` if it has no fractional part and fits an `i64`: JSON Schema's
/// `integer` is any number whose fractional part is zero, however written.
fn whole_number(number: &serde_json::Number) -> Option<i64> {
    if let Some(n) = number.as_i64() {
        return Some(n);
    }
    let n = number.as_f64()?;
    // Exactly representable, so the cast cannot saturate.
    (n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0).then_some(n as i64)
}

/// One page of heroes, in id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeroPage {
    /// Up to `limit` heroes.
    pub items: Vec<Hero>,
    /// Pass as `after` to get the next page; `null` on the last page.
    pub next_after: Option<i64>,
}

/// The routes, each behind its requirement. `auth` has already authenticated
/// the request (the router's layer); each `require` only checks the scope.
pub(crate) fn routes(auth: &Validator) -> OpenApiRouter<AppState> {
    let read = auth.require(Require::scope_or_app_permission(READ));
    let write = auth.require(Require::scope_or_app_permission(WRITE));
    let delete = auth.require(Require::scope_or_app_permission(DELETE));
    OpenApiRouter::new()
        .routes(routes!(create_hero).map(|r| r.route_layer(write)))
        .routes(routes!(list_heroes).map(|r| r.route_layer(read.clone())))
        .routes(routes!(get_hero).map(|r| r.route_layer(read)))
        .routes(routes!(delete_hero).map(|r| r.route_layer(delete)))
}

/// Create a hero.
///
/// The caller (user or application) and the time are recorded with it.
#[utoipa::path(
    post,
    path = "/heroes",
    tag = "heroes",
    request_body = NewHero,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Hero,
            headers(("location" = String, description = "/heroes/{id}"))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = ["Heroes.Write"]))
)]
async fn create_hero(
    State(state): State<AppState>,
    principal: Principal,
    ValidJson(hero): ValidJson<NewHero>,
) -> Result<impl IntoResponse, Error> {
    let by = Caller::from_principal(&principal)
        .ok_or(Error::Forbidden("the token does not identify its caller"))?;
    let hero = state.db.insert_hero(&hero, &by).await?;
    tracing::info!(id = hero.id, by = ?by.kind, "hero created");
    let location = format!("/heroes/{}", hero.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(hero),
    ))
}

/// List heroes, oldest first.
///
/// Keyset pagination: pass the `next_after` of a page as `after` to get the
/// next one. Heroes created or deleted meanwhile never make a page skip or
/// repeat one.
#[utoipa::path(
    get,
    path = "/heroes",
    tag = "heroes",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of heroes", body = HeroPage),
        (status = 400, description = "Invalid `limit` or `after`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = ["Heroes.Read"]))
)]
async fn list_heroes(
    State(state): State<AppState>,
    page: PageQuery,
) -> Result<Json<HeroPage>, Error> {
    let items = state.db.list_heroes(page).await?;
    let next_after = page.next_after(&items, |h| h.id);
    Ok(Json(HeroPage { items, next_after }))
}

/// Get a hero.
#[utoipa::path(
    get,
    path = "/heroes/{id}",
    tag = "heroes",
    params(("id" = i64, Path, description = "The hero's id", minimum = 1, maximum = 9_223_372_036_854_775_807_i64)),
    responses(
        (status = 200, description = "The hero", body = Hero),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hero", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = ["Heroes.Read"]))
)]
async fn get_hero(State(state): State<AppState>, ItemId(id): ItemId) -> Result<Json<Hero>, Error> {
    match state.db.get_hero(id).await? {
        Some(hero) => Ok(Json(hero)),
        None => Err(not_found(id)),
    }
}

/// Delete a hero.
#[utoipa::path(
    delete,
    path = "/heroes/{id}",
    tag = "heroes",
    params(("id" = i64, Path, description = "The hero's id", minimum = 1, maximum = 9_223_372_036_854_775_807_i64)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such hero", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = ["Heroes.Delete"]))
)]
async fn delete_hero(
    State(state): State<AppState>,
    principal: Principal,
    ItemId(id): ItemId,
) -> Result<StatusCode, Error> {
    if state.db.delete_hero(id).await? {
        tracing::info!(id, by = %principal.key(), "hero deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(id))
    }
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("there is no hero {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hero(name: Option<&str>, secret: Option<&str>, age: Option<i32>) -> NewHero {
        NewHero {
            name: name.map(Into::into),
            secret_name: secret.map(Into::into),
            age: age.map(serde_json::Number::from),
        }
    }

    #[test]
    fn a_valid_hero_is_trimmed() {
        let draft = hero(Some(" Deadpond "), Some("Dive Wilson"), Some(30)).validate();
        let draft = draft.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(draft.name, "Deadpond");
        assert_eq!(draft.age, Some(30));
    }

    #[test]
    fn every_invalid_field_is_named() {
        let Err(errors) = hero(None, Some(" "), Some(-1)).validate() else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "secret_name", "age"]);
        assert!(
            hero(Some("a"), Some("b"), Some(MAX_AGE + 1))
                .validate()
                .is_err()
        );
        assert!(hero(Some("a"), Some("b"), None).validate().is_ok());
    }
}
