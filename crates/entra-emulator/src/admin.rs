//! The JSON administration API and its persisted journal.

use std::path::Path;
use std::sync::Arc;

use axum::Router;

use crate::Error;
use crate::config::Directory;
use crate::state::State;

/// Applies the administrative changes recorded in the data directory.
pub fn apply_journal(directory: Directory, _data_dir: Option<&Path>) -> Result<Directory, Error> {
    Ok(directory)
}

/// The administration routes.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
}
