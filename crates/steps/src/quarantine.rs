//! Step 4, quarantine: record that a whole file waits for a person, and why.
//!
//! Writes a [`QuarantineRecord`] (reason code, a sentence to act on, the original object's
//! identity, the reject list if any) under the control prefix and moves the ledger record to
//! `quarantined`. Nothing is deleted or moved: the original object stays where it landed, so
//! a replay reads the very same bytes. Running it twice converges.

use sluice_core::drift::DriftChange;
use sluice_core::ledger::LedgerState;
use sluice_core::quarantine::QuarantineRecord;
use sluice_store::Claim;

use sluice_core::{ObjectVersion, QuarantineReason};

use crate::context::{keys, now, Context};
use crate::error::{truncate, ErrorCause, StepError, StepErrorKind};
use crate::payload::{CaughtError, QuarantineInput, QuarantineOutput};
use crate::state::{IngestState, StateStatus};

/// The Quarantine state's entry point: works out the reason from the state it ran on and
/// quarantines.
pub async fn quarantine_request(
    ctx: &Context,
    req: IngestState,
) -> Result<QuarantineOutput, StepError> {
    let input = normalize(req)?;
    quarantine(ctx, input).await
}

/// Turns the state the Quarantine state received into a reason, a detail and an object. The
/// state is one of
/// - a Filter output with `status: rejected` and a `reason`;
/// - a Validate output with `status: too_many_invalid_rows`;
/// - any state plus a caught `error` (BadInput, DriftBlocked), whose `Cause` is the step's
///   [`ErrorCause`] JSON (or a Lambda error document carrying it as `errorMessage`); before
///   Filter named the object, the arrival's `bucket`, `key`, `version_id`, `etag` (or an
///   `event_id`) identify it.
pub fn normalize(req: IngestState) -> Result<QuarantineInput, StepError> {
    let (reason, detail, drift) = if let Some(err) = &req.error {
        from_error(err)
    } else {
        match req.status {
            Some(StateStatus::TooManyInvalidRows) => (
                QuarantineReason::TooManyInvalidRows,
                req.detail.clone().unwrap_or_default(),
                vec![],
            ),
            Some(StateStatus::Rejected) => (
                req.reason.unwrap_or(QuarantineReason::Internal),
                req.detail.clone().unwrap_or_default(),
                vec![],
            ),
            other => {
                return Err(StepError::internal(format!(
                "quarantine received neither an error nor a quarantining status (status {other:?})"
            )))
            }
        }
    };
    let object = match (req.object, req.bucket, req.key) {
        (Some(o), _, _) => o,
        // An event that names no object: the event is recorded, under its id.
        (None, bucket, None) if req.event_id.is_some() => ObjectVersion {
            bucket: bucket.unwrap_or_default(),
            key: String::new(),
            version_id: None,
            etag: String::new(),
            size: 0,
            sequencer: None,
            last_modified: String::new(),
        },
        // Caught before Filter named the version: identify it by what the event said.
        (None, Some(bucket), Some(key)) => ObjectVersion {
            bucket,
            key,
            version_id: req.version_id,
            etag: req.etag.unwrap_or_default(),
            size: 0,
            sequencer: None,
            last_modified: String::new(),
        },
        _ => {
            return Err(StepError::internal(
                "quarantine received no object identity (neither `object` nor `bucket`/`key`)",
            ))
        }
    };
    let event_id = req.event_id.filter(|_| object.key.is_empty());
    Ok(QuarantineInput {
        object,
        table: req.table,
        reason,
        detail,
        rejects_key: req.rejects_key,
        event_id,
        drift,
    })
}

/// Reads a caught error's cause: the step's `ErrorCause` JSON, directly (in-process) or as
/// a Lambda error document's `errorMessage`; otherwise the error name decides the reason.
fn from_error(err: &CaughtError) -> (QuarantineReason, String, Vec<DriftChange>) {
    if let Some(c) = ErrorCause::from_cause(&err.cause) {
        return (c.reason, c.detail, c.drift);
    }
    let reason = if err.error == StepErrorKind::DriftBlocked.name() {
        QuarantineReason::DriftBlocked
    } else if err.error == StepErrorKind::BadInput.name() {
        QuarantineReason::ContractViolation
    } else {
        QuarantineReason::Internal
    };
    (reason, format!("{}: {}", err.error, err.cause), vec![])
}

