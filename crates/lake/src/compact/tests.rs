//! Compaction against a real SQLite catalog and real Parquet files: every row kept, fewer
//! files, exact lineage, re-runs, and other writers committing meanwhile.

use std::collections::{BTreeMap, HashMap};

use arrow_array::{Array, Int64Array};
use futures::TryStreamExt;
use iceberg::arrow::ArrowFileReader;
use iceberg::spec::Operation;
use iceberg::table::Table;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use serde_json::{json, Value};
use sluice_core::config::TableConfig;
use sluice_core::schema::{Field, FieldType};
use sluice_core::BatchId;

use super::input::live_files;
use super::*;
use crate::tests::{lake, stage, table_config};
use crate::writer::batch_of_data_file;
use crate::{Lake, RowChange};

/// Batch `n`'s rows: ids `n * 1000 + i`, so an id names its batch; `days` spreads them.
fn rows(n: i64, count: i64, days: i64) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "id": n * 1000 + i,
                "at": format!("2026-01-{:02}T10:00:00Z", 1 + i % days),
                "customer": {"email": format!("c{i}@x")},
            })
        })
        .collect()
}

fn batch_name(n: i64) -> String {
    format!("b-{n:024}")
}

/// Commits batches `range`, each its own snapshot, `count` rows over `days` days.
async fn ingest(
    lake: &Lake,
    cfg: &TableConfig,
    range: std::ops::Range<i64>,
    count: i64,
    days: i64,
) {
    for n in range {
        let staged = stage(lake, cfg, &batch_name(n), &rows(n, count, days)).await;
        lake.commit_batches(cfg, &[staged]).await.unwrap();
    }
}

/// Every row, sorted, as JSON: the multiset a reader sees.
async fn all_rows(lake: &Lake, cfg: &TableConfig) -> Vec<String> {
    let mut rows: Vec<String> = lake
        .scan_json(cfg)
        .await
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    rows.sort();
    rows
}

async fn table(lake: &Lake, cfg: &TableConfig) -> Table {
    lake.load(cfg).await.unwrap().unwrap()
}

/// Live files per partition path.
async fn files_by_partition(t: &Table) -> BTreeMap<String, Vec<String>> {
    let spec = t.metadata().default_partition_spec();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in live_files(t).await.unwrap() {
        let key = iceberg::spec::PartitionKey::new(
            spec.as_ref().clone(),
            t.metadata().current_schema().clone(),
            f.partition.clone(),
        )
        .to_path();
        out.entry(key).or_default().push(f.path);
    }
    out
}

/// The ids of a data file, in the file's row order.
async fn file_ids(t: &Table, path: &str) -> Vec<i64> {
    let input = t.file_io().new_input(path).unwrap();
    let reader = ArrowFileReader::new(
        input.metadata().await.unwrap(),
        input.reader().await.unwrap(),
    );
    let batches: Vec<_> = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .unwrap()
        .build()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    batches
        .iter()
        .flat_map(|b| {
            let ids = b.column_by_name("id").unwrap();
            let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
            ids.values().to_vec()
        })
        .collect()
}

/// Checks a file's lineage against its rows: every range's ids belong to its batch, and
/// the ranges cover the file once.
async fn assert_lineage_exact(lake: &Lake, t: &Table, path: &str) -> Vec<LineageSegment> {
    let ids = file_ids(t, path).await;
    let segments = lake.lineage_of(t, path).await.unwrap();
    let mut covered = vec![false; ids.len()];
    for s in &segments {
        let batch = s.batch.as_ref().expect("every source is a sluice batch");
        for [start, len] in &s.rows {
            for row in *start..start + len {
                let row = row as usize;
                assert!(!covered[row], "row {row} of {path} in two ranges");
                covered[row] = true;
                assert_eq!(
                    batch_name(ids[row] / 1000),
                    batch.as_str(),
                    "row {row} of {path}"
                );
            }
        }
    }
    assert!(covered.iter().all(|c| *c), "{path}: {segments:?}");
    segments
}

fn no_progress(_: CompactProgress) {}

