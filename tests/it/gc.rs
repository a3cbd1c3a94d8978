//! Garbage collection: staged files that will never commit go, spent manifests go, files a
//! snapshot references never do, and a batch still in flight keeps everything.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sluice_core::ledger::LedgerState;
use sluice_core::{BatchId, QuarantineReason};
use sluice_lake::StagedBatch;
use sluice_local::Outcome;
use sluice_steps::context::keys;
use sluice_steps::gc::GcCategory;
use sluice_steps::{GcOptions, GcReport};
use sluice_tests::{ndjson, order, Harness};

const HOUR: Duration = Duration::from_secs(3600);

async fn gc(h: &Harness, dry_run: bool, min_age: Duration) -> GcReport {
    sluice_steps::gc(
        &h.ctx,
        &h.ctx.config.tables[0],
        &GcOptions { dry_run, min_age },
    )
    .await
    .unwrap()
}

fn paths(c: &GcCategory) -> Vec<String> {
    c.files.iter().map(|f| f.path.clone()).collect()
}

/// Sets a file's modification time `by` into the past.
fn backdate(path: &Path, by: Duration) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

/// The first table's data directory.
async fn data_dir(h: &Harness) -> PathBuf {
    let table = h
        .ctx
        .lake
        .load(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .expect("the table exists");
    PathBuf::from(sluice_lake::files::data_location(&table).unwrap())
}

/// Every data file in the first table's data location.
async fn data_files(h: &Harness) -> Vec<String> {
    h.ctx
        .lake
        .data_files(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.path)
        .collect()
}

/// Files the first table's snapshots reference.
async fn referenced(h: &Harness) -> HashSet<String> {
    h.ctx
        .lake
        .referenced_files(&h.ctx.config.tables[0])
        .await
        .unwrap()
}

/// Keys of the first table's staged manifests.
async fn manifests(h: &Harness) -> Vec<String> {
    h.ctx
        .store
        .list(&keys::staged_prefix(&h.ctx.config.tables[0]))
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect()
}

/// A control object's file in the local bucket.
fn object_file(h: &Harness, key: &str) -> PathBuf {
    h.dir.path().join("landing").join(key)
}

async fn sorted_rows(h: &Harness) -> Vec<String> {
    let mut rows: Vec<String> = h.rows().await.iter().map(Value::to_string).collect();
    rows.sort();
    rows
}

/// Writes what an interrupted Parquet write leaves: a file with the head of a Parquet file.
fn plant_data_file(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"PAR1\x15\x00\x15interrupted").unwrap();
}

/// Plants a staged batch for `batch`: one data file in the table's data directory and the
/// manifest listing it, both two hours old. Returns the data file's path and manifest key.
async fn plant_batch(h: &Harness, batch: &BatchId) -> (String, String) {
    let data = data_dir(h)
        .await
        .join("ordered_at_day=2026-03-01")
        .join(format!("{batch}-00000.parquet"));
    plant_data_file(&data);
    let data = data.to_str().unwrap().to_string();
    let staged = StagedBatch {
        batch_id: batch.clone(),
        object: None,
        schema_id: 0,
        partition_spec_id: 0,
        rows: 1,
        bytes: std::fs::metadata(&data).unwrap().len(),
        paths: vec![data.clone()],
        data_files: vec![],
    };
    let key = keys::manifest(&h.ctx.config.tables[0], batch);
    h.ctx
        .store
        .put(&key, serde_json::to_vec(&staged).unwrap().into())
        .await
        .unwrap();
    backdate(Path::new(&data), 2 * HOUR);
    backdate(&object_file(h, &key), 2 * HOUR);
    (data, key)
}

/// Six good rows and four broken lines: over the example's max_invalid_ratio (0.2).
fn mostly_broken() -> String {
    let mut body = ndjson((1..=6).map(order));
    body.push_str("{not json\n{\"order_id\": \n[1,2\n\"text\"\n");
    body
}

#[tokio::test]
async fn after_a_normal_ingest_only_the_spent_manifest_goes() {
    let h = Harness::orders().await;
    let r = h
        .ingest_bytes("a.ndjson", ndjson((1..=10).map(order)))
        .await;
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    let rows = sorted_rows(&h).await;
    let files = data_files(&h).await;
    assert!(!files.is_empty());
    let before = manifests(&h).await;
    for f in &files {
        backdate(Path::new(f), 2 * HOUR);
    }

    let report = gc(&h, false, Duration::ZERO).await;
    assert_eq!(paths(&report.spent_manifests), before, "{report:?}");
    assert_eq!(report.abandoned_files.count(), 0, "{report:?}");
    assert_eq!(report.orphan_files.count(), 0, "{report:?}");
    assert_eq!(report.too_young.count(), 0, "{report:?}");
    assert!(manifests(&h).await.is_empty());
    assert_eq!(data_files(&h).await, files, "no data file removed");
    assert_eq!(sorted_rows(&h).await, rows);
}

