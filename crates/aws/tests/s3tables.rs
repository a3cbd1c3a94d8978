//! The `Lake` on an emulated S3 Tables table bucket (ministack), through its Iceberg REST
//! endpoint with SigV4: the orders example's table created from its contract (with the
//! snapshot management exactly-once needs), rows committed and read back by sluice and by
//! pyiceberg, a lost optimistic-concurrency race surfacing as `CommitConflict`, an overwrite
//! commit, and expiry and gc refused with the reason.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_aws::emulator::{Ministack, REGION};
use sluice_aws::open_s3tables_lake;
use sluice_aws::s3tables::{snapshot_retention_hours, TableBuckets};
use sluice_core::config::{Config, TableConfig};
use sluice_core::contract::Contract;
use sluice_core::schema::TableSchema;
use sluice_core::BatchId;
use sluice_lake::writer::BatchWriter;
use sluice_lake::{Lake, LakeErrorKind, StagedBatch};

/// The ledger lease the lakes are opened with (the default, 15 minutes).
const LEASE: Duration = Duration::from_secs(900);

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders")
}

/// The orders table of the example (a struct column, a `timestamptz` column, partitioned by
/// its day), in a namespace of its own so tests do not meet.
fn orders(namespace: &str) -> (TableConfig, TableSchema) {
    let config = Config::load(&example().join("sluice.toml")).unwrap();
    let mut table = config.tables[0].clone();
    let schema = Contract::load(&config.contract_path(&table))
        .unwrap()
        .table_schema;
    table.namespace = namespace.to_string();
    (table, schema)
}

