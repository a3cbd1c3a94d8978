//! The engine's public face: start an execution, redrive one, describe, list, read history.
//!
//! An execution runs in the process that started (or redrove) it, holding its run lock; its
//! every step is recorded in the [`ExecutionStore`], so another
//! process can watch it, and after a crash `redrive` resumes it where it stopped.

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::error::StatesError;
use crate::history::{kinds, Event};
use crate::items::Objects;
use crate::parse::{parse_definition, Problems};
use crate::resume::{self, Resume};
use crate::run::{Run, Start, MAX_HISTORY_EVENTS, ROLE_ARN};
use crate::services::Services;
use crate::store::{Created, Execution, ExecutionStore, RunLock, Sent, Status, StoreError};
use crate::task::{Registry, MAX_PAYLOAD_BYTES};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the definition has problems:\n{0}")]
    Definition(#[from] Problems),
    /// Same name, different input (StartExecution's `ExecutionAlreadyExists`).
    #[error("ExecutionAlreadyExists: execution '{name}' exists with a different input")]
    ExecutionAlreadyExists { name: String },
    #[error("ExecutionDoesNotExist: no execution named '{name}'")]
    ExecutionDoesNotExist { name: String },
    /// RedriveExecution's refusal: only FAILED, TIMED_OUT and ABORTED executions that stopped
    /// within the last 14 days and did not reach the history limit can be redriven. The
    /// reason is worded as DescribeExecution's `redriveStatusReason`.
    #[error("ExecutionNotRedrivable: execution '{name}' cannot be redriven: {reason}")]
    ExecutionNotRedrivable { name: String, reason: String },
    /// StartExecution's input is at most 256 KiB (262,144 bytes), as its `input` member's
    /// length constraint says.
    #[error("ValidationException: the input of execution '{name}' is {bytes} bytes; StartExecution accepts at most {MAX_PAYLOAD_BYTES} bytes")]
    InputTooLarge { name: String, bytes: usize },
    /// A live runner holds it: another process, or another task of this one.
    #[error("execution '{name}' is in progress elsewhere (in another process, or started twice in this one); wait for it to end")]
    ExecutionBusy { name: String },
    #[error("invalid execution name '{name}': {reason}")]
    InvalidName { name: String, reason: String },
    /// SendTask*'s `InvalidToken`: not a token this engine hands out.
    #[error("InvalidToken: the provided token is not valid: '{token}'")]
    InvalidToken { token: String },
    /// SendTask*'s `TaskDoesNotExist`: a well-formed token no task waits with.
    #[error("TaskDoesNotExist: no task is waiting with the token '{token}'")]
    TaskDoesNotExist { token: String },
    /// SendTask*'s `TaskTimedOut`: "the task token has either expired or the task associated
    /// with the token has already been closed".
    #[error("TaskTimedOut: the task token has either expired or the task associated with the token has already been closed")]
    TaskTimedOut { token: String },
    /// SendTaskSuccess's `InvalidOutput`: the output is over 256 KiB.
    #[error("InvalidOutput: the output is {bytes} bytes; a task's output is at most {MAX_PAYLOAD_BYTES} bytes")]
    InvalidOutput { bytes: usize },
}

/// What to start.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub state_machine: String,
    /// The definition text, after substitutions.
    pub definition: String,
    pub name: String,
    pub input: Value,
}

/// The result of `start`: the execution as it ended, and whether it already existed (same
/// name and input) so nothing ran.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub execution: Execution,
    pub existing: bool,
}

/// Runs executions against one store with one set of task bindings.
#[derive(Clone)]
pub struct Engine {
    services: Services,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.services.store)
            .field("registry", &self.services.registry)
            .finish()
    }
}

