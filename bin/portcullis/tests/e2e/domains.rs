//! Custom domains, end to end: certificates and CAs made by the test (rcgen), reqwest and
//! rustls clients over real TLS. Mutual TLS required and optional, a route that demands a
//! certificate, a wrong CA and a revoked certificate refused, the client certificate in logs,
//! in authorizer events and upstream; TLS policies and HSTS; and a `Host` that names another
//! domain than the connection's SNI.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::fixtures::{self_signed, write, Upstream};
use crate::harness::Gw;

/// A CA that signs client certificates, and its CRL.
struct Ca {
    cert: rcgen::Certificate,
    key_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Portcullis Tests");
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let key_pem = key.serialize_pem();
        let issuer = rcgen::Issuer::new(params, key);
        Self { cert, key_pem, issuer }
    }

    /// A client certificate for `cn` with serial `serial` and a DNS SAN; (cert PEM, key PEM).
    fn client(&self, cn: &str, san: &str, serial: u8) -> (String, String) {
        let mut params = rcgen::CertificateParams::new(vec![san.to_owned()]).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&[serial]));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A CRL revoking `serials`.
    fn crl(&self, serials: &[u8]) -> String {
        let now = rcgen::date_time_ymd(2026, 1, 1);
        let params = rcgen::CertificateRevocationListParams {
            this_update: now,
            next_update: rcgen::date_time_ymd(2036, 1, 1),
            crl_number: rcgen::SerialNumber::from_slice(&[1]),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(&[*s]),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&self.issuer).unwrap().pem().unwrap()
    }
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    other: Ca,
}

impl Pki {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap(), ca: Ca::new("Team CA"), other: Ca::new("Other CA") }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        write(self.dir.path(), name, text)
    }
}

/// A client for `domain` on the gateway's port, trusting `server_ca_pem`, with `identity`
/// (cert PEM + key PEM) if given, limited to `version` if given.
fn client(gw: &Gw, domain: &str, server_ca_pem: &str, identity: Option<&(String, String)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(server_ca_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve(domain, gw.api)
        .timeout(std::time::Duration::from_secs(10));
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
    }
    b.build().unwrap()
}

fn url(gw: &Gw, domain: &str, path: &str) -> String {
    format!("https://{domain}:{}{path}", gw.api.port())
}

/// Two domains: `secure.example.test` (mTLS required, TLS 1.3 only) and `open.example.test`
/// (mTLS optional, its own HSTS), each with its API; plus the default endpoint on `localhost`.
fn config(pki: &Pki, upstream: &str, authorizer: &str) -> (String, String, String) {
    let (secure_cert, secure_key) = self_signed(&["secure.example.test"]);
    let (open_cert, open_key) = self_signed(&["open.example.test"]);
    let (local_cert, local_key) = self_signed(&["localhost"]);
    let ca = pki.file("ca.pem", &pki.ca.cert.pem());
    let crl = pki.file("crl.pem", &pki.ca.crl(&[66]));
    let text = format!(
        r#"access_log:
  format: '{{"requestId":"$context.requestId","subject":"$context.identity.clientCert.subjectDN","issuer":"$context.identity.clientCert.issuerDN","serial":"$context.identity.clientCert.serialNumber","notAfter":"$context.identity.clientCert.validity.notAfter","tls":"$context.tlsVersion"}}'
tls:
  certificates:
    - {{ cert: {lc}, key: {lk} }}
domains:
  - name: secure.example.test
    certificate: {{ cert: {sc}, key: {sk} }}
    security_policy: TLS_1_3
    mutual_tls:
      mode: required
      truststore: [{ca}]
      crls: [{crl}]
  - name: open.example.test
    certificate: {{ cert: {oc}, key: {ok} }}
    hsts: {{ max_age: 600s, include_subdomains: true }}
    mutual_tls:
      mode: optional
      truststore: [{ca}]
      crls: [{crl}]
apis:
  - name: secure
    hosts: [secure.example.test]
    authorizers:
      - {{ name: certs, type: REQUEST, url: '{authorizer}', identity_sources: [context.identity.clientCert.serialNumber], ttl: 0s }}
    routes:
      - route: GET /echo
        integration:
          type: http
          url: '{upstream}/echo'
          headers:
            x-client-subject: $context.identity.clientCert.subjectDN
            x-client-serial: $context.identity.clientCert.serialNumber
      - route: GET /who
        auth: custom
        authorizer: certs
        integration: {{ type: mock, body: 'ok' }}
  - name: open
    hosts: [open.example.test]
    routes:
      - route: GET /public
        integration: {{ type: mock, body: 'public' }}
      - route: GET /partners
        client_certificate: {{}}
        integration: {{ type: mock, body: 'partners' }}
      - route: GET /billing
        client_certificate: {{ issuers: ['CN=Team CA,O=Portcullis Tests'], sans: ['*.billing.example.test'] }}
        integration: {{ type: mock, body: 'billing' }}
  - name: plain
    hosts: [localhost]
    routes:
      - route: GET /hello
        integration: {{ type: mock, body: 'hello' }}
"#,
        lc = pki.file("local.pem", &local_cert).display(),
        lk = pki.file("local.key", &local_key).display(),
        sc = pki.file("secure.pem", &secure_cert).display(),
        sk = pki.file("secure.key", &secure_key).display(),
        oc = pki.file("open.pem", &open_cert).display(),
        ok = pki.file("open.key", &open_key).display(),
        ca = ca.display(),
        crl = crl.display(),
    );
    (text, secure_cert, open_cert)
}