/// The example's first day of orders, as rows.
fn rows() -> Vec<Value> {
    let text = std::fs::read_to_string(example().join("data/orders-2026-03-01.ndjson")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A lake on a fresh table bucket of the shared emulator: (lake, the bucket's ARN, a
/// namespace).
async fn lake() -> (Lake, String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let sdk = ministack.sdk_config().await;
    let arn = TableBuckets::from_conf(&sdk)
        .unwrap()
        .create_table_bucket(&format!("tables-{}-{n}", std::process::id()))
        .await
        .unwrap();
    let lake = open_s3tables_lake(&sdk, &arn, LEASE).await.unwrap();
    (lake, arn, format!("shop_{}_{n}", std::process::id()))
}

async fn stage(lake: &Lake, table: &TableConfig, schema: &TableSchema, batch: &str) -> StagedBatch {
    let t = lake.load_or_create(table, schema).await.unwrap();
    let mut writer = BatchWriter::new(&t, &BatchId(batch.into()), None)
        .await
        .unwrap();
    let failures = writer
        .write_rows(&sluice_lake::writer::JsonRows::from_values(&rows()))
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    writer.finish().await.unwrap()
}

/// The sorted `order_id`s pyiceberg reads from the table through the emulator's Iceberg REST
/// endpoint. Unsigned: the emulator does not check signatures, and pyiceberg signs only with
/// boto3, which the test environment does not install.
fn pyiceberg_order_ids(arn: &str, namespace: &str) -> Value {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let endpoint = ministack.endpoint();
    let script = r#"
import json, sys
from pyiceberg.catalog.rest import RestCatalog
endpoint, arn, namespace, region = sys.argv[1:5]
catalog = RestCatalog("s3tables", **{
    "uri": f"{endpoint}/iceberg", "warehouse": arn,
    "s3.endpoint": endpoint, "s3.region": region, "s3.path-style-access": "true",
    "s3.access-key-id": "test", "s3.secret-access-key": "test",
})
rows = catalog.load_table((namespace, "orders")).scan().to_arrow()
print(json.dumps(sorted(rows.column("order_id").to_pylist())))
"#;
    let out = Command::new(&python)
        .args(["-c", script, &endpoint, arn, namespace, REGION])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sorted_ids(rows: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = rows
        .iter()
        .map(|r| r["order_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn a_table_made_from_the_contract_takes_a_batch_and_reads_back() {
    let (lake, arn, namespace) = lake().await;
    let (table, schema) = orders(&namespace);
    let expected = rows().len();
    assert_eq!(expected, 20);

    let staged = stage(&lake, &table, &schema, "b-s3t-1").await;
    assert_eq!(staged.rows, expected as u64);
    // S3 Tables chose the table's location; the data files are under it.
    let t = lake.load(&table).await.unwrap().unwrap();
    let location = t.metadata().location().trim_end_matches('/').to_string();
    assert!(location.starts_with("s3://"), "{location}");
    assert!(
        staged
            .paths
            .iter()
            .all(|p| p.starts_with(&format!("{location}/data/"))),
        "data files under the table's location {location}: {:?}",
        staged.paths
    );
    let outcome = lake
        .commit_batches(&table, std::slice::from_ref(&staged))
        .await
        .unwrap();
    assert!(outcome.new_snapshot_id.is_some());
    // Committing the same batch again adds nothing: its id is in the snapshot summary.
    let again = lake.commit_batches(&table, &[staged]).await.unwrap();
    assert_eq!(again.new_snapshot_id, None);
    assert_eq!(again.already_committed, vec![BatchId("b-s3t-1".into())]);

    // A second lake (another Lambda) sees the table through the catalog alone.
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let sdk = ministack.sdk_config().await;
    let other = open_s3tables_lake(&sdk, &arn, LEASE).await.unwrap();
    let described = other.describe(&table).await.unwrap().unwrap();
    assert_eq!(described.snapshots.len(), 1);
    assert_eq!(described.total_records, expected as u64);
    let read = other.scan_json(&table).await.unwrap();
    assert_eq!(sorted_ids(&read), sorted_ids(&rows()));

    // Created with sluice's properties (no silent retry of a lost commit race).
    assert_eq!(
        t.metadata()
            .properties()
            .get("commit.retry.num-retries")
            .map(String::as_str),
        Some("0")
    );
    // The table keeps its snapshots through the redrive window, not S3 Tables' 120 hours.
    let ident = Lake::ident(&table).unwrap();
    let maintenance = TableBuckets::from_conf(&sdk)
        .unwrap()
        .table_maintenance(&arn, &ident)
        .await
        .unwrap();
    let snapshots = &maintenance["configuration"]["icebergSnapshotManagement"];
    assert_eq!(snapshots["status"], "enabled", "{maintenance}");
    let settings = &snapshots["settings"]["icebergSnapshotManagement"];
    assert_eq!(
        settings["maxSnapshotAgeHours"],
        snapshot_retention_hours(LEASE),
        "{maintenance}"
    );
    assert_eq!(settings["minSnapshotsToKeep"], 1, "{maintenance}");

    // Another engine reads the same rows through the REST endpoint.
    let ids = pyiceberg_order_ids(&arn, &namespace);
    assert_eq!(ids, serde_json::json!(sorted_ids(&rows())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_lakes_committing_from_one_base_one_conflicts_and_its_retry_lands() {
    let (lake, arn, namespace) = lake().await;
    let (table, schema) = orders(&namespace);
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let sdk = ministack.sdk_config().await;
    lake.load_or_create(&table, &schema).await.unwrap();

    // Rounds of two committers (each its own catalog client, as two Lambdas) released at
    // once: both load the same base, so unless one finishes before the other starts, one
    // loses the race. A round without a conflict is timing, not a failure; many in a row
    // would be.
    let rounds = 8;
    let mut conflicts = 0;
    let mut committed = 0u64;
    for round in 0..rounds {
        let lakes = [
            open_s3tables_lake(&sdk, &arn, LEASE).await.unwrap(),
            open_s3tables_lake(&sdk, &arn, LEASE).await.unwrap(),
        ];
        let mut batches = Vec::new();
        for (i, l) in lakes.iter().enumerate() {
            batches.push(stage(l, &table, &schema, &format!("b-race-{round}-{i}")).await);
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = lakes
            .iter()
            .cloned()
            .zip(batches.clone())
            .map(|(l, batch)| {
                let (table, barrier) = (table.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    l.commit_batches(&table, &[batch]).await
                })
            })
            .collect();
        let mut lost = Vec::new();
        for (task, batch) in tasks.into_iter().zip(batches) {
            match task.await.unwrap() {
                Ok(outcome) => {
                    assert!(outcome.new_snapshot_id.is_some());
                    committed += batch.rows;
                }
                Err(e) if e.kind == LakeErrorKind::CommitConflict => lost.push(batch),
                Err(e) => panic!("round {round}: {e:?}"),
            }
        }
        assert!(lost.len() < 2, "round {round}: both committers lost");
        conflicts += lost.len();
        // The state machine's retry: the loser commits again on the new base.
        for batch in lost {
            let retried = lakes[0]
                .commit_batches(&table, std::slice::from_ref(&batch))
                .await
                .unwrap();
            assert!(retried.new_snapshot_id.is_some());
            committed += batch.rows;
        }
        if conflicts > 0 && round >= 1 {
            break;
        }
    }
    assert!(
        conflicts > 0,
        "no commit conflict in {rounds} rounds of racing commits"
    );
    let described = lake.describe(&table).await.unwrap().unwrap();
    assert_eq!(described.total_records, committed);
    let read = lake.scan_json(&table).await.unwrap();
    assert_eq!(read.len() as u64, committed);
    // Every batch is the same 20 orders: each id exactly once per committed batch.
    let per_batch = committed / rows().len() as u64;
    let mut expected: Vec<i64> = sorted_ids(&rows())
        .into_iter()
        .flat_map(|id| std::iter::repeat_n(id, per_batch as usize))
        .collect();
    expected.sort_unstable();
    assert_eq!(sorted_ids(&read), expected);
}

/// The overwrite commit through S3 Tables' requirement checks: a batch's files replaced by
/// another's and the rows read back; then expiry and gc, which S3 Tables does itself, refused
/// with the reason.
#[tokio::test]
async fn an_overwrite_commits_and_expiry_and_gc_are_refused() {
    let (lake, _arn, namespace) = lake().await;
    let (table, schema) = orders(&namespace);
    let first = stage(&lake, &table, &schema, "b-s3t-first").await;
    lake.commit_batches(&table, std::slice::from_ref(&first))
        .await
        .unwrap();
    let second = stage(&lake, &table, &schema, "b-s3t-second").await;
    lake.commit_batches(&table, std::slice::from_ref(&second))
        .await
        .unwrap();
    let third = stage(&lake, &table, &schema, "b-s3t-third").await;
    let replaced = lake
        .overwrite(
            &table,
            &first.paths,
            std::slice::from_ref(&third),
            sluice_lake::RowChange::Changed,
            Default::default(),
        )
        .await
        .unwrap();
    assert!(replaced.new_snapshot_id.is_some());
    assert_eq!(lake.scan_json(&table).await.unwrap().len(), 40);
    let described = lake.describe(&table).await.unwrap().unwrap();
    assert_eq!(described.snapshots.len(), 3);
    // The current snapshot reads the third batch's file, not the first's.
    let t = lake.load(&table).await.unwrap().unwrap();
    let live = sluice_lake::files::referenced_files(&t).await.unwrap();
    assert!(live.contains(&sluice_lake::files::canonical_path(&third.paths[0])));

    let policy = sluice_lake::ExpiryPolicy {
        older_than: Duration::ZERO,
        retain_last: 1,
    };
    let refused = lake.expiry_candidates(&table, policy).await.unwrap_err();
    assert_eq!(refused.kind, LakeErrorKind::Internal);
    assert!(
        refused
            .message
            .contains("is in S3 Tables, which expires snapshots")
            && refused.message.contains("snapshot expiry"),
        "{refused}"
    );
    let refused = lake.expire_snapshots(&table, &[1]).await.unwrap_err();
    assert!(refused.message.contains("snapshot expiry"), "{refused}");
    let refused = lake.data_files(&table).await.unwrap_err();
    assert!(
        refused.message.contains("garbage collection") && refused.message.contains(&namespace),
        "{refused}"
    );
    assert_eq!(
        lake.describe(&table)
            .await
            .unwrap()
            .unwrap()
            .snapshots
            .len(),
        3
    );
}
