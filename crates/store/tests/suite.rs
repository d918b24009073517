//! One suite, run against both stores for real: SQLite in a temporary file and PostgreSQL at
//! 127.0.0.1:5432 (or `PORTCULLIS_TEST_POSTGRES`). A missing PostgreSQL fails the suite.

use portcullis_store::audit_chain::{self, Finding, GENESIS};
use portcullis_store::{
    AdminCredential, AnyStore, ApiKey, ApiKeyInsert, AuditRecord, AuditSearch, CertificateSource, Credential,
    DeleteOutcome, Entity, EntityKind, KeyInsert, NewAuditRecord, Outcome, Relation, Store, StoreError, StoredAlarm,
    StoredCertificate, UsageRecord,
};
use portcullis_store::{PoolCode, PoolStore, PoolUser, RefreshTake, RefreshToken};

async fn suite(store: &AnyStore) {
    store.ping().await.unwrap_or_else(|e| panic!("ping: {e}"));

    // Bootstrap credential: first writer wins, later ones see it exists.
    let cred = AdminCredential { id: "admin".into(), secret_hash: "ab".repeat(32), created_at_ms: 1 };
    assert!(store.create_admin_credential(&cred).await.unwrap_or_else(|e| panic!("{e}")));
    let other = AdminCredential { secret_hash: "cd".repeat(32), ..cred.clone() };
    assert!(!store.create_admin_credential(&other).await.unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(store.admin_credential("admin").await.ok().flatten(), Some(cred));
    assert_eq!(store.admin_credential("nobody").await.ok().flatten(), None);

    // Audit records keep order and every field, including awkward text.
    let mut seqs = Vec::new();
    for i in 0..5 {
        let rec = NewAuditRecord {
            time_ms: 1_700_000_000_000 + i,
            actor: "admin".into(),
            access_key_id: String::new(),
            source_ip: "127.0.0.1".into(),
            user_agent: String::new(),
            action: "config.reload".into(),
            target: format!("file-{i}.yaml"),
            parameters: String::new(),
            outcome: if i % 2 == 0 { Outcome::Success } else { Outcome::Failure },
            detail: "quote ' and \" and ü".into(),
        };
        seqs.push(store.append_audit(&rec).await.unwrap_or_else(|e| panic!("{e}")));
    }
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let all = store.list_audit(0, 100).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), 5);
    assert_eq!(all[1].record.outcome, Outcome::Failure);
    assert_eq!(all[4].record.detail, "quote ' and \" and ü");
    let page = store.list_audit(seqs[1], 2).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), seqs[2..4].to_vec());
    // Searches by actor, action, target and time, each alone and together.
    let search = |q: portcullis_store::AuditSearch| {
        let store = store.clone();
        async move {
            store
                .search_audit(&portcullis_store::AuditSearch { limit: 100, ..q })
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let seqs_of = |v: Vec<portcullis_store::AuditRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs_of(
            search(portcullis_store::AuditSearch { target: Some("file-3.yaml".into()), ..Default::default() }).await
        ),
        vec![seqs[3]]
    );
    assert_eq!(
        seqs_of(search(portcullis_store::AuditSearch { actor: Some("nobody".into()), ..Default::default() }).await),
        Vec::<i64>::new()
    );
    let window = portcullis_store::AuditSearch {
        action: Some("config.reload".into()),
        from_ms: Some(1_700_000_000_001),
        to_ms: Some(1_700_000_000_003),
        ..Default::default()
    };
    assert_eq!(seqs_of(search(window).await), seqs[1..4].to_vec());
    let after = portcullis_store::AuditSearch { after: seqs[3], actor: Some("admin".into()), ..Default::default() };
    assert_eq!(seqs_of(search(after).await), vec![seqs[4]]);

    // They form a chain from GENESIS, and the head is the last of them.
    let head = ok("audit_head", store.audit_head().await);
    assert_eq!(head, (seqs[4], all[4].hash.clone()));
    assert_eq!(all[0].prev_hash, GENESIS);
    assert_chained(&all, GENESIS, &head);
    // A range and a single record read the same rows; a stretch verifies from the record before.
    let range = ok("audit_range", store.audit_range(seqs[2], seqs[3]).await);
    assert_eq!(range, all[2..4]);
    assert_eq!(ok("audit_range", store.audit_range(0, i64::MAX).await), all);
    assert_eq!(ok("audit_range", store.audit_range(seqs[3], seqs[2]).await), [], "empty range");
    assert_eq!(ok("audit_record", store.audit_record(seqs[1]).await), Some(all[1].clone()));
    assert_eq!(ok("audit_record", store.audit_record(seqs[4] + 1).await), None);
    let anchor = ok("audit_record", store.audit_record(seqs[1]).await).map(|r| r.hash).unwrap_or_default();
    assert_chained(&range, &anchor, &(range[1].seq, range[1].hash.clone()));
    let v = audit_chain::verify(&range, &anchor, Some((head.0, &head.1)));
    assert_eq!(v.findings, [Finding::TailMissing { last: seqs[3], head: seqs[4] }], "a stretch short of the head");
}

/// Checks that `records`, written after the record whose hash is `anchor`, are an intact chain
/// that ends at `head`: each hash is hex SHA-256, each record follows the one before, and
/// [`audit_chain::verify`] finds nothing.
#[track_caller]
fn assert_chained(records: &[AuditRecord], anchor: &str, head: &(i64, String)) {
    let mut prev = anchor;
    for r in records {
        assert!(r.hash.len() == 64 && r.hash.bytes().all(|b| b.is_ascii_hexdigit()), "record {}: {}", r.seq, r.hash);
        assert_eq!(r.prev_hash, prev, "record {} follows the one before", r.seq);
        prev = &r.hash;
    }
    assert_eq!(records.last().map(|r| (r.seq, r.hash.as_str())), Some((head.0, head.1.as_str())), "the head");
    let v = audit_chain::verify(records, anchor, Some((head.0, &head.1)));
    assert_eq!((v.checked, v.unchained, v.findings), (records.len(), 0, vec![]));
}

/// An audit record with plain text, so raw SQL can write it back. Odd `i` fill in the access
/// key id, user agent and parameters (hashed in the ten-field form); even `i` leave them empty,
/// as records written before schema version 6 have them (the seven-field form).
fn audit_rec(actor: &str, i: i64) -> NewAuditRecord {
    let odd = i % 2 == 1;
    let filled = |s: String| if odd { s } else { String::new() };
    NewAuditRecord {
        time_ms: 1_700_000_000_000 + i,
        actor: actor.into(),
        access_key_id: filled(format!("AKIAEXAMPLE{i}")),
        source_ip: "10.0.0.1".into(),
        user_agent: filled(format!("aws-cli/2.15 run {i}")),
        action: "iam.CreateUser".into(),
        target: format!("user-{i}"),
        parameters: filled(format!(r#"{{"UserName":"user-{i}"}}"#)),
        outcome: if i % 3 == 0 { Outcome::Failure } else { Outcome::Success },
        detail: format!("detail {i}"),
    }
}

/// The seven fields a record without access key id, user agent and parameters is hashed over.
fn seven_fields(r: &NewAuditRecord) -> serde_json::Value {
    serde_json::json!([r.time_ms, r.actor, r.source_ip, r.action, r.target, r.outcome.as_str(), r.detail])
}

/// The ten fields a record with any of access key id, user agent and parameters is hashed over.
fn ten_fields(r: &NewAuditRecord) -> serde_json::Value {
    serde_json::json!([
        r.time_ms,
        r.actor,
        r.source_ip,
        r.action,
        r.target,
        r.outcome.as_str(),
        r.detail,
        r.access_key_id,
        r.user_agent,
        r.parameters
    ])
}

/// A record's hash worked out here from the formula [`audit_chain::record_hash`] documents:
/// hex SHA-256 of `prev`, a newline and the JSON array `fields`.
fn documented_hash(prev: &str, fields: &serde_json::Value) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(format!("{prev}\n{fields}")))
}

/// The fields schema version 6 added (access key id, user agent, parameters) round-trip through
/// append, search and reads, awkward text included, and are hashed: in the ten-field form when
/// any is set, in the seven-field form of earlier builds when none is. Appends two records.
async fn audit_fields_suite(store: &AnyStore) {
    let (base, _) = ok("audit_head", store.audit_head().await);
    let actor = "arn:aws:iam::000000000000:user/fields";
    let full = NewAuditRecord {
        access_key_id: "AKIAFIELDS".into(),
        user_agent: "Mozilla/5.0 (quote ' and \" and ü)".into(),
        parameters: r#"{"UserName":"bob","Tags":[{"Key":"k","Value":"ü '"}]}"#.into(),
        ..audit_rec(actor, 1)
    };
    let plain = audit_rec(actor, 2);
    assert_eq!((plain.access_key_id.as_str(), plain.user_agent.as_str(), plain.parameters.as_str()), ("", "", ""));
    assert_eq!(ok("append_audit", store.append_audit(&full).await), base + 1);
    assert_eq!(ok("append_audit", store.append_audit(&plain).await), base + 2);

    let q = AuditSearch { after: base, limit: 10, actor: Some(actor.into()), ..Default::default() };
    let found = ok("search_audit", store.search_audit(&q).await);
    assert_eq!(found.iter().map(|r| &r.record).collect::<Vec<_>>(), [&full, &plain]);
    assert_eq!(ok("audit_range", store.audit_range(base + 1, base + 2).await), found);
    assert_eq!(ok("list_audit", store.list_audit(base, 10).await), found);
    assert_eq!(ok("audit_record", store.audit_record(base + 1).await).as_ref(), found.first());

    assert_eq!(found[0].hash, documented_hash(&found[0].prev_hash, &ten_fields(&full)), "ten-field form");
    assert_eq!(found[1].hash, documented_hash(&found[1].prev_hash, &seven_fields(&plain)), "old seven-field form");
    let head = ok("audit_head", store.audit_head().await);
    assert_chained(&found, &found[0].prev_hash, &head);
}

fn pool_user(pool: &str, sub: &str, username: &str, email: &str) -> PoolUser {
    PoolUser {
        pool: pool.into(),
        sub: sub.into(),
        username: username.into(),
        email: email.into(),
        status: "UNCONFIRMED".into(),
        enabled: true,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        attributes: r#"{"name":"Ann ü"}"#.into(),
        mfa_secret: String::new(),
        mfa_enabled: false,
        mfa_last_step: 0,
        failed_signins: 0,
        locked_until_ms: 0,
        created_ms: 10,
        updated_ms: 10,
    }
}

fn refresh(hash: &str, sub: &str, family: &str) -> RefreshToken {
    RefreshToken {
        pool: "main".into(),
        token_hash: hash.into(),
        sub: sub.into(),
        client_id: "web".into(),
        family: family.into(),
        scope: "openid".into(),
        auth_time_ms: 5,
        expires_ms: 1_000,
        used: false,
        revoked: false,
    }
}

