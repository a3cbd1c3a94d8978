//! Other engines read what an overwrite commit wrote: after two ingested files (A, B) and an
//! overwrite that removes A's data files and adds C's, pyiceberg scans exactly B ∪ C and
//! reads the operation sluice recorded.
//!
//! It runs pyiceberg as `interop` does (`interop::pyiceberg`, from `SLUICE_TEST_PYTHON`).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;
use sluice_core::BatchId;
use sluice_lake::writer::{BatchWriter, JsonRows};
use sluice_lake::RowChange;
use sluice_tests::{orders_files, Harness};

const READ_WITH_PYICEBERG: &str = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
table = catalog.load_table("shop.orders")
rows = table.scan().to_arrow()
snapshot = table.current_snapshot()
print(json.dumps({
    "order_ids": sorted(rows.column("order_id").to_pylist()),
    "operation": snapshot.summary.operation.value,
    "deleted_data_files": snapshot.summary["deleted-data-files"],
    "total_records": snapshot.summary["total-records"],
    "snapshots": len(table.metadata.snapshots),
}))
"#;

fn order_ids(rows: &[Value]) -> BTreeSet<i64> {
    rows.iter()
        .map(|r| r["order_id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn pyiceberg_reads_an_overwrite_as_the_rows_it_kept_and_added() {
    let h = Harness::orders().await;
    let cfg = h.ctx.config.tables[0].clone();
    let lake = &h.ctx.lake;
    let files = orders_files();

    h.ingest(&files[0]).await;
    let a_files: HashSet<String> = lake.referenced_files(&cfg).await.unwrap();
    let a_ids = order_ids(&h.rows().await);
    h.ingest(&files[3]).await;
    let b_ids: BTreeSet<i64> = &order_ids(&h.rows().await) - &a_ids;
    assert!(!a_ids.is_empty() && !b_ids.is_empty());

    // C: two of A's orders again, under new ids.
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let c_rows: Vec<Value> = text
        .lines()
        .take(2)
        .map(|line| {
            let mut row: Value = serde_json::from_str(line).unwrap();
            row["order_id"] = (row["order_id"].as_i64().unwrap() + 80_000).into();
            row
        })
        .collect();
    let table = lake.load(&cfg).await.unwrap().unwrap();
    let mut writer = BatchWriter::new(&table, &BatchId("b-rewrite".into()), None)
        .await
        .unwrap();
    assert!(writer
        .write_rows(&JsonRows::from_values(&c_rows))
        .await
        .unwrap()
        .is_empty());
    let c = writer.finish().await.unwrap();
    let remove: Vec<String> = a_files.into_iter().collect();
    let outcome = lake
        .overwrite(&cfg, &remove, &[c], RowChange::Changed, HashMap::new())
        .await
        .unwrap();
    assert!(outcome.new_snapshot_id.is_some());

    let report = crate::interop::pyiceberg(READ_WITH_PYICEBERG, h.dir.path());
    let expected: BTreeSet<i64> = b_ids.union(&order_ids(&c_rows)).copied().collect();
    let read: BTreeSet<i64> = report["order_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(read, expected, "{report}");
    assert_eq!(
        report["order_ids"].as_array().unwrap().len(),
        expected.len(),
        "no row twice: {report}"
    );
    assert_eq!(report["operation"], "overwrite", "{report}");
    assert_eq!(
        report["deleted_data_files"],
        remove.len().to_string(),
        "{report}"
    );
    assert_eq!(
        report["total_records"],
        expected.len().to_string(),
        "{report}"
    );
    assert_eq!(report["snapshots"], 3, "{report}");
}
