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

pub(super) async fn set(Shared(state): Shared<Arc<State>>, body: Bytes) -> Response {
    let result = (|| {
        let value = json_value(&body)?;
        let Some(object) = value.as_object() else {
            return Err(Refusal::Invalid("expected a JSON object".into()));
        };
        if let Some(unknown) = object
            .keys()
            .find(|k| *k != "offsetSeconds" && *k != "fixed")
        {
            return Err(Refusal::Invalid(format!(
                "unknown field {unknown:?}: expected offsetSeconds or fixed"
            )));
        }
        let offset = match object.get("offsetSeconds") {
            None => None,
            Some(v) => Some(
                v.as_i64()
                    .ok_or_else(|| Refusal::Invalid("offsetSeconds must be an integer".into()))?,
            ),
        };
        let fixed = match object.get("fixed") {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(v.as_i64().ok_or_else(|| {
                Refusal::Invalid("fixed must be Unix seconds or null".into())
            })?)),
        };
        if offset.is_none() && fixed.is_none() {
            return Err(Refusal::Invalid(
                "expected {\"offsetSeconds\": n} or {\"fixed\": unix|null}".into(),
            ));
        }
        if let Some(fixed) = fixed {
            state.set_clock_fixed(fixed);
        }
        if let Some(offset) = offset {
            state.set_clock_offset(offset);
        }
        Ok(())
    })();
    match result {
        Ok(()) => Json(json!({"now": state.now()})).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}
