//! ACME end to end against a real ACME server: Debian's `pebble`, with `pebble-challtestsrv` as
//! its DNS (every name resolves to 127.0.0.1), both started by the test on free loopback ports.
//! The gateway orders a certificate with HTTP-01 (answered on its plain-HTTP listener), serves
//! it for the domain without a restart, and after a restart loads it from the store instead of
//! ordering again.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::fixtures::{self_signed, write};
use crate::harness::{eventually, free_port, Gw};

/// A child process killed when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// pebble and its DNS, for HTTP-01 challenges sent to `http_port`.
struct Pebble {
    _dns: Proc,
    _pebble: Proc,
    directory: String,
    /// pebble's own HTTPS certificate (the gateway's `ca_file` for the directory).
    tls_cert: std::path::PathBuf,
    management: SocketAddr,
    tls_pem: String,
}

impl Pebble {
    fn start(dir: &std::path::Path, http_port: u16) -> Self {
        Self::start_with(dir, http_port, free_port())
    }

    /// pebble sending HTTP-01 validations to `http_port` and TLS-ALPN-01 ones to `tls_port`.
    fn start_with(dir: &std::path::Path, http_port: u16, tls_port: u16) -> Self {
        let dns_port = free_port();
        let dns = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns_port}"), "-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args([
                "-management",
                &format!("127.0.0.1:{}", free_port()),
                "-defaultIPv4",
                "127.0.0.1",
                "-defaultIPv6",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("pebble-challtestsrv (Debian package pebble) is required: {e}"));
        let (cert, key) = self_signed(&["localhost", "127.0.0.1"]);
        let tls_cert = write(dir, "pebble-cert.pem", &cert);
        let tls_key = write(dir, "pebble-key.pem", &key);
        let (listen, management) = (free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": tls_cert, "privateKey": tls_key,
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": false}});
        let config_path = write(dir, "pebble.json", &config.to_string());
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}"), "-strict=false"])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("pebble (Debian package pebble) is required: {e}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
            assert!(std::time::Instant::now() < deadline, "pebble did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            _dns: Proc(dns),
            _pebble: Proc(pebble),
            directory: format!("https://127.0.0.1:{listen}/dir"),
            tls_cert,
            management: SocketAddr::from(([127, 0, 0, 1], management)),
            tls_pem: cert,
        }
    }

