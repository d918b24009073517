//! The WAF test corpora as requests, and the tally of what a web ACL does with them.
//!
//! Each corpus record (one JSON object per line: `source`, `class`, `location`, `payload`,
//! `expect`, and optional `wire`, `param`, `header_name`, `content_type`, `payload_b64`,
//! `request`) becomes one [`Probe`]: the request a client would send with the payload where
//! the record says. The same probe is sent to a real gateway by `waf-corpus --url` and
//! evaluated in process by [`blocked_offline`], so both see the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde::Deserialize;

/// One corpus record.
#[derive(Clone, Debug, Deserialize)]
pub struct Record {
    /// The corpus it comes from.
    pub source: String,
    /// Its id within the source.
    pub id: String,
    /// Attack class (`sqli`), `benign` or `bot`.
    pub class: String,
    /// `query`, `body`, `header`, `path`, `cookie` or `raw`.
    pub location: String,
    /// The value as the application sees it.
    #[serde(default)]
    pub payload: String,
    /// `block` or `allow`.
    pub expect: String,
    /// The exact, already encoded text to place.
    #[serde(default)]
    pub wire: Option<String>,
    /// Parameter or field name.
    #[serde(default)]
    pub param: Option<String>,
    /// Header name, for header records.
    #[serde(default)]
    pub header_name: Option<String>,
    /// `form`, `multipart`, `json`, `xml` or `text`, for body records.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The exact bytes when the payload is not UTF-8.
    #[serde(default)]
    pub payload_b64: Option<String>,
    /// A whole request, for raw records.
    #[serde(default)]
    pub request: Option<RawRequest>,
}

/// A raw record's request.
#[derive(Clone, Debug, Deserialize)]
pub struct RawRequest {
    /// The method.
    pub method: String,
    /// The request target.
    pub uri: String,
    /// Header name and value pairs.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(default)]
    pub body: String,
}

/// A request built from a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The method.
    pub method: String,
    /// The path, percent-encoded where HTTP requires it, starting with `/`.
    pub path: String,
    /// The query string without `?`, percent-encoded where HTTP requires it.
    pub query: String,
    /// Lower-case names and values, the browser's own first.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (empty for none).
    pub body: Vec<u8>,
}

/// What happened to the records of one source and class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Count {
    /// Records sent.
    pub sent: u64,
    /// Of those, blocked.
    pub blocked: u64,
    /// Records that no HTTP client can send (a line break in a header value, say).
    pub unsendable: u64,
}

/// Counts by (source, class, expect).
pub type Tally = BTreeMap<(String, String, String), Count>;

/// The headers Chromium sends with a navigation: every probe carries them (a record's own
/// header replaces one of the same name), so that rules inspecting all headers meet what real
/// traffic carries.
pub const BROWSER_HEADERS: [(&str, &str); 9] = [
    ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"),
    ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    ("accept-language", "en-GB,en-US;q=0.9,en;q=0.8"),
    ("sec-ch-ua", "\"Chromium\";v=\"130\", \"Google Chrome\";v=\"130\", \"Not?A_Brand\";v=\"99\""),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-fetch-dest", "document"),
    ("sec-fetch-mode", "navigate"),
    ("referer", "https://www.example.com/search?q=api+gateway&page=2"),
];

/// The path every probe without its own path is sent to.
pub const BASE_PATH: &str = "/app/items";

/// Reads every `*.jsonl` file of `dir`, sorted by name.
pub fn load(dir: &Path) -> Result<Vec<Record>, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let record = serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", file.display(), i + 1))?;
            out.push(record);
        }
    }
    Ok(out)
}

// === impl Probe ===

