//! The audit trail's hash chain: every record carries the SHA-256 of the one before it
//! (`prev_hash`) and its own (`hash`, over `prev_hash` and its fields), and the store keeps the
//! chain's head. [`verify`] walks a stretch of the trail and says exactly what breaks it: a
//! record changed, records deleted, a record inserted, records reordered, or a tail cut off.
//!
//! The sequence number is not hashed: a record moved to another number is found by its links,
//! not reported as a change of content. Whoever can write to the store can still rewrite the
//! chain from some point on; signed digests anchor it against that.

use std::collections::HashMap;
use std::fmt;

use sha2::{Digest as _, Sha256};

use crate::types::{AuditRecord, NewAuditRecord};

/// The `prev_hash` of the first record of the chain.
pub const GENESIS: &str = "";

/// The hash of a record written after the record whose hash is `prev_hash`: hex SHA-256 of
/// `prev_hash`, a newline, and the record's fields as a compact JSON array (a canonical text:
/// field order fixed, strings escaped).
///
/// The array has two forms. When `access_key_id`, `user_agent` and `parameters` are all empty,
/// it is the seven fields `[time_ms, actor, source_ip, action, target, outcome, detail]`, exactly
/// as before schema version 6 added those three: records written by earlier builds keep their
/// hashes, and old chains still verify. When any of the three is non-empty, it is those seven
/// followed by `access_key_id, user_agent, parameters` (ten elements), so each is covered by the
/// hash. Filling in an empty one, or emptying all three, therefore changes the hash too.
pub fn record_hash(prev_hash: &str, rec: &NewAuditRecord) -> String {
    let mut fields = vec![
        rec.time_ms.into(),
        rec.actor.as_str().into(),
        rec.source_ip.as_str().into(),
        rec.action.as_str().into(),
        rec.target.as_str().into(),
        rec.outcome.as_str().into(),
        rec.detail.as_str().into(),
    ];
    if !(rec.access_key_id.is_empty() && rec.user_agent.is_empty() && rec.parameters.is_empty()) {
        fields.extend([&rec.access_key_id, &rec.user_agent, &rec.parameters].map(|f| f.as_str().into()));
    }
    let fields = serde_json::Value::Array(fields);
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(fields.to_string().as_bytes());
    hex::encode(h.finalize())
}

/// One way the trail is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// The record's content no longer matches its hash.
    Changed {
        /// The record.
        seq: i64,
    },
    /// Records are missing: deleted (`from..=to` numbered as the trail says they were).
    Deleted {
        /// First missing sequence number.
        from: i64,
        /// Last missing sequence number.
        to: i64,
    },
    /// A record that was never written in this place: the next record does not follow it.
    Inserted {
        /// The inserted record.
        seq: i64,
    },
    /// A record that follows another than the one before it.
    Reordered {
        /// The record.
        seq: i64,
        /// The record it was written after.
        written_after: i64,
    },
    /// A record follows nothing the trail holds (records before it are gone).
    Unlinked {
        /// The record.
        seq: i64,
    },
    /// The trail ends before its head: the last records were deleted.
    TailMissing {
        /// The last record present.
        last: i64,
        /// The head's sequence number.
        head: i64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Changed { seq } => write!(f, "record {seq} was changed: its content does not match its hash"),
            Self::Deleted { from, to } if from == to => write!(f, "record {from} was deleted"),
            Self::Deleted { from, to } => write!(f, "records {from} to {to} were deleted"),
            Self::Inserted { seq } => write!(f, "record {seq} was inserted: the record after it does not follow it"),
            Self::Reordered { seq, written_after } => {
                write!(f, "record {seq} was moved: it was written after record {written_after}")
            }
            Self::Unlinked { seq } => {
                write!(f, "record {seq} follows a record the trail no longer holds: records before it were deleted")
            }
            Self::TailMissing { last, head } => {
                write!(
                    f,
                    "the trail ends at record {last} but its head is record {head}: the last records were deleted"
                )
            }
        }
    }
}

