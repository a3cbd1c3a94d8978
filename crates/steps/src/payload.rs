//! The small JSON documents that travel between steps (DESIGN §4): identities, counts and
//! object keys, never rows. Each stays far below Step Functions' 256 KiB limit; a test holds
//! every payload of the orders example under 8 KiB.

use serde::{Deserialize, Serialize};
use sluice_core::drift::DriftChange;
use sluice_core::ledger::{RowCounts, StateName};
use sluice_core::{ObjectVersion, QuarantineReason};

/// An arrival: "this object exists now". From an S3/EventBridge event, a local ingest or a
/// reconciliation listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    pub bucket: String,
    pub key: String,
    /// The version the event names, when the bucket is versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The event's etag; if the object now has another, the event is about an older version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// What happened to the object: created (the default) or removed.
    #[serde(default, skip_serializing_if = "ArrivalEvent::is_created")]
    pub event: ArrivalEvent,
    /// When it happened (RFC 3339), when the source says: a delete marker's time, for a
    /// removal reconcile found. It orders a removal without a sequencer among the key's
    /// versions (`on_delete = "delete"`); without it, the time the filter saw the removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// The S3 event an arrival stands for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalEvent {
    /// `Object Created`: a version to load.
    #[default]
    Created,
    /// `Object Deleted` / `ObjectRemoved:*`: recorded in the key's head; nothing is loaded,
    /// and a created event older than the removal is superseded.
    Removed,
}

impl ArrivalEvent {
    fn is_created(&self) -> bool {
        *self == ArrivalEvent::Created
    }
}

/// The filter's input, as the definition's `Parameters` build it: the execution's input (an
/// arrival) and the execution's name, which holds the ledger claim's lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    pub arrival: Arrival,
    /// `$$.Execution.Name`; a redrive of the same execution keeps its lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
}

impl From<Arrival> for FilterInput {
    /// An arrival run outside an execution: its claim's lease has no named holder.
    fn from(arrival: Arrival) -> Self {
        FilterInput {
            arrival,
            execution: None,
        }
    }
}

/// What the filter decided, tagged by `status` (the field the `Accepted?` Choice reads).
/// Each variant carries the fields its status has on the wire; optional ones are left out
/// of the JSON when absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum FilterOutput {
    /// New object version for a table: go on to drift detection.
    Accepted {
        object: ObjectVersion,
        table: String,
        /// Set (`claimed`) when an earlier run's claim was taken over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ledger_state: Option<StateName>,
    },
    /// A crashed earlier run staged this version: go straight to commit.
    ResumeCommit {
        object: ObjectVersion,
        /// The record's table, else the one the key routes to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        /// The staged batch manifest.
        manifest_key: String,
        /// Always `staged`.
        ledger_state: StateName,
    },
    /// Does not belong (no table, gone, older version, not an S3 object event): recorded as
    /// filtered when there is a version to record, done.
    Filtered {
        /// Absent when there is no object version (a removal, a foreign event, another
        /// bucket).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object: Option<ObjectVersion>,
        detail: String,
    },
    /// Already seen: finished, or a live claim another execution holds.
    Duplicate {
        object: ObjectVersion,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        /// The state the ledger already holds.
        ledger_state: StateName,
        /// For a live claim: who holds it, until when.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// A removal of an object under a table whose policy is `on_delete = "delete"`: go on
    /// to retract the rows of the key's versions it removed.
    Removed { table: String, removal: Removal },
    /// Belongs to a table (or has a key nothing may read) but cannot be read: quarantine
    /// with `reason`.
    Rejected {
        object: ObjectVersion,
        /// Absent for an unacceptable key under no table's prefix.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
        reason: QuarantineReason,
        detail: String,
    },
}

impl FilterOutput {
    /// Not for any table (or not an object at all): nothing to do, and why.
    pub fn filtered(detail: impl Into<String>) -> Self {
        FilterOutput::Filtered {
            object: None,
            detail: detail.into(),
        }
    }

