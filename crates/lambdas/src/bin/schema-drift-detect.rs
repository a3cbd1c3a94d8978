//! The `schema-drift-detect` Lambda: the DetectDrift step of statemachine/ingest.asl.json.

use sluice_steps::dispatch::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The step's own function, not `dispatch::invoke`: the other steps stay out of the binary.
    sluice_lambdas::run_step(Step::DetectDrift, |ctx, input| {
        Box::pin(dispatch::detect_drift(ctx, input))
    })
    .await
}
