//! What users bring and how they run it, through the real `sluice` binary: files with a stray
//! CSV quote or a byte order mark lose no row, and runs that overlap (an arrival whose
//! execution is in progress elsewhere, a process that died mid-execution) end each arrival
//! on its own, never aborting the others, with every unfinished execution redrivable.
//!
//! An execution "in progress elsewhere" is made deterministic by holding its run lock from
//! the test, as a live process running it would: a process killed at a fail point leaves its
//! execution RUNNING and its lock file behind, unlocked.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(name: &str) -> PathBuf {
    repo().join("examples/orders/data").join(name)
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

fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out: Output = cmd.output().expect("run sluice");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn run_ok(cmd: &mut Command) -> String {
    let (code, stdout, stderr) = output(cmd);
    assert_eq!(code, Some(0), "{cmd:?}:\n{stdout}\n{stderr}");
    stdout
}

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rfind(|l| l.contains(" files: ") || l.contains(" file: "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"))
}

fn total_records(ws: &Path) -> u64 {
    let show = run_ok(&mut sluice(ws, &["table", "show", "orders", "--json"]));
    let show: serde_json::Value = serde_json::from_str(&show).unwrap();
    show["total_records"].as_u64().unwrap()
}

/// Ingests `file` in a process that aborts at the fail point after the catalog commit: its
/// execution stays RUNNING in the store, its lock file is left behind unlocked.
fn ingest_and_die(ws: &Path, file: &Path) {
    let (code, stdout, stderr) = output(
        sluice(ws, &["ingest", file.to_str().unwrap()])
            .env("SLUICE_FAILPOINTS", "commit.after_catalog"),
    );
    assert_ne!(
        code,
        Some(0),
        "the fail point was not hit:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("fail point commit.after_catalog hit"),
        "{stderr}"
    );
}

/// The run lock files of the workspace's executions.
fn lock_files(ws: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(ws.join("executions.db.locks"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

// See: #15
#[test]
fn csv_with_a_stray_quote_commits_every_other_row_and_rejects_the_line_with_the_quote() {
    let ws = tempfile::tempdir().unwrap();
    let mut text = String::from("order_id,ordered_at,customer_email,status,quantity,amount,note\n");
    for i in 1..=1000 {
        let note = if i == 500 { "\"oops" } else { "fine" };
        text.push_str(&format!(
            "{},2026-03-04T03:42:00Z,c{i}@example.com,shipped,2,19.5,{note}\n",
            10_000 + i
        ));
    }
    let file = ws.path().join("stray-quote.csv");
    std::fs::write(&file, text).unwrap();
    let out = run_ok(&mut sluice(
        &ws.path().join("lake"),
        &["ingest", file.to_str().unwrap()],
    ));
    assert_eq!(
        summary_line(&out),
        "1 file: 1 committed, 0 quarantined, 0 duplicates, 0 filtered; 999 rows committed, 1 rows rejected, 1 snapshot added",
        "{out}"
    );
    assert_eq!(total_records(&ws.path().join("lake")), 999);
}

// See: #15
#[test]
fn ndjson_with_a_byte_order_mark_commits_its_first_row() {
    let ws = tempfile::tempdir().unwrap();
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(data("orders-2026-03-01.ndjson")).unwrap());
    let file = ws.path().join("bom.ndjson");
    std::fs::write(&file, bytes).unwrap();
    let out = run_ok(&mut sluice(
        &ws.path().join("lake"),
        &["ingest", file.to_str().unwrap()],
    ));
    assert_eq!(
        summary_line(&out),
        "1 file: 1 committed, 0 quarantined, 0 duplicates, 0 filtered; 20 rows committed, 0 rows rejected, 1 snapshot added",
        "{out}"
    );
}

// See: #15
#[test]
fn arrival_in_progress_elsewhere_is_waited_for_and_the_other_files_still_run() {
    let ws = tempfile::tempdir().unwrap();
    let ws = ws.path();
    let first = data("orders-2026-03-01.ndjson");
    let other = data("orders-2026-03-04.csv");
    ingest_and_die(ws, &first);
    // The test holds the dead run's lock: to sluice, a live process runs that execution.
    let locks = lock_files(ws);
    assert_eq!(locks.len(), 1, "{locks:?}");
    let held = File::options().write(true).open(&locks[0]).unwrap();
    held.try_lock().unwrap();

    let mut child = sluice(
        ws,
        &[
            "-v",
            "ingest",
            first.to_str().unwrap(),
            other.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until it says it waits (it must not fail, nor give up the other file).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("in progress elsewhere") {
                let _ = tx.send(());
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    let waited = rx.recv_timeout(Duration::from_secs(120));
    drop(held);
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        waited.is_ok(),
        "never waited for the execution in progress elsewhere:\n{stdout}\n{stderr}"
    );
    // The other file committed; the one whose runner let go without finishing is ABORTED,
    // redrivable, and the command says so with exit code 2 (not 1: nothing failed here).
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        summary_line(&stdout).starts_with("2 files: 1 committed, 0 quarantined"),
        "{stdout}"
    );
    assert!(stdout.contains("sluice redrive"), "{stdout}");
    assert!(!stderr.contains("another process"), "{stderr}");

    let redriven = run_ok(&mut sluice(ws, &["redrive", "--all"]));
    assert!(redriven.contains("1 committed"), "{redriven}");
    let listed = run_ok(&mut sluice(ws, &["executions", "list"]));
    assert!(listed.contains("2 executions: 2 SUCCEEDED"), "{listed}");
    assert_eq!(total_records(ws), 30);
}

// See: #15
#[test]
fn executions_list_shows_no_running_execution_whose_process_is_gone_and_redrive_all_finishes_it() {
    let ws = tempfile::tempdir().unwrap();
    let ws = ws.path();
    ingest_and_die(ws, &data("orders-2026-03-01.ndjson"));
    run_ok(&mut sluice(
        ws,
        &["ingest", data("orders-2026-03-04.csv").to_str().unwrap()],
    ));
    // Only the newest is listed; the count and the hint still cover the orphan.
    let listed = run_ok(&mut sluice(ws, &["executions", "list", "--limit", "1"]));
    assert!(!listed.contains("RUNNING"), "{listed}");
    assert!(
        listed.contains("2 executions: 1 ABORTED, 1 SUCCEEDED"),
        "{listed}"
    );
    assert!(listed.contains("sluice redrive --all"), "{listed}");

    let redriven = run_ok(&mut sluice(
        ws,
        &["redrive", "--all", "--status", "ABORTED"],
    ));
    assert!(redriven.contains("1 committed"), "{redriven}");
    let listed = run_ok(&mut sluice(ws, &["executions", "list"]));
    assert!(listed.contains("2 executions: 2 SUCCEEDED"), "{listed}");
    assert!(!listed.contains("can be redriven"), "{listed}");
    let again = run_ok(&mut sluice(ws, &["redrive", "--all"]));
    assert!(again.contains("nothing to redrive"), "{again}");
    assert_eq!(total_records(ws), 30);
}
