//! [`IngestState`]: the one document `statemachine/ingest.asl.json` accumulates while an
//! arrival goes through it, as a type.
//!
//! A Task without a `ResultPath` replaces the root with its output, so the head of the
//! document is whatever last did: the execution input (an [`Arrival`](crate::payload::Arrival),
//! a [`ReplayInput`](crate::payload::ReplayInput), or on AWS an EventBridge event), Filter's
//! [`FilterOutput`] or Validate's [`ValidateOutput`]. The other Tasks and the Catches add one
//! field each: DetectDrift `$.drift`, Commit `$.commit`, Retract `$.retract`, Quarantine
//! `$.quarantine`, a caught error `$.error`. So the head fields are optional and the union
//! of those shapes; `status` says which shape the head is.
//!
//! The Quarantine step takes this document as its input (it runs on whatever state something
//! went wrong in), and `sluice-local`'s report reads an execution's output through it. A test
//! resolves every `ResultPath`, Choice `Variable` and Parameters path of the definition in a
//! fully populated `IngestState`, so the type and the definition cannot drift apart.
//!
//! Unknown fields are ignored on purpose (no `deny_unknown_fields`): on AWS the head may be
//! the EventBridge event, whose envelope fields are not sluice's. For the same reason
//! `detail` reads only a string: the event's `detail` object is not the steps' sentence.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use sluice_core::ledger::{RowCounts, StateName};
use sluice_core::{ObjectVersion, QuarantineReason};

use crate::payload::{
    ArrivalEvent, CaughtError, CommitOutput, DriftOutput, FilterOutput, QuarantineOutput, Removal,
    RetractOutput, ValidateOutput,
};

/// Every `status` the head of the state can have: the filter's, the replay input's and
/// validate's (`filtered` and `duplicate` are both the filter's and validate's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateStatus {
    Accepted,
    ResumeCommit,
    Filtered,
    Duplicate,
    Rejected,
    /// Filter's answer to a removal under `on_delete = "delete"`: go on to Retract.
    Removed,
    Replay,
    Staged,
    TooManyInvalidRows,
}

/// The state document of one ingest execution (see the module docs for which step sets
/// which field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestState {
    /// Which shape the head is: absent for an arrival (the execution input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StateStatus>,

    // The arrival's fields (the execution input; also what `sluice-lambdas` lifts from an
    // EventBridge event for the Quarantine step, when an error was caught before Filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<ArrivalEvent>,
    /// The id of an event that names no object at all (an S3 event whose detail has no
    /// bucket or key): the event itself is what gets quarantined, so the execution ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,

    // Filter's, the replay input's and Validate's fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The staged batch (Filter's `resume_commit`, Validate's `staged`); Commit reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    /// Filter's `rejected`: the quarantine reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<QuarantineReason>,
    /// A duplicate's (or a taken-over claim's) ledger state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_state: Option<StateName>,
    /// A sentence about the head's status. Only a string is read (see the module docs).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "text_only"
    )]
    pub detail: Option<String>,
    /// Validate's row counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowCounts>,
    /// Validate's rejected / total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_ratio: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_key: Option<String>,
    /// Columns Validate added to the table.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evolved: Vec<String>,
    /// A replay input's quarantine record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_key: Option<String>,
    /// A replay input's attempt number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Filter's removal to retract (`status` `removed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<Removal>,

    /// DetectDrift's output (`ResultPath: $.drift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftOutput>,
    /// Commit's output (`ResultPath: $.commit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitOutput>,
    /// Retract's output (`ResultPath: $.retract`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retract: Option<RetractOutput>,
    /// Quarantine's output (`ResultPath: $.quarantine`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<QuarantineOutput>,
    /// A caught error (every Catch's `ResultPath: $.error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CaughtError>,
}

impl IngestState {
    /// Reads a state document. `None` when it does not fit (a field of the wrong type): the
    /// caller says what it falls back to.
    pub fn from_json(value: &Value) -> Option<IngestState> {
        IngestState::deserialize(value).ok()
    }

    /// The key the state is about: the object's, else the arrival's.
    pub fn key(&self) -> Option<&str> {
        self.object
            .as_ref()
            .map(|o| o.key.as_str())
            .or(self.key.as_deref())
    }
}

