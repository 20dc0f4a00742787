//! HTTPS for MSAL, which refuses `http` authorities: a local certificate
//! authority and a leaf certificate for `localhost`, `127.0.0.1`, `::1` and
//! the configured public host, generated on first start and kept in the
//! data directory (`tls/`, private like the rest of it). Trust the CA
//! (`{data}/tls/ca.pem`) in clients: `REQUESTS_CA_BUNDLE` for MSAL Python,
//! `NODE_EXTRA_CA_CERTS` for MSAL Node, `add_root_certificate` for reqwest.
//!
//! The CA carries critical name constraints: it may certify `localhost` and
//! its subdomains, `127.0.0.0/8`, `::1` and the public host, nothing else,
//! and no intermediate CA (path length 0). Trusting it cannot let anyone who
//! copies its key impersonate another site. A CA stored by an earlier
//! version, without these constraints, is replaced at start (logged).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use x509_parser::extensions::GeneralName;

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
    /// `public_host` is the host name endpoint URLs use, if not `localhost`
    /// or a loopback address: the CA may certify it too, and the leaf names it.
    ///
    /// A stored CA that does not parse, or whose name constraints are not
    /// those wanted (one made before the CA had any, or for another public
    /// host), is replaced, with its leaf, and a warning says clients must
    /// trust the new one.
    pub(crate) fn load_or_create(
        data_dir: Option<&Path>,
        public_host: Option<&str>,
    ) -> Result<Self, Error> {
        let names = Names::new(public_host);
        let dir = data_dir.map(|d| d.join("tls"));
        if let Some(dir) = &dir {
            crate::store::private_dir(dir)?;
        }
        let stored = dir.as_ref().and_then(|dir| {
            let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
            Some([
                read(FILES[0])?,
                read(FILES[1])?,
                read(FILES[2])?,
                read(FILES[3])?,
            ])
        });
        let stored = stored.filter(|files| {
            let current = names.constrains(&files[0]);
            if !current {
                tracing::warn!(
                    ca = %dir.as_deref().unwrap_or(Path::new("")).join(FILES[0]).display(),
                    "the stored local CA is unreadable or not limited to this emulator's \
                     names (localhost, loopback, the public host); replacing it: clients \
                     must trust the new CA certificate"
                );
            }
            current
        });
        let [ca_pem, _ca_key, leaf_pem, leaf_key] = match stored {
            Some(files) => files,
            None => {
                let files = generate(&names)?;
                if let Some(dir) = &dir {
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

/// The names the local CA may certify (its name constraints) and the leaf
/// names: `localhost` (and, by the rules of DNS name constraints, every
/// `*.localhost`), `127.0.0.0/8`, `::1`, and the configured public host.
/// A CA that leaks from the data directory cannot be used to impersonate
/// any other site to the clients that trust it.
#[derive(Debug)]
struct Names {
    dns: Vec<String>,
    ips: Vec<IpAddr>,
}

impl Names {
    fn new(public_host: Option<&str>) -> Self {
        let mut names = Names {
            dns: vec!["localhost".to_owned()],
            ips: vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
        };
        let host = public_host
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty());
        match host.map(|h| (h, h.parse::<IpAddr>())) {
            Some((_, Ok(ip))) if !ip.is_loopback() => names.ips.push(ip),
            Some((host, Err(_))) => {
                let host = host.trim_end_matches('.').to_ascii_lowercase();
                if host != "localhost" && !host.ends_with(".localhost") {
                    names.dns.push(host);
                }
            }
            _ => {}
        }
        names
    }

    /// The name constraints' permitted subtrees: each DNS name, loopback as
    /// `127.0.0.0/8` and `::1/128`, any other address alone.
    fn subtrees(&self) -> Vec<rcgen::GeneralSubtree> {
        let dns = self
            .dns
            .iter()
            .map(|d| rcgen::GeneralSubtree::DnsName(d.clone()));
        let ips = self.ips.iter().map(|ip| {
            let prefix = match ip {
                IpAddr::V4(v4) if v4.is_loopback() => 8,
                IpAddr::V4(_) => 32,
                IpAddr::V6(_) => 128,
            };
            let network = match ip {
                IpAddr::V4(v4) if v4.is_loopback() => Ipv4Addr::new(127, 0, 0, 0).into(),
                other => *other,
            };
            rcgen::GeneralSubtree::IpAddress(rcgen::CidrSubnet::from_addr_prefix(network, prefix))
        });
        dns.chain(ips).collect()
    }

    /// The subtrees as a comparable set: `dns:{name}` and `ip:{address and mask bytes}`.
    fn wanted(&self) -> BTreeSet<String> {
        self.subtrees()
            .iter()
            .filter_map(|subtree| match subtree {
                rcgen::GeneralSubtree::DnsName(name) => Some(format!("dns:{name}")),
                rcgen::GeneralSubtree::IpAddress(cidr) => {
                    Some(format!("ip:{:?}", cidr_bytes(cidr)))
                }
                _ => None,
            })
            .collect()
    }

    /// Whether `ca_pem` is a CA certificate whose name constraints permit
    /// exactly these names, and exclude nothing.
    fn constrains(&self, ca_pem: &str) -> bool {
        let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()) else {
            return false;
        };
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&pem.contents) else {
            return false;
        };
        let Ok(Some(constraints)) = cert.name_constraints() else {
            return false;
        };
        if constraints.value.excluded_subtrees.is_some() {
            return false;
        }
        let Some(permitted) = &constraints.value.permitted_subtrees else {
            return false;
        };
        let found: Option<BTreeSet<String>> = permitted
            .iter()
            .map(|subtree| match &subtree.base {
                GeneralName::DNSName(name) => Some(format!("dns:{name}")),
                GeneralName::IPAddress(bytes) => Some(format!("ip:{bytes:?}")),
                _ => None,
            })
            .collect();
        found.is_some_and(|found| found == self.wanted())
    }

    /// The leaf's subject alternative names.
    fn leaf_names(&self) -> Vec<String> {
        self.dns
            .iter()
            .cloned()
            .chain(self.ips.iter().map(IpAddr::to_string))
            .collect()
    }
}

/// A subnet's address and mask, as a name constraint encodes them.
fn cidr_bytes(cidr: &rcgen::CidrSubnet) -> Vec<u8> {
    match cidr {
        rcgen::CidrSubnet::V4(addr, mask) => addr.iter().chain(mask).copied().collect(),
        rcgen::CidrSubnet::V6(addr, mask) => addr.iter().chain(mask).copied().collect(),
    }
}

fn generate(names: &Names) -> Result<[String; 4], Error> {
    let err = CryptoError::TlsGeneration;
    let ca_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    // Critical name constraints: the CA certifies the emulator's names only.
    ca_params.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: names.subtrees(),
        excluded_subtrees: Vec::new(),
    });
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "entra-emulator local CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let ca_key_pem = ca_key.serialize_pem();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    // A CA:FALSE leaf: rustls refuses a CA certificate used as the server's own.
    let leaf_key = rcgen::KeyPair::generate().map_err(err)?;
    let mut leaf = rcgen::CertificateParams::new(names.leaf_names()).map_err(err)?;
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
