//! The lake against a real SQLite catalog and real Parquet files in a temp directory.

use serde_json::json;
use sluice_core::config::{Config, TableConfig};
use sluice_core::schema::{Field, FieldType, TableSchema};
use sluice_core::BatchId;

use crate::writer::BatchWriter;
use crate::Lake;

pub(crate) fn table_config(partitioned: bool) -> TableConfig {
    let part = if partitioned {
        "partition = { field = \"at\", transform = \"day\" }\n"
    } else {
        ""
    };
    let text = format!(
        "[[table]]\nname = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\ncontract = \"c.json\"\n{part}"
    );
    Config::parse(
        &text,
        std::path::Path::new("sluice.toml"),
        Default::default(),
    )
    .unwrap()
    .tables[0]
        .clone()
}

pub(crate) fn schema() -> TableSchema {
    TableSchema {
        fields: vec![
            Field {
                name: "id".into(),
                ty: FieldType::Long,
                required: true,
            },
            Field {
                name: "at".into(),
                ty: FieldType::Timestamp,
                required: true,
            },
            Field {
                name: "customer".into(),
                ty: FieldType::Struct(vec![Field {
                    name: "email".into(),
                    ty: FieldType::String,
                    required: false,
                }]),
                required: false,
            },
        ],
    }
}

pub(crate) async fn lake(dir: &tempfile::TempDir) -> Lake {
    Lake::open_local(
        &dir.path().join("catalog.db"),
        &dir.path().join("warehouse"),
    )
    .await
    .unwrap()
}

pub(crate) async fn stage(
    lake: &Lake,
    cfg: &TableConfig,
    batch: &str,
    rows: &[serde_json::Value],
) -> crate::StagedBatch {
    let budget = crate::fanout::MemoryBudget::default();
    stage_sliced(lake, cfg, batch, rows, rows.len().max(1), budget).await
}

/// A staged batch's file paths in order: the writer's order is not part of its contract.
fn sorted_paths(staged: &crate::StagedBatch) -> Vec<String> {
    let mut paths = staged.paths.clone();
    paths.sort();
    paths
}

#[tokio::test]
async fn committing_a_batch_twice_adds_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let rows = vec![
        json!({"id": 1, "at": "2026-01-01T10:00:00Z", "customer": {"email": "a@x"}}),
        json!({"id": 2, "at": "2026-01-02T10:00:00Z"}),
    ];
    let staged = stage(&lake, &cfg, "b-1", &rows).await;
    assert_eq!(staged.rows, 2);
    assert_eq!(staged.data_files.len(), 2, "one file per day partition");
    let first = lake
        .commit_batches(&cfg, std::slice::from_ref(&staged))
        .await
        .unwrap();
    assert!(first.new_snapshot_id.is_some());
    let second = lake.commit_batches(&cfg, &[staged]).await.unwrap();
    assert_eq!(second.new_snapshot_id, None);
    assert_eq!(second.already_committed, vec![BatchId("b-1".into())]);
    let d = lake.describe(&cfg).await.unwrap().unwrap();
    assert_eq!(d.snapshots.len(), 1);
    assert_eq!(d.total_records, 2);
    let scanned = lake.scan_json(&cfg).await.unwrap();
    assert_eq!(scanned.len(), 2);
}

/// A re-run of a crashed validation writes the batch again: the same rows must get the same
/// file names, also when they span several partitions, or the first run's files are left
/// behind, referenced by nothing.
#[tokio::test]
async fn a_batch_written_again_gets_the_same_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let rows: Vec<_> = (1..=12)
        .map(|i| json!({"id": i, "at": format!("2026-01-{:02}T10:00:00Z", i % 6 + 1)}))
        .collect();
    let first = stage(&lake, &cfg, "b-again", &rows).await;
    assert_eq!(first.paths.len(), 6, "one file per day partition");
    for _ in 0..5 {
        let again = stage(&lake, &cfg, "b-again", &rows).await;
        assert_eq!(sorted_paths(&again), sorted_paths(&first));
    }
}