impl Probe {
    /// The request for `r`, or `None` when HTTP cannot carry it (a header value with a line
    /// break or NUL byte).
    pub fn from_record(r: &Record) -> Option<Self> {
        let payload = match &r.payload_b64 {
            Some(b64) => base64::engine::general_purpose::STANDARD.decode(b64).ok()?,
            None => r.payload.clone().into_bytes(),
        };
        let wire = r.wire.clone();
        let param = r.param.clone().unwrap_or_else(|| "q".to_owned());
        let mut p = Self {
            method: "GET".to_owned(),
            path: BASE_PATH.to_owned(),
            query: String::new(),
            headers: BROWSER_HEADERS.iter().map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec())).collect(),
            body: Vec::new(),
        };
        match r.location.as_str() {
            "query" => {
                p.query = match (wire, &r.param) {
                    (Some(w), None) => w,
                    (Some(w), Some(_)) => format!("{}={w}", encode(param.as_bytes())),
                    (None, _) => format!("{}={}", encode(param.as_bytes()), encode(&payload)),
                };
            }
            "path" => {
                let segment = wire.unwrap_or_else(|| encode(&payload));
                p.path = format!("{BASE_PATH}/{}", segment.trim_start_matches('/'));
            }
            "header" => {
                let name = r.header_name.clone().unwrap_or_else(|| "x-payload".to_owned()).to_ascii_lowercase();
                let value = wire.map(String::into_bytes).unwrap_or(payload);
                p.set_header(&name, value);
            }
            "cookie" => {
                let value = wire.unwrap_or_else(|| encode(&payload));
                p.set_header("cookie", format!("{param}={value}").into_bytes());
            }
            "body" => {
                p.method = "POST".to_owned();
                p.body_for(r.content_type.as_deref().unwrap_or("text"), &param, wire, payload);
            }
            "raw" => {
                let raw = r.request.as_ref()?;
                p.method = raw.method.clone();
                let (path, query) = raw.uri.split_once('?').unwrap_or((&raw.uri, ""));
                p.path = format!("{BASE_PATH}/{}", path.trim_start_matches('/'));
                p.query = query.to_owned();
                for (name, value) in &raw.headers {
                    if !name.eq_ignore_ascii_case("host") {
                        p.set_header(&name.to_ascii_lowercase(), value.clone().into_bytes());
                    }
                }
                p.body = raw.body.clone().into_bytes();
            }
            _ => return None,
        }
        if p.headers.iter().any(|(_, v)| v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)) {
            return None;
        }
        p.path = http_safe(&p.path);
        p.query = http_safe(&p.query);
        Some(p)
    }

    fn body_for(&mut self, kind: &str, param: &str, wire: Option<String>, payload: Vec<u8>) {
        let (content_type, body) = match kind {
            "form" => {
                let value = wire.unwrap_or_else(|| encode(&payload));
                (
                    "application/x-www-form-urlencoded".to_owned(),
                    format!("{}={value}", encode(param.as_bytes())).into_bytes(),
                )
            }
            "json" => {
                let body = match wire {
                    Some(w) => w.into_bytes(),
                    None => {
                        let text = String::from_utf8_lossy(&payload).into_owned();
                        serde_json::json!({ param: text }).to_string().into_bytes()
                    }
                };
                ("application/json".to_owned(), body)
            }
            "multipart" => {
                let boundary = "----portcullisCorpusBoundary7MA4YWxkTrZu0gW";
                let value = wire.map(String::into_bytes).unwrap_or(payload);
                let mut body =
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{param}\"\r\n\r\n").into_bytes();
                body.extend_from_slice(&value);
                body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
                (format!("multipart/form-data; boundary={boundary}"), body)
            }
            "xml" => ("application/xml".to_owned(), wire.map(String::into_bytes).unwrap_or(payload)),
            _ => ("text/plain".to_owned(), wire.map(String::into_bytes).unwrap_or(payload)),
        };
        self.set_header("content-type", content_type.into_bytes());
        self.body = body;
    }

    fn set_header(&mut self, name: &str, value: Vec<u8>) {
        self.headers.retain(|(n, _)| n != name);
        self.headers.push((name.to_owned(), value));
    }

    /// The request target: path and query.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The value of the content-type header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == "content-type").and_then(|(_, v)| std::str::from_utf8(v).ok())
    }
}

/// Whether `acl` blocks `probe`, evaluated in this process over the bytes the gateway would
/// see (the body cut at the ACL's inspection limit).
pub fn blocked_offline(acl: &waf::WebAcl, probe: &Probe) -> bool {
    why_blocked(acl, probe).is_some()
}

