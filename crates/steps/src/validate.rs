//! Step 3, validate: stream the file, check every row against the contract, stage the good
//! rows as Parquet and the bad ones as a reject list.
//!
//! A blocking thread reads and validates (parse once, validate the parsed value) and hands
//! chunks of rows, as their JSON text, over a channel to the async side, which decodes them
//! to Arrow with the table's current schema and writes staged data files with deterministic
//! names. Chunks circulate: the writer hands each emptied chunk back for the reader to fill
//! again, so their buffers are reused and memory is bounded by the number of chunks × chunk
//! size, whatever the file's size. With `Context::threads` at 1 there is one chunk, and the
//! two sides take turns on one core; with more, they work at once, on the next chunks. Each rejected row
//! keeps its line number, the JSON pointer of the offending value, a message and the raw line,
//! so a person can repair and replay it. If more rows are rejected than `max_invalid_ratio`
//! allows, the staged files are removed and the output says so; the Choice that follows sends
//! the file to quarantine.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sluice_core::ledger::{LedgerState, RowCounts};
use sluice_core::quarantine::RejectedRow;
use sluice_core::reader::RowItem;
use sluice_core::QuarantineReason;
use sluice_lake::schema::from_iceberg_schema;
use sluice_lake::writer::{BatchWriter, JsonRows};
use tokio::sync::mpsc;

use crate::context::{keys, now, Context, Progress};
use crate::error::{truncate, StepError, StepErrorKind};
use crate::payload::{ObjectTask, ValidateOutput, ValidateStatus};
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

enum ReadEnd {
    Done,
    Superseded(String),
}

