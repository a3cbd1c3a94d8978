//! Idempotent group commit of staged batches (DESIGN §5.3).
//!
//! A [`StagedBatch`] describes the data files one validation wrote, as Iceberg's own JSON
//! form of `DataFile`, so it can travel by reference (a manifest object) to the commit step.
//! [`Lake::commit_batches`] first looks for each batch id in the table's snapshot summaries
//! (property [`BATCH_IDS_PROPERTY`]): a batch found there is already committed, whatever the
//! ledger says, and is acknowledged with that snapshot's id instead of appended again. The
//! remaining batches go into one fast-append snapshot whose summary lists their ids. The
//! fast append's duplicate-file check is a second guard: the same deterministic file paths
//! cannot be added twice. A lost optimistic-concurrency race surfaces as
//! `LakeErrorKind::CommitConflict`; the caller retries, and the retry checks again.

use std::collections::{BTreeMap, HashMap};

use iceberg::spec::{
    deserialize_data_file_from_json, serialize_data_file_to_json, DataFile, FormatVersion,
    PartitionSpecRef, SchemaRef,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use serde::{Deserialize, Serialize};
use sluice_core::config::TableConfig;
use sluice_core::{BatchId, ObjectVersion};

use crate::error::{LakeError, LakeErrorKind, Result};
use crate::{Lake, BATCH_IDS_PROPERTY};

/// The staged data files of one batch, ready to commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedBatch {
    pub batch_id: BatchId,
    /// The object version the batch was read from, so that a committer of another batch can
    /// find its ledger record (group commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectVersion>,
    /// Schema the files were written with.
    pub schema_id: i32,
    /// Partition spec the files were written with.
    pub partition_spec_id: i32,
    /// Rows across all files.
    pub rows: u64,
    /// Bytes across all files.
    pub bytes: u64,
    /// Paths of the data files, for display and garbage collection.
    pub paths: Vec<String>,
    /// Each data file in Iceberg's JSON form (`serialize_data_file_to_json`).
    pub data_files: Vec<String>,
}

impl StagedBatch {
    pub(crate) fn from_data_files(
        batch_id: BatchId,
        schema: &SchemaRef,
        spec: &PartitionSpecRef,
        files: Vec<DataFile>,
        rows: u64,
    ) -> Result<Self> {
        let partition_type = spec
            .partition_type(schema)
            .map_err(|e| LakeError::iceberg("computing the partition type", e))?;
        let bytes = files.iter().map(|f| f.file_size_in_bytes()).sum();
        let paths = files.iter().map(|f| f.file_path().to_string()).collect();
        let data_files = files
            .into_iter()
            .map(|f| serialize_data_file_to_json(f, &partition_type, FormatVersion::V2))
            .collect::<iceberg::Result<Vec<_>>>()
            .map_err(|e| LakeError::iceberg("describing staged data files", e))?;
        Ok(StagedBatch {
            batch_id,
            object: None,
            schema_id: schema.schema_id(),
            partition_spec_id: spec.spec_id(),
            rows,
            bytes,
            paths,
            data_files,
        })
    }

    pub(crate) fn to_data_files(&self, table: &Table) -> Result<Vec<DataFile>> {
        let metadata = table.metadata();
        let spec = metadata
            .partition_spec_by_id(self.partition_spec_id)
            .ok_or_else(|| {
                LakeError::internal(format!("partition spec {} is gone", self.partition_spec_id))
            })?;
        let schema = metadata
            .schema_by_id(self.schema_id)
            .unwrap_or_else(|| metadata.current_schema());
        let partition_type = spec
            .partition_type(schema)
            .map_err(|e| LakeError::iceberg("computing the partition type", e))?;
        self.data_files
            .iter()
            .map(|json| {
                deserialize_data_file_from_json(
                    json,
                    self.partition_spec_id,
                    &partition_type,
                    schema,
                )
            })
            .collect::<iceberg::Result<Vec<_>>>()
            .map_err(|e| LakeError::iceberg("reading staged data file descriptions", e))
    }
}

/// What a commit did for each batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitOutcome {
    /// Snapshot id per batch id: the new snapshot, or the earlier one that already held it.
    pub snapshots: BTreeMap<BatchId, i64>,
    /// The snapshot this call added, if it added one.
    pub new_snapshot_id: Option<i64>,
    /// Batches found already committed (a re-run, or a crash before the ledger update).
    pub already_committed: Vec<BatchId>,
}