fn options(min_input_files: usize) -> CompactOptions {
    CompactOptions {
        min_input_files,
        ..CompactOptions::default()
    }
}

#[tokio::test]
async fn compaction_keeps_every_row_and_leaves_one_file_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    ingest(&lake, &cfg, 0..12, 10, 2).await;
    let before = all_rows(&lake, &cfg).await;
    assert_eq!(
        files_by_partition(&table(&lake, &cfg).await).await["at_day=2026-01-01"].len(),
        12
    );

    let report = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();

    assert_eq!(report.groups.len(), 2, "{report:#?}");
    for g in &report.groups {
        assert_eq!((g.files_in, g.files_out, g.rows), (12, 1, 60), "{g:#?}");
        assert!(matches!(
            g.outcome,
            GroupOutcome::Compacted {
                already_committed: false,
                ..
            }
        ));
    }
    assert_eq!(all_rows(&lake, &cfg).await, before);
    let t = table(&lake, &cfg).await;
    let files = files_by_partition(&t).await;
    assert_eq!(files.len(), 2);
    for (partition, paths) in &files {
        assert_eq!(paths.len(), 1, "{partition}");
        let name = paths[0].rsplit('/').next().unwrap();
        assert!(
            name.starts_with("compact-") && name.ends_with("-00000.parquet"),
            "{name}"
        );
        assert!(paths[0].contains(&format!("/{partition}/")), "{}", paths[0]);
        assert_eq!(
            batch_of_data_file(&paths[0]),
            None,
            "a compaction output is no batch's"
        );
        assert_lineage_exact(&lake, &t, &paths[0]).await;
    }
    let snapshot = t.metadata().current_snapshot().unwrap();
    assert_eq!(snapshot.summary().operation, Operation::Replace);
    let summary = &snapshot.summary().additional_properties;
    assert!(summary[COMPACTION_PROPERTY].starts_with("compact-"));
    assert_eq!(summary["total-records"], "120");
    assert_eq!(summary["total-data-files"], "2");

    let again = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();
    assert!(
        again
            .groups
            .iter()
            .all(|g| matches!(g.outcome, GroupOutcome::Skipped { .. })),
        "{again:#?}"
    );
    assert_eq!(table(&lake, &cfg).await.metadata().snapshots().count(), 14);
}

#[tokio::test]
async fn partitions_with_too_few_small_files_are_left_alone_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    ingest(&lake, &cfg, 0..3, 4, 1).await;
    let report = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();
    assert_eq!(report.groups.len(), 1);
    let GroupOutcome::Skipped { reason } = &report.groups[0].outcome else {
        panic!("{report:#?}")
    };
    assert!(reason.contains("3 small file(s)"), "{reason}");
    assert_eq!(table(&lake, &cfg).await.metadata().snapshots().count(), 3);
}

/// A compacted file compacted again with new small files: its rows keep their batches,
/// shifted to where they land in the new file.
#[tokio::test]
async fn lineage_is_exact_through_a_second_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..5, 7, 1).await;
    lake.compact(&cfg, &options(5), &no_progress).await.unwrap();
    ingest(&lake, &cfg, 5..8, 3, 1).await;
    let before = all_rows(&lake, &cfg).await;

    let report = lake.compact(&cfg, &options(2), &no_progress).await.unwrap();

    assert_eq!(report.groups[0].files_in, 4, "{report:#?}");
    assert_eq!(all_rows(&lake, &cfg).await, before);
    let t = table(&lake, &cfg).await;
    let files = files_by_partition(&t).await;
    let paths = files.values().next().unwrap();
    assert_eq!(paths.len(), 1);
    let segments = assert_lineage_exact(&lake, &t, &paths[0]).await;
    // Inputs in path order: the three new batches' files, then the compacted one.
    let batches: Vec<&str> = segments
        .iter()
        .map(|s| s.batch.as_ref().unwrap().as_str())
        .collect();
    let expected: Vec<String> = [5, 6, 7, 0, 1, 2, 3, 4]
        .into_iter()
        .map(batch_name)
        .collect();
    assert_eq!(
        batches,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(segments[0].rows, vec![[0, 3]]);
    assert_eq!(segments[3].rows, vec![[9, 7]]);
    assert_eq!(segments[7].rows, vec![[37, 7]]);
}

