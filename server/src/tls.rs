//! HTTPS for `gridsync serve` (ADR 0036): the certificate and key read from PEM files and swapped
//! in place on SIGHUP without closing the listener, connections accepted off the accept loop (a
//! slow handshake never holds up the next client), a plain HTTP request answered `400
//! tls_required` and closed, and HSTS and `Secure` cookies on every response.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The configuration keys (and flags, with dashes) an error names.
pub const CERT_KEY: &str = "tls_cert";
pub const KEY_KEY: &str = "tls_key";

/// A client gets this long to say hello and finish the handshake (or to send its plain request).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more wait in the kernel's backlog.
const MAX_HANDSHAKES: usize = 256;
/// A TLS connection opens with a handshake record; anything else is not TLS.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// One year: browsers then refuse plain HTTP to this host even when a link says `http://`.
pub const HSTS: &str = "max-age=31536000";

/// A certificate or key that cannot be used, naming its configuration key. The reason never
/// quotes the key file's contents.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("{given} is set but {missing} is not: give both or neither")]
    Half {
        given: &'static str,
        missing: &'static str,
    },
    #[error("{key} {}: {reason}", path.display())]
    Unusable {
        key: &'static str,
        path: PathBuf,
        reason: String,
    },
}

/// Where the certificate chain and its private key are (PEM files).
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// Both settings or neither: one without the other is a mistake, not plain HTTP.
    pub fn from_settings(
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
    ) -> Result<Option<CertFiles>, CertError> {
        match (cert, key) {
            (Some(cert), Some(key)) => Ok(Some(CertFiles { cert, key })),
            (None, None) => Ok(None),
            (Some(_), None) => Err(CertError::Half {
                given: CERT_KEY,
                missing: KEY_KEY,
            }),
            (None, Some(_)) => Err(CertError::Half {
                given: KEY_KEY,
                missing: CERT_KEY,
            }),
        }
    }

    /// Reads both files and checks the key is the certificate's.
    pub fn load(&self) -> Result<CertifiedKey, CertError> {
        let cert_error = |reason: String| CertError::Unusable {
            key: CERT_KEY,
            path: self.cert.clone(),
            reason,
        };
        let key_error = |reason: String| CertError::Unusable {
            key: KEY_KEY,
            path: self.key.clone(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(&read(&self.cert).map_err(cert_error)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| cert_error(format!("not a PEM certificate chain: {e}")))?;
        if chain.is_empty() {
            return Err(cert_error(
                "no `BEGIN CERTIFICATE` block in the file".into(),
            ));
        }
        // The parser's own error could quote a line of the key file: not repeated.
        let key =
            PrivateKeyDer::from_pem_slice(&read(&self.key).map_err(key_error)?).map_err(|_| {
                key_error("no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file".into())
            })?;
        CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => {
                key_error(format!("not the key of the certificate in {CERT_KEY}"))
            }
            rustls::Error::InvalidCertificate(e) => {
                cert_error(format!("unusable certificate: {e:?}"))
            }
            _ => key_error("a private key of a kind this server cannot use".into()),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))
}

/// ring, the provider the rest of the workspace's rustls already uses.
fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The certificate in use, swapped whole by [`ServingCert::reload`]: handshakes after it
/// present the new one, connections already open keep theirs.
#[derive(Debug)]
pub struct ServingCert {
    files: CertFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServingCert {
    pub fn load(files: CertFiles) -> Result<Arc<ServingCert>, CertError> {
        let current = RwLock::new(Arc::new(files.load()?));
        Ok(Arc::new(ServingCert { files, current }))
    }

    /// Rereads the files; when they cannot be used the certificate in use stays.
    pub fn reload(&self) -> Result<(), CertError> {
        let fresh = Arc::new(self.files.load()?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    /// The rustls configuration that presents this certificate (HTTP/1.1).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ServingCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

/// A TCP listener whose connections come out as finished TLS sessions, for `axum::serve`.
/// Handshakes run in their own tasks; the accepting task ends when this is dropped.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener {
            ready,
            local,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task is gone only when this listener is being dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, addr) = match tcp.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let session =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(stream, &acceptor)).await;
            drop(slot);
            match session {
                Ok(Some(tls)) => {
                    let _ = ready.send((tls, addr)).await;
                }
                Ok(None) => {}
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

/// The TLS session, or `None` when the client spoke plain HTTP (answered and closed) or the
/// handshake failed.
async fn handshake(stream: TcpStream, acceptor: &TlsAcceptor) -> Option<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await.ok()? == 0 {
        return None;
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        refuse_plain(stream).await;
        return None;
    }
    match acceptor.accept(stream).await {
        Ok(tls) => Some(tls),
        Err(e) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
    }
}

/// Answers a plain HTTP request with `400 tls_required` and closes. The request head is read
/// first: closing with it unread would reset the connection before the client saw the answer.
async fn refuse_plain(mut stream: TcpStream) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while head.len() < 16 * 1024 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let body = serde_json::json!({
        "code": "tls_required",
        "message": "此服务器只接受 HTTPS，请使用 https:// 地址 (this server speaks HTTPS only: use https://)",
    })
    .to_string();
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(answer.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
        // Whatever body followed the head is drained, briefly, for the same reason.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
    }
}

/// What every response of a server speaking HTTPS carries: HSTS, and its cookies marked
/// `Secure`, so a browser never sends the console's session over plain HTTP.
pub async fn https_only(mut resp: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = resp.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static(HSTS),
    );
    if let header::Entry::Occupied(cookies) = headers.entry(header::SET_COOKIE) {
        let (_, values) = cookies.remove_entry_mult();
        let marked: Vec<HeaderValue> = values
            .map(|v| {
                let text = v.to_str().unwrap_or_default();
                if text.is_empty() || text.to_ascii_lowercase().contains("; secure") {
                    return v;
                }
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(v)
            })
            .collect();
        for v in marked {
            headers.append(header::SET_COOKIE, v);
        }
    }
    resp
}
