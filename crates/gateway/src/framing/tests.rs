use std::sync::Arc;

use super::{FramingFlags, Scanner};

/// Feeds `stream` in pieces of every size from 1 to 7 bytes, then returns which of the first
/// `n` requests are flagged.
fn flagged(stream: &str, n: usize) -> Vec<bool> {
    let mut results = Vec::new();
    for piece in 1..=7 {
        let flags = Arc::new(FramingFlags::default());
        let mut s = Scanner::new(flags.clone());
        for chunk in stream.as_bytes().chunks(piece) {
            s.feed(chunk);
        }
        let got: Vec<bool> = (0..n).map(|_| flags.next_request_is_ambiguous()).collect();
        if let Some(prev) = results.last() {
            assert_eq!(prev, &got, "piece size {piece} disagrees");
        }
        results.push(got);
    }
    results.pop().unwrap_or_default()
}

#[test]
fn clean_keep_alive_requests_pass() {
    let s = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n\
             POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
             POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n\
             GET /d HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_eq!(flagged(s, 4), vec![false; 4]);
}

#[test]
fn content_length_with_transfer_encoding_is_flagged_in_either_order() {
    for head in [
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\ncontent-length: 4\r\n\r\n",
    ] {
        let s = format!("GET / HTTP/1.1\r\nHost: x\r\n\r\n{head}0\r\n\r\n");
        assert_eq!(flagged(&s, 2), vec![false, true], "{head}");
    }
}

#[test]
fn duplicate_content_length_is_flagged_even_when_equal() {
    let s = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(flagged(s, 1), vec![true]);
}

#[test]
fn invalid_chunking_is_flagged() {
    for body in ["zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "5\nhello\r\n0\r\n\r\n"] {
        let s = format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{body}");
        assert_eq!(flagged(&s, 1), vec![true], "{body:?}");
    }
}

#[test]
fn blank_lines_and_bare_line_feeds_do_not_blind_the_watcher() {
    // Leading empty lines (skipped by the codec) before an ambiguous request.
    let s = "\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(flagged(s, 1), vec![true]);
    // An extra CRLF after a body, then an ambiguous request.
    let s = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\r\n\
             POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(flagged(s, 2), vec![false, true]);
    // Heads with bare LF line ends, which the codec accepts.
    let s = "GET / HTTP/1.1\nHost: x\n\nPOST / HTTP/1.1\nHost: x\nContent-Length: 1\nTransfer-Encoding: chunked\n\n0\r\n\r\n";
    assert_eq!(flagged(s, 2), vec![false, true]);
}