#[tokio::test]
async fn a_stray_parquet_file_goes_once_old_and_stays_while_young() {
    let h = Harness::orders().await;
    h.ingest_bytes("a.ndjson", ndjson((1..=5).map(order))).await;
    let rows = sorted_rows(&h).await;
    // An interrupted write of a batch the ledger never heard of.
    let stray = data_dir(&h)
        .await
        .join("ordered_at_day=2026-03-01")
        .join("b-0000000000000000deadbeef-00000.parquet");
    plant_data_file(&stray);
    let stray_path = stray.to_str().unwrap().to_string();

    // Fresh: a validation may be writing it right now.
    let report = gc(&h, false, HOUR).await;
    assert_eq!(
        paths(&report.too_young),
        std::slice::from_ref(&stray_path),
        "{report:?}"
    );
    assert_eq!(report.orphan_files.count(), 0);
    assert!(stray.exists());

    // Two hours old: an orphan.
    backdate(&stray, 2 * HOUR);
    let report = gc(&h, false, HOUR).await;
    assert_eq!(paths(&report.orphan_files), [stray_path], "{report:?}");
    assert_eq!(
        report.orphan_files.bytes(),
        b"PAR1\x15\x00\x15interrupted".len() as u64
    );
    assert_eq!(report.too_young.count(), 0);
    assert!(!stray.exists());
    assert_eq!(sorted_rows(&h).await, rows);
}

#[tokio::test]
async fn a_quarantined_batch_loses_its_data_files_and_manifest() {
    let h = Harness::orders().await;
    h.ingest_bytes("good.ndjson", ndjson((1..=4).map(order)))
        .await;
    let r = h.ingest_bytes("bad.ndjson", mostly_broken()).await;
    assert_eq!(
        r.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::TooManyInvalidRows
        }
    );
    let object = r.object.unwrap();
    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    assert!(matches!(
        record.record.state,
        LedgerState::Quarantined { .. }
    ));
    // What a validation that staged this batch before the file was quarantined leaves.
    let (data, key) = plant_batch(&h, &record.record.batch_id).await;
    let rows = sorted_rows(&h).await;
    let spent = manifests(&h)
        .await
        .into_iter()
        .filter(|k| *k != key)
        .collect::<Vec<_>>();

    let report = gc(&h, false, HOUR).await;
    assert_eq!(
        paths(&report.abandoned_files),
        std::slice::from_ref(&data),
        "{report:?}"
    );
    assert_eq!(
        paths(&report.abandoned_manifests),
        std::slice::from_ref(&key)
    );
    assert_eq!(paths(&report.spent_manifests), spent);
    assert_eq!(report.orphan_files.count(), 0);
    assert!(!Path::new(&data).exists());
    assert!(manifests(&h).await.is_empty());
    assert_eq!(sorted_rows(&h).await, rows);

    // The same abandoned batch, planted fresh: kept, manifest and file, until it is old.
    let (data, key) = plant_batch(&h, &record.record.batch_id).await;
    backdate(Path::new(&data), Duration::from_secs(60));
    let report = gc(&h, false, HOUR).await;
    assert_eq!(report.removed_count(), 0, "{report:?}");
    let mut young = paths(&report.too_young);
    young.sort();
    let mut expected = vec![data.clone(), key.clone()];
    expected.sort();
    assert_eq!(young, expected);
    assert!(Path::new(&data).exists());
}

