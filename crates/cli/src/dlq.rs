//! `sluice dlq list|replay`: the deployed stack's dead-letter queues. `list` peeks at the
//! messages (each received with a visibility timeout of zero, so none is hidden from another
//! reader nor deleted) and says which are arrivals `replay` would start and which are
//! foreign and why; `replay` (in aws.rs) starts the arrivals and keeps the rest.

use std::collections::BTreeSet;
use std::process::ExitCode;

use anyhow::Context as _;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Value};

use crate::aws::{arrival_kind, DlqReplayArgs};
use crate::stack::{sdk_error, Resource, DEAD_LETTER_QUEUE};
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the messages in the queue without consuming any: when each was sent, how often
    /// it was received, whether it is an arrival (`replay` starts it) or foreign (kept, with
    /// the reason). IAM: sqs:ReceiveMessage (and cloudformation:DescribeStacks with
    /// --stack).
    List(ListArgs),
    /// Start an execution for every dead-lettered event, each with a name derived from the
    /// event (a repeated replay starts nothing twice), deleting a message only after its
    /// execution started; a message that is not an arrival is kept, with its reason, and
    /// the exit code is 1. IAM: sqs:ReceiveMessage, sqs:DeleteMessage, states:StartExecution
    /// (and cloudformation:DescribeStacks with --stack).
    Replay(DlqReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The queue (the stack output DeadLetterQueueUrl).
    #[arg(long, env = "SLUICE_DLQ_URL", value_name = "URL")]
    queue_url: Option<String>,
    /// The reconcile schedule's queue instead (the stack output ScheduleDeadLetterQueueUrl):
    /// failed or undelivered reconciliations, never arrivals.
    #[arg(long, conflicts_with = "queue_url")]
    schedule: bool,
    /// Show at most this many messages.
    #[arg(long, default_value_t = 100)]
    max: usize,
    /// Print JSON lines (id, sent, receives, kind or why it is kept, body) instead of a table.
    #[arg(long)]
    json: bool,
}

const SCHEDULE_DEAD_LETTER_QUEUE: Resource = Resource {
    what: "the schedule's dead-letter queue",
    flag: "--queue-url URL",
    env: "SLUICE_DLQ_URL",
    output: "ScheduleDeadLetterQueueUrl",
};

pub async fn run(target: &Target, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Replay(args) => crate::aws::dlq_replay(target, args).await,
        Command::List(args) => list(target, args).await,
    }
}

async fn list(target: &Target, args: ListArgs) -> anyhow::Result<ExitCode> {
    let deployed = target.resolve().await?;
    let queue = if args.schedule {
        deployed.value(SCHEDULE_DEAD_LETTER_QUEUE, None)?
    } else {
        deployed.value(DEAD_LETTER_QUEUE, args.queue_url.as_deref())?
    };
    let sqs = aws_sdk_sqs::Client::new(&deployed.sdk);
    let mut seen = BTreeSet::new();
    let mut t = crate::print::table(["message", "sent", "receives", "object", "replay would"]);
    let (mut arrivals, mut foreign) = (0, 0);
    // A receive returns a sample of the queue; receive until one brings nothing new.
    while seen.len() < args.max {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages((args.max - seen.len()).min(10) as i32)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("receiving from {queue} (sqs:ReceiveMessage)"))?;
        let mut new = 0;
        for m in received.messages() {
            let id = m.message_id().unwrap_or("?").to_string();
            if !seen.insert(id.clone()) {
                continue;
            }
            new += 1;
            let attribute = |a: MessageSystemAttributeName| {
                m.attributes()
                    .and_then(|all| all.get(&a))
                    .cloned()
                    .unwrap_or_default()
            };
            let sent = attribute(MessageSystemAttributeName::SentTimestamp)
                .parse::<i64>()
                .ok()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                .unwrap_or_default();
            let receives = attribute(MessageSystemAttributeName::ApproximateReceiveCount);
            let body = m.body().unwrap_or_default();
            let parsed: Option<Value> = serde_json::from_str(body).ok();
            let verdict = match &parsed {
                None => Err("the body is not JSON".to_string()),
                Some(v) => arrival_kind(v).map(str::to_string),
            };
            let object = parsed
                .as_ref()
                .and_then(|e| {
                    e.pointer("/detail/object/key")
                        .or_else(|| e.pointer("/key"))
                        .and_then(Value::as_str)
                })
                .unwrap_or_default()
                .to_string();
            let would = match &verdict {
                Ok(kind) => {
                    arrivals += 1;
                    format!("start ({kind})")
                }
                Err(why) => {
                    foreign += 1;
                    format!("keep: not an arrival: {why}")
                }
            };
            if args.json {
                outln!(
                    "{}",
                    json!({
                        "message": id, "sent": sent, "receives": receives, "object": object,
                        "arrival": verdict.is_ok(), "kept_because": verdict.err(),
                        "body": parsed.unwrap_or_else(|| Value::String(body.to_string())),
                    })
                );
            } else {
                t.add_row([id, sent, receives, object, would]);
            }
        }
        if new == 0 {
            break;
        }
    }
    if !args.json {
        if seen.is_empty() {
            outln!("no message is visible in {queue} (messages being replayed stay hidden until their visibility timeout ends)");
        } else {
            outln!("{t}");
            outln!(
                "{} message(s): {arrivals} arrival(s) `sluice dlq replay` would start, {foreign} it would keep",
                seen.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
