//! One pass over an object version: read, check every row against the contract, stage the
//! good rows as Parquet with a given table schema and the bad ones as a reject list.
//!
//! A blocking thread reads and validates ([`super::rows`]) and hands chunks of rows over a
//! channel to the async side, which writes staged data files with deterministic names and
//! the rejects ([`super::rejects`]), then hands each emptied chunk back. With
//! `Context::threads` at 1 there is one chunk, and the two sides take turns on one core; with
//! more, they work at once, on the next chunks.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use iceberg::table::Table;
use sluice_core::config::TableConfig;
use sluice_core::contract::Contract;
use sluice_core::evolution::NewFields;
use sluice_core::ledger::RowCounts;
use sluice_core::ObjectVersion;
use sluice_lake::commit::StagedBatch;
use sluice_lake::fanout::MemoryBudget;
use sluice_lake::schema::from_iceberg_schema;
use sluice_lake::writer::{BatchWriter, JsonRows, Lineage};
use tokio::sync::mpsc;

use super::rejects::{self, RejectsFile};
use super::rows::{self, Chunk, Part, Reading};
use crate::context::{Context, Progress};
use crate::error::StepError;
use crate::source::on_reader_thread;

/// Chunks in circulation between the reading thread and the writer when both may run at once.
const CHUNKS_IN_FLIGHT: usize = 4;

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

/// Reads `object` once and stages its valid rows into `table` with the table's current
/// schema. `collect_new` asks the reading thread to gather new members of accepted rows.
///
/// A Parquet object whose columns are exactly the table's is added as it is
/// ([`sluice_lake::as_is`]): its rows are read and judged as any file's, but not written;
/// when every row passes, the file itself is staged. When some row does not, it is read a
/// second time and rewritten, so the rejected rows stay out.
pub(super) async fn read_and_stage(
    ctx: &Context,
    object: &ObjectVersion,
    table_cfg: &TableConfig,
    contract: Arc<Contract>,
    table: &Table,
    lineage: Option<&Lineage>,
    collect_new: bool,
) -> Result<Pass, StepError> {
    let first = one_pass(
        ctx,
        object,
        table_cfg,
        contract.clone(),
        table,
        lineage,
        collect_new,
        true,
    )
    .await?;
    let Some(copy) = first.as_is else {
        return Ok(first.pass);
    };
    let pass = first.pass;
    let fits = matches!(pass.end, ReadEnd::Done)
        && pass.counts.rejected == 0
        && pass.counts.total > 0
        && pass.new_fields.as_ref().is_none_or(|n| n.is_empty());
    if !fits {
        tracing::info!(key = %object.key, rejected = pass.counts.rejected, "Parquet file rewritten: some rows are not loaded");
        return one_pass(
            ctx,
            object,
            table_cfg,
            contract,
            table,
            lineage,
            collect_new,
            false,
        )
        .await
        .map(|again| again.pass);
    }
    let table = ctx.lake.ensure_name_mapping(table_cfg).await?;
    let mut staged = sluice_lake::as_is::stage(&table, &object.batch_id(), &copy.path).await?;
    staged.object = Some(object.clone());
    if staged.rows != pass.counts.valid {
        discard(&table, &staged).await;
        return Err(StepError::internal(format!(
            "{}: its footer counts {} rows, {} were read",
            object.key, staged.rows, pass.counts.valid
        )));
    }
    tracing::info!(key = %object.key, rows = staged.rows, "Parquet file added as it is");
    Ok(Pass { staged, ..pass })
}

/// One read, and whether the reading thread chose to add the object as it is (then nothing
/// was written: the pass's staged batch is empty).
struct OnePass {
    pass: Pass,
    as_is: Option<crate::source::ParquetCopy>,
}

#[allow(clippy::too_many_arguments)]
async fn one_pass(
    ctx: &Context,
    object: &ObjectVersion,
    table_cfg: &TableConfig,
    contract: Arc<Contract>,
    table: &Table,
    lineage: Option<&Lineage>,
    collect_new: bool,
    may_add_as_is: bool,
) -> Result<OnePass, StepError> {
    let batch_id = object.batch_id();
    let as_is = Arc::new(AtomicBool::new(false));
    let schema = from_iceberg_schema(table.metadata().current_schema())?;
    let mut writer = BatchWriter::new(table, &batch_id, None)
        .await?
        .with_memory(MemoryBudget::of(
            ctx.config.limits.max_writer_memory.bytes(),
        ));
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
    let reading = Reading {
        store: ctx.store.clone(),
        object: object.clone(),
        table: table_cfg.clone(),
        schema,
        limits: ctx.config.limits.clone(),
        contract,
        plan,
        chunk_rows: ctx.rows_per_batch,
        read_bytes: Arc::new(AtomicU64::new(0)),
        new_fields: collect_new.then(|| NewFields::new(ctx.config.limits.max_new_columns_per_file)),
        as_is: may_add_as_is.then(|| (table.clone(), as_is.clone())),
    };
    let handle = tokio::runtime::Handle::current();
    let reader_task =
        on_reader_thread("reading", move || rows::read(reading, &handle, tx, pool_rx));

    // The writing side.
    ctx.report(object, Progress::Started { size: object.size });
    let mut counts = RowCounts::default();
    let mut rejects_file = RejectsFile::new()?;
    let mut write_error = None;
    while let Some(mut chunk) = rx.recv().await {
        ctx.report(
            object,
            Progress::Read {
                bytes: chunk.read_bytes,
            },
        );
        let mut found = std::mem::take(&mut chunk.rejects);
        let parts = std::mem::take(&mut chunk.parts);
        if as_is.load(Ordering::SeqCst) {
            // Judged, not written: the file itself is staged if every row passes.
            counts.valid += chunk.rows as u64;
        }
        for part in parts.into_iter().filter(|_| !as_is.load(Ordering::SeqCst)) {
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
                                found.push(rejects::does_not_fit(
                                    lines[f.index],
                                    &f.message,
                                    rows.row(f.index),
                                ));
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
        rejects_file.write(&mut found)?;
    }
    let read = reader_task.await?;
    let (end, new_fields) = (read.end, read.new_fields);
    if let Some(e) = write_error {
        return Err(e.into());
    }
    counts.rejected = rejects_file.written();
    counts.total = counts.valid + counts.rejected;
    ctx.report(object, Progress::Finished);
    let mut staged = writer.finish().await?;
    staged.object = Some(object.clone());
    if read.as_is.is_some() && !staged.paths.is_empty() {
        discard(table, &staged).await;
    }
    Ok(OnePass {
        pass: Pass {
            end,
            counts,
            staged,
            rejects: rejects_file.finish()?,
            new_fields,
        },
        as_is: read.as_is,
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
