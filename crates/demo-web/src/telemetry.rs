//! Spans: one per request this app serves (route template, method, path and
//! status; never the query string, which on `/auth/callback` carries the
//! authorization code), and one per call to the heroes API, whose trace
//! context goes along as W3C `traceparent` (through the globally installed
//! OpenTelemetry propagator), so a page and the API calls it makes are one
//! trace.

use axum::extract::MatchedPath;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use opentelemetry::propagation::{Extractor, Injector};
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

/// Writes a context into request headers.
struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The server span of `request`, continuing the caller's trace if it sent one.
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

/// The client span of a call to the heroes API, under the current span.
pub(crate) fn client_span(request: &reqwest::Request) -> Span {
    let method = request.method();
    let url = request.url();
    tracing::info_span!(
        "heroes API call",
        otel.name = %format!("{method} {}", url.path()),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = %method,
        server.address = url.host_str().unwrap_or_default(),
        server.port = url.port_or_known_default(),
        url.path = %url.path(),
        http.response.status_code = Empty,
    )
}

/// Records the status of an answer on `span`.
pub(crate) fn record_status(span: &Span, status: http::StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

/// Adds `span`'s trace context (`traceparent`, `tracestate`) to `headers`.
pub(crate) fn inject(span: &Span, headers: &mut HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}
