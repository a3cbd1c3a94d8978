//! Sorted compaction with bounded memory: each input sorted on its own, then a streaming
//! k-way merge.
//!
//! An input of at most [`SORT_IN_MEMORY_MAX_BYTES`] on disk is read whole, sorted in memory
//! by the sort columns (arrow-row's `RowConverter` turns them into byte strings that compare
//! as the rows do; ties keep file order) and spilled to a local temporary Parquet file. A
//! larger input is not re-sorted: it joins the merge as it is, streamed from the table (a
//! compaction's own sorted output is sorted already; another file leaves its output sorted
//! only piecewise), and the report names it. The merge keeps one small record batch per
//! input in memory ([`MERGE_BUFFER_ROWS`] rows shared among them) and a heap of their current
//! rows, and emits rows [`OUTPUT_BATCH_ROWS`] at a time. More than [`MERGE_FAN_IN`] inputs are
//! merged in passes, each pass spilling merged runs, so open files stay bounded too.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_row::{OwnedRow, RowConverter, Rows, SortField};
use arrow_schema::SchemaRef as ArrowSchemaRef;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use parquet::arrow::{AsyncArrowWriter, ParquetRecordBatchStreamBuilder};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::output::OutputFiles;
use crate::error::{LakeError, Result};

/// Inputs larger than this (bytes on disk) are merged as they are, not re-sorted in memory.
pub const SORT_IN_MEMORY_MAX_BYTES: u64 = 32 << 20;
/// Rows held across all inputs of a merge at once (each input gets its share, 16 at least).
const MERGE_BUFFER_ROWS: usize = 256 * 1024;
/// Rows per record batch the merge emits.
const OUTPUT_BATCH_ROWS: usize = 8192;
/// Inputs merged at once; more are merged in passes.
const MERGE_FAN_IN: usize = 256;

#[cfg(test)]
thread_local! {
    /// A smaller fan-in for one test's thread, so a few inputs take several passes.
    pub(crate) static TEST_FAN_IN: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn fan_in() -> usize {
    #[cfg(test)]
    if let Some(n) = TEST_FAN_IN.with(|f| f.get()) {
        return n;
    }
    MERGE_FAN_IN
}

/// A stream of rows (table columns, then the lineage column) sorted by the sort columns.
pub(crate) type SortedRun = BoxStream<'static, Result<RecordBatch>>;

/// Where merged rows go: the group's output files, or a spill file of a merge pass.
enum Sink<'a> {
    Output(&'a mut OutputFiles),
    Spill(Box<AsyncArrowWriter<tokio::fs::File>>),
}

impl Sink<'_> {
    async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            Sink::Output(out) => out.write(batch).await,
            Sink::Spill(w) => w
                .write(&batch)
                .await
                .map_err(|e| LakeError::internal(format!("writing a sort spill: {e}"))),
        }
    }
}

/// Sorting and merging for one compaction group.
pub(crate) struct Sorter {
    /// Indices of the sort columns in the rows' schema.
    columns: Vec<usize>,
    converter: RowConverter,
    schema: ArrowSchemaRef,
    spill_dir: tempfile::TempDir,
    spills: usize,
}

impl Sorter {
    /// A sorter on `columns` (top-level column names of `schema`).
    pub fn new(schema: &ArrowSchemaRef, columns: &[String]) -> Result<Self> {
        let mut indices = vec![];
        let mut fields = vec![];
        for name in columns {
            let (i, field) = schema.column_with_name(name).ok_or_else(|| {
                LakeError::internal(format!("sort column {name} is not a column of the table"))
            })?;
            indices.push(i);
            fields.push(SortField::new(field.data_type().clone()));
        }
        let converter = RowConverter::new(fields)
            .map_err(|e| LakeError::internal(format!("sorting by {}: {e}", columns.join(", "))))?;
        let spill_dir = tempfile::Builder::new()
            .prefix("sluice-compact-")
            .tempdir()
            .map_err(|e| LakeError::internal(format!("creating a sort spill directory: {e}")))?;
        Ok(Sorter {
            columns: indices,
            converter,
            schema: schema.clone(),
            spill_dir,
            spills: 0,
        })
    }

