//! A backfill on the emulator (ministack): the stack deployed as the CDK app deploys it, its
//! table's EventBridge rule disabled (so every object's event is "lost"), 200 small valid
//! files put under `orders/` (`SLUICE_BACKFILL_OBJECTS=N` for another count), then `statemachine/backfill.asl.json` (its placeholders
//! substituted with the deployed reconcile function and ingest state machine) started for
//! the table. Its Plan is the real reconcile binary, its Distributed Map runs one child
//! ingest execution per object version through `startExecution.sync:2`. It must succeed,
//! every version must be committed once in the ledger, and pyiceberg, reading the table
//! Glue points at, must find every row exactly once.
//!
//! The definition runs as it is: it uses no ItemBatcher or ResultWriter, which the emulator
//! lacks. 2,000 objects pass too but take most of an hour on a 2-core machine: the emulator,
//! one Python process, rewrites the table's growing metadata for every commit, and the
//! commits queue on the one table; `make test` runs 200.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use futures::StreamExt;
use sluice_aws::emulator::{Ministack, Stack};
use sluice_core::ledger::{LedgerRecord, LedgerState};
use sluice_store::ObjectStore;

/// Rows per file.
const ROWS: u64 = 3;

/// A file of `ROWS` valid orders; the ids of file `i` are its own.
fn file(i: u64) -> Vec<u8> {
    (0..ROWS)
        .map(|r| {
            let id = i * ROWS + r + 1;
            format!(
                "{}\n",
                serde_json::json!({
                    "order_id": id,
                    "ordered_at": "2025-06-01T10:00:00Z",
                    "customer_email": format!("c{id}@example.com"),
                    "status": "paid",
                    "quantity": 1 + r,
                    "amount": 10.5
                })
            )
        })
        .collect::<String>()
        .into_bytes()
}

