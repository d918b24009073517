//! Accepting connections: TLS handshakes with a deadline, HTTP/1.1 and HTTP/2 by ALPN, a cap on
//! open connections, and a bounded drain at shutdown. Used for the API listener and the admin
//! listener alike; the plain-HTTP redirect listener is here too.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body::Body;
use hyper::body::Incoming;
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use telemetry::{HandshakeResult, Metrics};
use tokio::net::TcpListener;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::LazyConfigAcceptor;

use crate::body::{self, ResBody};
use crate::client_cert::ClientCert;
use crate::ctx::ConnInfo;
use crate::domains::TlsSelector;
use crate::framing::{FramingFlags, Watched};
use crate::reject::BoxError;

/// How a listener treats its connections.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `api` or `admin`, for metrics and logs.
    pub name: &'static str,
    /// Deadline for the TLS handshake and for each request head.
    pub header_read_timeout: Duration,
    /// The configured header limit; the HTTP codec gets headroom above it so that the gateway,
    /// not the codec, answers most oversized requests with a typed response.
    pub max_header_bytes: usize,
    /// The configured header-count limit (same headroom).
    pub max_headers: usize,
    /// Most open connections.
    pub max_connections: usize,
    /// How long to let requests in flight finish at shutdown.
    pub drain_timeout: Duration,
}

/// Serves TLS connections from `listener` until `shutdown` turns true, then drains.
pub async fn serve_tls<M, S, B>(
    listener: TcpListener,
    tls: Arc<TlsSelector>,
    opts: ServeOptions,
    metrics: Arc<Metrics>,
    make_service: M,
    mut shutdown: watch::Receiver<bool>,
) where
    M: Fn(Arc<ConnInfo>) -> S + Clone + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let graceful = GracefulShutdown::new();
    let builder = http_builder(&opts);
    while let Some((permit, tcp, peer)) = next_connection(&listener, &slots, &mut shutdown, opts.name).await {
        let _ = tcp.set_nodelay(true);
        let conn = Accepted {
            tls: tls.clone(),
            metrics: metrics.clone(),
            builder: builder.clone(),
            timeout: opts.header_read_timeout,
            name: opts.name,
        };
        let watcher = graceful.watcher();
        let make = make_service.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some((stream, info)) = conn.handshake(tcp, peer).await else { return };
            conn.metrics.connection_opened();
            let served = watcher
                .watch(conn.builder.serve_connection(TokioIo::new(stream), make(Arc::new(info))).into_owned())
                .await;
            conn.metrics.connection_closed();
            if let Err(e) = served {
                tracing::debug!(listener = conn.name, %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!(listener = opts.name, open = graceful.count(), "draining connections");
    if tokio::time::timeout(opts.drain_timeout, graceful.shutdown()).await.is_err() {
        tracing::warn!(listener = opts.name, "drain timeout reached; closing the remaining connections");
    }
}

/// Waits for a free connection slot, then for the next connection. `None` once shutdown
/// starts. Accept errors (usually: out of file descriptors) back off instead of spinning.
async fn next_connection(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    shutdown: &mut watch::Receiver<bool>,
    name: &'static str,
) -> Option<(OwnedSemaphorePermit, tokio::net::TcpStream, SocketAddr)> {
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.ok()?,
            _ = shutdown.changed() => return None,
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => return None,
        };
        match accepted {
            Ok((tcp, peer)) => return Some((permit, tcp, peer)),
            Err(e) => {
                tracing::warn!(listener = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// What a connection task needs to finish accepting.
struct Accepted {
    tls: Arc<TlsSelector>,
    metrics: Arc<Metrics>,
    builder: auto::Builder<TokioExecutor>,
    timeout: Duration,
    name: &'static str,
}

impl Accepted {
    /// Completes the TLS handshake within the deadline, counting the result. The server config
    /// is chosen by the SNI of the ClientHello: custom domains have their own versions and
    /// client-certificate verifiers.
    async fn handshake(
        &self,
        tcp: tokio::net::TcpStream,
        peer: SocketAddr,
    ) -> Option<(Watched<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>, ConnInfo)> {
        let accept = async {
            let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp).await?;
            if let Some(validation) = self.tls.acme_validation(&start.client_hello()) {
                // The CA only checks the certificate; the connection carries nothing after.
                drop(start.into_stream(validation).await?);
                return Err(std::io::Error::other("ACME TLS-ALPN-01 validation handshake"));
            }
            let sni = start.client_hello().server_name().map(str::to_owned);
            let Some(endpoint) = self.tls.select(sni.as_deref()) else {
                return Err(std::io::Error::other(format!("no domain serves SNI {sni:?}")));
            };
            Ok((start.into_stream(endpoint.config).await?, endpoint.domain, endpoint.hsts))
        };
        let (stream, domain, hsts) = match tokio::time::timeout(self.timeout, accept).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                self.metrics.handshake(self.name, HandshakeResult::Failed);
                tracing::debug!(listener = self.name, %peer, error = %e, "TLS handshake failed");
                return None;
            }
            Err(_) => {
                self.metrics.handshake(self.name, HandshakeResult::Failed);
                tracing::debug!(listener = self.name, %peer, "TLS handshake timed out");
                return None;
            }
        };
        self.metrics.handshake(self.name, HandshakeResult::Ok);
        let (_, session) = stream.get_ref();
        let tls_version = match session.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            _ => "TLSv1.2",
        };
        let h2 = session.alpn_protocol() == Some(b"h2");
        let framing = (!h2).then(|| Arc::new(FramingFlags::default()));
        let cipher_suite = session.negotiated_cipher_suite().and_then(|c| c.suite().as_str()).unwrap_or("");
        let sni = session.server_name().map(str::to_owned);
        let client_cert = session.peer_certificates().and_then(|c| c.first()).and_then(ClientCert::parse).map(Arc::new);
        let info =
            ConnInfo { peer, tls_version, cipher_suite, sni, framing: framing.clone(), domain, hsts, client_cert };
        Some((Watched::new(stream, framing), info))
    }
}

fn http_builder(opts: &ServeOptions) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout)
        .max_buf_size((opts.max_header_bytes * 4).max(16 * 1024))
        .max_headers(opts.max_headers * 2)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(opts.max_header_bytes * 4).unwrap_or(u32::MAX))
        .max_concurrent_streams(256)
        .keep_alive_interval(Duration::from_secs(30));
    b
}