/// Batch ids recorded in the table's snapshot summaries, with the snapshot that holds them.
/// Reads every snapshot still in the metadata. Expiry shortens this memory, so it removes
/// only snapshots whose batches the ledger records as committed (crates/steps' expire): the
/// ledger covers what it forgets.
pub fn committed_batches(table: &Table) -> HashMap<BatchId, i64> {
    let mut found = HashMap::new();
    for snapshot in table.metadata().snapshots() {
        if let Some(ids) = snapshot
            .summary()
            .additional_properties
            .get(BATCH_IDS_PROPERTY)
        {
            for id in ids.split(',').filter(|s| !s.is_empty()) {
                found.insert(BatchId(id.to_string()), snapshot.snapshot_id());
            }
        }
    }
    found
}

impl Lake {
    /// Commits `batches` to the table in at most one new snapshot; see the module docs.
    pub async fn commit_batches(
        &self,
        table_cfg: &TableConfig,
        batches: &[StagedBatch],
    ) -> Result<CommitOutcome> {
        let table = self.load(table_cfg).await?.ok_or_else(|| {
            LakeError::internal(format!("table {} does not exist", table_cfg.name))
        })?;
        let done = committed_batches(&table);
        let mut outcome = CommitOutcome::default();
        let mut files = vec![];
        let mut ids = vec![];
        for batch in batches {
            if let Some(snapshot) = done.get(&batch.batch_id) {
                outcome.snapshots.insert(batch.batch_id.clone(), *snapshot);
                outcome.already_committed.push(batch.batch_id.clone());
                continue;
            }
            if batch.data_files.is_empty() {
                continue;
            }
            files.extend(batch.to_data_files(&table)?);
            ids.push(batch.batch_id.clone());
        }
        if files.is_empty() {
            return Ok(outcome);
        }
        let ids_value = ids
            .iter()
            .map(BatchId::as_str)
            .collect::<Vec<_>>()
            .join(",");
        let tx = Transaction::new(&table);
        let tx = tx
            .fast_append()
            .add_data_files(files)
            .set_snapshot_properties(HashMap::from([(BATCH_IDS_PROPERTY.to_string(), ids_value)]))
            .apply(tx)
            .map_err(|e| LakeError::iceberg("preparing the append", e))?;
        let committed = match tx.commit(self.catalog().as_ref()).await {
            Ok(t) => t,
            Err(e) => return Err(self.commit_error(table_cfg, &ids, e).await),
        };
        let snapshot_id = committed
            .metadata()
            .current_snapshot()
            .map(|s| s.snapshot_id())
            .ok_or_else(|| LakeError::internal("the commit left no current snapshot"))?;
        if let Some(guard) = self.guard() {
            guard.remember(table_cfg, &committed).await?;
        }
        for id in ids {
            outcome.snapshots.insert(id, snapshot_id);
        }
        outcome.new_snapshot_id = Some(snapshot_id);
        tracing::info!(table = %table_cfg.name, snapshot_id, "snapshot committed");
        Ok(outcome)
    }

    /// Classifies a failed commit. When another writer committed one of these very batches
    /// meanwhile (a duplicate execution of the same object version), iceberg's retry of the
    /// append refuses the files as already referenced, which reads as bad data; it is a lost
    /// race, so it becomes `CommitConflict`, and the caller's retry acknowledges the batch.
    async fn commit_error(
        &self,
        table_cfg: &TableConfig,
        ids: &[BatchId],
        e: iceberg::Error,
    ) -> LakeError {
        let error = LakeError::iceberg(format!("committing to table {}", table_cfg.name), e);
        if error.kind == LakeErrorKind::CommitConflict {
            return error;
        }
        match self.load(table_cfg).await {
            Ok(Some(now)) => {
                let done = committed_batches(&now);
                if ids.iter().any(|id| done.contains_key(id)) {
                    return LakeError {
                        kind: LakeErrorKind::CommitConflict,
                        message: format!(
                            "{}; another writer committed the same batch meanwhile",
                            error.message
                        ),
                        source: error.source,
                    };
                }
                error
            }
            _ => error,
        }
    }
}
