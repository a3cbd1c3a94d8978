//! Removals in `sluice files`: a removal a key's head records (an `Object Deleted` event, or a
//! delete marker reconcile found) is a line in the state `removed`, in the table and in
//! `--json`, and `--state removed` selects it. The ingestion and the removal run on the local
//! engine over a workspace laid out as `sluice --workspace` lays it out; `files` is the real
//! binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_steps::payload::ArrivalEvent;
use sluice_tests::{ndjson, order, Harness};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(workspace: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(workspace)
        .arg("files")
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG")
        .output()
        .expect("run sluice");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "files {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn a_recorded_removal_is_shown_as_removed() {
    let h = Harness::orders().await;
    let ingested = h
        .ingest_bytes("gone.ndjson", ndjson((1..=3).map(order)))
        .await;
    assert!(
        matches!(ingested.outcome, sluice_local::Outcome::Committed { .. }),
        "{ingested:?}"
    );
    let meta = h
        .ctx
        .store
        .head("orders/gone.ndjson")
        .await
        .unwrap()
        .unwrap();
    h.ctx.store.delete("orders/gone.ndjson").await.unwrap();
    let removal = sluice_steps::payload::Arrival {
        event: ArrivalEvent::Removed,
        version_id: Some("marker-1".into()),
        sequencer: Some("0A".into()),
        ..h.arrival("orders/gone.ndjson", &meta.etag)
    };
    let report = h.local.ingest(&removal).await.unwrap();
    assert_eq!(
        report.outcome,
        sluice_local::Outcome::Filtered,
        "{report:?}"
    );

    let table = files(h.dir.path(), &[]);
    let removed: Vec<&str> = table.lines().filter(|l| l.contains("removed")).collect();
    assert_eq!(removed.len(), 1, "{table}");
    assert!(removed[0].contains("orders/gone.ndjson"), "{table}");
    assert!(
        removed[0].contains("marker-1"),
        "the marker's version: {table}"
    );
    assert!(
        table.contains("1 object versions: 1 committed; 1 removals"),
        "{table}"
    );

    let only: Vec<serde_json::Value> = files(h.dir.path(), &["--state", "removed", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(only.len(), 1, "{only:?}");
    assert_eq!(only[0]["state"], "removed");
    assert_eq!(only[0]["object"]["key"], "orders/gone.ndjson");
    assert_eq!(only[0]["object"]["version_id"], "marker-1");
    assert_eq!(only[0]["sequencer"], "0A");
    assert_eq!(only[0]["table"], "orders");
    assert!(only[0]["updated_at"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));

    // The committed version is still there, and `--state committed` leaves the removal out.
    let committed = files(h.dir.path(), &["--state", "committed", "--json"]);
    assert_eq!(committed.lines().count(), 1, "{committed}");
    assert!(!committed.contains("\"removed\""), "{committed}");
}
