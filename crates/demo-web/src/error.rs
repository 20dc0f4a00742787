//! [`Error`]: why the web app could not start.
//!
//! Failures while serving a request never surface as an [`Error`]: each is a
//! page with its own status (`400` for a forged or stale callback, `403` for
//! a missing anti-forgery token, `502` when the API or the identity provider
//! cannot be reached...), built where it happens.

pub use entra_store::StoreError;

/// Why [`DemoWeb::start`](crate::DemoWeb::start) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is incomplete or contradicts itself: a public base
    /// URL with a path, an API URL that is not `http(s)`, no API scope, an
    /// empty secret, a zero timeout.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// entra-client refused the identity provider settings (authority host,
    /// tenant, client id, redirect URI).
    #[error("the sign-in client cannot be built: {0}")]
    Client(#[from] entra_client::Error),

    /// The session store could not be opened: the SQLite file cannot be
    /// created or opened, its tables have another layout, or Redis does not
    /// answer. The [`StoreError`] keeps the backend's error as its source.
    #[error("{0}")]
    Store(#[from] StoreError),

    /// The listener failed (its address could not be read).
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
