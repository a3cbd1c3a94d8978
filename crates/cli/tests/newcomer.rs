//! The `sluice` binary as a newcomer meets it: each test is something seen when it was
//! first tried that way (a broken pipe, a sentence printed three times, `--help` examples
//! that stopped working after the first line, ABORTED reported as FAILED, rejected rows only
//! found by hand, totals that did not add up, `timestamp` for a `timestamptz` column, two
//! versions of a key that looked alike, a quarantined execution that said `accepted`).

use std::borrow::BorrowMut;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn config() -> PathBuf {
    repo().join("examples/orders/sluice.toml")
}

fn data(name: &str) -> String {
    repo()
        .join("examples/orders/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `sluice --workspace WS ARGS`, the configuration from SLUICE_CONFIG as `--help` says.
fn sluice(workspace: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.arg("--workspace")
        .arg(workspace)
        .args(args)
        .env("SLUICE_CONFIG", config())
        .env_remove("SLUICE_WORKSPACE")
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG");
    cmd
}

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: impl BorrowMut<Command>) -> Ran {
    let out: Output = cmd.borrow_mut().output().expect("run sluice");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run_ok(mut cmd: impl BorrowMut<Command>) -> String {
    let shown = format!("{:?}", cmd.borrow_mut());
    let r = run(cmd);
    assert_eq!(r.code, Some(0), "{shown}:\n{}\n{}", r.stdout, r.stderr);
    r.stdout
}

/// A workspace with the example's seven files ingested.
fn ingested() -> (tempfile::TempDir, String) {
    let ws = tempfile::tempdir().unwrap();
    let out = run_ok(sluice(ws.path(), &["ingest", &data("")]));
    (ws, out)
}

/// The name of the execution whose key contains `part`.
fn execution_of(ws: &Path, part: &str) -> String {
    run_ok(sluice(ws, &["executions", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["input"].to_string().contains(part))
        .and_then(|e| e["name"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no execution for {part}"))
}

#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let (ws, _) = ingested();
    let name = execution_of(ws.path(), "2026-03-01");
    for args in [
        vec!["executions", "list"],
        vec!["executions", "describe", &name],
        vec!["executions", "history", &name],
        vec!["man"],
    ] {
        // The reader is gone before the first write: the first line already meets a closed
        // pipe, as `| head -2` does once it has its lines.
        let mut child = sluice(ws.path(), &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.trim().is_empty(), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
    }
}

#[test]
fn a_missing_configuration_names_the_ways_to_give_one_and_says_it_once() {
    let ws = tempfile::tempdir().unwrap();
    let mut cmd = sluice(ws.path(), &["table", "show", "orders"]);
    cmd.env_remove("SLUICE_CONFIG").current_dir(ws.path());
    let r = run(&mut cmd);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("--config"), "{}", r.stderr);
    assert!(r.stderr.contains("SLUICE_CONFIG"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
}

#[test]
fn a_missing_contract_is_named_once() {
    let ws = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(config())
        .unwrap()
        .replace("orders.schema.json", "gone.schema.json");
    let cfg = ws.path().join("sluice.toml");
    std::fs::write(&cfg, text).unwrap();
    let mut cmd = sluice(ws.path(), &["table", "show", "orders"]);
    cmd.env("SLUICE_CONFIG", &cfg);
    let r = run(&mut cmd);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("gone.schema.json"), "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("gone.schema.json").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.matches("No such file").count(), 1, "{}", r.stderr);
}

#[test]
fn an_unmatched_replay_speaks_as_the_user_typed() {
    let (ws, _) = ingested();
    let r = run(sluice(ws.path(), &["replay", "nope.ndjson"]));
    assert_eq!(r.code, Some(1));
    assert!(r.stdout.contains("matches nope.ndjson"), "{}", r.stdout);
    assert!(!r.stdout.contains("Id("), "{}", r.stdout);
}

/// Every example `--help` gives works as written, in order, from the repository's root,
/// after its first line (`export SLUICE_CONFIG=…`).
#[test]
fn every_help_example_runs_as_written() {
    let ws = tempfile::tempdir().unwrap();
    let help = run_ok(sluice(ws.path(), &["--help"]));
    let examples: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Examples"))
        .skip(1)
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(
        examples.first().copied(),
        Some("export SLUICE_CONFIG=examples/orders/sluice.toml"),
        "{help}"
    );
    let mut ran = 0;
    for line in &examples[1..] {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "sluice", "{line}");
        // A drop folder to watch and a definition of one's own are the reader's.
        if matches!(words[1], "watch" | "run-asl") {
            continue;
        }
        let mut args: Vec<String> = vec![];
        for w in &words[1..] {
            match w.strip_suffix("/*") {
                Some(dir) => {
                    let mut files: Vec<String> = std::fs::read_dir(repo().join(dir))
                        .unwrap()
                        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
                        .collect();
                    files.sort();
                    args.extend(files);
                }
                None => args.push(w.to_string()),
            }
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.args(&args)
            .current_dir(repo())
            .env("SLUICE_CONFIG", "examples/orders/sluice.toml")
            .env("SLUICE_WORKSPACE", ws.path())
            .env_remove("SLUICE_FAILPOINTS");
        let r = run(&mut cmd);
        if words[1] == "redrive" && words.get(2) != Some(&"--all") {
            // The example's execution exists and succeeded: not redrivable, and said so.
            assert!(
                r.stderr.contains("not redrivable") || r.stderr.contains("NotRedrivable"),
                "{line}: {}",
                r.stderr
            );
        } else {
            assert_eq!(r.code, Some(0), "{line}:\n{}\n{}", r.stdout, r.stderr);
        }
        ran += 1;
    }
    assert!(ran >= 10, "{examples:?}");
}

#[test]
fn an_aborted_execution_is_reported_as_aborted_with_the_listing_that_finds_it() {
    let ws = tempfile::tempdir().unwrap();
    let file = data("orders-2026-03-01.ndjson");
    let crashed = run(
        sluice(ws.path(), &["ingest", &file]).env("SLUICE_FAILPOINTS", "validate.after_staged")
    );
    assert_ne!(crashed.code, Some(0));
    let r = run(sluice(ws.path(), &["ingest", &file]));
    assert_eq!(r.code, Some(2), "{}", r.stdout);
    assert!(r.stdout.contains("ABORTED: States.Runtime"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAILED"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("`sluice executions list --status ABORTED`"),
        "{}",
        r.stdout
    );
    let listed = run_ok(sluice(
        ws.path(),
        &["executions", "list", "--status", "ABORTED"],
    ));
    assert!(listed.contains("1 executions: 1 ABORTED"), "{listed}");
    // And the redrive the report names finishes it.
    let redriven = run(sluice(ws.path(), &["redrive", "--all"]));
    assert_eq!(redriven.code, Some(0), "{}", redriven.stdout);
    assert!(
        redriven.stdout.contains("20 rows committed"),
        "{}",
        redriven.stdout
    );
}

#[test]
fn rejected_rows_of_a_committed_and_of_a_quarantined_file_are_one_command_away() {
    let (ws, _) = ingested();
    let committed = run_ok(sluice(
        ws.path(),
        &["rejects", "orders-2026-03-02-some-invalid.ndjson"],
    ));
    assert!(committed.contains("committed"), "{committed}");
    assert!(committed.contains("rejected rows: 2"), "{committed}");
    assert!(committed.contains("/quantity"), "{committed}");
    assert!(
        committed.contains("\"customer_email\" is a required property"),
        "{committed}"
    );
    assert!(
        committed.contains("1033"),
        "the row as it came: {committed}"
    );

    // `quarantine show` of that committed file says where its rejected rows are.
    let r = run(sluice(
        ws.path(),
        &[
            "quarantine",
            "show",
            "orders-2026-03-02-some-invalid.ndjson",
        ],
    ));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("it is committed with 2 rows rejected"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("sluice rejects"), "{}", r.stderr);

    // A quarantined file by its batch id, as JSON lines.
    let records: Vec<serde_json::Value> = run_ok(sluice(ws.path(), &["files", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let malformed = records
        .iter()
        .find(|r| r["object"]["key"].as_str().unwrap().contains("malformed"))
        .unwrap();
    let batch = malformed["batch_id"].as_str().unwrap();
    let lines = run_ok(sluice(ws.path(), &["rejects", "--batch", batch, "--json"]));
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4, "{lines}");
    assert!(rows.iter().all(|r| r["reason"] == "parse_error"), "{lines}");
    assert!(rows.iter().all(|r| r["batch_id"] == batch), "{lines}");
    // The quarantine record's detail names the same command.
    let q = run_ok(sluice(ws.path(), &["quarantine", "list"]));
    assert!(
        q.contains("sluice rejects orders/orders-2026-03-03-malformed.ndjson"),
        "{q}"
    );

    // A line of the rejects file damaged by hand is named and skipped, never hides the rest.
    let rejects_dir = ws.path().join("landing/.sluice/rejects/shop.orders");
    let committed_batch = records
        .iter()
        .find(|r| {
            r["object"]["key"]
                .as_str()
                .unwrap()
                .contains("some-invalid")
        })
        .unwrap()["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let file = rejects_dir.join(format!("{committed_batch}.ndjson"));
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"line\": 99, cut short\n");
    std::fs::write(&file, text).unwrap();
    let damaged = run(sluice(
        ws.path(),
        &["rejects", "orders-2026-03-02-some-invalid.ndjson"],
    ));
    assert_eq!(damaged.code, Some(0), "{}", damaged.stderr);
    assert!(
        damaged.stdout.contains("rejected rows: 2"),
        "{}",
        damaged.stdout
    );
    assert!(
        damaged.stderr.contains("line 3: not a rejected row"),
        "{}",
        damaged.stderr
    );

    let none = run(sluice(ws.path(), &["rejects", "never-seen.ndjson"]));
    assert_eq!(none.code, Some(1));
    assert!(
        none.stderr
            .contains("no file \"never-seen.ndjson\" in the ledger"),
        "{}",
        none.stderr
    );
}

/// A rejected line of an object the stream receiver wrote names the record behind it: its
/// shard and sequence number, in the table and in `--json`'s `stream`.
#[test]
fn a_rejected_line_of_a_stream_object_names_its_shard_and_sequence_number() {
    use sluice_steps::stream::{receive_batch, SourceKind, StreamRecord};

    let ws = tempfile::tempdir().unwrap();
    let shard = "shardId-000000000007";
    let position = |n: u64| format!("4959{n:030}");
    let mut bad = sluice_tests::order(2);
    bad["quantity"] = serde_json::json!("two");
    let records = [sluice_tests::order(1), bad, sluice_tests::order(3)]
        .into_iter()
        .zip(1..)
        .map(|(row, n)| StreamRecord {
            kind: SourceKind::Kinesis,
            source: "orders-stream".into(),
            shard: shard.into(),
            position: position(n),
            data: row.to_string().into(),
            key: Some(format!("k{n}")),
            arrived_ms: None,
        })
        .collect();
    // The object and its index, written into the workspace's landing bucket as the stream
    // function writes them.
    let config = sluice_core::config::Config::load(&config()).unwrap();
    let store = sluice_store::LocalStore::new(ws.path().join("landing"), "landing").unwrap();
    let report = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(receive_batch(
            &store,
            &config,
            records,
            "2026-12-07T00:00:00Z",
        ))
        .unwrap();
    assert_eq!(report.written.len(), 1, "{report:?}");
    let key = report.written[0].key.clone();
    // No event reached the engine: reconcile finds the object and runs it.
    run_ok(sluice(ws.path(), &["reconcile"]));

    let table = run_ok(sluice(ws.path(), &["rejects", &key]));
    assert!(table.contains("committed"), "{table}");
    assert!(table.contains("rejected rows: 1"), "{table}");
    let named = format!("2 (shard {shard}, sequence {})", position(2));
    assert!(table.contains(&named), "{named}:\n{table}");

    let lines = run_ok(sluice(ws.path(), &["rejects", "--json", &key]));
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{lines}");
    assert_eq!(rows[0]["line"], 2, "{lines}");
    assert_eq!(
        rows[0]["stream"],
        serde_json::json!({
            "kind": "kinesis",
            "source": "orders-stream",
            "shard": shard,
            "position": position(2),
            "partition_key": "k2",
        }),
        "{lines}"
    );
}

/// Sums a column of the ingest table (`┆`-separated cells).
fn column_sum(table: &str, column: usize) -> u64 {
    table
        .lines()
        .filter(|l| l.starts_with('│'))
        .skip(1)
        .filter_map(|l| {
            l.trim_matches('│')
                .split('┆')
                .nth(column)
                .and_then(|c| c.trim().parse::<u64>().ok())
        })
        .sum()
}

#[test]
fn the_summary_adds_up_the_table_above_it() {
    let (_ws, out) = ingested();
    let rows = column_sum(&out, 2);
    let rejected = column_sum(&out, 3);
    assert_eq!((rows, rejected), (73, 6), "{out}");
    assert!(
        out.contains(&format!(
            "{rows} rows committed, {rejected} rows rejected ("
        )),
        "{out}"
    );
}

#[test]
fn table_show_spells_types_as_the_iceberg_metadata_does() {
    let (ws, _) = ingested();
    let shown = run_ok(sluice(ws.path(), &["table", "show", "orders"]));
    let line = shown
        .lines()
        .find(|l| l.trim_start().starts_with("ordered_at"))
        .unwrap();
    assert!(line.contains("timestamptz"), "{line}");
    // What the metadata file itself says.
    let json: serde_json::Value = serde_json::from_str(&run_ok(sluice(
        ws.path(),
        &["table", "show", "orders", "--json"],
    )))
    .unwrap();
    let location = json["metadata_location"].as_str().unwrap();
    let path = location.strip_prefix("file://").unwrap_or(location);
    let metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let schema = metadata["schemas"].as_array().unwrap().last().unwrap();
    let field = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "ordered_at")
        .unwrap();
    assert_eq!(field["type"], "timestamptz");
    assert!(json.to_string().contains("\"timestamptz\""), "{json}");
}

#[test]
fn files_tells_two_versions_of_a_key_apart_and_lists_claimed_ones() {
    let ws = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("orders-x.ndjson");
    let line = |id: u64| {
        format!(
            "{{\"order_id\": {id}, \"ordered_at\": \"2026-03-01T10:00:00Z\", \"customer_email\": \"a@example.com\", \"status\": \"paid\", \"quantity\": 1, \"amount\": 1.5}}\n"
        )
    };
    std::fs::write(&file, line(1)).unwrap();
    run_ok(sluice(ws.path(), &["ingest", file.to_str().unwrap()]));
    std::fs::write(&file, line(2)).unwrap();
    run_ok(sluice(ws.path(), &["ingest", file.to_str().unwrap()]));
    let shown = run_ok(sluice(ws.path(), &["files"]));
    assert!(
        shown.contains("version") && shown.contains("etag"),
        "{shown}"
    );
    let rows: Vec<&str> = shown
        .lines()
        .filter(|l| l.contains("orders-x.ndjson"))
        .collect();
    assert_eq!(rows.len(), 2, "{shown}");
    let etag = |row: &str| row.split('┆').nth(2).unwrap().trim().to_string();
    assert_ne!(etag(rows[0]), etag(rows[1]), "{shown}");
    assert!(!etag(rows[0]).is_empty());

    // A version claimed by an execution that stopped: listed under its table.
    let other = src.path().join("orders-y.ndjson");
    std::fs::write(&other, line(3)).unwrap();
    let crashed = run(sluice(ws.path(), &["ingest", other.to_str().unwrap()])
        .env("SLUICE_FAILPOINTS", "filter.after_claim"));
    assert_ne!(crashed.code, Some(0));
    let claimed = run_ok(sluice(
        ws.path(),
        &["files", "--table", "orders", "--state", "claimed"],
    ));
    assert!(claimed.contains("orders-y.ndjson"), "{claimed}");
    assert!(
        claimed.contains("1 object versions: 1 claimed"),
        "{claimed}"
    );
}

#[test]
fn describe_of_a_quarantined_execution_leads_with_its_outcome() {
    let (ws, _) = ingested();
    let name = execution_of(ws.path(), "quantity-as-text");
    let text = run_ok(sluice(ws.path(), &["executions", "describe", &name]));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["status"], "SUCCEEDED");
    assert_eq!(v["outcome"]["outcome"], "quarantined", "{text}");
    assert_eq!(v["outcome"]["reason"], "drift_blocked", "{text}");
    // Right after the status, before the state document, whose own `status` is a step's.
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    let at = |k: &str| keys.iter().position(|x| *x == k).unwrap();
    assert_eq!(at("outcome"), at("status") + 1, "{keys:?}");
    assert!(at("outcome") < at("output"), "{keys:?}");
}

#[test]
fn completions_and_the_manual_come_from_the_same_definition_as_help() {
    let ws = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = run_ok(sluice(ws.path(), &["completions", shell]));
        assert!(script.contains("rejects"), "{shell}: {script}");
        assert!(script.contains("quarantine"), "{shell}");
    }
    let page = run_ok(sluice(ws.path(), &["man"]));
    assert!(
        page.starts_with(".ie") || page.contains(".TH sluice"),
        "{page}"
    );
    let dir = ws.path().join("man");
    run_ok(sluice(ws.path(), &["man", "--out", dir.to_str().unwrap()]));
    for page in [
        "sluice.1",
        "sluice-ingest.1",
        "sluice-rejects.1",
        "sluice-quarantine-show.1",
    ] {
        assert!(dir.join(page).is_file(), "{page}");
    }
}

#[test]
fn an_unreachable_aws_endpoint_is_one_line_of_words() {
    let ws = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let r = run(sluice(
        ws.path(),
        &[
            "executions",
            "--aws",
            "--state-machine-arn",
            "arn:aws:states:us-east-1:000000000000:stateMachine:sluice",
            "list",
        ],
    )
    .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    .env("AWS_ACCESS_KEY_ID", "test")
    .env("AWS_SECRET_ACCESS_KEY", "test")
    .env("AWS_REGION", "us-east-1")
    .env("AWS_MAX_ATTEMPTS", "1"));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("dispatch failure"), "{}", r.stderr);
    for debug in ["DispatchFailure(", "ConnectorError {", "source:"] {
        assert!(!r.stderr.contains(debug), "{}", r.stderr);
    }
}

#[test]
fn replay_print_input_gives_a_console_start_what_a_replay_would_start() {
    let (ws, _) = ingested();
    let printed = run_ok(sluice(
        ws.path(),
        &["replay", "--reason", "drift_blocked", "--print-input"],
    ));
    let lines: Vec<serde_json::Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{printed}");
    let name = lines[0]["name"].as_str().unwrap().to_string();
    assert_eq!(lines[0]["input"]["status"], "replay");
    assert!(lines[0]["input"]["object"]["key"]
        .as_str()
        .unwrap()
        .contains("quantity-as-text"));
    // Nothing was started; the replay that follows runs under that very name.
    let before = run_ok(sluice(ws.path(), &["executions", "list", "--json"]));
    assert!(!before.contains(&name), "{before}");
    run_ok(sluice(ws.path(), &["replay", "--reason", "drift_blocked"]));
    let after = run_ok(sluice(ws.path(), &["executions", "list", "--json"]));
    assert!(after.contains(&name), "{after}");
}
