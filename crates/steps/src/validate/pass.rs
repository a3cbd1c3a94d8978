//! One pass over an object version: read, check every row against the contract, stage the
//! good rows as Parquet with a given table schema and the bad ones as a reject list.
//!
//! A blocking thread reads and validates and hands chunks of rows over a channel to the async
//! side, which writes staged data files with deterministic names. Where the contract compiles
//! to a [`Plan`], the reading thread parses each row once: the plan checks the row while it
//! builds the Arrow columns, and the chunk carries record batches. A row the plan does not
//! accept (it breaks the contract, or it is written in a way only the value-based path can
//! judge) is parsed into a value and checked with the `jsonschema` contract, as every row is
//! where the contract has no plan; such a row travels as its JSON text, and the writer decodes
//! it with arrow-json. Rows keep their order either way.
//! Chunks circulate: the writer hands each emptied chunk back for the reader to fill again,
//! so their buffers are reused and memory is bounded by the number of chunks × chunk size,
//! whatever the file's size. With `Context::threads` at 1 there is one chunk, and the two
//! sides take turns on one core; with more, they work at once, on the next chunks. Each
//! rejected row keeps its line number, the JSON pointer of the offending value, a message and
//! the raw line, so a person can repair and replay it; rejects are written in line order.
//!
//! When asked, the reading thread also collects the members of accepted rows that the table
//! has no column for ([`NewFields`]), for the evolution gate in [`super::evolve`].

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use iceberg::table::Table;
use sluice_core::config::TableConfig;
use sluice_core::contract::Contract;
use sluice_core::evolution::NewFields;
use sluice_core::ledger::RowCounts;
use sluice_core::quarantine::RejectedRow;
use sluice_core::reader::{Next, RowItem};
use sluice_core::{ObjectVersion, QuarantineReason};
use sluice_lake::commit::StagedBatch;
use sluice_lake::decode::RowDecoder;
use sluice_lake::fanout::MemoryBudget;
use sluice_lake::schema::from_iceberg_schema;
use sluice_lake::writer::{BatchWriter, JsonRows, Lineage};
use tokio::sync::mpsc;

use crate::context::{Context, Progress};
use crate::error::{truncate, StepError, StepErrorKind};
use crate::source::{on_reader_thread, open_rows, Opened};

/// Chunks in circulation between the reading thread and the writer when both may run at once.
const CHUNKS_IN_FLIGHT: usize = 4;
/// Raw lines kept in a reject record, in bytes.
const MAX_RAW: usize = 4096;

/// What the reading thread sends: valid rows in parts, in line order, and rejects.
struct Chunk {
    parts: Vec<Part>,
    /// Rows that took the value-based path, as JSON text; [`Part::Json`] ranges index them.
    json: JsonRows,
    /// The line number of each row in `json`.
    json_lines: Vec<u64>,
    /// Valid rows in all parts.
    rows: usize,
    rejects: Vec<RejectedRow>,
    read_bytes: u64,
}

/// A run of consecutive valid rows.
enum Part {
    /// Decoded by the plan, with each row's line.
    Decoded { batch: RecordBatch, lines: Vec<u64> },
    /// Rows `start..end` of the chunk's JSON text.
    Json { start: usize, end: usize },
}

impl Chunk {
    fn new(rows: usize) -> Self {
        Chunk {
            parts: vec![],
            json_lines: Vec::with_capacity(rows),
            // A row of a few hundred bytes is usual; the buffer grows if not.
            json: JsonRows::with_capacity(rows, rows * 512),
            rows: 0,
            rejects: vec![],
            read_bytes: 0,
        }
    }

    /// Empties the chunk for reuse, keeping its buffers.
    fn clear(&mut self) {
        self.parts.clear();
        self.json_lines.clear();
        self.json.clear();
        self.rows = 0;
        self.rejects.clear();
        self.read_bytes = 0;
    }

