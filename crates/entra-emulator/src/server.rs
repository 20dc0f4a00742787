//! Starting and stopping the emulator, and its routes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Extension, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Directory;
use crate::endpoints::{devicecode, discovery, managed_identity, token};
use crate::error::ConfigError;
use crate::hosts::{self, AllowedHosts};
use crate::keys::KeyRing;
use crate::state::{Listener, RequestRecord, State as Shared, lock};
use crate::tls::{TlsListener, TlsMaterial};
use crate::{Error, admin, pages, request_log};

/// How to start an emulator.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Tenants, app registrations, users, settings.
    pub directory: Directory,
    /// Where keys, certificates, refresh tokens, consents and administrative
    /// changes are kept (`None`: in memory only). The directory is the
    /// emulator's own: created, or made, private (`0700`, files `0600`).
    pub data_dir: Option<PathBuf>,
    /// The plain-HTTP listener (`127.0.0.1:0` in tests; 9000 by default in the CLI).
    pub http_addr: SocketAddr,
    /// The HTTPS listener, if any (9443 by default in the CLI).
    pub https_addr: Option<SocketAddr>,
    /// The host name endpoint URLs use (`localhost` in the CLI; the bound IP
    /// when absent).
    pub public_host: Option<String>,
    /// The issuer's base URL (default: the HTTPS listener's base URL, or the
    /// HTTP one without HTTPS). Never taken from a request's `Host` header.
    pub issuer_base: Option<String>,
    /// Host names answered besides `localhost`, `*.localhost`, IP addresses,
    /// `public_host` and the issuer's host: a name, or `.example.com` for
    /// the domain and its subdomains. Any other `Host` is refused with 421
    /// on every route: a web page on a DNS-rebound name cannot read the
    /// emulator ([`admin`](crate::admin) explains who may call what).
    pub allowed_hosts: Vec<String>,
    /// The administration API's bearer token: when set, every `/_emulator/`
    /// request needs `Authorization: Bearer <token>`. Required when a
    /// listener binds a non-loopback address ([`ConfigError::AdminTokenRequired`](crate::error::ConfigError::AdminTokenRequired)).
    /// Library calls on [`Emulator`] need none.
    pub admin_token: Option<String>,
    /// The value the App Service-style managed-identity endpoint
    /// (`/msi/token`) requires in `X-IDENTITY-HEADER`, what `IDENTITY_HEADER`
    /// holds for the code calling it (`None`: a random value per start,
    /// [`Emulator::identity_header`]).
    pub identity_header: Option<String>,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field("directory", &self.directory)
            .field("data_dir", &self.data_dir)
            .field("http_addr", &self.http_addr)
            .field("https_addr", &self.https_addr)
            .field("public_host", &self.public_host)
            .field("issuer_base", &self.issuer_base)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("admin_token", &self.admin_token.as_ref().map(|_| "***"))
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl EmulatorConfig {
    /// An in-memory emulator on loopback with random ports (HTTP and HTTPS).
    pub fn for_tests(directory: Directory) -> Self {
        EmulatorConfig {
            directory,
            data_dir: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            https_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            public_host: None,
            issuer_base: None,
            allowed_hosts: Vec::new(),
            admin_token: None,
            identity_header: None,
        }
    }

    /// Checks the admin token and the allowed hosts; refuses a listener on a
    /// non-loopback address without an admin token.
    fn check(&self) -> Result<AllowedHosts, ConfigError> {
        if let Some(token) = &self.admin_token {
            let printable = |b: u8| b.is_ascii_graphic();
            if token.is_empty() || !token.bytes().all(printable) {
                return Err(ConfigError::AdminToken);
            }
        }
        if let Some(header) = &self.identity_header {
            if header.is_empty() || !header.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(ConfigError::IdentityHeader);
            }
        }
        if self.admin_token.is_none() {
            if let Some(addr) = std::iter::once(self.http_addr)
                .chain(self.https_addr)
                .find(|addr| !addr.ip().is_loopback())
            {
                return Err(ConfigError::AdminTokenRequired { addr });
            }
        }
        AllowedHosts::new(
            self.public_host.as_deref(),
            self.issuer_base.as_deref(),
            &self.allowed_hosts,
        )
    }
}

