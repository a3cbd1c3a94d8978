//! `sluice backfill PREFIX` through the real binary: statemachine/backfill.asl.json on the
//! local engine, its Distributed Map reading the plan's manifest from the workspace's
//! bucket and running one child ingest execution per version the ledger never saw.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sluice_tests::{ndjson, open_context, order};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> PathBuf {
    repo().join("examples/orders/sluice.toml")
}

fn sluice(workspace: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("--config")
        .arg(config())
        .arg("--workspace")
        .arg(workspace)
        .args(args)
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("SLUICE_CONFIG")
        .env_remove("RUST_LOG");
    cmd
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run sluice");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_eq!(out.status.code(), Some(0), "{cmd:?}:\n{stdout}\n{stderr}");
    stdout
}

fn line<'a>(stdout: &'a str, starts: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(starts))
        .unwrap_or_else(|| panic!("no line starting {starts:?} in:\n{stdout}"))
}

/// 50 files of 3 valid orders each under `orders/2025/`, the first 20 of which were ingested
/// before (by events): the backfill starts the other 30, every row is in the table once,
/// and a second backfill starts nothing.
#[test]
fn a_backfill_starts_only_what_the_ledger_never_saw_and_lands_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("lake");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let files: Vec<PathBuf> = (0..50u64)
        .map(|i| {
            let path = inbox.join(format!("part-{i:03}.ndjson"));
            std::fs::write(&path, ndjson((1..=3).map(|r| order(i * 10 + r)))).unwrap();
            path
        })
        .collect();
    // 20 arrive through their events (`ingest` lands them under orders/).
    let mut first = vec!["ingest".to_string()];
    first.extend(files[..20].iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = first.iter().map(String::as_str).collect();
    run_ok(&mut sluice(&ws, &args));
    // The 30 others land beside them in the bucket, but their events were lost.
    let landing = ws.join("landing/orders");
    for p in &files[20..] {
        std::fs::copy(p, landing.join(p.file_name().unwrap())).unwrap();
    }

    // In parts of 8 versions, as a prefix too large for one plan is run: 7 parts, the first
    // two all duplicates (no Map Run), the counts of all of them in the summary.
    let out = run_ok(&mut sluice(
        &ws,
        &["backfill", "orders/", "--part-versions", "8"],
    ));
    let summary = line(&out, "backfill backfill-orders-");
    assert!(
        summary.contains(" SUCCEEDED: 50 versions listed under orders/, 20 duplicates"),
        "{out}"
    );
    let name = summary.split_whitespace().nth(1).unwrap();
    let plans = ws.join("landing/.sluice/backfill").join(name);
    let mut manifests: Vec<String> = std::fs::read_dir(&plans)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    manifests.sort();
    assert_eq!(
        manifests,
        [
            "arrivals-1.jsonl",
            "arrivals-2.jsonl",
            "arrivals-3.jsonl",
            "arrivals-4.jsonl",
            "arrivals-5.jsonl",
            "arrivals-6.jsonl",
            "arrivals.jsonl"
        ],
        "one manifest per part"
    );
    let lines: usize = manifests
        .iter()
        .map(|m| {
            std::fs::read_to_string(plans.join(m))
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(lines, 30, "each version to start in one part's manifest");
    assert!(
        summary.contains("30 to start: 30 ran now, 0 already started elsewhere"),
        "{out}"
    );
    assert!(
        out.contains(
            "30 files: 30 committed, 0 quarantined, 0 duplicates, 0 filtered; 90 rows committed"
        ),
        "{out}"
    );

    // Every row exactly once, read through an Iceberg scan.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rows = rt.block_on(async {
        let cfg = sluice_core::config::Config::load(&config()).unwrap();
        let ctx = open_context(&ws, cfg).await;
        ctx.lake.scan_json(&ctx.config.tables[0]).await.unwrap()
    });
    let mut ids: BTreeMap<u64, usize> = BTreeMap::new();
    for r in &rows {
        *ids.entry(r["order_id"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(rows.len(), 150, "every valid row once");
    assert_eq!(ids.len(), 150);
    assert!(ids.values().all(|n| *n == 1));

    // Again: the ledger has every version, so the plan starts nothing.
    let again = run_ok(&mut sluice(&ws, &["backfill", "orders/"]));
    let summary = line(&again, "backfill backfill-orders-");
    assert!(
        summary.contains("50 versions listed under orders/, 50 duplicates (the ledger has them), 0 to start: 0 ran now"),
        "{again}"
    );
}

/// A prefix within the table's backfills only what lies under it; one outside every table's
/// prefix is refused before anything runs.
#[test]
fn a_backfill_keeps_to_its_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("lake");
    for (sub, first) in [("2024", 0u64), ("2025", 100)] {
        let d = ws.join("landing/orders").join(sub);
        std::fs::create_dir_all(&d).unwrap();
        for i in 0..3 {
            std::fs::write(
                d.join(format!("f{i}.ndjson")),
                ndjson([order(first + i + 1)]),
            )
            .unwrap();
        }
    }
    let out = run_ok(&mut sluice(&ws, &["backfill", "orders/2025/"]));
    let summary = line(&out, "backfill backfill-orders-");
    assert!(
        summary.contains(
            "3 versions listed under orders/2025/, 0 duplicates (the ledger has them), 3 to start"
        ),
        "{out}"
    );
    let out = run_ok(&mut sluice(&ws, &["backfill", "orders/"]));
    let summary = line(&out, "backfill backfill-orders-");
    assert!(
        summary.contains(
            "6 versions listed under orders/, 3 duplicates (the ledger has them), 3 to start"
        ),
        "{out}"
    );

    let refused = sluice(&ws, &["backfill", "invoices/"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("lies within no table's prefix"), "{stderr}");
}

/// A child whose name an execution already holds (closed: here one that failed before the
/// ledger heard of its version) meets `StepFunctions.ExecutionAlreadyExistsException`, as
/// StartExecution answers on AWS, which the definition catches: the backfill succeeds, the
/// others run, and that version waits for a redrive of its own execution.
#[tokio::test]
async fn an_execution_that_exists_already_is_caught_not_run_again() {
    let h = sluice_tests::Harness::orders().await;
    let store = &h.ctx.store;
    let mut names = vec![];
    for i in 1..=3u64 {
        let meta = store
            .put(
                &format!("orders/2025/f{i}.ndjson"),
                ndjson([order(i)]).into_bytes().into(),
            )
            .await
            .unwrap();
        names.push(sluice_local::arrival_name(
            &h.arrival(&meta.key, &meta.etag),
        ));
    }
    // The first version's execution exists and FAILED (say, a Filter that could not reach
    // the ledger); the ledger has no record of the version, so the plan starts it.
    let failing = r#"{"StartAt": "Filter", "States": {"Filter": {"Type": "Fail", "Error": "TransientError", "Cause": "the ledger was unreachable"}}}"#;
    let (bytes, meta) = store
        .get_bytes("orders/2025/f1.ndjson")
        .await
        .unwrap()
        .unwrap();
    drop(bytes);
    let failed = h
        .local
        .engine
        .start(sluice_states::StartRequest {
            state_machine: sluice_local::STATE_MACHINE.into(),
            definition: failing.into(),
            name: names[0].clone(),
            input: serde_json::to_value(h.arrival(&meta.key, &meta.etag)).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(failed.execution.status, sluice_states::Status::Failed);

    let done = h
        .local
        .backfill(
            &h.dir.path().join("executions.db"),
            "orders",
            Some("orders/2025/"),
            "backfill-orders-test",
            sluice_steps::backfill::DEFAULT_PART_VERSIONS,
            std::sync::Arc::new(|_: &sluice_local::ArrivalReport| {}),
        )
        .await
        .unwrap();
    assert_eq!(
        done.execution.status,
        sluice_states::Status::Succeeded,
        "{:?}",
        done.execution.cause
    );
    let plan = done.plan.expect("the plan ran");
    assert_eq!((plan.listed, plan.duplicates, plan.to_start), (3, 0, 3));
    assert_eq!(done.already_started, vec![names[0].clone()]);
    let mut ran: Vec<&str> = done.ran.iter().map(|r| r.execution.as_str()).collect();
    ran.sort();
    assert_eq!(ran, [names[1].as_str(), names[2].as_str()]);
    assert_eq!(h.rows().await.len(), 2);
}
