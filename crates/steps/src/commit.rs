//! Step 5, commit: make a staged batch visible in the table, exactly once (DESIGN §5.3).
//!
//! The ledger is checked first (committed: done). Then the lake looks for the batch id in the
//! table's snapshot summaries before appending, so a crash between the catalog commit and the
//! ledger update is recognised on the next run and acknowledged, not committed twice. A lost
//! optimistic-concurrency race is `CommitConflict`, which the caller retries.

use sluice_core::ledger::LedgerState;
use sluice_lake::StagedBatch;

use crate::context::{keys, now, Context};
use crate::error::StepError;
use crate::failpoint;
use crate::payload::{CommitInput, CommitOutput};

pub async fn commit(ctx: &Context, input: CommitInput) -> Result<CommitOutput, StepError> {
    let table_cfg = ctx.table(&input.table)?.clone();
    let object = input.object.clone();
    let record = ctx
        .ledger
        .get(&object)
        .await?
        .ok_or_else(|| StepError::internal(format!("{}: no ledger record", object.key)))?;
    let rows = record.record.rows.as_ref().map(|r| r.valid).unwrap_or(0);
    match &record.record.state {
        LedgerState::Committed { snapshot_id } => {
            if record.record.replays > 0 {
                settle_quarantine(ctx, &input).await?;
            }
            return Ok(CommitOutput {
                object,
                table: input.table,
                snapshot_id: *snapshot_id,
                rows,
                already_committed: true,
            });
        }
        LedgerState::Staged { .. } => {}
        other => {
            return Err(StepError::internal(format!(
                "{}: commit called on a {} object",
                object.key,
                other.name()
            )))
        }
    }
    let (bytes, _) = ctx
        .store
        .get_bytes(&input.manifest_key)
        .await?
        .ok_or_else(|| {
            StepError::internal(format!("staged manifest {} is missing", input.manifest_key))
        })?;
    let batch: StagedBatch = serde_json::from_slice(&bytes)
        .map_err(|e| StepError::internal(format!("staged manifest {}: {e}", input.manifest_key)))?;

    let outcome = ctx
        .lake
        .commit_batches(&table_cfg, std::slice::from_ref(&batch))
        .await?;
    failpoint::hit("commit.after_catalog", &object.key)?;
    let already = outcome.already_committed.contains(&batch.batch_id);
    let snapshot_id = match outcome.snapshots.get(&batch.batch_id) {
        Some(id) => *id,
        // A batch with no data files (every row rejected, under the ratio): nothing to append.
        None => ctx
            .lake
            .describe(&table_cfg)
            .await?
            .and_then(|d| d.current_snapshot_id)
            .unwrap_or(0),
    };
    ctx.ledger
        .transition(&record, &now(), |r| {
            r.state = LedgerState::Committed { snapshot_id }
        })
        .await?;
    failpoint::hit("commit.after_ledger", &object.key)?;
    if record.record.replays > 0 {
        settle_quarantine(ctx, &input).await?;
    }
    if already {
        tracing::info!(key = %object.key, snapshot_id, "batch was already committed; ledger caught up");
    }
    Ok(CommitOutput {
        object,
        table: input.table,
        snapshot_id,
        rows: batch.rows,
        already_committed: already,
    })
}

/// A replayed version landed: its quarantine record has been dealt with. Deleting an absent
/// record succeeds, so a re-run converges.
async fn settle_quarantine(ctx: &Context, input: &CommitInput) -> Result<(), StepError> {
    let key = keys::quarantine(Some(&input.table), &input.object.batch_id());
    ctx.store.delete(&key).await?;
    tracing::info!(key = %input.object.key, "replayed version committed; quarantine record removed");
    Ok(())
}
