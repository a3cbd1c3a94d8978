//! The interpreter: runs one execution's states, recording every step as history events.
//!
//! Input and output processing follows the developer guide's "Processing input and output"
//! order: InputPath → Parameters → (task) → ResultSelector → ResultPath → OutputPath. Errors
//! go through the state's Retriers first (the first whose ErrorEquals matches), then its
//! Catchers. Events are buffered and written in batches; the buffer is flushed before a task
//! is invoked and right after a task, Map or Parallel state exits, so work that finished is
//! durable before anything else happens.

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
                StatesError::runtime(format!(
                    "An error occurred while executing the state '{}'. Invalid path '{}': {}",
                    state.name,
                    p.as_str(),
                    e.message
                ))
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

    fn wait_duration(
        &self,
        w: &Wait,
        input: &Value,
        ctx: &Bindings,
    ) -> Result<Duration, StatesError> {
        let until = |t: DateTime<Utc>| {
            (t - self.services.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        };
        match w {
            Wait::Seconds(s) => Ok(Duration::from_secs(*s)),
            Wait::Timestamp(t) => Ok(until(t.with_timezone(&Utc))),
            Wait::SecondsPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                v.as_u64().map(Duration::from_secs).ok_or_else(|| {
                    StatesError::runtime(format!(
                        "SecondsPath '{}' selected {v}, not a non-negative integer",
                        p.as_str()
                    ))
                })
            }
            Wait::SecondsExpression(e) => {
                let v = e.eval(States::input(input), ctx)?;
                v.as_u64().map(Duration::from_secs).ok_or_else(|| {
                    StatesError::new(
                        names::QUERY_EVALUATION_ERROR,
                        format!(
                            "Seconds '{}' returned {v}, not a non-negative integer",
                            e.as_str()
                        ),
                    )
                })
            }
            Wait::TimestampExpression(e) => {
                let v = e.eval(States::input(input), ctx)?;
                v.as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .map(|t| until(t.with_timezone(&Utc)))
                    .ok_or_else(|| {
                        StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "Timestamp '{}' returned {v}, not an RFC 3339 timestamp",
                                e.as_str()
                            ),
                        )
                    })
            }
            Wait::TimestampPath(p) => {
                let v = p
                    .select(input, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                v.as_str()
                    .and_then(crate::choice::parse_timestamp)
                    .map(|t| until(t.with_timezone(&Utc)))
                    .ok_or_else(|| {
                        StatesError::runtime(format!(
                            "TimestampPath '{}' selected {v}, not an RFC 3339 timestamp",
                            p.as_str()
                        ))
                    })
            }
        }
    }

    /// Task, Parallel and Map: attempts under the state's Retriers, then its Catchers.
    #[allow(clippy::too_many_arguments)]
    async fn guarded(
        self: Arc<Self>,
        scope: &str,
        state: &Arc<State>,
        entered: u64,
        entered_at: DateTime<Utc>,
        raw: Value,
        effective: Value,
        mut resume: Option<Children>,
        variables: &Variables,
    ) -> StateResult {
        let mut used = vec![0u32; state.retry.len()];
        let mut retries = 0u32;
        loop {
            let ctx = self.context(&state.name, entered_at, Some(retries), None, variables);
            let attempt = match &state.body {
                Body::Task(_) => self.task(scope, state, &effective, &ctx, retries).await,
                Body::Parallel(_) => {
                    self.clone()
                        .parallel(scope, state, entered, &effective, &ctx, resume.take())
                        .await
                }
                Body::Map(m) => {
                    self.clone()
                        .map(scope, state, m, entered, &effective, &ctx, resume.take())
                        .await
                }
                _ => Err(StatesError::runtime("not a guarded state")),
            };
            let error = match attempt.and_then(|r| process_result(state, &raw, r, &ctx)) {
                Ok((out, assigned)) => {
                    let next = match &state.transition {
                        Transition::Next(n) => Some(n.clone()),
                        _ => None,
                    };
                    return Ok((out, next, assigned));
                }
                Err(e) => located(e, &state.name, entered),
            };
            if let Some(i) = state
                .retry
                .iter()
                .position(|r| error_matches(&r.error_equals, &error.error))
            {
                let retrier = &state.retry[i];
                if used[i] < retrier.max_attempts {
                    let wait = crate::retry::delay(retrier, used[i], rand::random::<f64>());
                    used[i] += 1;
                    retries += 1;
                    self.flush().await?;
                    self.services.clock.sleep(wait).await;
                    continue;
                }
            }
            if let Some(c) = state
                .catch
                .iter()
                .find(|c| error_matches(&c.error_equals, &error.error))
            {
                let error_output = error.to_output();
                let states = States {
                    input: &raw,
                    result: None,
                    error_output: Some(&error_output),
                };
                let assigned = assign(&c.assign, &error_output, states, &ctx)?;
                let out = match (&state.jsonata, &c.output) {
                    (Some(_), Some(t)) => t.render(states, &ctx)?,
                    (Some(_), None) => error_output,
                    (None, _) => place_result(&c.result_path, &raw, error_output)?,
                };
                return Ok((out, Some(c.next.clone()), assigned));
            }
            return Err(error);
        }
    }

    async fn task(
        &self,
        scope: &str,
        state: &State,
        effective: &Value,
        ctx: &Bindings,
        attempt: u32,
    ) -> Result<Value, StatesError> {
        let Body::Task(task) = &state.body else {
            return Err(StatesError::runtime("not a Task"));
        };
        // A callback task's token, in the context object as `Task.Token`. A redriven one
        // takes over the token of the run that stopped, whose request went out already.
        let callback_task = callback::is_callback(&task.resource);
        let taken_over = match callback_task && self.run > 0 {
            true => self
                .services
                .store
                .reusable_token(&self.name, &state.name, self.run)
                .await
                .map_err(|e| StatesError::runtime(format!("task token: {e}")))?,
            false => None,
        };
        let token = match &taken_over {
            Some(t) => Some(t.clone()),
            None => callback_task.then(callback::new_token),
        };
        let with_token;
        let ctx = match &token {
            Some(t) => {
                let mut c = ctx.clone();
                if let Some(o) = c.context.as_object_mut() {
                    o.insert("Task".into(), json!({ "Token": t }));
                }
                with_token = c;
                &with_token
            }
            None => ctx,
        };
        let params = arguments(state, effective, ctx)?;
        let timeout = task
            .timeout
            .as_ref()
            .map(|c| count(c, effective, ctx, "TimeoutSecondsPath"))
            .transpose()?;
        let heartbeat = task
            .heartbeat
            .as_ref()
            .map(|c| count(c, effective, ctx, "HeartbeatSecondsPath"))
            .transpose()?;
        let mut scheduled = json!({
            "resource": task.resource,
            "resourceType": "local",
            "region": "local",
            "parameters": params.to_string(),
        });
        if let Some(t) = timeout {
            scheduled["timeoutInSeconds"] = json!(t);
        }
        self.push(scope, kinds::TASK_SCHEDULED, scheduled, None);
        self.push(
            scope,
            kinds::TASK_STARTED,
            json!({"resource": task.resource, "resourceType": "local"}),
            None,
        );
        let started = self.services.clock.now();
        if let (Some(t), None) = (&token, &taken_over) {
            self.services
                .store
                .open_token(t, &self.name, &state.name, self.run, started)
                .await
                .map_err(|e| StatesError::runtime(format!("cannot record the task token: {e}")))?;
        }
        self.flush().await?;
        let handler = self.services.registry.handler(&task.resource)?;
        let call = handler.invoke(TaskCall {
            resource: task.resource.clone(),
            input: params,
            execution_name: self.name.clone(),
            state_name: state.name.clone(),
            attempt,
            task_token: token.clone(),
        });
        let limits = callback::Limits {
            started,
            heartbeat,
            timeout,
        };
        let call = async {
            let Some(t) = &token else { return call.await };
            if taken_over.is_none() {
                // The handler's result is what the service answered (a message id): the
                // task's output is the callback's.
                let submitted = call.await?;
                self.push(
                    scope,
                    kinds::TASK_SUBMITTED,
                    json!({"resource": task.resource, "output": submitted.to_string(),
                           "outputDetails": {"truncated": false}}),
                    None,
                );
                self.flush().await?;
            }
            let store = &self.services.store;
            let outcome = callback::wait(store, self.services.clock.as_ref(), t, limits).await;
            if let Err(e) = &outcome {
                if e.error == names::TIMEOUT || e.error == names::HEARTBEAT_TIMEOUT {
                    self.push(
                        scope,
                        kinds::TASK_TIMED_OUT,
                        json!({"resource": task.resource, "error": e.error}),
                        None,
                    );
                }
            }
            outcome
        };
        let result = match timeout {
            Some(s) => match tokio::time::timeout(Duration::from_secs(s), call).await {
                Ok(r) => r,
                Err(_) => {
                    if let Some(t) = &token {
                        let _ = self.services.store.close_token(t).await;
                    }
                    let e = StatesError::new(
                        names::TIMEOUT,
                        format!("the task did not finish within TimeoutSeconds ({s} s)"),
                    );
                    self.push(
                        scope,
                        kinds::TASK_TIMED_OUT,
                        json!({"resource": task.resource, "error": e.error, "cause": e.cause}),
                        None,
                    );
                    return Err(e);
                }
            },
            None => call.await,
        };
        // AWS's wording (recorded, test_states_errors[…data_limit_exceeded_on_large_utf8_response]).
        let result = result.and_then(|v| {
            if v.to_string().len() > MAX_PAYLOAD_BYTES {
                Err(StatesError::new(
                    names::DATA_LIMIT_EXCEEDED,
                    format!(
                        "The state/task '{}' returned a result with a size exceeding the \
                         maximum number of bytes service limit.",
                        task.resource
                    ),
                ))
            } else {
                Ok(v)
            }
        });
        let timed_out = result.as_ref().is_err_and(|e| {
            token.is_some()
                && [names::TIMEOUT, names::HEARTBEAT_TIMEOUT].contains(&e.error.as_str())
        });
        match &result {
            _ if timed_out => 0,
            Ok(v) => self.push(
                scope,
                kinds::TASK_SUCCEEDED,
                json!({"resource": task.resource, "output": v.to_string(),
                       "outputDetails": {"truncated": false}}),
                None,
            ),
            Err(e) => self.push(
                scope,
                kinds::TASK_FAILED,
                json!({"resource": task.resource, "error": e.error, "cause": e.cause}),
                None,
            ),
        };
        result
    }

    async fn parallel(
        self: Arc<Self>,
        scope: &str,
        state: &State,
        entered: u64,
        effective: &Value,
        ctx: &Bindings,
        resume: Option<Children>,
    ) -> Result<Value, StatesError> {
        let Body::Parallel(p) = &state.body else {
            return Err(StatesError::runtime("not a Parallel"));
        };
        let input = arguments(state, effective, ctx)?;
        let mut resume = resume.unwrap_or_default();
        self.push(
            scope,
            kinds::PARALLEL_STATE_STARTED,
            Value::Null,
            reused(&resume.done),
        );
        let branches = p.branches.iter().enumerate().map(|(i, branch)| {
            let this = self.clone();
            let child = child_scope(scope, &state.name, entered, i);
            let done = resume.done.remove(&i);
            let partial = resume.partial.remove(&i);
            let branch = branch.clone();
            let input = input.clone();
            let variables = ctx.variables.nested(true);
            async move {
                if let Some(out) = done {
                    return Ok(out);
                }
                match partial {
                    Some(Resume::At {
                        state,
                        input,
                        children,
                        variables: assigned,
                    }) => {
                        let variables = variables.with(&assigned);
                        this.run_machine(child, branch, state, input, Some(children), variables)
                            .await
                    }
                    Some(Resume::Done(out)) => Ok(out),
                    None => {
                        let start = branch.start_at.clone();
                        this.run_machine(child, branch, start, input, None, variables)
                            .await
                    }
                }
            }
        });
        // The first failing branch fails the state; dropping the others stops them.
        match futures::future::try_join_all(branches).await {
            Ok(results) => {
                self.push(scope, kinds::PARALLEL_STATE_SUCCEEDED, Value::Null, None);
                Ok(Value::Array(results))
            }
            Err(e) => {
                self.push(
                    scope,
                    kinds::PARALLEL_STATE_FAILED,
                    json!({"error": e.error, "cause": e.cause}),
                    None,
                );
                Err(e)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn map(
        self: Arc<Self>,
        scope: &str,
        state: &State,
        m: &Map,
        entered: u64,
        effective: &Value,
        ctx: &Bindings,
        resume: Option<Children>,
    ) -> Result<Value, StatesError> {
        let items = self.map_items(m, effective, ctx).await?;
        let mut resume = resume.unwrap_or_default();
        let total = items.len();
        self.push(
            scope,
            kinds::MAP_STATE_STARTED,
            json!({"length": total}),
            reused(&resume.done),
        );
        let limit = match &m.max_concurrency {
            Some(c) => count(c, effective, ctx, "MaxConcurrencyPath")?,
            None => 0,
        };
        let limit = if limit == 0 {
            total.max(1)
        } else {
            limit as usize
        };
        let tolerated = self.tolerated(m, effective, ctx, total)?;
        let name = state.name.clone();
        // Shared, not copied per iteration: the input may hold every item.
        let shared = Arc::new(effective.clone());
        let iterations = items.into_iter().enumerate().map(|(i, item)| {
            let this = self.clone();
            let child = child_scope(scope, &name, entered, i);
            let done = resume.done.remove(&i);
            let partial = resume.partial.remove(&i);
            let processor = m.processor.clone();
            let selector = m.item_selector.clone();
            let selector_jsonata = m.item_selector_jsonata.clone();
            let effective = shared.clone();
            let scope = scope.to_string();
            let name = name.clone();
            let outer = ctx.variables.clone();
            let sees_outer = m.mode != MapMode::Distributed;
            async move {
                if let Some(out) = done {
                    return (i, Ok(out));
                }
                let input = match (&selector, &selector_jsonata) {
                    (Some(t), _) => {
                        let now = this.services.clock.now();
                        let ctx = this.context(&name, now, Some(0), Some((i, &item)), &outer);
                        match t.render(&effective, &ctx) {
                            Ok(v) => v,
                            Err(e) => return (i, Err(e)),
                        }
                    }
                    (None, Some(t)) => {
                        let now = this.services.clock.now();
                        let ctx = this.context(&name, now, Some(0), Some((i, &item)), &outer);
                        match t.render(States::input(&effective), &ctx) {
                            Ok(v) => v,
                            Err(e) => return (i, Err(e)),
                        }
                    }
                    (None, None) => item,
                };
                this.push(
                    &scope,
                    kinds::MAP_ITERATION_STARTED,
                    json!({"name": name, "index": i}),
                    None,
                );
                let variables = outer.nested(sees_outer);
                let result = match partial {
                    Some(Resume::At {
                        state,
                        input,
                        children,
                        variables: assigned,
                    }) => {
                        let variables = variables.with(&assigned);
                        this.clone()
                            .run_machine(child, processor, state, input, Some(children), variables)
                            .await
                    }
                    Some(Resume::Done(out)) => Ok(out),
                    None => {
                        let start = processor.start_at.clone();
                        this.clone()
                            .run_machine(child, processor, start, input, None, variables)
                            .await
                    }
                };
                let kind = if result.is_ok() {
                    kinds::MAP_ITERATION_SUCCEEDED
                } else {
                    kinds::MAP_ITERATION_FAILED
                };
                this.push(&scope, kind, json!({"name": name, "index": i}), None);
                (i, result)
            }
        });
        let mut stream = futures::stream::iter(iterations).buffer_unordered(limit);
        let mut results: Vec<Option<Result<Value, StatesError>>> = vec![None; total];
        let mut failures = 0usize;
        let mut first_error: Option<StatesError> = None;
        while let Some((i, r)) = stream.next().await {
            if let Err(e) = &r {
                failures += 1;
                first_error.get_or_insert_with(|| e.clone());
                if failures > tolerated {
                    break;
                }
            }
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
        drop(stream);
        if failures > tolerated {
            let e = if m.mode == MapMode::Distributed {
                StatesError::new(
                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    format!(
                        "{failures} of {total} items failed, more than the {tolerated} tolerated"
                    ),
                )
            } else {
                first_error.unwrap_or_else(|| StatesError::runtime("a Map iteration failed"))
            };
            self.push(
                scope,
                kinds::MAP_STATE_FAILED,
                json!({"error": e.error, "cause": e.cause}),
                None,
            );
            return Err(e);
        }
        self.push(scope, kinds::MAP_STATE_SUCCEEDED, Value::Null, None);
        let outputs: Vec<Value> = results
            .into_iter()
            .map(|r| match r {
                Some(Ok(v)) => v,
                Some(Err(e)) => e.to_output(),
                None => Value::Null,
            })
            .collect();
        match &m.result_writer {
            Some(w) => self.write_results(state, w, effective, ctx, outputs).await,
            None => Ok(Value::Array(outputs)),
        }
    }

    async fn map_items(
        &self,
        m: &Map,
        effective: &Value,
        ctx: &Bindings,
    ) -> Result<Vec<Value>, StatesError> {
        let items = match &m.item_reader {
            Some(reader) => {
                let objects = self.services.objects.as_ref().ok_or_else(|| {
                    StatesError::new(
                        names::ITEM_READER_FAILED,
                        "this engine has no bucket access bound for ItemReader",
                    )
                })?;
                let params = reader.parameters.render(effective, ctx)?;
                let max = reader
                    .max_items
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxItemsPath"))
                    .transpose()?;
                items::read_items(
                    objects.as_ref(),
                    reader.input,
                    &params,
                    reader.csv_headers.as_deref(),
                    max,
                )
                .await?
            }
            None if m.items.is_some() => {
                let items = m
                    .items
                    .as_ref()
                    .map(|t| t.render(States::input(effective), ctx));
                match items.transpose()? {
                    Some(Value::Array(items)) => items,
                    other => {
                        return Err(StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "Map's Items must be an array, it is {}",
                                other.as_ref().map(kind_of).unwrap_or("nothing")
                            ),
                        ))
                    }
                }
            }
            None => {
                let selected = match &m.items_path {
                    Some(p) if !p.is_root() => p.select(effective, ctx).map_err(|e| {
                        StatesError::runtime(format!("ItemsPath '{}': {}", p.as_str(), e.message))
                    })?,
                    _ => effective.clone(),
                };
                match selected {
                    Value::Array(items) => items,
                    other => {
                        return Err(StatesError::runtime(format!(
                            "Map's ItemsPath must select an array, it selected {}",
                            kind_of(&other)
                        )))
                    }
                }
            }
        };
        Ok(match &m.item_batcher {
            Some(b) => {
                let max_items = b
                    .max_items_per_batch
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxItemsPerBatchPath"))
                    .transpose()?;
                let max_bytes = b
                    .max_input_bytes_per_batch
                    .as_ref()
                    .map(|c| count(c, effective, ctx, "MaxInputBytesPerBatchPath"))
                    .transpose()?;
                let batch_input = b
                    .batch_input
                    .as_ref()
                    .map(|t| t.render(effective, ctx))
                    .transpose()?;
                items::batch_items(items, max_items, max_bytes, batch_input.as_ref())
            }
            None => items,
        })
    }

    fn tolerated(
        &self,
        m: &Map,
        effective: &Value,
        ctx: &Bindings,
        total: usize,
    ) -> Result<usize, StatesError> {
        let by_count = m
            .tolerated_failure_count
            .as_ref()
            .map(|c| count(c, effective, ctx, "ToleratedFailureCountPath"))
            .transpose()?
            .map(|c| c as usize);
        let by_percentage = match &m.tolerated_failure_percentage {
            Some(Percentage::Literal(p)) => Some(*p),
            Some(Percentage::Path(path)) => {
                let v = path
                    .select(effective, ctx)
                    .map_err(|e| StatesError::runtime(e.to_string()))?;
                Some(v.as_f64().ok_or_else(|| {
                    StatesError::runtime(format!(
                        "ToleratedFailurePercentagePath selected {v}, not a number"
                    ))
                })?)
            }
            Some(Percentage::Expression(e)) => {
                let v = e.eval(States::input(effective), ctx)?;
                match v.as_f64() {
                    Some(p) if (0.0..=100.0).contains(&p) => Some(p),
                    _ => {
                        return Err(StatesError::new(
                            names::QUERY_EVALUATION_ERROR,
                            format!(
                                "ToleratedFailurePercentage '{}' returned {v}, not a number \
                                 from 0 to 100",
                                e.as_str()
                            ),
                        ))
                    }
                }
            }
            None => None,
        }
        .map(|p| ((p / 100.0) * total as f64).floor() as usize);
        Ok(match (by_count, by_percentage) {
            (None, None) => 0,
            (Some(c), None) => c,
            (None, Some(p)) => p,
            (Some(c), Some(p)) => c.max(p),
        })
    }

    async fn write_results(
        &self,
        state: &State,
        writer: &crate::model::ResultWriter,
        effective: &Value,
        ctx: &Bindings,
        outputs: Vec<Value>,
    ) -> Result<Value, StatesError> {
        let failed = |cause: String| StatesError::new(names::RESULT_WRITER_FAILED, cause);
        let objects = self.services.objects.as_ref().ok_or_else(|| {
            failed("this engine has no bucket access bound for ResultWriter".into())
        })?;
        let params = writer.parameters.render(effective, ctx)?;
        let bucket = params
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| failed("ResultWriter Parameters need a string Bucket".into()))?;
        let prefix = params.get("Prefix").and_then(Value::as_str).unwrap_or("");
        let run_id = uuid::Uuid::new_v4();
        let base = format!(
            "{}{run_id}",
            if prefix.is_empty() || prefix.ends_with('/') {
                prefix.to_string()
            } else {
                format!("{prefix}/")
            }
        );
        let (ok, bad): (Vec<_>, Vec<_>) = outputs
            .into_iter()
            .enumerate()
            .partition(|(_, v)| v.get("Error").is_none() || v.get("Cause").is_none());
        let record = |(i, v): (usize, Value), status: &str| json!({"Index": i, "Status": status, "Output": v.to_string()});
        let succeeded: Vec<Value> = ok.into_iter().map(|x| record(x, "SUCCEEDED")).collect();
        let failed_items: Vec<Value> = bad.into_iter().map(|x| record(x, "FAILED")).collect();
        let mut manifest_files = Vec::new();
        for (name, rows) in [
            ("SUCCEEDED_0.json", &succeeded),
            ("FAILED_0.json", &failed_items),
        ] {
            if rows.is_empty() {
                continue;
            }
            let key = format!("{base}/{name}");
            objects
                .put(
                    bucket,
                    &key,
                    Value::Array(rows.clone()).to_string().into_bytes(),
                )
                .await
                .map_err(failed)?;
            manifest_files.push(key);
        }
        let map_run_arn = format!(
            "arn:aws:states:local:000000000000:mapRun:{}/{}:{run_id}",
            self.definition_name(),
            state.name
        );
        let manifest_key = format!("{base}/manifest.json");
        let manifest = json!({
            "DestinationBucket": bucket,
            "MapRunArn": map_run_arn,
            "ResultFiles": {
                "SUCCEEDED": manifest_files.iter().filter(|k| k.ends_with("SUCCEEDED_0.json")).map(|k| json!({"Key": k, "Size": 0})).collect::<Vec<_>>(),
                "FAILED": manifest_files.iter().filter(|k| k.ends_with("FAILED_0.json")).map(|k| json!({"Key": k, "Size": 0})).collect::<Vec<_>>(),
            }
        });
        objects
            .put(bucket, &manifest_key, manifest.to_string().into_bytes())
            .await
            .map_err(failed)?;
        Ok(json!({
            "MapRunArn": map_run_arn,
            "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key},
        }))
    }

    fn definition_name(&self) -> String {
        self.state_machine_ctx
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("local")
            .to_string()
    }
}

