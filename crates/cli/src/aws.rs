//! `--aws`: Step Functions behind the operator's commands on a deployed stack.
//!
//! `sluice executions --aws list|describe|history`, `sluice redrive --aws NAME`,
//! `sluice replay --aws` and `sluice dlq replay` call Step Functions and SQS with the AWS SDK;
//! where the stack's resources are (`--stack NAME`, or one flag each) is stack.rs's business.
//!
//! Every start is idempotent: an execution's name is derived from what it ingests, and Step
//! Functions refuses a second execution of one name (`ExecutionAlreadyExists`), which these
//! commands report as "already started", not as a failure.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};

use crate::port::{Executions, HistoryRow, Listed};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::stack::{sdk_error, DEAD_LETTER_QUEUE};
use crate::target::Target;

/// The ARN of execution `name` of `state_machine`; a full execution ARN is kept as it is.
pub fn execution_arn(state_machine: &str, name: &str) -> anyhow::Result<String> {
    if name.starts_with("arn:") {
        return Ok(name.to_string());
    }
    // arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME
    let parts: Vec<&str> = state_machine.splitn(7, ':').collect();
    if parts.len() != 7 || parts[2] != "states" || parts[5] != "stateMachine" {
        bail!("{state_machine:?} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)");
    }
    Ok(format!(
        "{}:{}:states:{}:{}:execution:{}:{name}",
        parts[0], parts[1], parts[3], parts[4], parts[6]
    ))
}

/// What became of one start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(String),
    /// An execution of that name exists: a repeated start, nothing new was begun.
    Already(String),
}

/// `StartExecution` with a deterministic name; an existing execution of that name is
/// [`Started::Already`].
pub async fn start_execution(
    client: &aws_sdk_sfn::Client,
    state_machine: &str,
    name: &str,
    input: &Value,
) -> anyhow::Result<Started> {
    let result = client
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await;
    match result {
        Ok(out) => Ok(Started::New(out.execution_arn)),
        Err(e) => match e.as_service_error() {
            Some(se) if se.is_execution_already_exists() => {
                Ok(Started::Already(execution_arn(state_machine, name)?))
            }
            _ => Err(sdk_error(e)).with_context(|| format!("starting execution {name}")),
        },
    }
}

async fn describe_execution(
    client: &aws_sdk_sfn::Client,
    arn: &str,
) -> anyhow::Result<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput> {
    client
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("describing {arn}"))
}

/// Step Functions behind the [`Executions`] port: the state machine `--state-machine-arn`.
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
    state_machine: String,
}

impl SfnExecutions {
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let deployed = target.resolve().await?;
        Ok(SfnExecutions {
            state_machine: deployed.state_machine()?,
            client: aws_sdk_sfn::Client::new(&deployed.sdk),
        })
    }
}

