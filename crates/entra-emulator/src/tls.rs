//! HTTPS for MSAL, which refuses `http` authorities: a local certificate
//! authority and a leaf certificate for `localhost`, `127.0.0.1` and `::1`,
//! generated on first start and kept in the data directory. Trust the CA
//! (`{data}/tls/ca.pem`) in clients: `REQUESTS_CA_BUNDLE` for MSAL Python,
//! `NODE_EXTRA_CA_CERTS` for MSAL Node, `add_root_certificate` for reqwest.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::Error;
use crate::error::CryptoError;

/// The emulator's TLS identity.
#[derive(Debug, Clone)]
pub(crate) struct TlsMaterial {
    /// The CA certificate clients must trust (PEM).
    pub ca_pem: String,
    /// Where the CA certificate is stored, when there is a data directory.
    pub ca_path: Option<PathBuf>,
    pub(crate) server_config: Arc<rustls::ServerConfig>,
}

const FILES: [&str; 4] = ["ca.pem", "ca.key", "server.pem", "server.key"];

impl TlsMaterial {
    /// Loads the CA and leaf from `data_dir/tls`, or creates and stores them.
    pub(crate) fn load_or_create(data_dir: Option<&Path>) -> Result<Self, Error> {
        let dir = data_dir.map(|d| d.join("tls"));
        let stored = dir.as_ref().and_then(|dir| {
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
            Some([
                read(FILES[0])?,
                read(FILES[1])?,
                read(FILES[2])?,
                read(FILES[3])?,
            ])
        });
        let [ca_pem, _ca_key, leaf_pem, leaf_key] = match stored {
            Some(files) => files,
            None => {
                let files = generate()?;
                if let Some(dir) = &dir {
                    std::fs::create_dir_all(dir).map_err(|e| Error::storage(dir, e))?;
                    for (name, content) in FILES.iter().zip(&files) {
                        crate::store::write_atomically(&dir.join(name), content.as_bytes())?;
                    }
                }
                files
            }
        };
        // A file that does not parse is a storage error when it is in the
        // data directory; material just made in memory that does not parse
        // is a crypto error.
        let unreadable = |name: &str, e: pem::Error| match &dir {
            Some(dir) => Error::unreadable(dir.join(name), e),
            None => CryptoError::TlsPem(e).into(),
        };
        let certs = CertificateDer::pem_slice_iter(leaf_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(FILES[2], e))?;
        let key = PrivatePkcs8KeyDer::from_pem_slice(leaf_key.as_bytes())
            .map_err(|e| unreadable(FILES[3], e))?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(CryptoError::Tls)?
            .with_no_client_auth()
            .with_single_cert(certs, PrivateKeyDer::Pkcs8(key))
            .map_err(CryptoError::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsMaterial {
            ca_pem,
            ca_path: dir.map(|d| d.join(FILES[0])),
            server_config: Arc::new(config),
        })
    }
}

fn generate() -> Result<[String; 4], Error> {
    let err = CryptoError::TlsGeneration;
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "entra-emulator local CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    // A CA:FALSE leaf: rustls refuses a CA certificate used as the server's own.
    let leaf_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut leaf = rcgen::CertificateParams::new(vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ])
    .map_err(err)?;
    leaf.is_ca = rcgen::IsCa::NoCa;
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;
    Ok([
        ca_cert.pem(),
        ca_key_pem,
        leaf_cert.pem(),
        leaf_key.serialize_pem(),
    ])
}

/// A listener for `axum::serve` whose connections arrive already through the
/// TLS handshake. Handshakes run in their own tasks, so a slow or hostile
/// client never holds up the others.
#[derive(Debug)]
pub(crate) struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(crate) fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let Ok((socket, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(socket))
                        .await
                    {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            rx,
            local,
            acceptor_task,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            // The acceptor ended: nothing more will ever arrive.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
