//! The interpreter: runs one execution's states, recording every step as history events.
//!
//! Input and output processing follows the developer guide's "Processing input and output"
//! order: InputPath → Parameters → (task) → ResultSelector → ResultPath → OutputPath. Errors
//! go through the state's Retriers first (the first whose ErrorEquals matches), then its
//! Catchers. Events are buffered and written in batches; the buffer is flushed before a task
//! is invoked and right after a task, Map or Parallel state exits, so work that finished is
//! durable before anything else happens.
//!
//! This file runs a machine state by state; `task` (with the guard of Retry and Catch),
//! `parallel`, `map` and `wait` run the states of those types, `io` processes a state's input
//! and output.

use crate::error::json_kind as kind_of;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::{json, Map as JsonMap, Value};

use crate::callback;
use crate::error::{names, StatesError};
use crate::history::{kinds, Event};
use crate::items;
use crate::jsonata::States;
use crate::model::{
    error_matches, Assign, Body, Count, Definition, Machine, Map, MapMode, Percentage, ResultPath,
    State, Text, Transition, Wait,
};
use crate::resume::{child_scope, Children, Resume};
use crate::services::Services;
use crate::store::{state_machine_arn, Execution, Status, StoreError};
use crate::task::{TaskCall, MAX_PAYLOAD_BYTES};
use crate::variables::{Bindings, Variables};

mod io;
mod map;
mod parallel;
mod task;
mod wait;

use io::*;

/// Events buffered before a write, at most; bounds memory on long Pass/Choice chains.
const FLUSH_EVERY: usize = 2048;

/// The most events an execution's history holds (the service quota "Maximum execution
/// history size"). The execution that reaches it fails: its `ExecutionFailed` event is event
/// 25,000, `States.Runtime`, with [`HISTORY_FULL_CAUSE`], as AWS records it.
pub(crate) const MAX_HISTORY_EVENTS: u64 = 25_000;

pub(crate) const HISTORY_FULL_CAUSE: &str =
    "The execution reached the maximum number of history events (25000).";

pub(crate) struct Run {
    inner: Arc<Inner>,
}

/// Where `Run::execute` begins.
#[derive(Debug)]
pub(crate) enum Start {
    Fresh(Value),
    At(Resume),
    /// A redrive found the top level already finished (it died while recording the end).
    Finished(Value),
}

/// The role ARN the context object and `ExecutionStarted` show.
pub(crate) const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/sluice-local";

/// A time as the context object and the history show it: RFC 3339 in UTC, milliseconds.
pub(crate) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

struct Inner {
    services: Services,
    /// Which run of the execution this is: 0, then its redrive count.
    run: u32,
    definition: Arc<Definition>,
    name: String,
    input: Value,
    /// `$$.Execution`, built once.
    execution_ctx: Value,
    /// `$$.StateMachine`, built once.
    state_machine_ctx: Value,
    log: Mutex<Log>,
    /// Serialises flushes so events become durable in id order.
    flushing: tokio::sync::Mutex<()>,
}

struct Log {
    next_id: u64,
    pending: Vec<Event>,
    /// The last event id of each scope, for `previousEventId`.
    last_in_scope: HashMap<String, u64>,
    /// The history reached [`MAX_HISTORY_EVENTS`]: events other than the execution's end are
    /// dropped and the execution stops at its next state.
    full: bool,
}

/// The variables a state assigns as it exits, by name.
type Assigned = JsonMap<String, Value>;

/// A state's output, where it goes next (`None`: its machine ends) and what it assigned.
type StateResult = Result<(Value, Option<String>, Assigned), StatesError>;

