//! Fixtures: a real upstream server in the test process, and certificates.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;

/// A real HTTP/1.1 upstream in the test process. See `respond` for what each path does.
pub struct Upstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
}

impl Upstream {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        respond(req)
                    });
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), svc).await;
                });
            }
        });
        Self { addr, hits }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

type UpBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// `/slow…` waits 3 s; `/stream…` sends five chunks 100 ms apart; `/hop…` sends hop-by-hop
/// headers; `/cors…` sends its own CORS header; anything else echoes the request as JSON.
async fn respond(req: Request<Incoming>) -> Result<Response<UpBody>, Infallible> {
    let path = req.uri().path().to_owned();
    if path.contains("/slow") {
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    if path.contains("/stream") {
        let chunks = futures_util::stream::unfold(0u8, |i| async move {
            if i == 5 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((Ok::<_, Infallible>(Frame::data(Bytes::from(format!("chunk{i};")))), i + 1))
        });
        return Ok(Response::new(BodyExt::boxed(StreamBody::new(chunks))));
    }
    let method = req.method().to_string();
    let pq = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    let mut headers = BTreeMap::new();
    for (k, v) in req.headers() {
        headers.insert(k.to_string(), v.to_str().unwrap_or("").to_owned());
    }
    let mut body = req.into_body();
    let mut body_len = 0usize;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => body_len += f.data_ref().map_or(0, |d| d.len()),
            Err(_) => break,
        }
    }
    let echo = json!({ "method": method, "path": pq, "headers": headers, "body_len": body_len });
    let mut resp = Response::new(BodyExt::boxed(Full::new(Bytes::from(echo.to_string()))));
    resp.headers_mut().insert("content-type", http::HeaderValue::from_static("application/json"));
    if path.contains("/hop") {
        let h = resp.headers_mut();
        h.insert("connection", http::HeaderValue::from_static("x-hop-secret"));
        h.insert("x-hop-secret", http::HeaderValue::from_static("1"));
        h.insert("keep-alive", http::HeaderValue::from_static("timeout=5"));
        h.insert("x-kept", http::HeaderValue::from_static("1"));
    }
    if path.contains("/cors") {
        resp.headers_mut().insert("access-control-allow-origin", http::HeaderValue::from_static("*"));
    }
    Ok(resp)
}

/// A PEM certificate and key for `names`, signed by themselves.
pub fn self_signed(names: &[&str]) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("rcgen: {e}"));
    (ck.cert.pem(), ck.signing_key.serialize_pem())
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{e}"));
    p
}

/// The status code of a raw HTTP/1.1 response.
pub fn status_of(raw: &str) -> u16 {
    raw.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}
