//! What happened to one arrival, read off its execution: the final state output, read as
//! the [`IngestState`] the definition accumulated, says which way it went (`quarantine` set:
//! quarantined; `commit` set: committed; a `duplicate` status: duplicate; else filtered), the
//! status says whether it got there at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::ledger::RowCounts;
use sluice_core::{ObjectVersion, QuarantineReason};
use sluice_states::history::Event;
use sluice_states::{Execution, Status};
use sluice_steps::error::ErrorCause;
use sluice_steps::state::{IngestState, StateStatus};

/// How an arrival ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Rows are in the table; `already` when they were committed before this execution (or
    /// its last redrive) started: a duplicate's or a re-run's acknowledgement. A batch another
    /// execution's group commit took meanwhile is not `already`: it landed in this run.
    Committed {
        snapshot_id: i64,
        already: bool,
    },
    Filtered,
    /// Under `new_version = "replace"`: a newer version of the key is loaded, so this one's
    /// rows did not enter the table (its ledger record says retracted).
    Superseded {
        snapshot_id: i64,
    },
    /// A removal under `on_delete = "delete"`: the rows of `versions` versions of the key
    /// left the table in `snapshot_id` (none when no version of it was loaded).
    Removed {
        snapshot_id: Option<i64>,
        versions: usize,
    },
    /// The ledger already had this object version (or this very execution already ran),
    /// in `state`.
    Duplicate {
        state: String,
    },
    Quarantined {
        reason: QuarantineReason,
    },
    /// The execution failed (an `Internal` error, or retries ran out): fix, then
    /// `sluice redrive` it. The ledger keeps the version claimed or staged meanwhile.
    Failed {
        error: String,
    },
}

/// One arrival's result, for the CLI's table and for tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrivalReport {
    pub key: String,
    /// The execution that ran it.
    pub execution: String,
    pub status: Status,
    pub object: Option<ObjectVersion>,
    pub table: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub rows: Option<RowCounts>,
    pub rejects_key: Option<String>,
    pub detail: Option<String>,
    /// Largest task input or output of the execution, in bytes of JSON (claim-check check).
    pub largest_payload: usize,
    /// True when the execution did not reach its end: the object is not finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unfinished: bool,
}

/// The key the execution is about: the arrival's, or the replayed object's.
pub fn input_key(input: &Value) -> String {
    IngestState::from_json(input)
        .and_then(|s| s.key.or(s.object.map(|o| o.key)))
        .unwrap_or_default()
}

/// Reads the report off a finished execution and its history.
pub fn report(execution: &Execution, history: &[Event]) -> ArrivalReport {
    let key = input_key(&execution.input);
    let largest_payload = history
        .iter()
        .flat_map(|e| ["parameters", "output", "input"].map(|k| e.details.get(k)))
        .flatten()
        .filter_map(Value::as_str)
        .map(str::len)
        .max()
        .unwrap_or(0);
    let input = IngestState::from_json(&execution.input).unwrap_or_default();
    let mut report = ArrivalReport {
        key,
        execution: execution.name.clone(),
        status: execution.status,
        object: input.object,
        table: input.table,
        outcome: Outcome::Filtered,
        rows: None,
        rejects_key: None,
        detail: None,
        largest_payload,
        unfinished: false,
    };
    if execution.status != Status::Succeeded {
        let error = execution.error.clone().unwrap_or_else(|| "unknown".into());
        let cause = execution.cause.clone().unwrap_or_default();
        report.detail = Some(format!(
            "{}; fix the cause, then `sluice redrive {}`",
            if cause.is_empty() {
                error.clone()
            } else {
                format!("{error}: {}", detail_of_cause(&cause))
            },
            execution.name
        ));
        report.outcome = Outcome::Failed { error };
        report.unfinished = true;
        return report;
    }
    let out = match execution.output.as_ref().map(IngestState::deserialize) {
        Some(Ok(state)) => state,
        Some(Err(e)) => {
            report.detail = Some(format!(
                "the execution's output is not an ingest state: {e}"
            ));
            return report;
        }
        None => IngestState::default(),
    };
    report.object = out.object.or(report.object);
    report.table = out.table.or(report.table);
    report.rows = out.rows;
    report.rejects_key = out.rejects_key;
    report.detail = out.detail;
    if let Some(q) = out.quarantine {
        if let Some(error) = out.error.filter(|e| !e.cause.is_empty()) {
            report.detail = Some(detail_of_cause(&error.cause));
        }
        report.object = Some(q.object);
        report.outcome = Outcome::Quarantined { reason: q.reason };
    } else if let Some(r) = out.retract {
        report.outcome = Outcome::Removed {
            snapshot_id: r.snapshot_id,
            versions: r.versions,
        };
        if report.detail.is_none() {
            report.detail = Some(match r.versions {
                0 => format!("{} was removed; no version of it was in the table", r.key),
                n => format!(
                    "{} was removed: the rows of {n} version{} left the table{}",
                    r.key,
                    if n == 1 { "" } else { "s" },
                    if r.already_retracted {
                        " (earlier run)"
                    } else {
                        ""
                    }
                ),
            });
        }
    } else if let Some(c) = out.commit {
        // Found committed, but in a snapshot made after this execution (or its last redrive)
        // started: another execution's group commit took the batch, in this very run; not an
        // earlier landing.
        let began = execution.redrive_date.unwrap_or(execution.start_date);
        let taken_meanwhile = c
            .snapshot_ms
            .is_some_and(|ms| ms >= began.timestamp_millis());
        report.outcome = if c.superseded {
            Outcome::Superseded {
                snapshot_id: c.snapshot_id,
            }
        } else {
            Outcome::Committed {
                snapshot_id: c.snapshot_id,
                already: c.already_committed && !taken_meanwhile,
            }
        };
        if c.replaced > 0 && report.detail.is_none() {
            report.detail = Some(format!(
                "replaced the rows of {} earlier version{} of the key",
                c.replaced,
                if c.replaced == 1 { "" } else { "s" }
            ));
        }
    } else if out.status == Some(StateStatus::Duplicate) {
        report.outcome = Outcome::Duplicate {
            state: out.ledger_state.map(|s| s.to_string()).unwrap_or_default(),
        };
    }
    report
}

/// A step's cause is an `ErrorCause` JSON document (or a Lambda error document holding one);
/// people want its detail.
fn detail_of_cause(cause: &str) -> String {
    ErrorCause::from_cause(cause)
        .map(|c| c.detail)
        .unwrap_or_else(|| cause.to_string())
}
