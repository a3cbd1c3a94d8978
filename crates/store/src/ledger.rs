//! The ledger (DESIGN §5.1): one JSON record per object version, kept in the object store.
//!
//! A record lives at `.sluice/ledger/<aa>/<sha256 of the ledger key>.json`, so a record's key
//! is fixed by the object version alone and any step can find it. It is created `claimed`
//! with [`ObjectStore::create_if_absent`]: of two racing arrivals of one version exactly one
//! gets [`Claim::New`], the other sees [`Claim::Existing`] and stops. Every later change is a
//! compare-and-swap ([`ObjectStore::put_if_match`]) on the etag the caller read, after
//! `sluice_core::ledger::check_transition` has approved it, so no sequence of racing steps can
//! move a record along a path the rule book forbids or overwrite a move it did not see.
//!
//! Etags are content hashes locally, so a write that reproduces a record byte for byte keeps
//! its etag; every transition stamps `updated_at`, which makes that a harmless no-op.

use std::sync::Arc;

use bytes::Bytes;
use sluice_core::keyhead::KeyHead;
use sluice_core::ledger::{check_transition, IllegalTransition, Lease, LedgerRecord, LedgerState};
use sluice_core::object::content_hash;
use sluice_core::ObjectVersion;

use crate::store::{Conditional, ObjectStore, StoreError};

/// How often `update_head` re-reads and re-applies after losing a race.
const HEAD_ATTEMPTS: usize = 16;

/// How often `claim` retries when a record it saw exist has vanished before it could read
/// it (a record deleted by a replay at that very moment).
const CLAIM_ATTEMPTS: usize = 3;

/// The ledger of one bucket.
#[derive(Debug, Clone)]
pub struct Ledger {
    /// Where the records live: the bucket's own store, under the control prefix.
    store: Arc<dyn ObjectStore>,
}

/// A record with the etag it was read or written with: the condition for its next transition.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedRecord {
    /// The record as stored.
    pub record: LedgerRecord,
    /// Etag of the stored record; [`Ledger::transition`] writes only if it is still current.
    pub etag: String,
}

