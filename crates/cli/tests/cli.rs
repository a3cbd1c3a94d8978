//! The `sluice` binary as a user runs it: `make run`'s figures, a real process killed at the
//! fail point between the catalog commit and the ledger update then redriven, and a real
//! process SIGKILLed in the middle of an execution then redriven.

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
        .rfind(|l| l.contains(" files: ") || l.contains(" file: "))
        .expect("summary line")
}

/// The figures `make run` prints, for the example data.
#[test]
fn make_run_figures_match_the_example_data() {
    let ws = tempfile::tempdir().unwrap();
    let data = repo().join("examples/orders/data");
    let data = data.to_str().unwrap();
    let first = run_ok(&mut sluice(ws.path(), &["ingest", data]));
    // The seven files run at once; each committer waits for the arrivals still on their way,
    // so the five committed files make one snapshot and every row counts once.
    let line = summary_line(&first);
    assert_eq!(
        line,
        "7 files: 5 committed, 2 quarantined, 0 duplicates, 0 filtered; 73 rows committed, 6 rows rejected (4 of them in quarantined files), 1 snapshot added"
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
    // One execution per arrival; the second pass found each by name and input.
    let listed = run_ok(&mut sluice(ws.path(), &["executions", "list"]));
    assert!(listed.contains("7 executions: 7 SUCCEEDED"), "{listed}");
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    assert_eq!(show["total_records"], 73);
    assert_eq!(show["snapshots"].as_array().unwrap().len(), 1);
    assert!(Path::new(show["metadata_location"].as_str().unwrap()).exists());
    let files = run_ok(&mut sluice(
        ws.path(),
        &["files", "--state", "quarantined", "--json"],
    ));
    assert_eq!(files.lines().count(), 2);
    let all = run_ok(&mut sluice(ws.path(), &["files"]));
    assert!(
        all.contains("7 object versions: 5 committed, 2 quarantined"),
        "{all}"
    );
    let shown = run_ok(&mut sluice(
        ws.path(),
        &["quarantine", "show", "orders-2026-03-03-malformed.ndjson"],
    ));
    assert!(
        shown.contains("too_many_invalid_rows") && shown.contains("parse_error"),
        "{shown}"
    );
}

/// Executions as `sluice executions list --json` prints them.
fn executions(workspace: &Path, status: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = vec!["executions", "list", "--json"];
    if let Some(s) = status {
        args.extend(["--status", s]);
    }
    run_ok(&mut sluice(workspace, &args))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Events of one type (and resource) in an execution's history.
fn count_events(workspace: &Path, name: &str, kind: &str, resource: &str) -> usize {
    let history: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        workspace,
        &["executions", "history", name, "--json"],
    )))
    .unwrap();
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == kind)
        .filter(|e| {
            e.as_object()
                .unwrap()
                .values()
                .any(|d| d.get("resource").and_then(|r| r.as_str()) == Some(resource))
        })
        .count()
}

#[test]
fn killed_between_catalog_commit_and_ledger_update_then_redriven_commits_once() {
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

    // The runner died: the execution shows ABORTED, which can be redriven.
    let aborted = executions(ws.path(), Some("ABORTED"));
    assert_eq!(aborted.len(), 1, "{aborted:?}");
    let name = aborted[0]["name"].as_str().unwrap().to_string();
    // The same arrival again runs nothing: it names the execution to redrive.
    let again = sluice(ws.path(), &["ingest", file]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stdout).contains(&format!("sluice redrive {name}")));

    let redriven = run_ok(&mut sluice(ws.path(), &["redrive", &name]));
    assert!(redriven.contains("committed (earlier run)"), "{redriven}");
    let e = &executions(ws.path(), Some("SUCCEEDED"))[0];
    assert_eq!(e["name"], name.as_str());
    assert_eq!(e["redriveCount"], 1);
    // Redrive resumed at Commit: Filter, DetectDrift and Validate ran once, Commit twice.
    for (resource, runs) in [
        ("sluice:filter", 1),
        ("sluice:detect_drift", 1),
        ("sluice:validate", 1),
        ("sluice:commit", 2),
    ] {
        assert_eq!(
            count_events(ws.path(), &name, "TaskScheduled", resource),
            runs,
            "{resource}"
        );
    }
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    assert_eq!(show["snapshots"].as_array().unwrap().len(), 1);
    assert_eq!(show["total_records"], 20);
}

