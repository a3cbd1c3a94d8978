//! A Parquet object read as rows: its record batches written out as JSON lines, so that
//! everything after the reader (the drift sample, the contract, the compiled decoder, the
//! rejected rows with their line numbers, which are row numbers here) is the NDJSON path,
//! judged the same way. A Parquet file is recognised by its content (`PAR1`, then binary
//! bytes), whatever its key's extension or its table's `format`.
//!
//! Parquet needs its footer before any row, so the object is first copied to a temporary
//! file (bounded by `limits.max_object_bytes`), then read one batch at a time: memory is a
//! batch, not the file. The JSON it becomes is bounded like a decompressed stream
//! (`limits.max_expansion_ratio` times the file's size), so a file of tiny, highly
//! repetitive pages cannot expand without end. Columns of a type JSON cannot carry (binary,
//! intervals, durations, maps with non-string keys, ...) refuse the file at once, naming the
//! column and its type; every other mismatch with the table (a string column where the table
//! has `long`) is drift, named by DetectDrift like any file's.

use std::io::{self, Read};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use sluice_core::QuarantineReason;

use crate::error::StepError;

/// Rows per record batch: one batch's JSON is what is held at a time.
const BATCH_ROWS: usize = 4096;

/// A Parquet file's rows as JSON lines.
pub(crate) struct ParquetLines {
    batches: ParquetRecordBatchReader,
    /// The file's columns.
    schema: arrow_schema::SchemaRef,
    /// The current batch's JSON lines, and how far they have been read.
    buf: Vec<u8>,
    at: usize,
    /// JSON bytes made so far, and the most allowed.
    made: u64,
    max_made: u64,
}

/// Opens `file` (the object `key`, copied) as JSON lines; `max_made` bounds the JSON bytes.
pub(crate) fn open(
    file: std::fs::File,
    key: &str,
    max_made: u64,
) -> Result<ParquetLines, StepError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        StepError::bad_input(
            QuarantineReason::UnsupportedFormat,
            format!(
                "{key}: it starts like Parquet (`PAR1`) but is not a readable Parquet file: {e}"
            ),
        )
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| unreadable(&e))?;
    if let Some((path, ty)) = unsupported_column(builder.schema().fields()) {
        return Err(StepError::bad_input(
            QuarantineReason::UnsupportedFormat,
            format!(
                "{key}: Parquet column `{path}` is {ty}, which no table column can take \
                 (sluice reads Parquet's boolean, integer, floating-point, decimal, string, \
                 date, timestamp, list and struct columns)"
            ),
        ));
    }
    let schema = builder.schema().clone();
    let batches = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| unreadable(&e))?;
    Ok(ParquetLines {
        batches,
        schema,
        buf: Vec::new(),
        at: 0,
        made: 0,
        max_made,
    })
}

/// The first column (dotted path, type) whose values JSON cannot carry faithfully.
fn unsupported_column(fields: &[Arc<Field>]) -> Option<(String, String)> {
    fn walk(field: &Field, prefix: &str) -> Option<(String, String)> {
        let path = if prefix.is_empty() {
            field.name().clone()
        } else {
            format!("{prefix}.{}", field.name())
        };
        match field.data_type() {
            DataType::Null
            | DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(..) => None,
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
                walk(item, &path)
            }
            DataType::Struct(members) => members.iter().find_map(|m| walk(m, &path)),
            DataType::Dictionary(_, value) => {
                walk(&Field::new(field.name(), (**value).clone(), true), prefix)
            }
            other => Some((path, other.to_string())),
        }
    }
    fields.iter().find_map(|f| walk(f, ""))
}

impl ParquetLines {
    /// The file's columns, as Arrow reads them.
    pub(crate) fn schema(&self) -> arrow_schema::SchemaRef {
        self.schema.clone()
    }

    /// Writes the next batch's rows into `buf`; `false` at the end.
    fn next_batch(&mut self) -> io::Result<bool> {
        let Some(batch) = self.batches.next() else {
            return Ok(false);
        };
        let batch: RecordBatch = batch
            .map_err(|e| e.to_string())
            .and_then(|b| in_utc_offsets(&b))
            .map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("reading Parquet: {e}"))
            })?;
        self.buf.clear();
        self.at = 0;
        let mut writer = arrow_json::LineDelimitedWriter::new(&mut self.buf);
        writer
            .write(&batch)
            .and_then(|()| writer.finish())
            .map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("reading Parquet: {e}"))
            })?;
        self.made += self.buf.len() as u64;
        if self.made > self.max_made {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooLarge(self.max_made),
            ));
        }
        Ok(true)
    }
}

/// `batch` with every timestamp's time zone written as the offset `+00:00`: a timestamp with
/// a zone is an instant stored in UTC, and the zone only says how to show it; the JSON writer
/// knows offsets, not zone names (`UTC`, `Europe/Paris`), so every instant is shown in UTC.
fn in_utc_offsets(batch: &RecordBatch) -> Result<RecordBatch, String> {
    fn utc(ty: &DataType) -> DataType {
        match ty {
            DataType::Timestamp(unit, Some(_)) => DataType::Timestamp(*unit, Some("+00:00".into())),
            DataType::List(item) => DataType::List(Arc::new(utc_field(item))),
            DataType::LargeList(item) => DataType::LargeList(Arc::new(utc_field(item))),
            DataType::FixedSizeList(item, n) => {
                DataType::FixedSizeList(Arc::new(utc_field(item)), *n)
            }
            DataType::Struct(members) => {
                DataType::Struct(members.iter().map(|m| utc_field(m)).collect())
            }
            other => other.clone(),
        }
    }
    fn utc_field(f: &Field) -> Field {
        f.clone().with_data_type(utc(f.data_type()))
    }
    let schema = batch.schema();
    if schema
        .fields()
        .iter()
        .all(|f| &utc(f.data_type()) == f.data_type())
    {
        return Ok(batch.clone());
    }
    let fields: Vec<Field> = schema.fields().iter().map(|f| utc_field(f)).collect();
    let columns = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(column.clone())
            } else {
                arrow_cast::cast(column, field.data_type()).map_err(|e| e.to_string())
            }
        })
        .collect::<Result<Vec<_>, String>>()?;
    RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), columns)
        .map_err(|e| e.to_string())
}

/// The JSON a Parquet file became passed its bound.
#[derive(Debug)]
pub(crate) struct TooLarge(pub u64);

impl std::fmt::Display for TooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the Parquet file's rows come to more than {} bytes as JSON \
             (limits.max_expansion_ratio times its size)",
            self.0
        )
    }
}

impl std::error::Error for TooLarge {}

impl Read for ParquetLines {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.buf.len() {
            if !self.next_batch()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