pub async fn quarantine(
    ctx: &Context,
    input: QuarantineInput,
) -> Result<QuarantineOutput, StepError> {
    let object = input.object.clone();
    let record_key = match &input.event_id {
        Some(id) => keys::quarantined_event(id),
        None => keys::quarantine(input.table.as_deref(), &object.batch_id()),
    };
    let detail = truncate(&input.detail, 2048);
    let contract_version = match input.table.as_deref().and_then(|t| ctx.config.table(t)) {
        Some(table) => ctx.judged_under(table).await,
        None => None,
    };
    let record = QuarantineRecord {
        object: object.clone(),
        table: input.table.clone(),
        reason: input.reason,
        detail: detail.clone(),
        rejects_key: input.rejects_key.clone(),
        contract_version,
        drift: input.drift.clone(),
        at: now(),
    };
    let body =
        serde_json::to_vec_pretty(&record).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&record_key, body.into()).await?;
    if let Some(id) = &input.event_id {
        // No object version: nothing for the ledger to account for.
        tracing::warn!(event = %id, reason = %input.reason, "event that names no object quarantined");
        return Ok(QuarantineOutput {
            object,
            table: input.table,
            reason: input.reason,
            record_key,
            drift_change: None,
        });
    }

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
                    if contract_version.is_some() {
                        r.contract_version = contract_version;
                    }
                })
                .await?;
        }
    }
    tracing::info!(key = %object.key, reason = %input.reason, "object quarantined");
    let replays = ctx
        .ledger
        .get(&object)
        .await?
        .map(|r| r.record.replays)
        .unwrap_or(0);
    crate::events::emit(
        ctx.store.as_ref(),
        &crate::events::file_quarantined(
            input.table.as_deref(),
            &object,
            input.reason.as_str(),
            &detail,
            &record_key,
            input.rejects_key.as_deref(),
            replays,
            record.at.clone(),
        ),
    )
    .await?;
    if let Some((table, id)) = crate::drift_decisions::waits_on(&record) {
        let changes =
            serde_json::to_value(&record.drift).map_err(|e| StepError::internal(e.to_string()))?;
        crate::events::emit(
            ctx.store.as_ref(),
            &crate::events::drift_pending(&table, &id, changes, &object.key, record.at.clone()),
        )
        .await?;
    }
    Ok(QuarantineOutput {
        object,
        drift_change: drift_change(&record),
        table: input.table,
        reason: input.reason,
        record_key,
    })
}

/// The pending drift change a quarantined file waits on, if it waits on one.
fn drift_change(record: &QuarantineRecord) -> Option<String> {
    crate::drift_decisions::waits_on(record).map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object() -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: None,
            etag: "e".into(),
            size: 1,
            sequencer: None,
            last_modified: String::new(),
        }
    }

    #[test]
    fn caught_error_cause_gives_the_reason() {
        let cause = serde_json::to_string(&ErrorCause {
            reason: QuarantineReason::DriftBlocked,
            detail: "quantity became text".into(),
            drift: vec![],
        })
        .unwrap();
        let req = IngestState {
            object: Some(object()),
            error: Some(CaughtError {
                error: "DriftBlocked".into(),
                cause: cause.clone(),
            }),
            ..Default::default()
        };
        let input = normalize(req).unwrap();
        assert_eq!(input.reason, QuarantineReason::DriftBlocked);
        assert_eq!(input.detail, "quantity became text");
        // The same cause wrapped in a Lambda error document.
        let lambda =
            serde_json::json!({"errorType": "DriftBlocked", "errorMessage": cause}).to_string();
        let req = IngestState {
            object: Some(object()),
            error: Some(CaughtError {
                error: "DriftBlocked".into(),
                cause: lambda,
            }),
            ..Default::default()
        };
        assert_eq!(normalize(req).unwrap().detail, "quantity became text");
    }

    #[test]
    fn statuses_give_the_reason_and_arrival_fields_the_object() {
        let req = IngestState {
            status: Some(StateStatus::TooManyInvalidRows),
            bucket: Some("landing".into()),
            key: Some("orders/x.ndjson".into()),
            detail: Some("9 of 10 rows rejected".into()),
            ..Default::default()
        };
        let input = normalize(req).unwrap();
        assert_eq!(input.reason, QuarantineReason::TooManyInvalidRows);
        assert_eq!(input.object.key, "orders/x.ndjson");
        let e = normalize(IngestState::default()).unwrap_err();
        assert_eq!(e.kind, StepErrorKind::Internal);
    }
}