/// A state's input or output over the 256 KiB payload quota is `States.DataLimitExceeded`.
fn check_size(bytes: usize, state: &str, what: &str) -> Result<(), StatesError> {
    if bytes <= MAX_PAYLOAD_BYTES {
        return Ok(());
    }
    Err(StatesError::new(
        names::DATA_LIMIT_EXCEEDED,
        format!(
            "The state/task '{state}' {what} has a size of {bytes} bytes, exceeding the maximum \
             number of bytes service limit ({MAX_PAYLOAD_BYTES})."
        ),
    ))
}

/// The outputs reused from an earlier attempt, recorded for the next redrive.
fn reused(done: &HashMap<usize, Value>) -> Option<Value> {
    if done.is_empty() {
        return None;
    }
    let map: JsonMap<String, Value> = done
        .iter()
        .map(|(i, v)| (i.to_string(), v.clone()))
        .collect();
    Some(json!({ "reused": map }))
}

/// Whether a state reads the context object anywhere (it is built only then).
fn needs_context(state: &State) -> bool {
    state.parameters.is_some()
        || state.jsonata.is_some()
        || state.assign.is_some()
        || state.result_selector.is_some()
        || state.input_path.as_ref().is_some_and(|p| p.is_context())
        || state.output_path.as_ref().is_some_and(|p| p.is_context())
        || matches!(
            state.body,
            Body::Choice(_) | Body::Wait(_) | Body::Fail(_) | Body::Map(_) | Body::Task(_)
        )
}

