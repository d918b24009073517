// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::borrow::Cow;

use super::{collect, Input, Part};
use crate::testutil::view;
use crate::RequestView;

fn named<'a>(inputs: &'a [Input<'_>], part: Part, name: &str) -> Vec<&'a [u8]> {
    inputs
        .iter()
        .rev()
        .find(|i| i.part == part && i.name == name)
        .map(|i| i.views.iter().map(|v| &**v).collect())
        .unwrap_or_default()
}

#[test]
fn query_values_are_decoded_and_unusual_names_are_inputs_too() {
    let v = view(b"q=a%27+b&x%24ne=1", &[]);
    let inputs = collect(&v);
    let q: Vec<&[u8]> =
        inputs.iter().filter(|i| i.part == Part::Query && i.name == "q").map(|i| &*i.views[0]).collect();
    assert_eq!(q, vec![b"a' b".as_slice()], "a plain name is not an input");
    assert!(inputs.iter().any(|i| i.part == Part::Query && i.views[0] == Cow::Borrowed(b"x$ne".as_slice())));
}

#[test]
fn double_encoding_adds_views_until_no_escape_is_left() {
    let v = view(b"q=%252e%252e%252f", &[]);
    let inputs = collect(&v);
    let views: Vec<&[u8]> =
        inputs.iter().rev().find(|i| i.name == "q").map(|i| i.views.iter().map(|v| &**v).collect()).unwrap_or_default();
    assert_eq!(views, vec![b"%2e%2e%2f".as_slice(), b"../".as_slice()]);
}

#[test]
fn iis_unicode_escapes_decode_to_utf8_and_full_width_to_ascii() {
    let v = view(b"q=%u2215%uFF1C", &[]);
    let inputs = collect(&v);
    let views: Vec<&[u8]> =
        inputs.iter().rev().find(|i| i.name == "q").map(|i| i.views.iter().map(|v| &**v).collect()).unwrap_or_default();
    assert_eq!(views[0], "\u{2215}<".as_bytes());
}

#[test]
fn readable_base64_gets_a_decoded_view_and_random_tokens_do_not() {
    // "<script>alert(1)</script>" in Base64 without padding, and a `+` that a form turned into a space.
    let v =
        view(b"a=PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg&b=Pj4+IG9rPz8gZmluZQ==", &[("x-token", b"q8Zt3Kx0vYw9LmR2aQe7Tf")]);
    let inputs = collect(&v);
    let a = inputs.iter().rev().find(|i| i.name == "a").map(|i| i.views.clone()).unwrap_or_default();
    assert_eq!(a.last().map(|v| &**v), Some(b"<script>alert(1)</script>".as_slice()));
    let b = inputs.iter().rev().find(|i| i.name == "b").map(|i| i.views.clone()).unwrap_or_default();
    assert_eq!(b.last().map(|v| &**v), Some(b">>> ok?? fine".as_slice()));
    assert_eq!(named(&inputs, Part::Header, "x-token").len(), 1, "a random token stays one view");
}

#[test]
fn bodies_are_parsed_by_content_type() {
    let form = RequestView {
        body: Some(b"name=O%27Brien&comment=%3Cb%3E"),
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
        ..view(b"", &[])
    };
    let inputs = collect(&form);
    assert_eq!(named(&inputs, Part::Body, "comment").last().copied(), Some(b"<b>".as_slice()));

    let json = RequestView {
        body: Some(br#"{"user":{"name":"x","tags":["a","<i>"]},"n":5,"$where":"1"}"#),
        content_type: Some("application/json"),
        ..view(b"", &[])
    };
    let inputs = collect(&json);
    assert_eq!(named(&inputs, Part::Body, "/user/tags/1"), vec![b"<i>".as_slice()]);
    assert!(inputs.iter().any(|i| i.name == "/$where" && &*i.views[0] == b"$where"), "unusual keys are inputs");
    assert!(!inputs.iter().any(|i| &*i.views[0] == b"user"), "plain keys are not");
    assert!(!inputs.iter().any(|i| i.name == "/n" && &*i.views[0] == b"5"), "numbers carry no payload");

    let multipart = RequestView {
        body: Some(b"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"../a.php\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"g\"\r\n\r\nworld\r\n--XyZ--\r\n"),
        content_type: Some("multipart/form-data; boundary=\"XyZ\""),
        ..view(b"", &[])
    };
    let inputs = collect(&multipart);
    let f: Vec<&[u8]> = inputs.iter().filter(|i| i.name == "f").map(|i| &*i.views[0]).collect();
    assert_eq!(f, vec![b"../a.php".as_slice(), b"hello".as_slice()]);
    assert_eq!(named(&inputs, Part::Body, "g"), vec![b"world".as_slice()]);

    let text = RequestView { body: Some(b"<!ENTITY x>"), content_type: Some("application/xml"), ..view(b"", &[]) };
    assert_eq!(named(&collect(&text), Part::Body, ""), vec![b"<!ENTITY x>".as_slice()]);
}

#[test]
fn headers_and_cookies_are_inputs_and_the_cookie_header_is_not_one() {
    let v = view(b"", &[("user-agent", b"ua"), ("cookie", b"sid=a%20b")]);
    let inputs = collect(&v);
    assert_eq!(named(&inputs, Part::Header, "user-agent"), vec![b"ua".as_slice()]);
    assert!(named(&inputs, Part::Header, "cookie").is_empty());
    let sid: Vec<&[u8]> =
        inputs.iter().filter(|i| i.part == Part::Cookie && i.name == "sid").map(|i| &*i.views[0]).collect();
    assert_eq!(sid, vec![b"a b".as_slice()]);
}
