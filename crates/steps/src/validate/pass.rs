//! One pass over an object version: read, check every row against the contract, stage the
//! good rows as Parquet with a given table schema and the bad ones as a reject list.
//!
//! A blocking thread reads and validates (parse once, validate the parsed value) and hands
//! chunks of rows, as their JSON text, over a channel to the async side, which decodes them
//! to Arrow with the table's schema and writes staged data files with deterministic names.
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

use iceberg::table::Table;
use sluice_core::config::TableConfig;
use sluice_core::contract::Contract;
use sluice_core::evolution::NewFields;
use sluice_core::ledger::RowCounts;
use sluice_core::quarantine::RejectedRow;
use sluice_core::reader::RowItem;
use sluice_core::{ObjectVersion, QuarantineReason};
use sluice_lake::commit::StagedBatch;
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

/// What the reading thread sends: valid rows as JSON text with their line numbers, and
/// rejects.
struct Chunk {
    /// The line number of each row in `rows`.
    lines: Vec<u64>,
    rows: JsonRows,
    rejects: Vec<RejectedRow>,
    read_bytes: u64,
}

impl Chunk {
    fn new(rows: usize) -> Self {
        Chunk {
            lines: Vec::with_capacity(rows),
            // A row of a few hundred bytes is usual; the buffer grows if not.
            rows: JsonRows::with_capacity(rows, rows * 512),
            rejects: vec![],
            read_bytes: 0,
        }
    }

    /// Empties the chunk for reuse, keeping its buffers.
    fn clear(&mut self) {
        self.lines.clear();
        self.rows.clear();
        self.rejects.clear();
        self.read_bytes = 0;
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
    let mut writer = BatchWriter::new(table, &batch_id, None).await?;
    if let Some(lineage) = lineage {
        writer = writer.with_lineage(lineage.clone())?;
    }

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
                loop {
                    let item = reader.next_row().map_err(|e| {
                        StepError::bad_input(e.reason(), format!("{}: {e}", object.key))
                    })?;
                    match item {
                        None => break,
                        Some(RowItem::Row { line, value }) => {
                            let violations = contract.validate(&value);
                            if violations.is_empty() {
                                if let Some(new) = new_fields.as_mut() {
                                    new.observe(&schema, &value);
                                }
                                chunk.lines.push(line);
                                match reader.row_text() {
                                    Some(text) => chunk.rows.push_text(text),
                                    None => chunk.rows.push_value(&value),
                                }
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
                    if chunk.rows.len() + chunk.rejects.len() >= chunk_rows {
                        chunk.read_bytes = read_bytes.load(Ordering::Relaxed);
                        if tx.blocking_send(chunk).is_err() {
                            return Err(StepError::internal("the writer stopped early"));
                        }
                        chunk = next_chunk()?;
                    }
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
        if !chunk.rows.is_empty() && write_error.is_none() {
            match writer.write_rows_from(&chunk.rows, &chunk.lines).await {
                Ok(failures) => {
                    crate::failpoint::hit("validate.mid_write", &object.key)?;
                    for f in &failures {
                        let raw = String::from_utf8_lossy(chunk.rows.row(f.index));
                        rejects.push(RejectedRow {
                            line: chunk.lines[f.index],
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
                    counts.valid += (chunk.rows.len() - failures.len()) as u64;
                }
                Err(e) => write_error = Some(e),
            }
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