/// ResultSelector → Assign → ResultPath → OutputPath: the output and the assigned variables.
/// `Assign` reads the result as ResultSelector left it (the developer guide's "Processing
/// input and output" diagram for JSONPath states).
fn process_result(
    state: &State,
    raw: &Value,
    result: Value,
    ctx: &Bindings,
) -> Result<(Value, Assigned), StatesError> {
    if let Some(io) = &state.jsonata {
        let states = States {
            input: raw,
            result: Some(&result),
            error_output: None,
        };
        let assigned = assign(&state.assign, &result, states, ctx)?;
        let output = match &io.output {
            Some(t) => t.render(states, ctx)?,
            None => result,
        };
        return Ok((output, assigned));
    }
    let result = match &state.result_selector {
        Some(t) => t.render(&result, ctx)?,
        None => result,
    };
    let assigned = assign(&state.assign, &result, States::input(raw), ctx)?;
    let combined = place_result(&state.result_path, raw, result)?;
    Ok((output_path(state, combined, ctx)?, assigned))
}

/// A `States.QueryEvaluationError` cause with the state and its entry event in front, as
/// AWS words it: "An error occurred while executing the state 'S' (entered at the event id
/// #2). The JSONata expression …".
fn located(mut e: StatesError, state: &str, entered: u64) -> StatesError {
    if e.error == names::QUERY_EVALUATION_ERROR && !e.cause.starts_with("An error occurred") {
        e.cause = format!(
            "An error occurred while executing the state '{state}' (entered at the event id \
             #{entered}). {}",
            e.cause
        );
    }
    e
}