/// An authorizer function that allows everyone and records the event.
async fn recording_authorizer() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use http_body_util::BodyExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let events = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let events = events.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let events = events.clone();
                    async move {
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        events.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null));
                        let answer = json!({"principalId": "p", "policyDocument": {"Version": "2012-10-17",
                            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "*"}]}});
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(http_body_util::Full::new(
                            bytes::Bytes::from(answer.to_string()),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}/"), seen)
}

async fn get(c: &reqwest::Client, url: &str) -> Result<(u16, reqwest::header::HeaderMap, String), reqwest::Error> {
    let resp = c.get(url).send().await?;
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    Ok((status, headers, resp.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_required_optional_per_route_revoked_and_wrong_ca() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (auth_url, events) = recording_authorizer().await;
    let (text, secure_pem, open_pem) = config(&pki, &up.url(), &auth_url);
    let gw = Gw::start(&text);
    let alice = pki.ca.client("alice", "alice.billing.example.test", 7);
    let carol = pki.ca.client("carol", "carol.sales.example.test", 8);
    let bob_revoked = pki.ca.client("bob", "bob.billing.example.test", 66);
    let mallory = pki.other.client("mallory", "mallory.billing.example.test", 7);

    // Required: no certificate, a revoked one or one from another CA cannot connect at all.
    for who in [None, Some(&bob_revoked), Some(&mallory)] {
        let c = client(&gw, "secure.example.test", &secure_pem, who);
        assert!(
            get(&c, &url(&gw, "secure.example.test", "/echo")).await.is_err(),
            "connected without a valid certificate"
        );
    }
    // A valid one: through, and the upstream, the log and an authorizer see who it is.
    let c = client(&gw, "secure.example.test", &secure_pem, Some(&alice));
    let resp =
        c.get(url(&gw, "secure.example.test", "/echo")).header("x-client-subject", "CN=root").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["headers"]["x-client-subject"], "CN=alice", "the client's own copy is replaced: {echo}");
    assert_eq!(echo["headers"]["x-client-serial"], "07");
    let line = gw.log_entry(&id).await;
    assert_eq!(line["subject"], "CN=alice");
    assert_eq!(line["issuer"], "CN=Team CA,O=Portcullis Tests");
    assert_eq!((line["serial"].as_str(), line["tls"].as_str()), (Some("07"), Some("TLSv1.3")));
    assert!(line["notAfter"].as_str().unwrap().ends_with(" GMT"), "{line}");
    let (status, _, _) = get(&c, &url(&gw, "secure.example.test", "/who")).await.unwrap();
    assert_eq!(status, 200);
    let event = events.lock().unwrap().last().cloned().unwrap();
    let cert = &event["requestContext"]["identity"]["clientCert"];
    assert_eq!((cert["subjectDN"].as_str(), cert["serialNumber"].as_str()), (Some("CN=alice"), Some("07")));
    assert!(cert["clientCertPem"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));

    // Optional: anyone reaches public routes; `client_certificate` routes answer 403, readable.
    let anon = client(&gw, "open.example.test", &open_pem, None);
    let (status, headers, body) = get(&anon, &url(&gw, "open.example.test", "/public")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "public"));
    assert_eq!(headers["strict-transport-security"], "max-age=600; includeSubDomains");
    let (status, _, body) = get(&anon, &url(&gw, "open.example.test", "/partners")).await.unwrap();
    assert_eq!(status, 403);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"Message": "A client certificate is required"}));
    let with_alice = client(&gw, "open.example.test", &open_pem, Some(&alice));
    assert_eq!(get(&with_alice, &url(&gw, "open.example.test", "/partners")).await.unwrap().0, 200);
    assert_eq!(get(&with_alice, &url(&gw, "open.example.test", "/billing")).await.unwrap().0, 200);
    // The issuer is right but the SAN is not billing's.
    let with_carol = client(&gw, "open.example.test", &open_pem, Some(&carol));
    let (status, _, body) = get(&with_carol, &url(&gw, "open.example.test", "/billing")).await.unwrap();
    assert_eq!((status, body.contains("not accepted")), (403, true));
    // Optional still checks what is sent: a revoked certificate cannot connect.
    let revoked = client(&gw, "open.example.test", &open_pem, Some(&bob_revoked));
    assert!(get(&revoked, &url(&gw, "open.example.test", "/public")).await.is_err());

    // A connection made for the optional domain cannot reach the required one by its Host.
    // (Over HTTP/1.1: on HTTP/2 a Host that differs from `:authority` is refused with 400 first.)
    let h1 = reqwest::Client::builder()
        .use_rustls_tls()
        .http1_only()
        .add_root_certificate(reqwest::Certificate::from_pem(open_pem.as_bytes()).unwrap())
        .tls_built_in_root_certs(false)
        .resolve("open.example.test", gw.api)
        .build()
        .unwrap();
    let sneaky =
        h1.get(url(&gw, "open.example.test", "/echo")).header("host", "secure.example.test").send().await.unwrap();
    assert_eq!(sneaky.status().as_u16(), 421);
    assert_eq!(sneaky.text().await.unwrap(), r#"{"message":"Misdirected Request"}"#);
    assert_eq!(up.hits(), 1, "only alice's request reached the upstream");

    // The default endpoint still serves its own API, with the default HSTS.
    let local_pem = std::fs::read_to_string(pki.dir.path().join("local.pem")).unwrap();
    let plain = client(&gw, "localhost", &local_pem, None);
    let (status, headers, body) = get(&plain, &url(&gw, "localhost", "/hello")).await.unwrap();
    assert_eq!((status, body.as_str()), (200, "hello"));
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_policies_and_a_closed_default_endpoint() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (text, secure_pem, open_pem) = config(&pki, &up.url(), "http://127.0.0.1:9/");
    let gw = Gw::start(&text.replace("\ntls:\n", "\ntls:\n  default_endpoint: false\n"));
    let alice = pki.ca.client("alice", "alice.billing.example.test", 7);
    // TLS_1_3 refuses a TLS 1.2 client; TLS_1_2 takes both.
    let tls12 = |domain: &str, pem: &str, id: Option<&(String, String)>| {
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .resolve(domain, gw.api);
        if let Some((c, k)) = id {
            b = b.identity(reqwest::Identity::from_pem(format!("{c}{k}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    let old = tls12("secure.example.test", &secure_pem, Some(&alice));
    assert!(get(&old, &url(&gw, "secure.example.test", "/echo")).await.is_err(), "TLS 1.2 on a TLS_1_3 domain");
    let old_open = tls12("open.example.test", &open_pem, None);
    assert_eq!(get(&old_open, &url(&gw, "open.example.test", "/public")).await.unwrap().0, 200);
    // With the default endpoint off, a name no domain covers gets no handshake.
    let local_pem = std::fs::read_to_string(pki.dir.path().join("local.pem")).unwrap();
    let plain = client(&gw, "localhost", &local_pem, None);
    assert!(get(&plain, &url(&gw, "localhost", "/hello")).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_certificates_serve_at_once_are_listed_audited_without_keys_and_survive_a_restart() {
    use reqwest::Method;
    let pki = Pki::new();
    let (local_cert, local_key) = self_signed(&["localhost"]);
    let text = format!(
        "tls:\n  certificates:\n    - {{ cert: {}, key: {} }}\ndomains:\n  - name: shop.example.test\napis:\n  - name: shop\n    hosts: [shop.example.test]\n    routes:\n      - route: GET /\n        integration: {{ type: mock, body: 'shop' }}\n",
        pki.file("local.pem", &local_cert).display(),
        pki.file("local.key", &local_key).display()
    );
    let mut gw = Gw::start(&text);
    gw.ca_pem = local_cert.clone().into_bytes();
    let (cert, key) = self_signed(&["shop.example.test"]);
    let shop = || client(&gw, "shop.example.test", &cert, None);
    let home = url(&gw, "shop.example.test", "/");
    assert!(get(&shop(), &home).await.is_err(), "served the shop's certificate before the import");

    // A key that is not the certificate's is refused, and nothing changes.
    let (_, other_key) = self_signed(&["shop.example.test"]);
    let path = "/certificates/shop.example.test";
    let (status, body) =
        gw.admin_json(Method::PUT, path, Some(json!({"certificate": cert, "private_key": other_key}))).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (400, Some("certificate for shop.example.test: the private key does not belong to the certificate"))
    );
    let (status, body) = gw.admin_json(Method::PUT, path, Some(json!({"certificate": cert, "private_key": key}))).await;
    assert_eq!((status, body["source"].as_str()), (200, Some("import")), "{body}");
    assert_eq!(get(&shop(), &home).await.unwrap().2, "shop", "served at once");

    let (_, list) = gw.admin_json(Method::GET, "/certificates", None).await;
    let sources: Vec<(&str, &str)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["source"].as_str().unwrap()))
        .collect();
    assert!(sources.contains(&("shop.example.test", "import")) && sources.contains(&("localhost", "file")), "{list}");
    let metrics = gw.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
    assert!(
        metrics
            .contains(r#"portcullis_certificate_expiry_timestamp_seconds{name="shop.example.test",source="import"}"#),
        "{metrics}"
    );
    // rcgen's certificates last for decades: none expires soon.
    assert!(metrics.contains("portcullis_certificates_expiring_soon 0"), "{metrics}");
    // Neither PEM reaches the audit trail.
    let (_, audit) = gw.admin_json(Method::GET, "/audit", None).await;
    let trail = audit.to_string();
    assert!(trail.contains("certificates.ImportCertificate") && !trail.contains("BEGIN"), "{trail}");

    // After a restart the store's certificate is installed again.
    let admin = gw.admin_key.clone();
    let data = gw.stop();
    let mut gw = Gw::start_in(data, &text);
    gw.ca_pem = local_cert.clone().into_bytes();
    gw.admin_key = admin;
    let home = url(&gw, "shop.example.test", "/");
    let c = client(&gw, "shop.example.test", &cert, None);
    let back = crate::harness::eventually(std::time::Duration::from_secs(10), || {
        let (c, home) = (c.clone(), home.clone());
        async move { get(&c, &home).await.is_ok() }
    })
    .await;
    assert!(back, "the imported certificate did not come back after a restart");
    let (status, _) = gw.admin_json(Method::DELETE, "/certificates/shop.example.test", None).await;
    assert_eq!(status, 204);
    let fresh = client(&gw, "shop.example.test", &cert, None);
    assert!(get(&fresh, &home).await.is_err(), "still served after the delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_trust_store_applies_without_a_restart() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (text, secure_pem, _) = config(&pki, &up.url(), "http://127.0.0.1:9/");
    let gw = Gw::start(&format!("reload:\n  poll_interval: 200ms\n{text}"));
    let alice = pki.ca.client("alice", "alice.billing.example.test", 7);
    let mallory = pki.other.client("mallory", "mallory.billing.example.test", 9);
    let echo = url(&gw, "secure.example.test", "/echo");
    assert_eq!(get(&client(&gw, "secure.example.test", &secure_pem, Some(&alice)), &echo).await.unwrap().0, 200);
    assert!(get(&client(&gw, "secure.example.test", &secure_pem, Some(&mallory)), &echo).await.is_err());
    // The operator replaces the trusted CA and its CRL: new handshakes follow the files. (With
    // CRLs configured, a CA without one is refused: its certificates' status is unknown.)
    pki.file("crl.pem", &pki.other.crl(&[]));
    pki.file("ca.pem", &pki.other.cert.pem());
    let switched = crate::harness::eventually(std::time::Duration::from_secs(10), || {
        let c = client(&gw, "secure.example.test", &secure_pem, Some(&mallory));
        let echo = echo.clone();
        async move { get(&c, &echo).await.is_ok_and(|r| r.0 == 200) }
    })
    .await;
    assert!(switched, "{}", gw.stderr_lines().join("\n"));
    assert!(get(&client(&gw, "secure.example.test", &secure_pem, Some(&alice)), &echo).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_path_mappings_choose_api_and_stage_by_path() {
    let pki = Pki::new();
    let (cert, key) = self_signed(&["maps.example.test"]);
    let text = format!(
        r#"access_log:
  format: '{{"requestId":"$context.requestId","base":"$context.customDomain.basePathMatched","api":"$context.apiId","stage":"$context.stage","path":"$context.path"}}'
domains:
  - name: maps.example.test
    certificate: {{ cert: {c}, key: {k} }}
    mappings:
      - {{ base_path: /v1, api: pets, stage: prod }}
      - {{ api: shop, stage: live }}
apis:
  - name: pets
    stages: [{{ name: prod }}, {{ name: beta }}]
    routes:
      - {{ route: GET /pets, integration: {{ type: mock, body: pets }} }}
  - name: shop
    base_path: /shop
    stages: [{{ name: live }}]
    routes:
      - {{ route: GET /cart, integration: {{ type: mock, body: cart }} }}
"#,
        c = pki.file("maps.pem", &cert).display(),
        k = pki.file("maps.key", &key).display()
    );
    let gw = Gw::start(&text);
    let c = client(&gw, "maps.example.test", &cert, None);
    let resp = c.get(url(&gw, "maps.example.test", "/v1/pets")).send().await.unwrap();
    let id = resp.headers()["x-amzn-requestid"].to_str().unwrap().to_owned();
    assert_eq!(resp.text().await.unwrap(), "pets");
    let line = gw.log_entry(&id).await;
    assert_eq!(
        (line["base"].as_str(), line["api"].as_str(), line["stage"].as_str()),
        (Some("v1"), Some("pets"), Some("prod"))
    );
    assert_eq!(get(&c, &url(&gw, "maps.example.test", "/cart")).await.unwrap().2, "cart");
    // The stage is the mapping's: a stage segment in the path is just a path.
    assert_eq!(get(&c, &url(&gw, "maps.example.test", "/v1/beta/pets")).await.unwrap().0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_policies_can_test_the_client_certificate() {
    let pki = Pki::new();
    let up = Upstream::start().await;
    let (text, _, open_pem) = config(&pki, &up.url(), "http://127.0.0.1:9/");
    let policy = "  - name: open
    hosts: [open.example.test]
    resource_policy:
      Version: '2012-10-17'
      Statement:
        - Effect: Allow
          Principal: '*'
          Action: execute-api:Invoke
          Resource: execute-api:/*
          Condition:
            StringLike: { 'portcullis:ClientCertSAN': '*.billing.example.test' }
";
    let gw = Gw::start(&text.replace("  - name: open\n    hosts: [open.example.test]\n", policy));
    let alice = pki.ca.client("alice", "alice.billing.example.test", 7);
    let carol = pki.ca.client("carol", "carol.sales.example.test", 8);
    let public = url(&gw, "open.example.test", "/public");
    assert_eq!(get(&client(&gw, "open.example.test", &open_pem, Some(&alice)), &public).await.unwrap().0, 200);
    assert_eq!(get(&client(&gw, "open.example.test", &open_pem, Some(&carol)), &public).await.unwrap().0, 403);
    assert_eq!(get(&client(&gw, "open.example.test", &open_pem, None), &public).await.unwrap().0, 403);
}

/// A DER TLV with a one-byte length (enough for the short values here).
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag, u8::try_from(content.len()).unwrap()];
    v.extend_from_slice(content);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_responses_are_stapled_from_the_responder_the_certificate_names() {
    let pki = Pki::new();
    let ocsp_port = crate::harness::free_port();
    // The leaf names its responder in Authority Information Access (id-ad-ocsp, a URI).
    let url = format!("http://127.0.0.1:{ocsp_port}");
    let oid_ocsp = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    let access = der(0x30, &[der(0x06, &oid_ocsp), der(0x86, url.as_bytes())].concat());
    let aia = der(0x30, &access);
    let mut params = rcgen::CertificateParams::new(vec!["ocsp.example.test".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "ocsp.example.test");
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&[0x42]));
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], aia)];
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = params.signed_by(&key, &pki.ca.issuer).unwrap();
    let ca_pem = pki.ca.cert.pem();
    let chain = pki.file("ocsp-chain.pem", &format!("{}{ca_pem}", leaf.pem()));
    let leaf_key = pki.file("ocsp.key", &key.serialize_pem());
    // openssl's own responder, with the CA's key, knowing the leaf as valid.
    pki.file("index.txt", "V\t491231235959Z\t\t42\tunknown\t/CN=ocsp.example.test\n");
    let ca_file = pki.file("ocsp-ca.pem", &ca_pem);
    let ca_key = pki.file("ocsp-ca.key", &pki.ca.key_pem);
    let responder = std::process::Command::new("openssl")
        .args(["ocsp", "-index", "index.txt", "-port", &ocsp_port.to_string(), "-ndays", "1", "-ignore_err"])
        .arg("-rsigner")
        .arg(&ca_file)
        .arg("-rkey")
        .arg(&ca_key)
        .arg("-CA")
        .arg(&ca_file)
        .current_dir(pki.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _responder = Killed(responder);
    let text = format!(
        "domains:\n  - name: ocsp.example.test\n    certificate: {{ cert: {}, key: {} }}\napis:\n  - name: a\n    hosts: [ocsp.example.test]\n    routes:\n      - {{ route: GET /, integration: {{ type: mock }} }}\n",
        chain.display(),
        leaf_key.display()
    );
    let gw = Gw::start(&text);
    let stapled = crate::harness::eventually(std::time::Duration::from_secs(15), || {
        let api = gw.api;
        async move {
            let out = std::process::Command::new("openssl")
                .args(["s_client", "-connect", &api.to_string(), "-servername", "ocsp.example.test", "-status"])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.contains("OCSP Response Status: successful") && text.contains("Cert Status: good")
        }
    })
    .await;
    assert!(stapled, "no stapled OCSP response:\n{}", gw.stderr_lines().join("\n"));
}

/// Kills a child process however the test ends.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