    /// Appends a row that took the value-based path, after the rows decoded so far.
    fn push_json(&mut self, line: u64, text: Option<&[u8]>, value: &serde_json::Value) {
        let at = self.json.len();
        match self.parts.last_mut() {
            Some(Part::Json { end, .. }) if *end == at => *end += 1,
            _ => self.parts.push(Part::Json {
                start: at,
                end: at + 1,
            }),
        }
        self.json_lines.push(line);
        match text {
            Some(text) => self.json.push_text(text),
            None => self.json.push_value(value),
        }
        self.rows += 1;
    }

    /// Moves the rows `decoder` holds (read at `lines`) into a part.
    fn take_decoded(
        &mut self,
        decoder: &mut RowDecoder,
        lines: &mut Vec<u64>,
    ) -> Result<(), StepError> {
        if let Some(batch) = decoder
            .flush()
            .map_err(|e| StepError::internal(format!("building the decoded columns: {e}")))?
        {
            self.parts.push(Part::Decoded {
                batch,
                lines: std::mem::take(lines),
            });
        }
        Ok(())
    }
}

/// How the reading ended.
pub(super) enum ReadEnd {
    Done,
    /// The object now has other bytes than the claimed version (etag given).
    Superseded(String),
    /// The claimed version was removed before it was read.
    Removed,
}

/// What one pass produced.
pub(super) struct Pass {
    pub end: ReadEnd,
    pub counts: RowCounts,
    /// The staged data files (not yet referenced by anything).
    pub staged: StagedBatch,
    /// The rejected rows, one JSON record a line, in line order; written and flushed.
    pub rejects: tempfile::NamedTempFile,
    /// The new members of accepted rows, when the pass was asked to collect them.
    pub new_fields: Option<NewFields>,
}

fn transient(what: &str, e: impl std::fmt::Display) -> StepError {
    StepError::new(StepErrorKind::TransientError, format!("{what}: {e}"))
}