impl From<FilterOutput> for IngestState {
    /// The state after Filter replaced the root with its output.
    fn from(out: FilterOutput) -> Self {
        match out {
            FilterOutput::Accepted {
                object,
                table,
                ledger_state,
            } => IngestState {
                status: Some(StateStatus::Accepted),
                object: Some(object),
                table: Some(table),
                ledger_state,
                ..Default::default()
            },
            FilterOutput::ResumeCommit {
                object,
                table,
                manifest_key,
                ledger_state,
            } => IngestState {
                status: Some(StateStatus::ResumeCommit),
                object: Some(object),
                table,
                manifest_key: Some(manifest_key),
                ledger_state: Some(ledger_state),
                ..Default::default()
            },
            FilterOutput::Filtered { object, detail } => IngestState {
                status: Some(StateStatus::Filtered),
                object,
                detail: Some(detail),
                ..Default::default()
            },
            FilterOutput::Duplicate {
                object,
                table,
                ledger_state,
                detail,
            } => IngestState {
                status: Some(StateStatus::Duplicate),
                object: Some(object),
                table,
                ledger_state: Some(ledger_state),
                detail,
                ..Default::default()
            },
            FilterOutput::Removed { table, removal } => IngestState {
                status: Some(StateStatus::Removed),
                table: Some(table),
                removal: Some(removal),
                ..Default::default()
            },
            FilterOutput::Rejected {
                object,
                table,
                reason,
                detail,
            } => IngestState {
                status: Some(StateStatus::Rejected),
                object: Some(object),
                table,
                reason: Some(reason),
                detail: Some(detail),
                ..Default::default()
            },
        }
    }
}

impl From<ValidateOutput> for IngestState {
    /// The state after Validate replaced the root with its output.
    fn from(out: ValidateOutput) -> Self {
        match out {
            ValidateOutput::Staged {
                object,
                table,
                rows,
                invalid_ratio,
                manifest_key,
                rejects_key,
                evolved,
            } => IngestState {
                status: Some(StateStatus::Staged),
                object: Some(object),
                table: Some(table),
                rows: Some(rows),
                invalid_ratio: Some(invalid_ratio),
                manifest_key: Some(manifest_key),
                rejects_key,
                evolved,
                ..Default::default()
            },
            ValidateOutput::TooManyInvalidRows {
                object,
                table,
                rows,
                invalid_ratio,
                rejects_key,
                detail,
            } => IngestState {
                status: Some(StateStatus::TooManyInvalidRows),
                object: Some(object),
                table: Some(table),
                rows: Some(rows),
                invalid_ratio: Some(invalid_ratio),
                rejects_key: Some(rejects_key),
                detail: Some(detail),
                ..Default::default()
            },
            ValidateOutput::Filtered {
                object,
                table,
                rows,
                invalid_ratio,
                detail,
            } => IngestState {
                status: Some(StateStatus::Filtered),
                object: Some(object),
                table: Some(table),
                rows: Some(rows),
                invalid_ratio: Some(invalid_ratio),
                detail: Some(detail),
                ..Default::default()
            },
            ValidateOutput::Duplicate {
                object,
                table,
                rows,
                invalid_ratio,
                rejects_key,
                detail,
                ledger_state,
            } => IngestState {
                status: Some(StateStatus::Duplicate),
                object: Some(object),
                table: Some(table),
                rows: Some(rows),
                invalid_ratio: Some(invalid_ratio),
                rejects_key,
                detail: Some(detail),
                ledger_state: Some(ledger_state),
                ..Default::default()
            },
        }
    }
}

