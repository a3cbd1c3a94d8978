//! The deployed shape, end to end, on a local AWS emulator (ministack), deployed by
//! `sluice_aws::emulator::Stack` as the CDK app deploys it: a versioned bucket with
//! EventBridge notifications, a rule per table prefix starting the Standard state machine of
//! `statemachine/ingest.asl.json`, and the Lambdas running this package's real binaries.
//! The orders example lands in the bucket; every execution must succeed, the Glue table must
//! hold exactly the example's good rows, and the two bad files must wait in quarantine with
//! their reasons; the outbox's events must reach the sluice event bus through the publish
//! function, once each.
//!
//! Emulator gaps, covered by the local engine's tests instead: it has no
//! `RedriveExecution`, and it does not enforce IAM.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use sluice_aws::emulator::{Binaries, Ministack, Stack};
use sluice_store::ObjectStore;

/// This package's builds of the ten functions, or those in `SLUICE_LAMBDA_BIN_DIR` when it
/// is set (`make lambda-coldstart`: the `lambda` profile's builds for this machine).
pub fn binaries() -> Binaries {
    if let Some(dir) = std::env::var_os("SLUICE_LAMBDA_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return Binaries(
            sluice_aws::emulator::stack::FUNCTIONS
                .iter()
                .map(|(n, _)| (n.to_string(), dir.join(n)))
                .collect(),
        );
    }
    common::binaries()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_example_lands_through_eventbridge_step_functions_lambda_s3_and_glue() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(
        ministack,
        &common::repo().join("examples/orders/sluice.toml"),
        &binaries(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (sdk, bucket, config) = (&stack.sdk, &stack.bucket, &stack.config);

    // The example lands.
    let data = common::repo().join("examples/orders/data");
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in &files {
        let key = format!("orders/{}", file.file_name().unwrap().to_string_lossy());
        stack.put(&key, std::fs::read(file).unwrap()).await.unwrap();
    }

    // Every arrival becomes one execution, and every execution ends.
    let executions = stack
        .wait_for_executions(ministack, files.len(), Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(executions.len(), files.len(), "one execution per arrival");
    if let Some(e) = executions
        .iter()
        .find(|e| e.status != ExecutionStatus::Succeeded)
    {
        panic!("{}", stack.why_failed(ministack, e).await);
    }

    // The Glue table holds exactly the good rows (the local run's figure, README).
    let lake = sluice_aws::open_glue_lake(sdk, &stack.warehouse)
        .await
        .unwrap();
    let table = lake
        .load(&config.tables[0])
        .await
        .unwrap()
        .expect("the Glue table exists");
    let metadata = table.metadata();
    let total: u64 = metadata
        .current_snapshot()
        .expect("a snapshot")
        .summary()
        .additional_properties
        .get("total-records")
        .expect("total-records in the snapshot summary")
        .parse()
        .unwrap();
    assert_eq!(total, 73, "rows in {}", metadata.location());

    // The two bad files wait in quarantine, with their reasons, in the bucket.
    let store = sluice_aws::S3Store::from_conf(sdk, bucket.clone());
    let records = store
        .list(&sluice_steps::context::keys::quarantine_prefix())
        .await
        .unwrap();
    let mut reasons = vec![];
    for r in &records {
        let (bytes, _) = store.get_bytes(&r.key).await.unwrap().unwrap();
        let record: sluice_core::quarantine::QuarantineRecord =
            serde_json::from_slice(&bytes).unwrap();
        reasons.push((record.object.key.clone(), record.reason));
    }
    reasons.sort_by(|a, b| a.0.cmp(&b.0));
    let reasons: Vec<String> = reasons
        .iter()
        .map(|(k, r)| {
            format!(
                "{k}: {}",
                serde_json::to_value(r).unwrap().as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "orders/orders-2026-03-03-malformed.ndjson: too_many_invalid_rows",
            "orders/orders-2026-03-07-quantity-as-text.ndjson: drift_blocked",
        ]
    );

    // What downstream systems were told, through the outbox, the publish function and the
    // sluice bus: one FileCommitted per committed file (the same id as the outbox's), one
    // FileQuarantined per quarantined one, the coupon column's SchemaEvolved.
    let committed = files.len() - 2;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let mut received: Vec<serde_json::Value> = vec![];
    let count = |received: &[serde_json::Value], t: &str| {
        received.iter().filter(|e| e["detail-type"] == t).count()
    };
    while count(&received, "FileCommitted") < committed
        || count(&received, "FileQuarantined") < 2
        || count(&received, "SchemaEvolved") < 1
    {
        assert!(
            std::time::Instant::now() < deadline,
            "events on the bus after 120 s: {received:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        received.extend(stack.received_events().await.unwrap());
    }
    let outbox = sluice_steps::events::list(&store).await.unwrap();
    for e in &received {
        assert_eq!(e["source"], "sluice", "{e}");
        let id = e["detail"]["id"].as_str().unwrap();
        let written = outbox.iter().find(|o| o.id == id).expect("from the outbox");
        assert_eq!(e["detail-type"], written.kind.as_str());
    }
    let mut ids: Vec<&str> = received
        .iter()
        .map(|e| e["detail"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), outbox.len(), "every outbox record delivered");
}

/// The emulator runs every invocation of a `provided` function as a new process, so each
/// invocation is a cold start: the process starts, loads the config, opens the bucket (and,
/// for the steps that touch tables, the catalog), and answers. A payload no function takes
/// must come back as that function's error (never a timeout or a crash), and the time each
/// takes is printed: the cold start per function (`make lambda-coldstart` measures the
/// `lambda` profile's builds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_starts_cold_and_answers_a_payload_it_cannot_take_with_its_error() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(
        ministack,
        &common::repo().join("examples/orders/sluice.toml"),
        &binaries(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk);
    for (function, deployed) in &stack.functions {
        let mut times = vec![];
        for _ in 0..3 {
            let started = std::time::Instant::now();
            let out = lambda
                .invoke()
                .function_name(deployed)
                .payload(aws_sdk_lambda::primitives::Blob::new(
                    r#"{"not": "a payload of sluice"}"#,
                ))
                .send()
                .await
                .unwrap_or_else(|e| panic!("invoking {function}: {e:?}"));
            times.push(started.elapsed());
            let body = String::from_utf8_lossy(out.payload().map(|b| b.as_ref()).unwrap_or(b""))
                .to_string();
            assert!(
                out.function_error().is_some(),
                "{function} accepted a foreign payload: {body}"
            );
            let error: serde_json::Value = serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{function}'s error is not JSON ({e}): {body}"));
            let kind = error["errorType"].as_str().unwrap_or_default();
            assert!(
                !kind.starts_with("Runtime.") && !kind.starts_with("Sandbox."),
                "{function} failed to start or crashed instead of refusing the payload: {body}"
            );
        }
        times.sort();
        eprintln!(
            "cold start {function:<20} {:>5} ms (median of 3 invocations, each a new process)",
            times[1].as_millis()
        );
    }
}