/// An SDK timestamp as chrono's.
fn utc(t: &aws_sdk_sfn::primitives::DateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

#[async_trait::async_trait]
impl Executions for SfnExecutions {
    async fn list(&self, status: Option<&str>, limit: u32) -> anyhow::Result<Vec<Listed>> {
        let status = status
            .map(|s| {
                let s = s.to_ascii_uppercase();
                ExecutionStatus::values()
                    .contains(&s.as_str())
                    .then(|| ExecutionStatus::from(s.as_str()))
                    .ok_or_else(|| {
                        anyhow!(
                            "--status {s:?}: one of {}",
                            ExecutionStatus::values().join(", ")
                        )
                    })
            })
            .transpose()?;
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine)
            .set_status_filter(status)
            .max_results(limit.clamp(1, 1000) as i32)
            .into_paginator()
            .items()
            .send();
        let mut listed = vec![];
        while let Some(item) = pages.next().await {
            if listed.len() as u32 >= limit {
                break;
            }
            let e = item
                .map_err(sdk_error)
                .with_context(|| format!("listing executions of {}", self.state_machine))?;
            listed.push(Listed {
                name: e.name().to_string(),
                status: e.status().as_str().to_string(),
                start: utc(e.start_date()),
                stop: e.stop_date().map(utc),
                redrive_count: e.redrive_count().unwrap_or(0).max(0) as u32,
                error: None,
                json: json!({
                    "name": e.name(),
                    "executionArn": e.execution_arn(),
                    "status": e.status().as_str(),
                    "startDate": e.start_date().to_string(),
                    "stopDate": e.stop_date().map(|d| d.to_string()),
                    "redriveCount": e.redrive_count(),
                }),
            });
        }
        Ok(listed)
    }

    async fn describe(&self, name: &str) -> anyhow::Result<Value> {
        let arn = execution_arn(&self.state_machine, name)?;
        let d = describe_execution(&self.client, &arn).await?;
        let parse =
            |s: Option<&str>| s.map(|s| serde_json::from_str::<Value>(s).unwrap_or(json!(s)));
        Ok(json!({
            "executionArn": d.execution_arn(),
            "stateMachineArn": d.state_machine_arn(),
            "name": d.name(),
            "status": d.status().as_str(),
            "startDate": d.start_date().to_string(),
            "stopDate": d.stop_date().map(|t| t.to_string()),
            "input": parse(d.input()),
            "output": parse(d.output()),
            "error": d.error(),
            "cause": d.cause(),
            "redriveCount": d.redrive_count(),
            "redriveStatus": d.redrive_status().map(|s| s.as_str()),
        }))
    }

    async fn history(&self, name: &str) -> anyhow::Result<Vec<HistoryRow>> {
        let arn = execution_arn(&self.state_machine, name)?;
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(&arn)
            .into_paginator()
            .items()
            .send();
        let mut rows = vec![];
        while let Some(e) = pages.next().await {
            let e = e
                .map_err(sdk_error)
                .with_context(|| format!("reading the history of {arn}"))?;
            let json = event_json(&e);
            rows.push(HistoryRow {
                id: e.id(),
                kind: e.r#type().as_str().to_string(),
                time: e.timestamp().to_string(),
                brief: crate::port::brief(&json),
                json,
            });
        }
        Ok(rows)
    }

    async fn footer(&self, shown: usize) -> anyhow::Result<Vec<String>> {
        Ok(vec![format!(
            "{shown} executions of {}",
            self.state_machine
        )])
    }
}

/// The fields of an event an operator reads: which state, which task, which error. Inputs
/// and outputs are left out (they can hold row data).
fn event_json(e: &HistoryEvent) -> Value {
    let mut v = json!({
        "id": e.id(),
        "previousEventId": e.previous_event_id(),
        "type": e.r#type().as_str(),
        "timestamp": e.timestamp().to_string(),
    });
    if let Some(d) = e.state_entered_event_details() {
        v["name"] = json!(d.name());
    }
    if let Some(d) = e.state_exited_event_details() {
        v["name"] = json!(d.name());
    }
    if let Some(d) = e.task_scheduled_event_details() {
        v["resource"] = json!(d.resource());
    }
    let errors = [
        e.task_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.lambda_function_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.execution_failed_event_details()
            .map(|d| (d.error(), d.cause())),
        e.task_timed_out_event_details()
            .map(|d| (d.error(), d.cause())),
    ];
    if let Some((error, cause)) = errors.into_iter().flatten().next() {
        v["error"] = json!(error);
        v["cause"] = json!(cause);
    }
    if let Some(d) = e.execution_redriven_event_details() {
        v["redriveCount"] = json!(d.redrive_count());
    }
    v
}

