//! `GET /`: signed out, a sign-in button; signed in, the user's name, the
//! heroes (with forms to create and delete them) and the user's todo items.

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode, header};

use crate::api::{ApiFailure, Hero, TodoItem};
use crate::forms::Form;
use crate::html::{csrf_field, escape, page};
use crate::server::{App, Visitor};
use crate::session::Session;

/// `GET /`.
pub(crate) async fn index(State(app): State<App>, headers: HeaderMap) -> Response {
    match app.visitor(&headers).await {
        Err(response) => response,
        Ok(Visitor::Anonymous { ended }) => {
            let mut response = signed_out(ended);
            if ended {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, app.sessions.clear_cookie());
            }
            response
        }
        Ok(Visitor::Pending(_)) => signed_out(false),
        Ok(Visitor::SignedIn(session)) => signed_in(&app, &session, None).await,
    }
}

/// The start page of a visitor who is not signed in.
fn signed_out(ended: bool) -> Response {
    let note = if ended {
        "<p class=\"error\" id=\"session-ended\">Your session has ended. Sign in again to continue.</p>"
    } else {
        ""
    };
    page(
        StatusCode::OK,
        "Welcome",
        &format!(
            "<h1>Heroes</h1>{note}\
             <p>Sign in with your work account to see the heroes, create and delete them, \
             and keep your todo items.</p>\
             <p><a class=\"button\" id=\"sign-in\" href=\"/auth/login\">Sign in</a></p>"
        ),
    )
}

/// Which of the start page's forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FormId {
    /// `create-hero`.
    Hero,
    /// `create-todo`.
    Todo,
}

/// A form the API refused as invalid: the start page again, with the input
/// kept and the reasons beside the form.
#[derive(Debug)]
pub(crate) struct Refused<'a> {
    pub(crate) form: FormId,
    pub(crate) input: &'a Form,
    pub(crate) failure: &'a ApiFailure,
}

/// `value="..."` for a field of the refused form, if it is this one.
fn kept(refused: Option<&Refused<'_>>, form: FormId, field: &str) -> String {
    refused
        .filter(|r| r.form == form)
        .and_then(|r| r.input.get(field))
        .map(|v| format!(" value=\"{}\"", escape(v)))
        .unwrap_or_default()
}

/// The reasons a form was refused, above it.
fn reasons(app: &App, refused: Option<&Refused<'_>>, form: FormId) -> String {
    match refused.filter(|r| r.form == form) {
        Some(r) => {
            let id = match form {
                FormId::Hero => "create-hero-error",
                FormId::Todo => "create-todo-error",
            };
            format!("<div id=\"{id}\">{}</div>", explain(app, r.failure))
        }
        None => String::new(),
    }
}

/// Whether the access token grants the `Admin` app role (the API lists
/// every user's todo items to an admin).
fn is_admin(access_token: &str) -> bool {
    crate::claims::decode(access_token).is_some_and(|d| {
        d.claims["roles"]
            .as_array()
            .is_some_and(|roles| roles.iter().any(|r| r == "Admin"))
    })
}

/// The start page of a signed-in user; with `refused`, the form the API
/// refused is shown again with its input and the reasons (`422`).
pub(crate) async fn signed_in(
    app: &App,
    session: &Session,
    refused: Option<Refused<'_>>,
) -> Response {
    let refused = refused.as_ref();
    let Some(user) = &session.data.user else {
        return signed_out(false);
    };
    let token = match app.access_token(user, "/").await {
        Ok(token) => token,
        Err(response) => return response,
    };
    let (heroes, todo_items) = tokio::join!(
        app.api.list_heroes(token.secret()),
        app.api.list_todo_items(token.secret())
    );
    let csrf = csrf_field(&session.data.csrf_token);
    let name = user
        .account
        .name()
        .or(user.account.username())
        .unwrap_or("you");
    let username = user
        .account
        .username()
        .map(|u| format!(" <span class=\"note\">({})</span>", escape(u)))
        .unwrap_or_default();
    let status = [heroes.as_ref().err(), todo_items.as_ref().err()]
        .into_iter()
        .flatten()
        .map(ApiFailure::status)
        .next()
        .or(refused.map(|r| r.failure.status()))
        .unwrap_or(StatusCode::OK);
    let admin = is_admin(token.secret());
    let me = user.account.object_id();
    let heroes_html = match &heroes {
        Ok(heroes) => heroes_table(heroes, &csrf),
        Err(failure) => explain(app, failure),
    };
    let todo_html = match &todo_items {
        Ok(items) => todo_list(items, &csrf, admin.then_some(me)),
        Err(failure) => explain(app, failure),
    };
    let body = format!(
        "<div id=\"user\">Signed in as <strong id=\"user-name\">{name}</strong>{username} · \
         <a href=\"/me/tokens\">Your tokens</a> · \
         <form class=\"inline\" method=\"post\" action=\"/auth/logout\">{csrf}\
         <button class=\"secondary\" id=\"sign-out\" type=\"submit\">Sign out</button></form></div>\
         <h1>Heroes</h1>{heroes_html}\
         <h2>New hero</h2>{hero_reasons}\
         <form id=\"create-hero\" method=\"post\" action=\"/heroes\">{csrf}\
         <input id=\"hero-name\" name=\"name\" placeholder=\"Name\" required maxlength=\"100\"{kept_name}>\
         <input id=\"hero-secret-name\" name=\"secret_name\" placeholder=\"Secret name\" required maxlength=\"100\"{kept_secret}>\
         <input id=\"hero-age\" name=\"age\" type=\"number\" min=\"0\" max=\"10000\" placeholder=\"Age\"{kept_age}>\
         <button id=\"create-hero-button\" type=\"submit\">Create</button></form>\
         <h2>{todo_heading}</h2>{todo_html}{todo_reasons}\
         <form id=\"create-todo\" method=\"post\" action=\"/todoitems\">{csrf}\
         <input id=\"todo-title\" name=\"title\" placeholder=\"Something to do\" required maxlength=\"200\"{kept_title}>\
         <button id=\"create-todo-button\" type=\"submit\">Add</button></form>",
        name = escape(name),
        hero_reasons = reasons(app, refused, FormId::Hero),
        todo_reasons = reasons(app, refused, FormId::Todo),
        kept_name = kept(refused, FormId::Hero, "name"),
        kept_secret = kept(refused, FormId::Hero, "secret_name"),
        kept_age = kept(refused, FormId::Hero, "age"),
        kept_title = kept(refused, FormId::Todo, "title"),
        todo_heading = if admin {
            "Todo items (yours and, as an Admin, everyone's)"
        } else {
            "Your todo items"
        },
    );
    page(status, "Heroes", &body)
}