/// Execution names follow Step Functions: 1–80 characters of letters, digits, `-` and `_`.
pub fn check_name(name: &str) -> Result<(), EngineError> {
    let bad = |reason: &str| EngineError::InvalidName {
        name: name.chars().take(100).collect(),
        reason: reason.to_string(),
    };
    if name.is_empty() || name.len() > 80 {
        return Err(bad("must be 1 to 80 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad("only letters, digits, '-' and '_' are allowed"));
    }
    Ok(())
}

impl Engine {
    pub async fn open(db: &Path, registry: Registry) -> Result<Self, EngineError> {
        Ok(Engine {
            services: Services {
                store: ExecutionStore::open(db).await?,
                registry: Arc::new(registry),
                clock: Arc::new(SystemClock),
                objects: None,
            },
        })
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.services.clock = clock;
        self
    }

    /// The bucket access a distributed Map's ItemReader and ResultWriter use.
    pub fn with_objects(mut self, objects: Arc<dyn Objects>) -> Self {
        self.services.objects = Some(objects);
        self
    }

    pub fn store(&self) -> &ExecutionStore {
        &self.services.store
    }

    /// Starts an execution and runs it to its end in this process. With the name of an
    /// existing execution and the same input it returns that execution (`existing`), with
    /// another input it fails with `ExecutionAlreadyExists`.
    pub async fn start(&self, req: StartRequest) -> Result<Outcome, EngineError> {
        check_name(&req.name)?;
        let bytes = req.input.to_string().len();
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(EngineError::InputTooLarge {
                name: req.name.clone(),
                bytes,
            });
        }
        let definition = Arc::new(parse_definition(&req.definition)?);
        let hash = self.services.store.put_definition(&req.definition).await?;
        // The lock comes first: an execution row without a live lock means its runner died.
        let lock = match self.services.store.try_lock(&req.name)? {
            Some(lock) => lock,
            // Another process (or task) is running it: it is returned as it stands, RUNNING.
            None if self.services.store.get(&req.name).await?.is_some() => {
                return self.existing(&req).await
            }
            // Another process (or task) is about to create it: once it lets go, it exists.
            None => self.lock_when_free(&req.name).await?,
        };
        let now = self.services.clock.now();
        let started = Event {
            id: 1,
            previous_event_id: 0,
            timestamp: now,
            kind: kinds::EXECUTION_STARTED.into(),
            details: json!({
                "input": req.input.to_string(),
                "inputDetails": {"truncated": false},
                "roleArn": ROLE_ARN,
            }),
            scope: String::new(),
            internal: None,
        };
        let execution = match self
            .services
            .store
            .create(&req.state_machine, &hash, &req.name, &req.input, started)
            .await?
        {
            Created::New(e) => e,
            Created::Existing(_) => {
                drop(lock);
                return self.existing(&req).await;
            }
        };
        let run = Run::new(self.services.clone(), definition, &execution);
        let start = definition_start(&run);
        let finished = run.execute(start).await?;
        drop(lock);
        Ok(Outcome {
            execution: finished,
            existing: false,
        })
    }

    async fn existing(&self, req: &StartRequest) -> Result<Outcome, EngineError> {
        let execution = self.describe(&req.name).await?;
        if execution.input != req.input {
            return Err(EngineError::ExecutionAlreadyExists {
                name: req.name.clone(),
            });
        }
        Ok(Outcome {
            execution,
            existing: true,
        })
    }

    /// Waits until no runner holds the execution `name` (another process, or another task
    /// of this one), then returns it as it stands: as its runner ended it, or `ABORTED` if
    /// the runner died first. For a caller whose start found the execution `RUNNING` and that
    /// wants its end rather than a refusal. Polls the run lock on the engine's clock.
    pub async fn wait(&self, name: &str) -> Result<Execution, EngineError> {
        let lock = self.lock_when_free(name).await?;
        let execution = self.describe_locked(name).await;
        drop(lock);
        execution
    }

    /// Takes the run lock of `name`, waiting for its holder to let go.
    async fn lock_when_free(&self, name: &str) -> Result<RunLock, EngineError> {
        let mut waiting = false;
        loop {
            if let Some(lock) = self.services.store.try_lock(name)? {
                return Ok(lock);
            }
            if !waiting {
                tracing::info!(
                    execution = name,
                    "execution in progress elsewhere; waiting for it to end"
                );
                waiting = true;
            }
            self.services.clock.sleep(LOCK_POLL).await;
        }
    }

    /// Redrives a failed, timed-out or aborted execution: it resumes at the state that did
    /// not finish, with that state's input, reusing every state, iteration and branch that
    /// succeeded. An execution still marked `RUNNING` whose process is gone is first marked
    /// `ABORTED`.
    pub async fn redrive(&self, name: &str) -> Result<Execution, EngineError> {
        let Some(lock) = self.services.store.try_lock(name)? else {
            return Err(EngineError::ExecutionBusy { name: name.into() });
        };
        let mut execution = self.describe_locked(name).await?;
        if let Some(reason) = not_redrivable(&execution, self.services.clock.now()) {
            return Err(EngineError::ExecutionNotRedrivable {
                name: name.into(),
                reason: reason.into(),
            });
        }
        let text = self
            .services
            .store
            .definition(&execution.definition_hash)
            .await?;
        let definition = Arc::new(parse_definition(&text)?);
        let events = self.services.store.events(name).await?;
        let plan = resume::plan(&events, "");
        let now = self.services.clock.now();
        let redriven = Event {
            id: execution.next_event_id,
            previous_event_id: execution.next_event_id.saturating_sub(1),
            timestamp: now,
            kind: kinds::EXECUTION_REDRIVEN.into(),
            details: json!({"redriveCount": execution.redrive_count + 1}),
            scope: String::new(),
            internal: None,
        };
        if !self
            .services
            .store
            .begin_redrive(name, execution.status, now, &redriven)
            .await?
        {
            return Err(EngineError::ExecutionBusy { name: name.into() });
        }
        execution = self
            .services
            .store
            .get(name)
            .await?
            .ok_or_else(|| EngineError::ExecutionDoesNotExist { name: name.into() })?;
        let run = Run::new(self.services.clone(), definition, &execution);
        let start = match plan {
            Some(Resume::Done(output)) => Start::Finished(output),
            Some(at @ Resume::At { .. }) => Start::At(at),
            None => definition_start(&run),
        };
        let finished = run.execute(start).await?;
        drop(lock);
        Ok(finished)
    }

    /// The execution as `DescribeExecution` shows it. One still `RUNNING` whose runner
    /// process is gone is marked `ABORTED` (with an `ExecutionAborted` event) first.
    pub async fn describe(&self, name: &str) -> Result<Execution, EngineError> {
        let execution = self
            .services
            .store
            .get(name)
            .await?
            .ok_or_else(|| EngineError::ExecutionDoesNotExist { name: name.into() })?;
        if execution.status != Status::Running {
            return Ok(execution);
        }
        match self.services.store.try_lock(name)? {
            Some(_lock) => self.describe_locked(name).await,
            None => Ok(execution),
        }
    }

    /// Like `describe`, for a caller holding the run lock.
    async fn describe_locked(&self, name: &str) -> Result<Execution, EngineError> {
        let execution = self
            .services
            .store
            .get(name)
            .await?
            .ok_or_else(|| EngineError::ExecutionDoesNotExist { name: name.into() })?;
        if execution.status != Status::Running {
            return Ok(execution);
        }
        let now = self.services.clock.now();
        let cause = "the process running this execution stopped before it finished";
        let aborted = Event {
            id: execution.next_event_id,
            previous_event_id: execution.next_event_id.saturating_sub(1),
            timestamp: now,
            kind: kinds::EXECUTION_ABORTED.into(),
            details: json!({"error": "States.Runtime", "cause": cause}),
            scope: String::new(),
            internal: None,
        };
        self.services
            .store
            .finish(
                name,
                Status::Aborted,
                None,
                Some(("States.Runtime", cause)),
                now,
                std::slice::from_ref(&aborted),
            )
            .await?;
        self.services
            .store
            .get(name)
            .await?
            .ok_or_else(|| EngineError::ExecutionDoesNotExist { name: name.into() })
    }

    /// Executions, newest first. Every `RUNNING` one whose runner process is gone, listed or
    /// not, is marked `ABORTED` first (see [`Engine::mark_orphans`]), so that the store's
    /// counts say the same.
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: u32,
    ) -> Result<Vec<Execution>, EngineError> {
        self.mark_orphans().await?;
        Ok(self.services.store.list(status, limit).await?)
    }

    /// Marks every execution still `RUNNING` whose runner process is gone as `ABORTED` (with
    /// an `ExecutionAborted` event), so that it can be redriven; returns their names.
    pub async fn mark_orphans(&self) -> Result<Vec<String>, EngineError> {
        let mut marked = Vec::new();
        for e in self
            .services
            .store
            .list(Some(Status::Running), u32::MAX)
            .await?
        {
            if self.describe(&e.name).await?.status == Status::Aborted {
                tracing::info!(execution = e.name, "runner gone; marked ABORTED");
                marked.push(e.name);
            }
        }
        Ok(marked)
    }

    /// `SendTaskSuccess`: the callback task waiting with `token` succeeds with `output`.
    pub async fn send_task_success(&self, token: &str, output: &Value) -> Result<(), EngineError> {
        check_token(token)?;
        let bytes = output.to_string().len();
        if bytes > MAX_PAYLOAD_BYTES {
            return Err(EngineError::InvalidOutput { bytes });
        }
        sent(
            token,
            self.services.store.succeed_token(token, output).await?,
        )
    }

    /// `SendTaskFailure`: the callback task waiting with `token` fails with `error` and
    /// `cause` (which its Retry and Catch see).
    pub async fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        check_token(token)?;
        sent(
            token,
            self.services.store.fail_token(token, error, cause).await?,
        )
    }

    /// `SendTaskHeartbeat`: the callback task waiting with `token` is alive; its
    /// `HeartbeatSeconds` count again from now.
    pub async fn send_task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        check_token(token)?;
        sent(
            token,
            self.services
                .store
                .heartbeat_token(token, self.services.clock.now())
                .await?,
        )
    }

    pub async fn history(&self, name: &str) -> Result<Vec<Event>, EngineError> {
        if self.services.store.get(name).await?.is_none() {
            return Err(EngineError::ExecutionDoesNotExist { name: name.into() });
        }
        Ok(self.services.store.events(name).await?)
    }
}

