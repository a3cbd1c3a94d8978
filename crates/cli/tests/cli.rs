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
    // The five committed files run at once and their commits group: how many snapshots they
    // make depends on timing, from one to five, and every row counts once.
    let line = summary_line(&first);
    let (figures, snapshots) = line.rsplit_once(", ").unwrap();
    assert_eq!(
        figures,
        "7 files: 5 committed, 2 quarantined, 0 duplicates, 0 filtered; 73 rows committed, 2 rows rejected"
    );
    let added: usize = snapshots
        .strip_suffix(" snapshots added")
        .or_else(|| snapshots.strip_suffix(" snapshot added"))
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&added), "{line}");
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
    assert_eq!(show["snapshots"].as_array().unwrap().len(), added);
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
    let ws = tempfile::tempdir().unwrap();
    let inbox = ws.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let child = sluice(
        ws.path(),
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
    let e = executions(ws.path(), Some("SUCCEEDED"));
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
