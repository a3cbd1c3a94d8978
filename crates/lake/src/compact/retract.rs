//! Taking one batch's rows out of the table when compaction has merged them with others'
//! (`new_version = "replace"`, `on_delete = "delete"`).
//!
//! A batch's own data files are named after it and are removed whole. Once compaction has
//! merged them, its rows sit in `compact-…` files beside other batches' rows, and the footer's
//! lineage ([`super::lineage`]) says which. [`Lake::locate_batches`] finds both kinds among
//! the live files; [`Lake::rewrite_without`] writes a compacted file again without the rows of
//! the leaving batches (copy-on-write), the new file's lineage the old one's minus theirs. The
//! caller's overwrite removes the old files and adds the rewritten ones in the snapshot that
//! adds the new version, so a reader sees the old rows or the new ones. The rewrite is named
//! after the file and the batches (`compact-<24 hex>-00000.parquet`), so a re-run writes the
//! same name, and a rewrite that never committed is an orphan `sluice gc` collects.

use std::collections::HashSet;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, UInt32Array};
use arrow_schema::SchemaRef as ArrowSchemaRef;
use futures::StreamExt;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::SchemaRef;
use iceberg::table::Table;
use sha2::{Digest, Sha256};
use sluice_core::BatchId;

use super::input::{self, LiveFile};
use super::lineage::{self, BatchTable, RowBatches};
use super::output::{OutputFiles, LINEAGE_COLUMN};
use super::READ_BATCH_ROWS;
use crate::commit::StagedBatch;
use crate::error::{LakeError, Result};
use crate::writer::batch_of_data_file;
use crate::Lake;

/// Where the rows of some batches are among a table's live data files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Located {
    /// Files holding only rows of those batches (their own files): removed whole.
    pub whole: Vec<String>,
    /// Compacted files holding some of their rows among others': rewritten without them.
    pub partial: Vec<LiveFile>,
}

impl Lake {
    /// The live data files of `table` that hold rows of `batches` (see the module docs):
    /// files named after one of them, and compacted files whose lineage names one. Reads the
    /// footer of every live compacted file.
    pub async fn locate_batches(
        &self,
        table: &Table,
        batches: &HashSet<BatchId>,
    ) -> Result<Located> {
        let mut found = Located::default();
        if batches.is_empty() {
            return Ok(found);
        }
        for file in input::live_files(table).await? {
            if let Some(b) = batch_of_data_file(&file.path) {
                if batches.contains(&b) {
                    found.whole.push(file.path);
                }
                continue;
            }
            let segments = self.lineage_of(table, &file.path).await?;
            let ours =
                |s: &lineage::LineageSegment| s.batch.as_ref().is_some_and(|b| batches.contains(b));
            if segments.iter().all(ours) && !segments.is_empty() {
                found.whole.push(file.path);
            } else if segments.iter().any(ours) {
                found.partial.push(file);
            }
        }
        Ok(found)
    }

    /// The compacted live file `file` (one of [`Located::partial`]) written again without the
    /// rows of `leaving`, as the batch an overwrite adds; `None` when none of its rows stays.
    pub async fn rewrite_without(
        &self,
        table: &Table,
        file: &LiveFile,
        leaving: &HashSet<BatchId>,
    ) -> Result<Option<StagedBatch>> {
        let path = file.path.as_str();
        let metadata = table.metadata();
        let schema: SchemaRef = metadata.current_schema().clone();
        let arrow_schema: ArrowSchemaRef = Arc::new(
            schema_to_arrow_schema(&schema)
                .map_err(|e| LakeError::iceberg("mapping the table schema to Arrow", e))?,
        );
        let rows_schema = input::with_lineage(&arrow_schema);
        let footer = lineage::read_footer(table, path).await?;
        let segments = lineage::from_footer(path, &footer)?;
        let mut batches = BatchTable::default();
        let sources = RowBatches::new(&segments, &mut batches);
        let drop: Vec<bool> = batches
            .batches
            .iter()
            .map(|b| b.as_ref().is_some_and(|b| leaving.contains(b)))
            .collect();
        let id = rewrite_id(path, leaving);
        let mut out = OutputFiles::new(
            table,
            arrow_schema,
            file.partition.clone(),
            &id,
            u64::MAX,
            Arc::new(batches.batches.clone()),
        )?;
        let mut stream = input::read(table, &schema, &rows_schema, file, sources, READ_BATCH_ROWS)?;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            let index = batch.num_columns() - 1;
            let Some(lineage) = batch
                .column(index)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .filter(|_| batch.schema().field(index).name() == LINEAGE_COLUMN)
            else {
                return Err(LakeError::internal(
                    "rows read without their lineage column",
                ));
            };
            let keep: BooleanArray = (0..lineage.len())
                .map(|i| Some(!drop[lineage.value(i) as usize]))
                .collect();
            let kept = arrow_select::filter::filter_record_batch(&batch, &keep)
                .map_err(|e| LakeError::internal(format!("filtering the rows of {path}: {e}")))?;
            out.write(kept).await?;
        }
        let rows = out.rows;
        let files = out.finish().await?;
        if rows == 0 {
            return Ok(None);
        }
        StagedBatch::from_data_files(
            BatchId(id),
            &schema,
            metadata.default_partition_spec(),
            files,
            rows,
        )
        .map(Some)
    }
}

/// `compact-` and 24 hex digits of SHA-256 of the file and the sorted batches leaving it.
fn rewrite_id(path: &str, leaving: &HashSet<BatchId>) -> String {
    let mut ids: Vec<&str> = leaving.iter().map(BatchId::as_str).collect();
    ids.sort_unstable();
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    for id in ids {
        h.update([0]);
        h.update(id.as_bytes());
    }
    format!("compact-{}", &hex::encode(h.finalize())[..24])
}
