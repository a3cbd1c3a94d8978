//! `--aws` operations against a local AWS emulator (ministack): `sluice dlq replay` starts one
//! execution per dead-lettered event under a name derived from the event, deletes the message
//! only after the start, and a second delivery of the same event starts nothing new;
//! `sluice executions --aws list` shows what started.

use std::process::{Command, Output};

use serde_json::{json, Value};
use sluice_aws::emulator::Ministack;

fn sluice(ministack: &Ministack, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .env("AWS_ENDPOINT_URL", ministack.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("SLUICE_STATE_MACHINE_ARN")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_replay_starts_each_event_once_and_deletes_only_what_started() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let sdk = ministack.sdk_config().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let id = std::process::id();
    let definition = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let state_machine = sfn
        .create_state_machine()
        .name(format!("ingest-{id}"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::000000000000:role/sluice-test")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let queue = sqs
        .create_queue()
        .queue_name(format!("dlq-{id}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let event = json!({
        "version": "0", "id": "7d1f2b9e-event", "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "landing"},
                   "object": {"key": "orders/orders-2026-03-01.ndjson", "size": 10, "etag": "e1"}}
    });
    let send = |body: String| {
        let sqs = sqs.clone();
        let queue = queue.clone();
        async move {
            sqs.send_message()
                .queue_url(queue)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };
    send(event.to_string()).await;
    send("not an event".to_string()).await;
    // What a reconcile schedule dead-letters: JSON, but no arrival.
    send(json!({"table": "orders"}).to_string()).await;

    let replay = [
        "dlq",
        "replay",
        "--queue-url",
        &queue,
        "--state-machine-arn",
        &state_machine,
    ];
    let out = sluice(ministack, &replay);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "a message was kept: {said}");
    assert!(
        said.contains("1 started, 0 already started, 2 kept in the queue"),
        "{said}"
    );
    assert!(said.contains("kept: not an arrival"), "{said}");
    assert!(said.contains("orders/orders-2026-03-01.ndjson"), "{said}");

    // The same event delivered again: its execution exists, nothing new starts, and the
    // message is consumed.
    send(event.to_string()).await;
    let out = sluice(ministack, &replay);
    let said = text(&out);
    assert!(said.contains("0 started, 1 already started"), "{said}");

    let listed = sluice(
        ministack,
        &[
            "executions",
            "--aws",
            "list",
            "--json",
            "--state-machine-arn",
            &state_machine,
        ],
    );
    assert!(listed.status.success(), "{}", text(&listed));
    let executions: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(executions.len(), 1, "{executions:?}");
    let name = executions[0]["name"].as_str().unwrap();
    assert!(name.starts_with("dlq-orders-2026-03-01_ndjson-"), "{name}");

    // The execution got the event itself as its input.
    let described = sluice(
        ministack,
        &[
            "executions",
            "--aws",
            "describe",
            name,
            "--state-machine-arn",
            &state_machine,
        ],
    );
    let described: Value = serde_json::from_slice(&described.stdout).unwrap();
    assert_eq!(described["input"], event);

    // Only the messages that could not start remain (once their visibility timeout ends).
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
        2
    );
}

#[test]
fn aws_commands_without_a_state_machine_say_what_is_missing() {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["executions", "--aws", "list"])
        .env_remove("SLUICE_STATE_MACHINE_ARN")
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(said.contains("--state-machine-arn"), "{said}");
    assert!(said.contains("SLUICE_STATE_MACHINE_ARN"), "{said}");
}
