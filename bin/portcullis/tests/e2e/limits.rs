//! Hostile input: oversized heads and bodies, ambiguous framing, slow clients. Each gets the
//! right gateway response, never a 500, and framing errors close the connection.

use std::time::Duration;

use crate::harness::{status_of, Gw, Upstream};

fn config(up: &Upstream) -> String {
    format!(
        r#"
limits:
  max_body_bytes: 1000
  body_read_timeout: 1s
  header_read_timeout: 2s
apis:
  - name: l
    routes:
      - route: ANY /{{proxy+}}
        integration: {{type: http, url: "{u}/{{proxy}}"}}
      - route: POST /mock
        integration: {{type: mock, body: ok}}
"#,
        u = up.url()
    )
}

fn head(extra: &str) -> String {
    format!("POST /echo HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n")
}

#[tokio::test]
async fn oversized_header_blocks_and_too_many_headers_get_431() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up));
    let c = gw.client_builder().http1_only().build().unwrap();
    let r = c.get(gw.url("/echo")).header("x-big", "a".repeat(20 * 1024)).send().await.unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(r.headers()["x-amzn-errortype"], "RequestHeaderFieldsTooLargeException");
    let mut req = c.get(gw.url("/echo"));
    for i in 0..150 {
        req = req.header(format!("x-h{i}"), "v");
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 431);
    // Far beyond the limit the HTTP codec answers before the gateway sees the request.
    let (resp, closed) = gw
        .raw(format!("GET /echo HTTP/1.1\r\nHost: localhost\r\nx-huge: {}\r\n\r\n", "b".repeat(200 * 1024)).as_bytes())
        .await;
    assert_eq!(status_of(&resp), 431, "{resp}");
    assert!(closed);
    // Over HTTP/2 too.
    let r = gw.client().get(gw.url("/echo")).header("x-big", "a".repeat(20 * 1024)).send().await.unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn bodies_over_the_limit_get_413_without_being_buffered() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up));
    // Declared too large: refused at once, before any body byte is sent.
    let (resp, closed) = gw.raw(head("Content-Length: 5000\r\n").as_bytes()).await;
    assert_eq!(status_of(&resp), 413, "{resp}");
    assert!(resp.contains("RequestTooLargeException") && closed, "{resp}");
    // Chunked and too large: refused while streaming.
    let chunk = format!("{:x}\r\n{}\r\n", 600, "x".repeat(600));
    let req = format!("{}{chunk}{chunk}0\r\n\r\n", head("Transfer-Encoding: chunked\r\n"));
    let (resp, closed) = gw.raw(req.as_bytes()).await;
    assert_eq!(status_of(&resp), 413, "{resp}");
    assert!(closed);
    // Within the limit: passes.
    let r = gw.client().post(gw.url("/echo")).body(vec![1u8; 900]).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn ambiguous_framing_gets_400_and_a_closed_connection() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up));
    let cases = [
        ("CL then TE", head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n"),
        ("TE then CL", head("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") + "0\r\n\r\n"),
        ("duplicate equal CL", head("Content-Length: 5\r\nContent-Length: 5\r\n") + "hello"),
        ("duplicate different CL", head("Content-Length: 5\r\nContent-Length: 6\r\n") + "hello!"),
        ("malformed CL", head("Content-Length: 5x\r\n") + "hello"),
        ("bad chunk size", head("Transfer-Encoding: chunked\r\n") + "zz\r\nhello\r\n0\r\n\r\n"),
        ("bad chunk end", head("Transfer-Encoding: chunked\r\n") + "5\r\nhelloXX0\r\n\r\n"),
        ("blank lines first", "\r\n\r\n".to_owned() + &head("Content-Length: 5\r\nContent-Length: 5\r\n") + "hello"),
        (
            "bare line feeds",
            "POST /echo HTTP/1.1\nHost: localhost\nContent-Length: 1\nTransfer-Encoding: chunked\n\n0\r\n\r\n"
                .to_owned(),
        ),
    ];
    for (name, req) in cases {
        // A clean request first on the same connection: the verdict must hit the right one.
        let pipelined = format!("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n{req}");
        let (resp, closed) = gw.raw(pipelined.as_bytes()).await;
        let second = resp.split("HTTP/1.1 ").nth(2).map(|r| format!("HTTP/1.1 {r}")).unwrap_or_default();
        assert_eq!(status_of(&resp), 200, "{name}: the first request is fine: {resp}");
        assert_eq!(status_of(&second), 400, "{name}: {resp}");
        assert!(closed, "{name}: the connection must be closed");
    }
    // The same on a mock route, which never reads the body.
    let req = format!(
        "{}0\r\n\r\n",
        "POST /mock HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let (resp, closed) = gw.raw(req.as_bytes()).await;
    assert_eq!(status_of(&resp), 400, "{resp}");
    assert!(closed);
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up));
    // A body that stalls: 408 once body_read_timeout passes.
    let (resp, closed) =
        gw.raw_steps(&[head("Content-Length: 10\r\n").as_bytes(), b"ab"], Duration::from_millis(100)).await;
    assert_eq!(status_of(&resp), 408, "{resp}");
    assert!(resp.contains("RequestTimeoutException") && closed, "{resp}");
    // A head that never ends: the connection is closed after header_read_timeout.
    let (resp, closed) = gw.raw(b"GET /echo HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await;
    assert!(closed, "slow-loris connection left open: {resp}");
    assert_eq!(up.hits(), 1, "only the stalled body reached the upstream");
}

#[tokio::test]
async fn http2_bodies_over_the_limit_get_413_too() {
    let up = Upstream::start().await;
    let gw = Gw::start(&config(&up));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..4).map(|_| Ok(vec![b'x'; 600])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = gw.client().post(gw.url("/echo")).body(body).send().await.unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["x-amzn-errortype"], "RequestTooLargeException");
}
