//! The `validate` Lambda: the validate step of statemachine/ingest.asl.json.

use sluice_steps::dispatch::Step;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_step(Step::Validate).await
}
