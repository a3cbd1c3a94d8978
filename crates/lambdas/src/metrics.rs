//! Metrics as CloudWatch embedded metric format (EMF) documents: one JSON line on stdout,
//! which CloudWatch Logs turns into metrics in namespace `sluice`, by dimension `Stack` (the
//! stack's name, `SLUICE_STACK`; what the CDK app's alarms and dashboard read) and, for the
//! metrics of one table, by `Stack` and `Table` too, so two stacks or two tables in one account
//! never share a metric. Without `SLUICE_STACK` (a binary run outside the stack) the metrics
//! have no dimensions. No client, no API call, no row data.
//!
//! Which step emits what: commit `RowsCommitted`, `CommitLatency` and `EventToCommitLag`
//! (the object's last-modified time to now), validate `RowsRejected`, quarantine
//! `FilesQuarantined` (by `Table` too when the object was routed to one) and, for a file that
//! waits on a schema change a person must decide (`sluice drift`), `DriftPending`; the reconcile function, per table and run, `OldestUnfinishedAge` (how
//! long the oldest version not yet committed, filtered or quarantined had waited since it
//! landed; zero when none waits), `UnfinishedObjects` and `ReconcileStarted` (executions it
//! had to start: events lost, or not yet delivered).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sluice_steps::dispatch::StepOutput;
use sluice_steps::reconcile::Watermark;

/// The namespace every sluice metric is published in.
pub const NAMESPACE: &str = "sluice";

/// A CloudWatch unit (the subset sluice uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One value of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub value: f64,
}

/// Where the metrics are from: the stack (`SLUICE_STACK`) and, for a table's metrics, the
/// table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dimensions {
    pub stack: Option<String>,
    pub table: Option<String>,
}

impl Dimensions {
    /// The stack from `SLUICE_STACK`, and `table`.
    pub fn from_env(table: Option<&str>) -> Self {
        Dimensions {
            stack: std::env::var("SLUICE_STACK").ok().filter(|s| !s.is_empty()),
            table: table.map(str::to_string),
        }
    }

    /// EMF's dimension sets: `[["Stack"], ["Stack", "Table"]]`, `[["Stack"]]`, or `[[]]`.
    fn sets(&self) -> Value {
        match (&self.stack, &self.table) {
            (Some(_), Some(_)) => json!([["Stack"], ["Stack", "Table"]]),
            (Some(_), None) => json!([["Stack"]]),
            (None, _) => json!([[]]),
        }
    }
}

/// The EMF document for `metrics` at `at`: `{"_aws": {"Timestamp", "CloudWatchMetrics":
/// [{"Namespace", "Dimensions": [["Stack"], ["Stack", "Table"]], "Metrics": [{"Name",
/// "Unit"}]}]}, "Stack": …, "Table": …, "<Name>": value}`.
pub fn document(metrics: &[Metric], dims: &Dimensions, at: DateTime<Utc>) -> Value {
    let mut root = Map::new();
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit.name()}))
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dims.sets(),
                "Metrics": definitions,
            }],
        }),
    );
    if let Some(stack) = &dims.stack {
        root.insert("Stack".into(), json!(stack));
        if let Some(table) = &dims.table {
            root.insert("Table".into(), json!(table));
        }
    }
    for m in metrics {
        root.insert(m.name.into(), json!(m.value));
    }
    Value::Object(root)
}

/// Prints the metrics as one EMF line on stdout; nothing when there are none.
pub fn emit(metrics: &[Metric], dims: &Dimensions) {
    if metrics.is_empty() {
        return;
    }
    println!("{}", document(metrics, dims, Utc::now()));
}

/// The table a step's output is about, when its metrics are a table's.
pub fn table_of(output: &StepOutput) -> Option<&str> {
    match output {
        StepOutput::Commit(c) => Some(&c.table),
        StepOutput::Retract(r) => Some(&r.table),
        StepOutput::Validate(v) => Some(v.table()),
        StepOutput::Quarantine(q) => q.table.as_deref(),
        _ => None,
    }
}

