//! The directory over a real SQLite store and a real keyring: authentication, caching and
//! invalidation, temporary credentials, deletion rules and KMS rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use iam::policy::{managed, Decision, RequestContext};
use iam::sigv4::{Carrier, Scope, SigV4Error, Signature};
use portcullis_directory::{AuthError, Directory, DirectoryError, Settings};
use store::{AnyStore, EntityKind, Store as _};

const NOW: i64 = 1_790_000_000_000;

async fn directory(dir: &tempfile::TempDir) -> Directory {
    let store = AnyStore::open(&format!("sqlite://{}", dir.path().join("d.db").display())).await.unwrap();
    let keyring = kms::Keyring::open_or_create(&dir.path().join("keyring.json")).unwrap();
    Directory::new(
        store,
        kms::Kms::new(keyring),
        Settings {
            account_id: "123456789012".into(),
            cache_ttl: Duration::from_secs(60),
            serve_stale_for: Duration::ZERO,
        },
    )
}

/// A parsed signature claiming `id` (only the fields the directory reads matter).
fn signature(id: &str, token: Option<&str>) -> Signature {
    let amz = "20260101T000000Z";
    let headers = http::HeaderMap::from_iter([
        (http::header::AUTHORIZATION, format!("AWS4-HMAC-SHA256 Credential={id}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature={}", "0".repeat(64)).parse().unwrap()),
        (http::HeaderName::from_static("x-amz-date"), amz.parse().unwrap()),
    ]);
    let mut headers = headers;
    if let Some(t) = token {
        headers.insert("x-amz-security-token", t.parse().unwrap());
    }
    let sig = iam::sigv4::parse(&iam::sigv4::Request {
        method: "GET",
        path: "/",
        query: None,
        headers: &headers,
        authority: None,
    })
    .unwrap();
    assert_eq!(sig.carrier, Carrier::Header);
    sig
}

#[tokio::test]
async fn access_keys_authenticate_until_deactivated() {
    let dir = tempfile::tempdir().unwrap();
    let d = directory(&dir).await;
    d.create(EntityKind::User, "alice", None, None, NOW).await.unwrap();
    d.set_attachment(EntityKind::User, "alice", managed::READ_ONLY_ARN, true).await.unwrap();
    let key = d.create_access_key("alice", NOW).await.unwrap();
    assert_eq!(key.secret_access_key.len(), 40);

    let caller = d.authenticate(&signature(&key.key.access_key_id, None), NOW).await.unwrap();
    assert_eq!(caller.principal.arn, "arn:aws:iam::123456789012:user/alice");
    assert!(caller.principal.user_id.starts_with("AIDA"));
    // The secret came back out of the KMS intact: the key it derives signs like one derived
    // from the secret shown at creation.
    let scope = Scope { date: "20260101".into(), region: "us-east-1".into(), service: "execute-api".into() };
    let mine = iam::sigv4::SigningKey::derive(&key.secret_access_key, "20260101", "us-east-1", "execute-api");
    assert_eq!(caller.signing_key(&scope).sign("x"), mine.sign("x"));
    let get = RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:123456789012:a/s/GET/x");
    let delete = RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:123456789012:a/s/DELETE/x");
    assert_eq!(caller.evaluate(&get), Decision::Allow);
    assert_eq!(caller.evaluate(&delete), Decision::ImplicitDeny);

    // A long-term key with a session token is refused, as AWS does.
    let e = d.authenticate(&signature(&key.key.access_key_id, Some("x")), NOW).await.unwrap_err();
    assert_eq!(e, AuthError::Refused(SigV4Error::UnknownKey));

    // Deactivation applies at once on this node (the cache is dropped).
    d.set_access_key_active(&key.key.access_key_id, false).await.unwrap();
    let e = d.authenticate(&signature(&key.key.access_key_id, None), NOW).await.unwrap_err();
    assert_eq!(e, AuthError::Refused(SigV4Error::UnknownKey));

    // The secret is not in the database in clear.
    let db = std::fs::read(dir.path().join("d.db")).unwrap();
    let secret = key.secret_access_key.as_bytes();
    assert!(!db.windows(secret.len()).any(|w| w == secret));
}

