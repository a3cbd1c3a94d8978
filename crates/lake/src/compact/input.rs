//! The input side of a compaction: the live data files of the table, and each file read
//! record batch by record batch into the table's current schema.
//!
//! Files are read through iceberg-rust's Arrow reader, which matches columns by field id:
//! a file written under an older schema comes back in the current one, a column added since
//! as nulls. Every batch read gets one more column, [`LINEAGE_COLUMN`]: the index of the
//! source batch of each row in the compaction's batch table, from the file's lineage
//! ([`super::lineage`]), so that sorting and merging carry it along with the row.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use futures::stream::{self, BoxStream};
use futures::StreamExt;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFileFormat, ManifestContentType, SchemaRef, Struct};
use iceberg::table::Table;

use super::lineage::RowBatches;
use super::output::LINEAGE_COLUMN;
use crate::error::{LakeError, Result};

/// A live data file of the table's current snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveFile {
    /// As the manifests spell it.
    pub path: String,
    pub bytes: u64,
    pub rows: u64,
    pub spec_id: i32,
    pub partition: Struct,
}

/// Every live data file of the current snapshot. A table with delete files is refused:
/// sluice writes none, and rewriting a data file without its deletes would resurrect rows.
pub(crate) async fn live_files(table: &Table) -> Result<Vec<LiveFile>> {
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(vec![]);
    };
    let list = crate::files::manifest_list(table, snapshot).await?;
    let mut files = vec![];
    for manifest_file in list.entries() {
        let manifest = crate::files::manifest(table, manifest_file).await?;
        let live = manifest.entries().iter().filter(|e| e.is_alive());
        if manifest_file.content == ManifestContentType::Deletes {
            if live.count() > 0 {
                return Err(LakeError::internal(format!(
                    "table {} has delete files; compaction rewrites data files only",
                    table.identifier()
                )));
            }
            continue;
        }
        for entry in live {
            let f = entry.data_file();
            if f.file_format() != DataFileFormat::Parquet {
                continue;
            }
            files.push(LiveFile {
                path: f.file_path().to_string(),
                bytes: f.file_size_in_bytes(),
                rows: f.record_count(),
                spec_id: manifest_file.partition_spec_id,
                partition: f.partition().clone(),
            });
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The table's current schema in Arrow with the lineage column after its own.
pub(crate) fn with_lineage(table_schema: &ArrowSchemaRef) -> ArrowSchemaRef {
    let mut fields: Vec<Arc<Field>> = table_schema.fields().iter().cloned().collect();
    fields.push(Arc::new(Field::new(
        LINEAGE_COLUMN,
        DataType::UInt32,
        false,
    )));
    Arc::new(ArrowSchema::new_with_metadata(
        fields,
        table_schema.metadata().clone(),
    ))
}

/// Appends the lineage column to rows read from a file, on `schema` ([`with_lineage`]).
pub(crate) fn attach(
    schema: &ArrowSchemaRef,
    batch: RecordBatch,
    sources: Vec<u32>,
) -> Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    columns.push(Arc::new(UInt32Array::from(sources)));
    RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| LakeError::internal(format!("rows in the table's current schema: {e}")))
}

/// Reads one live file in the table's current schema (`schema`, its Arrow form with the
/// lineage column `lineage_schema`), `batch_size` rows at a time. The stream ends with an
/// error if the file holds other than the rows its manifest entry counts.
pub(crate) fn read(
    table: &Table,
    schema: &SchemaRef,
    lineage_schema: &ArrowSchemaRef,
    file: &LiveFile,
    sources: RowBatches,
    batch_size: usize,
) -> Result<BoxStream<'static, Result<RecordBatch>>> {
    let task = FileScanTask::builder()
        .with_file_size_in_bytes(file.bytes)
        .with_start(0)
        .with_length(file.bytes)
        .with_record_count(Some(file.rows))
        .with_data_file_path(file.path.clone())
        .with_data_file_format(DataFileFormat::Parquet)
        .with_schema(schema.clone())
        .with_project_field_ids(schema.as_struct().fields().iter().map(|f| f.id).collect())
        .with_predicate(None)
        .with_deletes(vec![])
        .with_partition(Some(file.partition.clone()))
        .with_partition_spec(None)
        // Files added as they are (`crate::as_is`) carry no field ids: read by name.
        .with_name_mapping(crate::as_is::mapping_of(table))
        .with_case_sensitive(true)
        .build();
    let batches = table
        .reader_builder()
        .with_batch_size(batch_size)
        .with_data_file_concurrency_limit(1)
        .with_row_group_filtering_enabled(false)
        .with_row_selection_enabled(false)
        .build()
        .read(Box::pin(stream::iter([Ok(task)])))
        .map_err(|e| LakeError::iceberg(format!("reading {}", file.path), e))?
        .stream();
    let read_rows = Arc::new(AtomicU64::new(0));
    let counted = read_rows.clone();
    let schema = lineage_schema.clone();
    let path = file.path.clone();
    let rows = batches.map(move |batch| {
        let batch = batch.map_err(|e| LakeError::iceberg(format!("reading {path}"), e))?;
        let offset = counted.fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
        let indices = sources.slice(offset, batch.num_rows());
        attach(&schema, batch, indices)
    });
    let (path, expected) = (file.path.clone(), file.rows);
    let check = stream::once(async move {
        let read = read_rows.load(Ordering::Relaxed);
        if read == expected {
            Ok(None)
        } else {
            Err(LakeError::internal(format!(
                "{path} held {read} rows where its manifest entry counts {expected}"
            )))
        }
    });
    Ok(rows
        .map(|r| r.map(Some))
        .chain(check)
        .filter_map(|r| async move { r.transpose() })
        .boxed())
}
