//! The tower layer: authenticate every request, optionally check a
//! [`Require`], and hand the [`Principal`](crate::Principal) to the service in
//! the request extensions. Works for axum routers and any tower service that
//! speaks `http` (tonic included).

mod future;
mod service;

use std::sync::Arc;

use tower_layer::Layer;

use crate::{Require, TokenSource, Validator};

pub use future::ResponseFuture;
#[cfg(feature = "axum")]
pub(crate) use service::Anonymous;
pub use service::AuthService;

/// Authenticates requests; built by [`Validator::layer`] and [`Validator::require`].
///
/// When an outer `AuthLayer` of the same [`Validator`] (or a clone of it) has
/// already authenticated the request, an inner one reuses its
/// [`Principal`](crate::Principal) and only checks its own requirement: put
/// `auth.layer()` on the router and `auth.require(...)` on each route, and
/// every token is validated once. A principal another validator made (another
/// audience, tenant list or client allow-list) is never trusted: the inner
/// layer validates the token again.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    /// One allocation: axum clones the service for every request.
    pub(crate) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) validator: Validator,
    pub(crate) requirement: Option<Require>,
    pub(crate) sources: Box<[TokenSource]>,
    /// A request without a token passes, without a principal.
    pub(crate) optional: bool,
}

impl AuthLayer {
    pub(crate) fn new(validator: Validator, requirement: Option<Require>) -> Self {
        AuthLayer {
            shared: Arc::new(Shared {
                validator,
                requirement,
                sources: Box::new([TokenSource::AuthorizationHeader]),
                optional: false,
            }),
        }
    }

    pub(crate) fn optional(validator: Validator) -> Self {
        AuthLayer {
            shared: Arc::new(Shared {
                validator,
                requirement: None,
                sources: Box::new([TokenSource::AuthorizationHeader]),
                optional: true,
            }),
        }
    }

    /// Reads tokens from these sources, in order, instead of only the
    /// `Authorization` header.
    ///
    /// ```
    /// # use entra_auth::{TokenSource, Validator};
    /// # fn f(auth: Validator) {
    /// let layer = auth.layer().token_sources([
    ///     TokenSource::AuthorizationHeader,
    ///     TokenSource::Cookie("access_token".into()),
    /// ]);
    /// # }
    /// ```
    pub fn token_sources(self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        AuthLayer {
            shared: Arc::new(Shared {
                validator: self.shared.validator.clone(),
                requirement: self.shared.requirement.clone(),
                sources: sources.into_iter().collect(),
                optional: self.shared.optional,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}
