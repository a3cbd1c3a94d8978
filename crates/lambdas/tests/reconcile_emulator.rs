//! Reconcile against S3, on the emulator (ministack) with the deployed stack: events lost
//! while the table's rule is disabled are found by the reconcile function, which starts
//! exactly the missing object versions under the names their events would have had, starts
//! nothing the second time, sets the watermark and records removals whose events were lost.
//!
//! See: the issue "`S3Store::list` uses ListObjectsV2, which has no version ids": every
//! listed object looked unseen, the watermark was never set and every run started one
//! execution per object.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use sluice_aws::emulator::{Ministack, Stack};
use sluice_aws::S3Store;
use sluice_lambdas::reconcile::ReconcileOutput;
use sluice_steps::payload::Arrival;
use sluice_steps::reconcile::{arrival_name, Watermark};
use sluice_store::{Ledger, ObjectStore};

/// Objects landed, and how many of them land while the rule is off (30 %).
const OBJECTS: usize = 200;
const LOST: usize = 60;
/// Rows per object.
const ROWS: usize = 3;
/// Objects whose events arrive, landed at once (see the test).
const WAVE: usize = 35;

/// `ROWS` orders that pass `examples/orders/orders.schema.json`, ids unique per object.
fn orders(object: usize) -> Vec<u8> {
    let mut body = String::new();
    for row in 0..ROWS {
        let id = 100_000 + object * ROWS + row;
        body.push_str(&format!(
            "{{\"order_id\": {id}, \"ordered_at\": \"2026-04-{:02}T10:{:02}:00Z\", \
             \"customer_email\": \"c{id}@example.com\", \"status\": \"paid\", \
             \"quantity\": {}, \"amount\": {}.25}}\n",
            1 + object % 28,
            row,
            1 + row,
            object + row
        ));
    }
    body.into_bytes()
}

fn key(object: usize) -> String {
    format!("orders/batch-{object:03}.ndjson")
}

/// Puts object `i` into the stack's bucket; its version id and etag.
async fn land(s3: &aws_sdk_s3::Client, stack: &Stack, i: usize) -> (String, String) {
    let out = s3
        .put_object()
        .bucket(&stack.bucket)
        .key(key(i))
        .body(orders(i).into())
        .send()
        .await
        .unwrap();
    (out.version_id.unwrap(), out.e_tag.unwrap())
}

/// The stack's rule for the orders table, off or on. EventBridge drops what a disabled rule
/// would have matched: the event is lost.
async fn set_rule(stack: &Stack, enabled: bool) {
    let events = aws_sdk_eventbridge::Client::new(&stack.sdk);
    let rule = format!("{}-orders", stack.name);
    if enabled {
        events.enable_rule().name(&rule).send().await.unwrap();
    } else {
        events.disable_rule().name(&rule).send().await.unwrap();
    }
}

/// The emulator sends S3's events to EventBridge after it answers the request: give it time
/// to do so before the rule changes.
async fn let_events_settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

/// Invokes the stack's reconcile function for the orders table; its answer, and how long
/// the invocation took.
async fn reconcile(stack: &Stack) -> (ReconcileOutput, Duration) {
    let lambda = aws_sdk_lambda::Client::new(&stack.sdk);
    let started = Instant::now();
    let out = lambda
        .invoke()
        .function_name(&stack.functions["reconcile"])
        .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            br#"{"table":"orders"}"#.to_vec(),
        ))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let payload = out.payload.map(|p| p.into_inner()).unwrap_or_default();
    assert!(
        out.function_error.is_none(),
        "reconcile failed: {:?}: {}",
        out.function_error,
        String::from_utf8_lossy(&payload)
    );
    let answer = serde_json::from_slice(&payload).unwrap_or_else(|e| {
        panic!(
            "reconcile answered {}: {e}",
            String::from_utf8_lossy(&payload)
        )
    });
    (answer, took)
}

