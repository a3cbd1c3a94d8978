//! The `quarantine` Lambda: the quarantine step of statemachine/ingest.asl.json.

use sluice_steps::dispatch::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The step's own function, not `dispatch::invoke`: the other steps stay out of the binary.
    sluice_lambdas::run_step(Step::Quarantine, |ctx, input| {
        Box::pin(dispatch::quarantine(ctx, input))
    })
    .await
}