#[tokio::test]
async fn sorted_output_is_in_order_and_its_lineage_follows_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    // Ids that interleave across batches once sorted: batch n holds n, n+10, n+20, … (and
    // descending within the file, so each input needs sorting).
    for n in 0..6i64 {
        let rows: Vec<Value> = (0..5)
            .rev()
            .map(|i| json!({"id": n + 10 * i, "at": "2026-01-01T10:00:00Z"}))
            .collect();
        let staged = stage(&lake, &cfg, &batch_name(n), &rows).await;
        lake.commit_batches(&cfg, &[staged]).await.unwrap();
    }
    let before = all_rows(&lake, &cfg).await;
    let opts = CompactOptions {
        sort: vec!["id".into()],
        ..options(5)
    };

    lake.compact(&cfg, &opts, &no_progress).await.unwrap();

    assert_eq!(all_rows(&lake, &cfg).await, before);
    let t = table(&lake, &cfg).await;
    let paths = files_by_partition(&t).await.into_values().next().unwrap();
    assert_eq!(paths.len(), 1);
    let ids = file_ids(&t, &paths[0]).await;
    let mut expected_ids: Vec<i64> = (0..6)
        .flat_map(|n| (0..5).map(move |i| n + 10 * i))
        .collect();
    expected_ids.sort();
    assert_eq!(ids, expected_ids);
    let segments = lake.lineage_of(&t, &paths[0]).await.unwrap();
    assert_eq!(segments.len(), 6);
    for s in &segments {
        let n: i64 = s.batch.as_ref().unwrap().as_str()[2..].parse().unwrap();
        // Id n + 10i is row 6i + n of the sorted file.
        let expected: Vec<[u64; 2]> = (0..5).map(|i| [(6 * i + n) as u64, 1]).collect();
        assert_eq!(s.rows, expected, "batch {n}");
    }
}

/// More inputs than one merge takes: merged in passes through spills, still one sorted
/// file with an exact lineage.
#[tokio::test]
async fn many_sorted_inputs_are_merged_in_passes() {
    merge::TEST_FAN_IN.with(|f| f.set(Some(2)));
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    for n in 0..7i64 {
        let rows: Vec<Value> = (0..4)
            .map(|i| json!({"id": n * 1000 + (3 - i) * 7 % 5, "at": "2026-01-01T10:00:00Z"}))
            .collect();
        let staged = stage(&lake, &cfg, &batch_name(n), &rows).await;
        lake.commit_batches(&cfg, &[staged]).await.unwrap();
    }
    let before = all_rows(&lake, &cfg).await;
    let opts = CompactOptions {
        sort: vec!["id".into()],
        ..options(5)
    };

    lake.compact(&cfg, &opts, &no_progress).await.unwrap();

    assert_eq!(all_rows(&lake, &cfg).await, before);
    let t = table(&lake, &cfg).await;
    let paths = files_by_partition(&t).await.into_values().next().unwrap();
    let ids = file_ids(&t, &paths[0]).await;
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_lineage_exact(&lake, &t, &paths[0]).await;
}

#[tokio::test]
async fn sorting_by_an_unknown_column_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..5, 2, 1).await;
    let opts = CompactOptions {
        sort: vec!["nope".into()],
        ..options(5)
    };
    let err = lake.compact(&cfg, &opts, &no_progress).await.unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

/// A compaction that wrote its files and died before its commit: the re-run writes the
/// same names (over the first run's files) and commits them.
#[tokio::test]
async fn a_rerun_after_a_crash_before_the_commit_writes_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..6, 4, 1).await;
    let before = all_rows(&lake, &cfg).await;
    let t = table(&lake, &cfg).await;
    let (groups, _) = plan(&t, &options(5)).await.unwrap();
    let id = groups[0].compaction_id();
    let crashed = write_group(&t, &groups[0], &id, &options(5), &no_progress)
        .await
        .unwrap();
    assert_eq!(
        table(&lake, &cfg).await.metadata().snapshots().count(),
        6,
        "nothing committed"
    );

    let report = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();

    let GroupOutcome::Compacted { compaction_id, .. } = &report.groups[0].outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(compaction_id, &id);
    let live: Vec<String> = files_by_partition(&table(&lake, &cfg).await)
        .await
        .into_values()
        .flatten()
        .collect();
    assert_eq!(live, crashed.files);
    assert_eq!(all_rows(&lake, &cfg).await, before);
}