/// Two executions of one object version (duplicate deliveries) commit its batch at the same
/// time: the one that loses the race must see a commit conflict, whose retry acknowledges
/// the batch, never an error that reads as bad data.
#[tokio::test]
async fn racing_commits_of_one_batch_lose_with_a_conflict_not_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    for round in 0..5 {
        let rows = vec![json!({"id": round, "at": "2026-01-01T10:00:00Z"})];
        let batch = stage(&lake, &cfg, &format!("b-race-{round}"), &rows).await;
        let (a, b) = tokio::join!(
            lake.commit_batches(&cfg, std::slice::from_ref(&batch)),
            lake.commit_batches(&cfg, std::slice::from_ref(&batch)),
        );
        for r in [&a, &b] {
            if let Err(e) = r {
                assert_eq!(e.kind, crate::LakeErrorKind::CommitConflict, "{e}");
            }
        }
        // The retry of the loser acknowledges the batch.
        let again = lake.commit_batches(&cfg, &[batch]).await.unwrap();
        assert_eq!(again.new_snapshot_id, None);
    }
    let d = lake.describe(&cfg).await.unwrap().unwrap();
    assert_eq!(d.snapshots.len(), 5);
    assert_eq!(d.total_records, 5);
}

#[tokio::test]
async fn added_column_reads_null_for_old_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let staged = stage(
        &lake,
        &cfg,
        "b-1",
        &[json!({"id": 1, "at": "2026-01-01T10:00:00Z"})],
    )
    .await;
    lake.commit_batches(&cfg, &[staged]).await.unwrap();
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
    let staged = stage(
        &lake,
        &cfg,
        "b-2",
        &[json!({"id": 2, "at": "2026-01-01T11:00:00Z", "coupon": "X"})],
    )
    .await;
    lake.commit_batches(&cfg, &[staged]).await.unwrap();
    let mut rows = lake.scan_json(&cfg).await.unwrap();
    rows.sort_by_key(|r| r["id"].as_i64());
    assert_eq!(rows[0].get("coupon"), None, "{rows:?}");
    assert_eq!(rows[1]["coupon"], "X");
}

#[tokio::test]
async fn written_file_names_map_back_to_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let rows = vec![
        json!({"id": 1, "at": "2026-01-01T10:00:00Z"}),
        json!({"id": 2, "at": "2026-01-02T10:00:00Z"}),
    ];
    let staged = stage(&lake, &cfg, "b-0123456789abcdef01234567", &rows).await;
    assert_eq!(staged.paths.len(), 2);
    for path in &staged.paths {
        assert_eq!(
            crate::writer::batch_of_data_file(path),
            Some(BatchId("b-0123456789abcdef01234567".into())),
            "{path}"
        );
    }
    use crate::writer::batch_of_data_file as of;
    assert_eq!(of("/d/x-1.parquet"), None, "counter too short");
    assert_eq!(of("/d/b-1-00000.avro"), None);
    assert_eq!(of("/d/-00000.parquet"), None);
    assert_eq!(of("/d/snap-1-00001a.parquet"), None);
}

#[tokio::test]
async fn referenced_and_stored_files_of_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    assert!(lake.referenced_files(&cfg).await.unwrap().is_empty());
    assert!(lake.data_files(&cfg).await.unwrap().is_empty());
    let committed = stage(
        &lake,
        &cfg,
        "b-1",
        &[json!({"id": 1, "at": "2026-01-01T10:00:00Z"})],
    )
    .await;
    lake.commit_batches(&cfg, std::slice::from_ref(&committed))
        .await
        .unwrap();
    let staged_only = stage(
        &lake,
        &cfg,
        "b-2",
        &[json!({"id": 2, "at": "2026-01-03T10:00:00Z"})],
    )
    .await;

    let referenced = lake.referenced_files(&cfg).await.unwrap();
    let committed_paths: std::collections::HashSet<String> = committed
        .paths
        .iter()
        .map(|p| crate::files::canonical_path(p))
        .collect();
    assert_eq!(referenced, committed_paths, "data files only, no metadata");

    let stored = lake.data_files(&cfg).await.unwrap();
    let mut stored_paths: Vec<&str> = stored.iter().map(|f| f.path.as_str()).collect();
    stored_paths.sort();
    let mut expected: Vec<String> = committed
        .paths
        .iter()
        .chain(&staged_only.paths)
        .map(|p| crate::files::canonical_path(p))
        .collect();
    expected.sort();
    assert_eq!(stored_paths, expected);
    for f in &stored {
        let md = std::fs::metadata(&f.path).unwrap();
        assert_eq!(f.bytes, md.len());
        assert_eq!(f.modified, md.modified().unwrap());
    }

    // Deleting: a staged file goes, twice is fine; metadata files are refused.
    let table = lake.load(&cfg).await.unwrap().unwrap();
    let victim = &staged_only.paths[0];
    crate::files::delete_data_file(&table, victim)
        .await
        .unwrap();
    crate::files::delete_data_file(&table, victim)
        .await
        .unwrap();
    assert!(!std::path::Path::new(&crate::files::canonical_path(victim)).exists());
    assert!(lake.stat_data_file(&table, victim).await.unwrap().is_none());
    let metadata_file = table.metadata_location().unwrap().to_string();
    assert!(crate::files::delete_data_file(&table, &metadata_file)
        .await
        .is_err());
    let manifest_list = table
        .metadata()
        .current_snapshot()
        .unwrap()
        .manifest_list()
        .to_string();
    assert!(crate::files::delete_data_file(&table, &manifest_list)
        .await
        .is_err());
    assert!(std::path::Path::new(&crate::files::canonical_path(&metadata_file)).exists());
    assert!(std::path::Path::new(&crate::files::canonical_path(&manifest_list)).exists());
    assert_eq!(lake.scan_json(&cfg).await.unwrap().len(), 1);
}

