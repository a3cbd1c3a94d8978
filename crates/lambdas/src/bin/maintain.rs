//! The `maintain` Lambda: `{"table": name}` on a schedule; expires the table's snapshots
//! exactly-once no longer needs, then collects its garbage.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    sluice_lambdas::run_maintain().await
}
