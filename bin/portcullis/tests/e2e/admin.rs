//! The admin API: SigV4 authentication, IAM authorisation, health, config redaction, metrics,
//! reload and audit; the IAM, STS and KMS routes; on SQLite and on PostgreSQL.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Creds, Gw};

const CONFIG: &str = r#"
apis:
  - name: a
    routes:
      - route: GET /hello
        integration:
          type: mock
          body: hi
      - route: GET /up
        integration:
          type: http
          url: http://127.0.0.1:9/
          headers: {authorization: "Bearer upstream-secret", x-plain: visible}
"#;

const ADMIN_ARN: &str = "arn:aws:iam::000000000000:user/admin";
const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

/// Status, `x-amzn-ErrorType` (empty when absent) and JSON body of an answer.
async fn answer(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let kind = r.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, kind, r.json().await.unwrap_or(Value::Null))
}

/// A signed admin call as `creds`.
async fn call(gw: &Gw, creds: &Creds, method: Method, path: &str, body: Option<Value>) -> (u16, String, Value) {
    answer(gw.admin_call(Some(creds), method, path, body).await).await
}

/// Creates a user with `policy` attached and an access key, as the first administrator.
async fn user_with_key(gw: &Gw, name: &str, policy: &str) -> Creds {
    let (status, body) = gw.admin_json(Method::POST, "/iam/users", Some(json!({ "name": name }))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["arn"], format!("arn:aws:iam::000000000000:user/{name}"));
    let path = format!("/iam/users/{name}/attached-policies");
    let (status, body) = gw.admin_json(Method::POST, &path, Some(json!({ "policy_arn": policy }))).await;
    assert_eq!(status, 200, "{body}");
    new_key(gw, name).await
}

async fn new_key(gw: &Gw, user: &str) -> Creds {
    let (status, body) = gw.admin_json(Method::POST, &format!("/iam/users/{user}/access-keys"), None).await;
    assert_eq!(status, 201, "{body}");
    let (id, secret) = (body["access_key_id"].as_str().unwrap(), body["secret_access_key"].as_str().unwrap());
    assert!(id.starts_with("AKIA") && secret.len() == 40, "{body}");
    Creds::new(id, secret)
}

async fn audit_records(gw: &Gw, creds: &Creds) -> Vec<Value> {
    let (status, _, body) = call(gw, creds, Method::GET, "/audit?limit=1000", None).await;
    assert_eq!(status, 200, "{body}");
    body["records"].as_array().unwrap().clone()
}

