//! The output side of one compaction group: one stream of rows in, data files of about the
//! target size out, each with its row lineage in its footer.
//!
//! Files are written through iceberg-rust's `ParquetWriter` (field ids, column statistics,
//! the same zstd properties as a batch's files) and named deterministically,
//! `<compaction id>-<counter>.parquet` (`compact-<24 hex>-00000.parquet`, …), in the
//! partition's directory of the table's data location, as the batch writer places its own:
//! a re-run of a compaction that crashed before its commit writes the same names over the
//! first run's files. A file is closed once its written size reaches the target (checked
//! after each record batch; the row group in progress counts before compression, as
//! iceberg's rolling writer counts it), so every output but a partition's last is about the
//! target size, a little less when its last row group compressed well.

use std::sync::Arc;

use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::spec::{DataFile, PartitionKey, PartitionSpecRef, SchemaRef, Struct};
use iceberg::table::Table;
use iceberg::writer::file_writer::location_generator::{
    DefaultLocationGenerator, LocationGenerator,
};
use iceberg::writer::file_writer::{
    FileWriter, FileWriterBuilder, ParquetWriter, ParquetWriterBuilder,
};
use iceberg::writer::CurrentFileStatus;
use parquet::file::metadata::KeyValue;
use sluice_core::BatchId;

use super::lineage::{LineageBuilder, LINEAGE_KEY};
use crate::error::{LakeError, Result};
use crate::writer::writer_properties;

/// Writes a compaction group's rows into rolling data files.
pub(crate) struct OutputFiles {
    table: Table,
    schema: SchemaRef,
    spec: PartitionSpecRef,
    /// The table's current schema in Arrow, with field ids: every row is cast to it.
    arrow_schema: ArrowSchemaRef,
    /// The partition every row of the group belongs to.
    partition: Struct,
    compaction_id: String,
    target_file_size: u64,
    builder: ParquetWriterBuilder,
    location: DefaultLocationGenerator,
    /// The file being written, with its lineage so far.
    current: Option<(ParquetWriter, LineageBuilder)>,
    /// Index of the next file's name.
    counter: usize,
    /// The source batches, by the index the lineage columns carry.
    batches: Arc<Vec<Option<BatchId>>>,
    pub done: Vec<DataFile>,
    pub rows: u64,
}

impl OutputFiles {
    pub fn new(
        table: &Table,
        arrow_schema: ArrowSchemaRef,
        partition: Struct,
        compaction_id: &str,
        target_file_size: u64,
        batches: Arc<Vec<Option<BatchId>>>,
    ) -> Result<Self> {
        let metadata = table.metadata();
        let schema = metadata.current_schema().clone();
        let location = DefaultLocationGenerator::new(metadata)
            .map_err(|e| LakeError::iceberg("choosing the data location", e))?;
        Ok(OutputFiles {
            table: table.clone(),
            spec: metadata.default_partition_spec().clone(),
            builder: ParquetWriterBuilder::new(writer_properties()?, schema.clone()),
            schema,
            arrow_schema,
            partition,
            compaction_id: compaction_id.to_string(),
            target_file_size,
            location,
            current: None,
            counter: 0,
            batches,
            done: vec![],
            rows: 0,
        })
    }

    /// The path of output file number `counter`.
    fn path(&self, counter: usize) -> String {
        let key = PartitionKey::new(
            self.spec.as_ref().clone(),
            self.schema.clone(),
            self.partition.clone(),
        );
        let name = format!("{}-{counter:05}.parquet", self.compaction_id);
        self.location.generate_location(Some(&key), &name)
    }

    /// Writes rows whose last column is their source batch's index (see the module docs of
    /// `merge`); the other columns are the table's current schema.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let (rows, sources) = split_lineage(&batch, &self.arrow_schema)?;
        if self.current.is_none() {
            let path = self.path(self.counter);
            self.counter += 1;
            let output = self
                .table
                .file_io()
                .new_output(&path)
                .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
            let writer = self
                .builder
                .build(output)
                .await
                .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
            self.current = Some((writer, LineageBuilder::default()));
        }
        let Some((writer, lineage)) = self.current.as_mut() else {
            unreachable!("opened above");
        };
        writer
            .write(&rows)
            .await
            .map_err(|e| LakeError::iceberg("writing a compacted data file", e))?;
        lineage.extend(sources.values());
        self.rows += rows.num_rows() as u64;
        if writer.current_written_size() as u64 >= self.target_file_size {
            self.close_current().await?;
        }
        Ok(())
    }

    async fn close_current(&mut self) -> Result<()> {
        let Some((mut writer, lineage)) = self.current.take() else {
            return Ok(());
        };
        let segments = lineage.finish(&self.batches);
        let json = serde_json::to_string(&segments)
            .map_err(|e| LakeError::internal(format!("lineage to JSON: {e}")))?;
        writer.append_key_value_metadata(KeyValue::new(LINEAGE_KEY.to_string(), json));
        let builders = writer
            .close()
            .await
            .map_err(|e| LakeError::iceberg("closing a compacted data file", e))?;
        for mut b in builders {
            b.partition(self.partition.clone())
                .partition_spec_id(self.spec.spec_id());
            let file = b
                .build()
                .map_err(|e| LakeError::internal(format!("describing a compacted file: {e}")))?;
            self.done.push(file);
        }
        Ok(())
    }

    /// Closes the last file; the files written, in order.
    pub async fn finish(mut self) -> Result<Vec<DataFile>> {
        self.close_current().await?;
        Ok(self.done)
    }
}

/// Name of the column that carries each row's source batch index through reading, sorting,
/// spilling and merging; never written to a table's file.
pub(crate) const LINEAGE_COLUMN: &str = "__sluice_source_batch";

/// Splits a batch into the table's columns (rebuilt on the table's Arrow schema) and its
/// trailing lineage column.
fn split_lineage(
    batch: &RecordBatch,
    schema: &ArrowSchemaRef,
) -> Result<(RecordBatch, UInt32Array)> {
    let n = batch.num_columns();
    let last = batch.column(n - 1);
    let sources = last
        .as_any()
        .downcast_ref::<UInt32Array>()
        .filter(|_| batch.schema().field(n - 1).name() == LINEAGE_COLUMN)
        .ok_or_else(|| LakeError::internal("a compaction batch without its lineage column"))?
        .clone();
    if sources.null_count() > 0 {
        return Err(LakeError::internal("a row without a source batch"));
    }
    let columns = batch.columns()[..n - 1].to_vec();
    let rows = RecordBatch::try_new(schema.clone(), columns)
        .map_err(|e| LakeError::internal(format!("rows in the table's schema: {e}")))?;
    Ok((rows, sources))
}
