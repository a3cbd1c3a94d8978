//! Execution history events, shaped like Step Functions' `GetExecutionHistory`: an id, the
//! id of the event before it, a timestamp, a type and a `…EventDetails` object.
//!
//! Each stored event also carries two things AWS does not show: the *scope* it happened in
//! (the top level, or a Map iteration / Parallel branch, nested) and a small internal record
//! (where a state went next, an iteration's output). Redrive rebuilds the resume point from
//! them, so the history is the single durable truth of an execution.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// One event, as stored and as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: u64,
    #[serde(rename = "previousEventId")]
    pub previous_event_id: u64,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    pub kind: String,
    /// The `…EventDetails` object (under the key [`details_key`] gives).
    pub details: Value,
    /// Where in the execution: "" for the top level, else a `/`-joined scope id.
    #[serde(skip)]
    pub scope: String,
    /// The engine's own record, for redrive.
    #[serde(skip)]
    pub internal: Option<Value>,
}

impl Event {
    /// The event as `GetExecutionHistory` would return it.
    pub fn to_aws(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "previousEventId": self.previous_event_id,
            "timestamp": self.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "type": self.kind,
        });
        if !self.details.is_null() {
            v[details_key(&self.kind)] = self.details.clone();
        }
        v
    }
}

/// The details field name for an event type: `TaskStateEntered` → `stateEnteredEventDetails`,
/// `TaskScheduled` → `taskScheduledEventDetails`, `MapIterationStarted` →
/// `mapIterationStartedEventDetails`, as the GetExecutionHistory API names them.
pub fn details_key(kind: &str) -> String {
    for suffix in ["StateEntered", "StateExited"] {
        if kind.ends_with(suffix) && kind != suffix {
            let base = &suffix[..1].to_lowercase();
            return format!("{base}{}EventDetails", &suffix[1..]);
        }
    }
    let mut chars = kind.chars();
    match chars.next() {
        Some(first) => format!("{}{}EventDetails", first.to_lowercase(), chars.as_str()),
        None => "eventDetails".to_string(),
    }
}

/// Event type names, built from the state type where AWS does (`PassStateEntered`, …).
pub mod kinds {
    pub const EXECUTION_STARTED: &str = "ExecutionStarted";
    pub const EXECUTION_SUCCEEDED: &str = "ExecutionSucceeded";
    pub const EXECUTION_FAILED: &str = "ExecutionFailed";
    pub const EXECUTION_ABORTED: &str = "ExecutionAborted";
    pub const EXECUTION_TIMED_OUT: &str = "ExecutionTimedOut";
    pub const EXECUTION_REDRIVEN: &str = "ExecutionRedriven";
    pub const TASK_SCHEDULED: &str = "TaskScheduled";
    pub const TASK_STARTED: &str = "TaskStarted";
    /// A callback task's request went out; its details hold the service's answer.
    pub const TASK_SUBMITTED: &str = "TaskSubmitted";
    pub const TASK_SUCCEEDED: &str = "TaskSucceeded";
    pub const TASK_FAILED: &str = "TaskFailed";
    pub const TASK_TIMED_OUT: &str = "TaskTimedOut";
    pub const MAP_STATE_STARTED: &str = "MapStateStarted";
    pub const MAP_STATE_SUCCEEDED: &str = "MapStateSucceeded";
    pub const MAP_STATE_FAILED: &str = "MapStateFailed";
    pub const MAP_ITERATION_STARTED: &str = "MapIterationStarted";
    pub const MAP_ITERATION_SUCCEEDED: &str = "MapIterationSucceeded";
    pub const MAP_ITERATION_FAILED: &str = "MapIterationFailed";
    pub const PARALLEL_STATE_STARTED: &str = "ParallelStateStarted";
    pub const PARALLEL_STATE_SUCCEEDED: &str = "ParallelStateSucceeded";
    pub const PARALLEL_STATE_FAILED: &str = "ParallelStateFailed";
    pub const WAIT_STATE_ABORTED: &str = "WaitStateAborted";
    pub const FAIL_STATE_ENTERED: &str = "FailStateEntered";
}

/// Whether an event type is a state's entry (`…StateEntered`) or exit (`…StateExited`).
pub fn is_state_entered(kind: &str) -> bool {
    kind.ends_with("StateEntered")
}

pub fn is_state_exited(kind: &str) -> bool {
    kind.ends_with("StateExited")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_keys_follow_the_api() {
        assert_eq!(details_key("TaskStateEntered"), "stateEnteredEventDetails");
        assert_eq!(details_key("MapStateExited"), "stateExitedEventDetails");
        assert_eq!(details_key("TaskScheduled"), "taskScheduledEventDetails");
        assert_eq!(
            details_key("ExecutionStarted"),
            "executionStartedEventDetails"
        );
        assert_eq!(
            details_key("MapIterationSucceeded"),
            "mapIterationSucceededEventDetails"
        );
    }
}
