//! The stream function: a batch of Kinesis records, or of Kafka records (Amazon MSK or
//! self-managed, as Lambda's event source mappings deliver them), written into objects by
//! `sluice_steps::stream` and answered with the records to deliver again.
//!
//! The answer is Lambda's partial batch response (`ReportBatchItemFailures` on the mapping):
//! per shard or partition whose objects could not all be written, its first record not
//! written: for Kinesis `{"itemIdentifier": "<sequence number>"}`, for Kafka
//! `{"itemIdentifier": {"partition": "<topic>-<partition>", "offset": <offset>}}`. Lambda
//! delivers that record and every later one again; the checkpoints skip those already written.
//! A record that is not JSON, or breaks the contract, is not a failure here: it is written
//! like the others, and its table's contract quarantines it with its line, which
//! `sluice rejects` maps to its shard and sequence number.

use aws_lambda_events::event::kafka::KafkaEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use bytes::Bytes;
use serde_json::{json, Value};
use sluice_steps::stream::{self, BatchReport, SourceKind, StreamRecord};
use sluice_steps::{Context, StepError, StepErrorKind};

/// The records of a Lambda stream event, whichever its source.
pub fn records(event: Value) -> Result<(SourceKind, Vec<StreamRecord>), StepError> {
    let bad = |what: String| StepError::new(StepErrorKind::Internal, what);
    let kafka = matches!(
        event.get("eventSource").and_then(Value::as_str),
        Some("aws:kafka" | "SelfManagedKafka")
    );
    if kafka {
        let event: KafkaEvent = serde_json::from_value(event)
            .map_err(|e| bad(format!("a Kafka event that is not as Lambda sends it: {e}")))?;
        let mut out = vec![];
        for (partition_key, records) in event.records {
            for r in records {
                let topic = r.topic.clone().unwrap_or_else(|| {
                    // `<topic>-<partition>`, the map's key, when the record does not say.
                    partition_key
                        .rsplit_once('-')
                        .map(|(t, _)| t.to_string())
                        .unwrap_or_else(|| partition_key.clone())
                });
                let data = match &r.value {
                    Some(v) => aws_smithy_types::base64::decode(v).map_err(|_| {
                        bad(format!(
                            "Kafka record {topic}-{}@{}: its value is not base64",
                            r.partition, r.offset
                        ))
                    })?,
                    None => vec![],
                };
                out.push(StreamRecord {
                    kind: SourceKind::Kafka,
                    source: topic,
                    shard: r.partition.to_string(),
                    position: r.offset.to_string(),
                    data: Bytes::from(data),
                    key: r.key.clone(),
                    arrived_ms: Some(r.timestamp.0.timestamp_millis()),
                });
            }
        }
        return Ok((SourceKind::Kafka, out));
    }
    let event: KinesisEvent = serde_json::from_value(event).map_err(|e| {
        bad(format!(
            "an event that is neither Kinesis's nor Kafka's as Lambda sends them: {e}"
        ))
    })?;
    let mut out = vec![];
    for r in event.records {
        let arn = r.event_source_arn.as_deref().unwrap_or_default();
        let source = arn
            .rsplit_once(":stream/")
            .map(|(_, name)| name.to_string())
            .ok_or_else(|| {
                bad(format!(
                    "a Kinesis record whose source {arn:?} is no stream"
                ))
            })?;
        let shard = r
            .event_id
            .as_deref()
            .and_then(|id| id.split_once(':'))
            .map(|(shard, _)| shard.to_string())
            .ok_or_else(|| bad("a Kinesis record without its shard in eventID".into()))?;
        out.push(StreamRecord {
            kind: SourceKind::Kinesis,
            source,
            shard,
            position: r.kinesis.sequence_number.clone(),
            data: Bytes::from(r.kinesis.data.0.clone()),
            key: Some(r.kinesis.partition_key.clone()),
            arrived_ms: Some(r.kinesis.approximate_arrival_timestamp.0.timestamp_millis()),
        });
    }
    Ok((SourceKind::Kinesis, out))
}

/// Lambda's partial batch response for `report`.
pub fn response(kind: SourceKind, report: &BatchReport) -> Value {
    let failures: Vec<Value> = report
        .failed
        .iter()
        .map(|f| match kind {
            SourceKind::Kinesis => json!({"itemIdentifier": f.position}),
            SourceKind::Kafka => json!({"itemIdentifier": {
                "partition": format!("{}-{}", f.source, f.shard),
                "offset": f.position.parse::<i64>().unwrap_or(0),
            }}),
        })
        .collect();
    json!({ "batchItemFailures": failures })
}

/// One invocation: the batch written, the records to deliver again answered.
pub async fn handle(ctx: &Context, event: Value) -> Result<Value, StepError> {
    let (kind, records) = records(event)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let report = stream::receive_batch(ctx.store.as_ref(), &ctx.config, records, &now).await?;
    for f in &report.failed {
        tracing::warn!(source = %f.source, shard = %f.shard, position = %f.position, reason = %f.reason, "delivered again from here");
    }
    tracing::info!(
        records = report.records,
        objects = report.written.iter().filter(|w| !w.repeated).count(),
        repeated = report.written.iter().filter(|w| w.repeated).count(),
        duplicates = report.duplicates,
        failed_shards = report.failed.len(),
        "stream batch"
    );
    Ok(response(kind, &report))
}