/// A definition whose tasks are shell commands that count their successful runs in files.
const COUNTED: &str = r#"{
  "StartAt": "Extract",
  "States": {
    "Extract": {"Type": "Task", "Resource": "extract", "ResultPath": "$.extract", "Next": "Slow"},
    "Slow": {"Type": "Task", "Resource": "slow", "ResultPath": "$.slow", "Next": "Fan"},
    "Fan": {
      "Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.fan", "MaxConcurrency": 1,
      "ItemProcessor": {"StartAt": "Item", "States": {
        "Item": {"Type": "Task", "Resource": "item", "End": true}}},
      "Next": "Load"
    },
    "Load": {"Type": "Task", "Resource": "load", "ResultPath": "$.load", "End": true}
  }
}"#;

#[test]
fn sigkilled_mid_execution_then_redriven_runs_no_succeeded_task_twice() {
    use std::os::unix::process::ExitStatusExt;
    let ws = tempfile::tempdir().unwrap();
    let dir = ws.path();
    let def = dir.join("counted.asl.json");
    std::fs::write(&def, COUNTED).unwrap();
    let d = dir.to_str().unwrap();
    // Each command appends a line to its counter file when it succeeds. `slow` waits for a
    // file that never comes (the test kills the process meanwhile); `item` fails for item 2
    // and `load` fails until the `fixed` file exists.
    let tasks = [
        format!("extract=cat >/dev/null; echo x >> {d}/extract.count; echo 1"),
        format!("slow=cat >/dev/null; while [ ! -f {d}/go ]; do sleep 0.05; done; echo x >> {d}/slow.count; echo 2"),
        format!(r#"item=n=$(cat); if [ "$n" = 2 ] && [ ! -f {d}/fixed ]; then exit 1; fi; echo x >> {d}/item.count; echo $n"#),
        format!("load=cat >/dev/null; [ -f {d}/fixed ] || {{ echo '{{\"Error\":\"NotYet\",\"Cause\":\"no fix\"}}'; exit 1; }}; echo x >> {d}/load.count; echo 4"),
    ];
    let mut args: Vec<String> = vec![
        "run-asl".into(),
        def.to_str().unwrap().into(),
        "--name".into(),
        "counted-1".into(),
        "--input".into(),
        r#"{"items": [1, 2, 3]}"#.into(),
    ];
    for t in &tasks {
        args.push("--task".into());
        args.push(t.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Its own process group, so the kill takes its task commands too (a dead host).
    let mut child = {
        use std::os::unix::process::CommandExt;
        sluice(dir, &args).process_group(0).spawn().unwrap()
    };
    // Wait until Extract succeeded and Slow is running, then SIGKILL the engine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !dir.join("extract.count").exists() {
        assert!(std::time::Instant::now() < deadline, "extract never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: killpg only sends a signal to the process group the test created.
    let killed = unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0, "killpg: {}", std::io::Error::last_os_error());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
    let count = |name: &str| {
        std::fs::read_to_string(dir.join(format!("{name}.count")))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };

    // The orphan shows ABORTED; the first redrive gets past Slow, fails in the Map.
    std::fs::write(dir.join("go"), "").unwrap();
    let e = &executions(dir, None)[0];
    assert_eq!(e["status"], "ABORTED", "{e}");
    let out = sluice(dir, &["redrive", "counted-1"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(executions(dir, None)[0]["status"], "FAILED");
    // Item 1 succeeded, item 2 failed, so the Map stopped before item 3.
    assert_eq!((count("extract"), count("slow"), count("item")), (1, 1, 1));

    // After the fix, redrive finishes: only items 2 and 3, and Load, run.
    std::fs::write(dir.join("fixed"), "").unwrap();
    let out = run_ok(&mut sluice(dir, &["redrive", "counted-1"]));
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output["fan"], serde_json::json!([1, 2, 3]));
    assert_eq!(output["load"], 4);
    let e = &executions(dir, None)[0];
    assert_eq!(
        (e["status"].as_str(), e["redriveCount"].as_u64()),
        (Some("SUCCEEDED"), Some(2))
    );
    assert_eq!(
        (
            count("extract"),
            count("slow"),
            count("item"),
            count("load")
        ),
        (1, 1, 3, 1),
        "a task that succeeded ran again"
    );
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

#[test]
fn watch_ingests_files_as_they_appear() {
    let dir = tempfile::tempdir().unwrap();
    // The drop folder beside the workspace: one inside it is refused (sluice's own files).
    let (ws, inbox) = (dir.path().join("lake"), dir.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();
    let child = sluice(
        &ws,
        &[
            "watch",
            inbox.to_str().unwrap(),
            "--stop-after",
            "2",
            "--settle-ms",
            "100",
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let data = repo().join("examples/orders/data");
    // A writer that writes under a temporary name, then renames: taken once, whole.
    std::fs::copy(
        data.join("orders-2026-03-01.ndjson"),
        inbox.join("a.ndjson.part"),
    )
    .unwrap();
    std::fs::rename(inbox.join("a.ndjson.part"), inbox.join("a.ndjson")).unwrap();
    std::fs::copy(data.join("orders-2026-03-04.csv"), inbox.join("b.csv")).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("orders/a.ndjson → committed"), "{stdout}");
    assert!(stdout.contains("orders/b.csv → committed"), "{stdout}");
    assert!(!stdout.contains(".part"), "{stdout}");
    assert_eq!(
        summary_line(&stdout),
        "2 files: 2 committed, 0 quarantined, 0 duplicates, 0 filtered; 30 rows committed, 0 rows rejected, 2 snapshots added"
    );
    let e = executions(&ws, Some("SUCCEEDED"));
    assert_eq!(e.len(), 2);
}

#[test]
fn run_asl_reports_every_problem_with_its_json_path() {
    let dir = tempfile::tempdir().unwrap();
    let def = dir.path().join("broken.asl.json");
    // A duplicate key, which a lenient parser would silently resolve.
    std::fs::write(
        &def,
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": false}}}"#,
    )
    .unwrap();
    let out = sluice(dir.path(), &["run-asl", def.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("$.States.A") && err.contains("End"), "{err}");

    // Several problems at once, each with its path.
    std::fs::write(
        &def,
        r#"{"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "Nowhere", "Retry": []},
            "B": {"Type": "Wait", "End": true},
            "C": {"Type": "Task", "Resource": "r", "End": true,
                  "Parameters": {"x.$": "States.Nope($.a)"},
                  "Catch": [{"ErrorEquals": ["States.ALL", "Other"], "Next": "A"}]}
        }}"#,
    )
    .unwrap();
    let out = sluice(dir.path(), &["run-asl", def.to_str().unwrap(), "--check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for fragment in [
        "$.States.A.Next",
        "$.States.A.Retry",
        "$.States.B",
        "$.States.C.Parameters",
        "$.States.C.Catch[0].ErrorEquals",
        "States.Nope",
    ] {
        assert!(err.contains(fragment), "missing {fragment}:\n{err}");
    }
}

#[test]
fn run_asl_binds_tasks_to_commands_and_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let def = dir.path().join("double.asl.json");
    std::fs::write(
        &def,
        r#"{"StartAt": "Double", "States": {
            "Double": {"Type": "Task", "Resource": "${DoubleArn}", "ResultPath": "$.doubled",
                       "Parameters": {"n.$": "$.n"}, "Next": "Done"},
            "Done": {"Type": "Succeed"}}}"#,
    )
    .unwrap();
    let out = run_ok(&mut sluice(
        dir.path(),
        &[
            "run-asl",
            def.to_str().unwrap(),
            "--name",
            "d1",
            "--input",
            r#"{"n": 21}"#,
            "--sub",
            "DoubleArn=arn:aws:lambda:local:0:function:double",
            "--task",
            r#"arn:aws:lambda:local:0:function:double=python3 -c "import json,sys; print(json.load(sys.stdin)['n'] * 2)""#,
        ],
    ));
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(output, serde_json::json!({"n": 21, "doubled": 42}));
    assert_eq!(
        count_events(
            dir.path(),
            "d1",
            "TaskSucceeded",
            "arn:aws:lambda:local:0:function:double"
        ),
        1
    );
    let described: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        dir.path(),
        &["executions", "describe", "d1"],
    )))
    .unwrap();
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(
        described["stateMachineArn"],
        "arn:aws:states:local:000000000000:stateMachine:double_asl"
    );
}

/// A crash at every durable boundary of an ingestion (the real process aborting at a named
/// fail point), then `sluice redrive`: the file lands exactly once, and a duplicate event
/// afterwards adds nothing.
#[test]
fn a_crash_at_every_durable_boundary_then_redrive_lands_the_file_exactly_once() {
    let file = repo().join("examples/orders/data/orders-2026-03-02-some-invalid.ndjson");
    let file = file.to_str().unwrap();
    for point in sluice_steps::failpoint::POINTS {
        let ws = tempfile::tempdir().unwrap();
        let out = sluice(ws.path(), &["ingest", file])
            .env("SLUICE_FAILPOINTS", point)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "{point}: the fail point did not fire"
        );
        let aborted = executions(ws.path(), Some("ABORTED"));
        assert_eq!(aborted.len(), 1, "{point}: {aborted:?}");
        let name = aborted[0]["name"].as_str().unwrap();

        let redriven = run_ok(&mut sluice(ws.path(), &["redrive", name]));
        assert!(redriven.contains("committed"), "{point}: {redriven}");
        let again = run_ok(&mut sluice(ws.path(), &["ingest", file]));
        assert!(again.contains("duplicate (committed)"), "{point}: {again}");

        let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
            ws.path(),
            &["table", "show", "orders", "--json"],
        )))
        .unwrap();
        assert_eq!(show["total_records"], 18, "{point}");
        assert_eq!(show["snapshots"].as_array().unwrap().len(), 1, "{point}");
        let committed = run_ok(&mut sluice(
            ws.path(),
            &["files", "--state", "committed", "--json"],
        ));
        assert_eq!(committed.lines().count(), 1, "{point}");
        let e = &executions(ws.path(), Some("SUCCEEDED"))[0];
        assert_eq!(e["redriveCount"], 1, "{point}");
    }
}

