//! Lineage columns (`lineage = true`), through the real `sluice` binary and read back by
//! pyiceberg: every row names the object version, batch and line it came from; a row's own
//! fields of those names change nothing; compaction keeps them; a table made before gains
//! them with nulls in its older rows; a contract that claims one of the names is refused.
//!
//! pyiceberg comes from `SLUICE_TEST_PYTHON` (`make test` sets it up).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders")
}

/// The orders example in `dir`, its config with `lineage` set as given (or absent).
fn project(dir: &Path, lineage: Option<bool>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(
        example().join("orders.schema.json"),
        dir.join("orders.schema.json"),
    )
    .unwrap();
    set_lineage(dir, lineage);
}

fn set_lineage(dir: &Path, lineage: Option<bool>) {
    let config = std::fs::read_to_string(example().join("sluice.toml")).unwrap();
    let config = match lineage {
        Some(on) => config.replacen(
            "[table.drift]",
            &format!("lineage = {on}\n\n[table.drift]"),
            1,
        ),
        None => config,
    };
    std::fs::write(dir.join("sluice.toml"), config).unwrap();
}

fn sluice(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .current_dir(dir)
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG")
        .output()
        .expect("run sluice");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ingest(dir: &Path, paths: &[&Path]) {
    let mut args = vec!["ingest".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = sluice(dir, &args);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
}

const READ: &str = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
table = catalog.load_table("shop.orders")
names = [f.name for f in table.schema().fields]
rows = table.scan().to_arrow()
cols = [c for c in ["order_id", "_source_key", "_source_version", "_batch_id", "_ingested_at", "_source_line"] if c in names]
out = []
for r in rows.select(cols).to_pylist():
    if r.get("_ingested_at") is not None:
        r["_ingested_at"] = r["_ingested_at"].isoformat()
    out.append(r)
print(json.dumps({"columns": names, "rows": out}))
"#;

/// The table's column names and its rows' lineage, by order id.
fn read(ws: &Path) -> (Vec<String>, HashMap<i64, Value>) {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let out = Command::new(python)
        .arg("-c")
        .arg(READ)
        .arg(ws)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "pyiceberg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let columns = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    let rows = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["order_id"].as_i64().unwrap(), r.clone()))
        .collect();
    (columns, rows)
}

/// The ledger's batch id and etag of each file, by key.
fn ledger(dir: &Path) -> HashMap<String, (String, String)> {
    let (code, stdout, stderr) = sluice(dir, &["files", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| {
            let object = &r["object"];
            Some((
                object["key"].as_str()?.to_string(),
                (
                    r["batch_id"].as_str()?.to_string(),
                    object["etag"].as_str()?.to_string(),
                ),
            ))
        })
        .collect()
}

const LINEAGE: [&str; 5] = [
    "_source_key",
    "_source_version",
    "_batch_id",
    "_ingested_at",
    "_source_line",
];

#[test]
fn every_row_names_the_object_version_batch_and_line_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    project(dir, Some(true));
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for name in ["orders-2026-03-01.ndjson", "orders-2026-03-04.csv"] {
        std::fs::copy(example().join("data").join(name), data.join(name)).unwrap();
    }
    // A row that brings its own lineage fields, of the right type and of a wrong one; on
    // the first file's day, so that compaction has two files of one partition to merge.
    std::fs::write(
        data.join("forged.ndjson"),
        "\n{\"order_id\": 9001, \"ordered_at\": \"2026-03-01T10:00:00Z\", \"customer_email\": \"x@example.com\", \"status\": \"paid\", \"quantity\": 1, \"amount\": 5, \"_batch_id\": \"b-forged\", \"_source_line\": \"x\", \"_source_key\": 7}\n",
    )
    .unwrap();
    ingest(dir, &[&data]);

    let (columns, rows) = read(&dir.join("lake"));
    for column in LINEAGE {
        assert!(
            columns.iter().any(|c| c == column),
            "{column} in {columns:?}"
        );
    }
    let ledger = ledger(dir);
    assert_eq!(rows.len(), 20 + 10 + 1);
    for row in rows.values() {
        let key = row["_source_key"].as_str().unwrap();
        let (batch, etag) = &ledger[key];
        assert_eq!(row["_batch_id"], batch.as_str(), "{row}");
        // A local bucket keeps no version ids: the version is the etag.
        assert_eq!(row["_source_version"], etag.as_str(), "{row}");
        assert!(row["_ingested_at"].as_str().is_some(), "{row}");
    }
    // The first NDJSON row is line 1; the CSV's first row line 2 (its header is line 1);
    // the forged row line 2, after a blank line, and none of its own lineage fields counts.
    assert_eq!(rows[&1001]["_source_line"], 1);
    assert_eq!(rows[&1020]["_source_line"], 20);
    assert_eq!(rows[&1051]["_source_line"], 2);
    assert_eq!(rows[&1051]["_source_key"], "orders/orders-2026-03-04.csv");
    assert_eq!(rows[&9001]["_source_line"], 2);
    assert_eq!(rows[&9001]["_source_key"], "orders/forged.ndjson");
    assert_ne!(rows[&9001]["_batch_id"], "b-forged");

    // Compaction rewrites the files and keeps every row's lineage.
    let (code, stdout, stderr) = sluice(dir, &["compact", "--min-input-files", "2"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 files into 1"), "{stdout}");
    let (_, after) = read(&dir.join("lake"));
    assert_eq!(after, rows);
}

#[test]
fn a_table_made_without_lineage_gains_the_columns_with_nulls_in_its_older_rows() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    project(dir, None);
    ingest(dir, &[&example().join("data/orders-2026-03-01.ndjson")]);
    let (columns, _) = read(&dir.join("lake"));
    assert!(!columns.iter().any(|c| c == "_batch_id"), "{columns:?}");

    set_lineage(dir, Some(true));
    ingest(dir, &[&example().join("data/orders-2026-03-04.csv")]);
    let (columns, rows) = read(&dir.join("lake"));
    for column in LINEAGE {
        assert!(
            columns.iter().any(|c| c == column),
            "{column} in {columns:?}"
        );
    }
    assert_eq!(rows.len(), 30);
    assert!(rows[&1001]["_batch_id"].is_null(), "{}", rows[&1001]);
    assert!(rows[&1001]["_source_line"].is_null(), "{}", rows[&1001]);
    assert_eq!(rows[&1051]["_source_key"], "orders/orders-2026-03-04.csv");
    assert_eq!(rows[&1051]["_source_line"], 2);
}

#[test]
fn a_contract_that_names_a_lineage_column_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    project(dir, Some(true));
    let contract = std::fs::read_to_string(dir.join("orders.schema.json")).unwrap();
    let contract = contract.replacen(
        "\"properties\": {",
        "\"properties\": {\n    \"_batch_id\": { \"type\": \"string\" },",
        1,
    );
    std::fs::write(dir.join("orders.schema.json"), contract).unwrap();
    let (code, stdout, stderr) = sluice(
        dir,
        &[
            "ingest",
            &example()
                .join("data/orders-2026-03-01.ndjson")
                .display()
                .to_string(),
        ],
    );
    assert_ne!(code, Some(0), "{stdout}");
    assert!(
        stderr.contains("_batch_id") && stderr.contains("lineage"),
        "{stderr}"
    );
}
