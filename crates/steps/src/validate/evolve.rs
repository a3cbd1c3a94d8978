//! The evolution gate: what the accepted rows' new members do to the table.
//!
//! Validate collects, from every row the contract accepted (not a head sample, never a
//! rejected row), the members the table has no column for. Once the whole file has been read
//! and accepted (its invalid ratio within `max_invalid_ratio`), [`plan`] classifies them
//! under the table's drift policy and checks the `[limits]`; a blocked change or a refused
//! evolution quarantines the file as `drift_blocked` and leaves the table as it was. Allowed
//! columns are added by [`apply`] and the file is read again with the evolved schema, so the
//! rows that brought them keep their values (a second pass only for a file that evolves its
//! table; every other file is read once).
//!
//! The evolution is its own catalog commit, ahead of the rows' append: iceberg-rust 0.10
//! assigns the new field ids only when it commits a schema change, and the Parquet files must
//! carry those ids. A crash between the two leaves an added nullable column and no rows,
//! which the redriven execution then fills.

use iceberg::table::Table;
use sluice_core::config::TableConfig;
use sluice_core::drift::{classify, decide_approved, ColumnAddition, DriftChange, DriftDecision};
use sluice_core::evolution::{check, precheck, NewFields};
use sluice_core::schema::TableSchema;

use crate::context::Context;
use crate::drift::{drift_blocked, drift_blocked_by};
use crate::error::{StepError, StepErrorKind};

/// Schema changes attempted when other writers keep winning the race.
const EVOLVE_ATTEMPTS: usize = 5;

/// The columns to add for `new`, or the `drift_blocked` error that quarantines the file;
/// `approved`, the changes a person let through (`sluice drift approve`).
pub(super) fn plan(
    ctx: &Context,
    table_cfg: &TableConfig,
    schema: &TableSchema,
    new: &NewFields,
    key: &str,
    approved: &[DriftChange],
) -> Result<Vec<ColumnAddition>, StepError> {
    let limits = &ctx.config.limits;
    if new.overflowed() {
        return Err(drift_blocked(
            key,
            &format!(
                "schema evolution refused: accepted rows bring more than \
                 limits.max_new_columns_per_file = {} new fields",
                limits.max_new_columns_per_file
            ),
        ));
    }
    if new.is_empty() {
        return Ok(vec![]);
    }
    let inferred = new.inferred();
    let changes = classify(schema, &inferred);
    precheck(&changes, limits).map_err(|d| drift_blocked(key, &d))?;
    match decide_approved(&changes, &inferred, &table_cfg.drift, approved) {
        DriftDecision::NoChange => Ok(vec![]),
        DriftDecision::Evolve { additions } => {
            check(&additions, schema, limits).map_err(|d| drift_blocked(key, &d))?;
            Ok(additions)
        }
        DriftDecision::Quarantine { detail, blocking } => {
            Err(drift_blocked_by(key, &detail, blocking))
        }
    }
}

/// Adds the columns and returns the table as evolved. A lost race with another writer's
/// change is tried again: `add_columns` skips columns that exist by then.
pub(super) async fn apply(
    ctx: &Context,
    table_cfg: &TableConfig,
    additions: &[ColumnAddition],
    key: &str,
) -> Result<Table, StepError> {
    let before = ctx
        .lake
        .load(table_cfg)
        .await?
        .map(|t| t.metadata().current_schema_id());
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ctx.lake.add_columns(table_cfg, additions).await {
            Ok(table) => {
                let columns: Vec<String> = additions.iter().map(ColumnAddition::path).collect();
                tracing::info!(table = %table_cfg.name, key, columns = ?columns, "table schema evolved");
                let metadata = table.metadata();
                let after = metadata.current_schema_id();
                // A racing writer that added them first tells of its own change.
                if let Some(before) = before.filter(|b| *b != after) {
                    crate::events::emit(
                        ctx.store.as_ref(),
                        &crate::events::schema_evolved(
                            &table_cfg.name,
                            &metadata.uuid().to_string(),
                            before,
                            after,
                            &columns,
                            key,
                            crate::context::now(),
                        ),
                    )
                    .await?;
                }
                return Ok(table);
            }
            Err(e) => {
                let e = StepError::from(e);
                if e.kind != StepErrorKind::CommitConflict || attempt >= EVOLVE_ATTEMPTS {
                    return Err(e);
                }
            }
        }
    }
}
