//! [`Executions`]: the one port `sluice executions list|describe|history` reads, with the
//! workspace's engine behind it locally ([`LocalExecutions`]) and Step Functions with
//! `--aws` (`SfnExecutions`, in aws.rs). The commands print what either returns the same way
//! (print.rs), so the local and the deployed view look alike, and neither side imports
//! the other.

use std::path::Path;
use std::str::FromStr;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sluice_local::STATE_MACHINE;
use sluice_states::history::Event;
use sluice_states::{Engine, Execution, Registry, Status};

use crate::workspace::Workspace;

/// One execution in a listing.
#[derive(Debug, Clone)]
pub struct Listed {
    pub name: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (or PENDING_REDRIVE on AWS).
    pub status: String,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    /// The error name, for one that did not succeed.
    pub error: Option<String>,
    /// The line `--json` prints: DescribeExecution's fields as the side has them.
    pub json: Value,
}

/// One event of an execution's history.
#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub id: i64,
    pub kind: String,
    pub time: String,
    /// The fields an operator reads on one line: state, resource, error, cause; no payloads.
    pub brief: String,
    /// The event as GetExecutionHistory shapes it, for `--json`.
    pub json: Value,
}

/// Executions of a state machine, wherever they run.
#[async_trait::async_trait]
pub trait Executions: Send + Sync {
    /// Newest first, at most `limit`, only in `status` if given (a name Step Functions uses).
    async fn list(&self, status: Option<&str>, limit: u32) -> anyhow::Result<Vec<Listed>>;
    /// DescribeExecution's fields as JSON.
    async fn describe(&self, name: &str) -> anyhow::Result<Value>;
    /// Every event, oldest first.
    async fn history(&self, name: &str) -> anyhow::Result<Vec<HistoryRow>>;
    /// Lines printed under a listing: counts by status, how to redrive what waits for it.
    async fn footer(&self, shown: usize) -> anyhow::Result<Vec<String>>;
}

/// The workspace's engine: every execution it ran, its history in SQLite.
pub struct LocalExecutions {
    engine: Engine,
}

impl LocalExecutions {
    /// The execution store alone (no task is bound: nothing runs through this port).
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        let path = Workspace::new(root).executions();
        if !path.exists() {
            bail!(
                "no executions yet: {} does not exist (run `sluice ingest` first)",
                path.display()
            );
        }
        Ok(LocalExecutions {
            engine: Engine::open(&path, Registry::new()).await?,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// `--status` as the engine spells it.
pub fn parse_status(status: &str) -> anyhow::Result<Status> {
    Status::from_str(&status.to_ascii_uppercase()).map_err(|e| anyhow::anyhow!("--status: {e}"))
}

#[async_trait::async_trait]
impl Executions for LocalExecutions {
    async fn list(&self, status: Option<&str>, limit: u32) -> anyhow::Result<Vec<Listed>> {
        let status = status.map(parse_status).transpose()?;
        let executions = self.engine.list(status, limit).await?;
        executions
            .iter()
            .map(|e| {
                Ok(Listed {
                    name: e.name.clone(),
                    status: e.status.as_str().to_string(),
                    start: e.start_date,
                    stop: e.stop_date,
                    redrive_count: e.redrive_count,
                    error: e.error.clone(),
                    json: serde_json::to_value(e)?,
                })
            })
            .collect()
    }

    async fn describe(&self, name: &str) -> anyhow::Result<Value> {
        described(&self.engine.describe(name).await?)
    }

    async fn history(&self, name: &str) -> anyhow::Result<Vec<HistoryRow>> {
        let events = self.engine.history(name).await?;
        Ok(events
            .iter()
            .map(|e| HistoryRow {
                id: e.id as i64,
                kind: e.kind.clone(),
                time: e.timestamp.format("%H:%M:%S%.3f").to_string(),
                brief: brief(&e.details),
                json: Event::to_aws(e),
            })
            .collect())
    }

    async fn footer(&self, _shown: usize) -> anyhow::Result<Vec<String>> {
        let counts = self.engine.store().counts().await?;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let parts: Vec<String> = counts
            .iter()
            .map(|(s, n)| format!("{n} {}", s.as_str()))
            .collect();
        let mut lines = vec![format!("{total} executions: {}", parts.join(", "))];
        // A RUNNING one whose process is gone was marked ABORTED by the listing: it counts.
        let waiting: u64 = counts
            .iter()
            .filter(|(s, _)| s.is_redrivable())
            .map(|(_, n)| n)
            .sum();
        if waiting > 0 {
            lines.push(format!(
                "{waiting} can be redriven (FAILED, TIMED_OUT or ABORTED; ABORTED: its process stopped \
                 before it finished): `sluice redrive NAME`, or every one: `sluice redrive --all`"
            ));
        }
        Ok(lines)
    }
}

/// DescribeExecution's fields; for an execution of the ingest definition, right after its
/// `status`, the arrival's `outcome` (committed, quarantined and why, ...). The `output` is
/// the state document as the definition left it, whose own `status` is the last step's
/// word (a file Filter accepted and DetectDrift then sent to quarantine still says `accepted`
/// there): `outcome` is what became of the file.
fn described(e: &Execution) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(e)?;
    v["stateMachineArn"] = Value::String(sluice_states::store::state_machine_arn(&e.state_machine));
    if e.state_machine != STATE_MACHINE || e.status == Status::Running {
        return Ok(v);
    }
    let report = sluice_local::report::report(e, &[]);
    let mut outcome = serde_json::to_value(&report.outcome)?;
    if let Some(detail) = &report.detail {
        outcome["detail"] = Value::String(detail.clone());
    }
    let Value::Object(fields) = v else {
        return Ok(v);
    };
    let mut ordered = serde_json::Map::new();
    for (k, value) in fields {
        let after_status = k == "status";
        ordered.insert(k, value);
        if after_status {
            ordered.insert("outcome".into(), outcome.clone());
        }
    }
    Ok(Value::Object(ordered))
}

/// One line of an event's details: the state, resource, error; no payloads.
pub fn brief(details: &Value) -> String {
    let Some(m) = details.as_object() else {
        return String::new();
    };
    let mut parts = vec![];
    for k in [
        "name",
        "resource",
        "index",
        "length",
        "error",
        "redriveCount",
    ] {
        if let Some(v) = m.get(k) {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k}={text}"));
        }
    }
    if let Some(Value::String(cause)) = m.get("cause") {
        let cut: String = cause.chars().take(160).collect();
        parts.push(format!("cause={cut}"));
    }
    parts.join(" ")
}