/// The metrics a step's successful output stands for. `took` is the invocation's duration,
/// `now` the time it ended.
pub fn of_output(output: &StepOutput, took: Duration, now: DateTime<Utc>) -> Vec<Metric> {
    let count = |name, value: f64| Metric {
        name,
        unit: Unit::Count,
        value,
    };
    let millis = |name, value: f64| Metric {
        name,
        unit: Unit::Milliseconds,
        value,
    };
    match output {
        StepOutput::Commit(commit) => {
            let mut out = vec![
                count("RowsCommitted", commit.rows as f64),
                millis("CommitLatency", took.as_millis() as f64),
            ];
            let landed = DateTime::parse_from_rfc3339(&commit.object.last_modified).ok();
            if let Some(landed) = landed {
                let lag = (now - landed.with_timezone(&Utc)).num_milliseconds().max(0);
                out.push(millis("EventToCommitLag", lag as f64));
            }
            out
        }
        StepOutput::Validate(v) => vec![count("RowsRejected", v.rows().rejected as f64)],
        StepOutput::Quarantine(q) => {
            let mut out = vec![count("FilesQuarantined", 1.0)];
            if q.drift_change.is_some() {
                out.push(count("DriftPending", 1.0));
            }
            out
        }
        StepOutput::Retract(r) => vec![count("VersionsRetracted", r.versions as f64)],
        StepOutput::Filter(_) | StepOutput::DetectDrift(_) => vec![],
    }
}

