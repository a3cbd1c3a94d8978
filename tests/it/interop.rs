//! Other engines read sluice's tables: pyiceberg opens the same SQLite catalog, loads the
//! table from its current metadata file and scans it with its own reader.
//!
//! `make test` installs pyiceberg in a venv and passes its interpreter in
//! `SLUICE_TEST_PYTHON`; without it this test fails and says how to set it up.

use std::process::Command;

use sluice_tests::{orders_files, Harness};

const READ_WITH_PYICEBERG: &str = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
table = catalog.load_table("shop.orders")
rows = table.scan().to_arrow()
print(json.dumps({
    "rows": rows.num_rows,
    "columns": rows.column_names,
    "coupons": sum(1 for c in rows.column("coupon").to_pylist() if c is not None),
    "snapshots": len(table.metadata.snapshots),
    "partition": str(table.spec()),
}))
"#;

#[tokio::test]
async fn pyiceberg_reads_the_table_sluice_wrote() {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let h = Harness::orders().await;
    for file in orders_files() {
        h.ingest(&file).await;
    }
    let out = Command::new(&python)
        .arg("-c")
        .arg(READ_WITH_PYICEBERG)
        .arg(h.dir.path())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["rows"], 73, "{report}");
    assert_eq!(report["coupons"], 10, "{report}");
    assert_eq!(report["snapshots"], 5, "{report}");
    assert!(
        report["partition"].as_str().unwrap().contains("day"),
        "{report}"
    );
}