    fn rows(&self, batch: &RecordBatch) -> Result<Rows> {
        let columns: Vec<_> = self
            .columns
            .iter()
            .map(|i| batch.column(*i).clone())
            .collect();
        self.converter
            .convert_columns(&columns)
            .map_err(|e| LakeError::internal(format!("comparing sort keys: {e}")))
    }

    /// Sorts a whole (small) input in memory and spills it; returns the spill's path.
    pub async fn sort_and_spill(&mut self, input: SortedRun) -> Result<PathBuf> {
        let batches: Vec<RecordBatch> = input.try_collect().await?;
        let all = arrow_select::concat::concat_batches(&self.schema, &batches)
            .map_err(|e| LakeError::internal(format!("gathering an input to sort: {e}")))?;
        drop(batches);
        let rows = self.rows(&all)?;
        let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
        // Stable: rows with equal keys keep their order in the file.
        order.sort_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
        let sorted =
            arrow_select::take::take_record_batch(&all, &arrow_array::UInt32Array::from(order))
                .map_err(|e| LakeError::internal(format!("sorting an input: {e}")))?;
        let (path, mut writer) = self.new_spill().await?;
        writer
            .write(&sorted)
            .await
            .map_err(|e| LakeError::internal(format!("writing a sort spill: {e}")))?;
        writer
            .close()
            .await
            .map_err(|e| LakeError::internal(format!("closing a sort spill: {e}")))?;
        Ok(path)
    }

    async fn new_spill(&mut self) -> Result<(PathBuf, AsyncArrowWriter<tokio::fs::File>)> {
        let path = self
            .spill_dir
            .path()
            .join(format!("{:06}.parquet", self.spills));
        self.spills += 1;
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| LakeError::internal(format!("creating {}: {e}", path.display())))?;
        // Spills are read once, soon, from local disk: fast zstd, small row groups.
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(Default::default()))
            .set_max_row_group_row_count(Some(OUTPUT_BATCH_ROWS * 4))
            .build();
        let writer = AsyncArrowWriter::try_new(file, self.schema.clone(), Some(props))
            .map_err(|e| LakeError::internal(format!("opening a sort spill: {e}")))?;
        Ok((path, writer))
    }

    /// Rows per batch for each of `inputs` inputs merged at once.
    pub fn batch_rows(inputs: usize) -> usize {
        (MERGE_BUFFER_ROWS / inputs.max(1)).clamp(16, OUTPUT_BATCH_ROWS)
    }

    /// Reads a spill back, `batch_rows` rows at a time.
    pub async fn open_spill(&self, path: &Path, batch_rows: usize) -> Result<SortedRun> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| LakeError::internal(format!("opening {}: {e}", path.display())))?;
        let stream = ParquetRecordBatchStreamBuilder::new(file)
            .await
            .map_err(|e| LakeError::internal(format!("reading a sort spill: {e}")))?
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| LakeError::internal(format!("reading a sort spill: {e}")))?;
        let schema = self.schema.clone();
        Ok(stream
            .map(move |b| {
                let b = b.map_err(|e| LakeError::internal(format!("reading a sort spill: {e}")))?;
                RecordBatch::try_new(schema.clone(), b.columns().to_vec())
                    .map_err(|e| LakeError::internal(format!("reading a sort spill: {e}")))
            })
            .boxed())
    }

    /// Merges sorted runs into `out`: in one pass when there are few, else first into
    /// fewer, longer runs (spills), [`MERGE_FAN_IN`] at a time. `open` opens run `i` with a
    /// batch size (so each run is opened only when its pass comes).
    pub async fn merge_into(
        &mut self,
        mut runs: Vec<RunSource>,
        out: &mut OutputFiles,
    ) -> Result<()> {
        let fan_in = fan_in();
        while runs.len() > fan_in {
            let mut next = vec![];
            let mut rest = runs.into_iter().peekable();
            while rest.peek().is_some() {
                let chunk: Vec<RunSource> = rest.by_ref().take(fan_in).collect();
                let streams = self.open_runs(chunk).await?;
                let (path, writer) = self.new_spill().await?;
                let mut sink = Sink::Spill(Box::new(writer));
                self.merge(streams, &mut sink).await?;
                let Sink::Spill(writer) = sink else {
                    unreachable!("a spill sink")
                };
                (*writer)
                    .close()
                    .await
                    .map_err(|e| LakeError::internal(format!("closing a sort spill: {e}")))?;
                next.push(RunSource::Spill(path));
            }
            runs = next;
        }
        let streams = self.open_runs(runs).await?;
        self.merge(streams, &mut Sink::Output(out)).await
    }

    async fn open_runs(&self, runs: Vec<RunSource>) -> Result<Vec<SortedRun>> {
        let batch_rows = Self::batch_rows(runs.len());
        let mut streams = vec![];
        for run in runs {
            streams.push(match run {
                RunSource::Spill(path) => self.open_spill(&path, batch_rows).await?,
                RunSource::Stream(open) => open(batch_rows)?,
            });
        }
        Ok(streams)
    }

    async fn merge(&self, runs: Vec<SortedRun>, sink: &mut Sink<'_>) -> Result<()> {
        let mut cursors: Vec<Cursor> = vec![];
        let mut slots: Vec<RecordBatch> = vec![];
        let mut heap = BinaryHeap::new();
        for stream in runs {
            let mut cursor = Cursor {
                stream,
                rows: None,
                pos: 0,
                slot: 0,
            };
            if cursor.next_batch(self, &mut slots).await? {
                heap.push(Reverse((cursor.current(), cursors.len())));
            }
            cursors.push(cursor);
        }
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(OUTPUT_BATCH_ROWS);
        while let Some(Reverse((_, c))) = heap.pop() {
            let cursor = &mut cursors[c];
            picks.push((cursor.slot, cursor.pos));
            cursor.pos += 1;
            let more = cursor.pos < cursor.len() || cursor.next_batch(self, &mut slots).await?;
            if more {
                heap.push(Reverse((cursor.current(), c)));
            }
            if picks.len() == OUTPUT_BATCH_ROWS {
                flush(&mut slots, &mut picks, &mut cursors, sink).await?;
            }
        }
        flush(&mut slots, &mut picks, &mut cursors, sink).await
    }
}