#[tokio::test]
async fn referenced_files_survive_every_run_and_a_dry_run_removes_nothing() {
    let h = Harness::orders().await;
    for f in sluice_tests::orders_files() {
        h.ingest(&f).await;
    }
    let rows = sorted_rows(&h).await;
    assert_eq!(rows.len(), 73);
    let referenced_before = referenced(&h).await;
    assert!(!referenced_before.is_empty());
    for f in data_files(&h).await {
        backdate(Path::new(&f), 2 * HOUR);
    }
    // Garbage beside the committed files: a stray file, and a quarantined batch's leftovers.
    let stray = data_dir(&h)
        .await
        .join("b-000000000000000000000001-00000.parquet");
    plant_data_file(&stray);
    backdate(&stray, 2 * HOUR);
    let quarantined = h
        .ctx
        .ledger
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|r| matches!(r.state, LedgerState::Quarantined { .. }))
        .expect("the example quarantines two files");
    let (planted, planted_key) = plant_batch(&h, &quarantined.batch_id).await;
    let files_before = data_files(&h).await;
    let manifests_before = manifests(&h).await;

    // A dry run says what would go and removes nothing.
    let dry = gc(&h, true, Duration::ZERO).await;
    assert!(dry.dry_run);
    assert_eq!(
        paths(&dry.orphan_files),
        [stray.to_str().unwrap().to_string()],
        "{dry:?}"
    );
    assert_eq!(paths(&dry.abandoned_files), std::slice::from_ref(&planted));
    assert_eq!(paths(&dry.abandoned_manifests), [planted_key]);
    assert_eq!(
        dry.spent_manifests.count() + 1,
        manifests_before.len(),
        "every other manifest is spent"
    );
    assert_eq!(data_files(&h).await, files_before);
    assert_eq!(manifests(&h).await, manifests_before);

    // The real run, with no minimum age: garbage goes, referenced files stay.
    let report = gc(&h, false, Duration::ZERO).await;
    assert_eq!(paths(&report.orphan_files), paths(&dry.orphan_files));
    assert_eq!(paths(&report.abandoned_files), paths(&dry.abandoned_files));
    assert_eq!(paths(&report.spent_manifests), paths(&dry.spent_manifests));
    assert_eq!(report.removed_bytes(), dry.removed_bytes());
    for path in &referenced_before {
        assert!(Path::new(path).exists(), "referenced {path} was removed");
    }
    assert_eq!(referenced(&h).await, referenced_before);
    let mut left: Vec<String> = data_files(&h).await;
    left.sort();
    let mut expected: Vec<String> = referenced_before.iter().cloned().collect();
    expected.sort();
    assert_eq!(left, expected, "exactly the referenced files are left");
    assert!(manifests(&h).await.is_empty());
    assert_eq!(sorted_rows(&h).await, rows);

    // Again: nothing left to remove.
    let again = gc(&h, false, Duration::ZERO).await;
    assert_eq!(again.removed_count(), 0, "{again:?}");
    assert_eq!(again.too_young.count() + again.in_flight.count(), 0);
    assert_eq!(sorted_rows(&h).await, rows);
}

