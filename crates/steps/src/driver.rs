//! The direct driver: runs one arrival through the steps in the order the state machine
//! (statemachine/ingest.asl.json) will, with the same retry and catch rules, in process.
//!
//! Filter → DetectDrift → Validate → (too many invalid rows? → Quarantine) → Commit.
//! `TransientError` and `CommitConflict` are retried with exponential backoff and full
//! jitter; `BadInput` and `DriftBlocked` go to Quarantine with the error's reason. Until the
//! engine runs the definition, an `Internal` error also ends in Quarantine (reason
//! `internal`), so that no object is left half-way and `sluice files` shows every fate.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sluice_core::ledger::RowCounts;
use sluice_core::{ObjectVersion, QuarantineReason};

use crate::context::Context;
use crate::error::{StepError, StepErrorKind};
use crate::payload::*;

/// Attempts per step for retryable errors (the definition's MaxAttempts + 1).
const MAX_ATTEMPTS: u32 = 6;
const BASE_DELAY: Duration = Duration::from_millis(50);
const MAX_DELAY: Duration = Duration::from_secs(5);

/// How an arrival ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Rows are in the table; `already` when a previous run had committed them.
    Committed {
        snapshot_id: i64,
        already: bool,
    },
    Filtered,
    /// The ledger already had this object version, in `state`.
    Duplicate {
        state: String,
    },
    Quarantined {
        reason: QuarantineReason,
    },
}

/// What happened to one arrival, for the CLI's result table and for tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalReport {
    pub key: String,
    pub object: Option<ObjectVersion>,
    pub table: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub rows: Option<RowCounts>,
    pub rejects_key: Option<String>,
    pub detail: Option<String>,
    /// Largest step input or output of this run, in bytes of JSON (claim-check check).
    pub largest_payload: usize,
    /// The run could not bring the object to a terminal state (a step kept failing, even the
    /// quarantine): the ledger still holds it claimed or staged, and a re-run resumes it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfinished: bool,
}

/// Runs one arrival to its end.
pub async fn run_arrival(ctx: &Context, arrival: Arrival) -> ArrivalReport {
    let mut largest = size(&arrival);
    let key = arrival.key.clone();
    let filtered = match retrying(|| crate::filter::filter(ctx, arrival.clone())).await {
        Ok(f) => f,
        Err(e) => {
            // Without an object identity there is nothing to quarantine; report it.
            return ArrivalReport {
                key,
                object: None,
                table: None,
                outcome: Outcome::Filtered,
                rows: None,
                rejects_key: None,
                detail: Some(format!("filter failed: {e}")),
                largest_payload: largest,
                unfinished: true,
            };
        }
    };
    largest = largest.max(size(&filtered));
    let mut report = ArrivalReport {
        key,
        object: filtered.object.clone(),
        table: filtered.table.clone(),
        outcome: Outcome::Filtered,
        rows: None,
        rejects_key: None,
        detail: filtered.detail.clone(),
        largest_payload: largest,
        unfinished: false,
    };
    let (object, table) = match (&filtered.object, &filtered.table) {
        (Some(o), Some(t)) => (o.clone(), t.clone()),
        _ => return report,
    };
    match filtered.status {
        FilterStatus::Filtered => return report,
        FilterStatus::Duplicate => {
            report.outcome = Outcome::Duplicate {
                state: filtered.ledger_state.clone().unwrap_or_default(),
            };
            return report;
        }
        FilterStatus::Rejected => {
            let reason = filtered.reason.unwrap_or(QuarantineReason::Internal);
            let detail = filtered.detail.clone().unwrap_or_default();
            return to_quarantine(ctx, report, object, Some(table), reason, detail, None).await;
        }
        FilterStatus::ResumeCommit => {
            let manifest_key = filtered.manifest_key.clone().unwrap_or_default();
            return to_commit(ctx, report, object, table, manifest_key).await;
        }
        FilterStatus::Accepted => {}
    }

    let task = ObjectTask {
        object: object.clone(),
        table: table.clone(),
        status: None,
    };
    match retrying(|| crate::drift::detect_drift(ctx, task.clone())).await {
        Ok(out) => report.largest_payload = report.largest_payload.max(size(&out)),
        Err(e) => return caught(ctx, report, object, table, e, None).await,
    }
    let validated = match retrying(|| crate::validate::validate(ctx, task.clone())).await {
        Ok(out) => out,
        Err(e) => return caught(ctx, report, object, table, e, None).await,
    };
    report.largest_payload = report.largest_payload.max(size(&validated));
    report.rows = Some(validated.rows.clone());
    report.rejects_key = validated.rejects_key.clone();
    report.detail = validated.detail.clone();
    match validated.status {
        ValidateStatus::Filtered => report,
        ValidateStatus::TooManyInvalidRows => {
            let detail = validated.detail.clone().unwrap_or_default();
            to_quarantine(
                ctx,
                report,
                object,
                Some(table),
                QuarantineReason::TooManyInvalidRows,
                detail,
                validated.rejects_key.clone(),
            )
            .await
        }
        ValidateStatus::Staged => {
            let manifest_key = validated.manifest_key.clone().unwrap_or_default();
            to_commit(ctx, report, object, table, manifest_key).await
        }
    }
}

