//! Lost events: `sluice reconcile` lists each table's prefix in the bucket (the listing is
//! the truth; events are only hints), runs every object version the ledger never saw as an
//! arrival, and records a per-table watermark: every object that landed at or before it is
//! committed, filtered or quarantined.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::config::TableConfig;
use sluice_core::ledger::LedgerRecord;
use sluice_steps::context::{keys, now};
use sluice_steps::payload::Arrival;

use crate::{ArrivalReport, Local, LocalError};

/// A table's reconciliation mark, kept under the control prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub table: String,
    /// Last-modified time (RFC 3339) at or before which every listed object is committed,
    /// filtered or quarantined; `None` when the oldest object is not finished.
    pub watermark: Option<String>,
    /// Objects listed under the table's prefix.
    pub objects: u64,
    /// Listed objects not in a terminal state after the run (waiting for a redrive).
    pub unfinished: u64,
    /// When the reconciliation ran.
    pub at: String,
}

/// What one table's reconciliation did.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub watermark: Watermark,
    /// The arrivals it ran: object versions the ledger had no record of.
    pub ran: Vec<ArrivalReport>,
}

impl Local {
    /// Reconciles one table's prefix (see the module docs).
    pub async fn reconcile(&self, table: &TableConfig) -> Result<Reconciled, LocalError> {
        let store = &self.ctx.store;
        let err = |e: &dyn std::fmt::Display| LocalError::Store(e.to_string());
        let listed = store.list(&table.prefix).await.map_err(|e| err(&e))?;
        let mut ran = vec![];
        // (last modified, finished) of every object routed to this table, after the run.
        let mut fates = vec![];
        for meta in &listed {
            // Only what routes to this table (a longer prefix of another table wins).
            if self.ctx.config.route(&meta.key).map(|t| &t.name) != Some(&table.name) {
                continue;
            }
            let version = meta.to_version(store.bucket());
            let mut record = self.ctx.ledger.get(&version).await.map_err(|e| err(&e))?;
            let arrival = Arrival {
                bucket: store.bucket().to_string(),
                key: meta.key.clone(),
                version_id: meta.version_id.clone(),
                etag: Some(meta.etag.clone()),
                sequencer: None,
                event: Default::default(),
            };
            match &record {
                None => {
                    ran.push(self.ingest(&arrival).await?);
                    record = self.ctx.ledger.get(&version).await.map_err(|e| err(&e))?;
                }
                // Claimed or staged, and whoever held it has been gone longer than the lease:
                // run it again under a name of its own, from where the ledger says it is.
                Some(r) if abandoned(&r.record, &now()) => {
                    ran.push(self.ingest_as(&arrival, resume_name(&r.record)).await?);
                    record = self.ctx.ledger.get(&version).await.map_err(|e| err(&e))?;
                }
                Some(_) => {}
            }
            let done = record.is_some_and(|r| r.record.state.is_terminal());
            fates.push((meta.last_modified.clone(), done));
        }

        // Oldest first; a group of equal times counts only if all of it is finished.
        fates.sort();
        let unfinished = fates.iter().filter(|(_, done)| !done).count() as u64;
        let first_unfinished = fates.iter().find(|(_, done)| !done).map(|(t, _)| t.clone());
        let watermark = fates
            .iter()
            .filter(|(t, _)| first_unfinished.as_ref().is_none_or(|u| t < u))
            .map(|(t, _)| t.clone())
            .next_back();
        let mark = Watermark {
            table: table.name.clone(),
            watermark,
            objects: fates.len() as u64,
            unfinished,
            at: now(),
        };
        let body = serde_json::to_vec_pretty(&mark).map_err(|e| err(&e))?;
        store
            .put(&keys::watermark(table), body.into())
            .await
            .map_err(|e| err(&e))?;
        Ok(Reconciled {
            watermark: mark,
            ran,
        })
    }

    /// The table's last recorded watermark, if it was ever reconciled.
    pub async fn watermark(&self, table: &TableConfig) -> Result<Option<Watermark>, LocalError> {
        let key = keys::watermark(table);
        let Some((bytes, _)) = self
            .ctx
            .store
            .get_bytes(&key)
            .await
            .map_err(|e| LocalError::Store(e.to_string()))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LocalError::Record {
                key,
                message: e.to_string(),
            })
    }
}

/// A record no execution is finishing: not terminal, and its lease (if any) has expired.
fn abandoned(record: &LedgerRecord, now: &str) -> bool {
    !record.state.is_terminal() && record.lease.as_ref().is_none_or(|l| l.expired(now))
}

/// `resume-<file name>-<digest of the version and its last transition>`: reconciling the same
/// stuck record twice finds the first resumption instead of starting another; a record that
/// moved since gets a new name.
fn resume_name(record: &LedgerRecord) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}",
        record.object.ledger_key(),
        record.updated_at
    ));
    format!(
        "resume-{}-{}",
        crate::slug(record.object.file_name(), 48),
        &hex::encode(digest)[..16]
    )
}