fn heroes_table(heroes: &[Hero], csrf: &str) -> String {
    if heroes.is_empty() {
        return "<p class=\"note\" id=\"no-heroes\">No heroes yet.</p>".to_owned();
    }
    let rows: String = heroes
        .iter()
        .map(|h| {
            format!(
                "<tr id=\"hero-{id}\"><td class=\"hero-name\">{name}</td><td>{secret}</td><td>{age}</td>\
                 <td><form class=\"inline\" method=\"post\" action=\"/heroes/{id}/delete\">{csrf}\
                 <button class=\"danger\" id=\"delete-hero-{id}\" type=\"submit\">Delete</button></form></td></tr>",
                id = h.id,
                name = escape(&h.name),
                secret = escape(&h.secret_name),
                age = h.age.map_or_else(|| "–".to_owned(), |a| a.to_string()),
            )
        })
        .collect();
    format!(
        "<table id=\"heroes\"><thead><tr><th>Name</th><th>Secret name</th><th>Age</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    )
}

/// The todo items; for an admin (`me`: their object id), with each item's
/// owner.
fn todo_list(items: &[TodoItem], csrf: &str, admin: Option<&str>) -> String {
    if items.is_empty() {
        return "<p class=\"note\" id=\"no-todo-items\">Nothing to do.</p>".to_owned();
    }
    let rows: String = items
        .iter()
        .map(|i| {
            let owner = match (admin, &i.owner) {
                (Some(me), Some(owner)) if owner.object_id == me => {
                    " <span class=\"note todo-owner\">(yours)</span>".to_owned()
                }
                (Some(_), Some(owner)) => format!(
                    " <span class=\"note todo-owner\">(user {}, tenant {})</span>",
                    escape(&owner.object_id),
                    escape(&owner.tenant_id)
                ),
                _ => String::new(),
            };
            format!(
                "<li id=\"todo-{id}\"><span class=\"todo-title\">{title}</span>{owner} \
                 <form class=\"inline\" method=\"post\" action=\"/todoitems/{id}/delete\">{csrf}\
                 <button class=\"secondary\" id=\"delete-todo-{id}\" type=\"submit\">Done</button></form></li>",
                id = i.id,
                title = escape(&i.title),
            )
        })
        .collect();
    format!("<ul id=\"todo-items\">{rows}</ul>")
}

/// What an API failure means, for people (HTML).
pub(crate) fn explain(app: &App, failure: &ApiFailure) -> String {
    let detail = |d: &Option<String>| {
        d.as_deref()
            .map(|d| format!("<p class=\"note\">The API said: {}</p>", escape(d)))
            .unwrap_or_default()
    };
    let inner = match failure {
        ApiFailure::Unreachable => format!(
            "<p>The heroes API at {} cannot be reached. Is it running (<code>entra api</code>)?</p>",
            escape(app.api.base().as_str())
        ),
        ApiFailure::Unexpected { status } => format!(
            "<p>The heroes API answered something unexpected (HTTP {status}). Try again in a moment.</p>"
        ),
        ApiFailure::Unauthorized { detail: d } => format!(
            "<p>The heroes API did not accept your sign-in (HTTP 401).</p>{}\
             <p><a class=\"button\" href=\"/auth/login\">Sign in again</a></p>",
            detail(d)
        ),
        ApiFailure::Forbidden {
            missing: Some(missing),
            detail: d,
        } => format!(
            "<p id=\"missing-permission\">You may not do this: <strong>{m}</strong> is required, \
             and your access to the heroes API does not include it (HTTP 403).</p>{}\
             <p>An administrator can grant {m} to this app; then sign in again.</p>",
            detail(d),
            m = escape(missing),
        ),
        ApiFailure::Forbidden {
            missing: None,
            detail: d,
        } => format!(
            "<p>The heroes API refused (HTTP 403): you may not do this.</p>{}",
            detail(d)
        ),
        ApiFailure::NotFound { detail: d } => format!(
            "<p>There is no such item (it may have been deleted already).</p>{}",
            detail(d)
        ),
        ApiFailure::Invalid { detail: d, fields } => {
            let list: String = fields
                .iter()
                .map(|(field, message)| {
                    format!(
                        "<li><strong>{}</strong>: {}</li>",
                        escape(field),
                        escape(message)
                    )
                })
                .collect();
            format!(
                "<p>The heroes API refused the input.</p>{}<ul>{list}</ul>",
                detail(d)
            )
        }
    };
    format!("<div class=\"error\">{inner}</div>")
}
