//! Response bodies the layer can answer rejections with.

use bytes::Bytes;

/// A response body type an [`AuthService`](crate::AuthService) can build its
/// rejection answers (problem-details JSON) from.
///
/// Implemented for `Bytes`, axum's `Body` (feature `axum`), `http_body_util::Full<Bytes>`, and, with the
/// `tonic` feature, `tonic::body::Body`, so one layer protects axum routers and
/// gRPC services alike.
pub trait RejectionBody: Sized {
    /// Wraps the bytes of a rejection answer.
    fn from_bytes(bytes: Bytes) -> Self;
}

impl RejectionBody for Bytes {
    fn from_bytes(bytes: Bytes) -> Self {
        bytes
    }
}

#[cfg(feature = "axum")]
impl RejectionBody for axum::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        axum::body::Body::from(bytes)
    }
}

impl RejectionBody for http_body_util::Full<Bytes> {
    fn from_bytes(bytes: Bytes) -> Self {
        http_body_util::Full::new(bytes)
    }
}

#[cfg(feature = "tonic")]
impl RejectionBody for tonic::body::Body {
    fn from_bytes(bytes: Bytes) -> Self {
        tonic::body::Body::new(http_body_util::Full::new(bytes))
    }
}