/// Reads `object` once and stages its valid rows into `table` with the table's current
/// schema. `collect_new` asks the reading thread to gather new members of accepted rows.
pub(super) async fn read_and_stage(
    ctx: &Context,
    object: &ObjectVersion,
    table_cfg: &TableConfig,
    contract: Arc<Contract>,
    table: &Table,
    lineage: Option<&Lineage>,
    collect_new: bool,
) -> Result<Pass, StepError> {
    let batch_id = object.batch_id();
    let schema = from_iceberg_schema(table.metadata().current_schema())?;
    let mut writer = BatchWriter::new(table, &batch_id, None)
        .await?
        .with_memory(MemoryBudget::of(ctx.config.limits.max_writer_memory.bytes()));
    if let Some(lineage) = lineage {
        writer = writer.with_lineage(lineage.clone())?;
    }
    // Parse once where the contract compiles to a plan for the columns rows are decoded to.
    let plan = ctx.plan(&table_cfg.name, writer.decode_schema());

    // The reading thread. It fills a chunk taken from `pool` (`None`: allocate one) and sends
    // it; the writer sends it back once written. With one chunk the two sides alternate.
    let chunks = if ctx.threads <= 1 {
        1
    } else {
        CHUNKS_IN_FLIGHT
    };
    let (tx, mut rx) = mpsc::channel::<Chunk>(chunks);
    let (pool_tx, pool_rx) = std::sync::mpsc::channel::<Option<Chunk>>();
    for _ in 0..chunks {
        // The receiver is alive: it is dropped only with the reading thread, not yet started.
        let _ = pool_tx.send(None);
    }
    let read_bytes = Arc::new(AtomicU64::new(0));
    let reader_task = {
        let (store, object, limits, cfg) = (
            ctx.store.clone(),
            object.clone(),
            ctx.config.limits.clone(),
            table_cfg.clone(),
        );
        let (read_bytes, chunk_rows) = (read_bytes.clone(), ctx.rows_per_batch);
        let mut new_fields =
            collect_new.then(|| NewFields::new(ctx.config.limits.max_new_columns_per_file));
        let handle = tokio::runtime::Handle::current();
        on_reader_thread(
            "reading",
            move || -> Result<(ReadEnd, Option<NewFields>), StepError> {
                let mut reader = match open_rows(
                    &handle,
                    &store,
                    &object,
                    &cfg,
                    &schema,
                    &limits,
                    read_bytes.clone(),
                )? {
                    Opened::Rows(r) => r,
                    Opened::Superseded { current_etag } => {
                        return Ok((ReadEnd::Superseded(current_etag), None))
                    }
                    Opened::Removed => return Ok((ReadEnd::Removed, None)),
                };
                // Every sender gone means the writer stopped.
                let next_chunk = || match pool_rx.recv() {
                    Ok(Some(chunk)) => Ok(chunk),
                    Ok(None) => Ok(Chunk::new(chunk_rows)),
                    Err(_) => Err(StepError::internal("the writer stopped early")),
                };
                let mut chunk = next_chunk()?;
                let mut decoder = plan.map(|plan| {
                    let mut decoder = RowDecoder::new(plan);
                    decoder.new_members_slow = new_fields.is_some();
                    decoder
                });
                // The line of each row the decoder holds.
                let mut decoded_lines: Vec<u64> = vec![];
                loop {
                    let next = reader.next_text().map_err(|e| {
                        StepError::bad_input(e.reason(), format!("{}: {e}", object.key))
                    })?;
                    let item = match next {
                        None => break,
                        Some(Next::Item(item)) => Some(item),
                        Some(Next::Text { line }) => {
                            let decoded = match (decoder.as_mut(), reader.row_text()) {
                                (Some(decoder), Some(text)) => decoder.push(text),
                                _ => false,
                            };
                            if decoded {
                                decoded_lines.push(line);
                                chunk.rows += 1;
                                None
                            } else {
                                Some(reader.parse(line))
                            }
                        }
                    };
                    match item {
                        None => {}
                        Some(RowItem::Row { line, value }) => {
                            let violations = contract.validate(&value);
                            if violations.is_empty() {
                                if let Some(new) = new_fields.as_mut() {
                                    new.observe(&schema, &value);
                                }
                                // After the rows decoded before it, to keep line order.
                                if let Some(decoder) = decoder.as_mut() {
                                    chunk.take_decoded(decoder, &mut decoded_lines)?;
                                }
                                chunk.push_json(line, reader.row_text(), &value);
                            } else {
                                let first = &violations[0];
                                let message = violations
                                    .iter()
                                    .map(|v| v.message.as_str())
                                    .collect::<Vec<_>>()
                                    .join("; ");
                                chunk.rejects.push(RejectedRow {
                                    line,
                                    reason: QuarantineReason::ContractViolation,
                                    pointer: first.pointer.clone(),
                                    message: truncate(&message, 1024),
                                    raw: match reader.row_text() {
                                        Some(text) => {
                                            truncate(&String::from_utf8_lossy(text), MAX_RAW)
                                        }
                                        None => truncate(&value.to_string(), MAX_RAW),
                                    },
                                });
                            }
                        }
                        Some(RowItem::Bad {
                            line, message, raw, ..
                        }) => chunk.rejects.push(RejectedRow {
                            line,
                            reason: QuarantineReason::ParseError,
                            pointer: String::new(),
                            message,
                            raw: truncate(&raw, MAX_RAW),
                        }),
                    }
                    let full = chunk.rows + chunk.rejects.len() >= chunk_rows;
                    if let Some(decoder) = decoder.as_mut() {
                        if full || decoder.wants_flush() {
                            chunk.take_decoded(decoder, &mut decoded_lines)?;
                        }
                    }
                    if full {
                        chunk.read_bytes = read_bytes.load(Ordering::Relaxed);
                        if tx.blocking_send(chunk).is_err() {
                            return Err(StepError::internal("the writer stopped early"));
                        }
                        chunk = next_chunk()?;
                    }
                }
                if let Some(decoder) = decoder.as_mut() {
                    chunk.take_decoded(decoder, &mut decoded_lines)?;
                }
                chunk.read_bytes = read_bytes.load(Ordering::Relaxed);
                let _ = tx.blocking_send(chunk);
                Ok((ReadEnd::Done, new_fields))
            },
        )
    };

    // The writing side.
    ctx.report(object, Progress::Started { size: object.size });
    let mut counts = RowCounts::default();
    // Rejects go to a temp file, not memory: a file can be all rejects.
    let rejects_tmp =
        tempfile::NamedTempFile::new().map_err(|e| transient("temp file for rejects", e))?;
    let mut rejects_file = rejects_tmp
        .reopen()
        .map(std::io::BufWriter::new)
        .map_err(|e| transient("temp file for rejects", e))?;
    let mut write_error = None;
    while let Some(mut chunk) = rx.recv().await {
        ctx.report(
            object,
            Progress::Read {
                bytes: chunk.read_bytes,
            },
        );
        let mut rejects = std::mem::take(&mut chunk.rejects);
        let parts = std::mem::take(&mut chunk.parts);
        for part in parts {
            if write_error.is_some() {
                break;
            }
            match part {
                Part::Decoded { batch, lines } => {
                    let n = batch.num_rows() as u64;
                    match writer.write_decoded(batch, &lines).await {
                        Ok(()) => counts.valid += n,
                        Err(e) => write_error = Some(e),
                    }
                }
                Part::Json { start, end } => {
                    let whole = start == 0 && end == chunk.json.len();
                    let some;
                    let rows = if whole {
                        &chunk.json
                    } else {
                        some = JsonRows::from_texts((start..end).map(|i| chunk.json.row(i)));
                        &some
                    };
                    let lines = &chunk.json_lines[start..end];
                    match writer.write_rows_from(rows, lines).await {
                        Ok(failures) => {
                            for f in &failures {
                                let raw = String::from_utf8_lossy(rows.row(f.index));
                                rejects.push(RejectedRow {
                                    line: lines[f.index],
                                    reason: QuarantineReason::ContractViolation,
                                    pointer: String::new(),
                                    message: truncate(
                                        &format!(
                                            "value does not fit the table's column types: {}",
                                            f.message
                                        ),
                                        1024,
                                    ),
                                    raw: truncate(&raw, MAX_RAW),
                                });
                            }
                            counts.valid += (rows.len() - failures.len()) as u64;
                        }
                        Err(e) => write_error = Some(e),
                    }
                }
            }
        }
        if write_error.is_none() && chunk.rows > 0 {
            crate::failpoint::hit("validate.mid_write", &object.key)?;
        }
        chunk.clear();
        // The reader may be done and gone: then the chunk is simply dropped.
        let _ = pool_tx.send(Some(chunk));
        counts.rejected += rejects.len() as u64;
        // A chunk's rows come in line order; the writer's conversion failures were added
        // after the reader's rejects, so the chunk's rejects are put back in line order.
        rejects.sort_by_key(|r| r.line);
        for r in &rejects {
            let line = serde_json::to_string(r).map_err(|e| StepError::internal(e.to_string()))?;
            writeln!(rejects_file, "{line}").map_err(|e| transient("writing rejects", e))?;
        }
    }
    let (end, new_fields) = reader_task.await?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    rejects_file
        .flush()
        .map_err(|e| transient("writing rejects", e))?;
    counts.total = counts.valid + counts.rejected;
    ctx.report(object, Progress::Finished);
    let mut staged = writer.finish().await?;
    staged.object = Some(object.clone());
    Ok(Pass {
        end,
        counts,
        staged,
        rejects: rejects_tmp,
        new_fields,
    })
}

/// Removes a pass's staged files, which nothing references: the file is quarantined, or a
/// second pass rewrites it with an evolved schema. A file left behind is only an orphan for
/// `sluice gc`.
pub(super) async fn discard(table: &Table, staged: &StagedBatch) {
    for path in &staged.paths {
        if let Err(e) = table.file_io().delete(path).await {
            tracing::warn!(path, error = %e, "could not remove a staged file that will not be committed");
        }
    }
}