/// A string, or `None` for anything else (an EventBridge event's `detail` object).
fn text_only<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::{FilterOutput, ValidateOutput};
    use sluice_core::drift::DriftChange;

    fn object() -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: Some("v1".into()),
            etag: "e1".into(),
            size: 42,
            sequencer: Some("0A".into()),
            last_modified: "2026-03-01T00:00:00Z".into(),
        }
    }

    /// Every field set, so that every path the definition names resolves in it.
    fn populated() -> IngestState {
        IngestState {
            status: Some(StateStatus::Staged),
            bucket: Some("landing".into()),
            key: Some("orders/a.ndjson".into()),
            version_id: Some("v1".into()),
            etag: Some("e1".into()),
            sequencer: Some("0A".into()),
            event: Some(ArrivalEvent::Created),
            event_id: Some("ev-1".into()),
            object: Some(object()),
            table: Some("orders".into()),
            manifest_key: Some("m.json".into()),
            reason: Some(QuarantineReason::ParseError),
            ledger_state: Some(StateName::Staged),
            detail: Some("why".into()),
            rows: Some(RowCounts::default()),
            invalid_ratio: Some(0.0),
            rejects_key: Some("r.ndjson".into()),
            evolved: vec!["coupon".into()],
            quarantine_key: Some("q.json".into()),
            attempt: Some(1),
            removal: Some(Removal {
                bucket: "landing".into(),
                key: "orders/a.ndjson".into(),
                version_id: None,
                sequencer: None,
                at: "2026-03-01T00:00:00Z".into(),
            }),
            retract: Some(RetractOutput {
                table: "orders".into(),
                key: "orders/a.ndjson".into(),
                snapshot_id: Some(7),
                versions: 1,
                already_retracted: false,
            }),
            drift: Some(DriftOutput {
                object: object(),
                table: "orders".into(),
                changes: Vec::<DriftChange>::new(),
                planned: vec![],
                schema_id: 0,
            }),
            commit: Some(CommitOutput {
                object: object(),
                table: "orders".into(),
                snapshot_id: 7,
                rows: 3,
                already_committed: false,
                snapshot_ms: None,
                group: 1,
                superseded: false,
                replaced: 0,
            }),
            quarantine: Some(QuarantineOutput {
                object: object(),
                table: Some("orders".into()),
                reason: QuarantineReason::ParseError,
                record_key: "q.json".into(),
                drift_change: None,
            }),
            error: Some(CaughtError {
                error: "BadInput".into(),
                cause: "{}".into(),
            }),
        }
    }

    /// The reference paths (`$.a.b`) the definition reads or writes: every `ResultPath`,
    /// every Choice `Variable` (also inside `And`/`Or`/`Not`) and every `.$` Parameters value
    /// that reads the state (not the context object `$$`).
    fn paths(node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                for (k, v) in map {
                    let reads_state = |s: &str| s.starts_with("$.") && !s.starts_with("$$");
                    match (k.as_str(), v) {
                        ("ResultPath" | "Variable", Value::String(s)) => out.push(s.clone()),
                        (k, Value::String(s)) if k.ends_with(".$") && reads_state(s) => {
                            out.push(s.clone())
                        }
                        _ => paths(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| paths(i, out)),
            _ => {}
        }
    }

    #[test]
    fn every_path_of_the_definition_is_a_field_of_the_state() {
        let text = include_str!("../../../statemachine/ingest.asl.json");
        let definition: Value = serde_json::from_str(text).unwrap();
        let mut found = vec![];
        paths(&definition, &mut found);
        for expected in ["$.drift", "$.commit", "$.quarantine", "$.error", "$.status"] {
            assert!(found.iter().any(|p| p == expected), "{expected} not found");
        }
        let state = serde_json::to_value(populated()).unwrap();
        for path in &found {
            let pointer = path
                .strip_prefix('$')
                .expect("a reference path")
                .replace('.', "/");
            assert!(
                state.pointer(&pointer).is_some(),
                "{path} of ingest.asl.json is not a field of IngestState"
            );
        }
    }

    #[test]
    fn a_step_output_read_back_as_state_keeps_its_fields() {
        let filtered = FilterOutput::Rejected {
            object: object(),
            table: Some("orders".into()),
            reason: QuarantineReason::TooLarge,
            detail: "too big".into(),
        };
        let wire = serde_json::to_value(&filtered).unwrap();
        let read = IngestState::from_json(&wire).unwrap();
        assert_eq!(read, IngestState::from(filtered));
        assert_eq!(read.status, Some(StateStatus::Rejected));

        let validated = ValidateOutput::TooManyInvalidRows {
            object: object(),
            table: "orders".into(),
            rows: RowCounts {
                total: 10,
                valid: 1,
                rejected: 9,
            },
            invalid_ratio: 0.9,
            rejects_key: "r.ndjson".into(),
            detail: "9 of 10".into(),
        };
        let wire = serde_json::to_value(&validated).unwrap();
        assert_eq!(
            IngestState::from_json(&wire).unwrap(),
            IngestState::from(validated)
        );
    }

    #[test]
    fn an_eventbridge_event_reads_as_a_state_without_its_envelope() {
        let event = serde_json::json!({
            "version": "0",
            "id": "ev-1",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "detail": {"bucket": {"name": "landing"}, "object": {"key": "k"}},
            "error": {"Error": "BadInput", "Cause": "{}"}
        });
        let state = IngestState::from_json(&event).unwrap();
        assert_eq!(state.detail, None);
        assert_eq!(state.error.unwrap().error, "BadInput");
    }
}
