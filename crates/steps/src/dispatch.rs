//! Payload in, step out: the one place a task's JSON input is decoded into a step's payload,
//! the step run, and its output encoded again.
//!
//! The local engine's Task bindings (`sluice-local`) and the Lambdas (`sluice-lambdas`) both
//! call [`invoke`], so a step behaves the same under sluice's engine and under Step Functions.
//! Its answer stays typed ([`StepOutput`]) until the edge, where the caller encodes it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::StepError;
use crate::payload::{
    CommitInput, CommitOutput, DriftOutput, FilterInput, FilterOutput, ObjectTask,
    QuarantineOutput, RetractInput, RetractOutput, ValidateOutput,
};
use crate::state::IngestState;
use crate::Context;

/// The five steps the definition's Tasks call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Filter,
    DetectDrift,
    Validate,
    Quarantine,
    Commit,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Filter,
        Step::DetectDrift,
        Step::Validate,
        Step::Quarantine,
        Step::Commit,
    ];

    /// The Lambda function's name on AWS (the CDK app's `STEP_FUNCTIONS` keys), which is also
    /// the binary's name in `sluice-lambdas` and the `SLUICE_FUNCTION` variable.
    pub fn function_name(self) -> &'static str {
        match self {
            Step::Filter => "filter",
            Step::DetectDrift => "schema-drift-detect",
            Step::Validate => "validate",
            Step::Quarantine => "quarantine",
            Step::Commit => "commit",
        }
    }

    /// The step whose Lambda function is called `name`.
    /// Whether the step reads or writes tables (needs the catalog). Filter and Quarantine
    /// read the bucket and the ledger only; their Lambda functions open no catalog.
    pub fn uses_tables(self) -> bool {
        matches!(self, Step::DetectDrift | Step::Validate | Step::Commit)
    }

    pub fn from_function_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.function_name() == name)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.function_name())
    }
}

/// What a step answered: one of the five outputs. Serialized untagged, each as its own
/// JSON, which is what the Task's result is on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StepOutput {
    Filter(FilterOutput),
    DetectDrift(DriftOutput),
    Validate(ValidateOutput),
    Quarantine(QuarantineOutput),
    Commit(CommitOutput),
    /// The commit function's answer to a Retract task.
    Retract(RetractOutput),
}

impl StepOutput {
    /// The step that answered.
    pub fn step(&self) -> Step {
        match self {
            Self::Filter(_) => Step::Filter,
            Self::DetectDrift(_) => Step::DetectDrift,
            Self::Validate(_) => Step::Validate,
            Self::Quarantine(_) => Step::Quarantine,
            Self::Commit(_) | Self::Retract(_) => Step::Commit,
        }
    }

    /// The `status` the definition's Choices read, for the outputs that have one.
    pub fn status(&self) -> Option<&'static str> {
        match self {
            Self::Filter(f) => Some(f.status()),
            Self::Validate(v) => Some(v.status()),
            Self::DetectDrift(_) | Self::Quarantine(_) | Self::Commit(_) | Self::Retract(_) => None,
        }
    }

    /// The output as the Task's result.
    pub fn to_json(&self) -> Result<Value, StepError> {
        encode(self)
    }
}

/// Decodes `input` into `step`'s payload and runs the step on `ctx`.
///
/// An input that does not fit the payload is `Internal`: a broken definition or a bug, not a
/// bad object, so the execution fails at the step and is redriven after the fix.
pub async fn invoke(ctx: &Context, step: Step, input: Value) -> Result<StepOutput, StepError> {
    match step {
        Step::Filter => filter(ctx, input).await,
        Step::DetectDrift => detect_drift(ctx, input).await,
        Step::Validate => validate(ctx, input).await,
        Step::Quarantine => quarantine(ctx, input).await,
        Step::Commit => commit(ctx, input).await,
    }
}

// Each step on its own, as [`invoke`] runs it. A binary that runs one step (a Lambda
// function) calls its function here rather than `invoke`, so that the other steps' code,
// unreachable from it, is left out of the binary.

/// The filter step on a task input.
pub async fn filter(ctx: &Context, input: Value) -> Result<StepOutput, StepError> {
    let f: FilterInput = decode(Step::Filter, input)?;
    Ok(StepOutput::Filter(crate::filter::filter(ctx, f).await?))
}

/// The detect-drift step on a task input.
pub async fn detect_drift(ctx: &Context, input: Value) -> Result<StepOutput, StepError> {
    let t: ObjectTask = decode(Step::DetectDrift, input)?;
    Ok(StepOutput::DetectDrift(
        crate::drift::detect_drift(ctx, t).await?,
    ))
}

/// The validate step on a task input.
pub async fn validate(ctx: &Context, input: Value) -> Result<StepOutput, StepError> {
    let t: ObjectTask = decode(Step::Validate, input)?;
    Ok(StepOutput::Validate(
        crate::validate::validate(ctx, t).await?,
    ))
}

/// The quarantine step on a task input.
pub async fn quarantine(ctx: &Context, input: Value) -> Result<StepOutput, StepError> {
    let r: IngestState = decode(Step::Quarantine, input)?;
    Ok(StepOutput::Quarantine(
        crate::quarantine::quarantine_request(ctx, r).await?,
    ))
}

/// The commit step on a task input.
/// The commit function serves two Tasks: Commit (a staged batch) and Retract (a removal,
/// `on_delete = "delete"`), told apart by the input's `removal` field.
pub async fn commit(ctx: &Context, input: Value) -> Result<StepOutput, StepError> {
    if input.get("removal").is_some() {
        let r: RetractInput = decode(Step::Commit, input)?;
        return Ok(StepOutput::Retract(crate::commit::retract(ctx, r).await?));
    }
    let c: CommitInput = decode(Step::Commit, input)?;
    Ok(StepOutput::Commit(crate::commit::commit(ctx, c).await?))
}

pub fn decode<T: DeserializeOwned>(step: Step, input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| {
        StepError::internal(format!(
            "{step}: the task input does not fit the step's payload: {e}"
        ))
    })
}

fn encode<T: Serialize>(out: &T) -> Result<Value, StepError> {
    serde_json::to_value(out).map_err(|e| StepError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::from_function_name(step.function_name()), Some(step));
        }
        assert_eq!(Step::from_function_name("reconcile"), None);
    }

    /// Untagged: the output's own JSON, nothing around it.
    #[test]
    fn a_step_output_is_its_steps_json() {
        let out = FilterOutput::filtered("not for us");
        let wrapped = StepOutput::Filter(out.clone());
        assert_eq!(
            wrapped.to_json().unwrap(),
            serde_json::to_value(&out).unwrap()
        );
        assert_eq!(wrapped.status(), Some("filtered"));
        assert_eq!(wrapped.step(), Step::Filter);
    }

    #[test]
    fn an_input_that_does_not_fit_is_internal() {
        let e = decode::<CommitInput>(Step::Commit, serde_json::json!({"object": 1}))
            .expect_err("not a commit input");
        assert_eq!(e.kind, crate::StepErrorKind::Internal);
        assert!(e.message.starts_with("commit: the task input does not fit"));
    }
}