#[tokio::test]
async fn admin_api_needs_a_signature_and_reports_state() {
    let gw = Gw::start(CONFIG);
    let c = gw.admin_client();
    let key = gw.admin_key.clone().expect("the first administrator's key is printed on first start");
    assert!(key.id.starts_with("AKIA") && key.id.len() == 20 && key.secret.len() == 40, "{}", key.id);

    // Open endpoints.
    let health: Value = c.get(gw.admin_url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = c.get(gw.admin_url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!((ready["status"].as_str(), ready["store"].as_str()), (Some("ready"), Some("sqlite")));
    let spec: Value = c.get(gw.admin_url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{spec}");
    assert!(spec["paths"]["/reload"].is_object());

    // Everything else needs a valid signature; each way of failing has AWS's error type.
    let (status, kind, body) = answer(c.get(gw.admin_url("/config")).send().await.unwrap()).await;
    assert_eq!((status, kind.as_str()), (403, "MissingAuthenticationTokenException"), "{body}");
    assert_eq!(body["message"], "Missing Authentication Token");
    let r = c.get(gw.admin_url("/config")).header("authorization", "Bearer x").send().await.unwrap();
    let (status, kind, body) = answer(r).await;
    assert_eq!((status, kind.as_str()), (403, "IncompleteSignatureException"), "{body}");
    assert!(!body.to_string().contains("Bearer"), "the header is not echoed: {body}");
    let wrong_secret = Creds::new(&key.id, "0123456789012345678901234567890123456789");
    let (status, kind, body) = call(&gw, &wrong_secret, Method::GET, "/config", None).await;
    assert_eq!((status, kind.as_str()), (403, "InvalidSignatureException"), "{body}");
    let unknown = Creds::new("AKIAAAAAAAAAAAAAAAAA", &key.secret);
    let (status, kind, body) = call(&gw, &unknown, Method::GET, "/config", None).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"), "{body}");
    assert_eq!(body["message"], "The security token included in the request is invalid.");
    let (status, kind, _) = answer(c.post(gw.admin_url("/reload")).send().await.unwrap()).await;
    assert_eq!((status, kind.as_str()), (403, "MissingAuthenticationTokenException"));

    let (status, config) = gw.admin_json(Method::GET, "/config", None).await;
    assert_eq!(status, 200);
    let text = config.to_string();
    assert!(!text.contains("upstream-secret"), "secrets are redacted: {text}");
    assert!(text.contains("visible") && text.contains("/hello"), "{text}");

    gw.client().get(gw.url("/hello")).send().await.unwrap();
    let r = gw.admin_call(None, Method::GET, "/metrics", None).await;
    assert_eq!(r.status(), 200);
    let metrics = r.text().await.unwrap();
    assert!(
        metrics
            .contains(r#"portcullis_requests_total{api="a",stage="$default",route="GET /hello",status_class="2xx"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("portcullis_tls_handshakes_total{listener=\"api\",result=\"ok\"}"), "{metrics}");
    assert!(metrics.contains("portcullis_request_duration_seconds_bucket"), "{metrics}");

    let (status, body) = gw.admin_json(Method::GET, "/no-such", None).await;
    assert_eq!((status, &body["message"]), (404, &json!("Not Found")));
}

#[tokio::test]
async fn reloads_through_the_admin_api_are_audited() {
    let gw = Gw::start(CONFIG);
    let c = gw.admin_client();
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["routes"].as_u64()), (Some("reloaded"), Some(2)));

    gw.rewrite_config("apis:\n  - name: a\n    rotues: []\n");
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(status, 422);
    let err = body["errors"][0].as_str().unwrap();
    assert!(err.contains("portcullis.yaml:7:5: apis[0].rotues: unknown field `rotues`"), "{err}");
    assert!(err.contains("did you mean `routes`"), "{err}");
    assert_eq!(gw.client().get(gw.url("/hello")).send().await.unwrap().status(), 200, "the old config keeps serving");

    let admin = gw.admin_key.clone().unwrap();
    let records = audit_records(&gw, &admin).await;
    let reloads: Vec<&Value> = records.iter().filter(|r| r["action"] == "config.reload").collect();
    assert_eq!(reloads.len(), 2, "{records:?}");
    assert_eq!(reloads[0]["actor"], ADMIN_ARN);
    assert_eq!(reloads[0]["source_ip"], "127.0.0.1");
    assert_eq!(reloads[0]["outcome"], "success");
    assert_eq!(reloads[1]["outcome"], "failure");
    assert!(reloads[1]["detail"].as_str().unwrap().contains("rotues"));
    let bootstrap = records.iter().find(|r| r["action"] == "iam.CreateUser").unwrap();
    assert_eq!((bootstrap["actor"].as_str(), bootstrap["target"].as_str()), (Some("system"), Some(ADMIN_ARN)));
    assert!(!bootstrap.to_string().contains(&admin.secret), "no secret in the audit trail");

    // A refused anonymous write is audited too.
    let r = c.post(gw.admin_url("/reload")).header("authorization", "Bearer guess").send().await.unwrap();
    let (status, kind, _) = answer(r).await;
    assert_eq!((status, kind.as_str()), (403, "IncompleteSignatureException"));
    let last = audit_records(&gw, &admin).await.pop().unwrap();
    assert_eq!(
        (last["actor"].as_str(), last["action"].as_str(), last["outcome"].as_str()),
        (Some("anonymous"), Some("admin.reload"), Some("failure")),
        "{last}"
    );
    assert_eq!(last["source_ip"], "127.0.0.1");
}

#[tokio::test]
async fn the_bootstrap_key_is_printed_once_and_survives_restarts() {
    let gw = Gw::start(CONFIG);
    let key = gw.admin_key.clone().unwrap();
    // Every file of the data directory, the SQLite WAL included: only an envelope is stored.
    for entry in std::fs::read_dir(gw.dir.path().join("data")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap_or_default();
        let found = bytes.windows(key.secret.len()).any(|w| w == key.secret.as_bytes());
        assert!(!found, "the secret access key is stored in clear in {}", path.display());
    }
    let dir = gw.stop();
    let gw = Gw::start_in(dir, CONFIG);
    assert!(gw.admin_key.is_none(), "printed again: {:?}", gw.stderr_lines());
    assert!(!gw.stderr_lines().iter().any(|l| l.contains("AWS_SECRET_ACCESS_KEY")), "{:?}", gw.stderr_lines());
    let (status, _, body) = call(&gw, &key, Method::GET, "/config", None).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_gateway_runs_on_postgresql_too() {
    let base = std::env::var("PORTCULLIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("portcullis_e2e_{}", uuid::Uuid::new_v4().simple());
    let out = std::process::Command::new("psql")
        .arg(&base)
        .arg("-c")
        .arg(format!("CREATE DATABASE {db}"))
        .output()
        .expect("psql is needed");
    assert!(out.status.success(), "PostgreSQL is required: {}", String::from_utf8_lossy(&out.stderr));
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    let gw = Gw::start(&format!("store: {{url: \"{url}\"}}\n{CONFIG}"));
    let c = gw.admin_client();
    let ready: Value = c.get(gw.admin_url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["store"], "postgres");
    let (status, body) = gw.admin_json(Method::POST, "/reload", None).await;
    assert_eq!(status, 200, "{body}");
    let reader = user_with_key(&gw, "reader", READ_ONLY).await;
    let (status, kind, _) = call(&gw, &reader, Method::POST, "/reload", None).await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"));
    let records = audit_records(&gw, &reader).await;
    assert!(records.iter().any(|r| r["action"] == "config.reload" && r["outcome"] == "success"), "{records:?}");
    assert!(records.iter().any(|r| r["action"] == "portcullis:ReloadConfig" && r["outcome"] == "failure"));
    drop(gw);
    let _ = std::process::Command::new("psql")
        .arg(&base)
        .arg("-c")
        .arg(format!("DROP DATABASE {db} WITH (FORCE)"))
        .output();
}

#[tokio::test]
async fn policies_decide_what_a_user_may_do() {
    let gw = Gw::start(CONFIG);
    let reader = user_with_key(&gw, "reader", READ_ONLY).await;
    let reader_arn = "arn:aws:iam::000000000000:user/reader";

    // ReadOnlyAccess allows `portcullis:Get*`: GET /config (GetConfig), not POST /reload.
    let (status, _, body) = call(&gw, &reader, Method::GET, "/config", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, kind, body) = call(&gw, &reader, Method::POST, "/reload", None).await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(&format!("User: {reader_arn} is not authorized to perform: portcullis:ReloadConfig")));
    let records = audit_records(&gw, &reader).await;
    let denied = records.iter().find(|r| r["actor"] == reader_arn && r["outcome"] == "failure").unwrap();
    assert_eq!(denied["action"], "portcullis:ReloadConfig", "{denied}");
    assert!(!records.iter().any(|r| r["action"] == "config.reload"), "a denied reload does not happen");

    // The secret is in the CreateAccessKey answer only; two keys per user at most.
    let second = new_key(&gw, "reader").await;
    let (status, body) = gw.admin_json(Method::GET, "/iam/users/reader/access-keys", None).await;
    assert_eq!(status, 200);
    let text = body.to_string();
    assert_eq!(body["access_keys"].as_array().unwrap().len(), 2, "{text}");
    assert!(!text.contains("secret") && !text.contains(&reader.secret) && !text.contains(&second.secret), "{text}");
    let (status, body) = gw.admin_json(Method::GET, "/iam/users/reader", None).await;
    assert!(status == 200 && !body.to_string().contains(&reader.secret), "{body}");
    let r = gw.admin_call(None, Method::POST, "/iam/users/reader/access-keys", None).await;
    let (status, kind, body) = answer(r).await;
    assert_eq!((status, kind.as_str()), (409, "LimitExceededException"), "{body}");

    // A user with keys (and policies) cannot be deleted.
    let r = gw.admin_call(None, Method::DELETE, "/iam/users/reader", None).await;
    let (status, kind, body) = answer(r).await;
    assert_eq!(status, 409, "{body}");
    assert!(kind.starts_with("DeleteConflict"), "{kind}: {body}");
    assert!(body["message"].as_str().unwrap().contains("access keys"), "{body}");

    // Deactivating a key takes effect on its very next call; the other key still works.
    let path = format!("/iam/access-keys/{}", reader.id);
    let (status, body) = gw.admin_json(Method::PATCH, &path, Some(json!({ "status": "Inactive" }))).await;
    assert_eq!(status, 200, "{body}");
    let (status, kind, _) = call(&gw, &reader, Method::GET, "/config", None).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"));
    assert_eq!(call(&gw, &second, Method::GET, "/config", None).await.0, 200);
    let (status, body) = gw.admin_json(Method::PATCH, &path, Some(json!({ "status": "Disabled" }))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = gw.admin_json(Method::PATCH, &path, Some(json!({ "status": "Active" }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(call(&gw, &reader, Method::GET, "/config", None).await.0, 200);

    // Keys, then the policy, then the user go.
    for id in [&reader.id, &second.id] {
        let (status, body) = gw.admin_json(Method::DELETE, &format!("/iam/access-keys/{id}"), None).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, kind, _) = call(&gw, &second, Method::GET, "/config", None).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"));
    let detach = "/iam/users/reader/attached-policies?policy_arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess";
    let (status, body) = gw.admin_json(Method::DELETE, detach, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.admin_json(Method::DELETE, "/iam/users/reader", None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = gw.admin_json(Method::GET, "/iam/users/reader", None).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn customer_policies_are_checked_and_enforced() {
    let gw = Gw::start(CONFIG);
    let bad = json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Maybe", "Action": "*", "Resource": "*" }] });
    let r = gw.admin_call(None, Method::POST, "/iam/policies", Some(json!({ "name": "p", "document": bad }))).await;
    let (status, kind, body) = answer(r).await;
    assert_eq!((status, kind.as_str()), (400, "MalformedPolicyDocumentException"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Statement[0].Effect"), "{body}");

    // Only GetConfig on the config resource.
    let doc = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "portcullis:GetConfig", "Resource": "arn:portcullis:gateway::000000000000:config" }]
    });
    let (status, body) =
        gw.admin_json(Method::POST, "/iam/policies", Some(json!({ "name": "p", "document": doc }))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["arn"], "arn:aws:iam::000000000000:policy/p");
    let bad = json!({
        "Version": "2012-10-17",
        "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*" }, { "Effect": "Maybe", "Action": "*", "Resource": "*" }]
    });
    let r = gw.admin_call(None, Method::PUT, "/iam/policies/p/document", Some(bad)).await;
    let (status, kind, body) = answer(r).await;
    assert_eq!((status, kind.as_str()), (400, "MalformedPolicyDocumentException"), "{body}");
    assert!(body["message"].as_str().unwrap().contains("Statement[1].Effect"), "{body}");

    let user = user_with_key(&gw, "narrow", "arn:aws:iam::000000000000:policy/p").await;
    assert_eq!(call(&gw, &user, Method::GET, "/config", None).await.0, 200);
    let (status, kind, _) = call(&gw, &user, Method::GET, "/metrics", None).await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"));
    let (status, body) = gw.admin_json(Method::DELETE, "/iam/policies/p", None).await;
    assert_eq!(status, 409, "an attached policy stays: {body}");
}

#[tokio::test]
async fn assumed_roles_get_temporary_credentials() {
    let gw = Gw::start(CONFIG);
    let (status, body) = gw.admin_json(Method::POST, "/iam/roles", Some(json!({ "name": "ops" }))).await;
    assert_eq!(status, 201, "{body}");
    let attach = Some(json!({ "policy_arn": READ_ONLY }));
    assert_eq!(gw.admin_json(Method::POST, "/iam/roles/ops/attached-policies", attach).await.0, 200);

    let assume = json!({ "role_name": "ops", "session_name": "alice", "duration_secs": 900 });
    let (status, c) = gw.admin_json(Method::POST, "/sts/assume-role", Some(assume)).await;
    assert_eq!(status, 200, "{c}");
    assert!(c["access_key_id"].as_str().unwrap().starts_with("ASIA"), "{c}");
    let session_arn = "arn:aws:sts::000000000000:assumed-role/ops/alice";
    assert_eq!(c["assumed_role_arn"], session_arn);
    let mut temp = Creds::new(c["access_key_id"].as_str().unwrap(), c["secret_access_key"].as_str().unwrap());
    temp.token = Some(c["session_token"].as_str().unwrap().to_owned());

    let (status, _, me) = call(&gw, &temp, Method::GET, "/sts/caller-identity", None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["arn"].as_str(), me["account"].as_str()), (Some(session_arn), Some("000000000000")));
    // The role's policies apply to the session.
    assert_eq!(call(&gw, &temp, Method::GET, "/config", None).await.0, 200);
    let (status, kind, body) = call(&gw, &temp, Method::POST, "/reload", None).await;
    assert_eq!((status, kind.as_str()), (403, "AccessDeniedException"));
    assert!(body["message"].as_str().unwrap().contains(session_arn), "{body}");

    // Without its session token the key is unknown.
    let bare = Creds { token: None, ..temp.clone() };
    let (status, kind, _) = call(&gw, &bare, Method::GET, "/sts/caller-identity", None).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"));
    let mut forged = temp.clone();
    forged.token = Some("AAAA".into());
    let (status, kind, _) = call(&gw, &forged, Method::GET, "/sts/caller-identity", None).await;
    assert_eq!((status, kind.as_str()), (403, "UnrecognizedClientException"));

    let short = json!({ "role_name": "ops", "session_name": "alice", "duration_secs": 600 });
    let (status, body) = gw.admin_json(Method::POST, "/sts/assume-role", Some(short)).await;
    assert_eq!(status, 400, "{body}");
    let records = audit_records(&gw, gw.admin_key.as_ref().unwrap()).await;
    let assumed = records.iter().find(|r| r["action"] == "sts.AssumeRole").unwrap();
    assert!(!assumed.to_string().contains(temp.secret.as_str()), "{assumed}");
}

#[tokio::test]
async fn kms_rotation_and_rewrap_survive_a_restart() {
    let gw = Gw::start(CONFIG);
    let key = gw.admin_key.clone().unwrap();
    let (status, keys) = gw.admin_json(Method::GET, "/kms/keys", None).await;
    assert_eq!(status, 200, "{keys}");
    assert_eq!(keys["current"], 1);
    assert_eq!(keys["versions"].as_array().unwrap().len(), 1, "{keys}");
    assert_eq!(keys["versions"][0]["version"], 1);

    let (status, body) = gw.admin_json(Method::POST, "/kms/rotate", None).await;
    assert_eq!((status, &body["current"]), (200, &json!(2)), "{body}");
    let (status, body) = gw.admin_json(Method::POST, "/kms/rewrap", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["rewrapped"].as_u64().unwrap() >= 1, "the admin key and the server secret move: {body}");
    let (_, again) = gw.admin_json(Method::POST, "/kms/rewrap", None).await;
    assert_eq!(again["rewrapped"], 0, "everything is under version 2 already");
    let (_, keys) = gw.admin_json(Method::GET, "/kms/keys", None).await;
    assert_eq!((keys["current"].as_u64(), keys["versions"].as_array().map(Vec::len)), (Some(2), Some(2)), "{keys}");

    // The rotated keyring was persisted, and the re-wrapped secrets open after a restart.
    let dir = gw.stop();
    let gw = Gw::start_in(dir, CONFIG);
    let (status, _, keys) = call(&gw, &key, Method::GET, "/kms/keys", None).await;
    assert_eq!((status, &keys["current"]), (200, &json!(2)), "{keys}");
    assert_eq!(call(&gw, &key, Method::GET, "/config", None).await.0, 200);
}