    /// The status as the definition's Choice compares it.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::ResumeCommit { .. } => "resume_commit",
            Self::Filtered { .. } => "filtered",
            Self::Duplicate { .. } => "duplicate",
            Self::Rejected { .. } => "rejected",
            Self::Removed { .. } => "removed",
        }
    }

    /// The object version, when the output names one.
    pub fn object(&self) -> Option<&ObjectVersion> {
        match self {
            Self::Accepted { object, .. }
            | Self::ResumeCommit { object, .. }
            | Self::Duplicate { object, .. }
            | Self::Rejected { object, .. } => Some(object),
            Self::Filtered { object, .. } => object.as_ref(),
            Self::Removed { .. } => None,
        }
    }

    /// The table, when the output names one.
    pub fn table(&self) -> Option<&str> {
        match self {
            Self::Accepted { table, .. } => Some(table),
            Self::ResumeCommit { table, .. }
            | Self::Duplicate { table, .. }
            | Self::Rejected { table, .. } => table.as_deref(),
            Self::Removed { table, .. } => Some(table),
            Self::Filtered { .. } => None,
        }
    }
}

/// Input of detect_drift and validate: an accepted object and its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectTask {
    pub object: ObjectVersion,
    pub table: String,
    /// How the object got here (the definition passes `$.status`): from Filter, or a replay
    /// execution, which reopens the quarantined ledger record before anything else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Origin>,
}

/// How an object reached DetectDrift: the `status` of the state at that point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Filter accepted a new version.
    Accepted,
    /// A replay execution's input (the `Route` Choice sent it past Filter).
    Replay,
}

/// The input of a replay execution: a quarantined object version sent through the
/// definition again. `status` is always [`Origin::Replay`]; the state machine's first Choice
/// sends it straight to DetectDrift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    pub status: Origin,
    pub object: ObjectVersion,
    pub table: String,
    /// The quarantine record being replayed.
    pub quarantine_key: String,
    /// Which replay of this version (1 for the first), so each gets its own execution name.
    pub attempt: u32,
}

/// An error as a Catch places it (`ResultPath: $.error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftOutput {
    pub object: ObjectVersion,
    pub table: String,
    /// The schema changes found (at most 20 listed).
    pub changes: Vec<DriftChange>,
    /// Columns (dotted paths) the sample would add under the policy. Nothing is added here:
    /// validate adds what the file's accepted rows need once the whole file is accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
    /// The table's schema id when the step compared.
    pub schema_id: i32,
}

/// What validate decided, tagged by `status` (the field the `Valid?` Choice reads). Every
/// variant names the object, its table and the row counts of the read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", deny_unknown_fields)]
pub enum ValidateOutput {
    /// Valid rows are staged; go on to commit.
    Staged {
        object: ObjectVersion,
        table: String,
        rows: RowCounts,
        /// rejected / total.
        invalid_ratio: f64,
        manifest_key: String,
        /// Set when any row was rejected.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejects_key: Option<String>,
        /// Columns (dotted paths) this file's accepted rows added to the table.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evolved: Vec<String>,
    },
    /// More rows were rejected than `max_invalid_ratio` allows: quarantine the file.
    TooManyInvalidRows {
        object: ObjectVersion,
        table: String,
        rows: RowCounts,
        invalid_ratio: f64,
        rejects_key: String,
        detail: String,
    },
    /// Nothing to load (no rows at all, or the object was overwritten meanwhile): recorded
    /// as filtered.
    Filtered {
        object: ObjectVersion,
        table: String,
        rows: RowCounts,
        /// Always 0: nothing is loaded.
        invalid_ratio: f64,
        detail: String,
    },
    /// Another execution finished the object meanwhile (its ledger record is committed,
    /// filtered or quarantined, named in `ledger_state`): nothing left to do. A redrive of
    /// an execution that crashed while a duplicate delivery of its event went on ends here.
    Duplicate {
        object: ObjectVersion,
        table: String,
        rows: RowCounts,
        /// Always 0: nothing is loaded.
        invalid_ratio: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejects_key: Option<String>,
        detail: String,
        /// The ledger state another execution left.
        ledger_state: StateName,
    },
}