/// Two files bring the same new field at the same time: the schema change that loses the
/// race must be a commit conflict (retried, and the retry finds the column), never an error
/// that reads as bad data and quarantines a valid file.
#[tokio::test]
async fn racing_evolutions_adding_one_column_lose_with_a_conflict_not_bad_data() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    lake.load_or_create(&cfg, &schema()).await.unwrap();
    for round in 0..5 {
        let add = [sluice_core::drift::ColumnAddition {
            parent: None,
            field: Field {
                name: format!("coupon{round}"),
                ty: FieldType::String,
                required: false,
            },
        }];
        let (a, b) = tokio::join!(lake.add_columns(&cfg, &add), lake.add_columns(&cfg, &add));
        for r in [&a, &b] {
            if let Err(e) = r {
                assert_eq!(e.kind, crate::LakeErrorKind::CommitConflict, "{e}");
            }
        }
        // The loser's retry finds the column and has nothing to add.
        let t = lake.add_columns(&cfg, &add).await.unwrap();
        assert!(t
            .metadata()
            .current_schema()
            .field_by_name(&format!("coupon{round}"))
            .is_some());
    }
}

/// Rows handed over as the text they were read as (any spacing, any key order, more rows
/// than one decoded batch) land as the same values as the same rows serialised from parsed
/// values.
#[tokio::test]
async fn rows_as_read_land_like_rows_serialised_from_values() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let values: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            let mut row =
                json!({"id": i, "at": format!("2026-01-0{}T10:00:{:02}.5Z", i % 3 + 1, i % 60)});
            if i % 2 == 0 {
                row["customer"] = json!({"email": format!("c{i}@x\u{e9}\n\"q\"")});
            }
            row
        })
        .collect();
    let mut as_read = crate::writer::JsonRows::default();
    for v in &values {
        // Keys reversed and spaced out, as a person or another tool may write them.
        let object = v.as_object().unwrap();
        let members: Vec<String> = object
            .iter()
            .rev()
            .map(|(k, v)| format!("{} :  {}", json!(k), v))
            .collect();
        as_read.push_text(format!("  {{ {} }}\t", members.join(" ,\r ")).as_bytes());
    }
    let mut scanned = vec![];
    for (name, rows) in [
        ("text", as_read),
        ("values", crate::writer::JsonRows::from_values(&values)),
    ] {
        let cfg = table_config(true);
        let cfg = sluice_core::config::TableConfig {
            name: format!("orders_{name}"),
            ..cfg
        };
        let table = lake.load_or_create(&cfg, &schema()).await.unwrap();
        let mut w = BatchWriter::new(&table, &BatchId(format!("b-{name}")), None)
            .await
            .unwrap();
        assert_eq!(w.write_rows(&rows).await.unwrap(), vec![]);
        let staged = w.finish().await.unwrap();
        assert_eq!(staged.rows, 20_000);
        lake.commit_batches(&cfg, &[staged]).await.unwrap();
        let mut rows = lake.scan_json(&cfg).await.unwrap();
        rows.sort_by_key(|r| r["id"].as_i64());
        scanned.push(rows);
    }
    assert_eq!(scanned[0].len(), 20_000);
    assert_eq!(scanned[0], scanned[1]);
}

