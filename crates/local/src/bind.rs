//! The definition and its bindings: `statemachine/ingest.asl.json` with each CDK
//! placeholder (`${FilterFunctionArn}` …) replaced by a local resource name, and each of
//! those names bound to the in-process step.
//!
//! A step's `StepError` becomes the task's error exactly as the Lambda would report it: the
//! kind's name is the `Error` the definition's Retry and Catch match, the `Cause` is the
//! step's `ErrorCause` JSON, which the Quarantine step reads back. Decoding the task's input
//! and running the step is `sluice_steps::dispatch`, which the Lambdas call too.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use sluice_states::{Registry, StatesError, TaskCall, TaskHandler};
use sluice_steps::dispatch;
pub use sluice_steps::dispatch::Step;
use sluice_steps::{Context, StepError, StepErrorKind};

/// The definition CDK deploys, compiled in so the binary and the deployment cannot differ.
pub const DEFINITION: &str = include_str!("../../../statemachine/ingest.asl.json");

/// The local state machine's name (on AWS, the CDK stack names it).
pub const STATE_MACHINE: &str = "sluice-ingest";

/// Where each step sits in the definition and in the local engine.
pub trait Binding {
    /// The CDK substitution placeholder in the definition.
    fn placeholder(self) -> &'static str;
    /// The resource name the local definition uses in place of the Lambda ARN.
    fn resource(self) -> &'static str;
}

impl Binding for Step {
    fn placeholder(self) -> &'static str {
        match self {
            Step::Filter => "FilterFunctionArn",
            Step::DetectDrift => "SchemaDriftDetectFunctionArn",
            Step::Validate => "ValidateFunctionArn",
            Step::Quarantine => "QuarantineFunctionArn",
            Step::Commit => "CommitFunctionArn",
        }
    }

    fn resource(self) -> &'static str {
        match self {
            Step::Filter => "sluice:filter",
            Step::DetectDrift => "sluice:detect_drift",
            Step::Validate => "sluice:validate",
            Step::Quarantine => "sluice:quarantine",
            Step::Commit => "sluice:commit",
        }
    }
}

/// The definition with every placeholder replaced by its local resource.
pub fn definition() -> Result<String, Vec<String>> {
    let values: HashMap<String, String> = Step::ALL
        .iter()
        .map(|s| (s.placeholder().to_string(), s.resource().to_string()))
        .collect();
    sluice_states::parse::substitute(DEFINITION, &values)
}

/// Binds every step's resource to the step, run in process on `ctx`.
pub fn registry(ctx: &Context) -> Registry {
    let mut registry = Registry::new();
    for step in Step::ALL {
        registry.bind(
            step.resource(),
            Arc::new(StepHandler {
                step,
                ctx: ctx.clone(),
            }),
        );
    }
    registry
}

struct StepHandler {
    step: Step,
    ctx: Context,
}

#[async_trait::async_trait]
impl TaskHandler for StepHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let output = dispatch::invoke(&self.ctx, self.step, call.input).await;
        output
            .and_then(|out| out.to_json())
            .map_err(to_states_error)
    }
}

/// A step error as the task's error: the kind's name, and the `ErrorCause` JSON as cause.
pub fn to_states_error(e: StepError) -> StatesError {
    let cause = serde_json::to_string(&e.cause()).unwrap_or_else(|_| e.message.clone());
    StatesError::new(e.kind.name(), cause)
}

/// The kinds the definition must handle: every one is matched by some Retry or Catch, or
/// (`Internal`) deliberately left to fail the execution.
pub const KINDS: [StepErrorKind; 5] = [
    StepErrorKind::TransientError,
    StepErrorKind::CommitConflict,
    StepErrorKind::BadInput,
    StepErrorKind::DriftBlocked,
    StepErrorKind::Internal,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_bound_and_nothing_else_is_left() {
        let text = definition().expect("every placeholder has a value");
        assert!(!text.contains("${"), "unbound placeholder left");
        for step in Step::ALL {
            assert!(
                DEFINITION.contains(&format!("${{{}}}", step.placeholder())),
                "{} is not used by the definition",
                step.placeholder()
            );
            assert!(text.contains(step.resource()));
        }
    }

    #[test]
    fn the_definition_passes_the_engines_static_checks() {
        let text = definition().unwrap();
        if let Err(problems) = sluice_states::parse_definition(&text) {
            panic!("statemachine/ingest.asl.json:\n{problems}");
        }
    }

    #[test]
    fn step_errors_keep_their_kind_name_and_cause() {
        let e = to_states_error(StepError::bad_input(
            sluice_core::QuarantineReason::ParseError,
            "line 3: not JSON",
        ));
        assert_eq!(e.error, "BadInput");
        let cause: Value = serde_json::from_str(&e.cause).unwrap();
        assert_eq!(cause["reason"], "parse_error");
        assert_eq!(cause["detail"], "line 3: not JSON");
    }

    /// Every error name the definition matches is one a task can raise (our kinds, the
    /// Lambda service's and its sandbox's, or States.*); every retryable kind is retried on every step that
    /// can raise it, the quarantining kinds are caught, and `Internal` is matched nowhere,
    /// so it fails the execution at the step (redrivable there).
    #[test]
    fn error_names_in_the_definition_are_ours_and_complete() {
        let def: Value = serde_json::from_str(DEFINITION).unwrap();
        let ours: Vec<&str> = KINDS.iter().map(|k| k.name()).collect();
        let mut retried = std::collections::BTreeSet::new();
        let mut caught = std::collections::BTreeSet::new();
        for (name, state) in def["States"].as_object().unwrap() {
            for (field, set) in [("Retry", &mut retried), ("Catch", &mut caught)] {
                for rule in state[field].as_array().into_iter().flatten() {
                    for e in rule["ErrorEquals"].as_array().unwrap() {
                        let e = e.as_str().unwrap();
                        assert!(
                            ours.contains(&e)
                                || e.starts_with("Lambda.")
                                || e.starts_with("Sandbox.")
                                || e.starts_with("States."),
                            "{name}.{field}: unknown error name {e}"
                        );
                        assert_ne!(e, "Internal", "{name}: Internal must fail the execution");
                        assert_ne!(e, "States.ALL", "{name}: States.ALL would swallow Internal");
                        set.insert(e.to_string());
                    }
                }
            }
            if state["Type"] == "Task" {
                let retries: Vec<&str> = state["Retry"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| {
                        r["ErrorEquals"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .filter_map(Value::as_str)
                    })
                    .collect();
                assert!(
                    retries.contains(&"TransientError"),
                    "{name} does not retry TransientError"
                );
            }
        }
        assert!(retried.contains("CommitConflict"));
        assert!(caught.contains("BadInput") && caught.contains("DriftBlocked"));
        let commit = &def["States"]["Commit"]["Retry"][0];
        assert_eq!(commit["ErrorEquals"][0], "CommitConflict");
        assert_eq!(commit["JitterStrategy"], "FULL");
        assert!(commit["MaxDelaySeconds"].is_u64());
    }
}
