//! Backfill on a laptop: `statemachine/backfill.asl.json`, the very file CDK deploys, on
//! sluice's engine. Its `${ReconcileFunctionArn}` is bound to the plan in process
//! ([`sluice_steps::backfill::plan`]), its Distributed Map reads the manifest from the
//! workspace's bucket, and `arn:aws:states:::states:startExecution.sync:2` runs each child as
//! an ingest execution on the same engine, under the name the manifest gives it, waiting for
//! its end as `.sync:2` does. A name that exists already fails the task with
//! `StepFunctions.ExecutionAlreadyExistsException`, as StartExecution does on AWS for a
//! closed execution, which the definition catches.
//!
//! Limit: the engine keeps a Distributed Map's iterations in the backfill execution's own
//! history (about 8 events per child), and a history holds at most 25,000 events, so one
//! local backfill runs about 3,000 children; a larger prefix is backfilled in parts (by
//! longer prefixes). On AWS each child workflow has its own history.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sluice_states::items::{ObjectInfo, Objects};
use sluice_states::{
    Engine, Execution, Registry, StartRequest, StatesError, Status, TaskCall, TaskHandler,
};
use sluice_steps::backfill::{self, BackfillPlan, BackfillRequest};
use sluice_steps::payload::Arrival;
use sluice_steps::reconcile::slug;
use sluice_store::ObjectStore;

use crate::bind::{to_states_error, STATE_MACHINE};
use crate::{ArrivalReport, Local, LocalError};

/// The definition CDK deploys as the backfill state machine, compiled in.
pub const DEFINITION: &str = include_str!("../../../statemachine/backfill.asl.json");

/// The local backfill state machine's name.
pub const BACKFILL_STATE_MACHINE: &str = "sluice-backfill";

/// The local resource `${ReconcileFunctionArn}` becomes: the plan, in process.
pub const PLAN_RESOURCE: &str = "sluice:backfill_plan";

/// Step Functions' optimized integration the Map's items run: start an execution, wait.
pub const START_EXECUTION_SYNC: &str = "arn:aws:states:::states:startExecution.sync:2";

/// The error StartExecution answers for a name that exists (closed) already.
pub const ALREADY_EXISTS: &str = "StepFunctions.ExecutionAlreadyExistsException";

/// The ARN `${IngestStateMachineArn}` becomes locally (the handler runs the ingest
/// definition whatever it names, but checks that it is this one).
pub fn ingest_state_machine_arn() -> String {
    format!("arn:aws:states:local:000000000000:stateMachine:{STATE_MACHINE}")
}

/// The definition with its placeholders bound to the local resources.
pub fn definition() -> Result<String, Vec<String>> {
    let values: HashMap<String, String> = [
        (
            "ReconcileFunctionArn".to_string(),
            PLAN_RESOURCE.to_string(),
        ),
        (
            "IngestStateMachineArn".to_string(),
            ingest_state_machine_arn(),
        ),
    ]
    .into_iter()
    .collect();
    sluice_states::parse::substitute(DEFINITION, &values)
}

/// A backfill's name: the table and the time it started (a backfill is an event in time;
/// the names of its children, not its own, make it exactly once).
pub fn backfill_name(table: &str, now: &str) -> String {
    let stamp: String = now.chars().filter(char::is_ascii_alphanumeric).collect();
    format!("backfill-{}-{stamp}", slug(table, 40))
}

/// What one backfill did.
#[derive(Debug, Clone)]
pub struct Backfilled {
    /// The backfill execution as it ended.
    pub execution: Execution,
    /// The last plan's counts (of every part), when the plan ran.
    pub plan: Option<BackfillPlan>,
    /// The child ingest executions it ran, in the order they ended.
    pub ran: Vec<ArrivalReport>,
    /// Children whose name existed already (an event, reconcile or earlier backfill started
    /// them): nothing ran for them now.
    pub already_started: Vec<String>,
}