/// Reads the table through Glue (botocore, the metadata location Glue holds) and scans it
/// with pyiceberg's own reader from the emulator's S3.
const READ_WITH_PYICEBERG: &str = r#"
import json, sys
import botocore.session
from pyiceberg.table import StaticTable
endpoint, database, name = sys.argv[1:4]
creds = dict(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
glue = botocore.session.get_session().create_client("glue", endpoint_url=endpoint, **creds)
location = glue.get_table(DatabaseName=database, Name=name)["Table"]["Parameters"]["metadata_location"]
table = StaticTable.from_metadata(location, properties={
    "s3.endpoint": endpoint, "s3.region": "us-east-1",
    "s3.access-key-id": "test", "s3.secret-access-key": "test",
    "s3.connect-timeout": "60", "s3.request-timeout": "300",
})
ids = table.scan(selected_fields=("order_id",)).to_arrow().column("order_id").to_pylist()
print(json.dumps({"rows": len(ids), "distinct": len(set(ids)), "snapshots": len(table.metadata.snapshots)}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_runs_through_distributed_map_and_lands_every_row_once() {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let count: u64 = std::env::var("SLUICE_BACKFILL_OBJECTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(
        ministack,
        &common::repo().join("examples/orders/sluice.toml"),
        &common::binaries(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let table = stack.config.tables[0].clone();
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);

    // Plans of a third of the prefix each: the definition's loop runs three parts (a part is
    // 100,000 versions on a real stack).
    let part = count.div_ceil(3);
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk);
    let reconcile = &stack.function_arns["reconcile"];
    let current = lambda
        .get_function_configuration()
        .function_name(reconcile)
        .send()
        .await
        .unwrap();
    let mut variables = current
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    variables.insert("SLUICE_BACKFILL_PART_VERSIONS".into(), part.to_string());
    lambda
        .update_function_configuration()
        .function_name(reconcile)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .send()
        .await
        .unwrap();

    // The table's events are lost: its rule is disabled.
    aws_sdk_eventbridge::Client::new(&stack.sdk)
        .disable_rule()
        .name(format!("{}-{}", stack.name, table.name))
        .send()
        .await
        .unwrap();

    // The history lands, 16 puts at a time.
    let t0 = Instant::now();
    let puts = futures::stream::iter(0..count)
        .map(|i| {
            let (stack, prefix) = (&stack, &table.prefix);
            async move {
                let key = format!("{prefix}history/part-{i:05}.ndjson");
                stack.put(&key, file(i)).await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for p in puts {
        p.unwrap_or_else(|e| panic!("{e}"));
    }
    let landed = t0.elapsed();
    eprintln!("backfill: {count} objects put in {landed:.1?}");
    let before = sfn
        .list_executions()
        .state_machine_arn(&stack.state_machine)
        .send()
        .await
        .unwrap();
    assert!(
        before.executions.is_empty(),
        "no event may start an ingest: {:?}",
        before.executions
    );

    // The backfill state machine, from the very definition CDK deploys.
    let definition = std::fs::read_to_string(common::repo().join("statemachine/backfill.asl.json"))
        .unwrap()
        .replace("${ReconcileFunctionArn}", &stack.function_arns["reconcile"])
        .replace("${IngestStateMachineArn}", &stack.state_machine);
    assert!(!definition.contains("${"), "a placeholder is left");
    let backfill = sfn
        .create_state_machine()
        .name(format!("{}-backfill", stack.name))
        .definition(definition)
        .role_arn(sluice_aws::emulator::stack::ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;

    let t1 = Instant::now();
    let started = sfn
        .start_execution()
        .state_machine_arn(&backfill)
        .name("backfill-orders-history")
        .input(
            serde_json::json!({"table": table.name, "prefix": format!("{}history/", table.prefix)})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(3600);
    let mut said = Instant::now();
    let done = loop {
        let d = sfn
            .describe_execution()
            .execution_arn(&started.execution_arn)
            .send()
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "the backfill is still running after an hour; emulator log: {}",
            ministack.log_path().display()
        );
        if said.elapsed() > Duration::from_secs(30) {
            eprintln!("backfill: running for {:.0?}", t1.elapsed());
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let took = t1.elapsed();
    assert_eq!(
        done.status,
        ExecutionStatus::Succeeded,
        "{:?}: {:?}; emulator log: {}",
        done.error(),
        done.cause(),
        ministack.log_path().display()
    );
    let plan: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    eprintln!(
        "backfill: {count} objects through Distributed Map in {took:.1?} ({:.1} objects/s); plan {plan}",
        count as f64 / took.as_secs_f64()
    );
    assert_eq!(plan["listed"], count, "{plan}");
    assert_eq!(plan["duplicates"], 0, "{plan}");
    assert_eq!(plan["to_start"], count, "{plan}");
    assert_eq!(
        plan["part"],
        count.div_ceil(part) - 1,
        "the last of the parts: {plan}"
    );
    assert!(plan["continuation"].is_null(), "{plan}");

    // One ingest execution per version, each SUCCEEDED.
    let executions = stack
        .wait_for_executions(ministack, count as usize, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executions.len() as u64, count);
    if let Some(e) = executions
        .iter()
        .find(|e| e.status != ExecutionStatus::Succeeded)
    {
        panic!("{}", stack.why_failed(ministack, e).await);
    }

    // Every version committed once in the ledger.
    let store = sluice_aws::S3Store::from_conf(&stack.sdk, stack.bucket.clone());
    let listed = store
        .list(&sluice_core::layout::ledger_prefix())
        .await
        .unwrap();
    let records: Vec<LedgerRecord> = futures::stream::iter(listed)
        .map(|m| {
            let store = &store;
            async move {
                let (bytes, _) = store.get_bytes(&m.key).await.unwrap().unwrap();
                serde_json::from_slice::<LedgerRecord>(&bytes).unwrap()
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut committed: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.state, LedgerState::Committed { .. }))
        .map(|r| r.object.key.as_str())
        .collect();
    assert_eq!(records.len() as u64, count, "one ledger record per version");
    committed.sort();
    committed.dedup();
    assert_eq!(committed.len() as u64, count, "every version committed");

    // pyiceberg reads exactly the rows, each once, from the table Glue names.
    let out = Command::new(&python)
        .arg("-c")
        .arg(READ_WITH_PYICEBERG)
        .arg(&stack.endpoint)
        .arg(&table.namespace)
        .arg(&table.name)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("backfill: pyiceberg read {read}");
    assert_eq!(read["rows"], count * ROWS, "{read}");
    assert_eq!(read["distinct"], count * ROWS, "{read}");

    // Again: nothing new runs. Every version's execution exists under the name the plan
    // gives it, so each item meets ExecutionAlreadyExists; no ingest is started twice and
    // the table is unchanged. (Whether the plan already counts them as duplicates depends
    // on the listing carrying version ids: on a versioned bucket the ledger knows each
    // version by its id, which ListObjectsV2 does not return.)
    let again = sfn
        .start_execution()
        .state_machine_arn(&backfill)
        .name("backfill-orders-history-again")
        .input(serde_json::json!({"table": table.name}).to_string())
        .send()
        .await
        .unwrap();
    let done = loop {
        let d = sfn
            .describe_execution()
            .execution_arn(&again.execution_arn)
            .send()
            .await
            .unwrap();
        if d.status != ExecutionStatus::Running {
            break d;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        done.status,
        ExecutionStatus::Succeeded,
        "{:?}",
        done.cause()
    );
    let plan: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    eprintln!("backfill again: plan {plan}");
    assert_eq!(plan["listed"], count, "{plan}");
    assert_eq!(
        plan["duplicates"].as_u64().unwrap() + plan["to_start"].as_u64().unwrap(),
        count,
        "{plan}"
    );
    let executions = stack
        .wait_for_executions(ministack, count as usize, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executions.len() as u64, count, "no ingest started twice");
    let out = Command::new(&python)
        .arg("-c")
        .arg(READ_WITH_PYICEBERG)
        .arg(&stack.endpoint)
        .arg(&table.namespace)
        .arg(&table.name)
        .output()
        .expect("run python");
    let read: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read["rows"], count * ROWS, "{read}");
}
