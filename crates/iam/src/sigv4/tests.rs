//! Unit tests, and every case of the AWS signing test suite (`corpus/sigv4` in the shared
//! folder beside the checkout): each signed request is accepted at its timestamp and refused
//! once any signed part changes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest as _, Sha256};

use super::*;

/// A request read from a suite file.
#[derive(Clone, Debug)]
struct Raw {
    method: String,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn parse(text: &str) -> Self {
        let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
        let mut lines = head.lines();
        let start = lines.next().unwrap();
        let start = start.strip_suffix(" HTTP/1.1").unwrap();
        let (method, target) = start.split_once(' ').unwrap();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        // Folded continuation lines join the previous value with one space.
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = fields.last_mut().unwrap();
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else {
                let (k, v) = line.split_once(':').unwrap();
                fields.push((k.to_owned(), v.to_owned()));
            }
        }
        let mut headers = HeaderMap::new();
        for (k, v) in fields {
            headers
                .append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        Self { method: method.to_owned(), path, query, headers, body: body.as_bytes().to_vec() }
    }

    fn view(&self) -> Request<'_> {
        Request {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            authority: None,
        }
    }

    fn payload_hash(&self) -> String {
        hex::encode(Sha256::digest(&self.body))
    }
}

struct Case {
    name: String,
    dir: PathBuf,
    secret: String,
    region: String,
    service: String,
    now: i64,
    normalize: bool,
}

fn corpus() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/sigv4");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("the signing suite at {}: {e}", root.display())) {
        let dir = entry.unwrap().path();
        let Ok(ctx) = std::fs::read_to_string(dir.join("context.json")) else { continue };
        let ctx: serde_json::Value = serde_json::from_str(&ctx).unwrap();
        let ts = ctx["timestamp"].as_str().unwrap();
        let now = ::time::OffsetDateTime::parse(ts, &::time::format_description::well_known::Rfc3339).unwrap();
        cases.push(Case {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            secret: ctx["credentials"]["secret_access_key"].as_str().unwrap().to_owned(),
            region: ctx["region"].as_str().unwrap().to_owned(),
            service: ctx["service"].as_str().unwrap().to_owned(),
            now: now.unix_timestamp(),
            normalize: ctx["normalize"].as_bool().unwrap(),
            dir,
        });
    }
    assert!(cases.len() >= 30, "the signing suite has {} cases", cases.len());
    cases
}

impl Case {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap()
    }

    fn check(&self, raw: &Raw) -> Result<(), SigV4Error> {
        let req = raw.view();
        let sig = parse(&req)?;
        let expect = Expect { region: &self.region, service: &self.service, skew_secs: 300 };
        sig.check_scope(&expect, self.now)?;
        let hash = match declared_payload_hash(&raw.headers)? {
            Some(declared) if declared != raw.payload_hash() => return Err(SigV4Error::PayloadMismatch),
            Some(declared) => declared,
            None => raw.payload_hash(),
        };
        let key = SigningKey::derive(&self.secret, &sig.scope.date, &sig.scope.region, &sig.scope.service);
        sig.verify(&req, &hash, &key)
    }
}

#[test]
fn every_suite_request_is_accepted_at_its_timestamp() {
    for case in corpus() {
        for form in ["header", "query"] {
            let raw = Raw::parse(&case.read(&format!("{form}-signed-request.txt")));
            case.check(&raw).unwrap_or_else(|e| panic!("{} ({form}): {}", case.name, e.debug_message()));

            // Our canonical request is the suite's, in the form the case was signed with.
            let req = raw.view();
            let sig = parse(&req).unwrap();
            let omit_token = case.read("context.json").contains("\"omit_session_token\": true") && form == "query";
            let form_of = canonical::Form { normalize: case.normalize, omit_token };
            let creq = canonical::request(&req, &sig, &raw.payload_hash(), form_of).unwrap();
            assert_eq!(creq, case.read(&format!("{form}-canonical-request.txt")), "{} ({form})", case.name);
            assert_eq!(
                sig.string_to_sign(&creq),
                case.read(&format!("{form}-string-to-sign.txt")),
                "{} ({form})",
                case.name
            );
        }
    }
}

