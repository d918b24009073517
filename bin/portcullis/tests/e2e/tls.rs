//! TLS: versions, SNI certificate choice, certificate reload, the development certificate and
//! the plain-HTTP redirect.

use std::time::Duration;

use crate::harness::{eventually, self_signed, tls_connect_with, write, Gw};

#[tokio::test]
async fn tls_1_2_and_1_3_only() {
    let gw = Gw::start("apis: []\n");
    for v in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let s = tls_connect_with(gw.api, &gw.ca_pem, "localhost", &[v]).await;
        assert!(s.is_ok(), "{v:?}: {:?}", s.err());
    }
    // The same client nobody here wrote succeeds with TLS 1.2 and 1.3, so its refusals below
    // are the gateway's doing, not a broken command line.
    assert!(openssl_handshake(gw.api, &["-tls1_3", "-servername", "localhost"]));
    assert!(openssl_handshake(gw.api, &["-tls1_2", "-servername", "localhost"]));
    // Older versions: openssl offering TLS 1.1 only.
    assert!(!openssl_handshake(gw.api, &["-tls1_1", "-servername", "localhost"]), "a TLS 1.1 handshake succeeded");
    // And a TLS 1.2 client offering only CBC suites finds nothing in common.
    assert!(
        !openssl_handshake(gw.api, &["-tls1_2", "-cipher", "AES128-SHA:ECDHE-RSA-AES128-SHA"]),
        "a CBC suite was accepted"
    );
}

#[tokio::test]
async fn certificates_are_chosen_by_sni_and_reloaded_when_their_files_change() {
    let dir = tempfile::tempdir().unwrap();
    let (a_cert, a_key) = self_signed(&["a.test"]);
    let (b_cert, b_key) = self_signed(&["*.b.test"]);
    let a = (write(dir.path(), "a.pem", &a_cert), write(dir.path(), "a.key", &a_key));
    let b = (write(dir.path(), "b.pem", &b_cert), write(dir.path(), "b.key", &b_key));
    let gw = Gw::start_in(
        dir,
        &format!(
            "reload: {{poll_interval: 200ms}}\ntls:\n  certificates:\n    - {{cert: {}, key: {}}}\n    - {{cert: {}, key: {}}}\napis: []\n",
            a.0.display(),
            a.1.display(),
            b.0.display(),
            b.1.display()
        ),
    );
    let ok = |pem: String, name: &'static str| async move {
        tls_connect_with(gw.api, pem.as_bytes(), name, &[&rustls::version::TLS13]).await.is_ok()
    };
    assert!(ok(a_cert.clone(), "a.test").await);
    assert!(ok(b_cert.clone(), "x.b.test").await, "one-label wildcard");
    assert!(!ok(b_cert.clone(), "a.test").await);
    assert!(!ok(b_cert.clone(), "x.y.b.test").await, "a wildcard covers one label only");
    assert!(
        !ok(a_cert.clone(), "unknown.test").await,
        "unknown names get the default certificate, which is not valid for them"
    );

    // Replace a.test's files: new connections get the new certificate, without a restart.
    let (c_cert, c_key) = self_signed(&["a.test"]);
    std::fs::write(&a.1, &c_key).unwrap();
    std::fs::write(&a.0, &c_cert).unwrap();
    let mut switched = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if ok(c_cert.clone(), "a.test").await {
            switched = true;
            break;
        }
    }
    assert!(switched, "the new certificate was not picked up: {:?}", gw.stderr_lines());
    assert!(!ok(a_cert, "a.test").await);

    // A broken file is refused and the current certificate keeps serving.
    std::fs::write(&a.0, "not a certificate").unwrap();
    let refused = eventually(Duration::from_secs(10), || async {
        gw.stderr_lines().iter().any(|l| l.contains("certificate reload refused"))
    })
    .await;
    assert!(refused, "{:?}", gw.stderr_lines());
    assert!(ok(c_cert, "a.test").await);
}

#[tokio::test]
async fn the_development_certificate_is_made_once_and_reused() {
    let gw = Gw::start("apis: []\n");
    let created =
        gw.stderr_lines().into_iter().find(|l| l.contains("created development certificate")).expect("created line");
    let fingerprint = created.split("SHA-256 ").nth(1).unwrap().trim_end_matches(')').to_owned();
    assert_eq!(fingerprint.len(), 32 * 3 - 1);
    let pem = gw.ca_pem.clone();
    let dir = gw.stop();
    let key = dir.path().join("data/dev-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let gw = Gw::start_in(dir, "apis: []\n");
    assert!(gw.stderr_lines().iter().any(|l| l.contains("using development certificate") && l.contains(&fingerprint)));
    assert_eq!(gw.ca_pem, pem);
}

#[tokio::test]
async fn the_plain_http_listener_only_redirects() {
    let gw = Gw::start("http_redirect: {listen: 127.0.0.1:0}\napis: []\n");
    let addr = gw.redirect.expect("redirect listener");
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let r = c.post(format!("http://localhost:{}/a/b?x=1&y=%20", addr.port())).body("data").send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], format!("https://localhost:{}/a/b?x=1&y=%20", gw.api.port()));
}

/// Whether `openssl s_client` with these options completes a handshake.
fn openssl_handshake(addr: std::net::SocketAddr, options: &[&str]) -> bool {
    std::process::Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string()])
        .args(options)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the openssl command line is needed for this test")
        .status
        .success()
}
