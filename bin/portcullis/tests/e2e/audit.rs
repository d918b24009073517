//! The audit trail's hash chain, end to end: records written through the admin API, the
//! trail verified through the admin API and `portcullis audit verify`, then tampered with in
//! the SQLite file — a record edited, one deleted — and each named exactly.

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{env_of, texts, Cli};
use crate::harness::Gw;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_an_edited_and_a_deleted_record() {
    use sqlx::Connection as _;
    let gw = Gw::start("apis: []\n");
    for name in ["ana", "bo", "cy", "di"] {
        let (status, body) = gw.admin_json(Method::POST, "/iam/users", Some(json!({ "name": name }))).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, v) = gw.admin_json(Method::GET, "/audit/verify", None).await;
    assert_eq!((status, v["intact"].as_bool()), (200, Some(true)), "{v}");
    let total = v["head"]["seq"].as_i64().unwrap();
    assert!(total >= 5 && v["checked"].as_i64() == Some(total), "{v}");
    let cli = Cli::new(&gw);
    let creds = gw.admin_key.clone().unwrap();
    let out = cli.run(&env_of(&creds), &["audit", "verify"]);
    assert!(out.status.success(), "{:?}", texts(&out));
    // Queries: by action as JSON lines for export, and by target.
    let out = cli.run(&env_of(&creds), &["audit", "list", "--action", "iam.CreateUser", "--jsonl"]);
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5, "the bootstrap administrator and four users: {stdout}");
    assert!(lines.iter().all(|l| l["action"] == "iam.CreateUser" && l["hash"].as_str().is_some_and(|h| h.len() == 64)));
    let target = lines[3]["target"].as_str().unwrap().to_owned();
    let (_, found) = gw.admin_json(Method::GET, &format!("/audit?target={target}"), None).await;
    assert_eq!(found["records"].as_array().map(Vec::len), Some(1), "{target}: {found}");
    assert_eq!(found["records"][0]["seq"], lines[3]["seq"]);

    // Someone with write access to the database edits record 2 and deletes record 4.
    let admin = gw.admin_key.clone();
    let data = gw.stop();
    let db = data.path().join("data").join("portcullis.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 2").execute(&mut conn).await.unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = 4").execute(&mut conn).await.unwrap();
    drop(conn);
    let mut gw = Gw::start_in(data, "apis: []\n");
    gw.admin_key = admin;
    let (status, v) = gw.admin_json(Method::GET, "/audit/verify?to=5", None).await;
    assert_eq!((status, v["intact"].as_bool()), (200, Some(false)), "{v}");
    assert_eq!(
        v["findings"],
        json!(["record 2 was changed: its content does not match its hash", "record 4 was deleted"])
    );
    // The CLI prints the same and fails.
    let cli = Cli::new(&gw);
    let out = cli.run(&env_of(gw.admin_key.as_ref().unwrap()), &["audit", "verify", "--to", "5"]);
    let (stdout, stderr) = texts(&out);
    assert!(!out.status.success(), "{stdout}{stderr}");
    let printed: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(printed["findings"], v["findings"]);
    assert!(stderr.contains("the audit trail is broken"), "{stderr}");
    // A stretch verifies against the record before it, as stored: record 3 still follows 2.
    let (_, one) = gw.admin_json(Method::GET, "/audit/verify?from=3&to=3", None).await;
    assert_eq!(one["intact"], true, "{one}");
    // One that starts after a deleted record says so.
    let (_, after) = gw.admin_json(Method::GET, "/audit/verify?from=5&to=5", None).await;
    assert_eq!(after["findings"], json!(["record 4 was deleted"]), "{after}");
}
