//! Step 2, detect_drift: compare the file's schema with the table's and apply the policy.
//!
//! The table is created from the contract on first use. A bounded sample (the first
//! `drift.sample_rows` rows) is read and its schema inferred; each difference is classified
//! (DESIGN §6) and the table's policy decides: evolve (add nullable columns, now, before any
//! row is written) or block (`DriftBlocked`, the file goes to quarantine).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sluice_core::drift::{classify, decide, infer_schema, DriftDecision};
use sluice_core::reader::RowItem;
use sluice_core::QuarantineReason;
use sluice_lake::schema::from_iceberg_schema;

use sluice_core::ledger::LedgerState;

use crate::context::{now, Context};
use crate::error::{StepError, StepErrorKind};
use crate::payload::{DriftOutput, ObjectTask};
use crate::source::{on_reader_thread, open_rows, Opened};

/// Most changes listed in a payload; the rest are counted in the detail.
const MAX_LISTED_CHANGES: usize = 20;

pub async fn detect_drift(ctx: &Context, task: ObjectTask) -> Result<DriftOutput, StepError> {
    let table_cfg = ctx.table(&task.table)?.clone();
    if task.status.as_deref() == Some("replay") {
        reopen(ctx, &task).await?;
    }
    let contract = ctx.contract(&task.table)?;
    let table = ctx
        .lake
        .load_or_create(&table_cfg, &contract.table_schema)
        .await?;
    let current = from_iceberg_schema(table.metadata().current_schema())?;

    let sample_rows = table_cfg.drift.sample_rows;
    let (store, object, limits) = (
        ctx.store.clone(),
        task.object.clone(),
        ctx.config.limits.clone(),
    );
    let (cfg, schema) = (table_cfg.clone(), current.clone());
    let handle = tokio::runtime::Handle::current();
    let slot = ctx.flow.reading_slot().await;
    let sample = on_reader_thread(
        "drift sampling",
        move || -> Result<Vec<serde_json::Value>, StepError> {
            let mut reader = match open_rows(
                &handle,
                &store,
                &object,
                &cfg,
                &schema,
                &limits,
                Arc::new(AtomicU64::new(0)),
            )? {
                Opened::Rows(r) => r,
                // validate notices too and records it; nothing to infer here.
                Opened::Superseded { .. } => return Ok(vec![]),
            };
            let mut rows = Vec::new();
            while rows.len() < sample_rows {
                match reader.next_row() {
                    Ok(Some(RowItem::Row { value, .. })) => rows.push(value),
                    Ok(Some(RowItem::Bad { .. })) => {} // validate counts and reports bad lines
                    Ok(None) => break,
                    Err(e) => {
                        return Err(StepError::bad_input(
                            e.reason(),
                            format!("{}: {e}", object.key),
                        ))
                    }
                }
            }
            Ok(rows)
        },
    )
    .await?;
    drop(slot);

    let inferred = infer_schema(&sample);
    let changes = classify(&current, &inferred);
    let mut listed = changes.clone();
    listed.truncate(MAX_LISTED_CHANGES);
    match decide(&changes, &inferred, &table_cfg.drift) {
        DriftDecision::NoChange => Ok(DriftOutput {
            object: task.object,
            table: task.table,
            changes: listed,
            evolved: false,
            schema_id: table.metadata().current_schema().schema_id(),
        }),
        DriftDecision::Evolve { additions } => {
            let evolved = ctx.lake.add_columns(&table_cfg, &additions).await?;
            tracing::info!(table = %task.table, key = %task.object.key, columns = additions.len(), "table schema evolved");
            Ok(DriftOutput {
                object: task.object,
                table: task.table,
                changes: listed,
                evolved: true,
                schema_id: evolved.metadata().current_schema().schema_id(),
            })
        }
        DriftDecision::Quarantine { detail } => Err(StepError {
            kind: StepErrorKind::DriftBlocked,
            reason: Some(QuarantineReason::DriftBlocked),
            message: format!("{}: {detail}", task.object.key),
        }),
    }
}

/// A replay reopens the quarantined ledger record (quarantined → claimed, counting the
/// replay) so validate and commit run as for a first arrival. Re-running it is harmless: a
/// record already claimed stays so; any other state means the replay is stale.
async fn reopen(ctx: &Context, task: &ObjectTask) -> Result<(), StepError> {
    let current = ctx.ledger.get(&task.object).await?.ok_or_else(|| {
        StepError::internal(format!(
            "{}: replay of a version the ledger does not know",
            task.object.key
        ))
    })?;
    match &current.record.state {
        LedgerState::Claimed => Ok(()),
        LedgerState::Quarantined { .. } => {
            ctx.ledger
                .transition(&current, &now(), |r| {
                    r.state = LedgerState::Claimed;
                    r.lease = None;
                    r.replays += 1;
                    r.detail = Some(format!("replay {} of a quarantined version", r.replays));
                })
                .await?;
            tracing::info!(key = %task.object.key, "quarantined version reopened for a replay");
            Ok(())
        }
        other => Err(StepError::internal(format!(
            "{}: replay of a version that is {}, not quarantined",
            task.object.key,
            other.name()
        ))),
    }
}