/// The output of a state without a result (Pass in JSONata, Choice, Wait, Succeed): JSONata
/// `Output` (absent: the input), or JSONPath `OutputPath` over the effective input.
fn plain_output(
    state: &State,
    effective: Value,
    raw: &Value,
    ctx: &Bindings,
) -> Result<Value, StatesError> {
    match &state.jsonata {
        Some(io) => match &io.output {
            Some(t) => t.render(States::input(raw), ctx),
            None => Ok(raw.clone()),
        },
        None => output_path(state, effective, ctx),
    }
}

/// What a Task or the branches of a Parallel get: JSONata `Arguments` or JSONPath
/// `Parameters`, else the effective input.
fn arguments(state: &State, effective: &Value, ctx: &Bindings) -> Result<Value, StatesError> {
    match (&state.jsonata, &state.parameters) {
        (Some(io), _) => match &io.arguments {
            Some(t) => t.render(States::input(effective), ctx),
            None => Ok(effective.clone()),
        },
        (None, Some(t)) => t.render(effective, ctx),
        (None, None) => Ok(effective.clone()),
    }
}

/// Evaluates an `Assign` with the variables as they were when the state was entered: no
/// assignment of the same state is visible to another. A JSONPath `Assign` reads `dollar` as
/// `$`; a JSONata one reads `states` as `$states`.
fn assign(
    template: &Option<Assign>,
    dollar: &Value,
    states: States,
    ctx: &Bindings,
) -> Result<Assigned, StatesError> {
    let rendered = match template {
        None => return Ok(Assigned::new()),
        Some(Assign::Paths(t)) => t.render(dollar, ctx)?,
        Some(Assign::Jsonata(t)) => t.render(states, ctx)?,
    };
    let size = rendered.to_string().len();
    if size > crate::variables::MAX_ASSIGN_BYTES {
        return Err(StatesError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!(
                "the variables assigned are {size} bytes, over the {}-byte limit of one Assign",
                crate::variables::MAX_ASSIGN_BYTES
            ),
        ));
    }
    match rendered {
        Value::Object(m) => Ok(m),
        other => Err(StatesError::runtime(format!(
            "Assign must produce an object of variables, it produced {}",
            kind_of(&other)
        ))),
    }
}

