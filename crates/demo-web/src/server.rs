//! [`DemoWeb`]: start, serve, stop; [`router`]: the whole app as an axum
//! router; and what every handler shares (the app state, the visitor, the
//! user's access token).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use entra_client::{AccessToken, Client, ClientCredential, ConfidentialClient, TokenCache};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::api::Api;
use crate::config::WebConfig;
use crate::error::Error;
use crate::html::{self, error_page, escape};
use crate::session::{Loaded, Session, SessionError, Sessions, SignedInUser};
use crate::{health, heroes, home, sign_in, telemetry, tokens};

/// How long [`DemoWeb::shutdown`] waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The largest form accepted.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub(crate) struct App(Arc<Inner>);

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) client: ConfidentialClient,
    pub(crate) sessions: Sessions,
    pub(crate) api: Api,
    /// The API scopes, without the OpenID Connect ones.
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_uri: String,
    pub(crate) post_logout_redirect_uri: String,
    /// `scheme://host[:port]` of this site.
    pub(crate) origin: String,
    /// The session store's kind (`sqlite`, `redis`, `memory`).
    pub(crate) backend: &'static str,
    csp: HeaderValue,
}

impl std::ops::Deref for App {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Who is asking.
#[derive(Debug)]
pub(crate) enum Visitor {
    /// Nobody signed in; `ended` when the request named a session that is
    /// over (expired, signed out): its cookie is cleared.
    Anonymous { ended: bool },
    /// A session without a user (a sign-in under way).
    Pending(Box<Session>),
    /// A signed-in user.
    SignedIn(Box<Session>),
}

impl App {
    /// The visitor the request's cookie names.
    pub(crate) async fn visitor(&self, headers: &HeaderMap) -> Result<Visitor, Response> {
        match self.sessions.load(headers).await {
            Ok(Loaded::None) => Ok(Visitor::Anonymous { ended: false }),
            Ok(Loaded::Ended) => Ok(Visitor::Anonymous { ended: true }),
            Ok(Loaded::Active(session)) if session.data.user.is_some() => {
                Ok(Visitor::SignedIn(session))
            }
            Ok(Loaded::Active(session)) => Ok(Visitor::Pending(session)),
            Err(e) => Err(store_failure(&e)),
        }
    }

    /// The user's access token for the API: cached, or refreshed silently.
    /// When only a new sign-in can get one, the answer sends the browser to
    /// `/auth/login`, then back to `return_to`.
    pub(crate) async fn access_token(
        &self,
        user: &SignedInUser,
        return_to: &str,
    ) -> Result<AccessToken, Response> {
        match self
            .client
            .acquire_token_silent(&user.account, &self.scopes)
            .await
        {
            Ok(token) => Ok(token),
            Err(e) if e.is_interaction_required() => {
                tracing::info!(reason = %e, "a new sign-in is needed");
                Err(sign_in_again(return_to))
            }
            Err(e) => {
                tracing::warn!(error = %e, "no access token for the API");
                Err(error_page(
                    StatusCode::BAD_GATEWAY,
                    "The sign-in service did not answer",
                    &format!(
                        "<p>Your access to the heroes API could not be renewed: {}</p>\
                         <p>Try again in a moment.</p>",
                        escape(&e.to_string())
                    ),
                ))
            }
        }
    }
}

/// `303` to `/auth/login?return_to=...`.
pub(crate) fn sign_in_again(return_to: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    see_other(&format!("/auth/login?{query}"))
}

/// `303 See Other` to `location`.
pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => (
            StatusCode::SEE_OTHER,
            [(header::LOCATION, HeaderValue::from_static("/"))],
        )
            .into_response(),
    }
}

/// The page for a session store that failed.
pub(crate) fn store_failure(e: &SessionError) -> Response {
    tracing::error!(error = %e, "the session store failed");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Sessions are unavailable",
        "<p>The session store does not answer. Try again in a moment.</p>",
    )
}

/// The page for a form sent without a live session.
pub(crate) fn no_session() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Your session has ended",
        "<p>You are not signed in (any more), so nothing was changed.</p>\
         <p><a class=\"button\" href=\"/auth/login\">Sign in</a></p>",
    )
}

/// The parts [`router`] and [`DemoWeb`] need.
struct Built {
    router: Router,
    closers: Closers,
}

/// What must be closed at shutdown.
#[derive(Debug, Default)]
struct Closers {
    sqlite: Option<sqlx::SqlitePool>,
}

