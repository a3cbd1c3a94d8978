//! [`BatchWriter`]: JSON rows → Arrow record batches → staged zstd Parquet data files.
//!
//! Rows arrive already validated against the contract, as JSON text ([`JsonRows`]: the lines
//! as read, so nothing is parsed into a tree and serialised again); the writer decodes them
//! with arrow-json's tape decoder, with the table's *current* schema (so an evolved column is
//! filled, and a column the file lacks is
//! null), splits them by partition, and writes through iceberg-rust's data file writers so
//! every file carries Iceberg field ids and column statistics. File names are deterministic
//! per batch (`<batch id>-00000.parquet`, …) so a re-run of a crashed validation rewrites
//! the same names instead of scattering new ones; staged files sit in the table's data
//! directory and become visible only when a commit references them.

use std::sync::Arc;

use arrow_array::{
    new_null_array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{Schema as ArrowSchema, SchemaRef as ArrowSchemaRef};
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{DataFile, DataFileFormat, PartitionSpecRef, SchemaRef, TableProperties};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::{DataFileWriter, DataFileWriterBuilder};
use iceberg::writer::file_writer::location_generator::{
    DefaultFileNameGenerator, DefaultLocationGenerator,
};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde_json::Value;
use sluice_core::schema::is_lineage_column;
use sluice_core::BatchId;

use crate::commit::StagedBatch;
use crate::error::{LakeError, Result};
use crate::fanout::{Fanout, MemoryBudget};
use crate::split::PartitionSplitter;

type FileWriterBuilder =
    DataFileWriterBuilder<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;
type FileWriter =
    DataFileWriter<ParquetWriterBuilder, DefaultLocationGenerator, DefaultFileNameGenerator>;

/// The arrival batch whose writer named this data file (`<batch id>-<counter>.parquet`, the
/// batch id starting with `b-` ([`BatchId::ARRIVAL_PREFIX`]), the counter at least five
/// digits), from its path or file name; `None` for any other name, a compaction's output
/// (`compact-<id>-<counter>.parquet`) included: its rows belong to many batches (its footer's
/// lineage, [`crate::compact::lineage_of`], names them).
pub fn batch_of_data_file(path: &str) -> Option<BatchId> {
    let name = path.rsplit('/').next()?;
    let stem = name.strip_suffix(".parquet")?;
    let (batch, counter) = stem.rsplit_once('-')?;
    let counter_ok = counter.len() >= 5 && counter.bytes().all(|b| b.is_ascii_digit());
    let batch = BatchId(batch.to_string());
    (counter_ok && batch.is_arrival()).then_some(batch)
}

// One per batch writer, for the writer's life: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Unpartitioned(Box<FileWriter>),
    Partitioned {
        writer: Fanout<FileWriterBuilder>,
        splitter: PartitionSplitter,
    },
}

/// What a table with lineage columns (`lineage = true`, see
/// [`sluice_core::schema::LINEAGE_COLUMNS`]) records of where each row came from; the line
/// is each row's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    /// The object's key.
    pub key: String,
    /// Its S3 version id, or its etag where the bucket keeps no versions.
    pub version: String,
    /// The batch the rows are committed in.
    pub batch_id: String,
    /// When the rows were validated: microseconds since the epoch, UTC.
    pub ingested_at_micros: i64,
}

/// Writes one batch's rows as staged data files of one table.
pub struct BatchWriter {
    batch_id: BatchId,
    schema: SchemaRef,
    spec: PartitionSpecRef,
    arrow_schema: ArrowSchemaRef,
    /// What rows are decoded to: the table's columns, without the lineage columns when the
    /// writer fills those itself (so a row's own field of such a name is ignored).
    decode_schema: ArrowSchemaRef,
    lineage: Option<Lineage>,
    /// Reused from batch to batch: its tape keeps its capacity, so a chunk of rows does not
    /// allocate (and fault in) fresh buffers. Rebuilt after an error, which leaves it midway.
    decoder: arrow_json::reader::Decoder,
    inner: Inner,
    rows: u64,
}

