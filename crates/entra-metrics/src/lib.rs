//! The Prometheus side of entra-rs's services (demo-api, demo-web, the
//! emulator): one process-wide recorder, the HTTP request metrics, and the
//! `/metrics` route that renders them.
//!
//! - [`install`] installs a [`metrics_exporter_prometheus`] recorder as the
//!   process's global `metrics` recorder, once (later calls return the same
//!   handle), without its HTTP listener: each service renders it on its own
//!   router, at `/metrics`, on the port it already serves. A binary calls it
//!   first thing, before building anything that registers metrics (an
//!   `entra_auth::Validator` registers its counters when it is built).
//! - [`track`] is the middleware that counts requests and times them, by
//!   route template (axum's [`MatchedPath`], never the raw path), method and
//!   status: `http_requests_total` and `http_request_duration_seconds`.
//!   Requests no route matched share the one route label `unmatched`, and
//!   methods outside the standard nine the label `other`, so no label holds
//!   a value a client chose.
//! - [`routes`] is `GET /metrics` in Prometheus's text format, when a
//!   recorder is installed.
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::get};
//! let handle = entra_metrics::install()?;
//! let app: Router = Router::new()
//!     .route("/hello/{name}", get(|| async { "hello" }))
//!     .merge(entra_metrics::routes(handle))
//!     .layer(axum::middleware::from_fn(entra_metrics::track));
//! # let _ = app; Ok(()) }
//! ```

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{HeaderValue, Method, StatusCode, header};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

pub use metrics_exporter_prometheus::PrometheusHandle;

/// The request counter's name.
pub const REQUESTS: &str = "http_requests_total";
/// The request latency histogram's name.
pub const DURATION: &str = "http_request_duration_seconds";
/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets, in seconds: 1 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody
/// scrapes (a scrape folds them too).
const UPKEEP: Duration = Duration::from_secs(5);

/// What can go wrong installing the recorder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another `metrics` recorder is already installed in this process, or
    /// the exporter refused its settings.
    #[error("cannot install the Prometheus recorder: {0}")]
    Install(String),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static INSTALLING: Mutex<()> = Mutex::new(());

/// Installs the Prometheus recorder for the whole process (once; later calls
/// return the same handle) and, inside a tokio runtime, a task that keeps
/// its histograms folded.
pub fn install() -> Result<PrometheusHandle, Error> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let _guard = INSTALLING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| Error::Install(e.to_string()))?
        .install_recorder()
        .map_err(|e| Error::Install(e.to_string()))?;
    describe();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let upkeep = handle.clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                upkeep.run_upkeep();
            }
        });
    }
    Ok(HANDLE.get_or_init(|| handle).clone())
}

/// The installed recorder's handle, if [`install`] ran.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE.get().cloned()
}

fn describe() {
    metrics::describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route template, method and status"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request (until the response head), by route template, method and status"
    );
}

/// `GET /metrics`: the recorder's metrics in Prometheus's text format.
pub fn routes<S>(handle: PrometheusHandle) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move { render(&handle) }
        }),
    )
}

/// The metrics in Prometheus's text format (version 0.0.4), uncached.
pub fn render(handle: &PrometheusHandle) -> Response {
    handle.run_upkeep();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        handle.render(),
    )
        .into_response()
}

/// Counts and times one request (axum middleware: `Router::layer(axum::middleware::from_fn(track))`,
/// which runs after routing, so the route template is known).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method());
    let start = Instant::now();
    let response = next.run(request).await;
    let elapsed = start.elapsed();
    let labels = [
        ("route", route),
        ("method", method.to_owned()),
        ("status", status_label(response.status())),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(DURATION, &labels).record(elapsed.as_secs_f64());
    response
}

/// The method, or `other` for an extension method (which a client names).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

fn status_label(status: StatusCode) -> String {
    status.as_u16().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE-ME-123").unwrap_or(Method::GET);
        assert_eq!(method_label(&custom), "other");
    }
}