/// The metrics of one reconciliation of a table: `mark` as it left it, and how many
/// executions it started (or handed to a backfill).
pub fn of_reconciliation(mark: &Watermark, started: usize) -> Vec<Metric> {
    vec![
        Metric {
            name: "OldestUnfinishedAge",
            unit: Unit::Milliseconds,
            value: mark.waiting().as_millis() as f64,
        },
        Metric {
            name: "UnfinishedObjects",
            unit: Unit::Count,
            value: mark.unfinished as f64,
        },
        Metric {
            name: "ReconcileStarted",
            unit: Unit::Count,
            value: started as f64,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::ledger::RowCounts;
    use sluice_core::{ObjectVersion, QuarantineReason};
    use sluice_steps::payload::{CommitOutput, FilterOutput, QuarantineOutput, ValidateOutput};

    fn object(last_modified: &str) -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: None,
            etag: "e".into(),
            size: 1,
            sequencer: None,
            last_modified: last_modified.into(),
        }
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Outside a stack: namespace `sluice`, one empty dimension set (no dimensions), the
    /// metric's value at the root under its name.
    #[test]
    fn files_quarantined_is_a_dimensionless_count_in_the_sluice_namespace() {
        let quarantined = StepOutput::Quarantine(QuarantineOutput {
            object: object(""),
            table: None,
            reason: QuarantineReason::ParseError,
            record_key: "q.json".into(),
            drift_change: None,
        });
        let metrics = of_output(&quarantined, Duration::ZERO, at());
        let doc = document(&metrics, &Dimensions::default(), at());
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1772366400000i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "sluice",
                        "Dimensions": [[]],
                        "Metrics": [{"Name": "FilesQuarantined", "Unit": "Count"}],
                    }],
                },
                "FilesQuarantined": 1.0,
            })
        );
        // One line: CloudWatch Logs reads one log event per line.
        assert!(!doc.to_string().contains('\n'));
    }

    /// In a stack: by `Stack` (what the CDK app's alarms read) and by `Stack` and `Table`,
    /// with both values at the root; a quarantine's metric has no table.
    #[test]
    fn in_a_stack_metrics_carry_the_stack_and_the_table() {
        let dims = Dimensions {
            stack: Some("Sluice".into()),
            table: Some("orders".into()),
        };
        let doc = document(
            &[Metric {
                name: "RowsCommitted",
                unit: Unit::Count,
                value: 3.0,
            }],
            &dims,
            at(),
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack"], ["Stack", "Table"]])
        );
        assert_eq!(doc["Stack"], "Sluice");
        assert_eq!(doc["Table"], "orders");
        let stack_only = Dimensions {
            stack: Some("Sluice".into()),
            table: None,
        };
        let doc = document(
            &[Metric {
                name: "FilesQuarantined",
                unit: Unit::Count,
                value: 1.0,
            }],
            &stack_only,
            at(),
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack"]])
        );
        assert!(doc.get("Table").is_none());
    }

    #[test]
    fn commit_reports_rows_latency_and_lag() {
        let output = StepOutput::Commit(CommitOutput {
            object: object("2026-03-01T11:59:30Z"),
            table: "orders".into(),
            snapshot_id: 1,
            rows: 20,
            already_committed: false,
            snapshot_ms: None,
            group: 1,
            superseded: false,
            replaced: 0,
        });
        let metrics = of_output(&output, Duration::from_millis(850), at());
        let doc = document(&metrics, &Dimensions::default(), at());
        assert_eq!(doc["RowsCommitted"], 20.0);
        assert_eq!(doc["CommitLatency"], 850.0);
        assert_eq!(doc["EventToCommitLag"], 30_000.0);
        let names: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["RowsCommitted", "CommitLatency", "EventToCommitLag"]
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["Unit"],
            "Milliseconds"
        );
    }

    #[test]
    fn a_quarantined_file_routed_to_a_table_counts_by_that_table() {
        let routed = StepOutput::Quarantine(QuarantineOutput {
            object: object(""),
            table: Some("orders".into()),
            reason: QuarantineReason::ContractViolation,
            record_key: "q.json".into(),
            drift_change: None,
        });
        assert_eq!(table_of(&routed), Some("orders"));
        let dims = Dimensions {
            stack: Some("Prod".into()),
            table: table_of(&routed).map(str::to_string),
        };
        let doc = document(&of_output(&routed, Duration::ZERO, at()), &dims, at());
        assert_eq!(doc["Table"], "orders");
        assert_eq!(doc["FilesQuarantined"], 1.0);
        assert!(doc.get("DriftPending").is_none(), "{doc}");
        // A file waiting on a schema change a person must decide is counted as such too.
        let waiting = StepOutput::Quarantine(QuarantineOutput {
            object: object(""),
            table: Some("orders".into()),
            reason: QuarantineReason::DriftBlocked,
            record_key: "q.json".into(),
            drift_change: Some("dc3828d5ad7".into()),
        });
        let doc = document(&of_output(&waiting, Duration::ZERO, at()), &dims, at());
        assert_eq!(doc["FilesQuarantined"], 1.0);
        assert_eq!(doc["DriftPending"], 1.0);
    }

    #[test]
    fn validate_reports_rejected_rows_and_filter_nothing() {
        let output = StepOutput::Validate(ValidateOutput::Staged {
            object: object(""),
            table: "orders".into(),
            rows: RowCounts {
                total: 20,
                valid: 18,
                rejected: 2,
            },
            invalid_ratio: 0.1,
            manifest_key: "m.json".into(),
            rejects_key: Some("r.ndjson".into()),
            evolved: vec![],
        });
        let metrics = of_output(&output, Duration::ZERO, at());
        assert_eq!(
            metrics,
            [Metric {
                name: "RowsRejected",
                unit: Unit::Count,
                value: 2.0
            }]
        );
        let filtered = StepOutput::Filter(FilterOutput::filtered("not for us"));
        assert!(of_output(&filtered, Duration::ZERO, at()).is_empty());
    }

    #[test]
    fn a_reconciliation_reports_how_long_its_oldest_unfinished_object_waited_by_table() {
        let mark = Watermark {
            table: "orders".into(),
            watermark: Some("2026-03-01T09:00:00Z".into()),
            objects: 5,
            unfinished: 2,
            oldest_unfinished: Some("2026-03-01T10:30:00Z".into()),
            oldest_unfinished_key: Some("orders/b.ndjson".into()),
            at: "2026-03-01T12:00:00.000Z".into(),
        };
        let dims = Dimensions {
            stack: Some("Prod".into()),
            table: Some("orders".into()),
        };
        let doc = document(&of_reconciliation(&mark, 3), &dims, at());
        assert_eq!(doc["OldestUnfinishedAge"], 90.0 * 60_000.0);
        assert_eq!(doc["UnfinishedObjects"], 2.0);
        assert_eq!(doc["ReconcileStarted"], 3.0);
        assert_eq!(
            (doc["Stack"].as_str(), doc["Table"].as_str()),
            (Some("Prod"), Some("orders"))
        );
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack"], ["Stack", "Table"]])
        );
        // All done: nothing waits, however old the watermark.
        let quiet = Watermark {
            unfinished: 0,
            oldest_unfinished: None,
            oldest_unfinished_key: None,
            ..mark
        };
        assert_eq!(
            document(&of_reconciliation(&quiet, 0), &dims, at())["OldestUnfinishedAge"],
            0.0
        );
    }
}