impl ValidateOutput {
    /// The status as the definition's Choice compares it.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Staged { .. } => "staged",
            Self::TooManyInvalidRows { .. } => "too_many_invalid_rows",
            Self::Filtered { .. } => "filtered",
            Self::Duplicate { .. } => "duplicate",
        }
    }

    /// The table the object was validated for.
    pub fn table(&self) -> &str {
        match self {
            Self::Staged { table, .. }
            | Self::TooManyInvalidRows { table, .. }
            | Self::Filtered { table, .. }
            | Self::Duplicate { table, .. } => table,
        }
    }

    /// The row counts of the read.
    pub fn rows(&self) -> &RowCounts {
        match self {
            Self::Staged { rows, .. }
            | Self::TooManyInvalidRows { rows, .. }
            | Self::Filtered { rows, .. }
            | Self::Duplicate { rows, .. } => rows,
        }
    }

    /// The staged batch manifest, for [`ValidateOutput::Staged`].
    pub fn manifest_key(&self) -> Option<&str> {
        match self {
            Self::Staged { manifest_key, .. } => Some(manifest_key),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineInput {
    /// The object version; for an event that named none (`event_id` set), only the bucket
    /// the event gave, if any, and an empty key.
    pub object: ObjectVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub reason: QuarantineReason,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_key: Option<String>,
    /// Set for an event that names no object: the record is the event's, with no ledger
    /// record (there is no object version to account for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// For `drift_blocked`, the changes that blocked the file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<sluice_core::drift::DriftChange>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineOutput {
    pub object: ObjectVersion,
    /// The table the object was routed to, when it was (the metrics' `Table` dimension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub reason: QuarantineReason,
    /// Key of the quarantine record under the control prefix.
    pub record_key: String,
    /// For a `drift_blocked` file, the pending change it waits on (`sluice drift list`): the
    /// metric `DriftPending` counts these, and its alarm asks a person to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_change: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitInput {
    pub object: ObjectVersion,
    pub table: String,
    pub manifest_key: String,
}

/// A removal of a key (an S3 `Object Deleted` event, or a delete marker reconcile found), on
/// its way to retract the rows of the versions it removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    pub bucket: String,
    pub key: String,
    /// The delete marker's version id (or the version deleted for good), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The event's sequencer, when it had one: it orders the removal among the key's
    /// versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// When the removal happened, as well as sluice knows (RFC 3339): it orders the removal
    /// against versions without a sequencer.
    pub at: String,
}

impl Removal {
    /// The id its retraction records in the snapshot summary: one per removal, so a
    /// redelivered event retracts nothing twice.
    pub fn batch_id(&self) -> sluice_core::BatchId {
        let which = self
            .version_id
            .as_deref()
            .or(self.sequencer.as_deref())
            .unwrap_or(&self.at);
        sluice_core::BatchId::for_ledger_key(&format!(
            "removal\u{0}{}/{}#{which}",
            self.bucket, self.key
        ))
    }
}

/// The Retract task's input: a removal and its table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractInput {
    pub removal: Removal,
    pub table: String,
}