#[tokio::test]
async fn policy_changes_and_group_membership_apply_after_invalidation() {
    let dir = tempfile::tempdir().unwrap();
    let d = directory(&dir).await;
    d.create(EntityKind::User, "bob", None, None, NOW).await.unwrap();
    d.create(EntityKind::Group, "ops", None, None, NOW).await.unwrap();
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:ops/*"}]});
    d.create(EntityKind::Policy, "ops-invoke", Some(&doc), None, NOW).await.unwrap();
    let arn = "arn:aws:iam::123456789012:policy/ops-invoke";
    d.set_attachment(EntityKind::Group, "ops", arn, true).await.unwrap();
    let key = d.create_access_key("bob", NOW).await.unwrap();
    let ops = RequestContext::new("execute-api:Invoke", "arn:aws:execute-api:us-east-1:123456789012:ops/s/GET/x");

    let caller = d.authenticate(&signature(&key.key.access_key_id, None), NOW).await.unwrap();
    assert_eq!(caller.evaluate(&ops), Decision::ImplicitDeny);
    d.set_membership("bob", "ops", true).await.unwrap();
    let caller = d.authenticate(&signature(&key.key.access_key_id, None), NOW).await.unwrap();
    assert_eq!(caller.evaluate(&ops), Decision::Allow);

    // Deleting what is in use is refused; a bad document is refused with its path.
    assert!(matches!(d.delete(EntityKind::Policy, "ops-invoke").await, Err(DirectoryError::Conflict(_))));
    assert!(matches!(d.delete(EntityKind::User, "bob").await, Err(DirectoryError::Conflict(_))));
    let bad = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]});
    match d.set_document(EntityKind::Policy, "ops-invoke", &bad, NOW).await {
        Err(DirectoryError::Policy(e)) => assert!(e.path.starts_with("Statement[0].Effect"), "{e}"),
        other => panic!("{other:?}"),
    }
    // A document given as text (AWS's `PolicyDocument` is a string) is refused with its line.
    let text = serde_json::Value::from("{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": {\"Efect\": \"Allow\"}\n}");
    match d.create(EntityKind::Policy, "typo", Some(&text), None, NOW).await {
        Err(DirectoryError::Policy(e)) => {
            assert_eq!((e.line, e.path.as_str()), (Some(3), "Statement.Efect"), "{e}");
            assert!(e.message.contains("did you mean `Effect`"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(d.create_access_key("bob", NOW).await.is_ok());
    assert!(matches!(d.create_access_key("bob", NOW).await, Err(DirectoryError::LimitExceeded(_))));
}

#[tokio::test]
async fn assumed_roles_need_their_token_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let d = directory(&dir).await;
    let admin = d.bootstrap(NOW).await.unwrap().unwrap();
    assert!(d.bootstrap(NOW).await.unwrap().is_none(), "bootstrap runs once");
    d.create(EntityKind::Role, "deployer", None, Some(7200), NOW).await.unwrap();
    d.set_attachment(EntityKind::Role, "deployer", managed::WRITE_ARN, true).await.unwrap();
    let caller = d.authenticate(&signature(&admin.key.access_key_id, None), NOW).await.unwrap();

    assert!(matches!(d.assume_role(&caller, "deployer", "s1", 600, NOW).await, Err(DirectoryError::Invalid(_))));
    assert!(matches!(d.assume_role(&caller, "deployer", "s1", 7201, NOW).await, Err(DirectoryError::Invalid(_))));
    let t = d.assume_role(&caller, "deployer", "s1", 900, NOW).await.unwrap();
    let session = d.authenticate(&signature(&t.access_key_id, Some(&t.session_token)), NOW).await.unwrap();
    assert_eq!(session.principal.arn, "arn:aws:sts::123456789012:assumed-role/deployer/s1");
    // Role chaining: a session may not stretch itself past AWS's one hour.
    let chained = d.assume_role(&session, "deployer", "s1b", 3601, NOW).await;
    assert!(matches!(chained, Err(DirectoryError::Invalid(_))), "{chained:?}");
    assert_eq!(
        d.authenticate(&signature(&t.access_key_id, None), NOW).await.unwrap_err(),
        AuthError::Refused(SigV4Error::UnknownKey)
    );
    assert_eq!(
        d.authenticate(&signature(&t.access_key_id, Some("forged")), NOW).await.unwrap_err(),
        AuthError::Refused(SigV4Error::UnknownKey)
    );
    let later = NOW + 901_000;
    assert_eq!(
        d.authenticate(&signature(&t.access_key_id, Some(&t.session_token)), later).await.unwrap_err(),
        AuthError::Refused(SigV4Error::TokenExpired)
    );

    // A user whose policies do not allow sts:AssumeRole is refused by the default trust policy.
    d.create(EntityKind::User, "eve", None, None, NOW).await.unwrap();
    let eve_key = d.create_access_key("eve", NOW).await.unwrap();
    let eve = d.authenticate(&signature(&eve_key.key.access_key_id, None), NOW).await.unwrap();
    assert!(matches!(d.assume_role(&eve, "deployer", "s2", 900, NOW).await, Err(DirectoryError::AccessDenied(_))));
}

#[tokio::test]
async fn rotation_and_rewrap_keep_every_secret_readable() {
    let dir = tempfile::tempdir().unwrap();
    let d = directory(&dir).await;
    let admin = d.bootstrap(NOW).await.unwrap().unwrap();
    let hmac = d.server_secret("api-key-hmac", NOW).await.unwrap();
    assert_eq!(hmac.len(), 32);
    assert_eq!(d.kms().rotate().unwrap(), 2);
    assert_eq!(d.rewrap_all().await.unwrap(), 2, "one access key and one server secret");
    assert_eq!(d.rewrap_all().await.unwrap(), 0, "already current");
    for c in d.store().iam_credentials(None).await.unwrap() {
        assert_eq!(kms::envelope_version(&kms::from_text(&c.secret_enc).unwrap()).unwrap(), 2);
    }
    drop(d);

    // A fresh process (new directory, keyring reread from disk) still opens everything.
    let d = Arc::new(directory(&dir).await);
    let caller = d.authenticate(&signature(&admin.key.access_key_id, None), NOW).await.unwrap();
    assert_eq!(caller.principal.arn, "arn:aws:iam::123456789012:user/admin");
    assert_eq!(&d.server_secret("api-key-hmac", NOW).await.unwrap()[..], &hmac[..]);
}

#[tokio::test]
async fn a_failing_store_refuses_as_unavailable_not_as_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = directory(&dir).await;
    let admin = d.bootstrap(NOW).await.unwrap().unwrap();
    // Break the store under the directory: its credential table is gone.
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("DROP TABLE iam_credentials").execute(&pool).await.unwrap();
    pool.close().await;
    let e = d.authenticate(&signature(&admin.key.access_key_id, None), NOW).await.unwrap_err();
    assert_eq!(e, AuthError::Unavailable);
}
