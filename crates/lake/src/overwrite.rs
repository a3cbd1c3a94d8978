//! The overwrite commit: one snapshot that removes live data files and adds others (DESIGN §9).
//!
//! iceberg-rust 0.10 commits only fast appends. Replacing a key's rows (`new_version =
//! "replace"`), deleting them (`on_delete = "delete"`) and compaction all need a snapshot that
//! also removes files, as the Iceberg spec writes it: rewritten manifests with the removed
//! entries DELETED and the rest EXISTING, a new manifest of ADDED entries, the next sequence
//! number, and the operation `overwrite` (`replace` when the rows stay the same). Those
//! callers use [`Lake::overwrite`], never each other.
//!
//! [`Lake::overwrite`] is idempotent like [`Lake::commit_batches`]: the batch ids of the added
//! files go into the snapshot summary ([`BATCH_IDS_PROPERTY`], so [`committed_batches`] sees
//! them), and a call whose batches are already there is acknowledged with that snapshot and
//! writes nothing. A batch with no data files still records its id: that is how a removal
//! that adds nothing is made idempotent.
//!
//! # Layout
//! - [`action`]: [`OverwriteFiles`], the builder and its optimistic commit with rebases; only
//!   iceberg types, meant to go upstream
//! - `snapshot`: producing the manifests, manifest list, summary and catalog commit of one try
//!
//! iceberg 0.10.1 builds a `TableCommit` only inside its crate; the workspace patches it to
//! make that builder public (see the root Cargo.toml), which is all this module needs from it.

pub mod action;
mod snapshot;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use iceberg::table::Table;
use serde::{Deserialize, Serialize};
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

pub use action::{OverwriteCommitted, OverwriteFiles, RowChange};

use crate::commit::{committed_batches, StagedBatch};
use crate::error::{LakeError, LakeErrorKind, Result};
use crate::{Lake, BATCH_IDS_PROPERTY};

/// What an overwrite did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverwriteOutcome {
    /// Snapshot id per added batch id: the new snapshot, or the earlier one that held them.
    pub snapshots: BTreeMap<BatchId, i64>,
    /// The snapshot this call added, if it added one.
    pub new_snapshot_id: Option<i64>,
    /// Batches found already committed (a re-run): nothing was written.
    pub already_committed: Vec<BatchId>,
    /// Commit races lost and rebased on a newer snapshot before this one landed.
    pub rebases: u32,
}

impl Lake {
    /// Removes the live data files `remove` (paths as the table's manifests spell them) and
    /// adds the files of `add`, in one snapshot whose summary carries `extra_summary` and the
    /// batch ids of `add`; see the module docs.
    ///
    /// A path not live in the table is an `Internal` error naming it; a file removed by a
    /// concurrent commit is a `CommitConflict` naming it (the caller's retry finds it gone, or
    /// finds its own batch committed). A format v1 table is refused.
    pub async fn overwrite(
        &self,
        table_cfg: &TableConfig,
        remove: &[String],
        add: &[StagedBatch],
        rows: RowChange,
        extra_summary: HashMap<String, String>,
    ) -> Result<OverwriteOutcome> {
        let table = self.load(table_cfg).await?.ok_or_else(|| {
            LakeError::internal(format!("table {} does not exist", table_cfg.name))
        })?;
        self.overwrite_on(table_cfg, &table, remove, add, rows, extra_summary)
            .await
    }

    /// [`Lake::overwrite`] on a base the caller loaded (tests load it, let another writer
    /// commit, then overwrite on the stale base).
    pub(crate) async fn overwrite_on(
        &self,
        table_cfg: &TableConfig,
        base: &Table,
        remove: &[String],
        add: &[StagedBatch],
        rows: RowChange,
        extra_summary: HashMap<String, String>,
    ) -> Result<OverwriteOutcome> {
        let ids: Vec<BatchId> = add.iter().map(|b| b.batch_id.clone()).collect();
        if let Some(done) = already_committed(base, &ids)? {
            return Ok(done);
        }
        if remove.is_empty() && add.iter().all(|b| b.data_files.is_empty()) {
            return Ok(OverwriteOutcome::default());
        }
        let default_spec = base.metadata().default_partition_spec_id();
        let mut files = vec![];
        for batch in add {
            if !batch.data_files.is_empty() && batch.partition_spec_id != default_spec {
                return Err(LakeError::internal(format!(
                    "batch {} was written with partition spec {}, the table's is {default_spec}",
                    batch.batch_id, batch.partition_spec_id
                )));
            }
            files.extend(batch.to_data_files(base)?);
        }
        let mut properties = extra_summary;
        if !ids.is_empty() {
            let value = ids
                .iter()
                .map(BatchId::as_str)
                .collect::<Vec<_>>()
                .join(",");
            properties.insert(BATCH_IDS_PROPERTY.to_string(), value);
        }
        let committed = OverwriteFiles::new()
            .rows(rows)
            .delete_files(remove.iter().cloned())
            .add_data_files(files)
            .set_snapshot_properties(properties)
            .commit(base, self.catalog().as_ref())
            .await
            .map_err(|e| {
                LakeError::iceberg(format!("overwriting files of table {}", table_cfg.name), e)
            })?;
        if let Some(guard) = self.guard() {
            guard.remember(table_cfg, &committed.table).await?;
        }
        let snapshot_id = committed.snapshot_id;
        tracing::info!(
            table = %table_cfg.name,
            snapshot_id,
            removed = remove.len(),
            rebases = committed.rebases,
            "overwrite committed"
        );
        Ok(OverwriteOutcome {
            snapshots: ids.into_iter().map(|id| (id, snapshot_id)).collect(),
            new_snapshot_id: Some(snapshot_id),
            already_committed: vec![],
            rebases: committed.rebases,
        })
    }
}

/// The acknowledgement of a re-run: every batch of `ids` committed already. An overwrite
/// commits its batches together, so finding only some of them means they were committed by
/// something else (a plain append): that is refused, not half-done.
fn already_committed(table: &Table, ids: &[BatchId]) -> Result<Option<OverwriteOutcome>> {
    if ids.is_empty() {
        return Ok(None);
    }
    let done = committed_batches(table);
    let found: Vec<&BatchId> = ids.iter().filter(|id| done.contains_key(*id)).collect();
    if found.is_empty() {
        return Ok(None);
    }
    if found.len() < ids.len() {
        let names: Vec<&str> = found.iter().map(|id| id.as_str()).collect();
        return Err(LakeError::new(
            LakeErrorKind::Internal,
            format!(
                "overwrite of table {}: batches {} are committed already, the others are not",
                table.identifier(),
                names.join(", ")
            ),
        ));
    }
    Ok(Some(OverwriteOutcome {
        snapshots: ids.iter().map(|id| (id.clone(), done[id])).collect(),
        new_snapshot_id: None,
        already_committed: ids.to_vec(),
        rebases: 0,
    }))
}