async fn to_commit(
    ctx: &Context,
    mut report: ArrivalReport,
    object: ObjectVersion,
    table: String,
    manifest_key: String,
) -> ArrivalReport {
    let input = CommitInput {
        object: object.clone(),
        table: table.clone(),
        manifest_key,
    };
    report.largest_payload = report.largest_payload.max(size(&input));
    match retrying(|| crate::commit::commit(ctx, input.clone())).await {
        Ok(out) => {
            report.largest_payload = report.largest_payload.max(size(&out));
            if report.rows.is_none() {
                if let Ok(Some(r)) = ctx.ledger.get(&object).await {
                    report.rows = r.record.rows;
                    report.rejects_key = r.record.rejects_key;
                }
            }
            report.outcome = Outcome::Committed {
                snapshot_id: out.snapshot_id,
                already: out.already_committed,
            };
            report
        }
        Err(e) => caught(ctx, report, object, table, e, None).await,
    }
}

/// The definition's Catch: quarantine with the error's reason.
async fn caught(
    ctx: &Context,
    report: ArrivalReport,
    object: ObjectVersion,
    table: String,
    e: StepError,
    rejects_key: Option<String>,
) -> ArrivalReport {
    let cause = e.cause();
    if e.kind == StepErrorKind::Internal || e.kind.is_retryable() {
        tracing::error!(key = %object.key, error = %e, "step failed; quarantining the object as internal");
    }
    to_quarantine(
        ctx,
        report,
        object,
        Some(table),
        cause.reason,
        cause.detail,
        rejects_key,
    )
    .await
}

async fn to_quarantine(
    ctx: &Context,
    mut report: ArrivalReport,
    object: ObjectVersion,
    table: Option<String>,
    reason: QuarantineReason,
    detail: String,
    rejects_key: Option<String>,
) -> ArrivalReport {
    let input = QuarantineInput {
        object,
        table,
        reason,
        detail: detail.clone(),
        rejects_key,
    };
    report.largest_payload = report.largest_payload.max(size(&input));
    report.detail = Some(detail);
    match retrying(|| crate::quarantine::quarantine(ctx, input.clone())).await {
        Ok(out) => {
            report.largest_payload = report.largest_payload.max(size(&out));
            report.outcome = Outcome::Quarantined { reason };
        }
        Err(e) => {
            report.detail = Some(format!("quarantine failed: {e}; the object stays claimed"));
            report.outcome = Outcome::Quarantined {
                reason: QuarantineReason::Internal,
            };
        }
    }
    report
}

/// Runs `step` again while it fails with a retryable kind, with exponential backoff and
/// full jitter (a delay drawn uniformly from 0 to the capped exponential).
async fn retrying<T, F, Fut>(mut step: F) -> Result<T, StepError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StepError>>,
{
    let mut attempt = 0;
    loop {
        match step().await {
            Err(e) if e.kind.is_retryable() && attempt + 1 < MAX_ATTEMPTS => {
                let cap = (BASE_DELAY * 2u32.pow(attempt)).min(MAX_DELAY);
                let delay = cap.mul_f64(jitter());
                tracing::debug!(error = %e, attempt, ?delay, "retrying step");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A number in [0, 1) from the clock's nanoseconds: jitter only needs to differ between
/// processes, not to be unpredictable.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos % 1_000_000) as f64 / 1_000_000.0
}

fn size<T: Serialize>(payload: &T) -> usize {
    serde_json::to_vec(payload)
        .map(|v| v.len())
        .unwrap_or(usize::MAX)
}