/// Serves the plain-HTTP listener: every request gets a 308 to the same path and query on
/// HTTPS at `https_port`. A `Host` that is not a plain host name gets a 400.
pub async fn serve_redirect(
    listener: TcpListener,
    https_port: u16,
    challenges: Arc<crate::certificates::Challenges>,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = hyper::server::conn::http1::Builder::new();
    let slots = Arc::new(Semaphore::new(REDIRECT_MAX_CONNECTIONS));
    while let Some((permit, tcp, _)) = next_connection(&listener, &slots, &mut shutdown, "redirect").await {
        let challenges = challenges.clone();
        let conn =
            builder.clone().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10)).serve_connection(
                TokioIo::new(tcp),
                hyper::service::service_fn(move |req| {
                    let answer = acme_answer(&req, &challenges).unwrap_or_else(|| redirect(&req, https_port));
                    async move { Ok::<_, std::convert::Infallible>(answer) }
                }),
            );
        tokio::spawn(async move {
            let _permit = permit;
            let _ = conn.await;
        });
    }
}

/// Most open connections on the redirect listener, which serves nothing worth more.
const REDIRECT_MAX_CONNECTIONS: usize = 1024;

/// An ACME HTTP-01 token's answer (RFC 8555 §8.3), while its order is under way.
fn acme_answer<B>(req: &Request<B>, challenges: &crate::certificates::Challenges) -> Option<Response<ResBody>> {
    let token = req.uri().path().strip_prefix("/.well-known/acme-challenge/")?;
    let answer = challenges.http01(token)?;
    let mut resp = Response::new(body::full(answer));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/octet-stream"));
    Some(resp)
}

/// The redirect for one request.
pub(crate) fn redirect<B>(req: &Request<B>, https_port: u16) -> Response<ResBody> {
    let host = req.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).map(host_only);
    let target = host.filter(|h| is_host(h)).map(|h| {
        let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
        let pq = req.uri().path_and_query().map_or("/", |p| p.as_str());
        format!("https://{h}{port}{pq}")
    });
    let mut resp = Response::new(body::empty());
    match target.and_then(|t| http::HeaderValue::from_str(&t).ok()) {
        Some(location) => {
            *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
            resp.headers_mut().insert(http::header::LOCATION, location);
        }
        None => *resp.status_mut() = StatusCode::BAD_REQUEST,
    }
    resp
}

fn host_only(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| &host[..=h.len()]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

fn is_host(h: &str) -> bool {
    if let Some(inner) = h.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !h.is_empty() && h.len() <= 253 && h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use http::Request;

    use super::redirect;

    fn go(host: &str, pq: &str, port: u16) -> (u16, Option<String>) {
        let req = Request::builder().uri(pq).header("host", host).body(()).unwrap_or_default();
        let r = redirect(&req, port);
        (r.status().as_u16(), r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned))
    }

    #[test]
    fn redirects_keep_path_and_query() {
        assert_eq!(
            go("example.com:8080", "/a/b?x=1&y=2", 8443),
            (308, Some("https://example.com:8443/a/b?x=1&y=2".into()))
        );
        assert_eq!(go("example.com", "/", 443), (308, Some("https://example.com/".into())));
        assert_eq!(go("[::1]:8080", "/p", 8443), (308, Some("https://[::1]:8443/p".into())));
        assert_eq!(go("evil.com/x", "/", 443).0, 400);
        assert_eq!(go("a b", "/", 443).0, 400);
    }
}
