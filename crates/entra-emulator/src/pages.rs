//! Browser-facing pages: authorize, sign-in, consent, device-code
//! verification, logout.

use std::sync::Arc;

use axum::Router;

use crate::state::State;

/// The browser routes.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
}