#[test]
fn reconcile_finds_files_whose_events_were_lost() {
    let ws = tempfile::tempdir().unwrap();
    let data = repo().join("examples/orders/data");
    // Two uploads straight into the bucket directory: no event, no ingest.
    let landing = ws.path().join("landing/orders");
    std::fs::create_dir_all(&landing).unwrap();
    for f in ["orders-2026-03-01.ndjson", "orders-2026-03-04.csv"] {
        std::fs::copy(data.join(f), landing.join(f)).unwrap();
    }
    let out = run_ok(&mut sluice(ws.path(), &["reconcile"]));
    assert!(
        out.contains(
            "orders: 2 objects listed, 2 never seen before (ran now), 0 not finished; watermark 20"
        ),
        "{out}"
    );
    assert_eq!(
        summary_line(&out),
        "2 files: 2 committed, 0 quarantined, 0 duplicates, 0 filtered; 30 rows committed, 0 rows rejected, 2 snapshots added"
    );
    let again = run_ok(&mut sluice(ws.path(), &["reconcile", "--table", "orders"]));
    assert!(again.contains("0 never seen before"), "{again}");
    let show = run_ok(&mut sluice(ws.path(), &["table", "show", "orders"]));
    assert!(
        show.contains("watermark  20") && show.contains("2 objects listed, 0 not finished"),
        "{show}"
    );
    // The example's contract compiles to a one-pass decoder.
    assert!(show.contains("decoding   compiled (one pass"), "{show}");
}