/// A running emulator. Dropping it stops the listeners.
#[derive(Debug)]
pub struct Emulator {
    pub(crate) state: Arc<Shared>,
    http_addr: SocketAddr,
    https_addr: Option<SocketAddr>,
    tls: Option<TlsMaterial>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Binds the listeners and starts serving.
    ///
    /// Refuses ([`Error::Config`]) an invalid directory, admin token or
    /// allowed host, and a listener on a non-loopback address without an
    /// admin token.
    pub async fn start(config: EmulatorConfig) -> Result<Self, Error> {
        config.directory.check()?;
        let hosts = Arc::new(config.check()?);
        if let Some(dir) = &config.data_dir {
            crate::store::private_dir(dir)?;
        }
        let directory = admin::apply_journal(config.directory.clone(), config.data_dir.as_deref())?;
        let now = crate::util::now();
        let tenant_ids: Vec<String> = directory
            .tenants
            .iter()
            .map(|t| t.tenant_id.clone())
            .collect();
        let grace = i64::try_from(directory.settings.key_rotation_grace).unwrap_or(i64::MAX);
        let keys = KeyRing::load(config.data_dir.as_deref(), &tenant_ids, grace, now)?;

        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| Error::Bind { addr, source })
        };
        let bound = |addr: SocketAddr, listener: &TcpListener| {
            listener
                .local_addr()
                .map_err(|source| Error::Bind { addr, source })
        };
        let http = bind(config.http_addr).await?;
        let http_addr = bound(config.http_addr, &http)?;
        let https = match config.https_addr {
            Some(addr) => {
                let listener = bind(addr).await?;
                let local = bound(addr, &listener)?;
                Some((listener, local))
            }
            None => None,
        };
        let https_addr = https.as_ref().map(|(_, addr)| *addr);
        let host = config
            .public_host
            .clone()
            .unwrap_or_else(|| match http_addr.ip() {
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            });
        let http_base = format!("http://{host}:{}", http_addr.port());
        let https_base = https_addr.map(|addr| format!("https://{host}:{}", addr.port()));
        // Entra's issuers are https, and MSAL Node insists that the issuer
        // share the authority's scheme and host: the HTTPS base when there is
        // one, else the HTTP base; never a request's Host header.
        let issuer_base = config
            .issuer_base
            .clone()
            .or_else(|| https_base.clone())
            .unwrap_or_else(|| http_base.clone())
            .trim_end_matches('/')
            .to_owned();
        let identity_header = config
            .identity_header
            .clone()
            .unwrap_or_else(|| crate::util::random_token(32));
        let state = Arc::new(Shared::new(
            directory,
            keys,
            config.data_dir.clone(),
            issuer_base,
            identity_header,
        )?);
        *state
            .http_base
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = http_base;

        let guards = Guards {
            hosts,
            admin: Arc::new(admin::AdminGuard::new(
                config.admin_token.clone(),
                state.clone(),
            )),
            home: Arc::new(pages::home::Home::new(config.admin_token.clone())),
        };
        let (shutdown, _) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut tls = None;
        if let Some((listener, addr)) = https {
            let material = TlsMaterial::load_or_create(
                config.data_dir.as_deref(),
                config.public_host.as_deref(),
            )?;
            *state
                .https_base
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = https_base.clone();
            let listener = TlsListener::new(listener, material.server_config.clone())
                .map_err(|source| Error::Bind { addr, source })?;
            tasks.push(serve(
                listener,
                router(state.clone(), Listener::Https, &guards),
                shutdown.subscribe(),
            ));
            tls = Some(material);
        }
        tasks.push(serve(
            http,
            router(state.clone(), Listener::Http, &guards),
            shutdown.subscribe(),
        ));
        tracing::info!(%http_addr, ?https_addr, "entra emulator listening");
        Ok(Emulator {
            state,
            http_addr,
            https_addr,
            tls,
            shutdown,
            tasks,
        })
    }

    /// `http://host:port` of the plain-HTTP listener.
    pub fn http_url(&self) -> String {
        self.state.base(Listener::Http)
    }

    /// `https://host:port` of the HTTPS listener.
    pub fn https_url(&self) -> Option<String> {
        self.https_addr.map(|_| self.state.base(Listener::Https))
    }

    /// The bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The bound HTTPS address.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        self.https_addr
    }

    /// The CA certificate (PEM) HTTPS clients must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// Where the CA certificate is stored (with a data directory).
    pub fn ca_path(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().and_then(|t| t.ca_path.as_deref())
    }

    /// `IDENTITY_ENDPOINT` for code that gets managed-identity tokens the
    /// App Service way: `{http base}/msi/token`.
    pub fn identity_endpoint(&self) -> String {
        format!(
            "{}{}",
            self.http_url(),
            crate::endpoints::managed_identity::APP_SERVICE_PATH
        )
    }

    /// `IDENTITY_HEADER`: the secret the App Service-style endpoint requires
    /// in `X-IDENTITY-HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.state.identity_header
    }

    /// The v2.0 issuer of tenant `tid`.
    pub fn issuer_v2(&self, tid: &str) -> String {
        self.state.issuer_v2(tid)
    }

    /// The v1.0 issuer of tenant `tid`.
    pub fn issuer_v1(&self, tid: &str) -> String {
        self.state.issuer_v1(tid)
    }

    /// The directory as it is now (with administrative changes).
    pub fn directory(&self) -> Directory {
        Directory::clone(&self.state.dir())
    }

    /// Every request received so far (bounded; secrets and tokens redacted).
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.state.log).iter().cloned().collect()
    }

    /// Shifts the emulator's clock by `seconds` (tokens issued and checked on it).
    pub fn set_clock_offset(&self, seconds: i64) {
        self.state.set_clock_offset(seconds);
    }

    /// Freezes the clock at `unix` seconds (`None`: real time again).
    pub fn set_clock(&self, unix: Option<i64>) {
        self.state.set_clock_fixed(unix);
    }

    /// The emulator's current time (Unix seconds).
    pub fn now(&self) -> i64 {
        self.state.now()
    }

    /// Rotates tenant `tid`'s signing key; returns the new `kid`. The old key
    /// stays published for the grace period (`settings.keyRotationGrace`).
    pub fn rotate_keys(&self, tid: &str) -> Result<String, Error> {
        self.state.keys.rotate(tid, self.state.now())
    }

    /// Stops the listeners and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn serve<L>(listener: L, app: Router, mut stop: watch::Receiver<bool>) -> JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
    })
}

