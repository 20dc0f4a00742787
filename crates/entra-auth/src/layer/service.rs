use std::future::poll_fn;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::{AuthLayer, ResponseFuture};
use crate::validator::Attempt;
use crate::{Error, Principal, RejectionBody, source};

/// The service an [`AuthLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    pub(super) inner: S,
    pub(super) layer: AuthLayer,
}

impl<S> AuthService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: RejectionBody + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let layer = &self.layer.shared;
        // An outer layer of the same validator already authenticated this
        // request. A principal from another validator (another audience,
        // tenant list or client allow-list) proves nothing here.
        if let Some(principal) = req.extensions().get::<Principal>() {
            if principal.validated_by(layer.validator.id()) {
                return match self.authorize(principal) {
                    Ok(()) => ResponseFuture::inner(self.inner.call(req)),
                    Err(e) => ResponseFuture::rejected(self.refuse(&e)),
                };
            }
            req.extensions_mut().remove::<Principal>();
        }
        let token = match source::find(
            &layer.sources,
            req.headers(),
            req.extensions(),
            req.uri(),
            layer.validator.config().max_token_size,
        ) {
            Ok(token) => token,
            Err(Error::MissingToken) if layer.optional => {
                req.extensions_mut().insert(Anonymous);
                return ResponseFuture::inner(self.inner.call(req));
            }
            Err(e) => return ResponseFuture::rejected(self.refuse(&e)),
        };
        match layer.validator.try_validate(token.as_str()) {
            Attempt::Done(Ok(principal)) => match self.authorize(&principal) {
                Ok(()) => {
                    req.extensions_mut().insert(principal);
                    ResponseFuture::inner(self.inner.call(req))
                }
                Err(e) => ResponseFuture::rejected(self.refuse(&e)),
            },
            // Counted by the validator.
            Attempt::Done(Err(e)) => ResponseFuture::rejected(reject(&e)),
            Attempt::NeedKey => {
                // The key is not cached: refresh off the fast path. Take the
                // service that was driven to readiness, leave a clone behind.
                let token = token.as_str().to_owned();
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let layer = self.layer.shared.clone();
                ResponseFuture::slow(Box::pin(async move {
                    let checked =
                        layer
                            .validator
                            .validate_slow(&token)
                            .await
                            .and_then(|principal| match &layer.requirement {
                                Some(requirement) => requirement
                                    .check(&principal)
                                    .map(|()| principal)
                                    .inspect_err(|e| layer.validator.inner.outcomes.rejected(e)),
                                None => Ok(principal),
                            });
                    match checked {
                        Ok(principal) => {
                            req.extensions_mut().insert(principal);
                            poll_fn(|cx| inner.poll_ready(cx)).await?;
                            inner.call(req).await
                        }
                        Err(e) => Ok(reject(&e)),
                    }
                }))
            }
        }
    }
}

impl<S> AuthService<S> {
    /// Counts a refusal the layer itself made (no token, a malformed
    /// request, a requirement not met), and answers it.
    fn refuse<B: RejectionBody>(&self, error: &Error) -> Response<B> {
        self.layer.shared.validator.inner.outcomes.rejected(error);
        reject(error)
    }

    fn authorize(&self, principal: &Principal) -> Result<(), Error> {
        match &self.layer.shared.requirement {
            Some(requirement) => requirement.check(principal),
            None => Ok(()),
        }
    }
}

/// Put in the request extensions by an optional layer that let a request
/// without a token through: a handler that insists on a [`Principal`] then
/// answers `401`, not the `500` of an uncovered route.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anonymous;

/// Logs the rejection (never the token) and builds its answer.
fn reject<B: RejectionBody>(error: &Error) -> Response<B> {
    match error {
        Error::KeysUnavailable { reason, .. } => {
            tracing::warn!(%reason, "request refused: signing keys unavailable");
        }
        Error::MissingToken => tracing::trace!("request refused: no bearer token"),
        other => {
            tracing::debug!(reason = %other, status = other.status().as_u16(), "request refused")
        }
    }
    error.to_response()
}