/// What the handlers record while the backfill runs.
#[derive(Default)]
struct Tally {
    plan: Option<BackfillPlan>,
    ran: Vec<ArrivalReport>,
    already_started: Vec<String>,
}

impl Local {
    /// Backfills `prefix` (default: the table's) of `table`: runs the backfill definition as
    /// execution `name` on an engine over the same execution store `db` (see the module docs),
    /// planning `part_versions` versions at a time
    /// ([`sluice_steps::backfill::DEFAULT_PART_VERSIONS`] is the stack's default).
    /// `on_child` is called as every child ends (progress).
    pub async fn backfill(
        &self,
        db: &Path,
        table: &str,
        prefix: Option<&str>,
        name: &str,
        part_versions: usize,
        on_child: Arc<dyn Fn(&ArrivalReport) + Send + Sync>,
    ) -> Result<Backfilled, LocalError> {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let mut registry = Registry::new();
        registry.bind(
            PLAN_RESOURCE,
            Arc::new(PlanHandler {
                local: self.clone(),
                tally: tally.clone(),
                part_versions,
            }),
        );
        registry.bind(
            START_EXECUTION_SYNC,
            Arc::new(StartSync {
                local: self.clone(),
                tally: tally.clone(),
                on_child,
            }),
        );
        let engine = Engine::open(db, registry)
            .await?
            .with_objects(Arc::new(StoreObjects(self.ctx.store.clone())));
        let definition = definition().map_err(LocalError::Unbound)?;
        let mut input = json!({ "table": table });
        if let Some(p) = prefix {
            input["prefix"] = json!(p);
        }
        let outcome = engine
            .start(StartRequest {
                state_machine: BACKFILL_STATE_MACHINE.to_string(),
                definition,
                name: name.to_string(),
                input,
            })
            .await?;
        let tally = std::mem::take(&mut *tally.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(Backfilled {
            execution: outcome.execution,
            plan: tally.plan,
            ran: tally.ran,
            already_started: tally.already_started,
        })
    }
}

/// `${ReconcileFunctionArn}` with `{"backfill": {...}}`: the plan of one part.
struct PlanHandler {
    local: Local,
    tally: Arc<Mutex<Tally>>,
    part_versions: usize,
}

#[async_trait::async_trait]
impl TaskHandler for PlanHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let request: BackfillRequest = call
            .input
            .get("backfill")
            .cloned()
            .ok_or_else(|| "the input has no \"backfill\"".to_string())
            .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
            .map_err(|e| StatesError::new("BadInput", format!("backfill plan input: {e}")))?;
        let plan = backfill::plan(&self.local.ctx, &request, self.part_versions)
            .await
            .map_err(to_states_error)?;
        let out = serde_json::to_value(&plan).map_err(|e| StatesError::runtime(e.to_string()))?;
        if let Ok(mut t) = self.tally.lock() {
            t.plan = Some(plan);
        }
        Ok(out)
    }
}

/// `arn:aws:states:::states:startExecution.sync:2`: the child ingest, in process.
struct StartSync {
    local: Local,
    tally: Arc<Mutex<Tally>>,
    on_child: Arc<dyn Fn(&ArrivalReport) + Send + Sync>,
}

