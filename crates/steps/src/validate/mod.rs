//! Step 3, validate: stream the file, check every row against the contract, stage the good
//! rows as Parquet and the bad ones as a reject list; evolve the table for an accepted file
//! whose rows need it.
//!
//! The happy path reads top to bottom in [`validate`]: the ledger says whether there is work
//! left; one pass ([`pass::read_and_stage`]) reads, validates and stages; a file with more
//! rejected rows than `max_invalid_ratio` allows is not loaded and its staged files are
//! removed (the Choice that follows sends it to quarantine); new fields of the accepted rows
//! go through the evolution gate ([`evolve`]); the reject list and the batch's manifest are
//! written and the ledger record moves to `staged`.
//!
//! # Layout
//! - [`pass`]: one read of the object: the reading thread and the writer, staged files,
//!   counts
//! - [`rows`]: the reading thread: rows parsed once through the contract's plan, or checked
//!   as values, in chunks for the writer; new fields
//! - [`rejects`]: the record each kind of rejected row makes, and the file they go to
//! - [`evolve`]: the drift policy and `[limits]` for the accepted rows' new fields

mod evolve;
mod pass;
mod rejects;
mod rows;

use sluice_core::ledger::{FilteredReason, LedgerState, RowCounts};
use sluice_core::{BatchId, ObjectVersion};
use sluice_lake::schema::from_iceberg_schema;
use sluice_lake::writer::Lineage;

use crate::context::{keys, now, Context};
use crate::error::StepError;
use crate::payload::{ObjectTask, ValidateOutput};
use pass::{discard, read_and_stage, Pass, ReadEnd};

/// Adds `additions` to `table` (a lost race with another writer tried again), for `why` (an
/// object key, a drift change id): the table as evolved.
pub(crate) async fn add_columns(
    ctx: &Context,
    table: &sluice_core::config::TableConfig,
    additions: &[sluice_core::drift::ColumnAddition],
    why: &str,
) -> Result<iceberg::table::Table, StepError> {
    evolve::apply(ctx, table, additions, why).await
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
            return Ok(ValidateOutput::Staged {
                invalid_ratio: ratio(&rows),
                rows,
                object: task.object,
                table: task.table,
                manifest_key: manifest_key.clone(),
                rejects_key: record.record.rejects_key.clone(),
                evolved: vec![],
            });
        }
        // Committed, filtered or quarantined.
        done => {
            // Committed by another execution's group, perhaps by a committer that stopped
            // before writing its event.
            crate::events::emit_committed(ctx.store.as_ref(), &record.record, None).await?;
            // Another execution of this version (a duplicate delivery) finished it while
            // this one was stopped: a redrive of this one has nothing left to do.
            return Ok(ValidateOutput::Duplicate {
                rows: record.record.rows.clone().unwrap_or_default(),
                invalid_ratio: 0.0,
                object: task.object,
                table: task.table,
                rejects_key: record.record.rejects_key.clone(),
                detail: format!(
                    "{} is already {}: another execution finished it",
                    object.key,
                    done.name()
                ),
                ledger_state: done.kind(),
            });
        }
    }

    // Held until the batch is staged (or not): arrivals waiting for their commit hold none.
    let _slot = ctx.flow.reading_slot().await;
    let mut table = ctx
        .lake
        .load_or_create(&table_cfg, &contract.table_schema)
        .await?;
    let lineage = match table_cfg.lineage {
        true => Some(lineage(&object, &batch_id, &record.record.claimed_at)?),
        false => None,
    };
    let mut pass = read_and_stage(
        ctx,
        &object,
        &table_cfg,
        contract.clone(),
        &table,
        lineage.as_ref(),
        true,
    )
    .await?;
    if let Some(out) = not_loaded(ctx, &record, &task, &table, &pass).await? {
        return Ok(out);
    }

    // The accepted rows' new fields: columns to add, or the file is blocked.
    let mut evolved = vec![];
    if let Some(new) = &pass.new_fields {
        let schema = from_iceberg_schema(table.metadata().current_schema())?;
        let approved = crate::drift_decisions::load(ctx.store.as_ref(), &table_cfg)
            .await?
            .approved();
        let additions = match evolve::plan(ctx, &table_cfg, &schema, new, &object.key, &approved) {
            Ok(additions) => additions,
            Err(e) => {
                discard(&table, &pass.staged).await;
                return Err(e);
            }
        };
        if !additions.is_empty() {
            discard(&table, &pass.staged).await;
            table = evolve::apply(ctx, &table_cfg, &additions, &object.key).await?;
            evolved = additions.iter().map(|a| a.path()).collect();
            // Read again with the evolved schema, so the new columns hold their values.
            pass = read_and_stage(
                ctx,
                &object,
                &table_cfg,
                contract,
                &table,
                lineage.as_ref(),
                false,
            )
            .await?;
            if let Some(out) = not_loaded(ctx, &record, &task, &table, &pass).await? {
                return Ok(out);
            }
        }
    }

    let counts = pass.counts.clone();
    let rejects_key = if counts.rejected > 0 {
        let key = keys::rejects(&table_cfg, &batch_id);
        ctx.store.put_file(&key, pass.rejects.path()).await?;
        Some(key)
    } else {
        None
    };
    let manifest_key = keys::manifest(&table_cfg, &batch_id);
    let manifest =
        serde_json::to_vec(&pass.staged).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&manifest_key, manifest.into()).await?;
    crate::failpoint::hit("validate.after_manifest", &object.key)?;
    let contract_version = ctx.judged_under(&table_cfg).await;
    ctx.ledger
        .transition(&record, &now(), |r| {
            r.state = LedgerState::Staged {
                manifest_key: manifest_key.clone(),
            };
            r.table = Some(table_cfg.name.clone());
            r.rows = Some(counts.clone());
            r.rejects_key = rejects_key.clone();
            r.contract_version = contract_version;
        })
        .await?;
    ctx.flow
        .staged(&table_cfg.name, &batch_id, pass.staged.bytes);
    crate::failpoint::hit("validate.after_staged", &object.key)?;
    tracing::info!(key = %object.key, valid = counts.valid, rejected = counts.rejected, files = pass.staged.paths.len(), "rows staged");
    Ok(ValidateOutput::Staged {
        object: task.object,
        table: task.table,
        invalid_ratio: ratio(&counts),
        rows: counts,
        manifest_key,
        rejects_key,
        evolved,
    })
}

