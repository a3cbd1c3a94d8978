//! A table's identity and the ledger's health, through the `sluice` binary: a lost, emptied,
//! replaced or rolled-back catalog is refused with the recovery command, never silently
//! replaced by a new empty table; `sluice doctor` reports each kind of damage and `--repair`
//! repairs what it safely can; a garbled ledger record is reported and skipped, never fatal
//! for the workspace; read-only workspaces can be inspected.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(file: &str) -> String {
    repo()
        .join("examples/orders/data")
        .join(file)
        .display()
        .to_string()
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

fn run(workspace: &Path, args: &[&str]) -> (bool, String, String) {
    let out: Output = sluice(workspace, args).output().expect("run sluice");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn run_ok(workspace: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = run(workspace, args);
    assert!(ok, "sluice {args:?} failed:\n{stdout}\n{stderr}");
    stdout
}

/// Runs a command that must fail; its stdout and stderr together.
fn run_fails(workspace: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = run(workspace, args);
    assert!(!ok, "sluice {args:?} succeeded:\n{stdout}\n{stderr}");
    format!("{stdout}\n{stderr}")
}

fn rows(workspace: &Path) -> u64 {
    let show: serde_json::Value =
        serde_json::from_str(&run_ok(workspace, &["table", "show", "orders", "--json"])).unwrap();
    show["total_records"].as_u64().unwrap()
}

fn doctor_json(workspace: &Path, args: &[&str]) -> (bool, serde_json::Value) {
    let mut all = vec!["doctor", "--json"];
    all.extend(args);
    let (ok, stdout, stderr) = run(workspace, &all);
    let v = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}):\n{stdout}\n{stderr}"));
    (ok, v)
}

fn kinds(report: &serde_json::Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Every ledger record file of the workspace.
fn ledger_records(workspace: &Path) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut dirs = vec![workspace.join("landing/.sluice/ledger")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// The ledger record file of the object at `key`.
fn record_of(workspace: &Path, key: &str) -> PathBuf {
    ledger_records(workspace)
        .into_iter()
        .find(|p| std::fs::read_to_string(p).unwrap().contains(key))
        .unwrap_or_else(|| panic!("no ledger record for {key}"))
}

fn ingest_two(workspace: &Path) {
    run_ok(workspace, &["ingest", &data("orders-2026-03-01.ndjson")]);
    run_ok(workspace, &["ingest", &data("orders-2026-03-04.csv")]);
    assert_eq!(rows(workspace), 30);
}

// See: #15
#[test]
fn a_deleted_catalog_is_refused_and_never_recreated_empty() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    std::fs::remove_file(ws.path().join("catalog.db")).unwrap();

    let refused = run_fails(ws.path(), &["ingest", &data("orders-2026-03-05.ndjson.gz")]);
    assert!(
        refused.contains("shop.orders is missing from the catalog")
            && refused.contains("sluice doctor --repair"),
        "{refused}"
    );
    let shown = run_fails(ws.path(), &["table", "show", "orders"]);
    assert!(shown.contains("missing from the catalog"), "{shown}");
    assert!(shown.contains("UUID"), "{shown}");
    // reconcile does not call a lost table's objects done.
    let reconciled = run_fails(ws.path(), &["reconcile"]);
    assert!(
        reconciled.contains("missing from the catalog"),
        "{reconciled}"
    );
}

// See: #15
#[test]
fn an_emptied_catalog_without_identity_record_is_refused_by_the_ledger() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    // A workspace from before identity records: only the ledger remembers the table.
    std::fs::remove_dir_all(ws.path().join("landing/.sluice/tables")).unwrap();
    std::fs::write(ws.path().join("catalog.db"), b"").unwrap();

    let refused = run_fails(ws.path(), &["ingest", &data("orders-2026-03-05.ndjson.gz")]);
    assert!(
        refused.contains("the ledger has object versions committed to it")
            && refused.contains("sluice doctor --repair"),
        "{refused}"
    );
    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok);
    assert!(
        kinds(&report).contains(&"table_missing".to_string()),
        "{report}"
    );
    repair_then_redrive_the_refused_ingest(ws.path());
}