async fn build(config: WebConfig) -> Result<Built, Error> {
    config.check()?;
    let redirect_uri = config.redirect_uri()?;
    let post_logout_redirect_uri = config.post_logout_redirect_uri()?;
    let origin = config.origin()?;
    let api = Api::new(config.api_base()?, config.api_timeout)
        .map_err(|e| Error::Config(format!("cannot build the API client: {e}")))?;

    let stores = crate::stores::open(&config.session_backend, &config.redis_key_prefix).await?;
    let closers = Closers {
        sqlite: stores.sqlite,
    };

    let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    let mut builder = Client::builder(&config.tenant, &config.client_id)
        .authority_host(config.authority_host.trim_end_matches('/'))
        .redirect_uri(&redirect_uri)
        .allow_insecure_http(config.allow_insecure_http)
        .authorization_lifetime(config.sign_in_timeout)
        .clock(config.clock.clone())
        .token_cache(TokenCache::new(stores.tokens));
    if let Some(http) = &config.authority_http_client {
        builder = builder.http_client(http.clone());
    }
    let credential = match (
        &config.federated_token_file,
        &config.managed_identity_assertion,
    ) {
        (Some(file), _) => ClientCredential::federated_token_file(file),
        (None, Some(identity)) => ClientCredential::managed_identity(identity.clone()),
        (None, None) => ClientCredential::secret(&config.client_secret),
    };
    let client = builder.build_confidential(credential)?;

    let authority_origin = url::Url::parse(&config.authority_host)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = HeaderValue::from_str(&html::content_security_policy(&authority_origin))
        .map_err(|_| Error::Config("the authority host is not a valid URL".into()))?;

    let app = App(Arc::new(Inner {
        client,
        sessions: Sessions::new(
            stores.sessions,
            config.clock.clone(),
            secs(config.session_idle_timeout),
            secs(config.session_lifetime),
            secs(config.sign_in_timeout),
            config.is_https(),
        ),
        api,
        scopes: config.resource_scopes(),
        redirect_uri,
        post_logout_redirect_uri,
        origin,
        backend: config.session_backend.name(),
        csp,
    }));

    let router = Router::new()
        .route("/", get(home::index))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/me/tokens", get(tokens::show))
        .route("/auth/login", get(sign_in::login))
        .route("/auth/callback", get(sign_in::callback))
        .route("/auth/logout", post(sign_in::logout))
        .route("/heroes", post(heroes::create_hero))
        .route("/heroes/{id}/delete", post(heroes::delete_hero))
        .route("/todoitems", post(heroes::create_todo_item))
        .route("/todoitems/{id}/delete", post(heroes::delete_todo_item));
    // `/metrics` on the site's own port, when the process installed a
    // Prometheus recorder (`entra web` does, unless `--no-metrics`).
    let router = match entra_metrics::handle() {
        Some(metrics) => router.merge(entra_metrics::routes(metrics)),
        None => router,
    };
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn_with_state(app.clone(), protect_and_log))
        .layer(middleware::from_fn(entra_metrics::track))
        .with_state(app);
    Ok(Built { router, closers })
}

/// Adds the protective headers to every answer and writes the access log:
/// method, path (never the query: the callback's carries the code, C21),
/// status and duration; the request runs in its span ([`telemetry`]).
async fn protect_and_log(State(app): State<App>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = telemetry::server_span(&request);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    html::protect(response.headers_mut(), &app.csp);
    telemetry::record_status(&span, response.status());
    span.in_scope(|| {
        tracing::info!(
            target: "demo_web::access",
            %method,
            path = %path,
            status = response.status().as_u16(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request"
        );
    });
    response
}

async fn not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "<p>There is nothing at this address.</p>",
    )
}

async fn method_not_allowed() -> Response {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "<p>This address does not take that kind of request.</p>",
    )
}

/// The whole app as an axum router, to serve it yourself or nest it in
/// another server. Opens the session store and builds the sign-in client
/// (the identity provider is contacted at the first sign-in, not here).
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = demo_web::WebConfig::demo("http://localhost:9000");
/// let app = demo_web::router(config).await?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// axum::serve(listener, app).await?;
/// # Ok(()) }
/// ```
pub async fn router(config: WebConfig) -> Result<Router, Error> {
    Ok(build(config).await?.router)
}

/// A running web app.
///
/// ```no_run
/// use demo_web::{DemoWeb, WebConfig};
///
/// # async fn run() -> Result<(), demo_web::Error> {
/// let config = WebConfig::demo("http://localhost:9000");
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
/// let web = DemoWeb::start(config, listener).await?;
/// println!("open {}", web.url());
/// web.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DemoWeb {
    addr: SocketAddr,
    closers: Closers,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl DemoWeb {
    /// Opens the session store, builds the sign-in client, and serves on
    /// `listener`.
    ///
    /// Fails on an invalid configuration or a session store that cannot be
    /// opened; never because the identity provider or the API is not up yet.
    pub async fn start(config: WebConfig, listener: TcpListener) -> Result<Self, Error> {
        let backend = config.session_backend.name();
        let Built { router, closers } = build(config).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, sessions = backend, "heroes web app listening");
        Ok(DemoWeb {
            addr,
            closers,
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

    /// Stops accepting connections, lets requests in flight finish (up to
    /// five seconds), and closes the session store.
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
        if let Some(sqlite) = self.closers.sqlite.take() {
            sqlite.close().await;
        }
    }
}

impl Drop for DemoWeb {
    /// Stops serving at once (without waiting for requests in flight).
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}