/// A compaction whose commit landed, planned again on the table as it was before (a crash
/// after the catalog commit, then the same plan): acknowledged, nothing written or committed
/// twice, never its live files rewritten.
#[tokio::test]
async fn a_compaction_already_committed_is_acknowledged_not_redone() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..5, 4, 1).await;
    let base = table(&lake, &cfg).await;
    let first = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();
    let before = all_rows(&lake, &cfg).await;
    let now = table(&lake, &cfg).await;
    let live = files_by_partition(&now).await;
    let modified = |p: &str| std::fs::metadata(p).unwrap().modified().unwrap();
    let written_at = modified(&live[""][0]);

    // The plan of the stale base, on the table with the compaction committed.
    let (groups, _) = plan(&base, &options(5)).await.unwrap();
    let again = lake
        .compact_group(&cfg, &now, &groups[0], &options(5), &no_progress)
        .await
        .unwrap();

    let (
        GroupOutcome::Compacted { snapshot_id: a, .. },
        GroupOutcome::Compacted {
            snapshot_id: b,
            already_committed,
            ..
        },
    ) = (&first.groups[0].outcome, &again.outcome)
    else {
        panic!("{first:#?} {again:#?}")
    };
    assert_eq!((a, *already_committed), (b, true));
    assert_eq!(
        modified(&live[""][0]),
        written_at,
        "the live file was not rewritten"
    );
    assert_eq!(all_rows(&lake, &cfg).await, before);
    assert_eq!(table(&lake, &cfg).await.metadata().snapshots().count(), 6);
    let rerun = lake.compact(&cfg, &options(5), &no_progress).await.unwrap();
    assert!(matches!(
        rerun.groups.as_slice(),
        [] | [GroupReport {
            outcome: GroupOutcome::Skipped { .. },
            ..
        }]
    ));
}

#[tokio::test]
async fn an_append_committed_during_compaction_survives() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let other = crate::tests::lake(&dir).await;
    let cfg = table_config(true);
    ingest(&lake, &cfg, 0..5, 4, 2).await;
    let base = table(&lake, &cfg).await;
    ingest(&other, &cfg, 5..6, 4, 2).await;
    let before = all_rows(&lake, &cfg).await;

    let report = lake
        .compact_on(&cfg, base, &options(5), &no_progress)
        .await
        .unwrap();

    assert_eq!(report.groups.len(), 2);
    assert!(report
        .groups
        .iter()
        .all(|g| g.files_in == 5 && g.files_out == 1));
    assert_eq!(
        all_rows(&lake, &cfg).await,
        before,
        "the appended rows are there once"
    );
    let files = files_by_partition(&table(&lake, &cfg).await).await;
    for paths in files.values() {
        assert_eq!(
            paths.len(),
            2,
            "the compacted file and the appended one: {paths:?}"
        );
    }
}

