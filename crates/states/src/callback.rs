//! Callback tasks: a Task whose resource ends in `.waitForTaskToken` gets a task token
//! (`$$.Task.Token`, `$states.context.Task.Token`), hands it on through its handler (a queue
//! message, a notification …), and then waits until someone sends the token back with
//! `SendTaskSuccess` or `SendTaskFailure` ([`Engine::send_task_success`] and friends, `sluice
//! task …`). The token and its callback live in the execution store, so the callback may come
//! from another process.
//!
//! While it waits, the task times out when no heartbeat (`SendTaskHeartbeat`) came for
//! `HeartbeatSeconds` (`States.HeartbeatTimeout` to its Retry and Catch), or after
//! `TimeoutSeconds`, both read on the engine's clock; either shows as `States.Timeout` in the
//! history and the execution's error, as AWS records it.
//!
//! [`Engine::send_task_success`]: crate::Engine::send_task_success

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{names, StatesError};
use crate::store::{ExecutionStore, Sent, TokenState};

/// The resource suffix of the callback pattern.
pub const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

/// What every token starts with; the rest is 64 hexadecimal digits.
const TOKEN_PREFIX: &str = "sluice-task-token-";

/// How often a waiting task looks for its callback.
const POLL: Duration = Duration::from_millis(100);

pub fn is_callback(resource: &str) -> bool {
    resource.ends_with(WAIT_FOR_TASK_TOKEN)
}

/// A new, unguessable task token.
pub(crate) fn new_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `token` has the shape of a token this engine hands out (else `InvalidToken`).
pub fn is_well_formed(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How long a callback task may wait, from when it started.
pub(crate) struct Limits {
    pub started: DateTime<Utc>,
    pub heartbeat: Option<u64>,
    pub timeout: Option<u64>,
}

/// How a callback task's wait ended.
pub(crate) enum Waited {
    /// `SendTaskSuccess`: the task's output.
    Output(Value),
    /// `SendTaskFailure`: the error and cause sent.
    Failed(StatesError),
    /// No heartbeat in time (`States.HeartbeatTimeout`) or no answer in time
    /// (`States.Timeout`).
    TimedOut(&'static str),
}

/// Waits for the callback of `token`: its output, the error it sent, or a timeout. A
/// timeout closes the token, so a late callback is refused; a callback that came in
/// meanwhile wins.
pub(crate) async fn wait(
    store: &ExecutionStore,
    clock: &dyn Clock,
    token: &str,
    limits: Limits,
) -> Result<Waited, StatesError> {
    let lost = |e: crate::store::StoreError| StatesError::runtime(format!("task token: {e}"));
    loop {
        let last = match store.token(token).await.map_err(lost)? {
            Some(TokenState::Succeeded(output)) => {
                store.consume_token(token).await.map_err(lost)?;
                return Ok(Waited::Output(output));
            }
            Some(TokenState::Failed { error, cause }) => {
                store.consume_token(token).await.map_err(lost)?;
                return Ok(Waited::Failed(StatesError::new(error, cause)));
            }
            Some(TokenState::Waiting { heartbeat }) => heartbeat,
            Some(TokenState::Closed) | None => {
                return Err(StatesError::runtime("the task token was closed"))
            }
        };
        let now = clock.now();
        let past = |since: DateTime<Utc>, secs: u64| {
            (now - since).num_milliseconds() >= (secs as i64).saturating_mul(1000)
        };
        let expired = match (limits.timeout, limits.heartbeat) {
            (Some(t), _) if past(limits.started, t) => Some(names::TIMEOUT),
            (_, Some(h)) if past(last, h) => Some(names::HEARTBEAT_TIMEOUT),
            _ => None,
        };
        if let Some(error) = expired {
            if store.close_token(token).await.map_err(lost)? == Sent::Accepted {
                return Ok(Waited::TimedOut(error));
            }
            continue;
        }
        clock.sleep(POLL).await;
    }
}
