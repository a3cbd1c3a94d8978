//! What happened to one arrival, read off its execution: the final state output says which
//! way the definition went (committed, quarantined, filtered, duplicate), the status says
//! whether it got there at all.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::ledger::RowCounts;
use sluice_core::{ObjectVersion, QuarantineReason};
use sluice_states::history::Event;
use sluice_states::{Execution, Status};

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

fn get<T: serde::de::DeserializeOwned>(v: &Value, key: &str) -> Option<T> {
    v.get(key)
        .and_then(|x| serde_json::from_value(x.clone()).ok())
}

/// The key the execution is about: the arrival's, or the replayed object's.
pub fn input_key(input: &Value) -> String {
    input
        .get("key")
        .or_else(|| input.get("object").and_then(|o| o.get("key")))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
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
    let mut report = ArrivalReport {
        key,
        execution: execution.name.clone(),
        status: execution.status,
        object: get(&execution.input, "object"),
        table: get(&execution.input, "table"),
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
    let out = execution.output.clone().unwrap_or(Value::Null);
    report.object = get(&out, "object").or(report.object);
    report.table = get(&out, "table").or(report.table);
    report.rows = get(&out, "rows");
    report.rejects_key = get(&out, "rejects_key");
    report.detail = get(&out, "detail");
    if let Some(q) = out.get("quarantine") {
        let reason = get(q, "reason").unwrap_or(QuarantineReason::Internal);
        if let Some(cause) = out
            .get("error")
            .and_then(|e| e.get("Cause"))
            .and_then(Value::as_str)
        {
            report.detail = Some(detail_of_cause(cause));
        }
        report.object = get(q, "object").or(report.object);
        report.outcome = Outcome::Quarantined { reason };
    } else if let Some(c) = out.get("commit") {
        // Found committed, but in a snapshot made after this execution (or its last redrive)
        // started: another execution's group commit took the batch, in this very run; not an
        // earlier landing.
        let found: bool = get(c, "already_committed").unwrap_or_default();
        let began = execution.redrive_date.unwrap_or(execution.start_date);
        let taken_meanwhile =
            get::<i64>(c, "snapshot_ms").is_some_and(|ms| ms >= began.timestamp_millis());
        report.outcome = Outcome::Committed {
            snapshot_id: get(c, "snapshot_id").unwrap_or_default(),
            already: found && !taken_meanwhile,
        };
    } else if out.get("status").and_then(Value::as_str) == Some("duplicate") {
        report.outcome = Outcome::Duplicate {
            state: get(&out, "ledger_state").unwrap_or_default(),
        };
    }
    report
}

/// A step's cause is an `ErrorCause` JSON document; people want its detail.
fn detail_of_cause(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v.get("detail").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| cause.to_string())
}
