//! Task states, and the guard of every state that can fail and recover: attempts under the
//! Retriers, then the Catchers (Task, Parallel, Map). A task's events, its timeouts, the
//! callback pattern and the payload limit of its result.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::callback::Waited;

impl Inner {
    /// Task, Parallel and Map: attempts under the state's Retriers, then its Catchers.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn guarded(
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
            let catcher = state
                .catch
                .iter()
                .find(|c| error_matches(&c.error_equals, &error.error));
            // A heartbeat timeout is matched as `States.HeartbeatTimeout` (and as
            // `States.Timeout`), but shows as `States.Timeout`, as AWS records it.
            let error = match error.error == names::HEARTBEAT_TIMEOUT {
                true => StatesError::new(names::TIMEOUT, error.cause),
                false => error,
            };
            if let Some(c) = catcher {
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

    pub(super) async fn task(
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
        if let Some(h) = heartbeat {
            scheduled["heartbeatInSeconds"] = json!(h);
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
        // Set when the wait for a callback timed out (its event is then `TaskTimedOut`).
        let timed_out = AtomicBool::new(false);
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
            match callback::wait(store, self.services.clock.as_ref(), t, limits).await? {
                Waited::Output(output) => Ok(output),
                Waited::Failed(e) => Err(e),
                Waited::TimedOut(error) => {
                    // AWS records a callback task's timeouts with the error name alone.
                    timed_out.store(true, Ordering::Relaxed);
                    self.push(
                        scope,
                        kinds::TASK_TIMED_OUT,
                        json!({"resource": task.resource, "error": names::TIMEOUT}),
                        None,
                    );
                    Err(StatesError::new(error, ""))
                }
            }
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
        match &result {
            _ if timed_out.load(Ordering::Relaxed) => 0,
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
}