/// `doctor --repair` leaves only the refused execution, whose redrive then lands its file.
fn repair_then_redrive_the_refused_ingest(workspace: &Path) {
    let (ok, report) = doctor_json(workspace, &["--repair"]);
    assert!(!ok, "the refused execution waits for a redrive: {report}");
    assert_eq!(rows(workspace), 30);
    let left: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["repair"]["status"] != "repaired")
        .collect();
    assert_eq!(left.len(), 1, "{report}");
    assert_eq!(left[0]["kind"], "execution_unfinished", "{report}");
    let redrive = left[0]["repair"]["action"].as_str().unwrap();
    let name = redrive.strip_prefix("sluice redrive ").unwrap();
    run_ok(workspace, &["redrive", name]);
    assert_eq!(rows(workspace), 45);
    let (ok, report) = doctor_json(workspace, &[]);
    assert!(ok, "{report}");
}

// See: #15
#[test]
fn doctor_repair_registers_a_lost_table_again_with_every_row() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    std::fs::remove_file(ws.path().join("catalog.db")).unwrap();

    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok, "{report}");
    assert_eq!(kinds(&report), ["table_missing"], "{report}");
    assert_eq!(report["findings"][0]["repair"]["status"], "repairable");

    let (ok, report) = doctor_json(ws.path(), &["--repair"]);
    assert!(ok, "{report}");
    assert_eq!(report["findings"][0]["repair"]["status"], "repaired");
    assert_eq!(rows(ws.path()), 30);
    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(ok, "{report}");
    // The table goes on from where it was.
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-05.ndjson.gz")]);
    assert_eq!(rows(ws.path()), 45);
}

// See: #15
#[test]
fn a_catalog_put_back_to_an_older_state_is_refused_and_repaired() {
    let ws = tempfile::tempdir().unwrap();
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-01.ndjson")]);
    let backup = ws.path().join("catalog.db.bak");
    std::fs::copy(ws.path().join("catalog.db"), &backup).unwrap();
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-04.csv")]);
    std::fs::copy(&backup, ws.path().join("catalog.db")).unwrap();

    let refused = run_fails(ws.path(), &["ingest", &data("orders-2026-03-05.ndjson.gz")]);
    assert!(refused.contains("older than the recorded"), "{refused}");
    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok);
    assert!(
        kinds(&report).contains(&"catalog_stale".to_string()),
        "{report}"
    );
    repair_then_redrive_the_refused_ingest(ws.path());
}

// See: #15
#[test]
fn doctor_replaces_an_empty_table_made_in_place_of_the_lost_one() {
    let ws = tempfile::tempdir().unwrap();
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-01.ndjson")]);
    // What an unguarded sluice did: catalog gone, a new empty table made at the same
    // location (here by hiding the evidence, then putting it back).
    let control = ws.path().join("landing/.sluice");
    let aside = ws.path().join("aside");
    std::fs::create_dir_all(&aside).unwrap();
    for dir in ["tables", "ledger"] {
        std::fs::rename(control.join(dir), aside.join(dir)).unwrap();
    }
    std::fs::remove_file(ws.path().join("catalog.db")).unwrap();
    // Drift-blocked: the table is created, nothing is committed.
    run_ok(
        ws.path(),
        &["ingest", &data("orders-2026-03-07-quantity-as-text.ndjson")],
    );
    assert_eq!(rows(ws.path()), 0);
    // The first table's identity back; its ledger records beside the new ones.
    std::fs::remove_dir_all(control.join("tables")).unwrap();
    std::fs::rename(aside.join("tables"), control.join("tables")).unwrap();
    let copied = Command::new("cp")
        .arg("-r")
        .arg(aside.join("ledger/."))
        .arg(control.join("ledger"))
        .status()
        .unwrap();
    assert!(copied.success());

    let shown = run_fails(ws.path(), &["table", "show", "orders"]);
    assert!(shown.contains("holds another table"), "{shown}");
    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok);
    assert!(
        kinds(&report).contains(&"uuid_mismatch".to_string()),
        "{report}"
    );
    let (ok, report) = doctor_json(ws.path(), &["--repair"]);
    assert!(ok, "{report}");
    assert_eq!(rows(ws.path()), 20);
}