pub async fn validate(ctx: &Context, task: ObjectTask) -> Result<ValidateOutput, StepError> {
    let table_cfg = ctx.table(&task.table)?.clone();
    let contract = ctx.contract(&task.table)?;
    let object = task.object.clone();
    let batch_id = object.batch_id();

    let record = ctx.ledger.get(&object).await?.ok_or_else(|| {
        StepError::internal(format!(
            "{}: no ledger record; filter must run first",
            object.key
        ))
    })?;
    match &record.record.state {
        LedgerState::Claimed => {}
        LedgerState::Staged { manifest_key } => {
            // Validated before (a retry after the ledger update): the staged batch stands.
            ctx.flow.staged(&task.table, &batch_id, 0);
            let rows = record.record.rows.clone().unwrap_or_default();
            return Ok(ValidateOutput {
                status: ValidateStatus::Staged,
                invalid_ratio: ratio(&rows),
                rows,
                object: task.object,
                table: task.table,
                manifest_key: Some(manifest_key.clone()),
                rejects_key: record.record.rejects_key.clone(),
                detail: None,
                ledger_state: None,
            });
        }
        // Committed, filtered or quarantined.
        done => {
            // Another execution of this version (a duplicate delivery) finished it while
            // this one was stopped: a redrive of this one has nothing left to do.
            return Ok(ValidateOutput {
                status: ValidateStatus::Duplicate,
                rows: record.record.rows.clone().unwrap_or_default(),
                invalid_ratio: 0.0,
                object: task.object,
                table: task.table,
                manifest_key: None,
                rejects_key: record.record.rejects_key.clone(),
                detail: Some(format!(
                    "{} is already {}: another execution finished it",
                    object.key,
                    done.name()
                )),
                ledger_state: Some(done.name().to_string()),
            });
        }
    }

    // Held until the batch is staged (or not): arrivals waiting for their commit hold none.
    let _slot = ctx.flow.reading_slot().await;
    let table = ctx
        .lake
        .load_or_create(&table_cfg, &contract.table_schema)
        .await?;
    let schema = from_iceberg_schema(table.metadata().current_schema())?;
    let mut writer = BatchWriter::new(&table, &batch_id, None).await?;

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
        let (contract, read_bytes, chunk_rows) =
            (contract.clone(), read_bytes.clone(), ctx.rows_per_batch);
        let handle = tokio::runtime::Handle::current();
        on_reader_thread("reading", move || -> Result<ReadEnd, StepError> {
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
                    return Ok(ReadEnd::Superseded(current_etag))
                }
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
                                    Some(text) => truncate(&String::from_utf8_lossy(text), MAX_RAW),
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
            Ok(ReadEnd::Done)
        })
    };

    // The writing side.
    ctx.report(&object, Progress::Started { size: object.size });
    let mut counts = RowCounts::default();
    // Rejects go to a temp file, not memory: a file can be all rejects.
    let rejects_tmp = tempfile::NamedTempFile::new().map_err(|e| {
        StepError::new(
            StepErrorKind::TransientError,
            format!("temp file for rejects: {e}"),
        )
    })?;
    let mut rejects_file = rejects_tmp
        .reopen()
        .map(std::io::BufWriter::new)
        .map_err(|e| {
            StepError::new(
                StepErrorKind::TransientError,
                format!("temp file for rejects: {e}"),
            )
        })?;
    let mut write_error = None;
    while let Some(mut chunk) = rx.recv().await {
        ctx.report(
            &object,
            Progress::Read {
                bytes: chunk.read_bytes,
            },
        );
        let mut rejects = std::mem::take(&mut chunk.rejects);
        if !chunk.rows.is_empty() && write_error.is_none() {
            match writer.write_rows(&chunk.rows).await {
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
        for r in &rejects {
            let line = serde_json::to_string(r).map_err(|e| StepError::internal(e.to_string()))?;
            writeln!(rejects_file, "{line}").map_err(|e| {
                StepError::new(
                    StepErrorKind::TransientError,
                    format!("writing rejects: {e}"),
                )
            })?;
        }
    }
    let end = reader_task.await?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    counts.total = counts.valid + counts.rejected;
    ctx.report(&object, Progress::Finished);

    if let ReadEnd::Superseded(current) = end {
        let detail = format!("{} was overwritten (now etag {current}) before it was read; the new version is its own arrival", object.key);
        return filtered(ctx, &record, task, counts, "superseded", detail).await;
    }
    if counts.total == 0 {
        let detail = format!("{} holds no rows", object.key);
        return filtered(ctx, &record, task, counts, "empty", detail).await;
    }

    let rejects_key = if counts.rejected > 0 {
        let key = keys::rejects(&table_cfg, &batch_id);
        rejects_file.flush().map_err(|e| {
            StepError::new(
                StepErrorKind::TransientError,
                format!("writing rejects: {e}"),
            )
        })?;
        ctx.store.put_file(&key, rejects_tmp.path()).await?;
        Some(key)
    } else {
        None
    };

    let invalid_ratio = ratio(&counts);
    let mut staged = writer.finish().await?;
    staged.object = Some(object.clone());
    if invalid_ratio > table_cfg.max_invalid_ratio {
        // Nothing of this file may land; its staged files are not referenced by anything.
        for path in &staged.paths {
            if let Err(e) = table.file_io().delete(path).await {
                tracing::warn!(path, error = %e, "could not remove a staged file of a quarantined batch");
            }
        }
        let detail = format!(
            "{} of {} rows rejected ({:.1}%), over max_invalid_ratio {}; see {}",
            counts.rejected,
            counts.total,
            invalid_ratio * 100.0,
            table_cfg.max_invalid_ratio,
            rejects_key.as_deref().unwrap_or("-"),
        );
        return Ok(ValidateOutput {
            status: ValidateStatus::TooManyInvalidRows,
            object: task.object,
            table: task.table,
            rows: counts,
            invalid_ratio,
            manifest_key: None,
            rejects_key,
            detail: Some(detail),
            ledger_state: None,
        });
    }

    let manifest_key = keys::manifest(&table_cfg, &batch_id);
    let manifest = serde_json::to_vec(&staged).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&manifest_key, manifest.into()).await?;
    crate::failpoint::hit("validate.after_manifest", &object.key)?;
    ctx.ledger
        .transition(&record, &now(), |r| {
            r.state = LedgerState::Staged {
                manifest_key: manifest_key.clone(),
            };
            r.table = Some(table_cfg.name.clone());
            r.rows = Some(counts.clone());
            r.rejects_key = rejects_key.clone();
        })
        .await?;
    ctx.flow.staged(&table_cfg.name, &batch_id, staged.bytes);
    crate::failpoint::hit("validate.after_staged", &object.key)?;
    tracing::info!(key = %object.key, valid = counts.valid, rejected = counts.rejected, files = staged.paths.len(), "rows staged");
    Ok(ValidateOutput {
        status: ValidateStatus::Staged,
        object: task.object,
        table: task.table,
        rows: counts,
        invalid_ratio,
        manifest_key: Some(manifest_key),
        rejects_key,
        detail: None,
        ledger_state: None,
    })
}

fn ratio(c: &RowCounts) -> f64 {
    if c.total == 0 {
        0.0
    } else {
        c.rejected as f64 / c.total as f64
    }
}

async fn filtered(
    ctx: &Context,
    record: &sluice_store::VersionedRecord,
    task: ObjectTask,
    counts: RowCounts,
    reason: &str,
    detail: String,
) -> Result<ValidateOutput, StepError> {
    ctx.ledger
        .transition(record, &now(), |r| {
            r.state = LedgerState::Filtered {
                reason: reason.to_string(),
            };
            r.table = Some(task.table.clone());
            r.detail = Some(detail.clone());
        })
        .await?;
    Ok(ValidateOutput {
        status: ValidateStatus::Filtered,
        object: task.object,
        table: task.table,
        rows: counts,
        invalid_ratio: 0.0,
        manifest_key: None,
        rejects_key: None,
        detail: Some(detail),
        ledger_state: None,
    })
}