/// What [`verify`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    /// Chained records checked.
    pub checked: usize,
    /// Records written before the chain existed (no hash), not checked.
    pub unchained: usize,
    /// Every break found, in trail order; empty when the stretch is intact.
    pub findings: Vec<Finding>,
}

/// Verifies `records` (a stretch of the trail, in sequence order). `anchor` is the hash the
/// first chained record must follow (the record before the stretch; [`GENESIS`] from the
/// start); `head` is the store's head `(seq, hash)` when the stretch runs to the end.
pub fn verify(records: &[AuditRecord], anchor: &str, head: Option<(i64, &str)>) -> Verification {
    let mut out = Verification::default();
    let by_hash: HashMap<&str, i64> =
        records.iter().filter(|r| !r.hash.is_empty()).map(|r| (r.hash.as_str(), r.seq)).collect();
    let mut before: Vec<&AuditRecord> = Vec::new();
    for r in records {
        if r.hash.is_empty() {
            out.unchained += 1;
            continue;
        }
        out.checked += 1;
        if record_hash(&r.prev_hash, &r.record) != r.hash {
            out.findings.push(Finding::Changed { seq: r.seq });
        }
        let prev = before.last().copied();
        let expected = prev.map_or(anchor, |p| p.hash.as_str());
        if r.prev_hash != expected {
            out.findings.push(link_break(r, &before, &by_hash));
        }
        before.push(r);
    }
    if let (Some(last), Some((head_seq, head_hash))) = (before.last(), head) {
        if last.hash != head_hash && head_seq > last.seq {
            out.findings.push(Finding::TailMissing { last: last.seq, head: head_seq });
        }
    }
    out
}

