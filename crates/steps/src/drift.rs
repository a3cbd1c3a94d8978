//! Step 2, detect_drift: compare the file's schema with the table's and apply the policy,
//! early and without changing anything.
//!
//! The table is created from the contract on first use. A bounded sample (the first
//! `drift.sample_rows` rows) is read and its schema inferred; each difference is classified
//! (DESIGN §6) and the table's policy decides. A new field counts only from rows the
//! contract accepts, so a rejected row never shapes the table. A changed type of an existing
//! column counts from the accepted rows, and from the rejected ones only when they are more
//! of the sample than the table's `max_invalid_ratio`: a source that changed a column's type
//! is named as drift, while a few bad values are rejected rows wherever in the file they
//! stand, in the sample or after it. A blocked change, or an evolution the `[limits]` refuse,
//! stops the file here (`DriftBlocked`, the file goes to quarantine) before any row is
//! written. An allowed evolution is only *planned*: validate adds the columns once the whole
//! file has been read and accepted, from every accepted row, not from this sample (see
//! `validate::evolve`). So a file that ends in quarantine never changes the table.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use sluice_core::drift::{
    classify, decide_approved, infer_schema, ColumnAddition, DriftChange, DriftDecision,
    InferredSchema,
};
use sluice_core::reader::RowItem;
use sluice_core::schema::TableSchema;
use sluice_core::QuarantineReason;
use sluice_lake::schema::from_iceberg_schema;

use sluice_core::ledger::LedgerState;

use crate::context::{now, Context};
use crate::error::{StepError, StepErrorKind};
use crate::payload::{DriftOutput, ObjectTask, Origin};
use crate::source::{on_reader_thread, open_rows, Opened};

/// Most changes listed in a payload; the rest are counted in the detail.
const MAX_LISTED_CHANGES: usize = 20;

