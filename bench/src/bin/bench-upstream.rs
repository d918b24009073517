#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark harness")]
//! The upstream `bench/compare.sh` puts behind both Portcullis and nginx: plain HTTP/1.1 with
//! keep-alive on `127.0.0.1:<port>`, answering every request with `200`, `content-type:
//! application/json` and the same small JSON body — except `POST /authorize`, which answers as
//! a custom-authorizer function allowing API `bench` (`CASE=authorizer`), and the OpenID
//! provider of `CASE=jwt`: `/.well-known/openid-configuration`, `/jwks` (one P-256 key made at
//! start) and `/token` (an access token for audience `bench` with scope `bench/read`). One
//! thread, nothing else: it must never be the bottleneck.
//!
//! ```text
//! bench-upstream 18081
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use portcullis_bench::jwt_issuer::Issuer;
use tokio::net::TcpListener;

/// The body of every answer (62 bytes).
const BODY: &[u8] = br#"{"ok":true,"service":"bench-upstream","message":"hello world"}"#;

fn main() {
    let Some(port) = std::env::args().nth(1).and_then(|p| p.parse::<u16>().ok()) else {
        eprintln!("usage: bench-upstream PORT");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let issuer = Issuer::new("bench-es256").expect("a P-256 key");
    let _ = PROVIDER.set(Provider { iss: format!("http://127.0.0.1:{port}"), issuer });
    rt.block_on(serve(SocketAddr::from(([127, 0, 0, 1], port))));
}

/// The OpenID provider this upstream also plays.
struct Provider {
    iss: String,
    issuer: Issuer,
}

static PROVIDER: std::sync::OnceLock<Provider> = std::sync::OnceLock::new();

/// The provider's documents: discovery, keys, and a fresh token.
fn provider_document(path: &str) -> Option<Vec<u8>> {
    let p = PROVIDER.get()?;
    let text = match path {
        "/.well-known/openid-configuration" => {
            format!(r#"{{"issuer":"{0}","jwks_uri":"{0}/jwks"}}"#, p.iss)
        }
        "/jwks" => p.issuer.jwks(),
        "/token" => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
            p.issuer.access_token(&p.iss, "bench", "bench/read", now).ok()?
        }
        _ => return None,
    };
    Some(text.into_bytes())
}

async fn serve(addr: SocketAddr) {
    let listener = TcpListener::bind(addr).await.unwrap_or_else(|e| {
        eprintln!("bench-upstream: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    eprintln!("bench-upstream: listening on http://{addr}");
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("bench-upstream: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let _ =
                http1::Builder::new().keep_alive(true).serve_connection(TokioIo::new(tcp), service_fn(answer)).await;
        });
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if req.method() == hyper::Method::POST && req.uri().path() == "/authorize" {
        Bytes::from_static(portcullis_bench::AUTHORIZER_ANSWER.as_bytes())
    } else if let Some(doc) = provider_document(req.uri().path()) {
        Bytes::from(doc)
    } else {
        Bytes::from_static(BODY)
    };
    let mut resp = Response::new(Full::new(body));
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}