/// `assignedVariables` of a `…StateExited` event: each value as its JSON text, as
/// `GetExecutionHistory` shows it.
fn assigned_details(assigned: &Assigned) -> Value {
    Value::Object(
        assigned
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.to_string())))
            .collect(),
    )
}

fn place_result(path: &ResultPath, raw: &Value, result: Value) -> Result<Value, StatesError> {
    match path {
        ResultPath::Replace => Ok(result),
        ResultPath::Discard => Ok(raw.clone()),
        ResultPath::At(p) => p.set(raw.clone(), result).map_err(|e| {
            StatesError::new(
                names::RESULT_PATH_MATCH_FAILURE,
                format!(
                    "Unable to apply ResultPath \"{}\" to input {}: {}",
                    p.as_str(),
                    truncated(raw),
                    e.message
                ),
            )
        }),
    }
}

fn output_path(state: &State, value: Value, ctx: &Bindings) -> Result<Value, StatesError> {
    match &state.output_path {
        None => Ok(json!({})),
        Some(p) if p.is_root() => Ok(value),
        Some(p) => p.select(&value, ctx).map_err(|e| {
            StatesError::runtime(format!(
                "An error occurred while executing the state '{}'. Invalid path '{}' : {}",
                state.name,
                p.as_str(),
                e.message
            ))
        }),
    }
}

