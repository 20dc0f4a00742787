//! axum extractors.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::layer::Anonymous;
use crate::{Error, Principal};

/// The caller of a route an [`AuthLayer`](crate::AuthLayer) covers.
///
/// ```
/// use entra_auth::Principal;
///
/// async fn whoami(principal: Principal) -> String {
///     format!("{} ({:?})", principal.key(), principal.name())
/// }
/// ```
///
/// On a route no layer covers, the extractor answers `500` and logs an error:
/// that is a wiring mistake, and failing loudly beats serving it unprotected.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            Some(principal) => Ok(principal.clone()),
            // An optional layer covers the route and no token came.
            None if parts.extensions.get::<Anonymous>().is_some() => Err(Error::MissingToken),
            None => {
                tracing::error!(
                    path = parts.uri.path(),
                    "Principal extracted on a route no entra-auth layer covers"
                );
                Err(Error::NotConfigured)
            }
        }
    }
}

/// `Option<Principal>`: the caller if a layer authenticated one.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}
