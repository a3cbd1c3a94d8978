//! One invocation of a step's function: the payload read (an EventBridge event made an
//! arrival first), the step run through `sluice_steps::dispatch` exactly as the local engine
//! runs it, the outcome logged in the invocation's span and its metrics printed.

use std::time::Instant;

use lambda_runtime::LambdaEvent;
use serde_json::Value;
use sluice_steps::dispatch::{self, Step, StepOutput};
use sluice_steps::{Context, StepError};
use tracing::Instrument;

use crate::error::StepFailure;
use crate::logs::{invocation_span, Identity};
use crate::{event, metrics};

/// Runs `step` on one invocation's payload.
pub async fn handle(
    ctx: &Context,
    function: &str,
    step: Step,
    event: LambdaEvent<Value>,
) -> Result<Value, StepFailure> {
    let (payload, lambda) = event.into_parts();
    let span = invocation_span(function, &lambda.request_id, &Identity::of(&payload));
    async move {
        let started = Instant::now();
        let result = run(ctx, step, payload).await;
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

/// The step on `payload`, with the Lambda-only adaptations of the input: the filter's
/// EventBridge event, the Quarantine state's EventBridge identity.
pub async fn run(ctx: &Context, step: Step, payload: Value) -> Result<StepOutput, StepError> {
    let input = match step {
        Step::Filter => match event::filter_input(payload)? {
            Ok(input) => input,
            Err(answered) => return Ok(StepOutput::Filter(answered)),
        },
        Step::Quarantine => event::quarantine_input(payload),
        _ => payload,
    };
    dispatch::invoke(ctx, step, input).await
}
