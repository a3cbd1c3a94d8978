//! The `sluice` binary as a user runs it: `make run`'s figures, and a real process killed at
//! the fail point between the catalog commit and the ledger update.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rfind(|l| l.contains(" files: "))
        .expect("summary line")
}

/// The figures `make run` prints, for the example data.
#[test]
fn make_run_figures_match_the_example_data() {
    let ws = tempfile::tempdir().unwrap();
    let data = repo().join("examples/orders/data");
    let data = data.to_str().unwrap();
    let first = run_ok(&mut sluice(ws.path(), &["ingest", data]));
    assert_eq!(
        summary_line(&first),
        "7 files: 5 committed, 2 quarantined, 0 duplicates, 0 filtered; 73 rows committed, 2 rows rejected, 5 snapshots added"
    );
    assert!(
        first.contains("quarantined: too_many_invalid_rows"),
        "{first}"
    );
    assert!(first.contains("quarantined: drift_blocked"), "{first}");
    let second = run_ok(&mut sluice(ws.path(), &["ingest", data]));
    assert_eq!(
        summary_line(&second),
        "7 files: 0 committed, 0 quarantined, 7 duplicates, 0 filtered; 0 rows committed, 0 rows rejected, 0 snapshots added"
    );
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    assert_eq!(show["total_records"], 73);
    assert_eq!(show["snapshots"].as_array().unwrap().len(), 5);
    assert!(Path::new(show["metadata_location"].as_str().unwrap()).exists());
    let files = run_ok(&mut sluice(
        ws.path(),
        &["files", "--state", "quarantined", "--json"],
    ));
    assert_eq!(files.lines().count(), 2);
    let shown = run_ok(&mut sluice(
        ws.path(),
        &["quarantine", "show", "orders-2026-03-03-malformed.ndjson"],
    ));
    assert!(
        shown.contains("too_many_invalid_rows") && shown.contains("parse_error"),
        "{shown}"
    );
}

#[test]
fn killed_between_catalog_commit_and_ledger_update_then_rerun_commits_once() {
    let ws = tempfile::tempdir().unwrap();
    let file = repo().join("examples/orders/data/orders-2026-03-01.ndjson");
    let file = file.to_str().unwrap();
    let out = sluice(ws.path(), &["ingest", file])
        .env("SLUICE_FAILPOINTS", "commit.after_catalog")
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the fail point should have killed the process"
    );
    let staged = run_ok(&mut sluice(
        ws.path(),
        &["files", "--state", "staged", "--json"],
    ));
    assert_eq!(staged.lines().count(), 1, "the ledger still says staged");

    let rerun = run_ok(&mut sluice(ws.path(), &["ingest", file]));
    assert!(rerun.contains("committed (earlier run)"), "{rerun}");
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    assert_eq!(show["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(show["total_records"], 20);
}

#[test]
fn unknown_config_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sluice.toml");
    std::fs::write(&cfg, "[[table]]\nname = \"t\"\nprefix = \"t/\"\nformat = \"ndjson\"\ncontract = \"c.json\"\nretention = 3\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--workspace",
            dir.path().join("ws").to_str().unwrap(),
            "files",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("retention") && err.contains("sluice.toml"),
        "{err}"
    );
}