fn text(t: &Option<Text>, input: &Value, ctx: &Bindings) -> Result<String, StatesError> {
    Ok(match t {
        None => String::new(),
        Some(Text::Literal(s)) => s.clone(),
        Some(Text::Dynamic(tpl)) => match tpl.render(input, ctx)? {
            Value::String(s) => s,
            other => other.to_string(),
        },
        Some(Text::Jsonata(e)) => match e.eval(States::input(input), ctx)? {
            Value::String(s) => s,
            other => other.to_string(),
        },
    })
}

fn count(c: &Count, input: &Value, ctx: &Bindings, field: &str) -> Result<u64, StatesError> {
    match c {
        Count::Literal(n) => Ok(*n),
        Count::Expression(e) => {
            let v = e.eval(States::input(input), ctx)?;
            v.as_u64().ok_or_else(|| {
                StatesError::new(
                    names::QUERY_EVALUATION_ERROR,
                    format!(
                        "{} '{}' returned {v}, not a non-negative integer",
                        field.strip_suffix("Path").unwrap_or(field),
                        e.as_str()
                    ),
                )
            })
        }
        Count::Path(p) => {
            let v = p
                .select(input, ctx)
                .map_err(|e| StatesError::runtime(format!("{field}: {e}")))?;
            v.as_u64().ok_or_else(|| {
                StatesError::runtime(format!(
                    "{field} '{}' selected {v}, not a non-negative integer",
                    p.as_str()
                ))
            })
        }
    }
}

fn truncated(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 1024 {
        return s;
    }
    let mut end = 1024;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}
