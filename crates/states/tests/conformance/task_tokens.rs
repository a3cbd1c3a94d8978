//! The callback API as a worker uses it: the token reaches the worker through the task's
//! request, and the worker answers through another engine on the same store (as `sluice task
//! success` does from another process). Errors as the SendTask* API reference names them.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sluice_states::{
    Engine, EngineError, Registry, StartRequest, StatesError, Status, TaskCall, TaskHandler,
};

/// Hands each task token it is invoked with to the test.
struct Worker(Mutex<Option<tokio::sync::oneshot::Sender<String>>>);

#[async_trait::async_trait]
impl TaskHandler for Worker {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let sender = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(s), Some(t)) = (sender, call.task_token) {
            let _ = s.send(t);
        }
        Ok(json!({"MessageId": "m-1"}))
    }
}

const SQS: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

/// api, SendTaskSuccess / SendTaskHeartbeat: a callback through another engine on the same
/// store ends the waiting task; a second one is TaskTimedOut, a token of the wrong shape
/// InvalidToken, one no task waits with TaskDoesNotExist.
// See: #22
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_answers_through_the_store_from_another_engine() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("executions.db");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut registry = Registry::new();
    registry.bind(SQS, Arc::new(Worker(Mutex::new(Some(tx)))));
    let runner = Engine::open(&db, registry).await.unwrap();
    let definition = json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Task",
        "Resource": SQS, "HeartbeatSeconds": 30, "TimeoutSeconds": 300,
        "Parameters": {"MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": true}}});
    let running = tokio::spawn(async move {
        runner
            .start(StartRequest {
                state_machine: "callbacks".into(),
                definition: definition.to_string(),
                name: "wait-for-worker".into(),
                input: json!({}),
            })
            .await
    });
    let token = rx.await.unwrap();
    let worker = Engine::open(&db, Registry::new()).await.unwrap();
    worker.send_task_heartbeat(&token).await.unwrap();
    worker
        .send_task_success(&token, &json!({"done": 1}))
        .await
        .unwrap();
    let ended = running.await.unwrap().unwrap().execution;
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    assert_eq!(ended.output, Some(json!({"done": 1})));

    let again = worker.send_task_success(&token, &json!(2)).await;
    assert!(
        matches!(again, Err(EngineError::TaskTimedOut { .. })),
        "{again:?}"
    );
    let late = worker.send_task_heartbeat(&token).await;
    assert!(
        matches!(late, Err(EngineError::TaskTimedOut { .. })),
        "{late:?}"
    );
    let bad = worker.send_task_failure("not-a-token", "E", "C").await;
    assert!(
        matches!(bad, Err(EngineError::InvalidToken { .. })),
        "{bad:?}"
    );
    let last = if token.ends_with('0') { "1" } else { "0" };
    let unknown = format!("{}{last}", &token[..token.len() - 1]);
    let none = worker.send_task_success(&unknown, &json!(1)).await;
    assert!(
        matches!(none, Err(EngineError::TaskDoesNotExist { .. })),
        "{none:?}"
    );
}

/// api, SendTaskSuccess (InvalidOutput): an output over 256 KiB is refused, and the task
/// still waits for a valid one.
// See: #22
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_output_over_256_kib_is_invalid_output() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("executions.db");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut registry = Registry::new();
    registry.bind(SQS, Arc::new(Worker(Mutex::new(Some(tx)))));
    let runner = Engine::open(&db, registry).await.unwrap();
    let definition = json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Task",
        "Resource": SQS, "TimeoutSeconds": 300, "End": true}}});
    let running = tokio::spawn(async move {
        runner
            .start(StartRequest {
                state_machine: "callbacks".into(),
                definition: definition.to_string(),
                name: "big-output".into(),
                input: json!({}),
            })
            .await
    });
    let token = rx.await.unwrap();
    let big = json!("x".repeat(262_144));
    let refused = running_engine(&db)
        .await
        .send_task_success(&token, &big)
        .await;
    assert!(
        matches!(refused, Err(EngineError::InvalidOutput { .. })),
        "{refused:?}"
    );
    running_engine(&db)
        .await
        .send_task_failure(&token, "Worker.Gave.Up", "too big")
        .await
        .unwrap();
    let ended = running.await.unwrap().unwrap().execution;
    assert_eq!(ended.status, Status::Failed);
    assert_eq!(ended.error.as_deref(), Some("Worker.Gave.Up"));
}

async fn running_engine(db: &std::path::Path) -> Engine {
    Engine::open(db, Registry::new()).await.unwrap()
}

/// Fails the task if invoked: a redriven callback task must not send its request again.
struct NotAgain;

#[async_trait::async_trait]
impl TaskHandler for NotAgain {
    async fn invoke(&self, _: TaskCall) -> Result<Value, StatesError> {
        Err(StatesError::new(
            "Conformance.InvokedAgain",
            "the request went out twice",
        ))
    }
}

/// guide, "Redriving executions" with a callback task: the process waiting for a token
/// stops; the worker's SendTaskSuccess is kept in the store; the redrive takes over the
/// same token and reads that answer, without sending the request again.
// See: #22
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_sent_while_the_runner_is_gone_is_read_by_the_redrive() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("executions.db");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut registry = Registry::new();
    registry.bind(SQS, Arc::new(Worker(Mutex::new(Some(tx)))));
    let runner = Engine::open(&db, registry).await.unwrap();
    let definition = json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Task",
        "Resource": SQS, "Parameters": {"TaskToken.$": "$$.Task.Token"}, "End": true}}});
    let running = tokio::spawn(async move {
        runner
            .start(StartRequest {
                state_machine: "callbacks".into(),
                definition: definition.to_string(),
                name: "runner-stops".into(),
                input: json!({}),
            })
            .await
    });
    let token = rx.await.unwrap();
    // The process running the execution stops while the task waits.
    running.abort();
    assert!(running.await.is_err());

    let mut registry = Registry::new();
    registry.bind(SQS, Arc::new(NotAgain));
    let restarted = Engine::open(&db, registry).await.unwrap();
    restarted
        .send_task_success(&token, &json!({"answered": "while down"}))
        .await
        .unwrap();
    assert_eq!(
        restarted.describe("runner-stops").await.unwrap().status,
        Status::Aborted
    );
    let ended = restarted.redrive("runner-stops").await.unwrap();
    assert_eq!(ended.status, Status::Succeeded, "{ended:?}");
    assert_eq!(ended.output, Some(json!({"answered": "while down"})));
    let kinds: Vec<String> = restarted
        .history("runner-stops")
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let redriven = kinds.iter().position(|k| k == "ExecutionRedriven").unwrap();
    assert_eq!(
        kinds[redriven..]
            .iter()
            .filter(|k| *k == "TaskSubmitted")
            .count(),
        0,
        "the redrive sent no request: {kinds:?}"
    );
    // Read once: the token is spent.
    let again = restarted.send_task_success(&token, &json!(1)).await;
    assert!(
        matches!(again, Err(EngineError::TaskTimedOut { .. })),
        "{again:?}"
    );
}
