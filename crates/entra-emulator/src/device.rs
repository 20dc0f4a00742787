//! The device-code flow's endpoints: `/devicecode` and the verification page.

use std::sync::Arc;

use axum::Router;

use crate::state::State;

/// The device-code routes.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
}
