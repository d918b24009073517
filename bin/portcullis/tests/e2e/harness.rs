//! The test harness: a real `portcullis` process on loopback ports, and clients that speak
//! real TLS.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use crate::fixtures::{self_signed, status_of, write, Upstream};
pub use crate::sign::{sign_request, Creds, How};

/// A running gateway process.
pub struct Gw {
    pub api: SocketAddr,
    pub admin: Option<SocketAddr>,
    pub redirect: Option<SocketAddr>,
    /// The first administrator's access key, when this start created it.
    pub admin_key: Option<Creds>,
    pub ca_pem: Vec<u8>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    child: Option<Child>,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Gw {
    /// Starts a gateway whose config is `listen`/`admin`/`data_dir` on free ports plus `rest`.
    pub fn start(rest: &str) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        Self::start_in(dir, rest)
    }

    /// As [`Gw::start`], in a given directory (to restart on the same data).
    pub fn start_in(dir: tempfile::TempDir, rest: &str) -> Self {
        let config = dir.path().join("portcullis.yaml");
        let text = format!(
            "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\n{rest}",
            dir.path().join("data").display()
        );
        std::fs::write(&config, text).unwrap_or_else(|e| panic!("write config: {e}"));
        Self::spawn(dir, config, &[])
    }

    /// Runs the binary on an existing config file with extra environment.
    pub fn spawn(dir: tempfile::TempDir, config: PathBuf, env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(["serve", "--config"]).arg(&config).arg("--workers").arg("2");
        cmd.current_dir(dir.path()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.env("PORTCULLIS_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn portcullis: {e}"));
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        let mut gw = Self {
            api: SocketAddr::from(([0, 0, 0, 0], 0)),
            admin: None,
            redirect: None,
            admin_key: None,
            ca_pem: Vec::new(),
            dir,
            config,
            child: Some(child),
            stdout,
            stderr,
        };
        gw.await_ready();
        gw
    }

