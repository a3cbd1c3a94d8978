//! Step 4, quarantine: record that a whole file waits for a person, and why.
//!
//! Writes a [`QuarantineRecord`] (reason code, a sentence to act on, the original object's
//! identity, the reject list if any) under the control prefix and moves the ledger record to
//! `quarantined`. Nothing is deleted or moved: the original object stays where it landed, so
//! a replay reads the very same bytes. Running it twice converges.

use sluice_core::ledger::LedgerState;
use sluice_core::quarantine::QuarantineRecord;
use sluice_store::Claim;

use crate::context::{keys, now, Context};
use crate::error::{truncate, StepError};
use crate::payload::{QuarantineInput, QuarantineOutput};

pub async fn quarantine(
    ctx: &Context,
    input: QuarantineInput,
) -> Result<QuarantineOutput, StepError> {
    let object = input.object.clone();
    let record_key = keys::quarantine(input.table.as_deref(), &object.batch_id());
    let detail = truncate(&input.detail, 2048);
    let record = QuarantineRecord {
        object: object.clone(),
        table: input.table.clone(),
        reason: input.reason,
        detail: detail.clone(),
        rejects_key: input.rejects_key.clone(),
        at: now(),
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&record_key, body.into()).await?;

    let current = match ctx.ledger.claim(&object, &now()).await? {
        Claim::New(r) | Claim::Existing(r) => r,
    };
    match &current.record.state {
        LedgerState::Quarantined { .. } => {}
        state if state.is_terminal() => {
            return Err(StepError::internal(format!(
                "{}: cannot quarantine a {} object",
                object.key,
                state.name()
            )))
        }
        _ => {
            ctx.ledger
                .transition(&current, &now(), |r| {
                    r.state = LedgerState::Quarantined {
                        reason: input.reason,
                    };
                    r.table = input.table.clone().or(r.table.take());
                    r.detail = Some(detail.clone());
                    if input.rejects_key.is_some() {
                        r.rejects_key = input.rejects_key.clone();
                    }
                })
                .await?;
        }
    }
    tracing::info!(key = %object.key, reason = %input.reason, "object quarantined");
    Ok(QuarantineOutput {
        object,
        reason: input.reason,
        record_key,
    })
}