/// Every way of changing a signed part of a request.
fn tampered(raw: &Raw, sig: &Signature) -> Vec<(String, Raw)> {
    let mut out = Vec::new();
    let mut m = raw.clone();
    m.method = if raw.method == "GET" { "POST".into() } else { "GET".into() };
    out.push(("method".into(), m));
    let mut m = raw.clone();
    m.path.push('x');
    out.push(("path".into(), m));
    let mut m = raw.clone();
    m.query = Some(match &raw.query {
        Some(q) => format!("{q}&extra=1"),
        None => "extra=1".into(),
    });
    out.push(("query added".into(), m));
    if let Some(q) = &raw.query {
        // Change the first value that is not part of the signature itself.
        let changed = q.replacen("value", "valuf", 1);
        if changed != *q {
            let mut m = raw.clone();
            m.query = Some(changed);
            out.push(("query value".into(), m));
        }
    }
    for name in &sig.signed_headers {
        let mut m = raw.clone();
        let old = m.headers.get(name.as_str()).unwrap().as_bytes().to_vec();
        let mut new = old.clone();
        new.push(b'1');
        if name == "x-amz-date" {
            // Still a valid date, one second later.
            new = old.clone();
            let last = new.len() - 2;
            new[last] = if new[last] == b'0' { b'1' } else { b'0' };
        }
        m.headers.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_bytes(&new).unwrap());
        out.push((format!("header {name}"), m));
    }
    let mut m = raw.clone();
    m.body.extend_from_slice(b"tampered");
    out.push(("body".into(), m));
    out
}

#[test]
fn every_suite_request_is_refused_once_a_signed_part_changes() {
    for case in corpus() {
        for form in ["header", "query"] {
            let raw = Raw::parse(&case.read(&format!("{form}-signed-request.txt")));
            let sig = parse(&raw.view()).unwrap();
            for (what, bad) in tampered(&raw, &sig) {
                assert!(case.check(&bad).is_err(), "{} ({form}): changing the {what} went unnoticed", case.name);
            }
        }
    }
}

#[test]
fn a_changed_signature_or_secret_is_refused() {
    for case in corpus() {
        let raw = Raw::parse(&case.read("header-signed-request.txt"));
        let mut m = raw.clone();
        let auth = m.headers.get("authorization").unwrap().to_str().unwrap().to_owned();
        let flipped = format!("{}{}", &auth[..auth.len() - 1], if auth.ends_with('0') { '1' } else { '0' });
        m.headers.insert("authorization", HeaderValue::from_str(&flipped).unwrap());
        assert!(matches!(case.check(&m), Err(SigV4Error::Mismatch { .. })), "{}", case.name);

        let wrong = Case { secret: format!("{}x", case.secret), ..clone_case(&case) };
        assert!(matches!(wrong.check(&raw), Err(SigV4Error::Mismatch { .. })), "{}", case.name);
    }
}

fn clone_case(c: &Case) -> Case {
    Case {
        name: c.name.clone(),
        dir: c.dir.clone(),
        secret: c.secret.clone(),
        region: c.region.clone(),
        service: c.service.clone(),
        now: c.now,
        normalize: c.normalize,
    }
}

#[test]
fn the_clock_window_is_five_minutes_each_way_for_headers() {
    let case = corpus().into_iter().find(|c| c.name == "get-vanilla").unwrap();
    let raw = Raw::parse(&case.read("header-signed-request.txt"));
    for (offset, ok) in [(-299, true), (299, true), (-301, false), (301, false)] {
        let at = Case { now: case.now + offset, ..clone_case(&case) };
        assert_eq!(at.check(&raw).is_ok(), ok, "offset {offset}");
    }
    let late = Case { now: case.now + 301, ..clone_case(&case) };
    assert_eq!(
        late.check(&raw).unwrap_err().to_string(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T124101Z - 5 min.)"
    );
    let early = Case { now: case.now - 301, ..clone_case(&case) };
    assert_eq!(
        early.check(&raw).unwrap_err().to_string(),
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123559Z (20150830T123059Z + 5 min.)"
    );
}

