//! Shared by the benchmarks: an IAM directory over a scratch SQLite store with one user and
//! access key, and SigV4 headers for it.
#![allow(dead_code, reason = "each benchmark uses a different part")]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use directory::{Directory, Settings};
use store::EntityKind;

/// The account id in ARNs (the config's default).
pub(crate) const ACCOUNT: &str = "000000000000";
/// The region clients sign for (the config's default).
pub(crate) const REGION: &str = "us-east-1";

/// A user with its access key.
pub(crate) struct User {
    pub(crate) access_key_id: String,
    pub(crate) secret: String,
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("time in range")
}

/// A directory over `dir/b.db` with its keyring in `dir/keyring.json`, as the gateway opens it.
pub(crate) async fn directory(dir: &Path) -> Arc<Directory> {
    let url = format!("sqlite://{}", dir.join("b.db").display());
    let store = store::AnyStore::open(&url).await.expect("sqlite store");
    let keyring = kms::Keyring::open_or_create(&dir.join("keyring.json")).expect("keyring");
    let settings = Settings {
        account_id: ACCOUNT.to_owned(),
        cache_ttl: Duration::from_secs(60),
        serve_stale_for: Duration::ZERO,
    };
    Arc::new(Directory::new(store, kms::Kms::new(keyring), settings))
}

/// Creates user `name` with `policy_arn` attached and one access key, through the directory.
pub(crate) async fn user(directory: &Directory, name: &str, policy_arn: &str) -> User {
    let now = now_ms();
    directory.create(EntityKind::User, name, None, None, now).await.expect("create user");
    directory.set_attachment(EntityKind::User, name, policy_arn, true).await.expect("attach policy");
    let key = directory.create_access_key(name, now).await.expect("access key");
    User { access_key_id: key.key.access_key_id, secret: key.secret_access_key }
}

/// SigV4 headers for a GET of `url` without a body, signed now.
pub(crate) fn sign_get(user: &User, url: &str) -> Vec<(String, String)> {
    portcullis_bench::sign_headers("GET", url, (&user.access_key_id, &user.secret, None), REGION, SystemTime::now())
        .expect("sign")
}

/// Metering on `counters`, with API keys hashed under the directory's server secret.
pub(crate) async fn metering(directory: &directory::Directory, counters: limits::Counters) -> Arc<gateway::Metering> {
    let secret = directory.server_secret(directory::API_KEY_SECRET, 0).await.expect("API-key secret");
    let keys = directory::ApiKeys::new(directory.store().clone(), &secret, std::time::Duration::from_secs(10));
    Arc::new(gateway::Metering::new(counters, keys))
}