    fn await_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let lines = self.stderr_lines();
            let find = |what: &str| {
                lines.iter().find_map(|l| l.split(&format!("{what} listening on ")).nth(1)).and_then(|u| {
                    u.trim().trim_start_matches("https://").trim_start_matches("http://").parse::<SocketAddr>().ok()
                })
            };
            if let Some(api) = find("HTTPS") {
                let admin = find("admin API");
                let wants_admin =
                    !std::fs::read_to_string(&self.config).unwrap_or_default().contains("enabled: false\n");
                if admin.is_some() || !wants_admin {
                    self.api = api;
                    self.admin = admin;
                    self.redirect = find("HTTP redirect");
                    let value = |name: &str| {
                        lines.iter().find_map(|l| l.trim().strip_prefix(name)).map(|v| v.trim().to_owned())
                    };
                    if let (Some(id), Some(secret)) = (value("AWS_ACCESS_KEY_ID="), value("AWS_SECRET_ACCESS_KEY=")) {
                        self.admin_key = Some(Creds::new(&id, &secret));
                    }
                    let cert = lines
                        .iter()
                        .find_map(|l| l.split("development certificate ").nth(1))
                        .and_then(|r| r.split(" (SHA-256").next())
                        .map(|p| self.dir.path().join(p));
                    if let Some(cert) = cert {
                        self.ca_pem = std::fs::read(cert).unwrap_or_default();
                    }
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("portcullis exited early ({status}):\n{}", lines.join("\n"));
            }
            assert!(Instant::now() < deadline, "portcullis did not start:\n{}", lines.join("\n"));
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Every line the process wrote to standard output.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Access-log lines (JSON objects on stdout).
    pub fn access_log(&self) -> Vec<Value> {
        let lines = self.stdout.lock().map(|v| v.clone()).unwrap_or_default();
        lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// The access-log entry of a request id, waiting briefly for it to be written.
    pub async fn log_entry(&self, request_id: &str) -> Value {
        for _ in 0..100 {
            if let Some(v) = self.access_log().into_iter().find(|v| v["requestId"] == request_id) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no access-log line for {request_id}; stdout: {:?}", self.stdout.lock().map(|v| v.clone()));
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.api.port())
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.admin.map_or(0, |a| a.port()))
    }

    /// A client that trusts the development certificate and resolves localhost to us.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap_or_else(|e| panic!("client: {e}"))
    }

    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(&self.ca_pem).unwrap_or_else(|e| panic!("ca: {e}"));
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .tls_built_in_root_certs(false)
            .resolve("localhost", self.api)
            .timeout(Duration::from_secs(20))
    }

    pub fn admin_client(&self) -> reqwest::Client {
        let admin = self.admin.unwrap_or_else(|| panic!("no admin listener"));
        let ca = reqwest::Certificate::from_pem(&self.ca_pem).unwrap_or_else(|e| panic!("ca: {e}"));
        reqwest::Client::builder()
            .add_root_certificate(ca)
            .tls_built_in_root_certs(false)
            .resolve("localhost", admin)
            .user_agent("portcullis-e2e")
            .build()
            .unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// Sends a request to the admin API signed with `creds` (default: the first
    /// administrator's key).
    pub async fn admin_call(
        &self,
        creds: Option<&Creds>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let c = self.admin_client();
        let mut b = c.request(method, self.admin_url(path));
        if let Some(body) = body {
            b = b.header("content-type", "application/json").body(body.to_string());
        }
        let mut req = b.build().unwrap_or_else(|e| panic!("request: {e}"));
        let creds = creds.or(self.admin_key.as_ref()).unwrap_or_else(|| panic!("no admin key"));
        sign_request(&mut req, creds, &How::admin());
        c.execute(req).await.unwrap_or_else(|e| panic!("admin call {path}: {e}"))
    }

    /// [`Gw::admin_call`] as the first administrator, returning status and JSON body.
    pub async fn admin_json(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.admin_call(None, method, path, body).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Sends raw bytes over TLS (HTTP/1.1) and reads until the server closes or 5 s pass.
    /// Returns what was read and whether the server closed the connection.
    pub async fn raw(&self, bytes: &[u8]) -> (String, bool) {
        self.raw_steps(&[bytes], Duration::ZERO).await
    }

    /// Sends the pieces with a pause between them, then reads as [`Gw::raw`] does.
    pub async fn raw_steps(&self, pieces: &[&[u8]], pause: Duration) -> (String, bool) {
        let mut stream = tls_connect(self.api, &self.ca_pem).await;
        for (i, p) in pieces.iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(pause).await;
            }
            if stream.write_all(p).await.is_err() {
                break;
            }
        }
        let mut out = Vec::new();
        let mut buf = [0u8; 16384];
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Err(_) => break false,
            }
        };
        (String::from_utf8_lossy(&out).into_owned(), closed)
    }

    /// Sends a signal (`HUP`, `TERM`) to the process.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().map(Child::id).unwrap_or_default();
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Waits for the process to exit and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        self.wait_status(within)?.code()
    }

    /// Waits for the process to exit and returns how it ended; `None` if it still runs.
    pub fn wait_status(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Hands back the directory of a process that has exited (to start again on its data).
    pub fn take_dir(mut self) -> tempfile::TempDir {
        self.child = None;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::mem::replace(&mut self.dir, dir)
    }

    /// Stops the process and hands back its directory (to start again on the same data).
    pub fn stop(mut self) -> tempfile::TempDir {
        self.signal("TERM");
        let _ = self.wait_exit(Duration::from_secs(10));
        self.child = None;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::mem::replace(&mut self.dir, dir)
    }

    /// Rewrites the config file body (after the harness's own first lines).
    pub fn rewrite_config(&self, rest: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap_or_default();
        let head: Vec<&str> = text.lines().take(4).collect();
        std::fs::write(&self.config, format!("{}\n{rest}", head.join("\n"))).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn collect(pipe: Option<impl std::io::Read + Send + 'static>) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    if let Some(pipe) = pipe {
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut v) = sink.lock() {
                    v.push(line);
                }
            }
        });
    }
    lines
}

/// A TLS connection to the gateway trusting `ca_pem`, offering HTTP/1.1 only.
pub async fn tls_connect(addr: SocketAddr, ca_pem: &[u8]) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    tls_connect_with(addr, ca_pem, "localhost", &[&rustls::version::TLS13, &rustls::version::TLS12])
        .await
        .unwrap_or_else(|e| panic!("TLS connect: {e}"))
}

pub async fn tls_connect_with(
    addr: SocketAddr,
    ca_pem: &[u8],
    sni: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem).flatten() {
        let _ = roots.add(c);
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .map_err(std::io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from(sni.to_owned()).map_err(std::io::Error::other)?;
    tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await
}

/// Polls `check` every 50 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually<F, Fut>(within: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port free now (TCP and UDP) for a process a test starts on a port it must name first.
/// It is taken below the kernel's range for outgoing connections (32768 up): a port from
/// there, freed again, can be taken as the source port of any client socket of a parallel
/// test before the process binds it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id() % 12_000;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = u16::try_from(20_000 + (offset + n) % 12_000).unwrap_or(20_000);
        let tcp = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if tcp && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