impl Run {
    pub(crate) fn new(services: Services, definition: Arc<Definition>, e: &Execution) -> Self {
        let mut execution_ctx = json!({
            "Id": e.execution_arn,
            "Input": if definition.context_reads_input { e.input.clone() } else { Value::Null },
            "Name": e.name,
            "RoleArn": ROLE_ARN,
            "StartTime": time(e.start_date),
            "RedriveCount": e.redrive_count,
        });
        if let Some(t) = e.redrive_date {
            execution_ctx["RedriveTime"] = json!(time(t));
        }
        let state_machine_ctx = json!({
            "Id": state_machine_arn(&e.state_machine),
            "Name": e.state_machine,
        });
        Run {
            inner: Arc::new(Inner {
                services,
                run: e.redrive_count,
                definition,
                name: e.name.clone(),
                input: e.input.clone(),
                execution_ctx,
                state_machine_ctx,
                log: Mutex::new(Log {
                    next_id: e.next_event_id,
                    pending: Vec::new(),
                    last_in_scope: HashMap::new(),
                    full: false,
                }),
                flushing: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub(crate) fn input(&self) -> &Value {
        &self.inner.input
    }

    /// Runs to the end and records the outcome.
    pub(crate) async fn execute(self, start: Start) -> Result<Execution, StoreError> {
        let inner = self.inner.clone();
        let machine = inner.definition.machine.clone();
        let body = {
            let inner = inner.clone();
            async move {
                match start {
                    Start::Fresh(input) => {
                        let first = machine.start_at.clone();
                        inner
                            .run_machine(
                                String::new(),
                                machine,
                                first,
                                input,
                                None,
                                Variables::default(),
                            )
                            .await
                    }
                    Start::At(Resume::At {
                        state,
                        input,
                        children,
                        variables,
                    }) => {
                        let variables = Variables::default().with(&variables);
                        inner
                            .run_machine(
                                String::new(),
                                machine,
                                state,
                                input,
                                Some(children),
                                variables,
                            )
                            .await
                    }
                    Start::At(Resume::Done(output)) | Start::Finished(output) => Ok(output),
                }
            }
        };
        let mut result = match inner.definition.timeout_seconds {
            Some(s) => match tokio::time::timeout(Duration::from_secs(s), body).await {
                Ok(r) => r.map_err(Ended::Failed),
                Err(_) => Err(Ended::TimedOut(s)),
            },
            None => body.await.map_err(Ended::Failed),
        };
        if inner.history_full() {
            result = Err(Ended::Failed(StatesError::runtime(HISTORY_FULL_CAUSE)));
        }
        let now = inner.services.clock.now();
        let (status, output, error, kind, details) = match &result {
            Ok(output) => (
                Status::Succeeded,
                Some(output.clone()),
                None,
                kinds::EXECUTION_SUCCEEDED,
                json!({"output": output.to_string(), "outputDetails": {"truncated": false}}),
            ),
            Err(Ended::Failed(e)) => (
                Status::Failed,
                None,
                Some(e.clone()),
                kinds::EXECUTION_FAILED,
                json!({"error": e.error, "cause": e.cause}),
            ),
            Err(Ended::TimedOut(s)) => {
                let e = StatesError::new(
                    names::TIMEOUT,
                    format!("the execution ran longer than its TimeoutSeconds ({s} s)"),
                );
                let d = json!({"error": e.error, "cause": e.cause});
                (
                    Status::TimedOut,
                    None,
                    Some(e),
                    kinds::EXECUTION_TIMED_OUT,
                    d,
                )
            }
        };
        inner.push_end(kind, details);
        inner.services.store.close_tokens_of(&inner.name).await?;
        let _guard = inner.flushing.lock().await;
        let events = inner.take_pending();
        inner
            .services
            .store
            .finish(
                &inner.name,
                status,
                output.as_ref(),
                error.as_ref().map(|e| (e.error.as_str(), e.cause.as_str())),
                now,
                &events,
            )
            .await?;
        drop(_guard);
        inner
            .services
            .store
            .get(&inner.name)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                name: inner.name.clone(),
                detail: "the execution vanished as it finished".into(),
            })
    }
}

enum Ended {
    Failed(StatesError),
    TimedOut(u64),
}

impl Inner {
    /// Records an event; once the history is full, drops it (see [`MAX_HISTORY_EVENTS`]).
    fn push(&self, scope: &str, kind: &str, details: Value, internal: Option<Value>) -> u64 {
        {
            let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
            if log.full || log.next_id >= MAX_HISTORY_EVENTS {
                log.full = true;
                return log.next_id;
            }
        }
        self.record(scope, kind, details, internal)
    }

    /// Records the execution's last event, even in a full history.
    fn push_end(&self, kind: &str, details: Value) -> u64 {
        self.record("", kind, details, None)
    }

    fn history_full(&self) -> bool {
        self.log.lock().map(|l| l.full).unwrap_or(false)
    }

    fn record(&self, scope: &str, kind: &str, details: Value, internal: Option<Value>) -> u64 {
        let timestamp = self.services.clock.now();
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        let id = log.next_id;
        log.next_id += 1;
        let previous = log
            .last_in_scope
            .insert(scope.to_string(), id)
            .unwrap_or(id.saturating_sub(1));
        log.pending.push(Event {
            id,
            previous_event_id: previous,
            timestamp,
            kind: kind.to_string(),
            details,
            scope: scope.to_string(),
            internal,
        });
        id
    }

    fn take_pending(&self) -> Vec<Event> {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut log.pending)
    }

    fn pending_len(&self) -> usize {
        self.log.lock().map(|l| l.pending.len()).unwrap_or(0)
    }

    /// Makes every buffered event durable. A store failure here is `States.Runtime`: the
    /// execution cannot go on without its history.
    async fn flush(&self) -> Result<(), StatesError> {
        let _guard = self.flushing.lock().await;
        let events = self.take_pending();
        self.services
            .store
            .append(&self.name, &events)
            .await
            .map_err(|e| StatesError::runtime(format!("cannot record history: {e}")))
    }

    fn context(
        &self,
        state: &str,
        entered: DateTime<Utc>,
        retry_count: Option<u32>,
        item: Option<(usize, &Value)>,
        variables: &Variables,
    ) -> Bindings {
        let mut ctx = json!({
            "Execution": self.execution_ctx,
            "State": {"EnteredTime": time(entered), "Name": state},
            "StateMachine": self.state_machine_ctx,
        });
        // `$$.State.RetryCount` exists only in states that retry (AWS's recorded context
        // object of a Pass state has none).
        if let Some(n) = retry_count {
            ctx["State"]["RetryCount"] = json!(n);
        }
        if let Some((index, value)) = item {
            ctx["Map"] = json!({"Item": {"Index": index, "Value": value}});
        }
        Bindings::new(ctx, variables.clone())
    }

    /// Runs `machine` from `start` in `scope` until it ends (its output) or fails.
    fn run_machine(
        self: Arc<Self>,
        scope: String,
        machine: Arc<Machine>,
        start: String,
        input: Value,
        resume: Option<Children>,
        variables: Variables,
    ) -> BoxFuture<'static, Result<Value, StatesError>> {
        async move {
            let mut variables = variables;
            let mut current = start;
            let mut input = input;
            let mut resume = resume;
            loop {
                let state = machine.state(&current).cloned().ok_or_else(|| {
                    StatesError::runtime(format!("no state named '{current}' in this machine"))
                })?;
                let type_name = state.body.type_name();
                let entered_at = self.services.clock.now();
                let input_text = input.to_string();
                let entered = self.push(
                    &scope,
                    &format!("{type_name}StateEntered"),
                    json!({"name": state.name, "input": input_text,
                           "inputDetails": {"truncated": false}}),
                    None,
                );
                if self.history_full() {
                    return Err(StatesError::runtime(HISTORY_FULL_CAUSE));
                }
                check_size(input_text.len(), &state.name, "input")?;
                let (output, next, assigned) = self
                    .clone()
                    .run_state(
                        &scope,
                        &state,
                        entered,
                        entered_at,
                        input,
                        resume.take(),
                        &variables,
                    )
                    .await
                    .map_err(|e| located(e, &state.name, entered))?;
                let output_text = output.to_string();
                check_size(output_text.len(), &state.name, "output")?;
                let mut exited = json!({"name": state.name, "output": output_text,
                                        "outputDetails": {"truncated": false}});
                if !assigned.is_empty() {
                    exited["assignedVariables"] = assigned_details(&assigned);
                    exited["assignedVariablesDetails"] = json!({"truncated": false});
                    variables = variables.with(&assigned);
                }
                self.push(
                    &scope,
                    &format!("{type_name}StateExited"),
                    exited,
                    Some(json!({ "next": next })),
                );
                let durable =
                    matches!(state.body, Body::Task(_) | Body::Map(_) | Body::Parallel(_));
                if durable || self.pending_len() >= FLUSH_EVERY {
                    self.flush().await?;
                }
                match next {
                    Some(n) => {
                        current = n;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        }
        .boxed()
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_state(
        self: Arc<Self>,
        scope: &str,
        state: &Arc<State>,
        entered: u64,
        entered_at: DateTime<Utc>,
        raw: Value,
        resume: Option<Children>,
        variables: &Variables,
    ) -> StateResult {
        let ctx = if needs_context(state) {
            let retries = (!state.retry.is_empty()
                || matches!(state.body, Body::Task(_) | Body::Parallel(_) | Body::Map(_)))
            .then_some(0);
            self.context(&state.name, entered_at, retries, None, variables)
        } else {
            Bindings::new(Value::Null, variables.clone())
        };
        let effective = match &state.input_path {
            None => json!({}),
            Some(p) if p.is_root() => raw.clone(),
            Some(p) => p.select(&raw, &ctx).map_err(|e| {
                StatesError::runtime(format!("Invalid path '{}' : {}", p.as_str(), e.message))
            })?,
        };
        let next = match &state.transition {
            Transition::Next(n) => Some(n.clone()),
            _ => None,
        };
        match &state.body {
            Body::Pass { .. } if state.jsonata.is_some() => {
                let assigned = assign(&state.assign, &raw, States::input(&raw), &ctx)?;
                Ok((plain_output(state, effective, &raw, &ctx)?, next, assigned))
            }
            Body::Pass { result } => {
                let value = match (result, &state.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(t)) => t.render(&effective, &ctx)?,
                    (None, None) => effective,
                };
                let (output, assigned) = process_result(state, &raw, value, &ctx)?;
                Ok((output, next, assigned))
            }
            Body::Succeed => {
                let out = plain_output(state, effective, &raw, &ctx)?;
                Ok((out, None, Assigned::new()))
            }
            Body::Fail(f) => Err(StatesError::new(
                text(&f.error, &raw, &ctx)?,
                text(&f.cause, &raw, &ctx)?,
            )),
            Body::Choice(c) => {
                for branch in &c.choices {
                    if branch.rule.matches(&effective, &ctx)? {
                        let states = States::input(&raw);
                        let assigned = assign(&branch.assign, &effective, states, &ctx)?;
                        let out = plain_output(state, effective, &raw, &ctx)?;
                        return Ok((out, Some(branch.next.clone()), assigned));
                    }
                }
                match &c.default {
                    Some(d) => {
                        let states = States::input(&raw);
                        let assigned = assign(&state.assign, &effective, states, &ctx)?;
                        let out = plain_output(state, effective, &raw, &ctx)?;
                        Ok((out, Some(d.clone()), assigned))
                    }
                    None => Err(StatesError::new(
                        names::NO_CHOICE_MATCHED,
                        format!(
                            "No Choice Rules matched the input in state '{}' and it has no Default",
                            state.name
                        ),
                    )),
                }
            }
            Body::Wait(w) => {
                let wait = self.wait_duration(w, &effective, &ctx)?;
                self.flush().await?;
                self.services.clock.sleep(wait).await;
                let assigned = assign(&state.assign, &effective, States::input(&raw), &ctx)?;
                Ok((plain_output(state, effective, &raw, &ctx)?, next, assigned))
            }
            Body::Task(_) | Body::Parallel(_) | Body::Map(_) => {
                self.guarded(
                    scope, state, entered, entered_at, raw, effective, resume, variables,
                )
                .await
            }
        }
    }
}
