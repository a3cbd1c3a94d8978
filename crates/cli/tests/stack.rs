//! `sluice --aws --stack NAME …` against the deployed stack on a local AWS emulator
//! (ministack): the stack as `sluice_aws::emulator::Stack` deploys it (the Lambda binaries
//! cargo built beside this test: `cargo build -p sluice-lambdas` first when running only
//! this package's tests), its values registered as a CloudFormation stack's outputs named as
//! the CDK app names them, so the command resolves them as it does on AWS.
//!
//! The operator's commands show on the stack what they show on a workspace for the same
//! files, and `gc` removes what no snapshot needs there as it does locally; a foreign
//! message in the dead-letter queue is kept with its reason; an archive
//! replay is started from the table's archive through the table's rule; a stack that does
//! not exist is one line and exit code 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_aws::emulator::{Binaries, Ministack, Stack};
use sluice_store::ObjectStore;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> PathBuf {
    repo().join("examples/orders/sluice.toml")
}

/// `sluice ARGS` with `env` (the emulator's endpoint and credentials), and none of the
/// variables that would name a stack's resources behind the test's back.
fn sluice(env: &[(String, String)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sluice"));
    c.args(args)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE");
    for var in [
        "SLUICE_STACK",
        "SLUICE_STATE_MACHINE_ARN",
        "SLUICE_BUCKET",
        "SLUICE_WAREHOUSE",
        "SLUICE_DLQ_URL",
        "SLUICE_RECONCILE_FUNCTION",
        "SLUICE_CONFIG",
        "SLUICE_WORKSPACE",
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().map(|(k, v)| (k, v)));
    c.output().unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The example's files, sorted.
fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("examples/orders/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The orders stack deployed, its outputs registered; returns it with its stack name.
async fn deploy(ministack: &Ministack, extra: &[(&str, &str)]) -> (Stack, String) {
    let binaries = Binaries::beside_this_test().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(ministack, &config(), &binaries)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let name = stack
        .register_outputs(extra)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (stack, name)
}

/// The orders example deployed with its sluice.toml as `edit` makes it, outputs registered;
/// `namespace` replaces `shop`, since the emulator's Glue catalog is shared by the stacks of
/// the tests running beside this one. Returns the stack, its name, and the directory holding
/// the config and contract the commands must name (`--config`).
async fn deploy_edited(
    ministack: &Ministack,
    namespace: &str,
    edit: impl Fn(String) -> String,
) -> (Stack, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let example = repo().join("examples/orders");
    std::fs::copy(
        example.join("orders.schema.json"),
        dir.path().join("orders.schema.json"),
    )
    .unwrap();
    let text = std::fs::read_to_string(example.join("sluice.toml")).unwrap();
    let edited = edit(text).replace(
        "namespace = \"shop\"",
        &format!("namespace = \"{namespace}\""),
    );
    assert!(
        edited.contains(namespace),
        "the example names its namespace"
    );
    let config = dir.path().join("sluice.toml");
    std::fs::write(&config, edited).unwrap();
    let binaries = Binaries::beside_this_test().unwrap_or_else(|e| panic!("{e}"));
    let stack = Stack::deploy(ministack, &config, &binaries)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let name = stack
        .register_outputs(&[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (stack, name, dir)
}

/// `sluice --aws --stack NAME --config CONFIG ARGS` against `stack`, its stdout (it must
/// succeed).
fn aws_of<'a>(stack: &Stack, name: &'a str, config: PathBuf) -> impl Fn(&[&str]) -> String + 'a {
    let env = stack.client_env();
    move |args: &[&str]| {
        let mut all = vec![
            "--aws",
            "--stack",
            name,
            "--config",
            config.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        stdout(&sluice(&env, &all))
    }
}

/// A `quarantine list` table, word by word, with its `at` column (when each file was
/// judged) blanked.
fn without_times(table: &str) -> Vec<String> {
    let judged_at = |w: &str| w.len() >= 20 && w.as_bytes()[4] == b'-' && w.as_bytes()[10] == b'T';
    table
        .lines()
        .map(|l| {
            l.split_whitespace()
                .map(|w| if judged_at(w) { "<at>" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_shows_what_the_workspace_shows_for_the_same_files() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let (stack, name) = deploy(ministack, &[]).await;
    let files = example_files();
    for file in &files {
        let key = format!("orders/{}", file.file_name().unwrap().to_string_lossy());
        stack.put(&key, std::fs::read(file).unwrap()).await.unwrap();
    }
    stack
        .wait_for_executions(ministack, files.len(), Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The same files ingested into a workspace.
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("lake");
    let config = config();
    let local = |args: &[&str]| {
        let mut all = vec![
            "--workspace",
            workspace.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        sluice(&[], &all)
    };
    let data = repo().join("examples/orders/data");
    let ingested = local(&["ingest", data.to_str().unwrap()]);
    assert!(ingested.status.code().is_some(), "{ingested:?}");
    let env = stack.client_env();
    let aws = |args: &[&str]| {
        let mut all = vec![
            "--aws",
            "--stack",
            name.as_str(),
            "--config",
            config.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        sluice(&env, &all)
    };

    // quarantine list: the same lines, but for when each file was judged.
    let here = stdout(&local(&["quarantine", "list"]));
    let there = stdout(&aws(&["quarantine", "list"]));
    assert_eq!(
        without_times(&there),
        without_times(&here),
        "{there}\n{here}"
    );
    assert!(there.contains("2 files in quarantine"), "{there}");
    let fields = |lines: &str| -> Vec<Value> {
        lines
            .lines()
            .map(|l| {
                let r: Value = serde_json::from_str(l).unwrap();
                json!([r["object"]["key"], r["table"], r["reason"], r["detail"]])
            })
            .collect()
    };
    assert_eq!(
        fields(&stdout(&aws(&["quarantine", "list", "--json"]))),
        fields(&stdout(&local(&["quarantine", "list", "--json"])))
    );

    // quarantine show: the rejected rows below the record are the same (kept under a batch
    // id of each side's own object identity).
    let rows = |shown: &str| -> String {
        let at = shown.find('┌').unwrap_or(shown.len());
        shown[at..].to_string()
    };
    let file = "orders-2026-03-03-malformed.ndjson";
    let here = stdout(&local(&["quarantine", "show", file]));
    let there = stdout(&aws(&["quarantine", "show", file]));
    assert_eq!(rows(&there), rows(&here));
    assert!(there.contains("too_many_invalid_rows"), "{there}");
    assert!(there.contains("rejected rows: 4, kept at"), "{there}");

    // table show: the same rows in Glue as in the local catalog.
    let rows_line = |shown: &str| -> String {
        shown
            .lines()
            .find(|l| l.starts_with("rows "))
            .unwrap_or_default()
            .to_string()
    };
    let there = stdout(&aws(&["table", "show", "orders"]));
    assert_eq!(
        rows_line(&there),
        rows_line(&stdout(&local(&["table", "show", "orders"])))
    );
    assert_eq!(rows_line(&there), "rows       73");

    // files: every version, each in its state, as the workspace has them.
    let states = |lines: &str| -> Vec<(String, String)> {
        let mut v: Vec<_> = lines
            .lines()
            .map(|l| {
                let r: Value = serde_json::from_str(l).unwrap();
                (
                    r["object"]["key"].as_str().unwrap().to_string(),
                    r["state"]["state"]
                        .as_str()
                        .or(r["state"].as_str())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let there = states(&stdout(&aws(&["files", "--json"])));
    assert_eq!(there.len(), files.len(), "{there:?}");
    assert_eq!(there, states(&stdout(&local(&["files", "--json"]))));
    let listed = stdout(&aws(&["files"]));
    assert!(listed.contains("7 object versions"), "{listed}");

    // replay and executions find the bucket and the state machine in the stack's outputs.
    let planned = stdout(&aws(&["replay", "--print-input", file]));
    let planned: Value = serde_json::from_str(planned.lines().next().unwrap()).unwrap();
    assert_eq!(
        planned["input"]["object"]["key"],
        format!("orders/{file}"),
        "{planned}"
    );
    let executions = stdout(&aws(&["executions", "list", "--json"]));
    assert_eq!(executions.lines().count(), files.len(), "{executions}");

    // A deleted object: its Object Deleted event runs the definition, which records the
    // removal in the ledger.
    let removed = "orders/orders-2026-03-01.ndjson";
    sluice_aws::s3_client(&stack.sdk)
        .delete_object()
        .bucket(&stack.bucket)
        .key(removed)
        .send()
        .await
        .unwrap();
    stack
        .wait_for_executions(ministack, files.len() + 1, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed = stdout(&aws(&["files"]));
    assert!(listed.contains(removed), "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.contains(removed) && l.contains("removed")),
        "the removal is shown: {listed}"
    );

    // reconcile --aws: the stack's function lists the prefix and records the watermark,
    // which table show --aws prints.
    let reconciled = stdout(&aws(&["reconcile", "--table", "orders"]));
    assert!(reconciled.contains("orders: "), "{reconciled}");
    assert!(reconciled.contains("objects listed"), "{reconciled}");
    assert!(reconciled.contains("watermark"), "{reconciled}");
    let json = stdout(&aws(&["reconcile", "--table", "orders", "--json"]));
    let answer: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(answer["table"], "orders");
    assert!(
        answer["watermark"]["objects"].as_u64().unwrap() >= 6,
        "{answer}"
    );
    let shown = stdout(&aws(&["table", "show", "orders"]));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("watermark") && l.contains("objects listed")),
        "{shown}"
    );

    // gc --aws: on the same deployment, what no snapshot needs goes, and nothing else.
    gc_removes_what_no_snapshot_needs(&stack, &aws).await;
}

/// `sluice gc --aws` on a stack whose files were ingested: an orphan Parquet object and an
/// abandoned staged batch (manifest and data file, no ledger record, in no snapshot), planted
/// in the warehouse and the control prefix, are kept while young, listed by a dry run, then
/// removed; every file a snapshot references stays and the table reads the same rows.
async fn gc_removes_what_no_snapshot_needs(stack: &Stack, aws: &dyn Fn(&[&str]) -> Output) {
    let cfg = &stack.config.tables[0];
    let lake = sluice_aws::open_glue_lake(&stack.sdk, &stack.warehouse)
        .await
        .unwrap();
    let table = lake.load(cfg).await.unwrap().expect("the table exists");
    let data = sluice_lake::files::data_location(&table).unwrap();
    let referenced = sluice_lake::files::referenced_files(&table).await.unwrap();
    assert!(!referenced.is_empty());
    let store = sluice_aws::S3Store::from_conf(&stack.sdk, &stack.bucket);
    let key_of = |path: &str| {
        let prefix = format!("s3://{}/", stack.bucket);
        path.strip_prefix(&prefix).unwrap_or(path).to_string()
    };
    let exists = |path: String| {
        let store = &store;
        let key = key_of(&path);
        async move { store.head(&key).await.unwrap().is_some() }
    };

    // What an interrupted write leaves, and a batch that will never commit (no ledger
    // record, in no snapshot).
    let orphan = format!("{data}/ordered_at_day=2026-03-01/00000-0-interrupted.parquet");
    let batch = sluice_core::BatchId("b-gc-abandoned".into());
    let abandoned = format!("{data}/ordered_at_day=2026-03-01/{batch}-00000.parquet");
    let manifest = sluice_core::layout::manifest(cfg, &batch);
    let staged = sluice_lake::StagedBatch {
        batch_id: batch.clone(),
        object: None,
        schema_id: 0,
        partition_spec_id: 0,
        rows: 1,
        bytes: 20,
        paths: vec![abandoned.clone()],
        data_files: vec![],
    };
    for path in [&orphan, &abandoned] {
        stack
            .put(&key_of(path), b"PAR1\x15\x00\x15interrupted".to_vec())
            .await
            .unwrap();
    }
    stack
        .put(&manifest, serde_json::to_vec(&staged).unwrap())
        .await
        .unwrap();
    let paths = |report: &Value, category: &str| -> Vec<String> {
        let mut v: Vec<String> = report[category]["files"]
            .as_array()
            .unwrap_or_else(|| panic!("no {category} in {report}"))
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // What gc removes of them, and what it should: each in its category.
    let removed = |report: &Value| {
        ["orphan_files", "abandoned_files", "abandoned_manifests"].map(|c| paths(report, c))
    };
    let to_remove = [
        vec![orphan.clone()],
        vec![abandoned.clone()],
        vec![manifest.clone()],
    ];
    let gc = |args: &[&str]| -> Value {
        let mut all = vec!["gc", "--table", "orders", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(stdout(&aws(&all)).trim()).unwrap()
    };

    // Young (the default --min-age of an hour): kept, and said so.
    let young = gc(&[]);
    let mut planted = vec![orphan.clone(), abandoned.clone(), manifest.clone()];
    planted.sort();
    assert_eq!(paths(&young, "too_young"), planted, "{young}");
    assert_eq!(paths(&young, "orphan_files"), Vec::<String>::new());
    for path in [&orphan, &abandoned] {
        assert!(exists(path.clone()).await, "{path} kept");
    }

    // A dry run lists them and removes nothing.
    let dry = gc(&["--dry-run", "--min-age", "0s"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(removed(&dry), to_remove, "{dry}");
    for path in [&orphan, &abandoned] {
        assert!(exists(path.clone()).await, "{path} is still there");
    }
    assert!(store.head(&manifest).await.unwrap().is_some());

    // The run removes them, and only them.
    let run = gc(&["--min-age", "0s"]);
    assert_eq!(removed(&run), to_remove, "{run}");
    for path in [&orphan, &abandoned] {
        assert!(!exists(path.clone()).await, "{path} removed");
    }
    assert!(store.head(&manifest).await.unwrap().is_none());
    for path in &referenced {
        assert!(exists(path.clone()).await, "referenced {path} kept");
    }
    let again = gc(&["--min-age", "0s"]);
    let nothing: [Vec<String>; 3] = Default::default();
    assert_eq!(removed(&again), nothing, "{again}");
    assert_eq!(paths(&again, "spent_manifests"), Vec::<String>::new());
    let shown = stdout(&aws(&["table", "show", "orders"]));
    assert!(shown.lines().any(|l| l == "rows       73"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_dlq_message_is_kept_with_its_reason_and_an_arrival_is_started() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let sdk = ministack.sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("stack-dlq-{}", std::process::id()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let (stack, name) = deploy(ministack, &[("DeadLetterQueueUrl", &queue)]).await;
    let arrival = json!({
        "version": "0", "id": "dlq-arrival-1", "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": stack.bucket},
                   "object": {"key": "orders/lost.ndjson", "size": 1, "etag": "e"}}
    });
    let foreign = json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
                         "detail": {"instance-id": "i-1"}});
    for body in [arrival.to_string(), foreign.to_string()] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    let env = stack.client_env();

    // dlq list peeks: both are shown, one to start, one to keep, and none is consumed.
    let listed = stdout(&sluice(&env, &["--stack", &name, "dlq", "list"]));
    assert!(listed.contains("1 arrival(s)"), "{listed}");
    assert!(listed.contains("keep: not an arrival"), "{listed}");
    assert!(listed.contains("aws.ec2"), "{listed}");

    let out = sluice(&env, &["--stack", &name, "dlq", "replay"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "a message was kept: {said}");
    assert!(
        said.contains("1 started, 0 already started, 1 kept"),
        "{said}"
    );
    assert!(said.contains("kept: not an arrival"), "{said}");
    assert!(said.contains("aws.ec2"), "{said}");

    // The arrival started on the stack's state machine under its dlq- name.
    let executions = stack
        .wait_for_executions(ministack, 1, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        executions
            .iter()
            .any(|e| e.name.starts_with("dlq-lost_ndjson-")),
        "{executions:?}"
    );

    // The foreign message is still in the queue, the arrival's is gone.
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let count = |name: &str| -> u64 {
        attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::from(name)))
            .map(|v| v.parse().unwrap())
            .unwrap_or(0)
    };
    assert_eq!(
        count("ApproximateNumberOfMessages") + count("ApproximateNumberOfMessagesNotVisible"),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_replay_starts_from_the_tables_archive_through_its_rule() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let (stack, name) = deploy(ministack, &[]).await;
    let events = aws_sdk_eventbridge::Client::new(&stack.sdk);
    let bus = "arn:aws:events:us-east-1:000000000000:event-bus/default";
    // The CDK app's archive of the table (a generated name), and another stack's.
    let pattern = |bucket: &str| {
        json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created", "Object Deleted"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "orders/"}]}}
        })
        .to_string()
    };
    for (archive, bucket) in [
        (format!("{name}-other"), "another-bucket".to_string()),
        (
            format!("{name}-OrdersArrivalsArchive1A2B"),
            stack.bucket.clone(),
        ),
    ] {
        events
            .create_archive()
            .archive_name(archive)
            .event_source_arn(bus)
            .event_pattern(pattern(&bucket))
            .send()
            .await
            .unwrap();
    }
    let env = stack.client_env();
    let out = sluice(
        &env,
        &[
            "--stack",
            &name,
            "--config",
            config().to_str().unwrap(),
            "archive",
            "replay",
            "--table",
            "orders",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02T00:00:00Z",
            "--wait",
        ],
    );
    let said = stdout(&out);
    let replay = "orders-20260301T000000Z-20260302T000000Z";
    assert!(
        said.contains(&format!("replay {replay} is COMPLETED")),
        "{said}"
    );

    // The request: the table's archive, the window, the default bus, only the table's rule.
    // (The emulator archives no S3 event and re-delivers to every rule, so what reaches the
    // state machine is not observable here.)
    let d = events
        .describe_replay()
        .replay_name(replay)
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.event_source_arn().unwrap(),
        format!("arn:aws:events:us-east-1:000000000000:archive/{name}-OrdersArrivalsArchive1A2B")
    );
    assert_eq!(d.event_start_time().unwrap().secs(), 1_772_323_200);
    assert_eq!(d.event_end_time().unwrap().secs(), 1_772_409_600);
    let destination = d.destination().unwrap();
    assert_eq!(destination.arn(), bus);
    assert_eq!(
        destination.filter_arns(),
        [format!(
            "arn:aws:events:us-east-1:000000000000:rule/{name}-orders"
        )]
    );

    // The same window again is refused as done, and says how to replay it anyway.
    let again = stdout(&sluice(
        &env,
        &[
            "--stack",
            &name,
            "--config",
            config().to_str().unwrap(),
            "archive",
            "replay",
            "--table",
            "orders",
            "--since",
            "2026-03-01",
            "--until",
            "2026-03-02T00:00:00Z",
        ],
    ));
    assert!(again.contains("exists already"), "{again}");
}

#[test]
fn a_stack_that_does_not_exist_is_one_line_and_exit_1() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", ministack.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for args in [
        &["--aws", "--stack", "no-such-stack", "quarantine", "list"][..],
        &["--aws", "--stack", "no-such-stack", "executions", "list"][..],
        &["--stack", "no-such-stack", "dlq", "list"][..],
    ] {
        let mut all = vec!["--config", "examples/orders/sluice.toml"];
        all.extend_from_slice(args);
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .current_dir(repo())
            .args(&all)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("SLUICE_STACK")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {said}");
        assert_eq!(said.lines().count(), 1, "{args:?}: {said}");
        assert!(
            said.contains("no stack \"no-such-stack\" in region us-east-1"),
            "{args:?}: {said}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn missing_credentials_are_one_line_that_says_how_to_give_them() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--stack", "sluice-prod", "dlq", "list"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Nothing listens there: were credentials found, the call would fail otherwise.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("no AWS credentials found"), "{said}");
    assert!(said.contains("AWS_PROFILE"), "{said}");
}

#[test]
fn local_only_commands_refuse_aws() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["--aws", "ingest", "x.ndjson"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("local workspace only"), "{said}");
}

/// `new_version = "replace"` and `on_delete = "delete"` on the deployed stack: an overwritten
/// object's rows take the old ones' place, and deleting it (an `Object Deleted` event through
/// EventBridge, the definition's Retract state, the commit function) takes them out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwritten_then_deleted_object_replaces_then_leaves_its_rows_on_the_stack() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let (stack, name, dir) = deploy_edited(ministack, "shop_versions", |text| {
        text.replace(
            "max_invalid_ratio = 0.2",
            "max_invalid_ratio = 0.2\nnew_version = \"replace\"\non_delete = \"delete\"",
        ) + "\n[ledger]\nlease_seconds = 5\n"
    })
    .await;
    let example = repo().join("examples/orders");
    let aws = aws_of(&stack, &name, dir.path().join("sluice.toml"));
    let total = || -> u64 {
        let v: Value = serde_json::from_str(&aws(&["table", "show", "orders", "--json"])).unwrap();
        v["total_records"].as_u64().unwrap()
    };
    let lines: Vec<String> = std::fs::read_to_string(example.join("data/orders-2026-03-01.ndjson"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let key = "orders/changing.ndjson";
    stack
        .put(key, (lines[..5].join("\n") + "\n").into_bytes())
        .await
        .unwrap();
    stack
        .wait_for_executions(ministack, 1, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(total(), 5);
    stack
        .put(key, (lines[5..8].join("\n") + "\n").into_bytes())
        .await
        .unwrap();
    stack
        .wait_for_executions(ministack, 2, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(total(), 3, "the second version's rows replaced the first's");
    stack.delete(key).await.unwrap();
    let executions = stack
        .wait_for_executions(ministack, 3, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        executions
            .iter()
            .all(|e| e.status == aws_sdk_sfn::types::ExecutionStatus::Succeeded),
        "{executions:?}"
    );
    assert_eq!(total(), 0, "the removal took the rows out");
    let retracted = aws(&["files", "--state", "retracted", "--json"]);
    assert_eq!(retracted.lines().count(), 2, "{retracted}");

    // The maintain function (the schedule's target): the snapshots older than the lease
    // expire, and gc removes the data files only they read: both versions' files.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let out = aws_sdk_lambda::Client::new(&stack.sdk)
        .invoke()
        .function_name(&stack.functions["maintain"])
        .payload(aws_sdk_lambda::primitives::Blob::new(
            r#"{"table": "orders", "older_than": "5s", "min_age": "0s"}"#,
        ))
        .send()
        .await
        .unwrap();
    let body =
        String::from_utf8_lossy(out.payload().map(|b| b.as_ref()).unwrap_or(b"")).to_string();
    assert!(out.function_error().is_none(), "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["table"], "orders", "{report}");
    assert!(
        report["expire"]["expired"].as_array().unwrap().len() >= 2,
        "{report}"
    );
    assert_eq!(
        report["gc"]["orphan_files"]["files"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{report}"
    );
    assert!(report["compact"]["groups"].is_array(), "{report}");
    assert_eq!(total(), 0);
    // The same compaction from a laptop: nothing small is left to compact.
    let compacted = aws(&["compact", "--json"]);
    assert!(compacted.contains("\"table\":\"orders\""), "{compacted}");
}

/// Drift approval on the stack: a governed table's file with a new field is quarantined by
/// the deployed functions, `drift list --aws` names the change, `drift approve --aws` records
/// the decision in the stack's bucket and starts the replay on Step Functions, where
/// DetectDrift and Validate read the approval: the table takes the column and the rows land
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_approved_from_a_laptop_lands_the_blocked_file_on_the_stack() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let (stack, name, dir) = deploy_edited(ministack, "shop_drift", |text| {
        let governed = text.replace("additive = \"evolve\" ", "additive = \"quarantine\"");
        assert!(governed.contains("additive = \"quarantine\""));
        governed
    })
    .await;
    let example = repo().join("examples/orders");
    let aws = aws_of(&stack, &name, dir.path().join("sluice.toml"));
    let rows: Vec<String> = std::fs::read_to_string(example.join("data/orders-2026-03-01.ndjson"))
        .unwrap()
        .lines()
        .take(4)
        .map(|l| {
            let mut row: Value = serde_json::from_str(l).unwrap();
            row["coupon"] = json!("SPRING");
            row.to_string()
        })
        .collect();
    stack
        .put(
            "orders/coupons.ndjson",
            (rows.join("\n") + "\n").into_bytes(),
        )
        .await
        .unwrap();
    stack
        .wait_for_executions(ministack, 1, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<Value> = aws(&["drift", "list", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["changes"][0]["path"], "coupon");
    assert_eq!(listed[0]["files"], json!(["orders/coupons.ndjson"]));
    let id = listed[0]["id"].as_str().unwrap();

    let approved = aws(&["drift", "approve", id]);
    assert!(approved.contains("approved drift change"), "{approved}");
    let executions = stack
        .wait_for_executions(ministack, 2, Duration::from_secs(180))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        executions
            .iter()
            .all(|e| e.status == aws_sdk_sfn::types::ExecutionStatus::Succeeded),
        "{executions:?}"
    );
    let table: Value = serde_json::from_str(&aws(&["table", "show", "orders", "--json"])).unwrap();
    assert_eq!(table["total_records"], 4, "{table}");
    assert!(
        table["schema"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "coupon"),
        "{table}"
    );
    assert_eq!(aws(&["drift", "list", "--json"]).trim(), "");
    let store = sluice_aws::S3Store::from_conf(&stack.sdk, stack.bucket.clone());
    let decided = store
        .get_bytes(".sluice/drift/shop_drift.orders.json")
        .await
        .unwrap()
        .expect("the decision is in the stack's bucket");
    assert!(String::from_utf8_lossy(&decided.0).contains("\"approved\""));
}