/// The rule that blocks `probe` and what it matched, as `rule FIELD: excerpt`; `None` when
/// `acl` lets it through.
pub fn why_blocked(acl: &waf::WebAcl, probe: &Probe) -> Option<String> {
    let limit = acl.body_limit();
    let view = waf::RequestView {
        method: &probe.method,
        path: probe.path.as_bytes(),
        query: probe.query.as_bytes(),
        headers: probe.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect(),
        client_ip: IpAddr::from([127, 0, 0, 1]),
        body: (!probe.body.is_empty()).then(|| &probe.body[..probe.body.len().min(limit)]),
        body_truncated: probe.body.len() > limit,
        content_type: probe.content_type(),
        route: Some("ANY /{proxy+}"),
        now_s: 1_700_000_000,
        challenge_token_issued_s: None,
        bot_verified: None,
    };
    let verdict = acl.evaluate(&view);
    if !matches!(verdict.outcome, waf::Outcome::Block(_)) {
        return None;
    }
    Some(match verdict.matched {
        Some(m) => format!("{} {}: {}", m.rule, m.field, m.value_excerpt),
        None => "default action".to_owned(),
    })
}

/// Sends probes to a gateway over HTTPS, exactly as built: the request target is not
/// normalised (no dot segments resolved), unlike URL-based clients.
#[derive(Clone, Debug)]
pub struct Sender {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Sender {
    /// A sender that trusts only the certificates of `ca_pem`.
    pub fn new(ca_pem: &[u8]) -> Result<Self, String> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::pem::PemObject::pem_slice_iter(ca_pem) {
            let cert: rustls_pki_types::CertificateDer<'static> = cert.map_err(|e| e.to_string())?;
            roots.add(cert).map_err(|e| e.to_string())?;
        }
        let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_only().enable_http1().build();
        Ok(Self { client: Client::builder(hyper_util::rt::TokioExecutor::new()).build(https) })
    }

    /// Sends `probe` to `base` (`https://host:port`) and returns the response status.
    pub async fn status(&self, base: &str, probe: &Probe) -> Result<u16, String> {
        let mut req = http::Request::builder().method(probe.method.as_str()).uri(format!("{base}{}", probe.target()));
        for (name, value) in &probe.headers {
            req = req.header(name.as_str(), value.as_slice());
        }
        let req = req.body(Full::new(Bytes::from(probe.body.clone()))).map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        // Read the body so that the connection is reused.
        let _ = resp.into_body().collect().await;
        Ok(status)
    }
}

/// Adds one record's outcome (`None` when it could not be sent).
pub fn record(tally: &mut Tally, r: &Record, blocked: Option<bool>) {
    let c = tally.entry((r.source.clone(), r.class.clone(), r.expect.clone())).or_default();
    match blocked {
        Some(b) => {
            c.sent += 1;
            c.blocked += u64::from(b);
        }
        None => c.unsendable += 1,
    }
}

/// The three shares the targets are stated in, in percent: attacks blocked, benign requests
/// blocked, crawler user agents blocked.
pub fn headline(tally: &Tally) -> (f64, f64, f64) {
    let share = |keep: &dyn Fn(&(String, String, String)) -> bool| {
        let (sent, blocked) =
            tally.iter().filter(|(k, _)| keep(k)).fold((0, 0), |(s, b), (_, c)| (s + c.sent, b + c.blocked));
        if sent == 0 {
            0.0
        } else {
            100.0 * blocked as f64 / sent as f64
        }
    };
    (share(&|k| k.2 == "block"), share(&|k| k.2 == "allow" && k.1 != "bot"), share(&|k| k.2 == "allow" && k.1 == "bot"))
}

/// The report: one line per source and class, then the headline shares.
pub fn report(tally: &Tally) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<26} {:<11} {:>7} {:>8} {:>8} {:>10}",
        "source", "class", "sent", "blocked", "share", "unsendable"
    );
    for ((source, class, expect), c) in tally {
        let share = if c.sent == 0 { 0.0 } else { 100.0 * c.blocked as f64 / c.sent as f64 };
        let tag = if expect == "block" { "" } else { " (should pass)" };
        let _ = writeln!(
            out,
            "{source:<26} {class:<11} {:>7} {:>8} {share:>7.1}% {:>10}{tag}",
            c.sent, c.blocked, c.unsendable
        );
    }
    let (attacks, benign, bots) = headline(tally);
    let _ = writeln!(
        out,
        "\nattacks blocked: {attacks:.2}%   benign blocked: {benign:.2}%   crawler user agents blocked: {bots:.2}%"
    );
    out
}

/// Percent-encodes every byte other than RFC 3986's unreserved characters.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `text` with the bytes a request line may not carry percent-encoded (spaces, controls,
/// non-ASCII, and the characters HTTP libraries refuse); `%` and everything else as it is.
fn http_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_graphic() && !b"\"#<>\\^`{|}".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
