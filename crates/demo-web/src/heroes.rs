//! The forms that change something, each a `POST` with the session's
//! anti-forgery token: create and delete a hero, add and delete a todo item.
//!
//! Each calls the heroes API with the user's access token (refreshed
//! silently; when only a new sign-in can get one, the browser is sent to
//! `/auth/login`), then `303` to `/`. Invalid input (the API's `422`) is the
//! start page again, the form keeping what was typed and the reasons beside
//! it; any other refusal of the API is a page that explains it, with the
//! API's status (`403` names the missing scope).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use entra_client::AccessToken;
use http::{HeaderMap, StatusCode};

use crate::api::{ApiFailure, NewHero, NewTodoItem};
use crate::csrf;
use crate::forms::{self, Form};
use crate::home::{FormId, Refused, explain, signed_in};
use crate::html::error_page;
use crate::server::{App, Visitor, no_session, see_other};
use crate::session::Session;

/// `POST /heroes` (form: `name`, `secret_name`, `age`).
pub(crate) async fn create_hero(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, token, session) = match authorize(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let age = match form.text("age").map(|a| a.parse::<i32>()) {
        None => None,
        Some(Ok(age)) => Some(age),
        Some(Err(_)) => {
            let failure = ApiFailure::Invalid {
                detail: None,
                fields: vec![("age".into(), "must be a whole number".into())],
            };
            return again(&app, &session, FormId::Hero, &form, &failure).await;
        }
    };
    let hero = NewHero {
        name: form.text("name").unwrap_or_default(),
        secret_name: form.text("secret_name").unwrap_or_default(),
        age,
    };
    match app.api.create_hero(token.secret(), &hero).await {
        Err(failure @ ApiFailure::Invalid { .. }) => {
            again(&app, &session, FormId::Hero, &form, &failure).await
        }
        result => done(&app, result, "The hero was not created"),
    }
}

/// `POST /heroes/{id}/delete`.
pub(crate) async fn delete_hero(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, token, _) = match authorize(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let Some(id) = item_id(&id) else {
        return done(
            &app,
            Err(ApiFailure::NotFound { detail: None }),
            "The hero was not deleted",
        );
    };
    let result = app.api.delete_hero(token.secret(), id).await;
    done(&app, result, "The hero was not deleted")
}

/// `POST /todoitems` (form: `title`).
pub(crate) async fn create_todo_item(
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, token, session) = match authorize(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let item = NewTodoItem {
        title: form.text("title").unwrap_or_default(),
    };
    match app.api.create_todo_item(token.secret(), &item).await {
        Err(failure @ ApiFailure::Invalid { .. }) => {
            again(&app, &session, FormId::Todo, &form, &failure).await
        }
        result => done(&app, result, "The todo item was not added"),
    }
}

/// `POST /todoitems/{id}/delete`.
pub(crate) async fn delete_todo_item(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (_, token, _) = match authorize(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let Some(id) = item_id(&id) else {
        return done(
            &app,
            Err(ApiFailure::NotFound { detail: None }),
            "The todo item was not deleted",
        );
    };
    let result = app.api.delete_todo_item(token.secret(), id).await;
    done(&app, result, "The todo item was not deleted")
}

/// A signed-in session, a form with its anti-forgery token, and an access
/// token for the API.
async fn authorize(
    app: &App,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Form, AccessToken, Box<Session>), Response> {
    let form = forms::parse(body);
    let session = match app.visitor(headers).await? {
        Visitor::SignedIn(session) => session,
        Visitor::Anonymous { .. } | Visitor::Pending(_) => return Err(no_session()),
    };
    csrf::check(headers, &app.origin, &session, form.get(csrf::FIELD))?;
    let Some(user) = &session.data.user else {
        return Err(no_session());
    };
    // A form cannot be replayed after a new sign-in: back to the start page.
    let token = app.access_token(user, "/").await?;
    Ok((form, token, session))
}

/// The start page again (`422`), the refused form keeping its input, with
/// the reasons beside it.
async fn again(
    app: &App,
    session: &Session,
    form: FormId,
    input: &Form,
    failure: &ApiFailure,
) -> Response {
    signed_in(
        app,
        session,
        Some(Refused {
            form,
            input,
            failure,
        }),
    )
    .await
}

/// A positive integer id.
fn item_id(text: &str) -> Option<i64> {
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// `303` to `/` on success; else the page explaining the failure.
fn done(app: &App, result: Result<(), ApiFailure>, title: &str) -> Response {
    match result {
        Ok(()) => see_other("/"),
        Err(failure) => {
            let status = failure.status();
            let status = if status == StatusCode::OK {
                StatusCode::BAD_GATEWAY
            } else {
                status
            };
            error_page(status, title, &explain(app, &failure))
        }
    }
}