/// The outcome of claiming an object version.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This caller created the record and owns the object version.
    New(VersionedRecord),
    /// A record already existed: a duplicate arrival, or a re-run after a crash. The caller
    /// decides from its state whether there is anything left to do.
    Existing(VersionedRecord),
}

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The store failed underneath.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another writer changed the record since it was read: re-read and decide again.
    #[error("ledger record {key:?} was changed by another writer")]
    Conflict {
        /// Store key of the record.
        key: String,
    },
    /// The rule book forbids the transition.
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    /// A transition tried to change which object version the record is about.
    #[error(
        "ledger record {key:?}: a transition may not change the object, batch id or claim time"
    )]
    IdentityChanged {
        /// Store key of the record.
        key: String,
    },
    /// A stored record is not a valid record for its key.
    #[error("ledger record {key:?} is corrupt: {message}")]
    Corrupt {
        /// Store key of the record.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl Ledger {
    /// A ledger kept in `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Ledger { store }
    }

    /// The store the ledger is kept in.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The store key of `object`'s record:
    /// `.sluice/ledger/<first 2 hex>/<sha256 hex of object.ledger_key()>.json`.
    pub fn record_key(object: &ObjectVersion) -> String {
        Self::record_key_of(&object.ledger_key())
    }

    /// [`Ledger::record_key`] from the ledger key itself.
    fn record_key_of(ledger_key: &str) -> String {
        sluice_core::layout::ledger_record(&content_hash(ledger_key.as_bytes()))
    }

    /// Conditional create of a `claimed` record; if one exists, returns it as
    /// [`Claim::Existing`] (a duplicate arrival).
    pub async fn claim(&self, object: &ObjectVersion, now: &str) -> Result<Claim, LedgerError> {
        self.claim_leased(object, now, None).await
    }

    /// [`Ledger::claim`] with a lease in the created record (see `sluice_core::ledger::Lease`).
    pub async fn claim_leased(
        &self,
        object: &ObjectVersion,
        now: &str,
        lease: Option<Lease>,
    ) -> Result<Claim, LedgerError> {
        let key = Self::record_key(object);
        let mut record = LedgerRecord::claim(object.clone(), now);
        record.lease = lease;
        let body = encode(&key, &record)?;
        for _ in 0..CLAIM_ATTEMPTS {
            if let Conditional::Done(meta) = self.store.create_if_absent(&key, body.clone()).await?
            {
                tracing::debug!(key = %object.key, record = %key, "object version claimed");
                return Ok(Claim::New(VersionedRecord {
                    record,
                    etag: meta.etag,
                }));
            }
            if let Some(existing) = self.get(object).await? {
                return Ok(Claim::Existing(existing));
            }
        }
        Err(LedgerError::Conflict { key })
    }

    /// The current record of `object`, or `None` if it was never claimed.
    pub async fn get(
        &self,
        object: &ObjectVersion,
    ) -> Result<Option<VersionedRecord>, LedgerError> {
        let key = Self::record_key(object);
        let Some((bytes, meta)) = self.store.get_bytes(&key).await? else {
            return Ok(None);
        };
        let record = decode(&key, &bytes)?;
        if record.object.ledger_key() != object.ledger_key() {
            return Err(LedgerError::Corrupt {
                key,
                message: format!("holds the record of {:?}", record.object.ledger_key()),
            });
        }
        Ok(Some(VersionedRecord {
            record,
            etag: meta.etag,
        }))
    }

    /// Applies `update` to a copy of `current.record`; checks
    /// `sluice_core::ledger::check_transition(old state, new state)`; sets `updated_at = now`;
    /// writes with `put_if_match(current.etag)`. A lost race is [`LedgerError::Conflict`].
    pub async fn transition(
        &self,
        current: &VersionedRecord,
        now: &str,
        update: impl FnOnce(&mut LedgerRecord) + Send,
    ) -> Result<VersionedRecord, LedgerError> {
        let key = Self::record_key(&current.record.object);
        let mut next = current.record.clone();
        update(&mut next);
        let old = &current.record;
        if next.object != old.object
            || next.batch_id != old.batch_id
            || next.claimed_at != old.claimed_at
        {
            return Err(LedgerError::IdentityChanged { key });
        }
        check_transition(&old.state, &next.state)?;
        next.updated_at = now.to_string();
        let body = encode(&key, &next)?;
        match self.store.put_if_match(&key, body, &current.etag).await? {
            Conditional::Done(meta) => {
                tracing::debug!(
                    key = %next.object.key,
                    from = old.state.name(),
                    to = next.state.name(),
                    "ledger transition"
                );
                Ok(VersionedRecord {
                    record: next,
                    etag: meta.etag,
                })
            }
            Conditional::PreconditionFailed => Err(LedgerError::Conflict { key }),
        }
    }

    /// The record of a version by its ledger key (`ObjectVersion::ledger_key`).
    pub async fn get_by_ledger_key(
        &self,
        ledger_key: &str,
    ) -> Result<Option<LedgerRecord>, LedgerError> {
        let key = Self::record_key_of(ledger_key);
        match self.store.get_bytes(&key).await? {
            Some((bytes, _)) => Ok(Some(decode(&key, &bytes)?)),
            None => Ok(None),
        }
    }

    /// The store key of a key's head: `.sluice/keys/<first 2 hex>/<sha256 of bucket/key>.json`.
    pub fn head_key(bucket: &str, key: &str) -> String {
        let hash = content_hash(format!("{bucket}/{key}").as_bytes());
        sluice_core::layout::key_head(&hash)
    }

    /// The head of `key`, if any event of it was ordered or recorded.
    pub async fn head(&self, bucket: &str, key: &str) -> Result<Option<KeyHead>, LedgerError> {
        let record = Self::head_key(bucket, key);
        match self.store.get_bytes(&record).await? {
            Some((bytes, _)) => Ok(Some(decode_head(&record, &bytes)?)),
            None => Ok(None),
        }
    }

    /// Applies `update` to the head of `key` (a fresh one if none) and writes it with a
    /// compare-and-swap, re-reading and re-applying on a lost race; returns the head as
    /// written and what `update` returned. `update` must decide from the head alone, as it may
    /// run more than once.
    pub async fn update_head<R>(
        &self,
        bucket: &str,
        key: &str,
        now: &str,
        update: impl Fn(&mut KeyHead) -> R + Send,
    ) -> Result<(KeyHead, R), LedgerError> {
        let record = Self::head_key(bucket, key);
        for _ in 0..HEAD_ATTEMPTS {
            let current = self.store.get_bytes(&record).await?;
            let (mut head, etag) = match &current {
                Some((bytes, meta)) => (decode_head(&record, bytes)?, Some(meta.etag.clone())),
                None => (KeyHead::new(bucket, key, now), None),
            };
            let out = update(&mut head);
            head.updated_at = now.to_string();
            let body = serde_json::to_vec_pretty(&head).map_err(|e| LedgerError::Corrupt {
                key: record.clone(),
                message: e.to_string(),
            })?;
            let written = match etag {
                Some(etag) => self.store.put_if_match(&record, body.into(), &etag).await?,
                None => self.store.create_if_absent(&record, body.into()).await?,
            };
            if let Conditional::Done(_) = written {
                return Ok((head, out));
            }
        }
        Err(LedgerError::Conflict { key: record })
    }

    /// Every key head that records at least one removal, sorted by bucket and key; a head
    /// that cannot be read is left out and named in the second list (its store key and why),
    /// as [`Ledger::listing`] does with records.
    pub async fn removals(&self) -> Result<(Vec<KeyHead>, Vec<CorruptRecord>), LedgerError> {
        let (mut heads, mut corrupt) = (vec![], vec![]);
        let prefix = sluice_core::layout::key_heads_prefix();
        for meta in self.store.list(&prefix).await? {
            if !meta.key.ends_with(".json") {
                continue;
            }
            let Some((bytes, _)) = self.store.get_bytes(&meta.key).await? else {
                continue;
            };
            match decode_head(&meta.key, &bytes) {
                Ok(head) if !head.removals.is_empty() => heads.push(head),
                Ok(_) => {}
                Err(LedgerError::Corrupt { key, message }) => corrupt.push(CorruptRecord {
                    key,
                    reason: message,
                }),
                Err(e) => return Err(e),
            }
        }
        heads.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        Ok((heads, corrupt))
    }

    /// All readable records, as [`Ledger::listing`] sorts them; a record that cannot be read is
    /// skipped (with a warning), never fatal for the ledger.
    pub async fn list(&self) -> Result<Vec<LedgerRecord>, LedgerError> {
        Ok(self.listing().await?.records)
    }

    /// All records (reads every record under `.sluice/ledger/`), sorted by object key, then
    /// claim time and ledger key so that versions of one key stay in arrival order. A record
    /// that cannot be read (garbled, or holding another version's record) is not fatal for the
    /// ledger: it is left out of `records` and named in `corrupt`, for the caller to report.
    pub async fn listing(&self) -> Result<LedgerListing, LedgerError> {
        let mut listing = LedgerListing::default();
        for meta in self.store.list(&ledger_prefix()).await? {
            if !meta.key.ends_with(".json") {
                continue;
            }
            // Gone since the listing (deleted by a replay): not part of the ledger any more.
            let Some((bytes, _)) = self.store.get_bytes(&meta.key).await? else {
                continue;
            };
            match decode_at(&meta.key, &bytes) {
                Ok(record) => listing.records.push(record),
                Err(LedgerError::Corrupt { key, message }) => {
                    tracing::warn!(record = %key, reason = %message, "corrupt ledger record skipped");
                    listing.corrupt.push(CorruptRecord {
                        key,
                        reason: message,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        listing.records.sort_by(|a, b| {
            (&a.object.key, &a.claimed_at, a.object.ledger_key()).cmp(&(
                &b.object.key,
                &b.claimed_at,
                b.object.ledger_key(),
            ))
        });
        Ok(listing)
    }

    /// Whether any record says a version was committed to `table`: the evidence, beside the
    /// table's identity record, that a table missing from the catalog was lost, not never
    /// made. Stops at the first such record; corrupt records are passed over.
    pub async fn has_commits(&self, table: &str) -> Result<bool, LedgerError> {
        for meta in self.store.list(&ledger_prefix()).await? {
            if !meta.key.ends_with(".json") {
                continue;
            }
            let Some((bytes, _)) = self.store.get_bytes(&meta.key).await? else {
                continue;
            };
            if let Ok(record) = decode(&meta.key, &bytes) {
                if matches!(record.state, LedgerState::Committed { .. })
                    && record.table.as_deref() == Some(table)
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Writes `record` where its object version's record belongs, only if there is none
    /// (`sluice doctor --repair` recreating a lost record from the table's snapshot
    /// summaries). Returns whether it wrote; an existing record is never replaced.
    pub async fn restore(&self, record: &LedgerRecord) -> Result<bool, LedgerError> {
        let key = Self::record_key(&record.object);
        let body = encode(&key, record)?;
        match self.store.create_if_absent(&key, body).await? {
            Conditional::Done(_) => {
                tracing::info!(key = %record.object.key, record = %key, "ledger record restored");
                Ok(true)
            }
            Conditional::PreconditionFailed => Ok(false),
        }
    }
}

/// A ledger record that could not be read, as listings report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CorruptRecord {
    /// Store key of the record.
    pub key: String,
    /// Why it cannot be read.
    pub reason: String,
}

/// Every readable record, and the ones that are not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LedgerListing {
    /// Readable records, in [`Ledger::list`]'s order.
    pub records: Vec<LedgerRecord>,
    /// Records that could not be read, by key.
    pub corrupt: Vec<CorruptRecord>,
}

/// `.sluice/ledger/`: where records live in the bucket.
fn ledger_prefix() -> String {
    sluice_core::layout::ledger_prefix()
}

/// A record as stored: pretty JSON, so a person can read the ledger with `cat`.
fn encode(key: &str, record: &LedgerRecord) -> Result<Bytes, LedgerError> {
    let mut body = serde_json::to_vec_pretty(record).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    body.push(b'\n');
    Ok(Bytes::from(body))
}

fn decode_head(key: &str, bytes: &[u8]) -> Result<KeyHead, LedgerError> {
    serde_json::from_slice(bytes).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

fn decode(key: &str, bytes: &[u8]) -> Result<LedgerRecord, LedgerError> {
    serde_json::from_slice(bytes).map_err(|e| LedgerError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })
}

/// [`decode`], and the record must belong at `key` (a record copied to another version's key
/// would otherwise answer for that version).
fn decode_at(key: &str, bytes: &[u8]) -> Result<LedgerRecord, LedgerError> {
    let record = decode(key, bytes)?;
    let expected = Ledger::record_key(&record.object);
    if expected != key {
        return Err(LedgerError::Corrupt {
            key: key.to_string(),
            message: format!(
                "holds the record of {:?}, whose key is {expected:?}",
                record.object.ledger_key()
            ),
        });
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use sluice_core::ledger::LedgerState;

    use super::*;
    use crate::local::LocalStore;

    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:01:00Z";

    fn ledger() -> (tempfile::TempDir, Ledger, Arc<dyn ObjectStore>) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalStore::new(dir.path().join("bucket"), "landing").unwrap());
        (dir, Ledger::new(store.clone()), store)
    }

    fn object(key: &str, etag: &str) -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: key.into(),
            version_id: None,
            etag: etag.into(),
            size: 10,
            sequencer: None,
            last_modified: T0.into(),
        }
    }

    fn stage(record: &mut LedgerRecord) {
        record.state = LedgerState::Staged {
            manifest_key: ".sluice/staged/m.json".into(),
        };
    }

    fn new(claim: Claim) -> VersionedRecord {
        match claim {
            Claim::New(record) => record,
            Claim::Existing(record) => panic!("expected a new claim, found {record:?}"),
        }
    }

    #[test]
    fn record_key_is_sharded_by_the_hash_of_the_ledger_key() {
        let object = object("orders/a.ndjson", "e1");
        let hash = content_hash(object.ledger_key().as_bytes());
        assert_eq!(
            Ledger::record_key(&object),
            format!(".sluice/ledger/{}/{hash}.json", &hash[..2])
        );
        assert_ne!(
            Ledger::record_key(&object),
            Ledger::record_key(&self::object("orders/a.ndjson", "e2"))
        );
    }

    #[tokio::test]
    async fn a_second_claim_of_the_same_version_is_existing() {
        let (_dir, ledger, _) = ledger();
        let object = object("orders/a.ndjson", "e1");
        let first = new(ledger.claim(&object, T0).await.unwrap());
        assert_eq!(first.record.state, LedgerState::Claimed);
        assert_eq!(first.record.batch_id, object.batch_id());
        match ledger.claim(&object, T1).await.unwrap() {
            Claim::Existing(existing) => assert_eq!(existing, first),
            Claim::New(_) => panic!("a duplicate arrival claimed the object again"),
        }
        // Another version of the same key is another object version.
        new(ledger
            .claim(&self::object("orders/a.ndjson", "e2"), T1)
            .await
            .unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn racing_claims_make_exactly_one_owner() {
        let (_dir, ledger, _) = ledger();
        let object = object("orders/a.ndjson", "e1");
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (ledger, object) = (ledger.clone(), object.clone());
                tokio::spawn(async move { ledger.claim(&object, T0).await.unwrap() })
            })
            .collect();
        let mut owners = 0;
        for task in tasks {
            owners += matches!(task.await.unwrap(), Claim::New(_)) as usize;
        }
        assert_eq!(owners, 1);
    }

    #[tokio::test]
    async fn transitions_follow_the_rule_book() {
        let (_dir, ledger, _) = ledger();
        let object = object("orders/a.ndjson", "e1");
        let claimed = new(ledger.claim(&object, T0).await.unwrap());
        let staged = ledger.transition(&claimed, T1, stage).await.unwrap();
        assert_eq!(staged.record.updated_at, T1);
        assert_eq!(staged.record.claimed_at, T0);
        assert_eq!(ledger.get(&object).await.unwrap(), Some(staged.clone()));

        let committed = ledger
            .transition(&staged, T1, |r| {
                r.state = LedgerState::Committed { snapshot_id: 7 }
            })
            .await
            .unwrap();
        let err = ledger.transition(&committed, T1, stage).await.unwrap_err();
        assert!(
            matches!(
                &err,
                LedgerError::Illegal(IllegalTransition {
                    from: "committed",
                    to: "staged"
                })
            ),
            "{err:?}"
        );
        let stored = ledger.get(&object).await.unwrap().unwrap();
        assert_eq!(
            stored.record.state,
            LedgerState::Committed { snapshot_id: 7 }
        );
    }

    #[tokio::test]
    async fn a_transition_from_a_stale_record_is_a_conflict() {
        let (_dir, ledger, _) = ledger();
        let object = object("orders/a.ndjson", "e1");
        let claimed = new(ledger.claim(&object, T0).await.unwrap());
        let winner = ledger.transition(&claimed, T1, stage).await.unwrap();
        let err = ledger
            .transition(&claimed, T1, |r| {
                r.state = LedgerState::Filtered {
                    reason: "older version".into(),
                }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Conflict { .. }), "{err:?}");
        assert_eq!(ledger.get(&object).await.unwrap(), Some(winner));
    }

    #[tokio::test]
    async fn a_transition_may_not_change_the_object() {
        let (_dir, ledger, _) = ledger();
        let claimed = new(ledger
            .claim(&object("orders/a.ndjson", "e1"), T0)
            .await
            .unwrap());
        let err = ledger
            .transition(&claimed, T1, |r| r.object.key = "orders/b.ndjson".into())
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::IdentityChanged { .. }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn list_returns_every_record_sorted_by_object_key() {
        let (_dir, ledger, store) = ledger();
        for key in ["refunds/r.ndjson", "orders/b.ndjson", "orders/a.ndjson"] {
            ledger.claim(&object(key, "e1"), T0).await.unwrap();
        }
        store
            .put("orders/a.ndjson", Bytes::from_static(b"data, not a record"))
            .await
            .unwrap();
        let keys: Vec<_> = ledger
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.object.key)
            .collect();
        assert_eq!(
            keys,
            ["orders/a.ndjson", "orders/b.ndjson", "refunds/r.ndjson"]
        );
    }

    #[tokio::test]
    async fn a_garbled_record_is_corrupt_not_absent() {
        let (_dir, ledger, store) = ledger();
        let object = object("orders/a.ndjson", "e1");
        store
            .put(
                &Ledger::record_key(&object),
                Bytes::from_static(b"{not json"),
            )
            .await
            .unwrap();
        assert!(matches!(
            ledger.get(&object).await,
            Err(LedgerError::Corrupt { .. })
        ));
    }

    // See: #15
    #[tokio::test]
    async fn a_corrupt_record_is_reported_and_skipped_by_the_listing() {
        let (_dir, ledger, store) = ledger();
        let good = object("orders/a.ndjson", "e1");
        ledger.claim(&good, T0).await.unwrap();
        let bad = Ledger::record_key(&object("orders/b.ndjson", "e1"));
        store
            .put(&bad, Bytes::from_static(b"{not json"))
            .await
            .unwrap();
        let listing = ledger.listing().await.unwrap();
        assert_eq!(listing.records.len(), 1);
        assert_eq!(listing.records[0].object, good);
        assert_eq!(ledger.list().await.unwrap().len(), 1);
        assert_eq!(listing.corrupt.len(), 1);
        assert_eq!(listing.corrupt[0].key, bad);
    }

    #[tokio::test]
    async fn a_record_under_another_versions_key_is_corrupt_in_the_listing() {
        let (_dir, ledger, store) = ledger();
        let a = object("orders/a.ndjson", "e1");
        ledger.claim(&a, T0).await.unwrap();
        let (bytes, _) = store
            .get_bytes(&Ledger::record_key(&a))
            .await
            .unwrap()
            .unwrap();
        let elsewhere = Ledger::record_key(&object("orders/b.ndjson", "e1"));
        store.put(&elsewhere, bytes).await.unwrap();
        let listing = ledger.listing().await.unwrap();
        assert_eq!(listing.records.len(), 1);
        assert_eq!(listing.corrupt[0].key, elsewhere);
    }

    #[tokio::test]
    async fn a_restored_record_never_replaces_one_that_exists() {
        let (_dir, ledger, _) = ledger();
        let a = object("orders/a.ndjson", "e1");
        let mut record = LedgerRecord::claim(a.clone(), T0);
        record.table = Some("orders".into());
        record.state = LedgerState::Committed { snapshot_id: 7 };
        assert!(!ledger.has_commits("orders").await.unwrap());
        assert!(ledger.restore(&record).await.unwrap());
        assert!(ledger.has_commits("orders").await.unwrap());
        assert!(!ledger.has_commits("refunds").await.unwrap());
        record.state = LedgerState::Committed { snapshot_id: 8 };
        assert!(!ledger.restore(&record).await.unwrap());
        let stored = ledger.get(&a).await.unwrap().unwrap();
        assert_eq!(
            stored.record.state,
            LedgerState::Committed { snapshot_id: 7 }
        );
    }
}