/// Deletes `key` (a delete marker, on the versioned bucket); the marker's version id.
async fn delete(stack: &Stack, key: &str) -> String {
    let out = sluice_aws::s3_client(&stack.sdk)
        .delete_object()
        .bucket(&stack.bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(out.delete_marker, Some(true), "a delete marker for {key}");
    out.version_id.expect("the marker's version id")
}

/// Fails with the error of the first execution that did not succeed, its last events and
/// the emulator's log.
async fn all_succeeded(
    ministack: &Ministack,
    stack: &Stack,
    executions: &[aws_sdk_sfn::types::ExecutionListItem],
) {
    if let Some(e) = executions
        .iter()
        .find(|e| e.status != ExecutionStatus::Succeeded)
    {
        panic!("{}", stack.why_failed(ministack, e).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_starts_exactly_the_versions_whose_events_were_lost() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(
        ministack,
        &common::repo().join("examples/orders/sluice.toml"),
        &common::binaries(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let s3 = sluice_aws::s3_client(&stack.sdk);

    // Every tenth object from 0 to 2 lands while the rule is off: its event is lost.
    let lost = |i: usize| i % 10 < 3;
    let mut versions = BTreeMap::new();
    set_rule(&stack, false).await;
    for i in (0..OBJECTS).filter(|i| lost(*i)) {
        versions.insert(i, land(&s3, &stack, i).await);
    }
    let_events_settle().await;
    set_rule(&stack, true).await;
    // The heard objects land in waves, each once the one before has finished: the emulator
    // runs every concurrent invocation as a process of its own, and 140 arrivals at once were
    // some 500 processes on a two-core machine, where a commit once started a minute and a
    // half after its Task and the Task timed out. A wave still commits as concurrent groups.
    let heard: Vec<usize> = (0..OBJECTS).filter(|i| !lost(*i)).collect();
    let mut arrived = Vec::new();
    for wave in heard.chunks(WAVE) {
        for &i in wave {
            versions.insert(i, land(&s3, &stack, i).await);
        }
        arrived = stack
            .wait_for_executions(ministack, versions.len() - LOST, Duration::from_secs(600))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(arrived.len(), OBJECTS - LOST, "one execution per event");
    all_succeeded(ministack, &stack, &arrived).await;

    // The missing versions, named as their events would have named them.
    let (first, took) = reconcile(&stack).await;
    eprintln!(
        "reconcile of {} listed versions ({} to start) took {took:?}",
        first.listed,
        first.started.len()
    );
    let expected: BTreeSet<String> = (0..OBJECTS)
        .filter(|i| lost(*i))
        .map(|i| {
            let (version, etag) = &versions[&i];
            arrival_name(&Arrival {
                bucket: stack.bucket.clone(),
                key: key(i),
                version_id: Some(version.clone()),
                etag: Some(etag.trim_matches('"').to_string()),
                sequencer: None,
                event: Default::default(),
                time: None,
            })
        })
        .collect();
    assert_eq!(expected.len(), LOST);
    let started: BTreeSet<String> = first.started.iter().cloned().collect();
    assert_eq!(started, expected, "exactly the lost versions start");
    assert!(first.already_started.is_empty(), "{first:?}");
    assert_eq!(first.listed, OBJECTS as u64);

    let all = stack
        .wait_for_executions(ministack, OBJECTS, Duration::from_secs(600))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(all.len(), OBJECTS, "{} executions", all.len());
    all_succeeded(ministack, &stack, &all).await;

    // Once they finished: nothing to start, and the watermark covers every object.
    let (second, took) = reconcile(&stack).await;
    eprintln!(
        "reconcile of {} listed versions (none to start) took {took:?}",
        second.listed
    );
    assert!(second.started.is_empty(), "{second:?}");
    assert!(second.already_started.is_empty(), "{second:?}");
    assert_eq!(second.watermark.unfinished, 0, "{second:?}");
    assert!(second.watermark.watermark.is_some(), "{second:?}");
    let store = S3Store::from_conf(&stack.sdk, stack.bucket.clone());
    let table = &stack.config.tables[0];
    let (bytes, _) = store
        .get_bytes(&sluice_core::layout::watermark(table))
        .await
        .unwrap()
        .expect("the watermark is recorded");
    let mark: Watermark = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(mark.watermark, second.watermark.watermark);
    assert_eq!(mark.objects, OBJECTS as u64);

    // Every valid row, exactly once.
    let lake = sluice_aws::open_glue_lake(&stack.sdk, &stack.warehouse)
        .await
        .unwrap();
    let rows = lake.scan_json(table).await.unwrap();
    let ids: BTreeSet<i64> = rows
        .iter()
        .map(|r| r["order_id"].as_i64().expect("an order id"))
        .collect();
    assert_eq!(rows.len(), OBJECTS * ROWS, "rows in the table");
    assert_eq!(ids.len(), OBJECTS * ROWS, "each row once");

    // A removal whose event arrives is recorded by the filter; one whose event is lost, by
    // reconcile. Neither starts an ingestion, and the rows stay.
    let heard = key(5);
    let marker = delete(&stack, &heard).await;
    let with_removal = stack
        .wait_for_executions(ministack, OBJECTS + 1, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    all_succeeded(ministack, &stack, &with_removal).await;
    let ledger = Ledger::new(std::sync::Arc::new(store.clone()));
    let head = ledger.head(&stack.bucket, &heard).await.unwrap().unwrap();
    assert_eq!(head.removals.len(), 1, "{head:?}");

    let unheard = key(6);
    set_rule(&stack, false).await;
    let unheard_marker = delete(&stack, &unheard).await;
    let_events_settle().await;
    set_rule(&stack, true).await;
    let before = ledger.head(&stack.bucket, &unheard).await.unwrap().unwrap();
    assert!(
        before.removals.is_empty(),
        "the removal's event was lost: {before:?}"
    );
    let (third, _) = reconcile(&stack).await;
    assert!(third.started.is_empty(), "{third:?}");
    assert_eq!(third.removals, vec![unheard.clone()], "{third:?}");
    let head = ledger.head(&stack.bucket, &unheard).await.unwrap().unwrap();
    let recorded: Vec<_> = head
        .removals
        .iter()
        .map(|r| r.version_id.as_deref())
        .collect();
    assert_eq!(recorded, [Some(unheard_marker.as_str())], "{head:?}");
    // The removal heard by its event is not recorded twice.
    let head = ledger.head(&stack.bucket, &heard).await.unwrap().unwrap();
    assert_eq!(head.removals.len(), 1, "{head:?} (marker {marker})");
    let (fourth, _) = reconcile(&stack).await;
    assert!(
        fourth.removals.is_empty() && fourth.started.is_empty(),
        "{fourth:?}"
    );
    assert_eq!(fourth.watermark.unfinished, 0, "{fourth:?}");
    assert_eq!(lake.scan_json(table).await.unwrap().len(), OBJECTS * ROWS);
}