#[tokio::test]
async fn a_commit_interrupted_before_the_ledger_update_keeps_its_manifest() {
    let h = Harness::orders().await;
    let key = "orders/interrupted.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, ndjson((1..=7).map(order)).into_bytes().into())
        .await
        .unwrap();
    let object = meta.to_version("landing");
    // Filter, drift, validate, then the catalog commit, and a "crash" before the ledger says
    // committed: the snapshot lists the batch, the ledger says staged.
    let f = sluice_steps::filter::filter(
        &h.ctx,
        sluice_steps::payload::Arrival {
            bucket: "landing".into(),
            key: key.into(),
            version_id: None,
            etag: Some(meta.etag.clone()),
            sequencer: None,
            event: Default::default(),
            time: None,
        }
        .into(),
    )
    .await
    .unwrap();
    let task = sluice_steps::payload::ObjectTask {
        object: object.clone(),
        table: f.table().unwrap().to_string(),
        status: None,
    };
    sluice_steps::drift::detect_drift(&h.ctx, task.clone())
        .await
        .unwrap();
    let v = sluice_steps::validate::validate(&h.ctx, task)
        .await
        .unwrap();
    let manifest_key = v.manifest_key().unwrap().to_string();
    let (bytes, _) = h.ctx.store.get_bytes(&manifest_key).await.unwrap().unwrap();
    let batch: StagedBatch = serde_json::from_slice(&bytes).unwrap();
    h.ctx
        .lake
        .commit_batches(&h.ctx.config.tables[0], std::slice::from_ref(&batch))
        .await
        .unwrap();
    backdate(&object_file(&h, &manifest_key), 2 * HOUR);

    // The batch is in a snapshot, but the redriven commit still needs its manifest.
    let report = gc(&h, false, Duration::ZERO).await;
    assert_eq!(report.removed_count(), 0, "{report:?}");
    assert_eq!(
        paths(&report.in_flight),
        std::slice::from_ref(&manifest_key)
    );
    assert_eq!(manifests(&h).await, std::slice::from_ref(&manifest_key));

    // A crash right after the ledger update (commit.after_ledger) leaves a spent manifest.
    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    let snapshot_id = h
        .ctx
        .lake
        .describe(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .unwrap()
        .current_snapshot_id
        .unwrap();
    h.ctx
        .ledger
        .transition(&record, "2026-03-01T00:00:00Z", |r| {
            r.state = LedgerState::Committed { snapshot_id }
        })
        .await
        .unwrap();
    let report = gc(&h, false, Duration::ZERO).await;
    assert_eq!(paths(&report.spent_manifests), [manifest_key], "{report:?}");
    assert_eq!(
        report.abandoned_files.count() + report.orphan_files.count(),
        0
    );
    for path in &batch.paths {
        assert!(Path::new(path).exists(), "{path}");
    }
    assert_eq!(h.rows().await.len(), 7);
}

#[tokio::test]
async fn files_of_a_crashed_validation_wait_for_its_redrive() {
    let h = Harness::orders().await;
    let key = "orders/crashed-mid-write.ndjson";
    sluice_steps::failpoint::inject("validate.mid_write", key);
    let r = h
        .ingest_bytes("crashed-mid-write.ndjson", ndjson((1..=5).map(order)))
        .await;
    assert!(matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
    let record = h
        .ctx
        .ledger
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.object.key == key)
        .unwrap();
    assert_eq!(record.state, LedgerState::Claimed);
    let batch = record.batch_id;
    // What the crashed writer left, as old as can be: its batch is still claimed.
    let leftover = data_dir(&h)
        .await
        .join("ordered_at_day=2026-03-01")
        .join(format!("{batch}-00009.parquet"));
    plant_data_file(&leftover);
    for f in data_files(&h).await {
        backdate(Path::new(&f), 2 * HOUR);
    }
    let report = gc(&h, false, Duration::ZERO).await;
    assert_eq!(report.removed_count(), 0, "{report:?}");
    assert!(paths(&report.in_flight).contains(&leftover.to_str().unwrap().to_string()));
    assert!(leftover.exists());

    // Redriven, the batch commits; the leftover it did not rewrite is now an orphan.
    let done = h.local.redrive(&r.execution).await.unwrap();
    assert!(
        matches!(done.outcome, Outcome::Committed { .. }),
        "{done:?}"
    );
    backdate(&leftover, 2 * HOUR);
    let report = gc(&h, false, HOUR).await;
    assert_eq!(
        paths(&report.orphan_files),
        [leftover.to_str().unwrap().to_string()],
        "{report:?}"
    );
    assert_eq!(h.rows().await.len(), 5);
}

/// In a catalog that expires snapshots and removes unreferenced files itself (S3 Tables),
/// maintenance compacts and leaves the rest to the service: it neither fails at the expiry
/// step nor deletes anything.
#[tokio::test]
async fn maintenance_of_a_managed_table_leaves_expiry_and_gc_to_its_service() {
    let h = Harness::orders().await;
    for f in 0..3u64 {
        h.ingest_bytes(
            &format!("m{f}.ndjson"),
            ndjson((1..=5).map(|i| order(f * 100 + i))),
        )
        .await;
    }
    let lake = sluice_lake::Lake::open_local(
        &h.dir.path().join("catalog.db"),
        &h.dir.path().join("warehouse"),
    )
    .await
    .unwrap()
    .with_managed_tables("S3 Tables");
    let ctx = sluice_steps::Context::new(h.ctx.config.as_ref().clone(), h.ctx.store.clone(), lake)
        .unwrap();
    let table = &ctx.config.tables[0];
    let opts = sluice_steps::maintain::MaintainOptions {
        compact: true,
        expire: sluice_steps::expire::ExpireOptions {
            policy: sluice_lake::ExpiryPolicy {
                older_than: HOUR,
                retain_last: 1,
            },
            dry_run: false,
        },
        gc: GcOptions {
            dry_run: false,
            min_age: Duration::ZERO,
        },
    };
    let report = sluice_steps::maintain::maintain(&ctx, table, &opts)
        .await
        .unwrap();
    assert_eq!(report.left_to, Some("S3 Tables"));
    assert!(report.compact.is_some());
    assert_eq!(report.gc, GcReport::default());
    // Expiry refuses there when asked directly; maintenance never asks.
    assert!(sluice_steps::expire::expire(&ctx, table, &opts.expire)
        .await
        .is_err());
    assert_eq!(h.rows().await.len(), 15);
}