/// A sorted run not yet opened: a spill file, or a stream to open with a batch size.
pub(crate) enum RunSource {
    Spill(PathBuf),
    Stream(Box<dyn FnOnce(usize) -> Result<SortedRun> + Send>),
}

/// One run's place in the merge.
struct Cursor {
    stream: SortedRun,
    /// The sort keys of the current batch (`slots[slot]`).
    rows: Option<Rows>,
    pos: usize,
    slot: usize,
}

impl Cursor {
    fn len(&self) -> usize {
        self.rows.as_ref().map_or(0, |r| r.num_rows())
    }

    fn current(&self) -> OwnedRow {
        self.rows
            .as_ref()
            .map(|r| r.row(self.pos).owned())
            .expect("a cursor in the heap has a batch")
    }

    /// Loads the next non-empty batch into a new slot; false at the end of the run.
    async fn next_batch(&mut self, sorter: &Sorter, slots: &mut Vec<RecordBatch>) -> Result<bool> {
        while let Some(batch) = self.stream.next().await.transpose()? {
            if batch.num_rows() == 0 {
                continue;
            }
            self.rows = Some(sorter.rows(&batch)?);
            self.pos = 0;
            self.slot = slots.len();
            slots.push(batch);
            return Ok(true);
        }
        self.rows = None;
        Ok(false)
    }
}

/// Emits the picked rows as one batch, then keeps only the batches cursors still read.
async fn flush(
    slots: &mut Vec<RecordBatch>,
    picks: &mut Vec<(usize, usize)>,
    cursors: &mut [Cursor],
    sink: &mut Sink<'_>,
) -> Result<()> {
    if !picks.is_empty() {
        let refs: Vec<&RecordBatch> = slots.iter().collect();
        let batch = arrow_select::interleave::interleave_record_batch(&refs, picks)
            .map_err(|e| LakeError::internal(format!("merging sorted inputs: {e}")))?;
        picks.clear();
        sink.write(batch).await?;
    }
    let mut kept = vec![];
    for cursor in cursors.iter_mut().filter(|c| c.rows.is_some()) {
        kept.push(slots[cursor.slot].clone());
        cursor.slot = kept.len() - 1;
    }
    *slots = kept;
    Ok(())
}