/// A row whose value does not fit its column is returned by its index; its neighbours, in
/// the same call and after it, are written.
#[tokio::test]
async fn a_row_that_does_not_convert_is_reported_and_its_neighbours_written() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let table = lake.load_or_create(&cfg, &schema()).await.unwrap();
    let mut w = BatchWriter::new(&table, &BatchId("b-bad".into()), None)
        .await
        .unwrap();
    let rows = crate::writer::JsonRows::from_values(&[
        json!({"id": 1, "at": "2026-01-01T10:00:00Z"}),
        json!({"id": 2, "at": "not a time"}),
        json!({"id": 3, "at": "2026-01-01T10:00:00Z"}),
    ]);
    let failures = w.write_rows(&rows).await.unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].index, 1);
    let more =
        crate::writer::JsonRows::from_values(&[json!({"id": 4, "at": "2026-01-02T10:00:00Z"})]);
    assert_eq!(w.write_rows(&more).await.unwrap(), vec![]);
    let staged = w.finish().await.unwrap();
    assert_eq!(staged.rows, 3);
    lake.commit_batches(&cfg, &[staged]).await.unwrap();
    let mut ids: Vec<i64> = lake
        .scan_json(&cfg)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 3, 4]);
}

/// A day of 2026 as `YYYY-MM-DD`, from its index (0: 1 January), for up to 59 days.
fn day_of_2026(index: u32) -> String {
    if index < 31 {
        format!("2026-01-{:02}", index + 1)
    } else {
        format!("2026-02-{:02}", index - 30)
    }
}

/// Stages `rows` in slices of `slice` rows, as the validate step hands a file's chunks over,
/// with `budget` for the writer.
async fn stage_sliced(
    lake: &Lake,
    cfg: &TableConfig,
    batch: &str,
    rows: &[serde_json::Value],
    slice: usize,
    budget: crate::fanout::MemoryBudget,
) -> crate::StagedBatch {
    let table = lake.load_or_create(cfg, &schema()).await.unwrap();
    let mut w = BatchWriter::new(&table, &BatchId(batch.into()), None)
        .await
        .unwrap()
        .with_memory(budget);
    for part in rows.chunks(slice) {
        let failures = w
            .write_rows(&crate::writer::JsonRows::from_values(part))
            .await
            .unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    w.finish().await.unwrap()
}

/// A file whose rows fall, in no order, on more days than the writer may keep files open
/// for: every row lands once, in a data file of its own day's partition, and a re-run of the
/// batch writes the same file names.
#[tokio::test]
async fn rows_over_more_partitions_than_open_files_each_land_in_their_partition() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::TimestampMicrosecondType;
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let days = 40;
    let rows: Vec<_> = (1..=400u32)
        .map(|i| {
            let day = day_of_2026(i * 7919 % days);
            json!({"id": i, "at": format!("{day}T{:02}:00:00Z", i % 24)})
        })
        .collect();
    let budget = crate::fanout::MemoryBudget {
        max_open: 3,
        held_bytes: 16 << 10,
    };
    let staged = stage_sliced(&lake, &cfg, "b-spread", &rows, 25, budget).await;
    assert_eq!(staged.rows, 400);
    // Some days were written, closed to make room, and written again.
    assert!(
        staged.paths.len() > days as usize,
        "{} files",
        staged.paths.len()
    );
    for path in &staged.paths {
        let day = path
            .split('/')
            .find_map(|p| p.strip_prefix("at_day="))
            .unwrap_or_else(|| panic!("no day partition in {path}"));
        let file = std::fs::File::open(path.strip_prefix("file://").unwrap_or(path)).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let at = batch.column_by_name("at").unwrap();
            for micros in at.as_primitive::<TimestampMicrosecondType>().iter() {
                let at = chrono::DateTime::from_timestamp_micros(micros.unwrap()).unwrap();
                assert_eq!(at.date_naive().to_string(), day, "a row of {at} in {path}");
            }
        }
    }
    lake.commit_batches(&cfg, std::slice::from_ref(&staged))
        .await
        .unwrap();
    let mut ids: Vec<u64> = lake
        .scan_json(&cfg)
        .await
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=400).collect::<Vec<_>>());

    let again = stage_sliced(&lake, &cfg, "b-spread", &rows, 25, budget).await;
    assert_eq!(sorted_paths(&again), sorted_paths(&staged));
}

/// Within the budget nothing changes: one data file per day, whatever the order of the rows.
#[tokio::test]
async fn rows_over_fewer_partitions_than_open_files_write_one_file_per_partition() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let rows: Vec<_> = (1..=300u32)
        .map(|i| json!({"id": i, "at": format!("{}T10:00:00Z", day_of_2026(i * 31 % 8))}))
        .collect();
    let budget = crate::fanout::MemoryBudget::default();
    assert_eq!(budget.max_open, 8);
    let staged = stage_sliced(&lake, &cfg, "b-eight", &rows, 10, budget).await;
    assert_eq!((staged.rows, staged.paths.len()), (300, 8));
}
