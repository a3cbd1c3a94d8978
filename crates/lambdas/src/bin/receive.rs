//! The `receive` Lambda: the webhook API's requests from an API Gateway HTTP API in; each body
//! written to the bucket (claim-check), or an arrival's status, out.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_receive().await
}