/// Why `r` does not follow the record before it.
fn link_break(r: &AuditRecord, before: &[&AuditRecord], by_hash: &HashMap<&str, i64>) -> Finding {
    let prev = before.last();
    let prev2 = before.len().checked_sub(2).and_then(|i| before.get(i));
    if let (Some(p), Some(p2)) = (prev, prev2) {
        // `r` follows the record two back: the one between was slipped in.
        if r.prev_hash == p2.hash && p.prev_hash == p2.hash {
            return Finding::Inserted { seq: p.seq };
        }
    }
    if let Some(&k) = by_hash.get(r.prev_hash.as_str()) {
        if prev.is_some_and(|p| k < p.seq || k > r.seq) {
            return Finding::Reordered { seq: r.seq, written_after: k };
        }
    }
    match prev {
        Some(p) if r.seq > p.seq + 1 => Finding::Deleted { from: p.seq + 1, to: r.seq - 1 },
        _ => Finding::Unlinked { seq: r.seq },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Outcome;

    /// A chain of `n` records numbered 1..=n.
    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let record = NewAuditRecord {
                    time_ms: 1_700_000_000_000 + seq,
                    actor: "arn:aws:iam::000000000000:user/admin".into(),
                    access_key_id: String::new(),
                    source_ip: "127.0.0.1".into(),
                    user_agent: String::new(),
                    action: format!("iam.Action{seq}"),
                    target: "t".into(),
                    parameters: String::new(),
                    outcome: Outcome::Success,
                    detail: String::new(),
                };
                let hash = record_hash(&prev, &record);
                let r = AuditRecord { seq, record, prev_hash: prev.clone(), hash: hash.clone() };
                prev = hash;
                r
            })
            .collect()
    }

    fn head(c: &[AuditRecord]) -> Option<(i64, &str)> {
        c.last().map(|r| (r.seq, r.hash.as_str()))
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(6);
        let v = verify(&c, GENESIS, head(&c));
        assert_eq!((v.checked, v.findings.len()), (6, 0));
        // A stretch verifies from its anchor.
        assert!(verify(&c[3..], &c[2].hash, head(&c)).findings.is_empty());
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let c = chain(6);
        let h = head(&c);
        let mut changed = c.clone();
        changed[2].record.detail = "edited".into();
        assert_eq!(verify(&changed, GENESIS, h).findings, vec![Finding::Changed { seq: 3 }]);

        let mut deleted = c.clone();
        deleted.remove(2);
        assert_eq!(verify(&deleted, GENESIS, h).findings, vec![Finding::Deleted { from: 3, to: 3 }]);

        // A record slipped in after record 3, with a valid hash, the rest renumbered.
        let mut inserted = c.clone();
        let mut forged = inserted[2].clone();
        forged.record.action = "iam.Forged".into();
        forged.prev_hash = inserted[2].hash.clone();
        forged.hash = record_hash(&forged.prev_hash, &forged.record);
        inserted.insert(3, forged);
        for (i, r) in inserted.iter_mut().enumerate() {
            r.seq = i64::try_from(i).unwrap_or(0) + 1;
        }
        assert_eq!(verify(&inserted, GENESIS, None).findings, vec![Finding::Inserted { seq: 4 }]);

        // Records 3 and 5 swapped places.
        let mut reordered = c.clone();
        reordered.swap(2, 4);
        reordered[2].seq = 3;
        reordered[4].seq = 5;
        let found = verify(&reordered, GENESIS, h).findings;
        assert!(found.contains(&Finding::Reordered { seq: 3, written_after: 4 }), "{found:?}");

        let cut = &c[..4];
        assert_eq!(verify(cut, GENESIS, h).findings, vec![Finding::TailMissing { last: 4, head: 6 }]);
        let first_gone = &c[2..];
        assert_eq!(verify(first_gone, GENESIS, h).findings, vec![Finding::Unlinked { seq: 3 }]);
    }

    /// `record_hash` as documented: SHA-256 of `prev`, a newline and the JSON array `fields`.
    fn hash_of(prev: &str, fields: &serde_json::Value) -> String {
        hex::encode(Sha256::digest(format!("{prev}\n{fields}")))
    }

    #[test]
    fn records_without_the_request_fields_keep_their_old_hash() {
        let c = chain(1);
        let r = &c[0].record;
        let seven =
            serde_json::json!([r.time_ms, r.actor, r.source_ip, r.action, r.target, r.outcome.as_str(), r.detail]);
        assert_eq!(c[0].hash, hash_of(GENESIS, &seven));
        // Pinned: the hash a build before schema version 6 gave this record.
        assert_eq!(c[0].hash, "fe71663c7a0c97d43a9d58119258c5ec5b3b19a4c0c10a64c13c6ad33fb20a38");
    }

    #[test]
    fn any_request_field_switches_to_the_ten_field_form() {
        let base = chain(1).remove(0).record;
        let with = |f: fn(&mut NewAuditRecord)| {
            let mut r = base.clone();
            f(&mut r);
            r
        };
        let filled = [
            with(|r| r.access_key_id = "AKIAEXAMPLE".into()),
            with(|r| r.user_agent = "aws-cli/2".into()),
            with(|r| r.parameters = "{}".into()),
        ];
        for r in &filled {
            let ten = serde_json::json!([
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
            ]);
            assert_eq!(record_hash("p", r), hash_of("p", &ten), "{r:?}");
            assert_ne!(record_hash("p", r), record_hash("p", &base), "{r:?}");
        }
        // The three are told apart: the same text in another field hashes differently.
        let moved = with(|r| r.user_agent = "AKIAEXAMPLE".into());
        assert_ne!(record_hash("p", &filled[0]), record_hash("p", &moved));
    }

    #[test]
    fn findings_read_as_sentences() {
        assert_eq!(Finding::Deleted { from: 3, to: 5 }.to_string(), "records 3 to 5 were deleted");
        assert_eq!(
            Finding::Changed { seq: 7 }.to_string(),
            "record 7 was changed: its content does not match its hash"
        );
    }
}
