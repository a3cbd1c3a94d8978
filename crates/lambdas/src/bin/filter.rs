//! The `filter` Lambda: the filter step of statemachine/ingest.asl.json.

use sluice_steps::dispatch::{self, Step};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The step's own function, not `dispatch::invoke`: the other steps stay out of the binary.
    sluice_lambdas::run_step(Step::Filter, |ctx, input| {
        Box::pin(dispatch::filter(ctx, input))
    })
    .await
}
