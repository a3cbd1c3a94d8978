//! The deployed shape, end to end, on a local AWS emulator (ministack): a versioned bucket
//! with EventBridge notifications, a rule per table prefix that starts the Standard state
//! machine from `statemachine/ingest.asl.json` (its placeholders substituted with the Lambda
//! ARNs, as the CDK app does), and the six Lambdas running this package's real binaries as
//! `provided.al2023` functions. The orders example lands in the bucket; every execution must
//! succeed, the Glue table must hold exactly the example's good rows, and the two bad files
//! must wait in quarantine with their reasons.
//!
//! The emulator runs a function's `bootstrap` as a local process, so each function's code is
//! a one-line `bootstrap` that executes the binary cargo built for this machine (the arm64
//! binaries of `make lambdas` are for AWS). Emulator gaps, covered by the local engine's tests
//! instead: its S3 events carry no `version-id`, and it has no `RedriveExecution`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::{RetryPolicy, Target};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use aws_sdk_sfn::types::ExecutionStatus;
use sluice_aws::emulator::Ministack;
use sluice_core::config::Config;
use sluice_store::ObjectStore;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The five step functions and their placeholders in the definition, and the binaries.
const STEPS: [(&str, &str, &str); 5] = [
    ("filter", "FilterFunctionArn", env!("CARGO_BIN_EXE_filter")),
    (
        "schema-drift-detect",
        "SchemaDriftDetectFunctionArn",
        env!("CARGO_BIN_EXE_schema-drift-detect"),
    ),
    (
        "validate",
        "ValidateFunctionArn",
        env!("CARGO_BIN_EXE_validate"),
    ),
    (
        "quarantine",
        "QuarantineFunctionArn",
        env!("CARGO_BIN_EXE_quarantine"),
    ),
    ("commit", "CommitFunctionArn", env!("CARGO_BIN_EXE_commit")),
];

const ROLE: &str = "arn:aws:iam::000000000000:role/sluice-test";