/// The output for a pass whose rows are not to be loaded: the object was overwritten
/// meanwhile or removed, holds no rows, or has more rejected rows than the table allows. `None` when
/// the rows may be loaded.
async fn not_loaded(
    ctx: &Context,
    record: &sluice_store::VersionedRecord,
    task: &ObjectTask,
    table: &iceberg::table::Table,
    pass: &Pass,
) -> Result<Option<ValidateOutput>, StepError> {
    let (object, counts) = (&task.object, &pass.counts);
    if let ReadEnd::Superseded(current) = &pass.end {
        let detail = format!("{} was overwritten (now etag {current}) before it was read; the new version is its own arrival", object.key);
        discard(table, &pass.staged).await;
        return filtered(
            ctx,
            record,
            task.clone(),
            counts.clone(),
            FilteredReason::Superseded,
            detail,
        )
        .await
        .map(Some);
    }
    if let ReadEnd::Removed = &pass.end {
        let detail = format!(
            "{} was removed after it was claimed and before it was read; nothing to load",
            object.key
        );
        discard(table, &pass.staged).await;
        return filtered(
            ctx,
            record,
            task.clone(),
            counts.clone(),
            FilteredReason::Removed,
            detail,
        )
        .await
        .map(Some);
    }
    if counts.total == 0 {
        let detail = format!("{} holds no rows", object.key);
        discard(table, &pass.staged).await;
        return filtered(
            ctx,
            record,
            task.clone(),
            counts.clone(),
            FilteredReason::Empty,
            detail,
        )
        .await
        .map(Some);
    }
    let invalid_ratio = ratio(counts);
    let table_cfg = ctx.table(&task.table)?;
    if invalid_ratio <= table_cfg.max_invalid_ratio {
        return Ok(None);
    }
    // A stream object's records are independent messages batched by the receiver: a bad one
    // is rejected alone, and the object waits in quarantine only when nothing in it is good.
    if crate::stream::is_stream_object(table_cfg, &object.key) && counts.rejected < counts.total {
        return Ok(None);
    }
    // Nothing of this file may land, and nothing it brought may change the table.
    discard(table, &pass.staged).await;
    let rejects_key = keys::rejects(table_cfg, &object.batch_id());
    ctx.store
        .put_file(&rejects_key, pass.rejects.path())
        .await?;
    let detail = format!(
        "{} of {} rows rejected ({:.1}%), over max_invalid_ratio {}; `sluice rejects {}` shows them",
        counts.rejected,
        counts.total,
        invalid_ratio * 100.0,
        table_cfg.max_invalid_ratio,
        object.key.escape_debug(),
    );
    Ok(Some(ValidateOutput::TooManyInvalidRows {
        object: task.object.clone(),
        table: task.table.clone(),
        rows: counts.clone(),
        invalid_ratio,
        rejects_key,
        detail,
    }))
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
    reason: FilteredReason,
    detail: String,
) -> Result<ValidateOutput, StepError> {
    ctx.ledger
        .transition(record, &now(), |r| {
            r.state = LedgerState::Filtered {
                reason: reason.clone(),
            };
            r.table = Some(task.table.clone());
            r.detail = Some(detail.clone());
        })
        .await?;
    Ok(ValidateOutput::Filtered {
        object: task.object,
        table: task.table,
        rows: counts,
        invalid_ratio: 0.0,
        detail,
    })
}

/// What the lineage columns of `object`'s rows say. The time is the ledger's claim of the
/// version, not the clock now: a validation run again (a retry, a takeover after the lease)
/// writes the same bytes into the same files.
fn lineage(
    object: &ObjectVersion,
    batch_id: &BatchId,
    claimed_at: &str,
) -> Result<Lineage, StepError> {
    let claimed = chrono::DateTime::parse_from_rfc3339(claimed_at).map_err(|e| {
        StepError::internal(format!(
            "{}: the ledger's claim time {claimed_at:?} is not RFC 3339: {e}",
            object.key
        ))
    })?;
    Ok(Lineage {
        key: object.key.clone(),
        version: object
            .version_id
            .clone()
            .unwrap_or_else(|| object.etag.clone()),
        batch_id: batch_id.to_string(),
        ingested_at_micros: claimed.timestamp_micros(),
    })
}
