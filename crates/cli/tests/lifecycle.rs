//! A table's rows over time, as a user runs sluice: `sluice expire` (old snapshots leave, the
//! one a killed commit still needs stays until its execution is redriven, an age shorter than
//! the ledger lease is refused), `sluice maintain` after a replaced version, and `sluice
//! watch` turning a removed file into a removal under `on_delete = "delete"`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The orders example's configuration in `dir`, with a one-second ledger lease so that the
/// test can expire snapshots a second old, and groups of one batch, so that a later commit
/// does not take a killed commit's batch into its own group (and settle it).
fn short_lease_config(dir: &Path) -> PathBuf {
    let example = repo().join("examples/orders");
    std::fs::copy(
        example.join("orders.schema.json"),
        dir.join("orders.schema.json"),
    )
    .unwrap();
    let text = std::fs::read_to_string(example.join("sluice.toml")).unwrap();
    let config = dir.join("sluice.toml");
    std::fs::write(
        &config,
        format!("[ledger]\nlease_seconds = 1\n\n[commit]\nmax_batches = 1\n\n{text}"),
    )
    .unwrap();
    config
}

fn sluice(config: &Path, workspace: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("--config")
        .arg(config)
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

fn data(name: &str) -> String {
    repo()
        .join("examples/orders/data")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn show(config: &Path, ws: &Path) -> serde_json::Value {
    serde_json::from_str(&run_ok(&mut sluice(
        config,
        ws,
        &["table", "show", "orders", "--json"],
    )))
    .unwrap()
}

#[test]
fn a_snapshot_a_killed_commit_needs_stays_until_the_redrive_and_no_row_lands_twice() {
    let dir = tempfile::tempdir().unwrap();
    let config = short_lease_config(dir.path());
    let ws = dir.path().join("ws");
    run_ok(&mut sluice(
        &config,
        &ws,
        &["ingest", &data("orders-2026-03-01.ndjson")],
    ));
    // Killed between the catalog commit and the ledger update: the snapshot holds the batch,
    // the ledger still says staged.
    let killed = sluice(&config, &ws, &["ingest", &data("orders-2026-03-04.csv")])
        .env("SLUICE_FAILPOINTS", "commit.after_catalog")
        .output()
        .unwrap();
    assert!(!killed.status.success(), "the fail point kills the process");
    run_ok(&mut sluice(
        &config,
        &ws,
        &["ingest", &data("orders-2026-03-06-coupon.ndjson")],
    ));
    let before = show(&config, &ws);
    assert_eq!(before["snapshots"].as_array().unwrap().len(), 3);
    let rows = before["total_records"].as_u64().unwrap();
    assert_eq!(rows, 20 + 10 + 10);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let dry = run_ok(&mut sluice(
        &config,
        &ws,
        &["expire", "--older-than", "1s", "--dry-run"],
    ));
    assert!(dry.contains("would expire 1 snapshots, kept 1"), "{dry}");
    assert_eq!(show(&config, &ws)["snapshots"].as_array().unwrap().len(), 3);

    let first = run_ok(&mut sluice(&config, &ws, &["expire", "--older-than", "1s"]));
    assert!(first.contains("expired 1 snapshots, kept 1"), "{first}");
    assert!(
        first.contains("orders/orders-2026-03-04.csv") && first.contains("redrive"),
        "the kept snapshot names the object to redrive: {first}"
    );
    assert_eq!(show(&config, &ws)["snapshots"].as_array().unwrap().len(), 2);

    // The redriven commit finds its batch in the snapshot expiry kept: no second append.
    let aborted: Vec<serde_json::Value> = run_ok(&mut sluice(
        &config,
        &ws,
        &["executions", "list", "--status", "ABORTED", "--json"],
    ))
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    let name = aborted[0]["name"].as_str().unwrap();
    let redriven = run_ok(&mut sluice(&config, &ws, &["redrive", name]));
    assert!(redriven.contains("committed (earlier run)"), "{redriven}");

    let second = run_ok(&mut sluice(&config, &ws, &["expire", "--older-than", "1s"]));
    assert!(second.contains("expired 1 snapshots, kept 0"), "{second}");
    let after = show(&config, &ws);
    assert_eq!(after["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(after["total_records"].as_u64().unwrap(), rows);

    // Nothing is left to expire, and gc removes nothing the table reads.
    let again = run_ok(&mut sluice(&config, &ws, &["expire", "--older-than", "1s"]));
    assert!(
        again.contains("expired 0 snapshots, kept 0 for exactly-once; 1 remain"),
        "{again}"
    );
    run_ok(&mut sluice(&config, &ws, &["gc", "--min-age", "0s"]));
    assert_eq!(show(&config, &ws)["total_records"].as_u64().unwrap(), rows);
    // The ledger's committed versions whose snapshots expired are not taken for lost rows.
    let doctor = run_ok(&mut sluice(&config, &ws, &["doctor"]));
    assert!(!doctor.contains("batch_missing"), "{doctor}");
}

#[test]
fn an_age_shorter_than_the_ledger_lease_is_refused_with_the_reason() {
    let ws = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(ws.path())
        .args(["expire", "--older-than", "10m"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("shorter than the ledger lease (15m"),
        "{stderr}"
    );
    let zero = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(ws.path())
        .args(["expire", "--retain-last", "0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&zero.stderr).contains("retain-last must be 1 or more"));
}

/// `sluice maintain` on a `replace` table: a file overwritten and ingested again replaces
/// its rows; maintenance then expires the older snapshots and gc removes the data file only
/// they read, so the warehouse holds the live version's file alone.
#[test]
fn maintain_expires_and_collects_the_files_a_replaced_version_left() {
    let dir = tempfile::tempdir().unwrap();
    let config = short_lease_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "max_invalid_ratio = 0.2",
            "max_invalid_ratio = 0.2\nnew_version = \"replace\"",
        ),
    )
    .unwrap();
    let ws = dir.path().join("ws");
    let lines: Vec<String> = std::fs::read_to_string(data("orders-2026-03-01.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let file = dir.path().join("daily.ndjson");
    std::fs::write(&file, lines[..12].join("\n") + "\n").unwrap();
    run_ok(&mut sluice(
        &config,
        &ws,
        &["ingest", file.to_str().unwrap()],
    ));
    std::fs::write(&file, lines[12..].join("\n") + "\n").unwrap();
    let second = run_ok(&mut sluice(
        &config,
        &ws,
        &["ingest", file.to_str().unwrap()],
    ));
    assert!(
        second.contains("replaced the rows of 1 earlier version"),
        "{second}"
    );
    assert_eq!(show(&config, &ws)["total_records"].as_u64().unwrap(), 8);
    let parquet = |ws: &Path| -> usize {
        walk(&ws.join("warehouse"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .count()
    };
    let before = parquet(&ws);
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let out = run_ok(&mut sluice(
        &config,
        &ws,
        &["maintain", "--older-than", "1s", "--min-age", "0s"],
    ));
    assert!(out.contains("expired 1 snapshots"), "{out}");
    assert_eq!(show(&config, &ws)["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(show(&config, &ws)["total_records"].as_u64().unwrap(), 8);
    let after = parquet(&ws);
    assert!(
        after < before,
        "{before} data files before, {after} after:\n{out}"
    );
    let files = run_ok(&mut sluice(
        &config,
        &ws,
        &["files", "--state", "retracted"],
    ));
    assert!(files.contains("retracted (replaced)"), "{files}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Under `on_delete = "delete"`, a file removed from the watched folder takes its rows out of
/// the table; the landing copy goes with it.
#[test]
fn watch_turns_a_removed_file_into_a_removal_of_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = short_lease_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(
            "max_invalid_ratio = 0.2",
            "max_invalid_ratio = 0.2\non_delete = \"delete\"",
        ),
    )
    .unwrap();
    let (ws, inbox) = (dir.path().join("lake"), dir.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();
    let child = sluice(
        &config,
        &ws,
        &[
            "watch",
            inbox.to_str().unwrap(),
            "--stop-after",
            "3",
            "--settle-ms",
            "100",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    std::fs::copy(data("orders-2026-03-01.ndjson"), inbox.join("a.ndjson")).unwrap();
    std::fs::copy(data("orders-2026-03-04.csv"), inbox.join("b.csv")).unwrap();
    // Both committed before the removal: wait for the landing copies' ledger records.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while show_total(&config, &ws) != Some(30) {
        assert!(
            std::time::Instant::now() < deadline,
            "the two files never committed"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::fs::remove_file(inbox.join("a.ndjson")).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("orders/a.ndjson → removed: 1 versions' rows retracted"),
        "{stdout}"
    );
    assert_eq!(show_total(&config, &ws), Some(10), "b.csv's rows stay");
    assert!(!ws.join("landing/orders/a.ndjson").exists());
    assert!(ws.join("landing/orders/b.csv").exists());
}

/// The table's row count, once it exists.
fn show_total(config: &Path, ws: &Path) -> Option<u64> {
    let out = sluice(config, ws, &["table", "show", "orders", "--json"])
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["total_records"].as_u64()
}
