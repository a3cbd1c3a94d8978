//! Payload in, step out: the one place a task's JSON input is decoded into a step's payload,
//! the step run, and its output encoded again.
//!
//! The local engine's Task bindings (`sluice-local`) and the Lambdas (`sluice-lambdas`) both
//! call [`invoke`], so a step behaves the same under sluice's engine and under Step Functions.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::StepError;
use crate::payload::{CommitInput, FilterInput, ObjectTask, QuarantineRequest};
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
    pub fn from_function_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.function_name() == name)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.function_name())
    }
}

/// Decodes `input` into `step`'s payload, runs the step on `ctx` and encodes its output.
///
/// An input that does not fit the payload is `Internal`: a broken definition or a bug, not a
/// bad object, so the execution fails at the step and is redriven after the fix.
pub async fn invoke(ctx: &Context, step: Step, input: Value) -> Result<Value, StepError> {
    match step {
        Step::Filter => {
            let f: FilterInput = decode(step, input)?;
            encode(crate::filter::filter(ctx, f).await?)
        }
        Step::DetectDrift => {
            let t: ObjectTask = decode(step, input)?;
            encode(crate::drift::detect_drift(ctx, t).await?)
        }
        Step::Validate => {
            let t: ObjectTask = decode(step, input)?;
            encode(crate::validate::validate(ctx, t).await?)
        }
        Step::Quarantine => {
            let r: QuarantineRequest = decode(step, input)?;
            encode(crate::quarantine::quarantine_request(ctx, r).await?)
        }
        Step::Commit => {
            let c: CommitInput = decode(step, input)?;
            encode(crate::commit::commit(ctx, c).await?)
        }
    }
}

/// `input` as `step`'s payload, or the `Internal` error [`invoke`] documents.
pub fn decode<T: DeserializeOwned>(step: Step, input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| {
        StepError::internal(format!(
            "{step}: the task input does not fit the step's payload: {e}"
        ))
    })
}

fn encode<T: Serialize>(out: T) -> Result<Value, StepError> {
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

    #[test]
    fn an_input_that_does_not_fit_is_internal() {
        let e = decode::<CommitInput>(Step::Commit, serde_json::json!({"object": 1}))
            .expect_err("not a commit input");
        assert_eq!(e.kind, crate::StepErrorKind::Internal);
        assert!(e.message.starts_with("commit: the task input does not fit"));
    }
}
