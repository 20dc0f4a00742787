//! `GET` and `POST /_emulator/clock`: the emulator's clock, shifted or
//! frozen for tests.

use std::sync::Arc;

use axum::Json;
use axum::extract::State as Shared;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::{Refusal, json_value};
use crate::state::State;

pub(super) async fn get(Shared(state): Shared<Arc<State>>) -> Response {
    Json(json!({"now": state.now()})).into_response()
}

/// Why a clock body was refused (422).
#[derive(Debug, thiserror::Error)]
pub(super) enum Problem {
    #[error("expected a JSON object")]
    NotAnObject,
    #[error("unknown field {0:?}: expected offsetSeconds or fixed")]
    UnknownField(String),
    #[error("offsetSeconds must be an integer")]
    Offset,
    #[error("fixed must be Unix seconds or null")]
    Fixed,
    #[error("expected {{\"offsetSeconds\": n}} or {{\"fixed\": unix|null}}")]
    NoChange,
}

/// A clock change: a new offset, and a new fixed time (`Some(None)`: real
/// time again).
type Change = (Option<i64>, Option<Option<i64>>);

/// Reads `{"offsetSeconds": n}` and/or `{"fixed": unix or null}`.
fn read(value: &Value) -> Result<Change, Problem> {
    let Some(object) = value.as_object() else {
        return Err(Problem::NotAnObject);
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| *k != "offsetSeconds" && *k != "fixed")
    {
        return Err(Problem::UnknownField(unknown.clone()));
    }
    let offset = match object.get("offsetSeconds") {
        None => None,
        Some(v) => Some(v.as_i64().ok_or(Problem::Offset)?),
    };
    let fixed = match object.get("fixed") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(v.as_i64().ok_or(Problem::Fixed)?)),
    };
    if offset.is_none() && fixed.is_none() {
        return Err(Problem::NoChange);
    }
    Ok((offset, fixed))
}

pub(super) async fn set(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let change = json_value(&body).and_then(|value| read(&value).map_err(Refusal::Clock));
    match change {
        Ok((offset, fixed)) => {
            if let Some(fixed) = fixed {
                state.set_clock_fixed(fixed);
            }
            if let Some(offset) = offset {
                state.set_clock_offset(offset);
            }
            Json(json!({"now": state.now()})).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}
