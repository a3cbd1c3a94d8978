//! Snapshot expiry: which snapshots may leave a table's metadata, and removing them.
//!
//! Every commit adds a snapshot, and every snapshot keeps its manifest list, its manifests
//! and every data file it ever listed, so a table that is never expired grows without end
//! even when compaction rewrites its files. Expiry removes old snapshots from the metadata;
//! the data files only they referenced become orphans, which `sluice gc` removes.
//!
//! [`Lake::expiry_candidates`] names the snapshots a policy selects, oldest first, with the
//! batch ids each one committed: the caller (crates/steps) refuses any whose batches the
//! ledger has not yet recorded, because the commit step recognises a re-run by finding its
//! batch id in a snapshot summary ([`crate::commit::committed_batches`]); once the ledger
//! says committed, the ledger answers instead, and the snapshot is no longer needed for
//! exactly-once. [`Lake::expire_snapshots`] removes the snapshots it is given, through
//! iceberg's `ExpireSnapshotsAction` with explicit ids only, then deletes the manifest lists
//! and manifests that no remaining snapshot reads (best effort: a file left behind is only
//! space). The current snapshot is never a candidate, nor one of the newest `retain_last`.

use std::collections::HashSet;
use std::time::Duration;

use iceberg::spec::SnapshotRef;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use serde::Serialize;
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

use crate::error::{LakeError, Result};
use crate::{Lake, BATCH_IDS_PROPERTY};

/// Which snapshots expiry selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpiryPolicy {
    /// Only snapshots committed longer ago than this.
    pub older_than: Duration,
    /// The newest snapshots of the table's history (the current one and its ancestors) that
    /// stay whatever their age; at least 1.
    pub retain_last: usize,
}

/// A snapshot expiry selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiryCandidate {
    pub snapshot_id: i64,
    /// Commit time, milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// Iceberg's operation (`append`, `overwrite`, `replace`, `delete`).
    pub operation: String,
    /// The batch ids its summary records.
    pub batch_ids: Vec<BatchId>,
}

/// What [`Lake::expire_snapshots`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpiryOutcome {
    /// Snapshots removed from the metadata.
    pub snapshots: Vec<i64>,
    /// Manifest lists and manifests deleted (no remaining snapshot read them).
    pub metadata_files_deleted: usize,
    /// Ones that could not be deleted (left as space, named in the log).
    pub metadata_files_left: usize,
}

impl Lake {
    /// The snapshots `policy` selects for expiry, oldest first; empty when the table does not
    /// exist. See the module docs.
    pub async fn expiry_candidates(
        &self,
        table_cfg: &TableConfig,
        policy: ExpiryPolicy,
    ) -> Result<Vec<ExpiryCandidate>> {
        self.refuse_if_managed(Self::ident(table_cfg)?, "snapshot expiry")?;
        let Some(table) = self.load(table_cfg).await? else {
            return Ok(vec![]);
        };
        Ok(candidates(
            &table,
            policy,
            chrono::Utc::now().timestamp_millis(),
        ))
    }