// See: #15
#[test]
fn a_deleted_ledger_record_is_recreated_by_doctor_from_the_snapshot_summary() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    std::fs::remove_file(record_of(ws.path(), "orders-2026-03-01.ndjson")).unwrap();
    let before = run_ok(ws.path(), &["reconcile"]);
    assert!(before.contains("1 never seen before"), "{before}");

    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok);
    assert!(
        kinds(&report).contains(&"record_missing".to_string()),
        "{report}"
    );
    let (ok, report) = doctor_json(ws.path(), &["--repair"]);
    assert!(ok, "{report}");

    let files = run_ok(ws.path(), &["files"]);
    assert!(files.contains("2 object versions: 2 committed"), "{files}");
    let after = run_ok(ws.path(), &["reconcile"]);
    assert!(after.contains("0 never seen before"), "{after}");
    assert_eq!(rows(ws.path()), 30);
}

// See: #15
#[test]
fn a_corrupt_ledger_record_is_reported_and_skipped_never_fatal() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    let garbled = record_of(ws.path(), "orders-2026-03-01.ndjson");
    std::fs::write(&garbled, b"{\"object\": trunc").unwrap();
    let name = garbled.file_name().unwrap().to_str().unwrap().to_string();

    let (ok, stdout, stderr) = run(ws.path(), &["files"]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 object versions: 1 committed"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&name) && stderr.contains("corrupt"),
        "{stderr}"
    );
    run_ok(ws.path(), &["reconcile"]);
    let gc = run_ok(ws.path(), &["gc", "--dry-run"]);
    assert!(gc.contains(&name), "{gc}");

    let (ok, report) = doctor_json(ws.path(), &["--repair"]);
    assert!(
        !ok,
        "a corrupt record is not repaired by guessing: {report}"
    );
    let finding = &report["findings"][0];
    assert_eq!(finding["kind"], "record_corrupt", "{report}");
    assert!(finding["detail"].as_str().unwrap().contains(&name));
}

// See: #17
#[test]
fn an_object_unfinished_past_the_tables_freshness_is_named_as_late() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    let out = run_ok(ws.path(), &["reconcile"]);
    assert!(!out.contains("late:"), "everything is done: {out}");
    // A record nobody can read keeps its object unfinished; it landed two hours ago, and
    // the example's table wants everything done within the hour.
    std::fs::write(
        record_of(ws.path(), "orders-2026-03-01.ndjson"),
        b"{\"object\": trunc",
    )
    .unwrap();
    let landed = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600 + 60);
    std::fs::File::options()
        .write(true)
        .open(ws.path().join("landing/orders/orders-2026-03-01.ndjson"))
        .unwrap()
        .set_modified(landed)
        .unwrap();
    let out = run_ok(ws.path(), &["reconcile"]);
    let late = out
        .lines()
        .find(|l| l.contains("late:"))
        .unwrap_or_else(|| panic!("no late line: {out}"));
    assert!(
        late.contains("orders/orders-2026-03-01.ndjson")
            && late.contains("2h 1m")
            && late.contains("freshness of 1h"),
        "{late}"
    );
    let show = run_ok(ws.path(), &["table", "show", "orders"]);
    assert!(show.contains(late.trim_start_matches("orders: ")), "{show}");
    let w: serde_json::Value =
        serde_json::from_str(&run_ok(ws.path(), &["table", "show", "orders", "--json"])).unwrap();
    assert_eq!(
        w["watermark"]["oldest_unfinished_key"],
        "orders/orders-2026-03-01.ndjson"
    );
}

