//! The path `make bench-ingest` measures, checked on a small generated file: the real
//! `sluice ingest` (with `--threads 1`, as the benchmark runs it) commits exactly the rows
//! sluice-gen counted as valid, and rejects every broken one, for the nested NDJSON file and
//! the flat CSV file alike.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use sluice_bench::{files, fixtures, generate, FileCounts, Spec};

fn sluice(workspace: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(fixtures().join("sluice.toml"))
        .arg("--workspace")
        .arg(workspace)
        .args(["--threads", "1"])
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG")
        .output()
        .expect("run sluice");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "sluice {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `ingest --json` prints one JSON line per file, then the summary; `table show --json`
    // one document.
    serde_json::from_str(stdout.lines().next().unwrap_or_default())
        .or_else(|_| serde_json::from_str(&stdout))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Ingests `file` into `table` and checks rows committed and rows rejected, by reason.
fn ingest_matches_generator(workspace: &Path, table: &str, file: &Path, counts: &FileCounts) {
    let file = file.to_str().unwrap();
    let report = sluice(workspace, &["ingest", "--json", "--table", table, file]);
    assert_eq!(report["outcome"], "committed", "{report}");
    assert_eq!(report["rows"]["valid"], counts.valid, "{report}");
    assert_eq!(
        report["rows"]["rejected"],
        counts.rows - counts.valid,
        "{report}"
    );

    let shown = sluice(workspace, &["table", "show", table, "--json"]);
    assert_eq!(shown["total_records"], counts.valid, "{table}: {shown}");

    // Every broken row is in the reject file, for a reason the generator's breakage gives.
    let rejects_key = report["rejects_key"].as_str().expect("a rejects key");
    let text = std::fs::read_to_string(workspace.join("landing").join(rejects_key)).unwrap();
    let mut reasons = BTreeMap::<String, u64>::new();
    for line in text.lines() {
        let reject: Value = serde_json::from_str(line).unwrap();
        *reasons
            .entry(reject["reason"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(reasons.values().sum::<u64>(), counts.rows - counts.valid);
    assert_eq!(
        reasons.keys().collect::<Vec<_>>(),
        ["contract_violation", "parse_error"],
        "{table}: {reasons:?}"
    );
}

#[test]
fn benchmarked_ingest_commits_exactly_the_generated_valid_rows() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spec = Spec {
        rows: 2000,
        invalid_ratio: 0.05,
        small_files: 0,
        ..Spec::default()
    };
    let m = generate(&data, &spec).unwrap();
    assert!(m.ndjson.valid < m.ndjson.rows, "some rows must be broken");
    let ws = dir.path().join("lake");
    ingest_matches_generator(&ws, "orders", &data.join(files::NDJSON), &m.ndjson);
    ingest_matches_generator(&ws, "orders_flat", &data.join(files::CSV), &m.csv);
}