    /// Removes the snapshots `ids` from the table's metadata in one catalog commit, then
    /// deletes the manifest lists and manifests no remaining snapshot reads. An id no longer
    /// in the table (a re-run) is skipped; the current snapshot is refused.
    pub async fn expire_snapshots(
        &self,
        table_cfg: &TableConfig,
        ids: &[i64],
    ) -> Result<ExpiryOutcome> {
        self.refuse_if_managed(Self::ident(table_cfg)?, "snapshot expiry")?;
        let Some(table) = self.load(table_cfg).await? else {
            return Ok(ExpiryOutcome::default());
        };
        let metadata = table.metadata();
        let ids: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| metadata.snapshot_by_id(*id).is_some())
            .collect();
        if ids.is_empty() {
            return Ok(ExpiryOutcome::default());
        }
        if let Some(current) = metadata.current_snapshot_id() {
            if ids.contains(&current) {
                return Err(LakeError::internal(format!(
                    "snapshot {current} is table {}'s current snapshot and cannot expire",
                    table_cfg.name
                )));
            }
        }
        let before = metadata_files(&table).await?;
        // Explicit ids only: the age selection iceberg would add by default is pinned to the
        // beginning of time, so nothing the caller did not check leaves.
        let tx = Transaction::new(&table);
        let action = tx
            .expire_snapshots()
            .expire_snapshot_ids(ids.iter().copied())
            .expire_older_than_ms(i64::MIN);
        let tx = action
            .apply(tx)
            .map_err(|e| LakeError::iceberg("planning the snapshot expiry", e))?;
        let expired = tx.commit(self.catalog().as_ref()).await.map_err(|e| {
            LakeError::iceberg(format!("expiring snapshots of table {}", table_cfg.name), e)
        })?;
        if let Some(guard) = self.guard() {
            guard.remember(table_cfg, &expired).await?;
        }
        let after = metadata_files(&expired).await?;
        let mut outcome = ExpiryOutcome {
            snapshots: ids
                .iter()
                .copied()
                .filter(|id| expired.metadata().snapshot_by_id(*id).is_none())
                .collect(),
            ..ExpiryOutcome::default()
        };
        for path in before.difference(&after) {
            match expired.file_io().delete(path).await {
                Ok(()) => outcome.metadata_files_deleted += 1,
                Err(e) => {
                    outcome.metadata_files_left += 1;
                    tracing::warn!(file = %path, error = %e, "could not delete an expired metadata file");
                }
            }
        }
        tracing::info!(
            table = %table_cfg.name,
            snapshots = outcome.snapshots.len(),
            metadata_files = outcome.metadata_files_deleted,
            "snapshots expired"
        );
        Ok(outcome)
    }
}

/// The selection of [`Lake::expiry_candidates`] at `now_ms`: not the current snapshot, not
/// one of the newest `retain_last` of the current snapshot's ancestry, committed before
/// `now - older_than`; oldest first.
fn candidates(table: &Table, policy: ExpiryPolicy, now_ms: i64) -> Vec<ExpiryCandidate> {
    let metadata = table.metadata();
    let mut kept: HashSet<i64> = HashSet::new();
    let mut at = metadata.current_snapshot();
    while let Some(snapshot) = at {
        if kept.len() >= policy.retain_last.max(1) {
            break;
        }
        kept.insert(snapshot.snapshot_id());
        at = snapshot
            .parent_snapshot_id()
            .and_then(|p| metadata.snapshot_by_id(p));
    }
    // sluice writes only the main branch. The head of a branch or tag another engine made is
    // refused by iceberg's action when named, so expiring it fails loudly, never silently.
    let age_ms = i64::try_from(policy.older_than.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms.saturating_sub(age_ms);
    let mut found: Vec<ExpiryCandidate> = metadata
        .snapshots()
        .filter(|s| !kept.contains(&s.snapshot_id()) && s.timestamp_ms() < cutoff)
        .map(candidate)
        .collect();
    found.sort_by_key(|c| (c.timestamp_ms, c.snapshot_id));
    found
}

fn candidate(snapshot: &SnapshotRef) -> ExpiryCandidate {
    let summary = snapshot.summary();
    let batch_ids = summary
        .additional_properties
        .get(BATCH_IDS_PROPERTY)
        .map(|ids| {
            ids.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| BatchId(s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    ExpiryCandidate {
        snapshot_id: snapshot.snapshot_id(),
        timestamp_ms: snapshot.timestamp_ms(),
        operation: summary.operation.as_str().to_string(),
        batch_ids,
    }
}

/// Every manifest list and manifest a snapshot of `table` reads, as the metadata spells them.
async fn metadata_files(table: &Table) -> Result<HashSet<String>> {
    let mut files = HashSet::new();
    for snapshot in table.metadata().snapshots() {
        files.insert(snapshot.manifest_list().to_string());
        let list = crate::files::manifest_list(table, snapshot).await?;
        files.extend(list.entries().iter().map(|m| m.manifest_path.clone()));
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
