//! The span of each request: route template, method, path and status, never
//! the query string or a header's value; its parent is the caller's trace
//! (W3C `traceparent`, through the globally installed OpenTelemetry
//! propagator), so a request from the web app continues the web app's trace.

use std::time::Duration;

use axum::extract::MatchedPath;
use http::{HeaderMap, Request, Response};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::{TraceContextExt, TraceId};
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Reads a propagated context from request headers.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The server span of `request` (for `TraceLayer::make_span_with`).
pub(crate) fn server_span<B>(request: &Request<B>) -> Span {
    let method = request.method();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_string(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = route,
        // The path only: a query string can carry what must not be kept
        // (the Swagger UI's sign-in sends its code to /docs/oauth2-redirect.html).
        url.path = %request.uri().path(),
        http.response.status_code = Empty,
        trace_id = Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&HeaderExtractor(request.headers()))
    });
    // Without an OpenTelemetry layer there is no trace to continue.
    let _ = span.set_parent(parent);
    // Log lines in the request's span name its trace.
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}

/// Records the status on the request's span (for `TraceLayer::on_response`).
pub(crate) fn record_status<B>(response: &Response<B>, latency: Duration, span: &Span) {
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::debug!(
        status = status.as_u16(),
        elapsed_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "answered"
    );
}
