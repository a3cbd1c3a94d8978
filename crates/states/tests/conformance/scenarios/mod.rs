//! Scenarios: the conformance cases that need more than one execution or a closer look than
//! the corpus table gives (retry delays on the clock, redrive, the history of a Map). Each is
//! an example from the Amazon States Language specification (states-language.net, cited as
//! "spec, <section>"), the AWS Step Functions developer guide (cited as "guide, <page>") or a
//! recording made against AWS (cited as "recorded, <test>"), run through the engine end to
//! end with its durable store. One module per state type and per input/output field.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_states::clock::ManualClock;
use sluice_states::{
    Engine, EngineError, Execution, Registry, StartRequest, StatesError, Status, TaskCall,
    TaskHandler,
};

type Fun = dyn Fn(Value, u32) -> Result<Value, StatesError> + Send + Sync;

/// A task handler from a closure of (input, attempt).
struct FnHandler(Box<Fun>);

#[async_trait::async_trait]
impl TaskHandler for FnHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        (self.0)(call.input, call.attempt)
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    engine: Engine,
    clock: Arc<ManualClock>,
}

fn handlers() -> HashMap<&'static str, Box<Fun>> {
    HashMap::new()
}

async fn rig(tasks: HashMap<&'static str, Box<Fun>>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    registry.set_fallback(Arc::new(sluice_states::EchoHandler));
    for (name, f) in tasks {
        registry.bind(name, Arc::new(FnHandler(f)));
    }
    let clock = Arc::new(ManualClock::new("2026-03-14T01:59:00Z".parse().unwrap()));
    let engine = Engine::open(&dir.path().join("executions.db"), registry)
        .await
        .unwrap()
        .with_clock(clock.clone())
        .with_objects(Arc::new(sluice_states::items::DirObjects::new(
            dir.path().join("buckets"),
        )));
    Rig {
        _dir: dir,
        engine,
        clock,
    }
}

impl Rig {
    async fn start(&self, name: &str, def: &Value, input: Value) -> Result<Execution, EngineError> {
        self.engine
            .start(StartRequest {
                state_machine: "conformance".into(),
                definition: def.to_string(),
                name: name.into(),
                input,
            })
            .await
            .map(|o| o.execution)
    }

    async fn run(&self, def: &Value, input: Value) -> Execution {
        let n = self
            .engine
            .store()
            .counts()
            .await
            .unwrap()
            .iter()
            .map(|c| c.1)
            .sum::<u64>();
        self.start(&format!("e{n}"), def, input).await.unwrap()
    }

    async fn output(&self, def: &Value, input: Value) -> Value {
        let e = self.run(def, input).await;
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        e.output.unwrap()
    }

    async fn failure(&self, def: &Value, input: Value) -> (String, String) {
        let e = self.run(def, input).await;
        assert_eq!(e.status, Status::Failed, "{e:?}");
        (e.error.unwrap_or_default(), e.cause.unwrap_or_default())
    }

    async fn kinds(&self, name: &str) -> Vec<String> {
        self.engine
            .history(name)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// A one-state machine.
fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

mod execution_api;
mod flow;
mod intrinsic_functions;
mod jsonata_states;
mod parallel_map;
mod paths;
mod task_state;
mod workflow_variables;