async fn pool_suite(store: &AnyStore) {
    // Names are unique per pool whatever their case; another pool may reuse them.
    let ann = pool_user("main", "s-ann", "Ann", "ann@example.com");
    assert!(ok("create", store.pool_user_create(&ann).await));
    assert!(!ok("same name", store.pool_user_create(&pool_user("main", "s-2", "ANN", "")).await));
    assert!(!ok("same sub", store.pool_user_create(&pool_user("main", "s-ann", "other", "")).await));
    assert!(ok("other pool", store.pool_user_create(&pool_user("staff", "s-ann", "ann", "")).await));
    assert_eq!(ok("by name", store.pool_user_by_name("main", "aNN").await), Some(ann.clone()));
    assert_eq!(ok("by sub", store.pool_user("main", "s-ann").await), Some(ann.clone()));
    let bob = pool_user("main", "s-bob", "bob", "ann@example.com");
    assert!(ok("create", store.pool_user_create(&bob).await));
    let same_mail = ok("by email", store.pool_users_by_email("main", "ANN@example.com").await);
    assert_eq!(same_mail.iter().map(|u| u.sub.as_str()).collect::<Vec<_>>(), ["s-ann", "s-bob"]);
    assert_eq!(ok("list", store.pool_users("main").await).len(), 2);

    // Replacement is compare-and-set on the version.
    let confirmed = PoolUser { status: "CONFIRMED".into(), updated_ms: 20, ..ann.clone() };
    assert!(ok("replace", store.pool_user_replace(&confirmed, 10).await));
    assert!(!ok("stale replace", store.pool_user_replace(&PoolUser { updated_ms: 21, ..ann.clone() }, 10).await));
    assert_eq!(ok("read", store.pool_user("main", "s-ann").await).map(|u| u.status), Some("CONFIRMED".into()));

    // Failed sign-ins count in the database, so every node sees the same number.
    assert_eq!(ok("fail", store.pool_signin_failed("main", "s-ann").await), Some(1));
    assert_eq!(ok("fail", store.pool_signin_failed("main", "s-ann").await), Some(2));
    assert_eq!(ok("fail", store.pool_signin_failed("main", "nobody").await), None);
    ok("lock", store.pool_signin_lock("main", "s-ann", 99).await);
    let locked = ok("read", store.pool_user("main", "s-ann").await).unwrap_or_else(|| panic!("no user"));
    assert_eq!((locked.failed_signins, locked.locked_until_ms), (2, 99));
    ok("reset", store.pool_signin_reset("main", "s-ann").await);
    let reset = ok("read", store.pool_user("main", "s-ann").await).unwrap_or_else(|| panic!("no user"));
    assert_eq!((reset.failed_signins, reset.locked_until_ms), (0, 0));

    // Groups.
    assert!(ok("add", store.pool_group_add("main", "admins", "s-ann").await));
    assert!(!ok("again", store.pool_group_add("main", "admins", "s-ann").await));
    assert!(ok("add", store.pool_group_add("main", "staff", "s-ann").await));
    assert_eq!(ok("groups", store.pool_groups_of("main", "s-ann").await), ["admins", "staff"]);
    assert!(ok("remove", store.pool_group_remove("main", "staff", "s-ann").await));
    assert!(!ok("remove", store.pool_group_remove("main", "staff", "s-ann").await));

    // Codes: one per purpose, replaced by a new one, attempts counted, used once.
    let code = PoolCode {
        pool: "main".into(),
        sub: "s-ann".into(),
        purpose: "confirm".into(),
        code_hash: "h1".into(),
        expires_ms: 100,
        attempts: 0,
    };
    ok("code", store.pool_code_put(&code).await);
    assert_eq!(ok("attempt", store.pool_code_attempt("main", "s-ann", "confirm").await), Some(1));
    ok("new code", store.pool_code_put(&PoolCode { code_hash: "h2".into(), ..code.clone() }).await);
    let stored = ok("read", store.pool_code("main", "s-ann", "confirm").await).unwrap_or_else(|| panic!("no code"));
    assert_eq!((stored.code_hash.as_str(), stored.attempts), ("h2", 0));
    assert!(ok("use", store.pool_code_delete("main", "s-ann", "confirm").await));
    assert!(!ok("use twice", store.pool_code_delete("main", "s-ann", "confirm").await));
    assert_eq!(ok("attempt", store.pool_code_attempt("main", "s-ann", "confirm").await), None);

    // Refresh tokens: exactly one exchange is fresh; a replay names the family to revoke.
    ok("put", store.pool_refresh_put(&refresh("t1", "s-ann", "f1")).await);
    ok("put", store.pool_refresh_put(&refresh("t2", "s-ann", "f1")).await);
    ok("put", store.pool_refresh_put(&refresh("t3", "s-bob", "f2")).await);
    assert!(
        matches!(ok("take", store.pool_refresh_take("main", "t1").await), RefreshTake::Fresh(t) if t.family == "f1")
    );
    assert!(matches!(ok("again", store.pool_refresh_take("main", "t1").await), RefreshTake::Replayed(t) if t.used));
    assert_eq!(ok("unknown", store.pool_refresh_take("main", "nope").await), RefreshTake::Unknown);
    // A session holds while one of its refresh tokens is not revoked, used or not.
    assert!(ok("active", store.pool_family_active("main", "f1").await));
    assert!(!ok("no such session", store.pool_family_active("main", "f9").await));
    assert!(!ok("another pool's", store.pool_family_active("other", "f1").await));
    assert_eq!(ok("revoke family", store.pool_refresh_revoke_family("main", "f1").await), 2);
    assert!(!ok("revoked", store.pool_family_active("main", "f1").await));
    assert!(ok("the other session", store.pool_family_active("main", "f2").await));
    assert!(
        matches!(ok("revoked", store.pool_refresh_take("main", "t2").await), RefreshTake::Replayed(t) if t.revoked)
    );
    assert_eq!(ok("revoke user", store.pool_refresh_revoke_user("main", "s-bob").await), 1);
    assert!(!ok("signed out", store.pool_family_active("main", "f2").await));

    // Deleting a user takes its groups, codes and tokens along.
    ok("code", store.pool_code_put(&code).await);
    assert!(ok("delete", store.pool_user_delete("main", "s-ann").await));
    assert!(!ok("delete twice", store.pool_user_delete("main", "s-ann").await));
    assert!(ok("groups", store.pool_groups_of("main", "s-ann").await).is_empty());
    assert_eq!(ok("code", store.pool_code("main", "s-ann", "confirm").await), None);
    assert_eq!(ok("token", store.pool_refresh_take("main", "t2").await), RefreshTake::Unknown);
    assert!(ok("name free again", store.pool_user_create(&pool_user("main", "s-new", "ann", "")).await));
}

fn alarm(name: &str, definition: &str, updated_ms: i64) -> StoredAlarm {
    StoredAlarm { name: name.into(), definition: definition.into(), updated_ms }
}

