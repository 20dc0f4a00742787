//! [`DemoApi`]: start, serve, stop; and [`router`], the whole API as an axum
//! router, for embedding it in another server.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::{Extension, Router};
use entra_auth::Validator;
use http::{HeaderValue, header};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::database::Database;
use crate::input::BodyLimit;
use crate::{ApiConfig, Error, heroes, openapi, pages, telemetry, todo_items};

/// How long [`DemoApi::shutdown`] waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) db: Database,
    pub(crate) auth: Validator,
}

/// The API's parts once built: the router, and what it must close on stop.
struct Built {
    router: Router,
    db: Database,
    auth: Validator,
}

async fn build(config: &ApiConfig) -> Result<Built, Error> {
    // The configuration is checked before anything is opened.
    let auth_config = config.auth_config()?;
    let db = Database::open(&config.database_url).await?;
    // Loads the signing keys in the background and keeps them fresh. An
    // authority that is not up yet is no reason not to start: `/health`
    // (and `/health/ready`) answer 503 and protected routes 503 until the keys are in.
    let auth = Validator::new(auth_config).map_err(|e| Error::Config(e.to_string()))?;
    let state = AppState {
        db: db.clone(),
        auth: auth.clone(),
    };

    let protected = OpenApiRouter::new()
        .merge(heroes::routes(&auth))
        .merge(todo_items::routes(&auth))
        // Authenticate once for every protected route; each route's
        // `auth.require(..)` then only checks its own requirement.
        .route_layer(auth.layer())
        // Answers about a caller's data are for that caller only.
        .route_layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let (router, doc) = OpenApiRouter::with_openapi(openapi::skeleton())
        .routes(routes!(pages::index))
        .routes(routes!(pages::health))
        .routes(routes!(pages::ready))
        .routes(routes!(pages::live))
        .merge(protected)
        .split_for_parts();
    let doc = openapi::document(doc, config);

    let mut router = router.merge(openapi::swagger_ui(doc, config));
    // `/metrics` on the API's own port, when the process installed a
    // Prometheus recorder (`entra api` does, unless `--no-metrics`).
    if let Some(metrics) = entra_metrics::handle() {
        router = router.merge(entra_metrics::routes(metrics));
    }
    let router = router
        .fallback(|| async { Error::NotFound("there is nothing here".into()) })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(Extension(BodyLimit(config.max_body_bytes)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(telemetry::server_span)
                .on_response(telemetry::record_status),
        )
        .layer(axum::middleware::from_fn(entra_metrics::track));
    Ok(Built { router, db, auth })
}

/// The whole API as an axum router, to serve it yourself or nest it in
/// another application. Opens the database (applying the migrations) and
/// starts loading the signing keys.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = demo_api::ApiConfig::demo("http://localhost:9000", "sqlite://heroes.db");
/// let app = demo_api::router(&config).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
pub async fn router(config: &ApiConfig) -> Result<Router, Error> {
    Ok(build(config).await?.router)
}

/// A running API.
///
/// ```no_run
/// use demo_api::{ApiConfig, DemoApi};
///
/// # async fn run() -> Result<(), demo_api::Error> {
/// let config = ApiConfig::demo("http://localhost:9000", "sqlite://data/api/demo-api.db");
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let api = DemoApi::start(config, listener).await?;
/// println!("serving on {}", api.url());
/// api.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DemoApi {
    addr: SocketAddr,
    db: Database,
    auth: Validator,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl DemoApi {
    /// Opens the database (applying the migrations), starts loading the
    /// signing keys, and serves on `listener`.
    ///
    /// Fails on an invalid configuration or a database that cannot be
    /// opened; never because the authority is not up yet (then `/health`
    /// answers `503` until the keys are loaded).
    pub async fn start(config: ApiConfig, listener: TcpListener) -> Result<Self, Error> {
        let Built { router, db, auth } = build(&config).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, backend = db.backend(), "heroes API listening");
        Ok(DemoApi {
            addr,
            db,
            auth,
            stop: Some(stop),
            server: Some(server),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{address}`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `sqlite` or `postgres`.
    pub fn database_backend(&self) -> &'static str {
        self.db.backend()
    }

    /// The token validator: [`Validator::ready`] resolves once the signing
    /// keys are loaded.
    pub fn validator(&self) -> &Validator {
        &self.auth
    }

    /// Stops accepting connections, lets requests in flight finish (up to
    /// five seconds), and closes the database.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "the server stopped with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "the server task failed"),
                Err(_) => {
                    tracing::debug!("requests in flight did not finish in time");
                    server.abort();
                }
            }
        }
        self.db.close().await;
    }
}

impl Drop for DemoApi {
    /// Stops serving at once (without waiting for requests in flight).
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