/// Rows per Parquet row group, at most. Every open data file holds a row group in progress,
/// with its encoded pages and a dictionary per column, so the row group, not the file, sets
/// the writer's memory. (The zstd contexts, once one per column of every open row group, 67
/// of 159 MB at the peak of the 1M-row orders benchmark with seven days open, are shared
/// since vendor/parquet pools them: that peak is now about 119 MB.) At 128 Ki rows a 343 MB file ended before its row groups
/// filled and a 2 GB one did not (255 against 300 MB peak RSS); at 64 Ki both reach the
/// same steady state (about 190 and 200 MB). DuckDB writes 122,880 rows per group.
const MAX_ROW_GROUP_ROWS: usize = 64 * 1024;
/// Encoded bytes per Parquet row group, at most.
const MAX_ROW_GROUP_BYTES: usize = 16 << 20;

/// Bytes of one column's dictionary page, at most (the library's default is 1 MiB).
const MAX_DICTIONARY_BYTES: usize = 128 << 10;

/// The Parquet properties of every data file sluice writes (a batch's, a compaction's): zstd
/// level 3, and row groups and dictionaries bounded so a writer's memory does not grow with
/// its file.
pub(crate) fn writer_properties() -> Result<WriterProperties> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| LakeError::internal(format!("zstd level: {e}")))?,
        ))
        // A row group is buffered in memory until it is full, once per open partition:
        // bounded by rows and by encoded bytes, it bounds the writer's memory whatever
        // the file's size (the library's defaults, a million rows and no byte limit,
        // keep a large file's partitions in memory almost whole).
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(MAX_ROW_GROUP_BYTES))
        // A column's dictionary is kept (with its hash table) per open partition until
        // its row group closes; a column of mostly distinct values fills it to the limit
        // before falling back to plain encoding. A smaller limit still catches the
        // low-cardinality columns (statuses, enums) that dictionaries are for.
        .set_dictionary_page_size_limit(MAX_DICTIONARY_BYTES)
        .build())
}

/// Rows per record batch the decoder produces; larger inputs become several batches.
const DECODE_BATCH_ROWS: usize = 8192;

fn json_decoder(
    schema: &ArrowSchemaRef,
) -> std::result::Result<arrow_json::reader::Decoder, String> {
    arrow_json::ReaderBuilder::new(schema.clone())
        .with_batch_size(DECODE_BATCH_ROWS)
        .build_decoder()
        .map_err(|e| e.to_string())
}

/// Rows as JSON text, one object per row, in the order they were read: what the validating
/// side hands the writer. Each row is kept as its own line, so a row that does not convert can
/// be told from its neighbours.
#[derive(Debug, Clone, Default)]
pub struct JsonRows {
    /// The rows, each followed by `\n`.
    text: Vec<u8>,
    /// Where each row's text ends in `text` (before its `\n`).
    ends: Vec<usize>,
}

impl JsonRows {
    /// Room for `rows` rows of `bytes` bytes of text in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        JsonRows {
            text: Vec::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
        }
    }

    /// Rows from parsed values (serialised once, here).
    pub fn from_values(rows: &[Value]) -> Self {
        let mut out = JsonRows::default();
        for row in rows {
            out.push_value(row);
        }
        out
    }

    /// Rows from their texts, each the text of one JSON object.
    pub fn from_texts<'a>(rows: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut out = JsonRows::default();
        for row in rows {
            out.push_text(row);
        }
        out
    }

    /// Appends one row given as the text of one JSON object: an NDJSON line, or an element
    /// of a JSON array document, whose line breaks are whitespace to the decoder (rows are
    /// told apart by where each ends, not by lines).
    pub fn push_text(&mut self, json: &[u8]) {
        self.text.extend_from_slice(json);
        self.ends.push(self.text.len());
        self.text.push(b'\n');
    }

    /// Appends one row given as a parsed value.
    pub fn push_value(&mut self, row: &Value) {
        // Writing a `Value` into a `Vec` cannot fail: its map keys are strings.
        let _ = serde_json::to_writer(&mut self.text, row);
        self.ends.push(self.text.len());
        self.text.push(b'\n');
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The text of row `index`.
    pub fn row(&self, index: usize) -> &[u8] {
        let start = match index {
            0 => 0,
            i => self.ends[i - 1] + 1,
        };
        &self.text[start..self.ends[index]]
    }

    /// Bytes of text held.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }
}