fn check_token(token: &str) -> Result<(), EngineError> {
    if crate::callback::is_well_formed(token) {
        return Ok(());
    }
    Err(EngineError::InvalidToken {
        token: token.chars().take(100).collect(),
    })
}

/// A callback's answer as SendTask* gives it.
fn sent(token: &str, sent: Sent) -> Result<(), EngineError> {
    match sent {
        Sent::Accepted => Ok(()),
        Sent::Unknown => Err(EngineError::TaskDoesNotExist {
            token: token.into(),
        }),
        Sent::Closed => Err(EngineError::TaskTimedOut {
            token: token.into(),
        }),
    }
}

/// How long after it stopped an execution can be redriven: RedriveExecution "restarts
/// unsuccessful executions … that didn't complete successfully in the last 14 days".
pub const REDRIVABLE_PERIOD: chrono::TimeDelta = chrono::TimeDelta::days(14);

/// Why `execution` cannot be redriven at `now`, in the words of DescribeExecution's
/// `redriveStatusReason`; `None` when it can.
pub fn not_redrivable(execution: &Execution, now: DateTime<Utc>) -> Option<&'static str> {
    match execution.status {
        Status::Running => return Some("Execution is RUNNING and cannot be redriven."),
        Status::Succeeded => return Some("Execution is SUCCEEDED and cannot be redriven."),
        Status::Failed | Status::TimedOut | Status::Aborted => {}
    }
    // The history holds its events up to the one before `next_event_id`.
    if execution.next_event_id > MAX_HISTORY_EVENTS {
        return Some("Execution history event limit exceeded.");
    }
    let stopped = execution.stop_date.unwrap_or(execution.start_date);
    if now - stopped > REDRIVABLE_PERIOD {
        return Some("Execution redrivable period exceeded.");
    }
    None
}

fn definition_start(run: &Run) -> Start {
    Start::Fresh(run.input().clone())
}

/// How often a start or a wait looks whether a running execution's runner let go.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The outcome of a finished execution, for callers that want it as a result.
pub fn outcome_error(e: &Execution) -> Option<StatesError> {
    match e.status {
        Status::Succeeded | Status::Running => None,
        _ => Some(StatesError::new(
            e.error.clone().unwrap_or_default(),
            e.cause.clone().unwrap_or_default(),
        )),
    }
}
