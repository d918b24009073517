//! Signed digests of the audit trail. Every so often (`audit.digest_interval`) one node writes a
//! digest: a record of its own in the trail (action `audit.Digest`) whose detail names the
//! records written since the last digest with their hashes, and the previous digest's hash,
//! signed with ES256 by a key the KMS holds. The public half is published at
//! `/audit/public-key`.
//!
//! The chain alone shows careless tampering; a digest anchors it: rewriting records and their
//! hashes after a digest was signed leaves them different from what the digest names, and a
//! forged digest needs the signing key, which the store does not hold in the clear.

use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use store::{AnyStore, AuditRecord, NewAuditRecord, Outcome, Store as _};

/// The `action` of digest records.
pub const DIGEST_ACTION: &str = "audit.Digest";
/// The server secret (sealed PKCS#8) of the signing key.
const KEY_SECRET: &str = "audit-signing-key";

/// What a digest signs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct DigestBody {
    /// First record covered.
    pub(crate) from: i64,
    /// Last record covered.
    pub(crate) to: i64,
    /// `(seq, hash)` of every record covered.
    pub(crate) records: Vec<(i64, String)>,
    /// SHA-256 (hex) of the previous digest's body, `""` for the first.
    pub(crate) previous: String,
    /// The signing key's id.
    pub(crate) key_id: String,
}

/// A digest as stored in its record's detail: the body and its signature (base64url).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Signed {
    body: DigestBody,
    signature: String,
}

/// The audit signing key.
pub struct SigningKey {
    pair: EcdsaKeyPair,
    /// Its id: the first 16 hex digits of the SHA-256 of the public key.
    pub key_id: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

// === impl SigningKey ===

impl SigningKey {
    /// The key from the store (sealed by the KMS), made and stored on first use. Two nodes that
    /// race both make one; the first stored wins and both use it.
    pub async fn load(store: &AnyStore, kms: &kms::Kms, now_ms: i64) -> Result<Self, String> {
        let ctx = kms::EncryptionContext::new().with("purpose", "server-secret").with("name", KEY_SECRET);
        if store.secret(KEY_SECRET).await.map_err(|e| e.to_string())?.is_none() {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| "cannot generate the audit signing key".to_owned())?;
            let sealed = kms.seal_text(&ctx, pkcs8.as_ref()).map_err(|e| e.to_string())?;
            store.create_secret(KEY_SECRET, &sealed, now_ms).await.map_err(|e| e.to_string())?;
        }
        let sealed = store.secret(KEY_SECRET).await.map_err(|e| e.to_string())?.ok_or("the signing key vanished")?;
        let pkcs8 = kms.open_text(&ctx, &sealed).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &SystemRandom::new())
            .map_err(|e| format!("the audit signing key does not load: {e}"))?;
        let key_id = hex::encode(&Sha256::digest(pair.public_key().as_ref())[..8]);
        Ok(Self { pair, key_id })
    }

    /// The public key as a JWK (`kty` EC, `crv` P-256), as published.
    pub fn jwk(&self) -> serde_json::Value {
        let point = self.pair.public_key().as_ref();
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.key_id,
                           "x": b64(&point[1..33]), "y": b64(&point[33..65])})
    }

    fn sign(&self, body: &DigestBody) -> Result<String, String> {
        let bytes = serde_json::to_vec(body).map_err(|e| e.to_string())?;
        let sig = self.pair.sign(&SystemRandom::new(), &bytes).map_err(|_| "signing failed".to_owned())?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn verifies(&self, body: &DigestBody, signature: &str) -> bool {
        let (Ok(bytes), Ok(sig)) =
            (serde_json::to_vec(body), base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature))
        else {
            return false;
        };
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, self.pair.public_key().as_ref()).verify(&bytes, &sig).is_ok()
    }
}

/// Writes a digest of the records since the last one, if there are any. Returns its record's
/// sequence number.
pub async fn write_digest(store: &AnyStore, key: &SigningKey, now_ms: i64) -> Result<Option<i64>, String> {
    let (head, _) = store.audit_head().await.map_err(|e| e.to_string())?;
    let (from, previous) = match last_digest(store, head).await? {
        Some((seq, body)) => (seq + 1, body_hash(&body)),
        None => (1, String::new()),
    };
    let records = store.audit_range(from, head).await.map_err(|e| e.to_string())?;
    let records: Vec<(i64, String)> =
        records.into_iter().filter(|r| !r.hash.is_empty()).map(|r| (r.seq, r.hash)).collect();
    let (Some(first), Some(last)) = (records.first().map(|r| r.0), records.last().map(|r| r.0)) else {
        return Ok(None);
    };
    let body = DigestBody { from: first, to: last, records, previous, key_id: key.key_id.clone() };
    let signature = key.sign(&body)?;
    let detail = serde_json::to_string(&Signed { body, signature }).map_err(|e| e.to_string())?;
    let rec = NewAuditRecord {
        time_ms: now_ms,
        actor: "system".into(),
        access_key_id: String::new(),
        source_ip: String::new(),
        user_agent: String::new(),
        action: DIGEST_ACTION.into(),
        target: format!("records {first} to {last}"),
        parameters: String::new(),
        outcome: Outcome::Success,
        detail,
    };
    store.append_audit(&rec).await.map(Some).map_err(|e| e.to_string())
}

/// The last digest at or before `up_to`: its record number and body.
async fn last_digest(store: &AnyStore, up_to: i64) -> Result<Option<(i64, DigestBody)>, String> {
    let search =
        store::AuditSearch { action: Some(DIGEST_ACTION.into()), limit: 10_000, ..store::AuditSearch::default() };
    let all = store.search_audit(&search).await.map_err(|e| e.to_string())?;
    Ok(all
        .iter()
        .rev()
        .filter(|r| r.seq <= up_to)
        .find_map(|r| serde_json::from_str::<Signed>(&r.record.detail).ok().map(|s| (r.seq, s.body))))
}

fn body_hash(body: &DigestBody) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(body).unwrap_or_default()))
}

/// Checks the digests among `records` (the stretch `from..=to` of the trail, in order) against
/// the records they name, their signatures and each other; returns one sentence per problem.
pub(crate) fn check_digests(records: &[AuditRecord], (from, to): (i64, i64), key: &SigningKey) -> Vec<String> {
    let by_seq: std::collections::HashMap<i64, &AuditRecord> = records.iter().map(|r| (r.seq, r)).collect();
    let mut problems = Vec::new();
    let mut previous: Option<String> = None;
    for r in records.iter().filter(|r| r.record.action == DIGEST_ACTION) {
        let Ok(signed) = serde_json::from_str::<Signed>(&r.record.detail) else {
            problems.push(format!("digest {} does not parse", r.seq));
            continue;
        };
        if signed.body.key_id != key.key_id || !key.verifies(&signed.body, &signed.signature) {
            problems.push(format!("digest {} is not signed by the audit key: forged or altered", r.seq));
            continue;
        }
        if let Some(p) = &previous {
            if &signed.body.previous != p {
                problems.push(format!("digest {} does not follow the digest before it", r.seq));
            }
        }
        for (seq, hash) in &signed.body.records {
            match by_seq.get(seq) {
                Some(rec) if &rec.hash == hash => {}
                Some(_) => problems.push(format!("record {seq} differs from what digest {} signed", r.seq)),
                None if (from..=to).contains(seq) => {
                    problems.push(format!("record {seq}, signed by digest {}, is missing", r.seq));
                }
                None => {}
            }
        }
        previous = Some(body_hash(&signed.body));
    }
    problems
}
