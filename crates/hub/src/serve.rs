//! The hub's HTTP server: it accepts connections itself, so that no client
//! can hold more than its share of them.
//!
//! - A cap on open connections in all, and on those from one address: past
//!   either, a new connection is closed at once, so sockets held by one
//!   client never lock out `/v1/health` or enrolment for others.
//! - Request headers must arrive within [`ServerLimits::header_timeout`],
//!   counted from when the connection is ready for a request: an idle
//!   keep-alive connection is closed after it too.
//! - A response the client does not read within
//!   [`ServerLimits::write_timeout`] closes the connection.
//! - Bodies are read by the handlers, after authentication and at a minimum
//!   rate (see `read_body` in the crate root).
//!
//! The file limit is raised to the hard limit at start
//! ([`raise_file_limit`]); the connection caps stay below it.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// Limits on connections.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one address (a field office behind one
    /// router has a few dozen devices at most).
    pub per_address: usize,
    /// Time a client has to send a request's headers, and that an idle
    /// keep-alive connection is kept.
    pub header_timeout: Duration,
    /// Time a response may wait for the client to read it.
    pub write_timeout: Duration,
}

/// File descriptors kept free for the database, logs and accepting.
pub const RESERVED_FILES: u64 = 64;

impl ServerLimits {
    /// Limits for a process that may open `files` file descriptors.
    pub fn for_file_limit(files: u64) -> ServerLimits {
        let max_connections = files.saturating_sub(RESERVED_FILES).clamp(16, 16_384) as usize;
        ServerLimits {
            max_connections,
            per_address: 64.min(max_connections),
            header_timeout: Duration::from_secs(20),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the limit in force.
pub fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

/// Open connections per address; an entry goes when its last connection
/// does.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<AddressSlot> {
        let mut table = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = table.entry(ip).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut table = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = table.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// A connection's byte stream, plain or TLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send> Io for T {}

/// The TLS acceptor for a certificate chain and its private key (PEM
/// files), as `relevo-hub serve --tls-cert --tls-key` reads them, and the
/// fingerprint of the chain's first certificate (the one devices pin).
pub fn tls_acceptor(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<(tokio_rustls::TlsAcceptor, [u8; 32]), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("{}: not a PEM certificate chain ({e})", cert.display()))?;
    let first = chain
        .first()
        .ok_or_else(|| format!("{}: holds no certificate", cert.display()))?;
    let pin = relevo_sync::tls::fingerprint(first.as_ref());
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: not a PEM private key ({e})", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| format!("the certificate and key do not make a TLS identity: {e}"))?;
    Ok((
        tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)),
        pin,
    ))
}

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting, lets requests under way finish (up to ten seconds) and
/// returns. Each request carries the peer's address as
/// [`ConnectInfo<std::net::SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection refused: the hub is at its connection cap");
            continue;
        };
        let Some(slot) = per_address.take(peer.ip(), limits.per_address) else {
            tracing::debug!(%peer, "connection refused: too many from this address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout));
        let stream = Box::pin(stream);
        let tls = tls.clone();
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let mut stopping = stopping.clone();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
            // The TLS handshake, in the connection's own task and within the
            // time a client has for its headers.
            let io: Pin<Box<dyn Io>> = match tls {
                None => stream,
                Some(acceptor) => {
                    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => Box::pin(tls),
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
            };
            let io = TokioIo::new(io);
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(64 << 10)
                .serve_connection(io, service);
            tokio::pin!(connection);
            let result = tokio::select! {
                r = connection.as_mut() => r,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let all = limits.max_connections.min(u32::MAX as usize) as u32;
    let _ = tokio::time::timeout(Duration::from_secs(10), open.acquire_many(all)).await;
    Ok(())
}