/// What a removal's retraction did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetractOutput {
    pub table: String,
    pub key: String,
    /// The snapshot that took the rows out (or had, for a re-run); absent when no version of
    /// the key was in the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    /// Versions of the key whose rows left the table.
    pub versions: usize,
    /// True when a run before this one had done it.
    pub already_retracted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitOutput {
    pub object: ObjectVersion,
    pub table: String,
    pub snapshot_id: i64,
    /// Rows this batch made visible.
    pub rows: u64,
    /// True when the batch was found already committed (a re-run, or another execution's
    /// group commit took it); no snapshot was added for it here.
    pub already_committed: bool,
    /// When the snapshot holding the batch was committed (Iceberg `timestamp-ms`): with
    /// `already_committed`, it tells a batch a concurrent execution's group commit took (after
    /// this execution started) from one committed by an earlier run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ms: Option<i64>,
    /// Staged batches the snapshot this step added took (its own and other executions'); 0
    /// when it added none.
    #[serde(default)]
    pub group: usize,
    /// Under `new_version = "replace"`: a newer version of the key is loaded, so this
    /// version's rows did not enter the table (its ledger record says retracted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub superseded: bool,
    /// Under `new_version = "replace"`: earlier versions of the key whose rows this
    /// version's snapshot took out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replaced: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The JSON the definition's Choices, the Lambdas and the CDK tests read: one of each output
/// with the fields the steps set, pinned byte for byte (field order included), so that a
/// change of the Rust types never changes the wire.
#[cfg(test)]
mod wire {
    use super::*;

    fn object() -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: None,
            etag: "e1".into(),
            size: 42,
            sequencer: None,
            last_modified: "2026-03-01T00:00:00Z".into(),
        }
    }

    const OBJECT: &str = r#"{"bucket":"landing","key":"orders/a.ndjson","etag":"e1","size":42,"last_modified":"2026-03-01T00:00:00Z"}"#;

    fn pinned<T>(value: &T, expected: &str)
    where
        T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let expected = expected.replace("$OBJECT", OBJECT);
        assert_eq!(serde_json::to_string(value).unwrap(), expected);
        assert_eq!(&serde_json::from_str::<T>(&expected).unwrap(), value);
        // A Value (what dispatch hands the engine and the Lambda runtime) keeps the order.
        assert_eq!(serde_json::to_value(value).unwrap().to_string(), expected);
    }

    fn rows() -> RowCounts {
        RowCounts {
            total: 10,
            valid: 8,
            rejected: 2,
        }
    }

    #[test]
    fn filter_outputs_keep_their_json() {
        pinned(
            &FilterOutput::Accepted {
                object: object(),
                table: "orders".into(),
                ledger_state: None,
            },
            r#"{"status":"accepted","object":$OBJECT,"table":"orders"}"#,
        );
        // A claim taken over: the duplicate's fields, accepted.
        pinned(
            &FilterOutput::Accepted {
                object: object(),
                table: "orders".into(),
                ledger_state: Some(StateName::Claimed),
            },
            r#"{"status":"accepted","object":$OBJECT,"table":"orders","ledger_state":"claimed"}"#,
        );
        pinned(
            &FilterOutput::ResumeCommit {
                object: object(),
                table: Some("orders".into()),
                manifest_key: "_sluice/staging/orders/b1/manifest.json".into(),
                ledger_state: StateName::Staged,
            },
            r#"{"status":"resume_commit","object":$OBJECT,"table":"orders","manifest_key":"_sluice/staging/orders/b1/manifest.json","ledger_state":"staged"}"#,
        );
        pinned(
            &FilterOutput::filtered("bucket \"x\" is not the landing bucket"),
            r#"{"status":"filtered","detail":"bucket \"x\" is not the landing bucket"}"#,
        );
        pinned(
            &FilterOutput::Filtered {
                object: Some(object()),
                detail: "orders/a.ndjson is under no table's prefix".into(),
            },
            r#"{"status":"filtered","object":$OBJECT,"detail":"orders/a.ndjson is under no table's prefix"}"#,
        );
        pinned(
            &FilterOutput::Duplicate {
                object: object(),
                table: Some("orders".into()),
                ledger_state: StateName::Committed,
                detail: None,
            },
            r#"{"status":"duplicate","object":$OBJECT,"table":"orders","ledger_state":"committed"}"#,
        );
        // A live claim held by another execution; an unacceptable key routed to no table.
        pinned(
            &FilterOutput::Duplicate {
                object: object(),
                table: None,
                ledger_state: StateName::Claimed,
                detail: Some("execution x holds the claim".into()),
            },
            r#"{"status":"duplicate","object":$OBJECT,"ledger_state":"claimed","detail":"execution x holds the claim"}"#,
        );
        pinned(
            &FilterOutput::Rejected {
                object: object(),
                table: Some("orders".into()),
                reason: QuarantineReason::TooLarge,
                detail: "too big".into(),
            },
            r#"{"status":"rejected","object":$OBJECT,"table":"orders","reason":"too_large","detail":"too big"}"#,
        );
        pinned(
            &FilterOutput::Rejected {
                object: object(),
                table: None,
                reason: QuarantineReason::UnacceptableKey,
                detail: "bad key".into(),
            },
            r#"{"status":"rejected","object":$OBJECT,"reason":"unacceptable_key","detail":"bad key"}"#,
        );
    }

    #[test]
    fn validate_outputs_keep_their_json() {
        pinned(
            &ValidateOutput::Staged {
                object: object(),
                table: "orders".into(),
                rows: rows(),
                invalid_ratio: 0.2,
                manifest_key: "m.json".into(),
                rejects_key: Some("r.ndjson".into()),
                evolved: vec!["coupon".into()],
            },
            r#"{"status":"staged","object":$OBJECT,"table":"orders","rows":{"total":10,"valid":8,"rejected":2},"invalid_ratio":0.2,"manifest_key":"m.json","rejects_key":"r.ndjson","evolved":["coupon"]}"#,
        );
        pinned(
            &ValidateOutput::Staged {
                object: object(),
                table: "orders".into(),
                rows: RowCounts::default(),
                invalid_ratio: 0.0,
                manifest_key: "m.json".into(),
                rejects_key: None,
                evolved: vec![],
            },
            r#"{"status":"staged","object":$OBJECT,"table":"orders","rows":{"total":0,"valid":0,"rejected":0},"invalid_ratio":0.0,"manifest_key":"m.json"}"#,
        );
        pinned(
            &ValidateOutput::TooManyInvalidRows {
                object: object(),
                table: "orders".into(),
                rows: rows(),
                invalid_ratio: 0.2,
                rejects_key: "r.ndjson".into(),
                detail: "2 of 10 rows rejected".into(),
            },
            r#"{"status":"too_many_invalid_rows","object":$OBJECT,"table":"orders","rows":{"total":10,"valid":8,"rejected":2},"invalid_ratio":0.2,"rejects_key":"r.ndjson","detail":"2 of 10 rows rejected"}"#,
        );
        pinned(
            &ValidateOutput::Filtered {
                object: object(),
                table: "orders".into(),
                rows: RowCounts::default(),
                invalid_ratio: 0.0,
                detail: "holds no rows".into(),
            },
            r#"{"status":"filtered","object":$OBJECT,"table":"orders","rows":{"total":0,"valid":0,"rejected":0},"invalid_ratio":0.0,"detail":"holds no rows"}"#,
        );
        pinned(
            &ValidateOutput::Duplicate {
                object: object(),
                table: "orders".into(),
                rows: rows(),
                invalid_ratio: 0.0,
                rejects_key: Some("r.ndjson".into()),
                detail: "already committed".into(),
                ledger_state: StateName::Committed,
            },
            r#"{"status":"duplicate","object":$OBJECT,"table":"orders","rows":{"total":10,"valid":8,"rejected":2},"invalid_ratio":0.0,"rejects_key":"r.ndjson","detail":"already committed","ledger_state":"committed"}"#,
        );
    }

    #[test]
    fn task_and_replay_inputs_keep_their_json() {
        let task = |status: Option<Origin>| ObjectTask {
            object: object(),
            table: "orders".into(),
            status,
        };
        pinned(
            &task(Some(Origin::Accepted)),
            r#"{"object":$OBJECT,"table":"orders","status":"accepted"}"#,
        );
        pinned(
            &task(Some(Origin::Replay)),
            r#"{"object":$OBJECT,"table":"orders","status":"replay"}"#,
        );
        pinned(&task(None), r#"{"object":$OBJECT,"table":"orders"}"#);
        pinned(
            &ReplayInput {
                status: Origin::Replay,
                object: object(),
                table: "orders".into(),
                quarantine_key: "q.json".into(),
                attempt: 1,
            },
            r#"{"status":"replay","object":$OBJECT,"table":"orders","quarantine_key":"q.json","attempt":1}"#,
        );
    }
}
