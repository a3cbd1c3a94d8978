//! The `reconcile` Lambda: `{"table": name}` on a schedule; starts an execution for every
//! object version under the table's prefix whose event was lost.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_reconcile().await
}