/// A row the writer could not convert, by its index in the rows given to `write_rows`.
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
        let props = writer_properties()?;
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
            let splitter = PartitionSplitter::new(schema.clone(), spec.clone())?;
            Inner::Partitioned {
                writer: Fanout::new(builder, MemoryBudget::default()),
                splitter,
            }
        };
        let decoder = json_decoder(&arrow_schema).map_err(LakeError::internal)?;
        Ok(BatchWriter {
            batch_id: batch_id.clone(),
            schema,
            spec,
            decode_schema: arrow_schema.clone(),
            arrow_schema,
            lineage: None,
            decoder,
            inner,
            rows: 0,
        })
    }

    /// The same writer, filling the table's lineage columns with `lineage` (and each row's
    /// line, given to [`BatchWriter::write_rows_from`]). The table must have them all.
    pub fn with_lineage(mut self, lineage: Lineage) -> Result<Self> {
        let present = self
            .arrow_schema
            .fields()
            .iter()
            .filter(|f| is_lineage_column(f.name()))
            .count();
        if present != sluice_core::schema::LINEAGE_COLUMNS.len() {
            return Err(LakeError::internal(format!(
                "the table has {present} of the {} lineage columns",
                sluice_core::schema::LINEAGE_COLUMNS.len()
            )));
        }
        let fields: Vec<_> = self
            .arrow_schema
            .fields()
            .iter()
            .filter(|f| !is_lineage_column(f.name()))
            .cloned()
            .collect();
        self.decode_schema = Arc::new(ArrowSchema::new_with_metadata(
            fields,
            self.arrow_schema.metadata().clone(),
        ));
        self.decoder = json_decoder(&self.decode_schema).map_err(LakeError::internal)?;
        self.lineage = Some(lineage);
        Ok(self)
    }

    /// The same writer, holding at most `budget` for a partitioned table's open files and
    /// waiting rows (see [`crate::fanout`]); the default is [`MemoryBudget::default`]'s.
    pub fn with_memory(mut self, budget: MemoryBudget) -> Self {
        if let Inner::Partitioned { writer, .. } = &mut self.inner {
            writer.set_budget(budget);
        }
        self
    }

    /// The Arrow schema rows are converted to (with Iceberg field ids in field metadata).
    pub fn arrow_schema(&self) -> &ArrowSchemaRef {
        &self.arrow_schema
    }

    /// The schema rows are decoded to before the lineage columns are added: the table's
    /// without them. A batch given to [`BatchWriter::write_decoded`] has it.
    pub fn decode_schema(&self) -> &ArrowSchemaRef {
        &self.decode_schema
    }

    /// Writes rows already decoded (by a [`crate::decode::RowDecoder`] for this
    /// [`BatchWriter::decode_schema`]), with each row's line for `_source_line`.
    pub async fn write_decoded(&mut self, batch: RecordBatch, lines: &[u64]) -> Result<()> {
        let lines = (lines.len() == batch.num_rows()).then_some(lines);
        let batch = self.add_lineage(batch, lines)?;
        self.write_batch(batch).await
    }

    /// Converts and writes rows. Rows Arrow cannot convert are skipped and returned with the
    /// reason, so one bad value never loses its neighbours.
    pub async fn write_rows(&mut self, rows: &JsonRows) -> Result<Vec<ConversionFailure>> {
        self.write_rows_from(rows, &[]).await
    }

    /// [`BatchWriter::write_rows`], with each row's line in the object (one per row, for the
    /// `_source_line` lineage column; empty: unknown, null).
    pub async fn write_rows_from(
        &mut self,
        rows: &JsonRows,
        lines: &[u64],
    ) -> Result<Vec<ConversionFailure>> {
        if rows.is_empty() {
            return Ok(vec![]);
        }
        let (batches, failures) = match self.convert(&rows.text, rows.len()) {
            Ok(batches) => (batches, vec![]),
            Err(_) => self.convert_row_by_row(rows)?,
        };
        // The lines of the rows that converted, in order: the batches hold those.
        let failed: std::collections::HashSet<usize> = failures.iter().map(|f| f.index).collect();
        let lines: Vec<u64> = lines
            .iter()
            .enumerate()
            .filter(|(i, _)| !failed.contains(i))
            .map(|(_, line)| *line)
            .collect();
        let mut at = 0;
        for batch in batches {
            let n = batch.num_rows();
            let batch = self.add_lineage(batch, lines.get(at..at + n))?;
            at += n;
            self.write_batch(batch).await?;
        }
        Ok(failures)
    }

    /// `batch` (decoded without the lineage columns) with them, in the table's column order.
    fn add_lineage(&self, batch: RecordBatch, lines: Option<&[u64]>) -> Result<RecordBatch> {
        let Some(lineage) = &self.lineage else {
            return Ok(batch);
        };
        let n = batch.num_rows();
        let text = |value: &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(value, n)))
        };
        let mut columns = Vec::with_capacity(self.arrow_schema.fields().len());
        for field in self.arrow_schema.fields() {
            let column: ArrayRef = match field.name().as_str() {
                "_source_key" => text(&lineage.key),
                "_source_version" => text(&lineage.version),
                "_batch_id" => text(&lineage.batch_id),
                "_ingested_at" => Arc::new(TimestampMicrosecondArray::from(vec![
                    lineage.ingested_at_micros;
                    n
                ])),
                "_source_line" => match lines {
                    Some(lines) => Arc::new(Int64Array::from_iter_values(
                        lines.iter().map(|l| i64::try_from(*l).unwrap_or(i64::MAX)),
                    )),
                    None => new_null_array(field.data_type(), n),
                },
                name => batch.column_by_name(name).cloned().ok_or_else(|| {
                    LakeError::internal(format!("column {name} missing from the decoded rows"))
                })?,
            };
            let column = if column.data_type() == field.data_type() {
                column
            } else {
                arrow_cast::cast(&column, field.data_type()).map_err(|e| {
                    LakeError::internal(format!("lineage column {}: {e}", field.name()))
                })?
            };
            columns.push(column);
        }
        RecordBatch::try_new(self.arrow_schema.clone(), columns)
            .map_err(|e| LakeError::internal(format!("adding the lineage columns: {e}")))
    }

    /// Decodes `rows` rows of newline-separated JSON objects into record batches.
    fn convert(
        &mut self,
        text: &[u8],
        rows: usize,
    ) -> std::result::Result<Vec<RecordBatch>, String> {
        let result = self.decode_all(text, rows);
        if result.is_err() {
            // An error leaves the decoder midway through a row.
            self.decoder = json_decoder(&self.decode_schema)?;
        }
        result
    }

    fn decode_all(
        &mut self,
        text: &[u8],
        rows: usize,
    ) -> std::result::Result<Vec<RecordBatch>, String> {
        let mut batches = Vec::new();
        let mut decoded = 0;
        let mut at = 0;
        loop {
            at += self
                .decoder
                .decode(&text[at..])
                .map_err(|e| e.to_string())?;
            let rest = &text[at..];
            if rest.iter().all(u8::is_ascii_whitespace) {
                break;
            }
            // The decoder stopped at a full batch.
            if let Some(batch) = self.decoder.flush().map_err(|e| e.to_string())? {
                decoded += batch.num_rows();
                batches.push(batch);
            } else {
                return Err("the decoder stopped without a batch".into());
            }
        }
        if let Some(batch) = self.decoder.flush().map_err(|e| e.to_string())? {
            decoded += batch.num_rows();
            batches.push(batch);
        }
        if decoded != rows {
            return Err(format!("{decoded} rows decoded where {rows} were given"));
        }
        Ok(batches)
    }

    fn convert_row_by_row(
        &mut self,
        rows: &JsonRows,
    ) -> Result<(Vec<RecordBatch>, Vec<ConversionFailure>)> {
        let mut good = JsonRows::with_capacity(rows.len(), rows.text_len());
        let mut failures = vec![];
        for index in 0..rows.len() {
            let row = rows.row(index);
            match self.convert(row, 1) {
                Ok(_) => good.push_text(row),
                Err(message) => failures.push(ConversionFailure { index, message }),
            }
        }
        let batches = self.convert(&good.text, good.len()).map_err(|e| {
            LakeError::internal(format!("rows converted one by one failed together: {e}"))
        })?;
        Ok((batches, failures))
    }

    async fn write_batch(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        match &mut self.inner {
            Inner::Unpartitioned(w) => w
                .write(batch)
                .await
                .map_err(|e| LakeError::iceberg("writing a data file", e)),
            Inner::Partitioned { writer, splitter } => {
                let mut parts = splitter.split(&batch)?;
                // File numbers are handed out in the order partitions are first written,
                // and a re-run must reproduce the names: partitions go in the order of
                // their paths, as they did when the splitter's order was a hash map's.
                parts.sort_by_cached_key(|(key, _)| key.to_path());
                for (key, part) in parts {
                    writer.write(key, part).await?;
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
            Inner::Partitioned { writer, .. } => writer.close().await?,
        };
        StagedBatch::from_data_files(self.batch_id, &self.schema, &self.spec, files, self.rows)
    }
}
