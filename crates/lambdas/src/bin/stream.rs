//! The `stream` Lambda: a Kinesis or Kafka batch in; its records written to the bucket as
//! objects, once, and the records to deliver again out.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_stream().await
}
