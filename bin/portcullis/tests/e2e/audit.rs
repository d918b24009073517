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

/// Rewrites the whole chain from `from` on with valid hashes, as someone with write access to
/// the database and the hash function (but not the signing key) could.
async fn rechain(conn: &mut sqlx::SqliteConnection, from: i64) {
    use sqlx::Row as _;
    let rows = sqlx::query(
        "SELECT seq, time_ms, actor, source_ip, action, target, outcome, detail, access_key_id, user_agent, parameters \
         FROM audit_log ORDER BY seq",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut prev = String::new();
    for r in rows {
        let seq: i64 = r.get(0);
        let rec = store::NewAuditRecord {
            time_ms: r.get(1),
            actor: r.get(2),
            access_key_id: r.get(8),
            source_ip: r.get(3),
            user_agent: r.get(9),
            action: r.get(4),
            target: r.get(5),
            parameters: r.get(10),
            outcome: store::Outcome::parse(r.get(6)),
            detail: r.get(7),
        };
        if seq >= from {
            let hash = store::audit_chain::record_hash(&prev, &rec);
            sqlx::query("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?")
                .bind(&prev)
                .bind(&hash)
                .bind(seq)
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query("UPDATE audit_head SET hash = ? WHERE id = 1 AND seq = ?")
                .bind(&hash)
                .bind(seq)
                .execute(&mut *conn)
                .await
                .unwrap();
            prev = hash;
        } else {
            let (h,): (String,) = sqlx::query_as("SELECT hash FROM audit_log WHERE seq = ?")
                .bind(seq)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            prev = h;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_digests_catch_a_rewritten_chain_and_a_forged_digest() {
    use sqlx::Connection as _;
    let config = "audit:\n  digest_interval: 300ms\napis: []\n";
    let gw = Gw::start(config);
    for name in ["ana", "bo"] {
        let (status, _) = gw.admin_json(Method::POST, "/iam/users", Some(json!({ "name": name }))).await;
        assert_eq!(status, 201);
    }
    // A digest signs the records so far; the public key is published to anyone.
    let signed = crate::harness::eventually(std::time::Duration::from_secs(10), || async {
        gw.admin_json(Method::GET, "/audit/verify", None).await.1["digests"].as_i64().unwrap_or(0) >= 1
    })
    .await;
    assert!(signed, "{}", gw.stderr_lines().join("\n"));
    let (_, v) = gw.admin_json(Method::GET, "/audit/verify", None).await;
    assert_eq!(v["intact"], true, "{v}");
    let jwks: Value =
        gw.admin_client().get(gw.admin_url("/audit/public-key")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (jwks["keys"][0]["kty"].as_str(), jwks["keys"][0]["crv"].as_str()),
        (Some("EC"), Some("P-256")),
        "{jwks}"
    );

    // Record 2 edited and every hash after it recomputed: the chain is consistent again, but
    // the digest signed the old hash.
    let admin = gw.admin_key.clone();
    let data = gw.stop();
    let db = data.path().join("data").join("portcullis.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2").execute(&mut conn).await.unwrap();
    rechain(&mut conn, 2).await;
    let digest_seq: i64 = sqlx::query_scalar("SELECT MIN(seq) FROM audit_log WHERE action = 'audit.Digest'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let mut gw = Gw::start_in(data, "audit:\n  digest_interval: 1h\napis: []\n");
    gw.admin_key = admin.clone();
    let (_, v) = gw.admin_json(Method::GET, &format!("/audit/verify?to={digest_seq}"), None).await;
    let findings = v["findings"].to_string();
    assert!(findings.contains(&format!("record 2 differs from what digest {digest_seq} signed")), "{v}");
    assert!(!findings.contains("was changed"), "the chain itself was made consistent: {v}");

    // A digest rewritten to match (dropping record 2) fails its signature.
    let data = gw.stop();
    let db = data.path().join("data").join("portcullis.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let detail: String = sqlx::query_scalar("SELECT detail FROM audit_log WHERE seq = ?")
        .bind(digest_seq)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let mut forged: Value = serde_json::from_str(&detail).unwrap();
    forged["body"]["records"].as_array_mut().unwrap().retain(|r| r[0] != 2);
    sqlx::query("UPDATE audit_log SET detail = ? WHERE seq = ?")
        .bind(forged.to_string())
        .bind(digest_seq)
        .execute(&mut conn)
        .await
        .unwrap();
    rechain(&mut conn, digest_seq).await;
    drop(conn);
    let mut gw = Gw::start_in(data, "audit:\n  digest_interval: 1h\napis: []\n");
    gw.admin_key = admin;
    let (_, v) = gw.admin_json(Method::GET, &format!("/audit/verify?to={digest_seq}"), None).await;
    assert!(v["findings"].to_string().contains(&format!("digest {digest_seq} is not signed by the audit key")), "{v}");
}
