//! The `Lake` on an emulated Glue Data Catalog with its files in emulated S3 (ministack):
//! the orders example's table created from its contract, rows committed and read back
//! through Iceberg, and a lost optimistic-locking race surfacing as `CommitConflict`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;
use sluice_aws::emulator::Ministack;
use sluice_aws::open_glue_lake;
use sluice_core::config::{Config, TableConfig};
use sluice_core::contract::Contract;
use sluice_core::schema::TableSchema;
use sluice_core::BatchId;
use sluice_lake::writer::BatchWriter;
use sluice_lake::{Lake, LakeErrorKind, StagedBatch};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders")
}

/// The orders table of the example (a `timestamptz` column, partitioned by its day), in a
/// namespace of its own so tests do not meet.
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

/// A lake on the shared emulator, in a fresh bucket: (lake, its warehouse, a namespace).
async fn lake() -> (Lake, String, String) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let bucket = format!("lake-{}-{n}", std::process::id());
    ministack.create_bucket(&bucket, false).await.unwrap();
    let warehouse = format!("s3://{bucket}/warehouse/");
    let lake = open_glue_lake(&ministack.sdk_config().await, &warehouse)
        .await
        .unwrap();
    (lake, warehouse, format!("shop_{}_{n}", std::process::id()))
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

#[tokio::test]
async fn a_table_made_from_the_contract_takes_a_batch_and_reads_back() {
    let (lake, warehouse, namespace) = lake().await;
    let (table, schema) = orders(&namespace);
    let expected = rows().len();
    assert_eq!(expected, 20);

    let staged = stage(&lake, &table, &schema, "b-glue-1").await;
    assert_eq!(staged.rows, expected as u64);
    assert!(
        staged
            .paths
            .iter()
            .all(|p| p.starts_with(&format!("{warehouse}{namespace}/orders/data/"))),
        "data files under <warehouse>/<namespace>/<table>: {:?}",
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
    assert_eq!(again.already_committed, vec![BatchId("b-glue-1".into())]);

    // A second lake (another Lambda) sees the table through Glue alone.
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let other = open_glue_lake(&ministack.sdk_config().await, &warehouse)
        .await
        .unwrap();
    let described = other.describe(&table).await.unwrap().unwrap();
    assert_eq!(described.snapshots.len(), 1);
    assert_eq!(described.total_records, expected as u64);
    assert_eq!(other.scan_json(&table).await.unwrap().len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_lakes_committing_from_one_base_one_conflicts_and_its_retry_lands() {
    let (lake, warehouse, namespace) = lake().await;
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
            open_glue_lake(&sdk, &warehouse).await.unwrap(),
            open_glue_lake(&sdk, &warehouse).await.unwrap(),
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
    assert_eq!(
        lake.scan_json(&table).await.unwrap().len() as u64,
        committed
    );
}

/// The overwrite commit and snapshot expiry through Glue's optimistic locking: a batch's
/// files replaced by another's, the older snapshots expired, the rows read back, and the
/// expired manifest lists gone from the warehouse bucket.
#[tokio::test]
async fn an_overwrite_and_an_expiry_commit_through_glue() {
    let (lake, _warehouse, namespace) = lake().await;
    let (table, schema) = orders(&namespace);
    let first = stage(&lake, &table, &schema, "b-glue-first").await;
    lake.commit_batches(&table, std::slice::from_ref(&first))
        .await
        .unwrap();
    let second = stage(&lake, &table, &schema, "b-glue-second").await;
    lake.commit_batches(&table, std::slice::from_ref(&second))
        .await
        .unwrap();
    let third = stage(&lake, &table, &schema, "b-glue-third").await;
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

    std::thread::sleep(std::time::Duration::from_millis(5));
    let policy = sluice_lake::ExpiryPolicy {
        older_than: std::time::Duration::ZERO,
        retain_last: 1,
    };
    let candidates = lake.expiry_candidates(&table, policy).await.unwrap();
    assert_eq!(candidates.len(), 2, "{candidates:?}");
    let ids: Vec<i64> = candidates.iter().map(|c| c.snapshot_id).collect();
    let outcome = lake.expire_snapshots(&table, &ids).await.unwrap();
    assert_eq!(outcome.snapshots, ids);
    assert!(outcome.metadata_files_deleted >= 2, "{outcome:?}");
    assert_eq!(outcome.metadata_files_left, 0);
    let described = lake.describe(&table).await.unwrap().unwrap();
    assert_eq!(described.snapshots.len(), 1);
    assert_eq!(lake.scan_json(&table).await.unwrap().len(), 40);
    // The first batch's data file is referenced by no snapshot now: gc's to remove.
    let referenced = lake.referenced_files(&table).await.unwrap();
    assert!(!referenced.contains(&sluice_lake::files::canonical_path(&first.paths[0])));
}