/// What every request passes before its route: the `Host` allow-list, and
/// the administration API's gate.
#[derive(Debug, Clone)]
pub(crate) struct Guards {
    hosts: Arc<AllowedHosts>,
    admin: Arc<admin::AdminGuard>,
    /// The home page's forms and sessions (it honours the admin token too).
    home: Arc<pages::home::Home>,
}

/// Every route, for one listener. The `Host` is checked on every route
/// (inside the request log, which records refusals too); the
/// administration routes have their own gate ([`admin`]).
pub(crate) fn router(state: Arc<Shared>, listener: Listener, guards: &Guards) -> Router {
    Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery::v2),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(discovery::v1),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(discovery::keys_v2))
        .route("/{tenant}/discovery/keys", get(discovery::keys_v1))
        .route("/common/discovery/instance", get(discovery::instance))
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(token::endpoint::<false>)
                .options(token::preflight)
                .fallback(token::wrong_method)
                .layer(DefaultBodyLimit::max(token::MAX_BODY)),
        )
        .route(
            "/{tenant}/oauth2/token",
            post(token::endpoint::<true>)
                .options(token::preflight)
                .fallback(token::wrong_method)
                .layer(DefaultBodyLimit::max(token::MAX_BODY)),
        )
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(devicecode::endpoint::<false>),
        )
        .route(
            "/{tenant}/oauth2/devicecode",
            post(devicecode::endpoint::<true>),
        )
        .route(
            managed_identity::APP_SERVICE_PATH,
            any(managed_identity::app_service),
        )
        .route(managed_identity::IMDS_PATH, any(managed_identity::imds))
        .merge(pages::routes(guards.home.clone()))
        .merge(admin::routes(guards.admin.clone()))
        .merge(metrics_routes())
        .layer(middleware::from_fn_with_state(
            (guards.hosts.clone(), state.clone()),
            hosts::check,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), record))
        .layer(middleware::from_fn(crate::telemetry::trace))
        .layer(middleware::from_fn(entra_metrics::track))
        .layer(Extension(listener))
        .with_state(state)
}

/// `/metrics` on each listener, when the process installed a Prometheus
/// recorder (`entra emulator` does, unless `--no-metrics`).
fn metrics_routes() -> Router<Arc<Shared>> {
    match entra_metrics::handle() {
        Some(handle) => {
            crate::metrics::describe();
            entra_metrics::routes(handle)
        }
        None => Router::new(),
    }
}

/// Records each request (path, parameters redacted by allow-list and cut
/// short, status) in the log.
async fn record(State(state): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let method = request_log::capped(request.method().as_str());
    let path = request_log::capped(request.uri().path());
    let query = request.uri().query().unwrap_or_default().to_owned();
    // Administration bodies (users with passwords, secrets) are never read into the log.
    let is_form = !admin::is_admin_path(&path)
        && request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let (parts, body) = request.into_parts();
    let (bytes, request) = if is_form {
        match axum::body::to_bytes(body, token::MAX_BODY).await {
            Ok(bytes) => (bytes.clone(), Request::from_parts(parts, Body::from(bytes))),
            Err(_) => {
                return axum::response::IntoResponse::into_response(
                    crate::error::OAuthError::body_too_large(token::MAX_BODY),
                );
            }
        }
    } else {
        (bytes::Bytes::new(), Request::from_parts(parts, body))
    };
    let (params, omitted_params) = request_log::logged_params(
        url::form_urlencoded::parse(query.as_bytes()).chain(url::form_urlencoded::parse(&bytes)),
    );
    drop(bytes);
    let response = next.run(request).await;
    state.record(RequestRecord {
        time: state.now(),
        method,
        path,
        params,
        omitted_params,
        status: response.status().as_u16(),
        aadsts: response
            .extensions()
            .get::<crate::state::AadstsCode>()
            .map(|code| code.0),
    });
    response
}
