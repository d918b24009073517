//! API keys over a real SQLite store: generated and imported values, what is stored, the
//! lookup cache (known and unknown values apart), and the one-plan-per-stage rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use portcullis_directory::{ApiKeys, DirectoryError, Lookup, NewApiKey};
use store::{AnyStore, Store as _};

const NOW: i64 = 1_790_000_000_000;

async fn keys(dir: &tempfile::TempDir) -> (ApiKeys, AnyStore) {
    let store = AnyStore::open(&format!("sqlite://{}", dir.path().join("k.db").display())).await.unwrap();
    (ApiKeys::new(store.clone(), b"server secret for the tests", Duration::from_secs(60)), store)
}

fn named(name: &str) -> NewApiKey {
    NewApiKey { name: name.into(), ..NewApiKey::default() }
}

#[tokio::test]
async fn a_generated_key_is_shown_once_and_stored_as_prefix_and_hmac() {
    let dir = tempfile::tempdir().unwrap();
    let (k, store) = keys(&dir).await;
    let (key, value) = k.create(named("shop"), NOW).await.unwrap();
    assert!(value.starts_with("pck_") && value.len() == 44);
    assert!(value[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
    let stored = store.api_key(&key.id).await.unwrap().unwrap();
    assert_eq!(stored.prefix, value[..8]);
    assert_eq!(stored.hash, hex::encode(k.hash(&value)));
    assert!(!format!("{stored:?}{:?}", store.api_keys().await.unwrap()).contains(&value[8..]));
    // Another server secret gives another hash: a stolen table is no list of keys.
    let other = ApiKeys::new(store.clone(), b"another secret", Duration::from_secs(60));
    assert_ne!(other.hash(&value), k.hash(&value));
    let info = k.lookup(&value).await.unwrap().unwrap();
    assert_eq!((&*info.id, info.enabled), (key.id.as_str(), true));
}

#[tokio::test]
async fn imported_values_are_checked_without_being_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = keys(&dir).await;
    for bad in ["short-value", "has spaces in it, 20+ chars", &"x".repeat(129)] {
        let err = k.create(NewApiKey { value: Some(bad.into()), ..named("import") }, NOW).await.unwrap_err();
        assert!(matches!(err, DirectoryError::Invalid(_)), "{err}");
        assert!(!err.to_string().contains(bad));
    }
    let value = "imported-Value_0123456789";
    let (key, shown) = k.create(NewApiKey { value: Some(value.into()), ..named("import") }, NOW).await.unwrap();
    assert_eq!((shown.as_str(), key.imported, key.prefix.as_str()), (value, true, "impo"));
    let again = k.create(NewApiKey { value: Some(value.into()), ..named("twice") }, NOW).await.unwrap_err();
    assert!(matches!(again, DirectoryError::AlreadyExists(_)), "{again}");
    assert!(format!("{:?}", NewApiKey { value: Some(value.into()), ..named("x") }).contains("…"));
    assert!(!format!("{:?}", NewApiKey { value: Some(value.into()), ..named("x") }).contains(value));
}

#[tokio::test]
async fn lookups_cache_known_and_unknown_values_and_changes_drop_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = keys(&dir).await;
    let (key, value) = k.create(named("shop"), NOW).await.unwrap();
    assert!(matches!(k.cached(&value), Lookup::Miss(_)));
    k.lookup(&value).await.unwrap();
    assert!(matches!(k.cached(&value), Lookup::Cached(Some(_))));
    let unknown = "pck_0000000000000000000000000000000000000000";
    let Lookup::Miss(hash) = k.cached(unknown) else { panic!("an unknown value starts uncached") };
    assert!(k.load(&hash).await.unwrap().is_none());
    assert!(matches!(k.cached(unknown), Lookup::Cached(None)), "unknown values are remembered");
    assert!(matches!(k.cached(&"y".repeat(200)), Lookup::Cached(None)), "no key is that long");

    let disabled = k.set_enabled(&key.id, false, NOW).await.unwrap();
    assert!(!disabled.enabled);
    assert!(matches!(k.cached(&value), Lookup::Miss(_)), "a change drops the cache");
    assert!(!k.lookup(&value).await.unwrap().unwrap().enabled);
    k.delete(&key.id).await.unwrap();
    assert!(k.lookup(&value).await.unwrap().is_none());
    assert!(matches!(k.delete(&key.id).await, Err(DirectoryError::NotFound(_))));
}

#[tokio::test]
async fn a_key_is_in_one_plan_per_stage() {
    let dir = tempfile::tempdir().unwrap();
    let (k, _) = keys(&dir).await;
    let (key, value) = k.create(named("shop"), NOW).await.unwrap();
    k.attach("basic", &key.id, NOW, |_| false).await.unwrap();
    assert_eq!(&*k.lookup(&value).await.unwrap().unwrap().plans, [std::sync::Arc::from("basic")]);
    let again = k.attach("basic", &key.id, NOW, |_| false).await.unwrap_err();
    assert!(matches!(again, DirectoryError::AlreadyExists(_)), "{again}");
    // `pro` shares a stage with `basic`.
    let clash = k.attach("pro", &key.id, NOW, |other| other == "basic").await.unwrap_err();
    assert!(matches!(clash, DirectoryError::Clash(_)), "{clash}");
    k.attach("other-stage", &key.id, NOW, |_| false).await.unwrap();
    assert_eq!(k.plans_of(&key.id).await.unwrap(), ["basic", "other-stage"]);
    assert_eq!(k.keys_of("basic").await.unwrap(), vec![key.id.clone()]);
    k.detach("basic", &key.id).await.unwrap();
    assert!(matches!(k.detach("basic", &key.id).await, Err(DirectoryError::NotFound(_))));
    assert!(matches!(k.attach("basic", "no-such-key", NOW, |_| false).await, Err(DirectoryError::NotFound(_))));
}