pub async fn detect_drift(ctx: &Context, task: ObjectTask) -> Result<DriftOutput, StepError> {
    let table_cfg = ctx.table(&task.table)?.clone();
    if task.status == Some(Origin::Replay) {
        reopen(ctx, &task).await?;
    }
    let contract = ctx.contract(&task.table)?;
    let table = ctx
        .lake
        .load_or_create(&table_cfg, &contract.table_schema)
        .await?;
    let current = from_iceberg_schema(table.metadata().current_schema())?;
    ctx.check_contract_fits(&table_cfg, &current)?;
    ctx.contract_version(&table_cfg).await?;

    let sample_rows = table_cfg.drift.sample_rows;
    let (store, object, limits, sample_contract) = (
        ctx.store.clone(),
        task.object.clone(),
        ctx.config.limits.clone(),
        contract.clone(),
    );
    let (cfg, schema) = (table_cfg.clone(), current.clone());
    let handle = tokio::runtime::Handle::current();
    let slot = ctx.flow.reading_slot().await;
    let sample = on_reader_thread("drift sampling", move || -> Result<Sample, StepError> {
        let mut reader = match open_rows(
            &handle,
            &store,
            &object,
            &cfg,
            &schema,
            &limits,
            Arc::new(AtomicU64::new(0)),
        )? {
            Opened::Rows(r, _) => r,
            // validate notices too and records it; nothing to infer here.
            Opened::Superseded { .. } | Opened::Removed => return Ok(Sample::default()),
        };
        let mut sample = Sample::default();
        while sample.rows.len() < sample_rows {
            match reader.next_row() {
                Ok(Some(RowItem::Row { value, .. })) => {
                    sample
                        .accepted
                        .push(sample_contract.validate(&value).is_empty());
                    sample.rows.push(value);
                }
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
        Ok(sample)
    })
    .await?;
    drop(slot);

    // A stream object's records are independent messages: its rejected ones say nothing of
    // the others' types (and one wholly bad is quarantined by validate, with its rejects).
    let systematic_above = if crate::stream::is_stream_object(&table_cfg, &task.object.key) {
        1.0
    } else {
        table_cfg.max_invalid_ratio
    };
    let (inferred, mut changes) = sample.changes(&current, systematic_above);
    if table_cfg.lineage {
        // sluice writes the lineage columns; a row's own fields of those names are ignored.
        changes.retain(|c| !sluice_core::schema::is_lineage_column(&c.path));
    }
    let mut listed = changes.clone();
    listed.truncate(MAX_LISTED_CHANGES);
    // Counted before each addition is resolved in the file's schema: a row of thousands of
    // new fields is refused at once, not after resolving each of them.
    sluice_core::evolution::precheck(&changes, &ctx.config.limits)
        .map_err(|detail| drift_blocked(&task.object.key, &detail))?;
    let approved = crate::drift_decisions::load(ctx.store.as_ref(), &table_cfg)
        .await?
        .approved();
    let planned = match decide_approved(&changes, &inferred, &table_cfg.drift, &approved) {
        DriftDecision::NoChange => vec![],
        DriftDecision::Evolve { additions } => {
            sluice_core::evolution::check(&additions, &current, &ctx.config.limits)
                .map_err(|detail| drift_blocked(&task.object.key, &detail))?;
            additions.iter().map(ColumnAddition::path).collect()
        }
        DriftDecision::Quarantine { detail, blocking } => {
            return Err(drift_blocked_by(&task.object.key, &detail, blocking))
        }
    };
    Ok(DriftOutput {
        object: task.object,
        table: task.table,
        changes: listed,
        planned,
        schema_id: table.metadata().current_schema().schema_id(),
    })
}

/// The head of the file, each row with whether the contract accepts it.
#[derive(Default)]
struct Sample {
    rows: Vec<serde_json::Value>,
    accepted: Vec<bool>,
}

impl Sample {
    /// The changes the sample shows, and the schema additions resolve against. A new field
    /// counts only from rows the contract accepts: a rejected row never shapes the table. A
    /// changed type of an existing column counts from the accepted rows, and from every row
    /// when the rejected ones are more than `max_invalid_ratio` of the sample: rows rejected
    /// for it (`quantity` as text in every row) are what says the column's type changed,
    /// and such a file would be quarantined anyway, so blocking it names the cause. Fewer
    /// rejected rows are just that, rejected rows, as they would be after the sample.
    fn changes(
        &self,
        table: &TableSchema,
        max_invalid_ratio: f64,
    ) -> (InferredSchema, Vec<DriftChange>) {
        let rejected = self.accepted.iter().filter(|ok| !**ok).count();
        let systematic = rejected as f64 > max_invalid_ratio * self.rows.len() as f64;
        let accepted_rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .zip(&self.accepted)
            .filter(|(_, ok)| **ok)
            .map(|(row, _)| row.clone())
            .collect();
        let accepted = infer_schema(&accepted_rows);
        let mut changes = classify(table, &accepted);
        if systematic {
            let typed = classify(table, &infer_schema(&self.rows))
                .into_iter()
                .filter(|c| c.table_type.is_some());
            changes = typed
                .chain(changes.into_iter().filter(|c| c.table_type.is_none()))
                .collect();
        }
        (accepted, changes)
    }
}

/// The error that sends a file to quarantine as `drift_blocked`.
pub(crate) fn drift_blocked(key: &str, detail: &str) -> StepError {
    StepError {
        reason: Some(QuarantineReason::DriftBlocked),
        ..StepError::new(StepErrorKind::DriftBlocked, format!("{key}: {detail}"))
    }
}

/// [`drift_blocked`] by policy, naming the changes that blocked the file: its quarantine
/// record keeps them, and `sluice drift` lists the file under them.
pub(crate) fn drift_blocked_by(key: &str, detail: &str, blocking: Vec<DriftChange>) -> StepError {
    StepError {
        drift: blocking,
        ..drift_blocked(key, detail)
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
