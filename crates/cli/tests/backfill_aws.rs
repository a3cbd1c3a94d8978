//! `sluice backfill PREFIX --aws` through the real binary against the deployed stack on the
//! emulator (ministack): the table's rule disabled (the events are lost), files put under a
//! historical prefix, the backfill state machine created from `statemachine/backfill.asl.json`
//! as the CDK app creates it, then the command starts it, waits, and prints the plan and the
//! Map Run's counts. The Glue table then holds every row once.
//!
//! The Lambda binaries are this workspace's builds (`cargo build -p sluice-lambdas`;
//! `cargo test --workspace` builds them first). The 2,000-object run is
//! `crates/lambdas/tests/backfill_emulator.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_aws::emulator::{Binaries, Ministack, Stack};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const FILES: u64 = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sluice_backfill_aws_runs_the_deployed_backfill_and_prints_its_map_run() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let config = repo().join("examples/orders/sluice.toml");
    let binaries = Binaries::beside_this_test().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(ministack, &config, &binaries)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let table = stack.config.tables[0].clone();
    aws_sdk_eventbridge::Client::new(&stack.sdk)
        .disable_rule()
        .name(format!("{}-{}", stack.name, table.name))
        .send()
        .await
        .unwrap();
    for i in 0..FILES {
        let body = sluice_tests::ndjson((1..=3).map(|r| sluice_tests::order(i * 10 + r)));
        stack
            .put(
                &format!("orders/2025/part-{i:03}.ndjson"),
                body.into_bytes(),
            )
            .await
            .unwrap();
    }
    let definition = std::fs::read_to_string(repo().join("statemachine/backfill.asl.json"))
        .unwrap()
        .replace("${ReconcileFunctionArn}", &stack.function_arns["reconcile"])
        .replace("${IngestStateMachineArn}", &stack.state_machine);
    let arn = aws_sdk_sfn::Client::new(&stack.sdk)
        .create_state_machine()
        .name(format!("{}-backfill", stack.name))
        .definition(definition)
        .role_arn(sluice_aws::emulator::stack::ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;

    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--config"])
        .arg(&config)
        .args(["backfill", "orders/2025/", "--aws"])
        .env("SLUICE_BACKFILL_STATE_MACHINE_ARN", &arn)
        .envs(stack.client_env())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "plan: {FILES} versions listed under orders/2025/, 0 duplicates (the ledger has them), {FILES} to start"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "map run: {FILES} items: {FILES} succeeded, 0 failed"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("SUCCEEDED"), "{stdout}");

    // Every row once, in the table Glue names.
    let lake = sluice_aws::open_glue_lake(&stack.sdk, &stack.warehouse)
        .await
        .unwrap();
    let rows = lake.scan_json(&table).await.unwrap();
    assert_eq!(rows.len() as u64, FILES * 3);
    let mut ids: Vec<u64> = rows
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len() as u64, FILES * 3, "each row once");
}