#[tokio::test]
async fn a_concurrent_removal_of_an_input_abandons_that_group_and_the_others_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let other = crate::tests::lake(&dir).await;
    let cfg = table_config(true);
    ingest(&lake, &cfg, 0..5, 4, 2).await;
    let base = table(&lake, &cfg).await;
    // Another writer replaces batch 0's file of the first day (a `replace` of its object).
    let day1 = files_by_partition(&base).await["at_day=2026-01-01"].clone();
    let victim = day1
        .iter()
        .find(|p| p.contains(&batch_name(0)))
        .unwrap()
        .clone();
    let replacement = stage(
        &other,
        &cfg,
        "b-replacement",
        &[json!({"id": 99_000, "at": "2026-01-01T11:00:00Z"})],
    )
    .await;
    other
        .overwrite(
            &cfg,
            std::slice::from_ref(&victim),
            &[replacement],
            RowChange::Changed,
            HashMap::new(),
        )
        .await
        .unwrap();
    let before = all_rows(&lake, &cfg).await;

    let report = lake
        .compact_on(&cfg, base, &options(5), &no_progress)
        .await
        .unwrap();

    assert_eq!(report.conflicts(), 1, "{report:#?}");
    let day1_report = &report.groups[0];
    let GroupOutcome::Conflict { file, .. } = &day1_report.outcome else {
        panic!("{report:#?}")
    };
    assert_eq!(file.as_deref(), Some(victim.as_str()));
    assert!(matches!(
        report.groups[1].outcome,
        GroupOutcome::Compacted { .. }
    ));
    assert_eq!(
        all_rows(&lake, &cfg).await,
        before,
        "no row lost or doubled"
    );
    let files = files_by_partition(&table(&lake, &cfg).await).await;
    assert_eq!(
        files["at_day=2026-01-01"].len(),
        5,
        "4 inputs and the replacement"
    );
    assert_eq!(files["at_day=2026-01-02"].len(), 1);
}

#[tokio::test]
async fn files_of_an_older_schema_are_compacted_into_the_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..3, 2, 1).await;
    lake.add_columns(
        &cfg,
        &[sluice_core::drift::ColumnAddition {
            parent: None,
            field: Field {
                name: "coupon".into(),
                ty: FieldType::String,
                required: false,
            },
        }],
    )
    .await
    .unwrap();
    for n in 3..5 {
        let mut rows = rows(n, 2, 1);
        rows[0]["coupon"] = json!("X");
        let staged = stage(&lake, &cfg, &batch_name(n), &rows).await;
        lake.commit_batches(&cfg, &[staged]).await.unwrap();
    }
    let before = all_rows(&lake, &cfg).await;

    lake.compact(&cfg, &options(5), &no_progress).await.unwrap();

    assert_eq!(all_rows(&lake, &cfg).await, before);
    let t = table(&lake, &cfg).await;
    let paths = files_by_partition(&t).await.into_values().next().unwrap();
    assert_eq!(paths.len(), 1);
    assert_lineage_exact(&lake, &t, &paths[0]).await;
    let coupons = lake
        .scan_json(&cfg)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.get("coupon").is_some())
        .count();
    assert_eq!(coupons, 2);
}

/// A small target: outputs roll over at it, each with its own exact lineage.
#[tokio::test]
async fn outputs_roll_over_at_the_target_size() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    ingest(&lake, &cfg, 0..8, 400, 1).await;
    let t = table(&lake, &cfg).await;
    let sizes: Vec<u64> = live_files(&t)
        .await
        .unwrap()
        .iter()
        .map(|f| f.bytes)
        .collect();
    // Every input small (below three quarters of the target), about three per output.
    let target = sizes.iter().max().unwrap() * 3;
    let before = all_rows(&lake, &cfg).await;
    let opts = CompactOptions {
        target_file_size: target,
        ..options(5)
    };

    let report = lake.compact(&cfg, &opts, &no_progress).await.unwrap();

    assert_eq!(all_rows(&lake, &cfg).await, before);
    let g = &report.groups[0];
    assert!(g.files_out > 1 && g.files_out < g.files_in, "{report:#?}");
    let t = table(&lake, &cfg).await;
    for f in live_files(&t).await.unwrap() {
        assert_lineage_exact(&lake, &t, &f.path).await;
    }
}

#[tokio::test]
async fn the_lineage_of_a_batch_s_own_file_is_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let staged = stage(&lake, &cfg, &batch_name(3), &rows(3, 5, 1)).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&staged))
        .await
        .unwrap();
    let t = table(&lake, &cfg).await;
    assert_eq!(
        lake.lineage_of(&t, &staged.paths[0]).await.unwrap(),
        vec![LineageSegment {
            batch: Some(BatchId(batch_name(3))),
            rows: vec![[0, 5]]
        }]
    );
}
