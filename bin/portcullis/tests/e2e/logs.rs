//! Access logs at rest: encrypted segments written by a real gateway, read back with
//! `portcullis logs`, after a kill -9 mid-load, with a byte altered, and by a caller without
//! `portcullis:DecryptLogs`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{env_of, texts, Cli};
use crate::harness::{Creds, Gw};

const CONFIG: &str = r#"
node_name: gw-a
access_log:
  stdout: false
  file:
    max_segment_bytes: 65536
apis:
  - name: a
    routes:
      - route: GET /hello
        integration:
          type: mock
          body: hi
"#;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

/// `portcullis logs cat` over `paths` as `creds`: (succeeded, request ids, stdout, stderr).
fn cat(cli: &Cli, creds: &Creds, paths: &[&Path]) -> (bool, Vec<String>, String, String) {
    let mut args = vec!["logs", "cat"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = cli.run(&env_of(creds), &args);
    let (stdout, stderr) = texts(&out);
    let ids = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .map(|v| v["requestId"].as_str().unwrap().to_owned())
        .collect();
    (out.status.success(), ids, stdout, stderr)
}

async fn hello(client: &reqwest::Client, gw: &Gw) -> String {
    let r = client.get(gw.url("/hello")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-amzn-requestid"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_segments_survive_kill_9_and_name_an_altered_byte() {
    let gw = Gw::start(CONFIG);
    let logs = gw.dir.path().join("data").join("logs");
    let admin = gw.admin_key.clone().unwrap();
    let cli = Cli::new(&gw);
    let client = gw.client();
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(hello(&client, &gw).await);
    }
    // The writer flushes each batch as a chunk: the live segment reads back without a close.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (ok, got, _, stderr) = cat(&cli, &admin, &[&logs]);
        if ok && ids.iter().all(|i| got.contains(i)) {
            assert!(stderr.contains("no closing chunk"), "{stderr}");
            break;
        }
        assert!(Instant::now() < deadline, "lines not in the segment yet: {stderr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing of a line is readable in the files themselves.
    for seg in segments(&logs) {
        assert!(seg.to_string_lossy().ends_with(".log.enc"), "{}", seg.display());
        let bytes = std::fs::read(&seg).unwrap();
        assert!(ids.iter().all(|i| !bytes.windows(i.len()).any(|w| w == i.as_bytes())));
    }

    // Load, and kill -9 in the middle of it.
    let load = {
        let (client, url) = (client.clone(), gw.url("/hello"));
        tokio::spawn(async move {
            loop {
                if client.get(&url).send().await.is_err() {
                    break;
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    gw.signal("KILL");
    let _ = load.await;
    let data = gw.stop();
    let killed = segments(&data.path().join("data").join("logs"));

    let mut gw = Gw::start_in(data, CONFIG);
    gw.admin_key = Some(admin.clone());
    let cli = Cli::new(&gw);
    let (ok, got, _, stderr) = cat(&cli, &admin, &killed.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert!(ok, "a killed writer's segment reads cleanly up to its last whole chunk: {stderr}");
    assert!(ids.iter().all(|i| got.contains(i)), "every line flushed before the kill decrypts");
    assert!(got.len() > ids.len(), "lines of the load before the kill are there too");
    assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len(), "no line twice");

    // One byte altered in the middle of the first segment: named with its offset, and what
    // comes before it still printed.
    let copy = tempfile::tempdir().unwrap();
    let victim = copy.path().join(killed[0].file_name().unwrap());
    let mut bytes = std::fs::read(&killed[0]).unwrap();
    let at = bytes.len() * 2 / 3;
    bytes[at] ^= 0x20;
    std::fs::write(&victim, &bytes).unwrap();
    let (ok, before, _, stderr) = cat(&cli, &admin, &[&victim]);
    assert!(!ok, "an altered segment fails");
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(stderr.contains(name) && stderr.contains("byte offset") && stderr.contains("altered"), "{stderr}");
    let offset: usize =
        stderr.split("byte offset ").nth(1).and_then(|r| r.split_whitespace().next()).unwrap().parse().unwrap();
    assert!(offset <= at && offset > 0, "reported at {offset}, altered at {at}");
    assert!(!before.is_empty() && before.iter().all(|i| got.contains(i)), "{stderr}");

    // A file renamed to pass for another segment is called out.
    let renamed = copy.path().join("access-gw-a-20991231T000000Z-1.log.enc");
    std::fs::copy(&killed[0], &renamed).unwrap();
    let (ok, _, _, stderr) = cat(&cli, &admin, &[&renamed]);
    assert!(!ok && stderr.contains("not the one its name says"), "{stderr}");

    // A reader without portcullis:DecryptLogs is refused the key; the refusal is audited.
    let (status, body) = gw.admin_json(Method::POST, "/iam/users", Some(json!({ "name": "reader" }))).await;
    assert_eq!(status, 201, "{body}");
    let policy = json!({ "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess" });
    let (status, _) = gw.admin_json(Method::POST, "/iam/users/reader/attached-policies", Some(policy)).await;
    assert_eq!(status, 200);
    let (_, key) = gw.admin_json(Method::POST, "/iam/users/reader/access-keys", None).await;
    let reader = Creds::new(key["access_key_id"].as_str().unwrap(), key["secret_access_key"].as_str().unwrap());
    let (ok, got, _, stderr) = cat(&cli, &reader, &[&killed[0]]);
    assert!(!ok && got.is_empty() && stderr.contains("403 AccessDeniedException"), "{stderr}");
    let (_, records) = gw.admin_json(Method::GET, "/audit?action=logs.DecryptDataKey&limit=1000", None).await;
    let records = records["records"].as_array().unwrap();
    assert!(records.iter().any(|r| r["outcome"] == "success"), "{records:?}");
    let (_, denied) = gw.admin_json(Method::GET, "/audit?action=portcullis:DecryptLogs", None).await;
    assert_eq!(denied["records"].as_array().map(Vec::len), Some(1), "{denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_segments_rotate_and_tail_and_grep_read_them() {
    let config = CONFIG.replace("max_segment_bytes: 65536", "max_segment_bytes: 65536\n    encrypt: false");
    let gw = Gw::start(&config);
    let logs = gw.dir.path().join("data").join("logs");
    let client = gw.client();
    let mut ids = Vec::new();
    // About 600 bytes a line: 65536-byte segments rotate a few times.
    for _ in 0..400 {
        ids.push(hello(&client, &gw).await);
    }
    let cli = Cli::new(&gw);
    let admin = gw.admin_key.clone().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = cli.run(&env_of(&admin), &["logs", "tail", "-n", "3", logs.to_str().unwrap()]);
        let (stdout, stderr) = texts(&out);
        let tail: Vec<&str> = stdout.lines().collect();
        if tail.len() == 3 && tail[2].contains(&ids[399]) {
            assert!(tail[0].contains(&ids[397]) && tail[1].contains(&ids[398]), "{stdout}");
            break;
        }
        assert!(Instant::now() < deadline, "{stdout}{stderr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let files = segments(&logs);
    assert!(files.len() >= 3, "rotated by size: {files:?}");
    assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "log")));
    let out = cli.run(&env_of(&admin), &["logs", "grep", &ids[123], logs.to_str().unwrap()]);
    let (stdout, _) = texts(&out);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let (_, all, _, _) = cat(&cli, &admin, &[&logs]);
    assert_eq!(all, ids, "every line once, in order, across segments");
}

/// A format that asks for everything credential-adjacent a template can name.
const GREEDY: &str = r#"
node_name: gw-r
iam:
  signature_debug: true
access_log:
  format: '{"requestId":"$context.requestId","ua":"$context.identity.userAgent","path":"$context.path","apiKey":"$context.identity.apiKey","apiKeyId":"$context.identity.apiKeyId","accessKey":"$context.identity.accessKey","caller":"$context.identity.caller","error":"$context.error.message","errorString":$context.error.messageString,"domain":"$context.domainName","status":"$context.status"}'
  file:
    encrypt: false
usage_plans:
  - id: p
    api_stages: [{ api: a, stage: $default }]
apis:
  - name: a
    routes:
      - route: GET /open
        integration: { type: mock, body: hi }
      - route: GET /signed
        auth: iam
        integration: { type: mock, body: hi }
      - route: GET /keyed
        api_key_required: true
        integration: { type: mock, body: hi }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_a_log_line_whatever_the_format_asks() {
    let gw = Gw::start(GREEDY);
    let client = gw.client();
    let (status, key) = gw.admin_json(Method::POST, "/api-keys", Some(json!({ "name": "k" }))).await;
    assert_eq!(status, 201, "{key}");
    let (key_id, key_value) = (key["id"].as_str().unwrap().to_owned(), key["value"].as_str().unwrap().to_owned());
    let (status, _) = gw.admin_json(Method::PUT, &format!("/usage-plans/p/keys/{key_id}"), None).await;
    assert_eq!(status, 200);

    let secrets = [
        "bearer-SECRET-0001",
        "cookie-SECRET-0002",
        "query-SECRET-0003",
        "token-SECRET-0004",
        "signed-SECRET-0005",
        "signedquery-SECRET-0006",
    ];
    for path in ["/open", "/keyed", "/nope"] {
        let r = client
            .get(gw.url(&format!("{path}?access_token={}&x=1", secrets[2])))
            .header("authorization", format!("Bearer {}", secrets[0]))
            .header("cookie", format!("session={}", secrets[1]))
            .header("x-amz-security-token", secrets[3])
            .header("x-api-key", &key_value)
            .send()
            .await
            .unwrap();
        assert!(r.status().as_u16() < 500);
    }
    // A signed request whose signature does not match, with a credential in a signed header
    // and the query: the debug echo names them but carries no value of theirs.
    let creds = gw.admin_key.clone().unwrap();
    let mut req =
        client.get(gw.url(&format!("/signed?token={}", secrets[5]))).header("x-api-key", secrets[4]).build().unwrap();
    crate::sign::sign_request(&mut req, &creds, &crate::sign::How::api());
    req.url_mut().set_query(Some(&format!("token={}&extra=1", secrets[5])));
    let r = client.execute(req).await.unwrap();
    assert_eq!(r.status(), 403);
    let echo = r.text().await.unwrap();
    assert!(echo.contains("x-api-key:<redacted>") && echo.contains("token=<redacted>"), "{echo}");
    // And one that matches: the caller's access key id is logged, never its secret.
    let mut req =
        client.get(gw.url(&format!("/signed?token={}", secrets[5]))).header("x-api-key", secrets[4]).build().unwrap();
    crate::sign::sign_request(&mut req, &creds, &crate::sign::How::api());
    assert_eq!(client.execute(req).await.unwrap().status(), 200);

    // Every output the gateway wrote: stdout, stderr, and every file under its directory.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut outputs = gw.stdout_lines().join("\n");
    // Except the first administrator's key, which the first start prints once, by design.
    let stderr = gw.stderr_lines().into_iter().filter(|l| !l.trim_start().starts_with("AWS_SECRET_ACCESS_KEY="));
    outputs.push_str(&stderr.collect::<Vec<_>>().join("\n"));
    let lines = gw.stdout_lines();
    assert!(lines.len() >= 4, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains(&format!("\"apiKeyId\":\"{key_id}\""))), "the key's id is logged");
    assert!(lines.iter().any(|l| l.contains("\"accessKey\":\"AKIA")), "an access key id is logged");
    let mut files = vec![gw.dir.path().to_owned()];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if !p.extension().is_some_and(|e| e == "db" || e == "db-wal" || e == "db-shm") {
            outputs.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    let logs = gw.dir.path().join("data").join("logs");
    assert!(segments(&logs).iter().any(|f| std::fs::metadata(f).unwrap().len() > 0), "the file log was written");
    for s in secrets.iter().chain([&key_value.as_str(), &creds.secret.as_str()]) {
        assert!(!outputs.contains(s), "`{s}` reached a log output");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_follow_moves_on_across_rotations_asking_each_key_once() {
    use std::io::BufRead as _;
    let gw = Gw::start(CONFIG);
    let logs = gw.dir.path().join("data").join("logs");
    let admin = gw.admin_key.clone().unwrap();
    let cli = Cli::new(&gw);
    let mut child = cli
        .command(&env_of(&admin), &["logs", "tail", "-n", "0", "-f", logs.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = std::sync::Arc::default();
    let sink = seen.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    let client = gw.client();
    let mut ids = Vec::new();
    // About 600 bytes a line: 300 lines fill more than two 64 KiB segments.
    for _ in 0..300 {
        ids.push(hello(&client, &gw).await);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = seen.lock().unwrap().clone();
        if ids.iter().all(|i| got.iter().any(|l| l.contains(i.as_str()))) {
            assert_eq!(got.len(), ids.len(), "each line once");
            break;
        }
        assert!(Instant::now() < deadline, "tail -f showed {} of {} lines", got.len(), ids.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let files = segments(&logs);
    assert!(files.len() >= 3, "rotated: {files:?}");
    let (_, records) = gw.admin_json(Method::GET, "/audit?action=logs.DecryptDataKey&limit=1000", None).await;
    let targets: Vec<&str> =
        records["records"].as_array().unwrap().iter().map(|r| r["target"].as_str().unwrap()).collect();
    let unique: HashSet<&&str> = targets.iter().collect();
    assert_eq!(unique.len(), targets.len(), "one key request per segment: {targets:?}");
    assert!(targets.len() >= files.len() - 1, "{targets:?}");
}