#[async_trait::async_trait]
impl TaskHandler for StartSync {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let bad = |m: String| StatesError::new("StepFunctions.InvalidArnException", m);
        let arn = call.input["StateMachineArn"].as_str().unwrap_or_default();
        if arn != ingest_state_machine_arn() {
            return Err(bad(format!(
                "only the ingest state machine ({}) runs locally, not {arn:?}",
                ingest_state_machine_arn()
            )));
        }
        let name = call.input["Name"]
            .as_str()
            .ok_or_else(|| {
                StatesError::new("States.Runtime", "startExecution.sync:2 needs a Name")
            })?
            .to_string();
        // `Input` is JSON, or a string of JSON as StartExecution's API takes it.
        let input = match &call.input["Input"] {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            v => v.clone(),
        };
        let arrival: Arrival = serde_json::from_value(input).map_err(|e| {
            StatesError::new(
                "StepFunctions.InvalidExecutionInputException",
                format!("execution {name}: the input is not an arrival: {e}"),
            )
        })?;
        let engine = &self.local.engine;
        // StartExecution of a name that exists: the same execution while it runs (the
        // start below waits for it), ExecutionAlreadyExists once it is closed.
        if let Ok(existing) = engine.describe(&name).await {
            if existing.status != Status::Running {
                if let Ok(mut t) = self.tally.lock() {
                    t.already_started.push(name.clone());
                }
                return Err(StatesError::new(
                    ALREADY_EXISTS,
                    format!("Execution Already Exists: '{}'", existing.execution_arn),
                ));
            }
        }
        let report = self
            .local
            .ingest_as(&arrival, name.clone())
            .await
            .map_err(|e| StatesError::new("States.TaskFailed", e.to_string()))?;
        (self.on_child)(&report);
        let execution = engine
            .describe(&name)
            .await
            .map_err(|e| StatesError::new("States.TaskFailed", e.to_string()))?;
        let unfinished = report.unfinished;
        if let Ok(mut t) = self.tally.lock() {
            t.ran.push(report);
        }
        // `.sync:2`'s output is DescribeExecution's, the output as JSON; a child that did
        // not succeed fails the task with that as the cause.
        let described = json!({
            "ExecutionArn": execution.execution_arn,
            "StateMachineArn": arn,
            "Name": execution.name,
            "Status": execution.status.as_str(),
            "StartDate": execution.start_date.timestamp_millis(),
            "StopDate": execution.stop_date.map(|d| d.timestamp_millis()),
            "Input": execution.input,
            "Output": execution.output,
        });
        if unfinished || execution.status != Status::Succeeded {
            return Err(StatesError::new("States.TaskFailed", described.to_string()));
        }
        Ok(described)
    }
}

/// The workspace's bucket as the engine's `Objects` (ItemReader, ResultWriter).
struct StoreObjects(Arc<dyn ObjectStore>);

impl StoreObjects {
    fn check(&self, bucket: &str) -> Result<(), String> {
        if bucket == self.0.bucket() {
            Ok(())
        } else {
            Err(format!(
                "no bucket {bucket:?} here: only the workspace's bucket {:?}",
                self.0.bucket()
            ))
        }
    }
}

#[async_trait::async_trait]
impl Objects for StoreObjects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        self.check(bucket)?;
        match self.0.get_bytes(key).await {
            Ok(Some((bytes, _))) => Ok(bytes.to_vec()),
            Ok(None) => Err(format!("s3://{bucket}/{key}: no such key")),
            Err(e) => Err(format!("s3://{bucket}/{key}: {e}")),
        }
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
        self.check(bucket)?;
        self.0
            .put(key, body.into())
            .await
            .map(|_| ())
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, String> {
        self.check(bucket)?;
        let listed = self
            .0
            .list(prefix)
            .await
            .map_err(|e| format!("s3://{bucket}/{prefix}: {e}"))?;
        Ok(listed
            .into_iter()
            .map(|m| ObjectInfo {
                key: m.key,
                size: m.size,
                etag: m.etag,
                last_modified: m.last_modified,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_binds_and_passes_the_engines_static_checks() {
        let text = definition().expect("every placeholder has a value");
        assert!(!text.contains("${"), "unbound placeholder left");
        assert!(text.contains(PLAN_RESOURCE));
        assert!(text.contains(START_EXECUTION_SYNC));
        if let Err(problems) = sluice_states::parse_definition(&text) {
            panic!("statemachine/backfill.asl.json:\n{problems}");
        }
    }

    #[test]
    fn backfill_names_are_execution_names() {
        let n = backfill_name("orders", "2026-12-06T09:30:01.123Z");
        assert_eq!(n, "backfill-orders-20261206T093001123Z");
        sluice_states::engine::check_name(&n).unwrap();
    }
}