/// A zip holding one executable `bootstrap` that runs `binary`.
fn code_zip(binary: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).unwrap();
    writeln!(zip, "#!/bin/sh\nexec '{binary}' \"$@\"").unwrap();
    zip.finish().unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_example_lands_through_eventbridge_step_functions_lambda_s3_and_glue() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let sdk = ministack.sdk_config().await;
    let bucket = format!("landing-{}", std::process::id());
    ministack.create_bucket(&bucket, true).await.unwrap();
    let s3 = sluice_aws::s3_client(&sdk);
    s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .event_bridge_configuration(
                    aws_sdk_s3::types::EventBridgeConfiguration::builder().build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let warehouse = format!("s3://{bucket}/warehouse/");
    let config_path = repo().join("examples/orders/sluice.toml");
    let config = Config::load(&config_path).unwrap();

    // The five functions, as the CDK app configures them (the emulator's endpoint added).
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let mut arns = BTreeMap::new();
    for (name, placeholder, binary) in STEPS {
        let function = format!("sluice-{name}-{}", std::process::id());
        let env = Environment::builder()
            .variables("SLUICE_CATALOG", "glue")
            .variables("SLUICE_BUCKET", &bucket)
            .variables("SLUICE_WAREHOUSE", &warehouse)
            .variables("SLUICE_CONFIG", config_path.display().to_string())
            .variables("SLUICE_FUNCTION", name)
            .variables("SLUICE_LOG_FORMAT", "json")
            .variables("AWS_ENDPOINT_URL", ministack.endpoint())
            .variables("AWS_ACCESS_KEY_ID", "test")
            .variables("AWS_SECRET_ACCESS_KEY", "test")
            .variables("AWS_REGION", "us-east-1")
            .build();
        let created = lambda
            .create_function()
            .function_name(&function)
            .runtime(Runtime::Providedal2023)
            .architectures(Architecture::X8664)
            .handler("bootstrap")
            .role(ROLE)
            .timeout(120)
            .memory_size(1024)
            .environment(env)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(code_zip(binary)))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "creating {function}: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(e)
                )
            });
        arns.insert(placeholder, created.function_arn.unwrap());
    }

    // The state machine from the definition file, with the CDK's substitutions.
    let mut definition =
        std::fs::read_to_string(repo().join("statemachine/ingest.asl.json")).unwrap();
    for (placeholder, arn) in &arns {
        definition = definition.replace(&format!("${{{placeholder}}}"), arn);
    }
    assert!(!definition.contains("${"), "a placeholder is left unbound");
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let state_machine = sfn
        .create_state_machine()
        .name(format!("sluice-ingest-{}", std::process::id()))
        .definition(definition)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap()
        .state_machine_arn;

    // A rule per table prefix: Object Created in this bucket under the prefix.
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    for table in &config.tables {
        let rule = format!("sluice-{}-{}", table.name, std::process::id());
        let pattern = serde_json::json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": table.prefix}]}}
        });
        events
            .put_rule()
            .name(&rule)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(&rule)
            .targets(
                Target::builder()
                    .id("ingest")
                    .arn(&state_machine)
                    .role_arn(ROLE)
                    .retry_policy(RetryPolicy::builder().maximum_retry_attempts(3).build())
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    // The example lands.
    let data = repo().join("examples/orders/data");
    let mut files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for file in &files {
        let key = format!("orders/{}", file.file_name().unwrap().to_string_lossy());
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(std::fs::read(file).unwrap().into())
            .send()
            .await
            .unwrap();
    }

    // Every arrival becomes one execution, and every execution ends.
    let deadline = Instant::now() + Duration::from_secs(300);
    let executions = loop {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&state_machine)
            .send()
            .await
            .unwrap()
            .executions;
        let running = listed
            .iter()
            .filter(|e| e.status == ExecutionStatus::Running)
            .count();
        if listed.len() >= files.len() && running == 0 {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} executions started, {running} still running after 300 s; emulator log: {}",
            listed.len(),
            files.len(),
            ministack.log_path().display()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(executions.len(), files.len(), "one execution per arrival");
    for e in &executions {
        if e.status != ExecutionStatus::Succeeded {
            let d = sfn
                .describe_execution()
                .execution_arn(&e.execution_arn)
                .send()
                .await
                .unwrap();
            panic!(
                "execution {} is {:?}: {:?} {:?}",
                e.name,
                e.status,
                d.error(),
                d.cause()
            );
        }
    }

    // The Glue table holds exactly the good rows (the local run's figure, README).
    let lake = sluice_aws::open_glue_lake(&sdk, &warehouse).await.unwrap();
    let table = lake
        .load(&config.tables[0])
        .await
        .unwrap()
        .expect("the Glue table exists");
    let metadata = table.metadata();
    let total: u64 = metadata
        .current_snapshot()
        .expect("a snapshot")
        .summary()
        .additional_properties
        .get("total-records")
        .expect("total-records in the snapshot summary")
        .parse()
        .unwrap();
    assert_eq!(total, 73, "rows in {}", metadata.location());

    // The two bad files wait in quarantine, with their reasons, in the bucket.
    let store = sluice_aws::S3Store::from_conf(&sdk, bucket.clone());
    let records = store
        .list(&sluice_steps::context::keys::quarantine_prefix())
        .await
        .unwrap();
    let mut reasons = vec![];
    for r in &records {
        let (bytes, _) = store.get_bytes(&r.key).await.unwrap().unwrap();
        let record: sluice_core::quarantine::QuarantineRecord =
            serde_json::from_slice(&bytes).unwrap();
        reasons.push((record.object.key.clone(), record.reason));
    }
    reasons.sort_by(|a, b| a.0.cmp(&b.0));
    let reasons: Vec<String> = reasons
        .iter()
        .map(|(k, r)| {
            format!(
                "{k}: {}",
                serde_json::to_value(r).unwrap().as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "orders/orders-2026-03-03-malformed.ndjson: too_many_invalid_rows",
            "orders/orders-2026-03-07-quantity-as-text.ndjson: drift_blocked",
        ]
    );
}
