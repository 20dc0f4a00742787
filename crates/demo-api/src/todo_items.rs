//! `/todoitems`: items belong to the signed-in
//! user who created them; an `Admin` sees and deletes every one.
//!
//! | route | who |
//! |---|---|
//! | `GET /todoitems` | any signed-in user: their own items (an `Admin`: everyone's) |
//! | `POST /todoitems` | any signed-in user; the owner is the caller's tenant + object id |
//! | `DELETE /todoitems` | the `Admin` app role only: deletes every item |
//! | `GET /todoitems/{id}`, `DELETE /todoitems/{id}` | the owner or an `Admin`: `404` when it does not exist, `403` when it is someone else's |
//!
//! "Signed-in user" is the [`User`] extractor: app-only tokens (daemons) get
//! `403`, since they have no user to own items. The admin check of
//! `DELETE /todoitems` is a one-line [`Require::role`]; the owner check of
//! the `{id}` routes needs the item, so it runs in the handler.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use entra_auth::{Require, Validator};
use http::{StatusCode, header};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::caller::{ADMIN_ROLE, User, UserId};
use crate::error::{Error, FieldError, Problem};
use crate::input::{ItemId, PageQuery, ValidJson, Validate, text_field};
use crate::server::AppState;

/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// A todo item.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TodoItem {
    /// Assigned by the database, increasing, never reused.
    #[schema(example = 1)]
    pub id: i64,
    /// What to do.
    #[schema(example = "Walk the dog")]
    pub title: String,
    /// The user who created it.
    pub owner: UserId,
    /// When it was created (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
}

/// The body of `POST /todoitems`. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTodoItem {
    /// 1 to 200 characters as sent, not blank, no control characters
    /// (the `pattern`); stored trimmed.
    #[serde(default)]
    #[schema(required, value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$", example = "Walk the dog")]
    pub title: Option<String>,
}

/// A checked [`NewTodoItem`].
#[derive(Debug, Clone)]
pub struct TodoDraft {
    pub(crate) title: String,
}

impl Validate for NewTodoItem {
    type Valid = TodoDraft;

    fn validate(self) -> Result<TodoDraft, Vec<FieldError>> {
        let mut errors = Vec::new();
        let title = text_field(&mut errors, "title", self.title, MAX_TITLE_CHARS);
        if errors.is_empty() {
            Ok(TodoDraft { title })
        } else {
            Err(errors)
        }
    }
}

/// One page of todo items, in id order.
#[derive(Debug, Serialize, ToSchema)]
pub struct TodoItemPage {
    /// Up to `limit` items.
    pub items: Vec<TodoItem>,
    /// Pass as `after` to get the next page; `null` on the last page.
    pub next_after: Option<i64>,
}

/// The routes. The router's `auth.layer()` authenticates every request; only
/// `DELETE /todoitems` adds a requirement of its own.
pub(crate) fn routes(auth: &Validator) -> OpenApiRouter<AppState> {
    let admin = auth.require(Require::role(ADMIN_ROLE));
    OpenApiRouter::new()
        .routes(routes!(list_todo_items))
        .routes(routes!(create_todo_item))
        .routes(routes!(delete_all_todo_items).map(|r| r.route_layer(admin)))
        .routes(routes!(get_todo_item))
        .routes(routes!(delete_todo_item))
}

/// List my todo items (an Admin: everyone's), oldest first.
#[utoipa::path(
    get,
    path = "/todoitems",
    tag = "todo items",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of items", body = TodoItemPage),
        (status = 400, description = "Invalid `limit` or `after`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = []))
)]
async fn list_todo_items(
    State(state): State<AppState>,
    user: User,
    page: PageQuery,
) -> Result<Json<TodoItemPage>, Error> {
    let owner = (!user.is_admin).then_some(&user.id);
    let items = state.db.list_todos(owner, page).await?;
    let next_after = page.next_after(&items, |i| i.id);
    Ok(Json(TodoItemPage { items, next_after }))
}

/// Create a todo item owned by the caller.
#[utoipa::path(
    post,
    path = "/todoitems",
    tag = "todo items",
    request_body = NewTodoItem,
    responses(
        (status = 201, description = "Created; `Location` names it", body = TodoItem,
            headers(("location" = String, description = "/todoitems/{id}"))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not `application/json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each named in `errors`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = []))
)]
async fn create_todo_item(
    State(state): State<AppState>,
    user: User,
    ValidJson(item): ValidJson<NewTodoItem>,
) -> Result<impl IntoResponse, Error> {
    let item = state.db.insert_todo(&item, &user.id).await?;
    let location = format!("/todoitems/{}", item.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(item),
    ))
}

/// Delete every todo item (Admin app role).
#[utoipa::path(
    delete,
    path = "/todoitems",
    tag = "todo items",
    responses(
        (status = 204, description = "Every item deleted"),
    ),
    security(("entra" = []))
)]
async fn delete_all_todo_items(
    State(state): State<AppState>,
    user: User,
) -> Result<StatusCode, Error> {
    let deleted = state.db.delete_all_todos().await?;
    tracing::info!(deleted, by = %user.id.object_id, "all todo items deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Get a todo item (its owner or an Admin).
#[utoipa::path(
    get,
    path = "/todoitems/{id}",
    tag = "todo items",
    params(("id" = i64, Path, description = "The item's id", minimum = 1, maximum = 9_223_372_036_854_775_807_i64)),
    responses(
        (status = 200, description = "The item", body = TodoItem),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Someone else's item", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = []))
)]
async fn get_todo_item(
    State(state): State<AppState>,
    user: User,
    ItemId(id): ItemId,
) -> Result<Json<TodoItem>, Error> {
    accessible(&state, &user, id).await.map(Json)
}

/// Delete a todo item (its owner or an Admin).
#[utoipa::path(
    delete,
    path = "/todoitems/{id}",
    tag = "todo items",
    params(("id" = i64, Path, description = "The item's id", minimum = 1, maximum = 9_223_372_036_854_775_807_i64)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a positive integer", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Someone else's item", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
    ),
    security(("entra" = []))
)]
async fn delete_todo_item(
    State(state): State<AppState>,
    user: User,
    ItemId(id): ItemId,
) -> Result<StatusCode, Error> {
    accessible(&state, &user, id).await?;
    if state.db.delete_todo(id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        // Deleted by someone else in between.
        Err(not_found(id))
    }
}

/// The item, if it exists (`404`) and `user` may access it (`403`).
async fn accessible(state: &AppState, user: &User, id: i64) -> Result<TodoItem, Error> {
    let item = state.db.get_todo(id).await?.ok_or_else(|| not_found(id))?;
    if user.may_access(&item.owner) {
        Ok(item)
    } else {
        Err(Error::Forbidden("this todo item belongs to someone else"))
    }
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("there is no todo item {id}"))
}
