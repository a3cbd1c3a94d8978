//! One invocation of a step's function: the payload read (an EventBridge event made an
//! arrival first), the step run through its function in `sluice_steps::dispatch` exactly as
//! the local engine runs it, the outcome logged in the invocation's span and its metrics printed.

use std::time::Instant;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sluice_steps::dispatch::{Step, StepOutput};
use sluice_steps::{Context, StepError};
use tracing::Instrument;

use crate::error::StepFailure;
use crate::logs::{invocation_span, Identity};
use crate::{event, metrics};

/// A step's run on a task input: `sluice_steps::dispatch::filter` and its siblings, each of
/// which reaches its own step's code only.
pub type Runner = for<'a> fn(&'a Context, Value) -> BoxFuture<'a, Result<StepOutput, StepError>>;

/// A boxed future of a [`Runner`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `step` on one invocation's payload, with `runner` (the step's own function).
pub async fn handle(
    ctx: &Context,
    function: &str,
    step: Step,
    runner: Runner,
    event: LambdaEvent<Value>,
) -> Result<Value, StepFailure> {
    let (payload, lambda) = event.into_parts();
    let span = invocation_span(function, &lambda.request_id, &Identity::of(&payload));
    async move {
        let started = Instant::now();
        let result = run_with(ctx, step, runner, payload).await;
        match &result {
            Ok(out) => {
                tracing::info!(
                    status = out.status(),
                    ms = started.elapsed().as_millis() as u64,
                    "step done"
                );
                metrics::emit(
                    &metrics::of_output(out, started.elapsed(), chrono::Utc::now()),
                    &metrics::Dimensions::from_env(metrics::table_of(out)),
                );
            }
            Err(e) => tracing::warn!(kind = e.kind.name(), error = %e.chain(), "step failed"),
        }
        result.and_then(|out| out.to_json()).map_err(StepFailure)
    }
    .instrument(span)
    .await
}

/// `runner` on `payload`, with the Lambda-only adaptations of the input: the filter's
/// EventBridge event, the Quarantine state's EventBridge identity.
pub async fn run_with(
    ctx: &Context,
    step: Step,
    runner: Runner,
    payload: Value,
) -> Result<StepOutput, StepError> {
    let input = match step {
        Step::Filter => match event::filter_input(payload)? {
            Ok(input) => input,
            Err(answered) => return Ok(StepOutput::Filter(answered)),
        },
        Step::Quarantine => event::quarantine_input(payload),
        _ => payload,
    };
    runner(ctx, input).await
}
