//! The publish function: delivers the outbox (`sluice_steps::events`) to the stack's event
//! bus. Each outbox record the steps write is an S3 `Object Created` event under
//! `.sluice/outbox/`; a rule sends it here, and the record becomes one EventBridge event on
//! the sluice bus: `source` `sluice`, `detail-type` the event's type (`FileCommitted`, ...),
//! `detail` the event as written (its `id` for consumers to dedupe on, its `schema_version`
//! for the schema registry's version), `time` the transition's.
//!
//! A failed put is an error: the rule's target retries it, then its dead-letter queue holds
//! it. A record gone meanwhile (the outbox's lifecycle expired it) is nothing to deliver.
//! Delivery is at least once (a retry after a put whose answer was lost puts it again):
//! consumers dedupe on `detail.id`.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde::Serialize;
use serde_json::Value;
use sluice_steps::events::{deliver, Bus, Delivered, Event};
use sluice_steps::{Context, StepError, StepErrorKind};

use crate::event::{S3Event, S3ObjectDetail, OBJECT_CREATED, S3_SOURCE};

/// The `source` of every event sluice puts on its bus.
pub const SOURCE: &str = "sluice";

/// The stack's event bus.
pub struct EventBridgeBus {
    pub client: aws_sdk_eventbridge::Client,
    /// `SLUICE_EVENT_BUS`: the bus's name or ARN.
    pub bus: String,
}

/// The entry `event` becomes on `bus`.
pub fn entry(bus: &str, event: &Event) -> Result<PutEventsRequestEntry, StepError> {
    let detail = serde_json::to_string(event)
        .map_err(|e| StepError::internal(format!("event {}: {e}", event.id)))?;
    let mut entry = PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(SOURCE)
        .detail_type(event.kind.as_str())
        .detail(detail);
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(&event.time) {
        entry = entry.time(aws_smithy_types::DateTime::from_millis(
            at.timestamp_millis(),
        ));
    }
    Ok(entry.build())
}

#[async_trait]
impl Bus for EventBridgeBus {
    async fn put(&self, event: &Event) -> Result<(), StepError> {
        let out = self
            .client
            .put_events()
            .entries(entry(&self.bus, event)?)
            .send()
            .await
            .map_err(|e| {
                StepError::new(
                    StepErrorKind::TransientError,
                    format!(
                        "putting event {} on {}: {}",
                        event.id,
                        self.bus,
                        aws_smithy_types::error::display::DisplayErrorContext(e)
                    ),
                )
            })?;
        if out.failed_entry_count() > 0 {
            let why: Vec<String> = out
                .entries()
                .iter()
                .filter_map(|e| {
                    e.error_code()
                        .map(|c| format!("{c}: {}", e.error_message().unwrap_or_default()))
                })
                .collect();
            return Err(StepError::new(
                StepErrorKind::TransientError,
                format!(
                    "the bus {} refused event {}: {}",
                    self.bus,
                    event.id,
                    why.join("; ")
                ),
            ));
        }
        Ok(())
    }
}

/// What one invocation did, as the function answers.
#[derive(Debug, Serialize)]
pub struct PublishReport {
    pub key: String,
    /// `published`, or `gone` (the record was no longer there).
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

/// Delivers the outbox record the S3 event `payload` names.
pub async fn handle(
    ctx: &Context,
    bus: &dyn Bus,
    payload: Value,
) -> Result<PublishReport, StepError> {
    let event: S3Event = serde_json::from_value(payload).map_err(|e| {
        StepError::internal(format!(
            "the publish function takes the S3 Object Created events of outbox records: {e}"
        ))
    })?;
    if event.source != S3_SOURCE || event.detail_type != OBJECT_CREATED {
        return Err(StepError::internal(format!(
            "the publish function takes S3 Object Created events, not {:?} {:?}",
            sluice_steps::error::truncate(&event.source, 64),
            sluice_steps::error::truncate(&event.detail_type, 64)
        )));
    }
    let detail: S3ObjectDetail = serde_json::from_value(event.detail)
        .map_err(|e| StepError::internal(format!("the S3 event names no object: {e}")))?;
    let key = detail.object.key;
    Ok(match deliver(ctx.store.as_ref(), bus, &key).await? {
        Delivered::Sent(event) => {
            tracing::info!(key, id = %event.id, kind = event.kind.as_str(), "event published");
            PublishReport {
                key,
                outcome: "published",
                id: Some(event.id),
                kind: Some(event.kind.as_str()),
            }
        }
        Delivered::Gone => PublishReport {
            key,
            outcome: "gone",
            id: None,
            kind: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_becomes_an_entry_of_source_sluice_with_its_type_and_time() {
        let event: Event = serde_json::from_value(serde_json::json!({
            "id": "e0123456789abcdef0123456789abcde",
            "type": "FileCommitted",
            "schema_version": 1,
            "time": "2026-03-01T10:00:01.500Z",
            "table": "orders",
            "detail": {"key": "orders/a.ndjson"}
        }))
        .unwrap();
        let entry = entry("sluice-events", &event).unwrap();
        assert_eq!(entry.source(), Some("sluice"));
        assert_eq!(entry.detail_type(), Some("FileCommitted"));
        assert_eq!(entry.event_bus_name(), Some("sluice-events"));
        assert_eq!(
            entry.time().map(|t| t.to_millis().unwrap()),
            Some(1_772_359_201_500)
        );
        let detail: Event = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, event);
    }
}
