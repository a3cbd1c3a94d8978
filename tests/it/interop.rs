//! Other engines read sluice's tables: pyiceberg opens the same SQLite catalog, loads the
//! table from its current metadata file and scans it with its own reader.
//!
//! `make test` installs pyiceberg in a venv and passes its interpreter in
//! `SLUICE_TEST_PYTHON`; without it this test fails and says how to set it up.

use std::path::Path;
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

/// Runs the Python `script` with pyiceberg from `SLUICE_TEST_PYTHON`, the workspace `root`
/// as its argument, and reads the one JSON document it prints.
pub(crate) fn pyiceberg(script: &str, root: &Path) -> serde_json::Value {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(root)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn pyiceberg_reads_the_table_sluice_wrote() {
    let h = Harness::orders().await;
    for file in orders_files() {
        h.ingest(&file).await;
    }
    let report = pyiceberg(READ_WITH_PYICEBERG, h.dir.path());
    assert_eq!(report["rows"], 73, "{report}");
    assert_eq!(report["coupons"], 10, "{report}");
    assert_eq!(report["snapshots"], 5, "{report}");
    assert!(
        report["partition"].as_str().unwrap().contains("day"),
        "{report}"
    );
}
