//! One suite, run against both stores for real: SQLite in a temporary file and PostgreSQL at
//! 127.0.0.1:5432 (or `PORTCULLIS_TEST_POSTGRES`). A missing PostgreSQL fails the suite.

use portcullis_store::{AdminCredential, AnyStore, NewAuditRecord, Outcome, Store, StoreError};

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
            source_ip: "127.0.0.1".into(),
            action: "config.reload".into(),
            target: format!("file-{i}.yaml"),
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
}

#[tokio::test]
async fn sqlite_store() {
    let dir = std::env::temp_dir().join(format!("portcullis-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite://{}", dir.join("s.db").display());
    let store = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    suite(&store).await;
    // Reopening migrates nothing and keeps the data.
    drop(store);
    let again = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.list_audit(0, 10).await.map(|v| v.len()).ok(), Some(5));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_store() {
    let admin_url = std::env::var("PORTCULLIS_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let db = format!("portcullis_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx_admin(&admin_url).await;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required for this test ({admin_url}): {e}"));
    let url = format!("{}/{db}", admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base));
    let store = AnyStore::open(&url).await.unwrap_or_else(|e| panic!("{e}"));
    suite(&store).await;

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