    /// The root that pebble's issued certificates chain to.
    async fn root(&self) -> String {
        let c = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(reqwest::Certificate::from_pem(self.tls_pem.as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .build()
            .unwrap();
        let url = format!("https://localhost:{}/roots/0", self.management.port());
        c.get(url).send().await.unwrap().text().await.unwrap()
    }
}

fn config(http_port: u16, pebble: &Pebble) -> String {
    format!(
        "http_redirect:
  listen: 127.0.0.1:{http_port}
domains:
  - name: acme.example.test
    acme:
      directory: {dir}
      contact: ['mailto:ops@example.test']
      ca_file: {ca}
apis:
  - name: pets
    hosts: [acme.example.test]
    routes:
      - route: GET /pets
        integration: {{ type: mock, body: 'pets' }}
",
        dir = pebble.directory,
        ca = pebble.tls_cert.display()
    )
}

/// A client that trusts only pebble's root and reaches the domain on the gateway.
fn client(gw: &Gw, root: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(root.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("acme.example.test", gw.api)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_issued_by_a_real_acme_server_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let pebble = Pebble::start(dir.path(), http_port);
    let root = pebble.root().await;
    assert!(root.contains("BEGIN CERTIFICATE"), "{root}");
    let gw = Gw::start(&config(http_port, &pebble));
    let url = format!("https://acme.example.test:{}/pets", gw.api.port());
    let c = client(&gw, &root);
    let served = eventually(Duration::from_secs(60), || {
        let (c, url) = (c.clone(), url.clone());
        async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let logs = gw.stderr_lines().join("\n");
    assert!(served, "no certificate from pebble within 60 s:\n{logs}");
    assert!(logs.contains("ACME: certificate issued"), "{logs}");

    // A master-key rotation re-wraps the ACME account and the certificate's key with the rest.
    let (status, body) = gw.admin_json(reqwest::Method::POST, "/kms/rotate", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.admin_json(reqwest::Method::POST, "/kms/rewrap", None).await;
    // The admin key, three server secrets (API keys, authorizer cache, WAF challenge), the
    // ACME account and the certificate's key.
    assert_eq!((status, body["rewrapped"].as_u64()), (200, Some(6)), "{body}");

    // A restart finds the certificate in the store: served at once, nothing ordered.
    let data = gw.stop();
    let gw = Gw::start_in(data, &config(http_port, &pebble));
    let c = client(&gw, &root);
    let url = format!("https://acme.example.test:{}/pets", gw.api.port());
    let served = eventually(Duration::from_secs(10), || {
        let (c, url) = (c.clone(), url.clone());
        async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let logs = gw.stderr_lines().join("\n");
    assert!(served, "{logs}");
    assert!(!logs.contains("ACME: certificate issued"), "ordered again after a restart:\n{logs}");
}

/// The serial of the certificate the gateway presents for the domain.
async fn served_serial(gw: &Gw, root: &str) -> String {
    use rustls_pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls_pki_types::CertificateDer::from_pem_slice(root.as_bytes()).unwrap()).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(gw.api).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("acme.example.test").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).unwrap();
    cert.raw_serial_as_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_due_for_renewal_is_renewed_and_swapped_in() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let pebble = Pebble::start(dir.path(), http_port);
    let root = pebble.root().await;
    let gw = Gw::start(&config(http_port, &pebble));
    let ok = eventually(Duration::from_secs(60), || async {
        gw.stderr_lines().iter().any(|l| l.contains("ACME: certificate issued"))
    })
    .await;
    assert!(ok, "{}", gw.stderr_lines().join("\n"));
    let first = served_serial(&gw, &root).await;
    let data = gw.stop();
    // Make the stored certificate look two-thirds through its life: it is still valid, so it
    // serves at start, and due, so a renewal is ordered at once.
    let db = data.path().join("data").join("portcullis.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let (not_after,): (i64,) = sqlx::query_as("SELECT not_after_ms FROM certificates WHERE name = 'acme.example.test'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE certificates SET updated_at_ms = ? WHERE name = 'acme.example.test'")
        .bind(3 * now - 2 * not_after - 1)
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let gw = Gw::start_in(data, &config(http_port, &pebble));
    let renewed = eventually(Duration::from_secs(60), || async {
        gw.stderr_lines().iter().any(|l| l.contains("ACME: certificate issued"))
    })
    .await;
    let logs = gw.stderr_lines().join("\n");
    assert!(renewed && logs.contains("ACME: renewing"), "{logs}");
    let second = served_serial(&gw, &root).await;
    assert_ne!(first, second, "the renewed certificate is served without a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_alpn_01_is_answered_on_the_https_listener() {
    let dir = tempfile::tempdir().unwrap();
    let https_port = free_port();
    // No plain-HTTP listener at all: pebble validates over TLS on the gateway's HTTPS port.
    let pebble = Pebble::start_with(dir.path(), free_port(), https_port);
    let root = pebble.root().await;
    let config = dir.path().join("portcullis.yaml");
    let text = format!(
        "listen: 127.0.0.1:{https_port}\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {data}\ndomains:\n  - name: acme.example.test\n    acme:\n      directory: {directory}\n      challenge: tls-alpn-01\n      ca_file: {ca}\napis:\n  - name: pets\n    hosts: [acme.example.test]\n    routes:\n      - route: GET /pets\n        integration: {{ type: mock, body: 'pets' }}\n",
        data = dir.path().join("data").display(),
        directory = pebble.directory,
        ca = pebble.tls_cert.display(),
    );
    std::fs::write(&config, text).unwrap();
    let gw = Gw::spawn(tempfile::tempdir().unwrap(), config, &[]);
    let c = client(&gw, &root);
    let url = format!("https://acme.example.test:{https_port}/pets");
    let served = eventually(Duration::from_secs(60), || {
        let (c, url) = (c.clone(), url.clone());
        async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(served, "no certificate over tls-alpn-01:\n{}", gw.stderr_lines().join("\n"));
}

/// Two nodes on one PostgreSQL store, both configured for the same ACME domain, and a CA that
/// reaches only the first node's port 80 (as a load balancer might send it anywhere): one
/// order in all, answered by whichever node the CA reaches, and both serve the certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_make_one_order_and_either_answers_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let (port_a, port_b) = (free_port(), free_port());
    let pebble = Pebble::start(dir.path(), port_a);
    let root = pebble.root().await;
    let store = crate::api_keys::fresh_postgres().await;
    let master = crate::api_keys::master_key();
    let node = |http_port: u16| {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("portcullis.yaml");
        let text = format!(
            "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\nstore:\n  url: {store}\n{}",
            d.path().join("data").display(),
            config(http_port, &pebble)
        );
        std::fs::write(&path, text).unwrap();
        Gw::spawn(d, path, &[("PORTCULLIS_MASTER_KEY", master.clone())])
    };
    let (a, b) = (node(port_a), node(port_b));
    for gw in [&a, &b] {
        let c = client(gw, &root);
        let url = format!("https://acme.example.test:{}/pets", gw.api.port());
        let served = eventually(Duration::from_secs(60), || {
            let (c, url) = (c.clone(), url.clone());
            async move { c.get(&url).send().await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        assert!(served, "a node does not serve the certificate:\n{}", gw.stderr_lines().join("\n"));
    }
    let issued = |gw: &Gw| gw.stderr_lines().iter().filter(|l| l.contains("ACME: certificate issued")).count();
    assert_eq!(issued(&a) + issued(&b), 1, "one order for the whole cluster");
    assert_eq!(served_serial(&a, &root).await, served_serial(&b, &root).await);
}
