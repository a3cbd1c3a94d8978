//! The lake against a real SQLite catalog and real Parquet files in a temp directory.

use serde_json::json;
use sluice_core::config::{Config, TableConfig};
use sluice_core::schema::{Field, FieldType, TableSchema};
use sluice_core::BatchId;

use crate::writer::BatchWriter;
use crate::Lake;

fn table_config(partitioned: bool) -> TableConfig {
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

fn schema() -> TableSchema {
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

async fn lake(dir: &tempfile::TempDir) -> Lake {
    Lake::open_local(
        &dir.path().join("catalog.db"),
        &dir.path().join("warehouse"),
    )
    .await
    .unwrap()
}

async fn stage(
    lake: &Lake,
    cfg: &TableConfig,
    batch: &str,
    rows: &[serde_json::Value],
) -> crate::StagedBatch {
    let table = lake.load_or_create(cfg, &schema()).await.unwrap();
    let mut w = BatchWriter::new(&table, &BatchId(batch.into()), None)
        .await
        .unwrap();
    let failures = w.write_rows(rows).await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    w.finish().await.unwrap()
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