/// Alarms: put, replace, list by name, a missing one, delete. Leaves two alarms (`api-errors`,
/// `latency-p99`).
async fn alarm_suite(store: &AnyStore) {
    assert_eq!(ok("alarms", store.alarms().await), []);
    let latency = alarm("latency-p99", r#"{"metric":"latency_p99","threshold":250}"#, 1);
    let errors = alarm("api-errors", r#"{"metric":"5xx","threshold":10,"note":"quote ' and \" ü"}"#, 2);
    let cpu = alarm("cpu-high", "{}", 3);
    for a in [&latency, &errors, &cpu] {
        ok("put_alarm", store.put_alarm(a).await);
    }
    assert_eq!(ok("alarms", store.alarms().await), [errors.clone(), cpu.clone(), latency.clone()], "by name");
    assert_eq!(ok("alarm", store.alarm("api-errors").await), Some(errors.clone()));
    assert_eq!(ok("alarm", store.alarm("missing").await), None);

    // Putting a name again replaces every column.
    let errors2 = alarm("api-errors", r#"{"metric":"5xx","threshold":20}"#, 9);
    ok("put_alarm again", store.put_alarm(&errors2).await);
    assert_eq!(ok("alarm", store.alarm("api-errors").await), Some(errors2.clone()));
    assert_eq!(ok("alarms", store.alarms().await).len(), 3, "replaced, not added");

    assert!(ok("delete_alarm", store.delete_alarm("cpu-high").await));
    assert!(!ok("delete_alarm again", store.delete_alarm("cpu-high").await));
    assert!(!ok("delete_alarm missing", store.delete_alarm("missing").await));
    assert_eq!(ok("alarm", store.alarm("cpu-high").await), None);
    assert_eq!(ok("alarms", store.alarms().await), [errors2, latency]);
}

/// Unwraps a store result, naming the step that failed.
fn ok<T>(what: &str, r: Result<T, StoreError>) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn entity(kind: EntityKind, name: &str, id: &str, document: &str, max_session_secs: i64, at: i64) -> Entity {
    Entity {
        kind,
        name: name.into(),
        id: id.into(),
        document: document.into(),
        max_session_secs,
        created_at_ms: at,
        updated_at_ms: at,
    }
}

/// A user's long-term access key: no session fields.
fn user_key(id: &str, user: &str, secret: &str, created_at_ms: i64) -> Credential {
    Credential {
        access_key_id: id.into(),
        owner_kind: EntityKind::User,
        owner_name: user.into(),
        secret_enc: secret.into(),
        active: true,
        token_hash: None,
        session_name: None,
        source_arn: None,
        expires_at_ms: None,
        created_at_ms,
        last_used_ms: None,
    }
}

/// A role's temporary credential: every optional field set.
fn session(id: &str, role: &str, expires_at_ms: i64) -> Credential {
    Credential {
        access_key_id: id.into(),
        owner_kind: EntityKind::Role,
        owner_name: role.into(),
        secret_enc: format!("sealed:{id}"),
        active: false,
        token_hash: Some("ef".repeat(32)),
        session_name: Some("ci-run 'ü'".into()),
        source_arn: Some("arn:aws:iam::000000000000:user/alice".into()),
        expires_at_ms: Some(expires_at_ms),
        created_at_ms: 7,
        last_used_ms: Some(42),
    }
}

/// Every field, so a failed comparison shows what the redacting `Debug` of `Credential` hides.
#[allow(clippy::type_complexity)]
fn fields(
    c: &Credential,
) -> (&str, EntityKind, &str, &str, bool, Option<&str>, Option<&str>, Option<&str>, Option<i64>, i64, Option<i64>) {
    (
        &c.access_key_id,
        c.owner_kind,
        &c.owner_name,
        &c.secret_enc,
        c.active,
        c.token_hash.as_deref(),
        c.session_name.as_deref(),
        c.source_arn.as_deref(),
        c.expires_at_ms,
        c.created_at_ms,
        c.last_used_ms,
    )
}

async fn credential(store: &AnyStore, id: &str) -> Option<Credential> {
    ok("iam_credential", store.iam_credential(id).await)
}

async fn credential_ids(store: &AnyStore, owner: Option<(EntityKind, &str)>) -> Vec<String> {
    ok("iam_credentials", store.iam_credentials(owner).await).into_iter().map(|c| c.access_key_id).collect()
}

fn conflict(what: &str, outcome: DeleteOutcome, needle: &str) {
    match outcome {
        DeleteOutcome::Conflict(msg) => {
            assert!(msg.contains(needle), "{what}: conflict `{msg}` should mention `{needle}`")
        }
        other => panic!("{what}: expected a conflict mentioning `{needle}`, got {other:?}"),
    }
}

/// The IAM tables and server secrets. Writes no audit records (the SQLite test counts them).
async fn iam_suite(store: &AnyStore) {
    use EntityKind::{Group, Policy, Role, User};
    use Relation::{Attached, MemberOf};
    const ACCOUNT: &str = "arn:aws:iam::000000000000";

    // --- Entities: unique per kind, read back exactly, listed per kind by name.
    let doc =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Sid":"quote ' ü"}]}"#;
    let carol = entity(User, "carol", "AIDACAROL", "", 0, 1_000);
    let alice = entity(User, "alice", "AIDAALICE", "", 0, 1_001);
    let bob = entity(User, "bob", "AIDABOB", "", 0, 1_002);
    for e in [&carol, &alice, &bob] {
        assert!(ok("iam_create", store.iam_create(e).await), "create {}", e.name);
    }
    let dup = entity(User, "alice", "AIDAOTHER", "x", 5, 9_999);
    assert!(!ok("iam_create dup", store.iam_create(&dup).await), "same kind and name twice");
    assert_eq!(ok("iam_get", store.iam_get(User, "alice").await), Some(alice.clone()), "dup must not overwrite");
    let alice_group = entity(Group, "alice", "AGPAALICE", "", 0, 1_003);
    assert!(ok("iam_create group", store.iam_create(&alice_group).await), "same name, other kind");
    let role = entity(Role, "deployer", "AROADEPLOYER", doc, 3_600, 1_004);
    assert!(ok("iam_create role", store.iam_create(&role).await));
    let policy = entity(Policy, "ReadOnly", "ANPAREADONLY", doc, 0, 1_005);
    assert!(ok("iam_create policy", store.iam_create(&policy).await));

    assert_eq!(ok("iam_get", store.iam_get(User, "alice").await), Some(alice.clone()));
    assert_eq!(ok("iam_get", store.iam_get(Group, "alice").await), Some(alice_group.clone()));
    assert_eq!(ok("iam_get", store.iam_get(Role, "deployer").await), Some(role.clone()));
    assert_eq!(ok("iam_get", store.iam_get(Policy, "ReadOnly").await), Some(policy.clone()));
    assert_eq!(ok("iam_get", store.iam_get(Role, "alice").await), None, "kind is part of the key");
    assert_eq!(ok("iam_get", store.iam_get(User, "nobody").await), None);

    assert_eq!(ok("iam_list", store.iam_list(User).await), vec![alice.clone(), bob.clone(), carol.clone()]);
    assert_eq!(ok("iam_list", store.iam_list(Group).await), vec![alice_group.clone()]);
    assert_eq!(ok("iam_list", store.iam_list(Role).await), vec![role.clone()]);
    assert_eq!(ok("iam_list", store.iam_list(Policy).await), vec![policy.clone()]);

    let doc2 = r#"{"Version":"2012-10-17","Statement":[]}"#;
    assert!(ok("iam_set_document", store.iam_set_document(Policy, "ReadOnly", doc2, 5_000).await));
    let updated = Entity { document: doc2.into(), updated_at_ms: 5_000, ..policy.clone() };
    assert_eq!(ok("iam_get", store.iam_get(Policy, "ReadOnly").await), Some(updated));
    assert!(!ok("iam_set_document", store.iam_set_document(Policy, "Missing", doc2, 5_001).await));
    assert!(!ok("iam_set_document", store.iam_set_document(Role, "ReadOnly", doc2, 5_001).await), "wrong kind");
    assert_eq!(ok("iam_get", store.iam_get(Role, "deployer").await), Some(role.clone()), "other rows untouched");

    // --- Relations.
    assert!(ok("iam_relate", store.iam_relate(MemberOf, "bob", "devs").await));
    assert!(!ok("iam_relate dup", store.iam_relate(MemberOf, "bob", "devs").await));
    assert!(ok("iam_relate", store.iam_relate(MemberOf, "bob", "admins").await));
    assert!(ok("iam_relate", store.iam_relate(MemberOf, "alice", "devs").await));
    assert!(ok("iam_relate", store.iam_relate(Attached, "bob", "devs").await), "relation kind is part of the key");
    assert_eq!(ok("iam_related", store.iam_related(MemberOf, "bob").await), ["admins", "devs"]);
    assert_eq!(ok("iam_relating", store.iam_relating(MemberOf, "devs").await), ["alice", "bob"]);
    assert_eq!(ok("iam_related", store.iam_related(Attached, "bob").await), ["devs"]);
    assert_eq!(ok("iam_related", store.iam_related(MemberOf, "nobody").await), Vec::<String>::new());
    assert!(ok("iam_unrelate", store.iam_unrelate(Attached, "bob", "devs").await));
    assert!(!ok("iam_unrelate again", store.iam_unrelate(Attached, "bob", "devs").await));
    assert_eq!(ok("iam_related", store.iam_related(MemberOf, "bob").await), ["admins", "devs"], "other relation kept");
    assert!(ok("iam_unrelate", store.iam_unrelate(MemberOf, "bob", "admins").await));
    assert!(!ok("iam_unrelate again", store.iam_unrelate(MemberOf, "bob", "admins").await));
    assert_eq!(ok("iam_related", store.iam_related(MemberOf, "bob").await), ["devs"]);
    for (s, o) in [("bob", "devs"), ("alice", "devs")] {
        assert!(ok("iam_unrelate", store.iam_unrelate(MemberOf, s, o).await));
    }

    // --- Deleting a user: access keys, then groups, then policies block it.
    let dave = entity(User, "dave", "AIDADAVE", "", 0, 2_000);
    assert!(ok("iam_create", store.iam_create(&dave).await));
    let dave_arn = format!("{ACCOUNT}:user/dave");
    assert!(ok("put key", store.iam_put_credential(&user_key("AKIADAVE", "dave", "s", 2_000)).await));
    conflict("user with a key", ok("iam_delete", store.iam_delete(User, "dave", &dave_arn).await), "access keys");
    assert!(ok("delete key", store.iam_delete_credential("AKIADAVE").await));
    let devs = entity(Group, "devs", "AGPADEVS", "", 0, 2_001);
    assert!(ok("iam_create", store.iam_create(&devs).await));
    assert!(ok("iam_relate", store.iam_relate(MemberOf, "dave", "devs").await));
    conflict("user in a group", ok("iam_delete", store.iam_delete(User, "dave", &dave_arn).await), "group");
    assert!(ok("iam_unrelate", store.iam_unrelate(MemberOf, "dave", "devs").await));
    let policy_arn = format!("{ACCOUNT}:policy/ReadOnly");
    assert!(ok("attach", store.iam_relate(Attached, "user/dave", &policy_arn).await));
    conflict("user with a policy", ok("iam_delete", store.iam_delete(User, "dave", &dave_arn).await), "polic");
    assert!(ok("detach", store.iam_unrelate(Attached, "user/dave", &policy_arn).await));
    assert_eq!(ok("iam_delete", store.iam_delete(User, "dave", &dave_arn).await), DeleteOutcome::Deleted);
    assert_eq!(ok("iam_get", store.iam_get(User, "dave").await), None);
    assert_eq!(ok("iam_delete", store.iam_delete(User, "dave", &dave_arn).await), DeleteOutcome::NotFound);

    // A group with members, then with a policy; a policy attached somewhere.
    let devs_arn = format!("{ACCOUNT}:group/devs");
    assert!(ok("iam_relate", store.iam_relate(MemberOf, "alice", "devs").await));
    conflict("group with members", ok("iam_delete", store.iam_delete(Group, "devs", &devs_arn).await), "users");
    assert!(ok("iam_unrelate", store.iam_unrelate(MemberOf, "alice", "devs").await));
    assert!(ok("attach", store.iam_relate(Attached, "group/devs", &policy_arn).await));
    conflict("group with a policy", ok("iam_delete", store.iam_delete(Group, "devs", &devs_arn).await), "polic");
    conflict("attached policy", ok("iam_delete", store.iam_delete(Policy, "ReadOnly", &policy_arn).await), "detach");
    assert_eq!(ok("iam_get", store.iam_get(Policy, "ReadOnly").await).map(|p| p.id), Some("ANPAREADONLY".into()));
    assert!(ok("detach", store.iam_unrelate(Attached, "group/devs", &policy_arn).await));
    assert_eq!(ok("iam_delete", store.iam_delete(Group, "devs", &devs_arn).await), DeleteOutcome::Deleted);
    assert_eq!(ok("iam_get", store.iam_get(Group, "devs").await), None);

    // A role: attachments block it; its temporary credentials go with it, and only its own.
    let role_arn = format!("{ACCOUNT}:role/deployer");
    assert!(ok("attach", store.iam_relate(Attached, "role/deployer", &policy_arn).await));
    conflict("role with a policy", ok("iam_delete", store.iam_delete(Role, "deployer", &role_arn).await), "polic");
    conflict("policy on a role", ok("iam_delete", store.iam_delete(Policy, "ReadOnly", &policy_arn).await), "detach");
    assert!(ok("detach", store.iam_unrelate(Attached, "role/deployer", &policy_arn).await));
    assert!(ok("put session", store.iam_put_credential(&session("ASIADEPLOY1", "deployer", 9_000_000)).await));
    assert!(ok("put session", store.iam_put_credential(&session("ASIADEPLOY2", "deployer", 9_000_000)).await));
    assert!(ok("put session", store.iam_put_credential(&session("ASIAOTHER", "other-role", 9_000_000)).await));
    assert!(ok("put key", store.iam_put_credential(&user_key("AKIASAMENAME", "deployer", "s", 1)).await));
    assert_eq!(ok("iam_delete", store.iam_delete(Role, "deployer", &role_arn).await), DeleteOutcome::Deleted);
    assert_eq!(ok("iam_get", store.iam_get(Role, "deployer").await), None);
    assert_eq!(credential(store, "ASIADEPLOY1").await, None, "a role's sessions die with it");
    assert_eq!(credential(store, "ASIADEPLOY2").await, None, "a role's sessions die with it");
    assert!(credential(store, "ASIAOTHER").await.is_some(), "another role's session stays");
    assert!(credential(store, "AKIASAMENAME").await.is_some(), "a user of the same name keeps its key");
    assert_eq!(ok("iam_delete", store.iam_delete(Role, "deployer", &role_arn).await), DeleteOutcome::NotFound);
    for id in ["ASIAOTHER", "AKIASAMENAME"] {
        assert!(ok("iam_delete_credential", store.iam_delete_credential(id).await));
    }

    // The policy, once detached everywhere.
    assert_eq!(ok("iam_delete", store.iam_delete(Policy, "ReadOnly", &policy_arn).await), DeleteOutcome::Deleted);
    assert_eq!(ok("iam_delete", store.iam_delete(Policy, "ReadOnly", &policy_arn).await), DeleteOutcome::NotFound);
    assert_eq!(ok("iam_list", store.iam_list(Policy).await), Vec::<Entity>::new());
    assert_eq!(ok("iam_list", store.iam_list(User).await), vec![alice, bob, carol]);

    // --- Credentials.
    assert_eq!(credential_ids(store, None).await, Vec::<String>::new());
    // Ids sort in the opposite order to creation, so the two listings' orders differ.
    let k_old = user_key("AKIAZZZZ", "alice", "sealed-a", 100);
    let k_new = user_key("AKIAAAAA", "alice", "sealed-b", 200);
    let k_bob = user_key("AKIABOB", "bob", "sealed-c", 150);
    let temp = session("ASIATEMP", "ops", 9_000_000);
    for c in [&k_old, &k_new, &k_bob, &temp] {
        assert!(ok("iam_put_credential", store.iam_put_credential(c).await), "{}", c.access_key_id);
    }
    let clash = Credential { secret_enc: "other".into(), owner_name: "bob".into(), ..k_old.clone() };
    assert!(!ok("iam_put_credential dup", store.iam_put_credential(&clash).await));
    for c in [&k_old, &k_new, &k_bob, &temp] {
        let got = credential(store, &c.access_key_id).await.unwrap_or_else(|| panic!("{} missing", c.access_key_id));
        assert_eq!(fields(&got), fields(c));
        assert!(got == *c);
    }
    assert_eq!(credential(store, "AKIANOBODY").await.map(|c| c.access_key_id), None);
    assert_eq!(credential_ids(store, Some((User, "alice"))).await, ["AKIAZZZZ", "AKIAAAAA"]);
    assert_eq!(credential_ids(store, Some((User, "bob"))).await, ["AKIABOB"]);
    assert_eq!(credential_ids(store, Some((Role, "ops"))).await, ["ASIATEMP"]);
    assert_eq!(credential_ids(store, Some((Role, "alice"))).await, Vec::<String>::new(), "kind is part of the owner");
    assert_eq!(credential_ids(store, Some((User, "ops"))).await, Vec::<String>::new(), "kind is part of the owner");
    assert_eq!(credential_ids(store, None).await, ["AKIAAAAA", "AKIABOB", "AKIAZZZZ", "ASIATEMP"]);
    let listed = ok("iam_credentials", store.iam_credentials(Some((Role, "ops"))).await);
    assert_eq!(listed.iter().map(fields).collect::<Vec<_>>(), vec![fields(&temp)], "listing keeps every field");

    // Active flag.
    assert!(ok("deactivate", store.iam_set_credential_active("AKIAZZZZ", false).await));
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.active), Some(false));
    assert_eq!(credential(store, "AKIAAAAA").await.map(|c| c.active), Some(true), "only that key");
    assert!(ok("activate", store.iam_set_credential_active("AKIAZZZZ", true).await));
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.active), Some(true));
    assert!(ok("activate temp", store.iam_set_credential_active("ASIATEMP", true).await));
    assert_eq!(credential(store, "ASIATEMP").await.map(|c| c.active), Some(true));
    assert!(!ok("unknown key", store.iam_set_credential_active("AKIANOBODY", false).await));

    // Secret re-wrap is compare-and-set.
    assert!(!ok("cas wrong", store.iam_replace_credential_secret("AKIAZZZZ", "sealed-a2", "sealed-x").await));
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.secret_enc), Some("sealed-a".into()));
    assert!(ok("cas right", store.iam_replace_credential_secret("AKIAZZZZ", "sealed-a2", "sealed-a").await));
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.secret_enc), Some("sealed-a2".into()));
    assert!(!ok("cas stale", store.iam_replace_credential_secret("AKIAZZZZ", "sealed-a3", "sealed-a").await));
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.secret_enc), Some("sealed-a2".into()));
    assert!(!ok("cas unknown", store.iam_replace_credential_secret("AKIANOBODY", "n", "sealed-a2").await));
    assert_eq!(credential(store, "AKIAAAAA").await.map(|c| c.secret_enc), Some("sealed-b".into()), "only that key");

    // Touch: at most one write a minute.
    let t0 = 1_700_000_000_000_i64;
    ok("touch", store.iam_touch_credential("AKIAZZZZ", t0).await);
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.last_used_ms), Some(Some(t0)));
    assert_eq!(credential(store, "AKIAAAAA").await.map(|c| c.last_used_ms), Some(None), "only that key");
    ok("touch", store.iam_touch_credential("AKIAZZZZ", t0 + 30_000).await);
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.last_used_ms), Some(Some(t0)), "within a minute");
    ok("touch", store.iam_touch_credential("AKIAZZZZ", t0 + 59_999).await);
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.last_used_ms), Some(Some(t0)), "within a minute");
    ok("touch", store.iam_touch_credential("AKIAZZZZ", t0 + 61_000).await);
    assert_eq!(credential(store, "AKIAZZZZ").await.map(|c| c.last_used_ms), Some(Some(t0 + 61_000)));
    ok("touch", store.iam_touch_credential("ASIATEMP", t0).await);
    assert_eq!(credential(store, "ASIATEMP").await.map(|c| c.last_used_ms), Some(Some(t0)), "from Some(42)");
    ok("touch unknown", store.iam_touch_credential("AKIANOBODY", t0).await);
    assert_eq!(credential(store, "AKIANOBODY").await.map(|c| c.access_key_id), None, "touch creates nothing");

    // Delete.
    assert!(ok("iam_delete_credential", store.iam_delete_credential("AKIABOB").await));
    assert!(!ok("iam_delete_credential again", store.iam_delete_credential("AKIABOB").await));
    assert_eq!(credential(store, "AKIABOB").await.map(|c| c.access_key_id), None);
    assert_eq!(credential_ids(store, None).await, ["AKIAAAAA", "AKIAZZZZ", "ASIATEMP"]);

    // Expired sessions: strictly before `now`; long-term keys never expire.
    for (id, exp) in [("ASIAEXP1", 5_000), ("ASIAEXP2", 10_000), ("ASIAEXP3", 20_000)] {
        assert!(ok("put session", store.iam_put_credential(&session(id, "ops", exp)).await));
    }
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(4_999).await), 0);
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(10_000).await), 1);
    assert_eq!(credential_ids(store, None).await, ["AKIAAAAA", "AKIAZZZZ", "ASIAEXP2", "ASIAEXP3", "ASIATEMP"]);
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(10_000).await), 0, "nothing left to do");
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(20_001).await), 2);
    assert_eq!(credential_ids(store, None).await, ["AKIAAAAA", "AKIAZZZZ", "ASIATEMP"]);
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(i64::MAX).await), 1, "only the session");
    assert_eq!(credential_ids(store, None).await, ["AKIAAAAA", "AKIAZZZZ"]);

    // --- Server secrets.
    assert!(ok("create_secret", store.create_secret("jwt-signing", "sealed-v1", 1).await));
    assert!(!ok("create_secret dup", store.create_secret("jwt-signing", "sealed-other", 2).await));
    assert_eq!(ok("secret", store.secret("jwt-signing").await).as_deref(), Some("sealed-v1"), "first writer wins");
    assert!(ok("create_secret", store.create_secret("a-first", "sealed-a 'ü'", 3).await));
    assert_eq!(ok("secret", store.secret("a-first").await).as_deref(), Some("sealed-a 'ü'"));
    assert_eq!(ok("secret", store.secret("missing").await), None);
    let pairs = |v: &[(&str, &str)]| v.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        ok("secrets", store.secrets().await),
        pairs(&[("a-first", "sealed-a 'ü'"), ("jwt-signing", "sealed-v1")])
    );
    assert!(!ok("cas wrong", store.replace_secret("jwt-signing", "sealed-v2", "sealed-other").await));
    assert_eq!(ok("secret", store.secret("jwt-signing").await).as_deref(), Some("sealed-v1"));
    assert!(ok("cas right", store.replace_secret("jwt-signing", "sealed-v2", "sealed-v1").await));
    assert_eq!(ok("secret", store.secret("jwt-signing").await).as_deref(), Some("sealed-v2"));
    assert!(!ok("cas stale", store.replace_secret("jwt-signing", "sealed-v3", "sealed-v1").await));
    assert!(!ok("cas unknown", store.replace_secret("missing", "x", "y").await));
    assert_eq!(ok("secret", store.secret("missing").await), None, "replace creates nothing");
    assert_eq!(
        ok("secrets", store.secrets().await),
        pairs(&[("a-first", "sealed-a 'ü'"), ("jwt-signing", "sealed-v2")])
    );
}