#[test]
fn a_presigned_url_lives_for_its_expiry() {
    let case = corpus().into_iter().find(|c| c.name == "get-vanilla").unwrap();
    let raw = Raw::parse(&case.read("query-signed-request.txt"));
    for (offset, ok) in [(3599, true), (3601, false), (-299, true), (-301, false)] {
        let at = Case { now: case.now + offset, ..clone_case(&case) };
        assert_eq!(at.check(&raw).is_ok(), ok, "offset {offset}");
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

fn parse_with(pairs: &[(&str, &str)], query: Option<&str>) -> Result<Signature, SigV4Error> {
    let h = headers(pairs);
    parse(&Request { method: "GET", path: "/", query, headers: &h, authority: None })
}

#[test]
fn malformed_headers_get_the_aws_messages() {
    assert_eq!(parse_with(&[], None).unwrap_err(), SigV4Error::Missing);
    let e = parse_with(&[("authorization", "Bearer eyJhbGciOi.secret.token")], None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incomplete);
    assert!(!e.to_string().contains("secret"), "the bearer token is echoed: {e}");
    let e = parse_with(&[("authorization", "sk_live_0123456789")], None).unwrap_err();
    assert_eq!(e.to_string(), "Unsupported AWS 'algorithm': '<redacted>'.");
    let e = parse_with(
        &[("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/execute-api/aws4_request")],
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
         Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=<redacted>"
    );
    let e = parse_with(&[("authorization", "AWS4-HMAC-SHA1 Credential=a, SignedHeaders=host, Signature=00")], None)
        .unwrap_err();
    assert_eq!(e.to_string(), "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'.");
    let full = |cred: &str| {
        format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host;x-amz-date, Signature={}", "a".repeat(64))
    };
    let date = ("x-amz-date", "20150830T123600Z");
    let e = parse_with(&[("authorization", &full("AKID/20150830/us-east-1/execute-api")), date], None).unwrap_err();
    assert!(e.to_string().starts_with("Credential must have exactly 5 slash-delimited elements"), "{e}");
    let e = parse_with(&[("authorization", &full("AKID/20150830/us-east-1/execute-api/aws5_request")), date], None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'."
    );
    let e = parse_with(&[("authorization", &full("AKID/20150831/us-east-1/execute-api/aws4_request")), date], None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150831' != '20150830', from '20150830T123600Z'."
    );
    let e = parse_with(
        &[("authorization", &full("AKID/20150830/us-east-1/execute-api/aws4_request")), ("x-amz-date", "2015-08-30")],
        None,
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incomplete);
    assert!(e.to_string().starts_with("Date must be in ISO-8601 'basic format'. Got '2015-08-30'."), "{e}");

    let sig = parse_with(&[("authorization", &full("AKID/20150830/eu-west-1/execute-api/aws4_request")), date], None)
        .unwrap();
    let expect = Expect { region: "us-east-1", service: "execute-api", skew_secs: 300 };
    let now = sig.timestamp;
    assert_eq!(
        sig.check_scope(&expect, now).unwrap_err().to_string(),
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
    let sig = parse_with(&[("authorization", &full("AKID/20150830/us-east-1/s3/aws4_request")), date], None).unwrap();
    assert_eq!(
        sig.check_scope(&expect, now).unwrap_err().to_string(),
        "Credential should be scoped to correct service: 'execute-api'. "
    );
    let no_host = format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/execute-api/aws4_request, SignedHeaders=x-amz-date, Signature={}", "a".repeat(64));
    let sig = parse_with(&[("authorization", &no_host), date], None).unwrap();
    assert_eq!(sig.check_scope(&expect, now).unwrap_err(), SigV4Error::HostNotSigned);
}

#[test]
fn signed_header_values_that_are_not_text_are_refused() {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-bin, Signature={}",
        "a".repeat(64)
    );
    let mut h = headers(&[("authorization", &auth), ("x-amz-date", "20150830T123600Z"), ("host", "h")]);
    h.insert("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
    let req = Request { method: "GET", path: "/", query: None, headers: &h, authority: None };
    let sig = parse(&req).unwrap();
    let key = SigningKey::derive("s", "20150830", "us-east-1", "service");
    assert_eq!(sig.verify(&req, EMPTY_SHA256, &key), Err(SigV4Error::SignedHeaderNotText("x-bin".into())));
}

#[test]
fn ambiguous_or_unsigned_payloads_are_refused() {
    let both =
        parse_with(&[("authorization", "AWS4-HMAC-SHA256 Credential=x")], Some("X-Amz-Algorithm=AWS4-HMAC-SHA256"));
    assert_eq!(both.unwrap_err(), SigV4Error::BothCarriers);
    let q = parse_with(&[], Some("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a"));
    assert_eq!(q.unwrap_err(), SigV4Error::MissingQueryParameters);
    let unsigned = headers(&[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]);
    assert!(matches!(declared_payload_hash(&unsigned), Err(SigV4Error::ContentSha256(_))));
    let upper = headers(&[("x-amz-content-sha256", &EMPTY_SHA256.to_uppercase())]);
    assert_eq!(declared_payload_hash(&upper).unwrap().as_deref(), Some(EMPTY_SHA256));
}

#[test]
fn the_debug_echo_carries_the_canonical_forms_only_on_request() {
    let e = SigV4Error::Mismatch { canonical_request: "GET\n/".into(), string_to_sign: "AWS4".into() };
    assert!(!e.to_string().contains("Canonical String"));
    assert!(e.debug_message().contains("The Canonical String for this request should have been\n'GET\n/'"));
    let with_token = SigV4Error::Mismatch {
        canonical_request: "GET\n/\na=1&X-Amz-Security-Token=SECRET\nhost:h\nx-amz-security-token:SECRET\n".into(),
        string_to_sign: String::new(),
    };
    assert!(!format!("{with_token:?}").contains("SECRET"), "Debug hides the canonical request");
    let echo = with_token.debug_message();
    assert!(!echo.contains("SECRET") && echo.contains("a=<redacted>&X-Amz-Security-Token=<redacted>"), "{echo}");
    // Only allowlisted values show: other signed headers and query values may be credentials.
    let signed = SigV4Error::Mismatch {
        canonical_request: "GET\n/p\nX-Amz-Date=20261125T000000Z&token=K1\ncookie:s=K2\nhost:h\nx-api-key:K3\nx-amz-date:20261125T000000Z\n\ncookie;host;x-api-key;x-amz-date\nUNSIGNED".into(),
        string_to_sign: String::new(),
    };
    let echo = signed.debug_message();
    for secret in ["K1", "K2", "K3"] {
        assert!(!echo.contains(secret), "{secret}: {echo}");
    }
    assert!(
        echo.contains("X-Amz-Date=20261125T000000Z&token=<redacted>\ncookie:<redacted>\nhost:h\nx-api-key:<redacted>\nx-amz-date:20261125T000000Z\n\ncookie;host;x-api-key;x-amz-date\nUNSIGNED"),
        "{echo}"
    );
}

#[test]
fn amz_dates_parse_exactly() {
    for unix in [0i64, 951_782_400, 1_440_938_160, 1_795_581_404, 4_102_444_799] {
        assert_eq!(parse_amz_date(&format_amz_date(unix)), Ok(unix), "{unix}");
    }
    for bad in [
        "20150830T123600",
        "2015083OT123600Z",
        "20150230T000000Z",
        "20151301T000000Z",
        "20150830T246000Z",
        "20150830 123600Z",
        "+0150830T123600Z",
    ] {
        assert!(matches!(parse_amz_date(bad), Err(SigV4Error::DateFormat(_))), "{bad}");
    }
}

#[test]
fn paths_normalise_as_the_sdks_do() {
    for (raw, want) in [
        ("/", "/"),
        ("/./", "/"),
        ("//example//", "/example/"),
        ("/example/..", "/"),
        ("/example1/example2/../..", "/"),
        ("/./example", "/example"),
        ("/a/b", "/a/b"),
    ] {
        assert_eq!(normalize_path(raw), want, "{raw}");
    }
}