/// `sluice redrive --aws NAME`: RedriveExecution, then (with `wait`) poll until it ends.
pub async fn redrive(target: &Target, name: &str, wait: bool) -> anyhow::Result<ExitCode> {
    let deployed = target.resolve().await?;
    let arn = execution_arn(&deployed.state_machine()?, name)?;
    let client = aws_sdk_sfn::Client::new(&deployed.sdk);
    let before = describe_execution(&client, &arn).await?;
    // One client token per redrive of this execution: a retried command does not redrive
    // twice.
    let token = format!(
        "sluice-redrive-{}",
        &hex::encode(Sha256::digest(
            format!("{arn}#{}", before.redrive_count().unwrap_or(0)).as_bytes()
        ))[..32]
    );
    let out = client
        .redrive_execution()
        .execution_arn(&arn)
        .client_token(token)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| {
            format!(
                "redriving {arn} (it is {}; only FAILED, TIMED_OUT or ABORTED executions of a Standard state machine, within 14 days of their end, can be redriven)",
                before.status().as_str()
            )
        })?;
    outln!("redrove {name} at {}", out.redrive_date());
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        let d = describe_execution(&client, &arn).await?;
        if *d.status() != ExecutionStatus::Running && *d.status() != ExecutionStatus::PendingRedrive
        {
            outln!(
                "execution {name} is {} after {} redrive(s){}",
                d.status().as_str(),
                d.redrive_count().unwrap_or(0),
                d.error().map(|e| format!(": {e}")).unwrap_or_default()
            );
            return Ok(if *d.status() == ExecutionStatus::Succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// `sluice replay --aws`: the same plan as the local replay (quarantine records and ledger,
/// read from the bucket), each started on Step Functions under its deterministic name.
/// What `replay --aws` does with its plan.
pub enum ReplayHow {
    /// Start each execution; `json`: print the results as JSON lines.
    Start { json: bool },
    /// Start nothing; print each execution's name and input.
    PrintInput,
}

pub async fn replay(
    target: &Target,
    selection: &sluice_local::Selection,
    how: ReplayHow,
) -> anyhow::Result<ExitCode> {
    let deployed = target.resolve().await?;
    let bucket = deployed.bucket()?;
    let sdk = deployed.sdk.clone();
    let store: std::sync::Arc<dyn sluice_store::ObjectStore> =
        std::sync::Arc::new(sluice_aws::S3Store::from_conf(&sdk, bucket));
    let ledger = sluice_store::Ledger::new(store);
    let (planned, skipped) = sluice_local::plan_replay(&ledger, selection).await?;
    let json_out = match how {
        ReplayHow::PrintInput => return crate::print::replay_inputs(&planned, &skipped, selection),
        ReplayHow::Start { json } => json,
    };
    if let Some(code) = crate::print::nothing_to_replay(planned.is_empty(), &skipped, selection) {
        return Ok(code);
    }
    let state_machine = deployed.state_machine()?;
    let client = aws_sdk_sfn::Client::new(&sdk);
    let mut t = crate::print::table(["file", "execution", "result"]);
    let (mut started, mut already) = (0, 0);
    for (name, input) in &planned {
        let value = serde_json::to_value(input)?;
        let result = match start_execution(&client, &state_machine, name, &value).await? {
            Started::New(_) => {
                started += 1;
                "started"
            }
            Started::Already(_) => {
                already += 1;
                "already started"
            }
        };
        if json_out {
            outln!(
                "{}",
                json!({"key": input.object.key, "execution": name, "result": result})
            );
        } else {
            t.add_row([input.object.key.clone(), name.clone(), result.to_string()]);
        }
    }
    if !json_out {
        outln!("{t}");
    }
    outln!(
        "replayed {} file(s): {started} started, {already} already started; follow them with `sluice executions --aws list`",
        planned.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `sluice dlq replay` options.
#[derive(Debug, clap::Args)]
pub struct DlqReplayArgs {
    /// The dead-letter queue (the stack output DeadLetterQueueUrl).
    #[arg(long, env = "SLUICE_DLQ_URL", value_name = "URL")]
    queue_url: Option<String>,
    /// Stop after this many messages.
    #[arg(long, default_value_t = 10_000)]
    max: usize,
    /// Show what would be started; receive no message for longer than a moment and delete none.
    #[arg(long)]
    dry_run: bool,
}

/// Whether a dead-lettered message is an arrival the ingest definition takes: S3's
/// EventBridge event for an object (`Object Created` or `Object Deleted`, with a bucket and a
/// key), or a native arrival (`{"bucket", "key", ...}`). Anything else, and why not.
pub fn arrival_kind(message: &Value) -> Result<&'static str, String> {
    let text = |p: &str| message.pointer(p).and_then(Value::as_str);
    if let Some(kind) = text("/detail-type") {
        if text("/source") != Some("aws.s3") {
            return Err(format!(
                "an event from {:?}, not from S3",
                text("/source").unwrap_or("nowhere")
            ));
        }
        if !matches!(kind, "Object Created" | "Object Deleted") {
            return Err(format!("an S3 event of type {kind:?}"));
        }
        if text("/detail/bucket/name").is_none() || text("/detail/object/key").is_none() {
            return Err("an S3 event that names no bucket or key".into());
        }
        return Ok("s3 event");
    }
    if text("/bucket").is_some() && text("/key").is_some() {
        return Ok("arrival");
    }
    let keys: Vec<&str> = message
        .as_object()
        .map(|m| m.keys().map(String::as_str).take(5).collect())
        .unwrap_or_default();
    Err(format!(
        "neither an S3 event nor an arrival (fields: {})",
        if keys.is_empty() {
            "none".to_string()
        } else {
            keys.join(", ")
        }
    ))
}

/// The execution name for a dead-lettered event: `dlq-<file name>-<digest of the event>`,
/// the same every time the same event is replayed, so a second replay starts nothing.
pub fn dlq_name(body: &str) -> String {
    let event: Option<Value> = serde_json::from_str(body).ok();
    let id = event
        .as_ref()
        .and_then(|e| e.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let key = event
        .as_ref()
        .and_then(|e| e.pointer("/detail/object/key"))
        .and_then(Value::as_str)
        .unwrap_or("event");
    let stem = key.rsplit('/').next().unwrap_or(key);
    let digest = hex::encode(Sha256::digest(id.as_bytes()));
    format!(
        "dlq-{}-{}",
        sluice_steps::reconcile::slug(stem, 48),
        &digest[..16]
    )
}

/// `sluice dlq replay`: an execution per dead-lettered event; a message is deleted only
/// after its execution started (or already existed).
pub async fn dlq_replay(target: &Target, args: DlqReplayArgs) -> anyhow::Result<ExitCode> {
    let deployed = target.resolve().await?;
    let queue_url = deployed.value(DEAD_LETTER_QUEUE, args.queue_url.as_deref())?;
    let state_machine = deployed.state_machine()?;
    let sqs = aws_sdk_sqs::Client::new(&deployed.sdk);
    let sfn = aws_sdk_sfn::Client::new(&deployed.sdk);
    let mut t = crate::print::table(["message", "object", "execution", "result"]);
    let (mut started, mut already, mut failed, mut seen) = (0, 0, 0, 0);
    while seen < args.max {
        let batch = (args.max - seen).min(10) as i32;
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(batch)
            .wait_time_seconds(if args.dry_run { 0 } else { 1 })
            // Long enough to start an execution; a message whose start failed comes back.
            .visibility_timeout(if args.dry_run { 0 } else { 60 })
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("receiving from {}", queue_url))?;
        let messages = received.messages();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            seen += 1;
            let id = m.message_id().unwrap_or("?").to_string();
            let body = m.body().unwrap_or_default();
            let key = serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|e| e.pointer("/detail/object/key").cloned())
                .and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default();
            let name = dlq_name(body);
            let input: Value = match serde_json::from_str(body) {
                Ok(v) => v,
                Err(e) => {
                    failed += 1;
                    t.add_row([id, key, name, format!("kept: the body is not JSON: {e}")]);
                    continue;
                }
            };
            if let Err(why) = arrival_kind(&input) {
                // A schedule's payload, a test message, anything else sent here: never started
                // as an ingest execution, never deleted.
                failed += 1;
                t.add_row([
                    id,
                    key,
                    String::new(),
                    format!("kept: not an arrival: {why}"),
                ]);
                continue;
            }
            if args.dry_run {
                t.add_row([id, key, name, "would start".into()]);
                continue;
            }
            let result = match start_execution(&sfn, &state_machine, &name, &input).await {
                Ok(s) => {
                    match s {
                        Started::New(_) => started += 1,
                        Started::Already(_) => already += 1,
                    }
                    let deleted = sqs
                        .delete_message()
                        .queue_url(&queue_url)
                        .set_receipt_handle(m.receipt_handle().map(str::to_string))
                        .send()
                        .await;
                    let what = match s {
                        Started::New(_) => "started",
                        Started::Already(_) => "already started",
                    };
                    match deleted {
                        Ok(_) => format!("{what}; message deleted"),
                        Err(e) => format!(
                            "{what}; message NOT deleted (it will come back, and its start is idempotent): {}",
                            sdk_error(e)
                        ),
                    }
                }
                Err(e) => {
                    failed += 1;
                    format!("kept: {e:#}")
                }
            };
            t.add_row([id, key, name, result]);
        }
        if args.dry_run {
            break;
        }
    }
    if seen == 0 {
        outln!("no message is visible in the dead-letter queue (messages received in the last minute stay hidden until their visibility timeout ends)");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{t}");
    outln!(
        "{seen} message(s): {started} started, {already} already started, {failed} kept in the queue"
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_arrivals_are_recognised_in_a_dead_letter_queue() {
        use super::arrival_kind;
        use serde_json::json;
        let s3 = |kind: &str| {
            json!({"source": "aws.s3", "detail-type": kind,
                   "detail": {"bucket": {"name": "b"}, "object": {"key": "orders/a.ndjson"}}})
        };
        assert!(arrival_kind(&s3("Object Created")).is_ok());
        assert!(arrival_kind(&s3("Object Deleted")).is_ok());
        assert!(arrival_kind(&json!({"bucket": "b", "key": "orders/a.ndjson"})).is_ok());
        let schedule = arrival_kind(&json!({"table": "orders"})).unwrap_err();
        assert!(schedule.contains("fields: table"), "{schedule}");
        assert!(arrival_kind(&s3("Object Restore Completed")).is_err());
        let mut foreign = s3("Object Created");
        foreign["source"] = json!("aws.ec2");
        assert!(arrival_kind(&foreign).unwrap_err().contains("aws.ec2"));
        assert!(
            arrival_kind(&json!({"source": "aws.s3", "detail-type": "Object Created"})).is_err()
        );
        assert!(arrival_kind(&json!([1, 2])).is_err());
    }

    use super::*;

    #[test]
    fn execution_arns_come_from_the_state_machine_arn() {
        let sm = "arn:aws:states:eu-west-1:123456789012:stateMachine:sluice-ingest";
        assert_eq!(
            execution_arn(sm, "ingest-a-1").unwrap(),
            "arn:aws:states:eu-west-1:123456789012:execution:sluice-ingest:ingest-a-1"
        );
        let full = "arn:aws:states:eu-west-1:123456789012:execution:x:y";
        assert_eq!(execution_arn(sm, full).unwrap(), full);
        assert!(execution_arn("not-an-arn", "x").is_err());
    }

    #[test]
    fn dlq_names_are_stable_per_event_and_differ_between_events() {
        let a = r#"{"id":"e1","detail":{"object":{"key":"orders/2026/a.ndjson"}}}"#;
        let b = r#"{"id":"e2","detail":{"object":{"key":"orders/2026/a.ndjson"}}}"#;
        assert_eq!(dlq_name(a), dlq_name(a));
        assert_ne!(dlq_name(a), dlq_name(b));
        assert!(dlq_name(a).starts_with("dlq-a_ndjson-"), "{}", dlq_name(a));
        // Step Functions allows at most 80 characters in a name.
        let long = format!(
            r#"{{"id":"e","detail":{{"object":{{"key":"{}"}}}}}}"#,
            "x".repeat(500)
        );
        assert!(dlq_name(&long).len() <= 80);
        assert!(dlq_name("not json").starts_with("dlq-event-"));
    }
}