#[tokio::test]
async fn sqlite_store() {
    let dir = std::env::temp_dir().join(format!("portcullis-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let store = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    suite(&store).await;
    audit_fields_suite(&store).await;
    iam_suite(&store).await;
    key_limit_suite(&store).await;
    api_key_suite(&store).await;
    certificate_suite(&store).await;
    alarm_suite(&store).await;
    pool_suite(&store).await;
    // Reopening migrates nothing and keeps the data.
    drop(store);
    let again = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.list_audit(0, 10).await.map(|v| v.len()).ok(), Some(7));
    assert_eq!(again.audit_head().await.map(|h| h.0).ok(), Some(7));
    assert_eq!(again.secret("jwt-signing").await.ok().flatten().as_deref(), Some("sealed-v2"));
    assert_eq!(again.iam_list(EntityKind::User).await.map(|v| v.len()).ok(), Some(4));
    assert_eq!(again.api_keys().await.map(|v| v.len()).ok(), Some(3));
    assert_eq!(again.usage_total("plan-1", "key-b", "0000-00-00", "9999-99-99").await.ok(), Some(46));
    assert_eq!(again.certificates().await.map(|v| v.len()).ok(), Some(2));
    assert_eq!(again.try_lock_certificate("www.example.com", "node-b", 1_000_000, 2_000_000).await.ok(), Some(false));
    let alarms = again.alarms().await.map(|v| v.into_iter().map(|a| a.name).collect::<Vec<_>>()).ok();
    assert_eq!(alarms, Some(vec!["api-errors".to_owned(), "latency-p99".to_owned()]));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_store() {
    let (admin, url, db) = postgres_db().await;
    let store = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    suite(&store).await;
    audit_fields_suite(&store).await;
    iam_suite(&store).await;
    key_limit_suite(&store).await;
    api_key_suite(&store).await;
    certificate_suite(&store).await;
    alarm_suite(&store).await;
    pool_suite(&store).await;

    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;

    // Several nodes opening an empty database at once: one migrates, the others wait.
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.unwrap_or_else(|e| panic!("{e}"));
    let (a, b, c) = tokio::join!(AnyStore::open(&url), AnyStore::open(&url), AnyStore::open(&url));
    for s in [a, b, c] {
        s.unwrap_or_else(|e| panic!("concurrent migration: {e}"));
    }
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

#[tokio::test]
async fn refuses_a_newer_schema_and_bad_urls() {
    let dir = std::env::temp_dir().join(format!("portcullis-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.join("s.db").display());
    drop(AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}")));
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("INSERT INTO schema_version (version) VALUES (999)")
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    pool.close().await;
    match AnyStore::open(&url).await {
        Err(StoreError::SchemaTooNew { found: 999, .. }) => {}
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert!(matches!(AnyStore::open("mysql://x").await, Err(StoreError::BadUrl(_))));
    let _ = std::fs::remove_dir_all(dir);
}

async fn sqlx_admin(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required at {url}: {e}"))
}

/// Deletes run while other connections write: in SQLite's WAL mode a transaction that read
/// before writing would fail at once (a stale snapshot) instead of waiting its turn.
#[tokio::test]
async fn deletes_wait_for_concurrent_writers_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("portcullis-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let store = ok("open", AnyStore::open(&format!("sqlite://{}", dir.join("s.db").display())).await);
    ok("key", store.iam_put_credential(&user_key("AKIAOTHER", "other", "sealed", 1)).await);
    for round in 0..20 {
        let name = format!("u{round}");
        ok("create", store.iam_create(&entity(EntityKind::User, &name, &format!("AIDA{round}"), "", 0, 1)).await);
        let writers = (0..8).map(|i| store.iam_touch_credential("AKIAOTHER", 1_000_000 * (round * 8 + i + 1)));
        let (deleted, touched) =
            tokio::join!(store.iam_delete(EntityKind::User, &name, "arn"), futures_util::future::join_all(writers));
        assert_eq!(ok("delete", deleted), DeleteOutcome::Deleted, "round {round}");
        for t in touched {
            ok("touch", t);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A user's key limit holds under concurrent creates; role sessions and other users do not count.
async fn key_limit_suite(store: &AnyStore) {
    ok("user", store.iam_create(&entity(EntityKind::User, "limited", "AIDALIMITED", "", 0, 1)).await);
    ok("session", store.iam_put_credential(&session("ASIALIMITED", "limited", 10)).await);
    let puts: Vec<_> = (0..6).map(|i| user_key(&format!("AKIALIMIT{i}"), "limited", "sealed", i)).collect();
    let results = futures_util::future::join_all(puts.iter().map(|c| store.iam_put_user_key(c, 2))).await;
    let stored = results.into_iter().map(|r| ok("put", r)).filter(|o| *o == KeyInsert::Stored).count();
    assert_eq!(stored, 2);
    assert_eq!(
        ok("again", store.iam_put_user_key(&user_key("AKIALIMIT9", "limited", "s", 9), 2).await),
        KeyInsert::LimitReached
    );
    assert_eq!(
        ok("other user", store.iam_put_user_key(&user_key("AKIAOTHERU", "someone", "s", 9), 2).await),
        KeyInsert::Stored
    );
    assert_eq!(
        ok("same id", store.iam_put_user_key(&user_key("AKIAOTHERU", "someone", "s", 9), 2).await),
        KeyInsert::IdTaken
    );
}

fn api_key(id: &str, hash: &str, at: i64) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("name of {id}"),
        description: "quote ' and \" and ü".into(),
        customer_id: "cust-1".into(),
        prefix: format!("pk_{id}"),
        hash: hash.repeat(32),
        enabled: true,
        imported: false,
        created_at_ms: at,
        updated_at_ms: at,
    }
}

/// The hash next to the key, so a failed comparison shows what the redacting `Debug` hides.
fn shown(k: Option<ApiKey>) -> Option<(String, ApiKey)> {
    k.map(|k| (k.hash.clone(), k))
}

fn delta(plan: &str, key: &str, day: &str, api: &str, stage: &str, route: &str, count: i64) -> UsageRecord {
    UsageRecord {
        plan_id: plan.into(),
        key_id: key.into(),
        day: day.into(),
        api: api.into(),
        stage: stage.into(),
        route: route.into(),
        count,
        customer_id: format!("customer-of-{key}"),
    }
}

/// `(key, day, api, stage, route, count)` of each row, for compact expectations.
fn usage_of(rows: &[UsageRecord]) -> Vec<(&str, &str, &str, &str, &str, i64)> {
    rows.iter().map(|r| (&*r.key_id, &*r.day, &*r.api, &*r.stage, &*r.route, r.count)).collect()
}

/// API keys, their usage-plan attachments, and usage records.
async fn api_key_suite(store: &AnyStore) {
    const GET: &str = "GET /pets/{id}";
    const POST: &str = "POST /pets";

    // --- Keys: ids sort against creation order, and two share a creation time.
    let kb = api_key("key-b", "b1", 1_000);
    let ka = ApiKey { imported: true, customer_id: String::new(), ..api_key("key-a", "a1", 2_000) };
    let kc = ApiKey { enabled: false, ..api_key("key-c", "c1", 1_000) };
    for k in [&kb, &ka, &kc] {
        assert_eq!(ok("api_key_create", store.api_key_create(k).await), ApiKeyInsert::Stored, "{}", k.id);
    }
    let same_id = api_key("key-b", "b2", 9_000);
    assert_eq!(ok("api_key_create same id", store.api_key_create(&same_id).await), ApiKeyInsert::IdTaken);
    let same_value = ApiKey { imported: true, ..api_key("key-new", "b1", 9_000) };
    assert_eq!(ok("api_key_create same hash", store.api_key_create(&same_value).await), ApiKeyInsert::ValueTaken);
    assert_eq!(shown(ok("api_key", store.api_key("key-new").await)), None, "a taken value stores nothing");
    assert_eq!(shown(ok("api_key_by_hash", store.api_key_by_hash(&"b2".repeat(32)).await)), None);

    for k in [&kb, &ka, &kc] {
        assert_eq!(shown(ok("api_key", store.api_key(&k.id).await)), shown(Some(k.clone())), "by id");
        assert_eq!(shown(ok("api_key_by_hash", store.api_key_by_hash(&k.hash).await)), shown(Some(k.clone())));
    }
    assert_eq!(shown(ok("api_key", store.api_key("key-none").await)), None);
    assert_eq!(shown(ok("api_key_by_hash", store.api_key_by_hash("b1").await)), None, "the whole hash");
    let ids = |keys: Vec<ApiKey>| keys.into_iter().map(|k| k.id).collect::<Vec<_>>();
    assert_eq!(ids(ok("api_keys", store.api_keys().await)), ["key-b", "key-c", "key-a"], "by creation, then id");
    let listed = ok("api_keys", store.api_keys().await);
    assert_eq!(
        listed.into_iter().map(|k| shown(Some(k))).collect::<Vec<_>>(),
        [&kb, &kc, &ka].map(|k| shown(Some(k.clone())))
    );

    // --- Enabled flag.
    assert!(ok("disable", store.api_key_set_enabled("key-b", false, 5_000).await));
    let disabled = ApiKey { enabled: false, updated_at_ms: 5_000, ..kb.clone() };
    assert_eq!(shown(ok("api_key", store.api_key("key-b").await)), shown(Some(disabled)));
    assert_eq!(shown(ok("api_key", store.api_key("key-a").await)), shown(Some(ka.clone())), "only that key");
    assert!(ok("enable", store.api_key_set_enabled("key-c", true, 6_000).await));
    assert!(ok("enable", store.api_key_set_enabled("key-b", true, 7_000).await));
    let enabled = ApiKey { updated_at_ms: 7_000, ..kb.clone() };
    assert_eq!(shown(ok("api_key_by_hash", store.api_key_by_hash(&kb.hash).await)), shown(Some(enabled)));
    assert_eq!(ok("api_key", store.api_key("key-c").await).map(|k| (k.enabled, k.updated_at_ms)), Some((true, 6_000)));
    assert!(!ok("unknown key", store.api_key_set_enabled("key-none", false, 8_000).await));

    // --- Attachments.
    assert!(ok("attach", store.plan_key_attach("plan-1", "key-b", 1).await));
    assert!(!ok("attach again", store.plan_key_attach("plan-1", "key-b", 2).await));
    for (plan, key) in [("plan-2", "key-b"), ("plan-1", "key-c"), ("plan-1", "key-a"), ("plan-3", "key-b")] {
        assert!(ok("attach", store.plan_key_attach(plan, key, 3).await), "{plan} {key}");
    }
    assert_eq!(ok("plans_of_key", store.plans_of_key("key-b").await), ["plan-1", "plan-2", "plan-3"]);
    assert_eq!(ok("plans_of_key", store.plans_of_key("key-a").await), ["plan-1"]);
    assert_eq!(ok("keys_of_plan", store.keys_of_plan("plan-1").await), ["key-a", "key-b", "key-c"]);
    assert_eq!(ok("keys_of_plan", store.keys_of_plan("plan-none").await), Vec::<String>::new());
    assert!(ok("detach", store.plan_key_detach("plan-3", "key-b").await));
    assert!(!ok("detach again", store.plan_key_detach("plan-3", "key-b").await));
    assert!(!ok("detach never attached", store.plan_key_detach("plan-2", "key-a").await));
    assert_eq!(ok("plans_of_key", store.plans_of_key("key-b").await), ["plan-1", "plan-2"]);
    assert_eq!(ok("keys_of_plan", store.keys_of_plan("plan-3").await), Vec::<String>::new());

    // --- Usage: a second call adds to the rows of the first; a slice may name a row twice.
    ok("usage_add empty", store.usage_add(&[]).await);
    ok(
        "usage_add",
        store
            .usage_add(&[
                delta("plan-1", "key-b", "2026-01-01", "pets", "prod", GET, 3),
                delta("plan-1", "key-b", "2026-01-02", "pets", "prod", GET, 2),
                delta("plan-1", "key-a", "2026-01-01", "pets", "prod", GET, 1),
                delta("plan-2", "key-b", "2026-01-01", "pets", "prod", GET, 7),
            ])
            .await,
    );
    ok(
        "usage_add",
        store
            .usage_add(&[
                delta("plan-1", "key-b", "2026-01-01", "pets", "prod", GET, 4),
                delta("plan-1", "key-b", "2026-01-01", "pets", "prod", POST, 5),
                delta("plan-1", "key-b", "2026-01-01", "pets", "beta", GET, 1),
                delta("plan-1", "key-b", "2026-01-01", "orders 'ü'", "prod", GET, 1),
                delta("plan-1", "key-a", "2026-01-03", "pets", "prod", GET, 1),
                delta("plan-1", "key-a", "2026-01-03", "pets", "prod", GET, 1),
                delta("plan-1", "key-b", "2025-12-31", "pets", "prod", GET, 10),
                delta("plan-1", "key-b", "2026-02-01", "pets", "prod", GET, 20),
            ])
            .await,
    );
    let january = ok("usage", store.usage("plan-1", None, "2026-01-01", "2026-01-31").await);
    assert!(january.iter().all(|r| r.customer_id == format!("customer-of-{}", r.key_id)), "{january:?}");
    assert_eq!(
        usage_of(&january),
        [
            ("key-a", "2026-01-01", "pets", "prod", GET, 1),
            ("key-a", "2026-01-03", "pets", "prod", GET, 2),
            ("key-b", "2026-01-01", "orders 'ü'", "prod", GET, 1),
            ("key-b", "2026-01-01", "pets", "beta", GET, 1),
            ("key-b", "2026-01-01", "pets", "prod", GET, 7),
            ("key-b", "2026-01-01", "pets", "prod", POST, 5),
            ("key-b", "2026-01-02", "pets", "prod", GET, 2),
        ]
    );
    assert!(january.iter().all(|r| r.plan_id == "plan-1"), "{january:?}");
    assert_eq!(
        usage_of(&ok("usage", store.usage("plan-1", Some("key-a"), "2026-01-01", "2026-01-31").await)),
        [("key-a", "2026-01-01", "pets", "prod", GET, 1), ("key-a", "2026-01-03", "pets", "prod", GET, 2)]
    );
    assert_eq!(
        usage_of(&ok("usage", store.usage("plan-1", Some("key-b"), "2026-01-02", "2026-01-02").await)),
        [("key-b", "2026-01-02", "pets", "prod", GET, 2)],
        "one day: both bounds inclusive"
    );
    assert_eq!(
        usage_of(&ok("usage", store.usage("plan-1", None, "2025-12-31", "2026-01-01").await))
            .into_iter()
            .map(|r| (r.0, r.1, r.5))
            .collect::<Vec<_>>(),
        [
            ("key-a", "2026-01-01", 1),
            ("key-b", "2025-12-31", 10),
            ("key-b", "2026-01-01", 1),
            ("key-b", "2026-01-01", 1),
            ("key-b", "2026-01-01", 7),
            ("key-b", "2026-01-01", 5)
        ]
    );
    assert_eq!(
        usage_of(&ok("usage", store.usage("plan-2", None, "2026-01-01", "2026-12-31").await)),
        [("key-b", "2026-01-01", "pets", "prod", GET, 7)]
    );
    assert_eq!(ok("usage", store.usage("plan-1", Some("key-none"), "2026-01-01", "2026-01-31").await), []);
    assert_eq!(ok("usage", store.usage("plan-1", None, "2026-03-01", "2026-03-31").await), []);
    assert_eq!(ok("usage", store.usage("plan-1", None, "2026-01-31", "2026-01-01").await), [], "empty range");

    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-b", "2026-01-01", "2026-01-31").await), 16);
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-b", "2026-01-02", "2026-01-02").await), 2);
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-b", "0000-00-00", "9999-99-99").await), 46);
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-a", "2026-01-01", "2026-01-31").await), 3);
    assert_eq!(ok("usage_total", store.usage_total("plan-2", "key-b", "2026-01-01", "2026-01-31").await), 7);
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-none", "2026-01-01", "2026-01-31").await), 0);
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-b", "2027-01-01", "2027-12-31").await), 0);

    // --- Deleting a key removes its attachments and keeps its usage.
    assert!(ok("api_key_delete", store.api_key_delete("key-b").await));
    assert!(!ok("api_key_delete again", store.api_key_delete("key-b").await));
    assert_eq!(shown(ok("api_key", store.api_key("key-b").await)), None);
    assert_eq!(shown(ok("api_key_by_hash", store.api_key_by_hash(&kb.hash).await)), None);
    assert_eq!(ok("plans_of_key", store.plans_of_key("key-b").await), Vec::<String>::new());
    assert_eq!(ok("keys_of_plan", store.keys_of_plan("plan-1").await), ["key-a", "key-c"]);
    assert_eq!(ok("keys_of_plan", store.keys_of_plan("plan-2").await), Vec::<String>::new());
    assert_eq!(ok("plans_of_key", store.plans_of_key("key-a").await), ["plan-1"], "other keys keep theirs");
    assert_eq!(ok("usage_total", store.usage_total("plan-1", "key-b", "2026-01-01", "2026-01-31").await), 16);
    assert_eq!(ok("usage_total", store.usage_total("plan-2", "key-b", "2026-01-01", "2026-01-31").await), 7);
    assert_eq!(ids(ok("api_keys", store.api_keys().await)), ["key-c", "key-a"]);

    // The deleted key's value is free again.
    let reused = api_key("key-d", "b1", 10_000);
    assert_eq!(ok("api_key_create", store.api_key_create(&reused).await), ApiKeyInsert::Stored);
    assert_eq!(ok("api_key_by_hash", store.api_key_by_hash(&kb.hash).await).map(|k| k.id), Some("key-d".into()));
}

#[test]
fn api_key_debug_hides_the_hash() {
    let k = api_key("key-x", "5e", 1);
    let shown = format!("{k:?}");
    assert!(!shown.contains(&k.hash), "{shown}");
    assert!(shown.contains("pk_key-x") && shown.contains("hash: \"…\""), "{shown}");
}

/// A fresh SQLite database in a temporary directory: its URL, and the directory to remove.
fn sqlite_db() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("portcullis-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    (format!("sqlite://{}", dir.join("s.db").display()), dir)
}

/// A fresh PostgreSQL database: the admin pool, the database's URL and its name (to drop).
async fn postgres_db() -> (sqlx::PgPool, String, String) {
    let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx_admin(&admin_url).await;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
    let url = format!("{}/{db}", admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base));
    (admin, url, db)
}

/// Two tasks add to the same rows at once, in opposite orders: no update is lost, and
/// PostgreSQL does not deadlock.
async fn concurrent_usage(store: &AnyStore) {
    let row = |route: &str| delta("plan-c", "key-c", "2026-05-01", "pets", "prod", route, 1);
    let forward = [row("GET /a"), row("GET /b")];
    let backward = [row("GET /b"), row("GET /a")];
    let tasks = [forward, backward].map(|deltas| {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..50 {
                ok(&format!("usage_add {i}"), store.usage_add(&deltas).await);
            }
        })
    });
    for t in tasks {
        t.await.unwrap_or_else(|e| panic!("task: {e}"));
    }
    let rows = ok("usage", store.usage("plan-c", None, "2026-05-01", "2026-05-01").await);
    assert_eq!(rows.iter().map(|r| (&*r.route, r.count)).collect::<Vec<_>>(), [("GET /a", 100), ("GET /b", 100)]);
    assert_eq!(ok("usage_total", store.usage_total("plan-c", "key-c", "2026-05-01", "2026-05-01").await), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_add_loses_nothing_under_concurrency() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    concurrent_usage(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    concurrent_usage(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Rolls a database at schema version 3 back to version 2 (as a build before API keys left it).
/// A freshly opened database needs [`BACK_TO_V5`], [`BACK_TO_V4`] and [`BACK_TO_V3`] first.
const BACK_TO_V2: &str = "DROP TABLE api_keys; DROP TABLE usage_plan_keys; DROP TABLE usage_records; \
     DELETE FROM schema_version WHERE version = 3";

/// Data written at version 2 is still there after migrating, and the new tables work.
async fn after_v2_migration(store: &AnyStore) {
    assert_eq!(ok("iam_get", store.iam_get(EntityKind::User, "v2-user").await).map(|e| e.id), Some("AIDAV2".into()));
    assert_eq!(ok("secret", store.secret("v2-secret").await).as_deref(), Some("sealed"));
    assert_eq!(ok("api_keys", store.api_keys().await).len(), 0);
    assert_eq!(ok("api_key_create", store.api_key_create(&api_key("k", "0f", 1)).await), ApiKeyInsert::Stored);
    ok("usage_add", store.usage_add(&[delta("p", "k", "2026-01-01", "a", "s", "GET /", 2)]).await);
    assert_eq!(ok("usage_total", store.usage_total("p", "k", "2026-01-01", "2026-01-01").await), 2);
    assert_eq!(ok("certificates", store.certificates().await), []);
}

async fn write_v2_data(store: &AnyStore) {
    ok("iam_create", store.iam_create(&entity(EntityKind::User, "v2-user", "AIDAV2", "", 0, 1)).await);
    assert!(ok("create_secret", store.create_secret("v2-secret", "sealed", 1).await));
}

#[tokio::test]
async fn migrates_a_v2_database() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    write_v2_data(&store).await;
    drop(store);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    for back in [BACK_TO_V5, BACK_TO_V4, BACK_TO_V3, BACK_TO_V2] {
        sqlx::raw_sql(back).execute(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    }
    pool.close().await;
    let store = ok("reopen sqlite", AnyStore::open(&url).await);
    after_v2_migration(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    write_v2_data(&store).await;
    drop(store);
    let pool = sqlx_admin(&url).await;
    for back in [BACK_TO_V5, BACK_TO_V4, BACK_TO_V3, BACK_TO_V2] {
        sqlx::raw_sql(back).execute(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    }
    pool.close().await;
    let store = ok("reopen postgres", AnyStore::open(&url).await);
    after_v2_migration(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

fn certificate(name: &str, source: CertificateSource, at: i64) -> StoredCertificate {
    StoredCertificate {
        name: name.into(),
        cert_pem: format!(
            "-----BEGIN CERTIFICATE-----\nleaf of {name}\n-----END CERTIFICATE-----\n\
             -----BEGIN CERTIFICATE-----\nintermediate\n-----END CERTIFICATE-----\n"
        ),
        key_enc: format!("pcx1:sealed key of {name}"),
        source,
        issuer: "CN=R11, O=Let's Encrypt, C=US".into(),
        not_after_ms: at + 90 * 86_400_000,
        updated_at_ms: at,
    }
}

/// The sealed key next to the certificate, so a failed comparison shows what `Debug` hides.
fn with_key(c: Option<StoredCertificate>) -> Option<(String, StoredCertificate)> {
    c.map(|c| (c.key_enc.clone(), c))
}

/// Certificates, and the leases on ordering them. Leaves two certificates (`www.example.com`,
/// `*.a.example.com`) and `www.example.com` leased by `node-a` until 10,000,000.
async fn certificate_suite(store: &AnyStore) {
    use CertificateSource::{Acme, Import};
    const WWW: &str = "www.example.com";
    const API: &str = "api.example.com";
    // Sorts first both byte-wise and in linguistic collations that skip punctuation, so the
    // expected order holds whatever a PostgreSQL database's collation.
    const WILD: &str = "*.a.example.com";

    // --- Certificates: stored, read back exactly, listed by name.
    assert_eq!(ok("certificates", store.certificates().await), []);
    assert_eq!(with_key(ok("certificate", store.certificate(WWW).await)), None);
    let www = certificate(WWW, Acme, 1_000);
    let wild = certificate(WILD, Import, 2_000);
    let api = StoredCertificate { issuer: "CN=Example CA 'ü', O=\"Example\"".into(), ..certificate(API, Acme, 3_000) };
    for c in [&www, &wild, &api] {
        ok("put_certificate", store.put_certificate(c).await);
    }
    for c in [&www, &wild, &api] {
        assert_eq!(with_key(ok("certificate", store.certificate(&c.name).await)), with_key(Some(c.clone())));
    }
    assert_eq!(with_key(ok("certificate", store.certificate("example.com").await)), None, "the whole name");
    assert_eq!(with_key(ok("certificate", store.certificate("x.a.example.com").await)), None, "no wildcard match");
    let listed = ok("certificates", store.certificates().await);
    assert_eq!(
        listed.into_iter().map(|c| with_key(Some(c))).collect::<Vec<_>>(),
        [&wild, &api, &www].map(|c| with_key(Some(c.clone())))
    );

    // --- A second put replaces every column, source included, and only that row.
    let renewed = StoredCertificate {
        cert_pem: "-----BEGIN CERTIFICATE-----\nrenewed\n-----END CERTIFICATE-----\n".into(),
        key_enc: "pcx1:new key".into(),
        source: Import,
        issuer: "CN=E6, O=Let's Encrypt, C=US".into(),
        not_after_ms: 99_000_000,
        updated_at_ms: 50_000,
        ..www.clone()
    };
    ok("put_certificate again", store.put_certificate(&renewed).await);
    assert_eq!(with_key(ok("certificate", store.certificate(WWW).await)), with_key(Some(renewed.clone())));
    assert_eq!(with_key(ok("certificate", store.certificate(API).await)), with_key(Some(api.clone())), "only that row");
    let names = |v: Vec<StoredCertificate>| v.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(ok("certificates", store.certificates().await)), [WILD, API, WWW], "replaced, not added");

    // --- Delete.
    assert!(ok("delete_certificate", store.delete_certificate(API).await));
    assert!(!ok("delete_certificate again", store.delete_certificate(API).await));
    assert!(!ok("delete_certificate unknown", store.delete_certificate("nowhere.example.com").await));
    assert_eq!(with_key(ok("certificate", store.certificate(API).await)), None);
    assert_eq!(names(ok("certificates", store.certificates().await)), [WILD, WWW]);

    // --- The lease, on a name with no certificate yet. Times are explicit.
    assert!(ok("A takes", store.try_lock_certificate(API, "node-a", 1_000, 61_000).await));
    assert!(!ok("B while A holds", store.try_lock_certificate(API, "node-b", 1_000, 61_000).await));
    assert!(!ok("B just before the end", store.try_lock_certificate(API, "node-b", 60_999, 120_999).await));
    assert!(ok("A renews", store.try_lock_certificate(API, "node-a", 30_000, 90_000).await));
    assert!(!ok("B after the first term", store.try_lock_certificate(API, "node-b", 61_000, 121_000).await), "renewed");
    assert!(
        ok("B once it ended", store.try_lock_certificate(API, "node-b", 90_000, 150_000).await),
        "until is exclusive"
    );
    assert!(!ok("A after losing it", store.try_lock_certificate(API, "node-a", 90_001, 150_001).await));
    assert_eq!(with_key(ok("certificate", store.certificate(API).await)), None, "a lease is not a certificate");
    assert_eq!(names(ok("certificates", store.certificates().await)), [WILD, WWW]);

    // Leases are per name.
    assert!(ok("A takes another name", store.try_lock_certificate(WILD, "node-a", 100_000, 160_000).await));
    assert!(!ok("B on that name", store.try_lock_certificate(WILD, "node-b", 100_000, 160_000).await));

    // Release: only by the owner.
    assert!(!ok("release by a non-owner", store.release_certificate_lock(API, "node-a").await));
    assert!(
        !ok("A still locked out", store.try_lock_certificate(API, "node-a", 100_000, 160_000).await),
        "B still holds"
    );
    assert!(!ok("release of no lease", store.release_certificate_lock("nowhere.example.com", "node-b").await));
    assert!(ok("release by the owner", store.release_certificate_lock(API, "node-b").await));
    assert!(!ok("release again", store.release_certificate_lock(API, "node-b").await));
    assert!(
        ok("A once released", store.try_lock_certificate(API, "node-a", 100_000, 160_000).await),
        "before B's term ended"
    );
    assert!(
        !ok("B on the other name", store.try_lock_certificate(WILD, "node-b", 100_000, 160_000).await),
        "untouched"
    );
    assert!(ok("release an expired lease", store.release_certificate_lock(WILD, "node-a").await));
    assert!(ok("release", store.release_certificate_lock(API, "node-a").await));

    // Certificates and leases are independent: writes and deletes leave the lease alone.
    assert!(ok("A takes", store.try_lock_certificate(WWW, "node-a", 200_000, 10_000_000).await));
    ok("put under lease", store.put_certificate(&renewed).await);
    assert!(!ok("B after a put", store.try_lock_certificate(WWW, "node-b", 200_001, 300_000).await));
    assert!(ok("delete under lease", store.delete_certificate(WWW).await));
    assert!(!ok("B after a delete", store.try_lock_certificate(WWW, "node-b", 200_002, 300_000).await));
    ok("put back", store.put_certificate(&renewed).await);
    assert_eq!(names(ok("certificates", store.certificates().await)), [WILD, WWW]);
}

#[test]
fn certificate_source_names() {
    for s in [CertificateSource::Acme, CertificateSource::Import] {
        assert_eq!(CertificateSource::parse(s.as_str()), Some(s));
    }
    assert_eq!(CertificateSource::Acme.as_str(), "acme");
    assert_eq!(CertificateSource::Import.as_str(), "import");
    assert_eq!(CertificateSource::parse("ACME"), None);
    let c = certificate("x.example.com", CertificateSource::Acme, 1);
    let shown = format!("{c:?}");
    assert!(!shown.contains(&c.key_enc) && shown.contains("key_enc: \"…\""), "{shown}");
}

/// Eight nodes race for the lease on one name at the same instant, each round on a new name, then
/// on a lease that just ended: exactly one wins every time.
async fn concurrent_certificate_locks(store: &AnyStore) {
    const RACERS: usize = 8;
    for round in 0..10 {
        let name = format!("race-{round}.example.com");
        let now = 1_000_000;
        if round % 2 == 1 {
            assert!(ok("old lease", store.try_lock_certificate(&name, "node-old", 0, now).await), "round {round}");
        }
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let (store, name, start) = (store.clone(), name.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    let owner = format!("node-{i}");
                    (owner.clone(), ok("try_lock", store.try_lock_certificate(&name, &owner, now, now + 60_000).await))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            let (owner, won) = t.await.unwrap_or_else(|e| panic!("task: {e}"));
            if won {
                winners.push(owner);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        // The winner holds it: it renews, everyone else is still refused.
        for i in 0..RACERS {
            let owner = format!("node-{i}");
            let got = ok("after", store.try_lock_certificate(&name, &owner, now + 1, now + 60_000).await);
            assert_eq!(got, owner == winners[0], "round {round}: {owner}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_node_wins_a_certificate_lease() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    concurrent_certificate_locks(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    concurrent_certificate_locks(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Rolls a database at schema version 4 back to version 3 (as a build before certificates left
/// it). A freshly opened database needs [`BACK_TO_V5`] and [`BACK_TO_V4`] first.
const BACK_TO_V3: &str =
    "DROP TABLE certificates; DROP TABLE certificate_locks; DELETE FROM schema_version WHERE version = 4";

async fn write_v3_data(store: &AnyStore) {
    write_v2_data(store).await;
    assert_eq!(ok("api_key_create", store.api_key_create(&api_key("v3-key", "3a", 1)).await), ApiKeyInsert::Stored);
    ok("usage_add", store.usage_add(&[delta("v3-plan", "v3-key", "2026-01-01", "a", "s", "GET /", 3)]).await);
}

/// Data written at version 3 is still there after migrating, and the new tables work.
async fn after_v3_migration(store: &AnyStore) {
    assert_eq!(ok("iam_get", store.iam_get(EntityKind::User, "v2-user").await).map(|e| e.id), Some("AIDAV2".into()));
    assert_eq!(ok("secret", store.secret("v2-secret").await).as_deref(), Some("sealed"));
    assert_eq!(ok("api_key", store.api_key("v3-key").await).map(|k| k.hash), Some("3a".repeat(32)));
    assert_eq!(ok("usage_total", store.usage_total("v3-plan", "v3-key", "2026-01-01", "2026-01-01").await), 3);
    assert_eq!(ok("certificates", store.certificates().await), []);
    let c = certificate("v4.example.com", CertificateSource::Acme, 1);
    ok("put_certificate", store.put_certificate(&c).await);
    assert_eq!(with_key(ok("certificate", store.certificate(&c.name).await)), with_key(Some(c.clone())));
    assert!(ok("try_lock", store.try_lock_certificate(&c.name, "node-a", 1, 2).await));
    assert!(!ok("try_lock other", store.try_lock_certificate(&c.name, "node-b", 1, 2).await));
}

#[tokio::test]
async fn migrates_a_v3_database() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    write_v3_data(&store).await;
    drop(store);
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap_or_else(|e| panic!("{e}"));
    for back in [BACK_TO_V5, BACK_TO_V4, BACK_TO_V3] {
        sqlx::raw_sql(back).execute(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    }
    pool.close().await;
    let store = ok("reopen sqlite", AnyStore::open(&url).await);
    after_v3_migration(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    write_v3_data(&store).await;
    drop(store);
    let pool = sqlx_admin(&url).await;
    for back in [BACK_TO_V5, BACK_TO_V4, BACK_TO_V3] {
        sqlx::raw_sql(back).execute(&pool).await.unwrap_or_else(|e| panic!("{e}"));
    }
    pool.close().await;
    let store = ok("reopen postgres", AnyStore::open(&url).await);
    after_v3_migration(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Raw access to a store's database, to write behind the store's back.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn connect(url: &str) -> Self {
        if url.starts_with("sqlite:") {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap_or_else(|e| panic!("{e}")))
        } else {
            Self::Postgres(sqlx_admin(url).await)
        }
    }

    /// Runs `sql` (one or more statements, no parameters).
    async fn run(&self, sql: &str) {
        let done = match self {
            Self::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
            Self::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn close(self) {
        match self {
            Self::Sqlite(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// Eight tasks append ten records each at once, spread over `stores` (one pool, or one per
/// node): every append gets its own number, the numbers follow the head with no gap, and the
/// chain is intact.
async fn concurrent_audit(stores: &[AnyStore]) {
    const TASKS: usize = 8;
    const EACH: i64 = 10;
    let (base, anchor) = ok("audit_head", stores[0].audit_head().await);
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let (store, start) = (stores[t % stores.len()].clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let mut seqs = Vec::new();
                for i in 0..EACH {
                    seqs.push(ok("append_audit", store.append_audit(&audit_rec(&format!("task-{t}"), i)).await));
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    seqs.sort_unstable();
    let expected: Vec<i64> = (base + 1..=base + 80).collect();
    assert_eq!(seqs, expected, "one number each, no gap");
    for store in stores {
        let records = ok("list_audit", store.list_audit(base, 1000).await);
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), expected);
        let head = ok("audit_head", store.audit_head().await);
        assert_eq!(head.0, base + 80);
        assert_chained(&records, &anchor, &head);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_appends_chain_under_concurrency() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    concurrent_audit(std::slice::from_ref(&store)).await;
    // Two pools on one file, as two processes would have: SQLite's lock makes them take turns.
    let other = ok("open sqlite again", AnyStore::open(&url).await);
    concurrent_audit(&[store, other]).await;
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    concurrent_audit(std::slice::from_ref(&store)).await;
    // Two nodes, each with its own pool: the head row's lock makes them take turns.
    let other = ok("open postgres again", AnyStore::open(&url).await);
    concurrent_audit(&[store, other]).await;
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// The statement that writes `r` back as it was.
fn reinsert(r: &AuditRecord) -> String {
    let n = &r.record;
    format!(
        "INSERT INTO audit_log (seq, time_ms, actor, source_ip, action, target, outcome, detail, access_key_id, \
         user_agent, parameters, prev_hash, hash) \
         VALUES ({}, {}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
        r.seq,
        n.time_ms,
        n.actor,
        n.source_ip,
        n.action,
        n.target,
        n.outcome.as_str(),
        n.detail,
        n.access_key_id,
        n.user_agent,
        n.parameters,
        r.prev_hash,
        r.hash
    )
}

/// Tampering with the trail in SQL, one way at a time (each undone before the next): verifying
/// names exactly what was done.
async fn tampering(store: &AnyStore, raw: &Raw) {
    for i in 1..=10 {
        assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", i)).await), i);
    }
    let original = ok("list_audit", store.list_audit(0, 100).await);
    let (head_seq, head_hash) = ok("audit_head", store.audit_head().await);
    let findings = || async {
        let records = ok("list_audit", store.list_audit(0, 100).await);
        audit_chain::verify(&records, GENESIS, Some((head_seq, &head_hash))).findings
    };
    assert_eq!(findings().await, []);

    raw.run("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 3").await;
    assert_eq!(findings().await, [Finding::Changed { seq: 3 }]);
    raw.run("UPDATE audit_log SET detail = 'detail 3' WHERE seq = 3").await;
    assert_eq!(findings().await, [], "restored");

    // The user agent is hashed: edited where it was set, or filled in where it was empty.
    assert_eq!(original[4].record.user_agent, "aws-cli/2.15 run 5");
    raw.run("UPDATE audit_log SET user_agent = 'curl/8.5.0' WHERE seq = 5").await;
    assert_eq!(findings().await, [Finding::Changed { seq: 5 }]);
    raw.run("UPDATE audit_log SET user_agent = 'aws-cli/2.15 run 5' WHERE seq = 5").await;
    assert_eq!(findings().await, [], "restored");
    assert_eq!(original[3].record.user_agent, "");
    raw.run("UPDATE audit_log SET user_agent = 'curl/8.5.0' WHERE seq = 4").await;
    assert_eq!(findings().await, [Finding::Changed { seq: 4 }]);
    raw.run("UPDATE audit_log SET user_agent = '' WHERE seq = 4").await;
    assert_eq!(findings().await, [], "restored");

    raw.run("DELETE FROM audit_log WHERE seq = 6").await;
    assert_eq!(findings().await, [Finding::Deleted { from: 6, to: 6 }]);
    raw.run(&reinsert(&original[5])).await;
    assert_eq!(findings().await, [], "restored");

    raw.run("DELETE FROM audit_log WHERE seq >= 9").await;
    assert_eq!(findings().await, [Finding::TailMissing { last: 8, head: 10 }]);
    // The next record follows the head, not what is left: the cut shows as a deletion.
    assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", 11)).await), 11);
    let records = ok("list_audit", store.list_audit(0, 100).await);
    let head = ok("audit_head", store.audit_head().await);
    assert_eq!(records.last().map(|r| r.prev_hash.as_str()), Some(head_hash.as_str()));
    let v = audit_chain::verify(&records, GENESIS, Some((head.0, &head.1)));
    assert_eq!(v.findings, [Finding::Deleted { from: 9, to: 10 }]);
}

#[tokio::test]
async fn tampering_with_the_audit_trail_is_found() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    let raw = Raw::connect(&url).await;
    tampering(&store, &raw).await;
    raw.close().await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    let raw = Raw::connect(&url).await;
    tampering(&store, &raw).await;
    raw.close().await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Rolls a database at schema version 5 back to version 4 (as a build before the audit chain
/// left it). A freshly opened database needs [`BACK_TO_V5`] first.
const BACK_TO_V4: &str = "DROP TABLE audit_head; ALTER TABLE audit_log DROP COLUMN hash; \
     ALTER TABLE audit_log DROP COLUMN prev_hash; DELETE FROM schema_version WHERE version = 5";

/// Three audit records as a version 4 build wrote them, numbered by the database.
const V4_AUDIT: &str = "INSERT INTO audit_log (time_ms, actor, source_ip, action, target, outcome, detail) VALUES \
     (1, 'system', '', 'config.reload', 'v4.yaml', 'success', ''), \
     (2, 'admin', '127.0.0.1', 'iam.CreateUser', 'v4-user', 'success', ''), \
     (3, 'admin', '127.0.0.1', 'iam.DeleteUser', 'v4-user', 'failure', 'quote '' ü')";

/// The records written at version 4 are kept unchained, the chain starts after them, and the
/// other data is still there.
async fn after_v4_migration(store: &AnyStore) {
    let old = ok("list_audit", store.list_audit(0, 100).await);
    assert_eq!(
        old.iter().map(|r| (r.seq, r.prev_hash.as_str(), r.hash.as_str())).collect::<Vec<_>>(),
        [(1, "", ""), (2, "", ""), (3, "", "")]
    );
    assert_eq!(old[2].record.detail, "quote ' ü");
    assert_eq!(ok("audit_head", store.audit_head().await), (3, String::new()));
    let v = audit_chain::verify(&old, GENESIS, Some((3, "")));
    assert_eq!((v.checked, v.unchained, v.findings), (0, 3, vec![]));

    assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", 4)).await), 4);
    assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", 5)).await), 5);
    let all = ok("list_audit", store.list_audit(0, 100).await);
    assert_eq!(all[..3], old[..]);
    let head = ok("audit_head", store.audit_head().await);
    assert_eq!(all[3].prev_hash, GENESIS);
    assert_chained(&all[3..], GENESIS, &head);
    let v = audit_chain::verify(&all, GENESIS, Some((head.0, &head.1)));
    assert_eq!((v.checked, v.unchained, v.findings), (2, 3, vec![]));

    assert_eq!(ok("api_key", store.api_key("v3-key").await).map(|k| k.hash), Some("3a".repeat(32)));
    let names: Vec<_> = ok("certificates", store.certificates().await).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["v4.example.com"]);
}

async fn write_v4_data(store: &AnyStore) {
    write_v3_data(store).await;
    ok("put_certificate", store.put_certificate(&certificate("v4.example.com", CertificateSource::Acme, 1)).await);
}

#[tokio::test]
async fn migrates_a_v4_database() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    write_v4_data(&store).await;
    drop(store);
    let raw = Raw::connect(&url).await;
    raw.run(BACK_TO_V5).await;
    raw.run(BACK_TO_V4).await;
    raw.run(V4_AUDIT).await;
    raw.close().await;
    let store = ok("reopen sqlite", AnyStore::open(&url).await);
    after_v4_migration(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    write_v4_data(&store).await;
    drop(store);
    let raw = Raw::connect(&url).await;
    raw.run(BACK_TO_V5).await;
    raw.run(BACK_TO_V4).await;
    raw.run(V4_AUDIT).await;
    raw.close().await;
    let store = ok("reopen postgres", AnyStore::open(&url).await);
    after_v4_migration(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Rolls a freshly opened database back to schema version 6 (as a build before user pools left
/// it).
const BACK_TO_V6: &str = "DROP TABLE config_versions; DROP TABLE cluster_nodes; DROP TABLE usage_batches; \
     DELETE FROM schema_version WHERE version = 8; DROP TABLE pool_users; DROP TABLE pool_group_members; DROP TABLE pool_codes; \
     DROP TABLE pool_refresh_tokens; DELETE FROM schema_version WHERE version = 7";

/// Rolls a freshly opened database back to schema version 5 (as a build before alarms and the
/// audit record's access key id, user agent and parameters left it); [`BACK_TO_V6`] first.
const BACK_TO_V5: &str = "DROP TABLE config_versions; DROP TABLE cluster_nodes; DROP TABLE usage_batches; \
     DELETE FROM schema_version WHERE version = 8; DROP TABLE pool_users; DROP TABLE pool_group_members; DROP TABLE pool_codes; \
     DROP TABLE pool_refresh_tokens; DELETE FROM schema_version WHERE version = 7; DROP TABLE alarms; ALTER TABLE audit_log DROP COLUMN parameters; \
     ALTER TABLE audit_log DROP COLUMN user_agent; ALTER TABLE audit_log DROP COLUMN access_key_id; \
     DELETE FROM schema_version WHERE version = 6";

/// Writes version 4 data and three audit records with none of the fields version 6 adds, as a
/// version 5 build wrote them.
async fn write_v5_data(store: &AnyStore) {
    write_v4_data(store).await;
    for i in [0, 2, 4] {
        ok("append_audit", store.append_audit(&audit_rec("v5", i)).await);
    }
}

/// The chained records written at version 5 keep their seven-field hashes and still verify, the
/// chain goes on after them with records of either form, and the new table works.
async fn after_v5_migration(store: &AnyStore) {
    let old = ok("list_audit", store.list_audit(0, 100).await);
    assert_eq!(old.len(), 3);
    let mut prev = GENESIS.to_owned();
    for r in &old {
        let n = &r.record;
        assert_eq!((n.access_key_id.as_str(), n.user_agent.as_str(), n.parameters.as_str()), ("", "", ""));
        assert_eq!(r.hash, documented_hash(&prev, &seven_fields(n)), "record {}", r.seq);
        prev.clone_from(&r.hash);
    }
    let head = ok("audit_head", store.audit_head().await);
    assert_chained(&old, GENESIS, &head);

    assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", 5)).await), 4);
    assert_eq!(ok("append_audit", store.append_audit(&audit_rec("admin", 6)).await), 5);
    let all = ok("list_audit", store.list_audit(0, 100).await);
    assert_eq!(all[..3], old[..]);
    assert_eq!(all[3].record.user_agent, "aws-cli/2.15 run 5");
    assert_chained(&all, GENESIS, &ok("audit_head", store.audit_head().await));

    let names: Vec<_> = ok("certificates", store.certificates().await).into_iter().map(|c| c.name).collect();
    assert_eq!(names, ["v4.example.com"]);
    assert_eq!(ok("alarms", store.alarms().await), []);
    let a = alarm("v6-alarm", "{}", 1);
    ok("put_alarm", store.put_alarm(&a).await);
    assert_eq!(ok("alarm", store.alarm("v6-alarm").await), Some(a));
}

#[tokio::test]
async fn migrates_a_v5_database() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    write_v5_data(&store).await;
    drop(store);
    let raw = Raw::connect(&url).await;
    raw.run(BACK_TO_V5).await;
    raw.close().await;
    let store = ok("reopen sqlite", AnyStore::open(&url).await);
    after_v5_migration(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    write_v5_data(&store).await;
    drop(store);
    let raw = Raw::connect(&url).await;
    raw.run(BACK_TO_V5).await;
    raw.close().await;
    let store = ok("reopen postgres", AnyStore::open(&url).await);
    after_v5_migration(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// Data written at version 6 is still there after migrating to 7, and user pools work.
async fn after_v6_migration(store: &AnyStore) {
    assert_eq!(ok("alarm", store.alarm("v6-alarm").await).map(|a| a.name), Some("v6-alarm".into()));
    assert_eq!(ok("pool_users", store.pool_users("main").await), []);
    assert!(ok("pool_user_create", store.pool_user_create(&pool_user("main", "s-1", "ann", "")).await));
}

#[tokio::test]
async fn migrates_a_v6_database() {
    let (url, dir) = sqlite_db();
    for (url, cleanup) in [(url, None), {
        let (admin, url, db) = postgres_db().await;
        (url, Some((admin, db)))
    }] {
        let store = ok("open", AnyStore::open(&url).await);
        ok("put_alarm", store.put_alarm(&alarm("v6-alarm", "{}", 1)).await);
        drop(store);
        let raw = Raw::connect(&url).await;
        raw.run(BACK_TO_V6).await;
        raw.close().await;
        let store = ok("reopen", AnyStore::open(&url).await);
        after_v6_migration(&store).await;
        drop(store);
        if let Some((admin, db)) = cleanup {
            let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Published config versions, heartbeats and usage batches, on one engine.
async fn cluster_suite(store: &AnyStore) {
    use portcullis_store::{ClusterStore, NodeBeat};
    assert_eq!(ok("config_latest", store.config_latest().await), None);
    // Publishers at once get consecutive numbers, none lost.
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let doc = format!("apis: [] # {i}");
                ok("config_publish", store.config_publish(&doc, "sha", "arn:admin", "", 10 + i).await)
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap_or_else(|e| panic!("task: {e}")));
    }
    versions.sort_unstable();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    let latest = ok("config_latest", store.config_latest().await).unwrap_or_else(|| panic!("no version"));
    assert_eq!((latest.version, latest.author.as_str()), (6, "arn:admin"));
    assert!(latest.document.starts_with("apis: []"), "{latest:?}");
    let history = ok("config_history", store.config_history(2).await);
    assert_eq!(history.iter().map(|v| (v.version, v.document.as_str())).collect::<Vec<_>>(), [(6, ""), (5, "")]);

    let beat = |name: &str, version: i64, seen: i64| NodeBeat {
        name: name.into(),
        address: "127.0.0.1:8443".into(),
        config_version: version,
        build: "0.1.0".into(),
        started_ms: 1,
        seen_ms: seen,
    };
    ok("node_beat", store.node_beat(&beat("b", 0, 5)).await);
    ok("node_beat", store.node_beat(&beat("a", 1, 5)).await);
    ok("node_beat", store.node_beat(&beat("a", 2, 9)).await);
    assert_eq!(ok("nodes", store.nodes().await), [beat("a", 2, 9), beat("b", 0, 5)]);

    // A batch counts once, however often it is sent; another batch counts again.
    let rows = [delta("plan-b", "key-b", "2026-05-02", "pets", "prod", "GET /", 7)];
    assert!(ok("usage_add_batch", store.usage_add_batch("batch-1", "a", &rows, 100).await));
    assert!(!ok("usage_add_batch again", store.usage_add_batch("batch-1", "a", &rows, 101).await));
    assert!(ok("usage_add_batch", store.usage_add_batch("batch-2", "b", &rows, 102).await));
    assert_eq!(ok("usage_total", store.usage_total("plan-b", "key-b", "2026-05-02", "2026-05-02").await), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_tables_on_both_engines() {
    let (url, dir) = sqlite_db();
    let store = ok("open sqlite", AnyStore::open(&url).await);
    assert!(store.changes().is_none(), "SQLite has no change feed");
    cluster_suite(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(dir);

    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    cluster_suite(&store).await;
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}

/// The next change the feed reports within a second, if any.
async fn next_change(feed: &mut portcullis_store::ChangeFeed) -> Option<portcullis_store::Change> {
    tokio::time::timeout(std::time::Duration::from_secs(1), feed.next())
        .await
        .ok()
        .map(|r| r.unwrap_or_else(|e| panic!("feed: {e}")))
}

/// Every write other nodes must hear of is announced once it commits, on the topic that names
/// what to read again; a use of an access key, which writes its last-use time, is not.
#[tokio::test]
async fn postgres_announces_changes_to_every_listener() {
    use portcullis_store::{Change, ClusterStore};
    let (admin, url, db) = postgres_db().await;
    let store = ok("open postgres", AnyStore::open(&url).await);
    let mut feed = store.changes().unwrap_or_else(|| panic!("PostgreSQL has a feed"));
    assert_eq!(next_change(&mut feed).await, Some(Change::Subscribed));
    assert_eq!(next_change(&mut feed).await, None, "nothing happened yet");

    let topic = |t: &str| Some(Change::Topic(t.into()));
    assert!(matches!(ok("api_key_create", store.api_key_create(&api_key("k1", "h1", 1)).await), ApiKeyInsert::Stored));
    assert_eq!(next_change(&mut feed).await, topic("api_keys"));
    assert!(ok("disable", store.api_key_set_enabled("k1", false, 2).await));
    assert_eq!(next_change(&mut feed).await, topic("api_keys"));
    assert!(ok("attach", store.plan_key_attach("gold", "k1", 3).await));
    assert_eq!(next_change(&mut feed).await, topic("api_keys"));

    assert!(ok("put key", store.iam_put_credential(&user_key("AKIAFEED", "feed", "s", 1)).await));
    assert_eq!(next_change(&mut feed).await, None, "a new credential was in no cache");
    ok("touch", store.iam_touch_credential("AKIAFEED", 5).await);
    assert_eq!(next_change(&mut feed).await, None, "a key's use is not a change");
    assert!(ok("deactivate", store.iam_set_credential_active("AKIAFEED", false).await));
    assert_eq!(next_change(&mut feed).await, topic("iam"));
    // STS: an expired session deleted is not a change; a live credential deleted is.
    assert!(ok("put session", store.iam_put_credential(&session("ASIAOLD", "role", 1_000)).await));
    assert_eq!(ok("expire", store.iam_delete_expired_sessions(2_000).await), 1);
    assert_eq!(next_change(&mut feed).await, None, "an expired session deleted");
    assert!(ok("delete", store.iam_delete_credential("AKIAFEED").await));
    assert_eq!(next_change(&mut feed).await, topic("iam"));

    ok("publish", store.config_publish("apis: []", "sha", "arn", "", 1).await);
    assert_eq!(next_change(&mut feed).await, topic("config"));
    // Usage is not a change either.
    ok("usage_add", store.usage_add(&[delta("gold", "k1", "2026-05-02", "a", "s", "r", 1)]).await);
    assert_eq!(next_change(&mut feed).await, None, "usage is not a change");
    // A refresh token's use is not a change; revoking a session is.
    ok("put", store.pool_refresh_put(&refresh("t1", "s-ann", "f1")).await);
    assert!(matches!(ok("take", store.pool_refresh_take("main", "t1").await), RefreshTake::Fresh(_)));
    assert_eq!(next_change(&mut feed).await, None, "a refresh is not a change");
    ok("revoke", store.pool_refresh_revoke_family("main", "f1").await);
    assert_eq!(next_change(&mut feed).await, topic("pool_sessions"));

    // A feed whose connection is cut says so, then listens again and says that.
    sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query ILIKE 'LISTEN%'")
        .bind(&db)
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("terminate: {e}"));
    assert!(matches!(next_change(&mut feed).await, Some(Change::Lost(_))));
    assert_eq!(next_change(&mut feed).await, Some(Change::Subscribed));
    assert!(ok("enable", store.api_key_set_enabled("k1", true, 6).await));
    assert_eq!(next_change(&mut feed).await, topic("api_keys"));

    drop(feed);
    drop(store);
    let _ = sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await;
}