#[test]
fn gc_dry_run_lists_what_it_would_remove_and_removes_nothing() {
    let ws = tempfile::tempdir().unwrap();
    let data = repo().join("examples/orders/data");
    run_ok(&mut sluice(ws.path(), &["ingest", data.to_str().unwrap()]));
    // An interrupted write, two hours old, of a batch no ledger record knows.
    let stray = ws
        .path()
        .join("warehouse/shop/orders/data/b-00000000000000000000abcd-00000.parquet");
    std::fs::write(&stray, b"PAR1 interrupted").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stray)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(7200))
        .unwrap();
    let staged_dir = ws.path().join("landing/.sluice/staged/shop.orders");
    let manifests = || {
        std::fs::read_dir(&staged_dir)
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let spent = manifests();

    let out = sluice(ws.path(), &["gc", "--dry-run"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} row in {stdout}"))
            .split('┆')
            .map(|c| {
                c.trim_matches(|ch: char| ch.is_whitespace() || ch == '│')
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(row("orphan data files")[1..], ["1", "16"], "{stdout}");
    assert_eq!(row("spent manifests")[1], spent.to_string(), "{stdout}");
    assert_eq!(row("abandoned data files")[1], "0", "{stdout}");
    assert!(
        stdout.contains(&format!(
            "would remove (orphan data files): {}",
            stray.display()
        )),
        "{stdout}"
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("would remove (spent manifests): .sluice/staged/shop.orders/"))
            .count(),
        spent,
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "orders: dry run, would remove {} files",
            spent + 1
        )),
        "{stdout}"
    );
    assert!(stray.exists(), "a dry run removes nothing");
    assert_eq!(manifests(), spent);

    // The real run removes exactly that; the table reads the same.
    let out = run_ok(&mut sluice(ws.path(), &["gc"]));
    assert!(
        out.contains(&format!("orders: removed {} files", spent + 1)),
        "{out}"
    );
    assert!(!stray.exists());
    assert_eq!(manifests(), 0);
    let show: serde_json::Value = serde_json::from_str(&run_ok(&mut sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    assert_eq!(show["total_records"], 73);

    // A bad age names the accepted forms.
    let bad = sluice(ws.path(), &["gc", "--min-age", "90 minutes"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("30s, 15m, 1h, 2d"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// The seeded fault-injection suite with real processes (the in-process suite is
/// tests/it/chaos.rs): `CHAOS_KILL_SCHEDULES` schedules (default 5, seeds from `CHAOS_SEED`).
/// Each lands the generated files with `sluice ingest`, a few at once, where a child either
/// aborts at a random fail point (`SLUICE_FAILPOINTS`), is SIGKILLed after a random short
/// delay, or runs through; some events are lost (the file is copied into the bucket with no
/// ingest) and some delivered again. A crashed arrival is then redriven or ingested again,
/// at random; recovery redrives whatever is left, runs `sluice reconcile`, and redrives again.
/// The checks of the exactly-once promise then read the workspace back through the lake API.
#[test]
fn chaos_with_real_processes_keeps_every_version_exactly_once() {
    use rand::Rng as _;
    use sluice_tests::chaos;

    let schedules = chaos::env_u64("CHAOS_KILL_SCHEDULES", 5);
    let base = chaos::env_u64("CHAOS_SEED", chaos::DEFAULT_SEED);
    let config = sluice_tests::parse_config(
        &std::fs::read_to_string(repo().join("examples/orders/sluice.toml")).unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for i in 0..schedules {
        let seed = base + i;
        let ws = tempfile::tempdir().unwrap();
        let dir = ws.path();
        let mut rng = chaos::rng(seed);
        let files = chaos::generate(&mut rng, &format!("k{seed}"));
        let mut log: Vec<String> = files.iter().map(|f| format!("file {f}")).collect();
        let src = dir.join("src");
        std::fs::create_dir_all(&src).unwrap();
        // Every file is uploaded into the bucket first (a killed `sluice ingest` must not
        // decide whether the file exists); `sluice ingest` lands the same bytes again, the
        // same object version, and runs its arrival: that is the event.
        let landing = dir.join("landing/orders");
        std::fs::create_dir_all(&landing).unwrap();
        let mut paths = vec![];
        for f in &files {
            let p = src.join(&f.name);
            std::fs::write(&p, &f.bytes).unwrap();
            std::fs::write(landing.join(&f.name), &f.bytes).unwrap();
            paths.push(p);
        }
        // Each event 0–2 times (0: lost).
        let mut deliveries = vec![];
        for n in 0..paths.len() {
            let copies = match rng.random_range(0..10) {
                0 => 0,
                1..=6 => 1,
                _ => 2,
            };
            if copies == 0 {
                log.push(format!("event {n}: lost"));
            }
            deliveries.extend((0..copies).map(|_| n));
        }
        rand::seq::SliceRandom::shuffle(&mut deliveries[..], &mut rng);
        while !deliveries.is_empty() {
            // A group of distinct files at once: several processes commit to one table.
            let mut group: Vec<usize> = vec![];
            let size = rng.random_range(1..=3);
            let mut rest = vec![];
            for n in deliveries.drain(..) {
                if group.len() < size && !group.contains(&n) {
                    group.push(n);
                } else {
                    rest.push(n);
                }
            }
            deliveries = rest;
            let mut children = vec![];
            for &n in &group {
                let file = paths[n].to_str().unwrap();
                let mut cmd = sluice(dir, &["ingest", file]);
                let fate = match rng.random_range(0..3) {
                    0 => {
                        let point = sluice_steps::failpoint::POINTS
                            [rng.random_range(0..sluice_steps::failpoint::POINTS.len())];
                        cmd.env("SLUICE_FAILPOINTS", point);
                        format!("abort at {point}")
                    }
                    1 => format!("SIGKILL after {} ms", rng.random_range(0..400)),
                    _ => "run through".to_string(),
                };
                let child = {
                    use std::os::unix::process::CommandExt;
                    cmd.process_group(0)
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()
                        .unwrap()
                };
                children.push((n, fate, child));
            }
            let started = std::time::Instant::now();
            for (n, fate, mut child) in children {
                if let Some(ms) = fate
                    .strip_prefix("SIGKILL after ")
                    .and_then(|s| s.strip_suffix(" ms"))
                    .and_then(|s| s.parse::<u64>().ok())
                {
                    let at = std::time::Duration::from_millis(ms);
                    std::thread::sleep(at.saturating_sub(started.elapsed()));
                    // SAFETY: killpg only signals the process group this test created.
                    unsafe { libc::killpg(child.id() as libc::pid_t, libc::SIGKILL) };
                }
                let status = child.wait().unwrap();
                log.push(format!("ingest {} ({fate}): {status}", files[n].name));
                // A crashed arrival: redrive it now, or deliver the event again later.
                if !status.success() && rng.random_bool(0.5) {
                    deliveries.push(n);
                    log.push(format!("  event {n} will be delivered again"));
                }
            }
            if rng.random_bool(0.5) {
                redrive_all(dir, &mut log);
            }
        }
        // Recovery: redrive, reconcile (lost events), redrive.
        redrive_all(dir, &mut log);
        run_ok(&mut sluice(dir, &["reconcile"]));
        redrive_all(dir, &mut log);

        let ctx = runtime.block_on(sluice_tests::open_context(dir, config.clone()));
        let mut problems = runtime.block_on(chaos::check_all(&ctx, &config.tables[0], &files));
        for e in executions(dir, None) {
            if e["status"] != "SUCCEEDED" {
                problems.push(format!(
                    "execution {} is {} after recovery",
                    e["name"], e["status"]
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "schedule with seed {seed} broke the exactly-once promise:\n  {}\n\nschedule:\n  {}\n\n\
             replay it: CHAOS_SEED={seed} CHAOS_KILL_SCHEDULES=1 cargo test -p sluice-cli --test cli -- chaos_with_real_processes",
            problems.join("\n  "),
            log.join("\n  ")
        );
    }
    println!("chaos with real processes: {schedules} schedules (seed {base}) kept every version exactly once");
}

/// Redrives every execution a crash left ABORTED or FAILED, a few rounds.
fn redrive_all(workspace: &Path, log: &mut Vec<String>) {
    for _ in 0..5 {
        let stuck: Vec<String> = executions(workspace, None)
            .into_iter()
            .filter(|e| e["status"] == "ABORTED" || e["status"] == "FAILED")
            .filter_map(|e| e["name"].as_str().map(str::to_string))
            .collect();
        if stuck.is_empty() {
            return;
        }
        for name in stuck {
            let out = sluice(workspace, &["redrive", &name]).output().unwrap();
            log.push(format!("redrive {name}: {}", out.status));
        }
    }
}

/// The developer guide's JSONata example (a Task's `Arguments` converted from JSONPath, with
/// the variable it assumes assigned first) gives the result the guide prints.
#[test]
fn run_asl_runs_the_guides_jsonata_example() {
    let dir = tempfile::tempdir().unwrap();
    let def = repo().join("examples/asl/jsonata-arguments.asl.json");
    let out = run_ok(&mut sluice(
        dir.path(),
        &[
            "run-asl",
            def.to_str().unwrap(),
            "--input",
            r#"{"title": "Doctor"}"#,
            "--echo",
        ],
    ));
    let output: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        output,
        serde_json::json!({
            "static": "Hello",
            "title": "Doctor",
            "name": "María",
            "not-evaluated": "$customerName"
        })
    );
}
