//! The `publish` Lambda: the S3 event of an outbox record in; that event put on the stack's
//! event bus.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_publish().await
}
