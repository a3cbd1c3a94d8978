//! `sluice compact` as a user runs it, the real binary on a workspace the real binary
//! ingested: the same rows in fewer files, read back by pyiceberg, `sluice gc` afterwards
//! removing nothing a snapshot references; and a process that dies between writing its files
//! and the commit, whose files gc collects and whose re-run converges.
//!
//! pyiceberg comes from `SLUICE_TEST_PYTHON` (`make test` sets it up).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sluice(workspace: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(workspace)
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out: Output = cmd.output().expect("run sluice");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn json_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `files` small order files, each a few rows on each of three days, in a drop folder
/// (outside the workspace).
fn small_files(files: u64) -> tempfile::TempDir {
    let drop = tempfile::tempdir().unwrap();
    for f in 0..files {
        let body: String = (0..6)
            .map(|i| {
                let id = f * 100 + i + 1;
                let row = json!({
                    "order_id": id,
                    "ordered_at": format!("2026-03-0{}T10:{:02}:00Z", 1 + i % 3, f % 60),
                    "customer_email": format!("c{id}@example.com"),
                    "status": if i % 2 == 0 { "paid" } else { "placed" },
                    "quantity": 1 + i,
                    "amount": 10.5 + f as f64,
                });
                format!("{row}\n")
            })
            .collect();
        std::fs::write(drop.path().join(format!("orders-{f:03}.ndjson")), body).unwrap();
    }
    drop
}

const READ_WITH_PYICEBERG: &str = r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
table = catalog.load_table("shop.orders")
rows = table.scan().to_arrow()
ids = sorted(rows.column("order_id").to_pylist())
print(json.dumps({
    "rows": rows.num_rows,
    "ids": ids,
    "files": len(list(table.scan().plan_files())),
    "operation": table.current_snapshot().summary.operation.value,
}))
"#;

fn pyiceberg(root: &Path) -> Value {
    let python = std::env::var("SLUICE_TEST_PYTHON").unwrap_or_else(|_| {
        panic!("SLUICE_TEST_PYTHON is not set: run `make test`, which installs pyiceberg in .venv")
    });
    let out = Command::new(&python)
        .arg("-c")
        .arg(READ_WITH_PYICEBERG)
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

/// Data files under the table's data location whose name is a compaction's.
fn compaction_files(ws: &Path) -> Vec<String> {
    let mut found = vec![];
    let mut dirs = vec![ws.join("warehouse")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("compact-") && n.ends_with(".parquet"))
            {
                found.push(path.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn thirty_small_arrivals_compact_into_one_file_per_day_that_pyiceberg_reads() {
    let ws = tempfile::tempdir().unwrap();
    let drop = small_files(30);
    run_ok(&mut sluice(
        ws.path(),
        &["ingest", drop.path().to_str().unwrap()],
    ));
    let before = pyiceberg(ws.path());
    assert_eq!(before["rows"], 180, "{before}");
    assert_eq!(
        before["files"], 90,
        "one file per arrival per day: {before}"
    );

    let out = run_ok(&mut sluice(ws.path(), &["compact", "--json"]));

    let report = &json_lines(&out)[0];
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{report}");
    for g in groups {
        assert_eq!(g["outcome"]["status"], "compacted", "{g}");
        assert_eq!(
            (g["files_in"].as_u64(), g["files_out"].as_u64()),
            (Some(30), Some(1)),
            "{g}"
        );
    }
    let after = pyiceberg(ws.path());
    assert_eq!(after["ids"], before["ids"], "the same rows");
    assert_eq!(after["files"], 3, "{after}");
    assert_eq!(after["operation"], "replace");

    // Nothing referenced goes: the small files stay for the older snapshots.
    let gc = run_ok(&mut sluice(ws.path(), &["gc", "--min-age", "0s", "--json"]));
    let gc = &json_lines(&gc)[0];
    for category in ["abandoned_files", "orphan_files"] {
        assert_eq!(gc[category]["files"], json!([]), "{gc}");
    }
    assert_eq!(pyiceberg(ws.path())["ids"], before["ids"]);

    // The second run finds one file per day: nothing to do.
    let again = run_ok(&mut sluice(ws.path(), &["compact"]));
    assert!(again.contains("0 partitions compacted"), "{again}");
    let doctor = run_ok(&mut sluice(ws.path(), &["doctor"]));
    assert!(
        !doctor.contains("record_missing"),
        "a compaction id is no arrival: {doctor}"
    );
}

#[test]
fn a_compaction_killed_before_its_commit_leaves_only_orphans_and_a_rerun_converges() {
    let ws = tempfile::tempdir().unwrap();
    let drop = small_files(6);
    run_ok(&mut sluice(
        ws.path(),
        &["ingest", drop.path().to_str().unwrap()],
    ));
    let before = pyiceberg(ws.path());

    let crashed = sluice(ws.path(), &["compact"])
        .env("SLUICE_FAILPOINTS", "compact.before_commit")
        .output()
        .unwrap();

    assert!(
        !crashed.status.success(),
        "the fail point aborts the process"
    );
    let orphans = compaction_files(ws.path());
    assert_eq!(
        orphans.len(),
        1,
        "the first partition's file, written: {orphans:?}"
    );
    assert_eq!(pyiceberg(ws.path()), before, "nothing committed");
    let gc = run_ok(&mut sluice(ws.path(), &["gc", "--min-age", "0s", "--json"]));
    let gc = &json_lines(&gc)[0];
    let removed: Vec<&str> = gc["orphan_files"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(removed, orphans, "{gc}");
    assert_eq!(pyiceberg(ws.path()), before);

    run_ok(&mut sluice(ws.path(), &["compact"]));

    let after = pyiceberg(ws.path());
    assert_eq!(after["ids"], before["ids"]);
    assert_eq!(after["files"], 3, "{after}");
    assert_eq!(compaction_files(ws.path()).len(), 3);
}

#[test]
fn nonsense_sizes_are_refused_with_a_sentence() {
    let ws = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["compact", "--target-file-size", "0"][..], "above zero"),
        (&["compact", "--target-file-size=-5MB"][..], "invalid size"),
        (&["compact", "--target-file-size", "3 parsecs"][..], "256MB"),
        (
            &["compact", "--min-input-files", "1"][..],
            "min-input-files",
        ),
    ] {
        let out = sluice(ws.path(), args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}
