//! Cluster mode: three gateway processes on one PostgreSQL (a test-owned server, started and
//! stopped with `pg_ctl` on its own port and data directory) and one Redis act as one gateway.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_keys::{master_key, new_key, utc_today};
use crate::cli::{env_of, texts, Cli};
use crate::harness::{eventually, free_port, Creds, Gw};

/// A PostgreSQL server this test owns: its own data directory and port, so that it can be
/// stopped and started again.
struct OwnPostgres {
    dir: tempfile::TempDir,
    port: u16,
}

/// Runs a PostgreSQL program as the `postgres` user when the test runs as root (the server
/// refuses to run as root).
fn pg(program: &str, args: &[&str]) -> std::process::Output {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).output().unwrap_or_else(|e| panic!("{program} is required for this test: {e}"))
}

impl OwnPostgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        chown_to_postgres(dir.path());
        chown_to_postgres(&data);
        let out = pg("initdb", &["-D", data.to_str().unwrap(), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", texts(&out).1);
        let me = Self { dir, port: free_port() };
        me.up();
        me
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn up(&self) {
        let opts =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("log");
        let out = pg(
            "pg_ctl",
            &["start", "-w", "-D", self.data().to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &opts],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}\n{}",
            texts(&out).1,
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    fn down(&self) {
        let out = pg("pg_ctl", &["stop", "-w", "-m", "fast", "-D", self.data().to_str().unwrap()]);
        assert!(out.status.success(), "pg_ctl stop: {}", texts(&out).1);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = pg("pg_ctl", &["stop", "-m", "immediate", "-D", self.data().to_str().unwrap_or_default()]);
    }
}

fn chown_to_postgres(path: &Path) {
    let _ = Command::new("chown").arg("postgres:postgres").arg(path).status();
}

/// The APIs every node serves: a metered route under a 100-a-day quota, a keyed route under a
/// throttle-only plan, and (when `v2`) a route the published config adds.
fn apis(v2: bool) -> String {
    let extra = if v2 { "      - route: GET /v2\n        integration: { type: mock, body: 'v2' }\n" } else { "" };
    // The published version also blocks the test's own address on a stage of its own: a WAF
    // IP set edited and published once reaches every node.
    let (acl, gamma) = if v2 {
        (
            "web_acls:\n  - name: walls\n    default_action: allow\n    rules:\n      - name: no-loopback\n        \
             priority: 1\n        action: block\n        statement: {ip_set: {cidrs: [127.0.0.0/8]}}\n",
            "      - name: gamma\n        web_acl: walls\n",
        )
    } else {
        ("", "")
    };
    let plan_gamma = if v2 { ", { api: pets, stage: gamma }" } else { "" };
    format!(
        "usage:
  flush_interval: 1s
iam:
  cache_ttl: 5m
usage_plans:
  - id: hundred
    quota: {{ limit: 100, period: DAY }}
    api_stages: [{{ api: pets, stage: prod }}]
  - id: open
    throttle: {{ rate: 1000, burst: 1000 }}
    api_stages: [{{ api: pets, stage: beta }}{plan_gamma}]
{acl}user_pools:
  - name: main
    issuer: 'https://localhost/auth'
    lockout: {{ after: 50, per_address: 4 }}
    clients:
      - id: web
apis:
  - name: pets
    stages:
      - name: prod
      - name: beta
{gamma}    jwt_authorizers:
      - name: pool
        issuers:
          - user_pool: main
            audiences: [web]
        token_use: access
    routes:
      - route: GET /pets
        api_key_required: true
        integration: {{ type: mock, body: '[]' }}
      - route: POST /auth
        integration: {{ type: user_pool, pool: main }}
      - route: GET /me
        auth: jwt
        authorizer: pool
        integration: {{ type: mock, body: 'me' }}
{extra}"
    )
}

/// A node's config file: its own listeners and data, the shared store, Redis and name.
fn node_config(dir: &Path, n: usize, store: &str, prefix: &str) -> PathBuf {
    let path = dir.join("portcullis.yaml");
    let text = format!(
        "listen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndata_dir: {}\nnode_name: node-{n}\n\
         store:\n  url: {store}\nshared_state:\n  redis:\n    url: redis://127.0.0.1:6379/0\n    key_prefix: {prefix}\n\
         cluster:\n  heartbeat: 1s\n{}",
        dir.join("data").display(),
        apis(false)
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start_node(n: usize, store: &str, prefix: &str, master: &str) -> Gw {
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(dir.path(), n, store, prefix);
    Gw::spawn(dir, config, &[("PORTCULLIS_MASTER_KEY", master.to_owned())])
}

async fn get(gw: &Gw, path: &str, key: &str) -> u16 {
    let req = gw.client().get(gw.url(path)).header("x-api-key", key);
    req.send().await.map_or(0, |r| r.status().as_u16())
}

/// Waits until every node answers `want` for `path` with `key`; the time it took.
async fn all_answer(nodes: &[&Gw], path: &str, key: &str, want: u16, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    let done = eventually(within, || async {
        for n in nodes {
            if get(n, path, key).await != want {
                return false;
            }
        }
        true
    })
    .await;
    done.then(|| start.elapsed())
}

/// One call of Cognito's JSON protocol to the pool: status and body.
async fn pool_call(gw: &Gw, op: &str, body: Value) -> (u16, Value) {
    let (status, _, body) = crate::user_pools::cognito(gw, "/prod/auth", op, body).await;
    (status, body)
}

/// The status of the JWT route with a bearer token.
async fn me(gw: &Gw, token: &str) -> u16 {
    gw.client().get(gw.url("/prod/me")).bearer_auth(token).send().await.map_or(0, |r| r.status().as_u16())
}

async fn health(gw: &Gw) -> Value {
    let r = gw.client().get(gw.admin_url("/health")).send().await.unwrap();
    r.json().await.unwrap()
}

/// The usage a plan recorded for a key today, as the store has it.
async fn usage_total(gw: &Gw, plan: &str, key_id: &str) -> i64 {
    let today = utc_today();
    let path = format!("/usage-plans/{plan}/usage?keyId={key_id}&startDate={today}&endDate={today}");
    let (status, body) = gw.admin_json(Method::GET, &path, None).await;
    if status != 200 {
        return -1;
    }
    body["values"][key_id].as_array().map_or(0, |days| days.iter().map(|d| d[0].as_i64().unwrap_or(0)).sum())
}

/// Sends `n` requests at once, spread over `nodes`; the statuses (0: no answer).
async fn burst(nodes: &[&Gw], path: &str, key: &str, n: usize) -> Vec<u16> {
    let targets: Vec<(reqwest::Client, String)> = nodes.iter().map(|g| (g.client(), g.url(path))).collect();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (client, url) = targets[i % targets.len()].clone();
            let key = key.to_owned();
            tokio::spawn(async move {
                client.get(url).header("x-api-key", key).send().await.map_or(0, |r| r.status().as_u16())
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(statuses: &[u16], want: u16) -> usize {
    statuses.iter().filter(|s| **s == want).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_on_one_postgres_and_redis_act_as_one_gateway() {
    let pg = OwnPostgres::start();
    let store = pg.url();
    let prefix = format!("cluster-{}", uuid::Uuid::new_v4().simple());
    let master = master_key();
    let n1 = start_node(1, &store, &prefix, &master);
    let mut n2 = start_node(2, &store, &prefix, &master);
    let mut n3 = start_node(3, &store, &prefix, &master);
    n2.admin_key = n1.admin_key.clone();
    n3.admin_key = n1.admin_key.clone();

    // --- An API key disabled on node 1 is refused on nodes 2 and 3 within a second, though
    // their caches would trust it for five minutes.
    let (open_id, open_key) = new_key(&n1, "open").await;
    let (status, _) = n1.admin_json(Method::PUT, &format!("/usage-plans/open/keys/{open_id}"), None).await;
    assert_eq!(status, 200);
    let (doomed_id, doomed) = new_key(&n1, "doomed").await;
    n1.admin_json(Method::PUT, &format!("/usage-plans/open/keys/{doomed_id}"), None).await;
    let everyone = [&n1, &n2, &n3];
    assert!(all_answer(&everyone, "/beta/pets", &doomed, 200, Duration::from_secs(5)).await.is_some());
    let (status, _) =
        n1.admin_json(Method::PATCH, &format!("/api-keys/{doomed_id}"), Some(json!({ "enabled": false }))).await;
    assert_eq!(status, 200);
    let took = all_answer(&[&n2, &n3], "/beta/pets", &doomed, 403, Duration::from_secs(1)).await;
    assert!(took.is_some(), "the disabled key was still accepted a second later");

    // --- An access key deactivated on node 1 stops working on node 2's admin API too.
    let (status, key) = n1.admin_json(Method::POST, "/iam/users/admin/access-keys", None).await;
    assert_eq!(status, 201, "{key}");
    let second = Creds::new(key["access_key_id"].as_str().unwrap(), key["secret_access_key"].as_str().unwrap());
    assert_eq!(n2.admin_call(Some(&second), Method::GET, "/cluster/nodes", None).await.status().as_u16(), 200);
    let path = format!("/iam/access-keys/{}", second.id);
    let (status, _) = n1.admin_json(Method::PATCH, &path, Some(json!({ "status": "Inactive" }))).await;
    assert_eq!(status, 200);
    let refused = eventually(Duration::from_secs(1), || async {
        n2.admin_call(Some(&second), Method::GET, "/cluster/nodes", None).await.status().as_u16() == 403
    })
    .await;
    assert!(refused, "the deactivated access key still worked on node 2 a second later");

    // --- A pool user disabled through node 1: the access token it had is refused by nodes 2
    // and 3 within a second, though they had verified and cached it.
    let user = json!({"username": "ann", "password": "Correct-h0rse-1"});
    let (status, body) = n1.admin_json(Method::POST, "/user-pools/main/users", Some(user)).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = pool_call(
        &n2,
        "InitiateAuth",
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "web",
        "AuthParameters": {"USERNAME": "ann", "PASSWORD": "Correct-h0rse-1"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned();
    for n in everyone {
        assert_eq!(me(n, &access).await, 200);
    }
    let disable = json!({"enabled": false});
    assert_eq!(n1.admin_json(Method::PATCH, "/user-pools/main/users/ann", Some(disable)).await.0, 200);
    let refused =
        eventually(Duration::from_secs(1), || async { me(&n2, &access).await == 401 && me(&n3, &access).await == 401 })
            .await;
    assert!(refused, "the disabled user's token still opened nodes 2 and 3 a second later");

    // Failed sign-ins from one address count on every node (Redis): the fifth, on any node,
    // is refused before its password is checked.
    for i in 0..4 {
        let node = everyone[i % 3];
        let (status, _) = pool_call(
            node,
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "web",
            "AuthParameters": {"USERNAME": format!("nobody-{i}"), "PASSWORD": "wrong"}}),
        )
        .await;
        assert_eq!(status, 400, "a wrong password");
    }
    for n in everyone {
        let (status, body) = pool_call(
            n,
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": "web",
            "AuthParameters": {"USERNAME": "ann", "PASSWORD": "Correct-h0rse-1"}}),
        )
        .await;
        assert_eq!((status, body["__type"].as_str()), (429, Some("TooManyRequestsException")), "{body}");
    }

    // --- A config applied through node 2 is served by all three, which say which version.
    let cli = Cli::new(&n2);
    let admin = n1.admin_key.clone().unwrap();
    let env = env_of(&admin);
    let bad = n2.dir.path().join("bad.yaml");
    std::fs::write(&bad, "apis:\n  - name: pets\n    stages: [{ name: prod }]\n    routes:\n      - route: FETCH /x\n")
        .unwrap();
    let out = cli.run(&env, &["apply", "-f", bad.to_str().unwrap()]);
    let (_, err) = texts(&out);
    assert!(!out.status.success());
    assert!(err.contains(&format!("{}:5:", bad.display())), "the error names the file and line: {err}");
    let good = n2.dir.path().join("v2.yaml");
    std::fs::write(&good, apis(true)).unwrap();
    let out = cli.run(&env, &["apply", "-f", good.to_str().unwrap(), "--comment", "adds GET /v2"]);
    let (stdout, err) = texts(&out);
    assert!(out.status.success(), "apply: {err}\n{stdout}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((answer["version"].as_i64(), answer["served_here"].as_bool()), (Some(1), Some(true)), "{answer}");
    assert!(all_answer(&everyone, "/beta/v2", &open_key, 200, Duration::from_secs(2)).await.is_some());
    assert!(all_answer(&everyone, "/gamma/pets", &open_key, 403, Duration::from_secs(1)).await.is_some());
    for n in everyone {
        assert_eq!(health(n).await["config_version"], 1);
        let metrics = n.admin_call(None, Method::GET, "/metrics", None).await.text().await.unwrap();
        assert!(metrics.contains("portcullis_config_version 1\n"), "{metrics}");
    }
    let listed = eventually(Duration::from_secs(5), || async {
        let out = cli.run(&env, &["status"]);
        let v: Value = serde_json::from_str(&texts(&out).0).unwrap_or_default();
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        nodes.len() == 3 && nodes.iter().all(|n| n["config_version"] == 1 && n["stale"] == false)
    })
    .await;
    assert!(listed, "status: {}", texts(&cli.run(&env, &["status"])).0);

    // --- A quota of 100 shared exactly by three nodes under load, with node 3 killed by
    // SIGKILL in the middle and started again: every request counted once.
    let (hid, hkey) = new_key(&n1, "hundred").await;
    n1.admin_json(Method::PUT, &format!("/usage-plans/hundred/keys/{hid}"), None).await;
    let load = Load::start(&everyone, &hkey);
    load.wait_served(25).await;
    let _ = Command::new("kill").args(["-KILL", &n3.pid().to_string()]).status();
    let ended = n3.wait_status(Duration::from_secs(5)).and_then(|s| std::os::unix::process::ExitStatusExt::signal(&s));
    assert_eq!(ended, Some(9), "node 3 ended by SIGKILL");
    let dir = n3.take_dir();
    let config = dir.path().join("portcullis.yaml");
    n3 = Gw::spawn(dir, config, &[("PORTCULLIS_MASTER_KEY", master.clone())]);
    n3.admin_key = n1.admin_key.clone();
    let everyone = [&n1, &n2, &n3];
    let (served, unanswered, limited) = load.finish(&n3).await;
    let tally = format!("{served} served, {unanswered} unanswered, {limited} refused");
    assert!(unanswered > 0, "node 3 died with requests in flight or coming: {tally}");
    assert!(served <= 100 && limited > 0, "{tally}");
    let exact = eventually(Duration::from_secs(10), || async { usage_total(&n2, "hundred", &hid).await == 100 }).await;
    assert!(exact, "usage recorded: {} (want exactly 100)", usage_total(&n2, "hundred", &hid).await);

    // --- PostgreSQL stopped: nodes keep serving cached keys, refuse admin writes with 503,
    // keep usage on disk, and catch up when it is back.
    assert!(all_answer(&everyone, "/beta/pets", &open_key, 200, Duration::from_secs(2)).await.is_some());
    let before = settled_usage(&n1, "open", &open_id).await;
    pg.down();
    let during = burst(&everyone, "/beta/pets", &open_key, 30).await;
    assert_eq!(count(&during, 200), 30, "cached keys keep working: {during:?}");
    let (status, body) = n1.admin_json(Method::POST, "/api-keys", Some(json!({ "name": "during" }))).await;
    assert_eq!(status, 503, "{body}");
    let ready = n2.client().get(n2.admin_url("/ready")).send().await.unwrap().status().as_u16();
    assert_eq!(ready, 503);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let waiting: usize = everyone.iter().map(|n| batches_on_disk(n)).sum();
    assert!(waiting > 0, "usage waits on disk while the store is away");
    pg.up();
    let caught_up =
        eventually(Duration::from_secs(15), || async { usage_total(&n1, "open", &open_id).await == before + 30 }).await;
    assert!(caught_up, "usage after the outage: {} (want {})", usage_total(&n1, "open", &open_id).await, before + 30);
    let (status, body) = n3.admin_json(Method::POST, "/api-keys", Some(json!({ "name": "after" }))).await;
    assert_eq!(status, 201, "admin writes work again: {body}");
}

/// Requests from six clients, two per node, until the quota is used up on every node.
struct Load {
    targets: Arc<RwLock<Vec<(reqwest::Client, String)>>>,
    served: Arc<AtomicUsize>,
    unanswered: Arc<AtomicUsize>,
    limited: Arc<AtomicUsize>,
    restarted: Arc<AtomicBool>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(nodes: &[&Gw], key: &str) -> Self {
        let targets =
            Arc::new(RwLock::new(nodes.iter().map(|g| (g.client(), g.url("/prod/pets"))).collect::<Vec<_>>()));
        let (served, unanswered, limited) = (Arc::default(), Arc::default(), Arc::default());
        let restarted = Arc::new(AtomicBool::new(false));
        let workers = (0..6)
            .map(|w| {
                let (targets, key) = (targets.clone(), key.to_owned());
                let (served, unanswered, limited): (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
                    (Arc::clone(&served), Arc::clone(&unanswered), Arc::clone(&limited));
                let restarted = restarted.clone();
                tokio::spawn(async move {
                    let deadline = Instant::now() + Duration::from_secs(60);
                    while Instant::now() < deadline {
                        let (client, url) = targets.read().unwrap()[w % 3].clone();
                        match client.get(url).header("x-api-key", &key).send().await.map(|r| r.status().as_u16()) {
                            Ok(200) => served.fetch_add(1, Ordering::SeqCst),
                            Ok(429) => {
                                limited.fetch_add(1, Ordering::SeqCst);
                                if restarted.load(Ordering::SeqCst) {
                                    return;
                                }
                                0
                            }
                            Ok(other) => panic!("unexpected status {other}"),
                            Err(_) => {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                unanswered.fetch_add(1, Ordering::SeqCst)
                            }
                        };
                    }
                    panic!("the quota was never used up");
                })
            })
            .collect();
        Self { targets, served, unanswered, limited, restarted, workers }
    }

    async fn wait_served(&self, n: usize) {
        let reached = eventually(Duration::from_secs(20), || async { self.served.load(Ordering::SeqCst) >= n }).await;
        assert!(reached, "the load did not get going");
    }

    /// Points node 3's clients at its new address and waits for every client to be refused;
    /// (served, unanswered, refused).
    async fn finish(self, node3: &Gw) -> (usize, usize, usize) {
        self.targets.write().unwrap()[2] = (node3.client(), node3.url("/prod/pets"));
        self.restarted.store(true, Ordering::SeqCst);
        for w in self.workers {
            w.await.unwrap();
        }
        let count = |c: &AtomicUsize| c.load(Ordering::SeqCst);
        (count(&self.served), count(&self.unanswered), count(&self.limited))
    }
}

/// The usage recorded once every node has flushed what it counted (it stops changing).
async fn settled_usage(gw: &Gw, plan: &str, key_id: &str) -> i64 {
    let mut last = usage_total(gw, plan, key_id).await;
    loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let now = usage_total(gw, plan, key_id).await;
        if now == last {
            return now;
        }
        last = now;
    }
}

/// Usage batches a node holds on disk, waiting for the store.
fn batches_on_disk(gw: &Gw) -> usize {
    std::fs::read_dir(gw.dir.path().join("data/usage"))
        .map(|d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".tsv")).count())
        .unwrap_or(0)
}