// See: #15
#[test]
fn doctor_reports_a_missing_data_file() {
    let ws = tempfile::tempdir().unwrap();
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-01.ndjson")]);
    let mut dirs = vec![ws.path().join("warehouse")];
    let mut parquet = None;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                parquet = Some(path);
            }
        }
    }
    let parquet = parquet.expect("a data file");
    std::fs::remove_file(&parquet).unwrap();
    let (ok, report) = doctor_json(ws.path(), &[]);
    assert!(!ok);
    assert_eq!(kinds(&report), ["data_file_missing"], "{report}");
    let out = run_fails(ws.path(), &["doctor"]);
    assert!(
        out.contains(parquet.file_name().unwrap().to_str().unwrap()),
        "{out}"
    );
}

// See: #15
#[test]
fn doctor_finds_nothing_wrong_in_a_healthy_workspace() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    let out = run_ok(ws.path(), &["doctor"]);
    assert!(out.contains("no problems found"), "{out}");
}

// See: #15
#[test]
fn files_for_an_unknown_table_names_the_configured_tables() {
    let ws = tempfile::tempdir().unwrap();
    run_ok(ws.path(), &["ingest", &data("orders-2026-03-01.ndjson")]);
    let out = run_fails(ws.path(), &["files", "--table", "NO_SUCH"]);
    assert!(
        out.contains("no table \"NO_SUCH\"") && out.contains("orders"),
        "{out}"
    );
}

/// Runs `sluice ARGS` with the workspace read-only: a read-only bind mount in a private
/// mount namespace when running as root (root ignores permission bits), else permission bits.
fn run_read_only(workspace: &Path, args: &[&str]) -> (bool, String, String) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let out = if root {
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "sh", "-c"])
            .arg(
                "ws=$1; shift; mount --bind \"$ws\" \"$ws\" && \
                 mount -o remount,bind,ro \"$ws\" \"$ws\" && exec \"$@\"",
            )
            .arg("sh")
            .arg(workspace)
            .arg(env!("CARGO_BIN_EXE_sluice"))
            .arg("--config")
            .arg(repo().join("examples/orders/sluice.toml"))
            .arg("--workspace")
            .arg(workspace)
            .args(args)
            .env_remove("RUST_LOG");
        cmd.output().expect("run unshare")
    } else {
        set_modes(workspace, true);
        let out = sluice(workspace, args).output().expect("run sluice");
        set_modes(workspace, false);
        out
    };
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Makes every file and directory under `root` read-only (or writable again).
fn set_modes(root: &Path, read_only: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mut paths = vec![root.to_path_buf()];
    let mut all = vec![];
    while let Some(p) = paths.pop() {
        if p.is_dir() {
            for entry in std::fs::read_dir(&p).unwrap() {
                paths.push(entry.unwrap().path());
            }
        }
        all.push(p);
    }
    for p in all {
        let mode = match (p.is_dir(), read_only) {
            (true, true) => 0o555,
            (false, true) => 0o444,
            (true, false) => 0o755,
            (false, false) => 0o644,
        };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

// See: #15
#[test]
fn a_read_only_workspace_can_be_inspected() {
    let ws = tempfile::tempdir().unwrap();
    ingest_two(ws.path());
    for args in [
        vec!["files"],
        vec!["table", "show", "orders"],
        vec!["quarantine", "list"],
        vec!["doctor"],
    ] {
        let (ok, stdout, stderr) = run_read_only(ws.path(), &args);
        assert!(
            ok,
            "sluice {args:?} on a read-only workspace:\n{stdout}\n{stderr}"
        );
    }
}

// See: #15
#[test]
fn a_full_disk_is_reported_as_out_of_space_not_as_a_lock() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // A small file system of its own needs a private mount namespace, which needs root.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c"])
        .arg("mnt=$1; shift; mount -t tmpfs -o size=300k tmpfs \"$mnt\" && exec \"$@\"")
        .arg("sh")
        .arg(dir.path())
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(dir.path().join("ws"))
        .arg("ingest")
        .arg(repo().join("examples/orders/data"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("out of disk space"), "{stderr}");
}
