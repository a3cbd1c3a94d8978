//! [`BatchWriter`]: JSON rows → Arrow record batches → staged zstd Parquet data files.
//!
//! Rows arrive already validated against the contract; the writer converts them with the
//! table's *current* schema (so an evolved column is filled, and a column the file lacks is
//! null), splits them by partition, and writes through iceberg-rust's data file writers so
//! every file carries Iceberg field ids and column statistics. File names are deterministic
//! per batch (`<batch id>-00000.parquet`, …) so a re-run of a crashed validation rewrites
//! the same names instead of scattering new ones; staged files sit in the table's data
//! directory and become visible only when a commit references them.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::arrow::{schema_to_arrow_schema, RecordBatchPartitionSplitter};
use iceberg::spec::{DataFile, DataFileFormat, PartitionSpecRef, SchemaRef, TableProperties};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::partitioning::fanout_writer::FanoutWriter;
use iceberg::writer::partitioning::PartitioningWriter;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use sluice_core::BatchId;

use crate::commit::StagedBatch;
use crate::error::{LakeError, Result};

type FileWriterBuilder =
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;
type FileWriter =
    DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// The batch whose writer named this data file (`<batch id>-<counter>.parquet`, the counter
/// at least five digits), from its path or file name; `None` for any other name.
pub fn batch_of_data_file(path: &str) -> Option<BatchId> {
    let name = path.rsplit('/').next()?;
    let stem = name.strip_suffix(".parquet")?;
    let (batch, counter) = stem.rsplit_once('-')?;
    let counter_ok = counter.len() >= 5 && counter.bytes().all(|b| b.is_ascii_digit());
    (counter_ok && !batch.is_empty()).then(|| BatchId(batch.to_string()))
}

// One per batch writer, for the writer's life: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Unpartitioned(Box<FileWriter>),
    Partitioned {
        writer: FanoutWriter<FileWriterBuilder>,
        splitter: RecordBatchPartitionSplitter,
    },
}

/// Writes one batch's rows as staged data files of one table.
pub struct BatchWriter {
    batch_id: BatchId,
    schema: SchemaRef,
    spec: PartitionSpecRef,
    arrow_schema: ArrowSchemaRef,
    inner: Inner,
    rows: u64,
}

/// A row the writer could not convert, by its index in the slice given to `write_rows`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionFailure {
    pub index: usize,
    pub message: String,
}

impl BatchWriter {
    /// A writer for `batch_id` into `table` (as loaded now: its current schema and spec).
    /// `target_file_size` is in bytes; larger batches roll over to a next file.
    pub async fn new(
        table: &Table,
        batch_id: &BatchId,
        target_file_size: Option<usize>,
    ) -> Result<Self> {
        let metadata = table.metadata();
        let schema = metadata.current_schema().clone();
        let spec = metadata.default_partition_spec().clone();
        let arrow_schema = Arc::new(
            schema_to_arrow_schema(&schema)
                .map_err(|e| LakeError::iceberg("mapping the table schema to Arrow", e))?,
        );
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(3)
                    .map_err(|e| LakeError::internal(format!("zstd level: {e}")))?,
            ))
            .build();
        let location = DefaultLocationGenerator::new(metadata)
            .map_err(|e| LakeError::iceberg("choosing the data location", e))?;
        let names =
            DefaultFileNameGenerator::new(batch_id.to_string(), None, DataFileFormat::Parquet);
        let rolling = RollingFileWriterBuilder::new(
            ParquetWriterBuilder::new(props, schema.clone()),
            target_file_size
                .unwrap_or(TableProperties::PROPERTY_WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT),
            table.file_io().clone(),
            location,
            names,
        );
        let builder = DataFileWriterBuilder::new(rolling);
        let inner = if spec.is_unpartitioned() {
            Inner::Unpartitioned(Box::new(
                builder
                    .build(None)
                    .await
                    .map_err(|e| LakeError::iceberg("opening a data file", e))?,
            ))
        } else {
            let splitter = RecordBatchPartitionSplitter::try_new_with_computed_values(
                schema.clone(),
                spec.clone(),
            )
            .map_err(|e| LakeError::iceberg("preparing the partition splitter", e))?;
            Inner::Partitioned {
                writer: FanoutWriter::new(builder),
                splitter,
            }
        };
        Ok(BatchWriter {
            batch_id: batch_id.clone(),
            schema,
            spec,
            arrow_schema,
            inner,
            rows: 0,
        })
    }

    /// The Arrow schema rows are converted to (with Iceberg field ids in field metadata).
    pub fn arrow_schema(&self) -> &ArrowSchemaRef {
        &self.arrow_schema
    }

    /// Converts and writes rows. Rows Arrow cannot convert are skipped and returned with the
    /// reason, so one bad value never loses its neighbours.
    pub async fn write_rows(&mut self, rows: &[Value]) -> Result<Vec<ConversionFailure>> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let (batch, failures) = match self.convert(rows) {
            Ok(batch) => (batch, vec![]),
            Err(_) => self.convert_row_by_row(rows)?,
        };
        if let Some(batch) = batch {
            self.write_batch(batch).await?;
        }
        Ok(failures)
    }

    fn convert(&self, rows: &[Value]) -> std::result::Result<Option<RecordBatch>, String> {
        let mut decoder = arrow_json::ReaderBuilder::new(self.arrow_schema.clone())
            .with_batch_size(rows.len().max(1))
            .build_decoder()
            .map_err(|e| e.to_string())?;
        decoder.serialize(rows).map_err(|e| e.to_string())?;
        decoder.flush().map_err(|e| e.to_string())
    }

    fn convert_row_by_row(
        &self,
        rows: &[Value],
    ) -> Result<(Option<RecordBatch>, Vec<ConversionFailure>)> {
        let mut good = Vec::with_capacity(rows.len());
        let mut failures = vec![];
        for (index, row) in rows.iter().enumerate() {
            match self.convert(std::slice::from_ref(row)) {
                Ok(_) => good.push(row.clone()),
                Err(message) => failures.push(ConversionFailure { index, message }),
            }
        }
        let batch = self.convert(&good).map_err(|e| {
            LakeError::internal(format!("rows converted one by one failed together: {e}"))
        })?;
        Ok((batch, failures))
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match &mut self.inner {
            Inner::Unpartitioned(w) => w
                .write(batch)
                .await
                .map_err(|e| LakeError::iceberg("writing a data file", e)),
            Inner::Partitioned { writer, splitter } => {
                let mut parts = splitter
                    .split(&batch)
                    .map_err(|e| LakeError::iceberg("splitting rows by partition", e))?;
                // The splitter groups rows in a hash map, so its order changes from run to
                // run; file numbers are handed out in the order partitions are first
                // written, and a re-run must reproduce the names.
                parts.sort_by_cached_key(|(key, _)| key.to_path());
                for (key, part) in parts {
                    writer
                        .write(key, part)
                        .await
                        .map_err(|e| LakeError::iceberg("writing a data file", e))?;
                }
                Ok(())
            }
        }
    }

    /// Closes the files and describes them for the commit step.
    pub async fn finish(self) -> Result<StagedBatch> {
        let files: Vec<DataFile> = match self.inner {
            Inner::Unpartitioned(mut w) => w
                .close()
                .await
                .map_err(|e| LakeError::iceberg("closing a data file", e))?,
            Inner::Partitioned { writer, .. } => writer
                .close()
                .await
                .map_err(|e| LakeError::iceberg("closing data files", e))?,
        };
        StagedBatch::from_data_files(self.batch_id, &self.schema, &self.spec, files, self.rows)
    }
}
