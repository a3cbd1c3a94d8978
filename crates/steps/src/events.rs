//! Outbound events: what sluice tells downstream systems (a dbt job, a knowledge-base sync, a
//! notification), one event per ledger transition that matters to them.
//!
//! Each event is written to the outbox in the bucket (`.sluice/outbox/<id>.json`) by the step
//! that made the transition, after it: the id is derived from the transition (the object
//! version and its snapshot, the table and its new schema id, ...), and the record is created
//! only if absent, so a step that runs again (a retry, a redrive after a crash between the
//! transition and the write) writes nothing new, and consumers can dedupe on `id` wherever
//! delivery repeats. A step whose event cannot be written fails and is retried like any
//! transient failure; the transition itself is never undone.
//!
//! Every type has a versioned JSON Schema in `schemas/events/<Type>.v<N>.json`; an event
//! carries its `schema_version`. `sluice events tail` reads the outbox in time order.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sluice_core::layout;
use sluice_core::ObjectVersion;
use sluice_store::{Conditional, ObjectStore};

use crate::error::{StepError, StepErrorKind};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A body was received by the webhook API, or a batch of stream records, and written to
    /// the bucket.
    ArrivalReceived,
    /// An object version's rows are in the table.
    FileCommitted,
    /// An object version waits in quarantine for a person.
    FileQuarantined,
    /// A table's schema gained columns.
    SchemaEvolved,
    /// A schema change a table's policy blocks waits for a decision (`sluice drift list`).
    SchemaDriftPending,
    /// Every object that landed under a table's prefix up to a time is finished
    /// (`sluice reconcile`): downstream jobs may read up to it.
    WatermarkAdvanced,
}

impl EventType {
    pub const ALL: [EventType; 6] = [
        EventType::ArrivalReceived,
        EventType::FileCommitted,
        EventType::FileQuarantined,
        EventType::SchemaEvolved,
        EventType::SchemaDriftPending,
        EventType::WatermarkAdvanced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ArrivalReceived => "ArrivalReceived",
            EventType::FileCommitted => "FileCommitted",
            EventType::FileQuarantined => "FileQuarantined",
            EventType::SchemaEvolved => "SchemaEvolved",
            EventType::SchemaDriftPending => "SchemaDriftPending",
            EventType::WatermarkAdvanced => "WatermarkAdvanced",
        }
    }

    /// The version of the type's schema events are written with.
    pub fn schema_version(self) -> u32 {
        1
    }
}

impl std::str::FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                format!("no event type {s:?} (one of {})", names.join(", "))
            })
    }
}

/// One outbound event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Derived from the transition: the same transition always has the same id.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub schema_version: u32,
    /// When the transition happened (RFC 3339).
    pub time: String,
    /// The table, when the event is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The type's own fields (see its schema).
    pub detail: Value,
}

impl Event {
    fn new(
        kind: EventType,
        identity: &[&str],
        time: String,
        table: Option<&str>,
        detail: Value,
    ) -> Event {
        let mut hash = Sha256::new();
        hash.update(kind.as_str().as_bytes());
        for part in identity {
            hash.update([0u8]);
            hash.update(part.as_bytes());
        }
        Event {
            id: format!("e{}", &hex::encode(hash.finalize())[..31]),
            kind,
            schema_version: kind.schema_version(),
            time,
            table: table.map(str::to_string),
            detail,
        }
    }
}

/// Writes `event` to the outbox unless an event of its id is there already.
pub async fn emit(store: &dyn ObjectStore, event: &Event) -> Result<(), StepError> {
    let body =
        serde_json::to_vec(event).map_err(|e| StepError::internal(format!("an event: {e}")))?;
    match store
        .create_if_absent(&layout::outbox_event(&event.id), Bytes::from(body))
        .await
    {
        Ok(Conditional::Done(_)) => {
            tracing::debug!(id = %event.id, kind = event.kind.as_str(), "event written");
            Ok(())
        }
        Ok(Conditional::PreconditionFailed) => Ok(()),
        Err(e) => Err(StepError::new(
            StepErrorKind::TransientError,
            format!(
                "writing the {} event {}: {e}",
                event.kind.as_str(),
                event.id
            ),
        )),
    }
}

/// Every event in the outbox, oldest first (by time, then id). Unreadable records are
/// skipped with a warning: one bad object must not hide the rest.
pub async fn list(store: &dyn ObjectStore) -> Result<Vec<Event>, StepError> {
    let mut out = vec![];
    for meta in store.list(&layout::outbox_prefix()).await? {
        let Some((bytes, _)) = store.get_bytes(&meta.key).await? else {
            continue;
        };
        match serde_json::from_slice::<Event>(&bytes) {
            Ok(event) => out.push(event),
            Err(e) => tracing::warn!(key = %meta.key, error = %e, "not an event; skipped"),
        }
    }
    out.sort_by(|a, b| (&a.time, &a.id).cmp(&(&b.time, &b.id)));
    Ok(out)
}

/// Where delivered events go: on AWS the stack's EventBridge bus.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Puts `event` on the bus; `Ok` once the bus has taken it.
    async fn put(&self, event: &Event) -> Result<(), StepError>;
}

/// What delivering one outbox record came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivered {
    /// On the bus.
    Sent(Event),
    /// The record is gone (expired from the outbox): nothing to deliver.
    Gone,
}

/// Delivers the outbox record at `key` to `bus`. A key outside the outbox, or a record that
/// is not an event, is `Internal`: whatever sent it is misconfigured.
pub async fn deliver(
    store: &dyn ObjectStore,
    bus: &dyn Bus,
    key: &str,
) -> Result<Delivered, StepError> {
    let prefix = layout::outbox_prefix();
    if !key.starts_with(&prefix) || !key.ends_with(".json") {
        return Err(StepError::internal(format!(
            "{key:?} is not an outbox record (they are {prefix}<id>.json)"
        )));
    }
    let Some((bytes, _)) = store.get_bytes(key).await? else {
        return Ok(Delivered::Gone);
    };
    let event: Event = serde_json::from_slice(&bytes)
        .map_err(|e| StepError::internal(format!("{key} is not an event: {e}")))?;
    bus.put(&event).await?;
    Ok(Delivered::Sent(event))
}

fn object_fields(object: &ObjectVersion) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("key".into(), json!(object.key));
    m.insert("bucket".into(), json!(object.bucket));
    if let Some(v) = &object.version_id {
        m.insert("version_id".into(), json!(v));
    }
    m.insert("etag".into(), json!(object.etag));
    m
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn millis(time: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(time)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// RFC 3339 (UTC, milliseconds) of milliseconds since the epoch.
fn rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// `FileCommitted`: `object`'s rows are visible in `table` from `snapshot_id`, committed at
/// `snapshot_ms`; `rows` committed and `rejected`.
pub fn file_committed(
    table: &str,
    object: &ObjectVersion,
    snapshot_id: i64,
    snapshot_ms: Option<i64>,
    rows: u64,
    rejected: u64,
) -> Event {
    let time = snapshot_ms
        .and_then(rfc3339)
        .unwrap_or_else(|| object.last_modified.clone());
    let mut detail = object_fields(object);
    detail.insert("snapshot_id".into(), json!(snapshot_id));
    detail.insert("rows_committed".into(), json!(rows));
    detail.insert("rows_rejected".into(), json!(rejected));
    // From the object's arrival in the bucket to its rows' commit.
    if let (Some(at), Some(done)) = (millis(&object.last_modified), snapshot_ms) {
        detail.insert("lag_ms".into(), json!((done - at).max(0)));
    }
    let snapshot = snapshot_id.to_string();
    Event::new(
        EventType::FileCommitted,
        &[&object.ledger_key(), &snapshot],
        time,
        Some(table),
        Value::Object(detail),
    )
}

/// Writes the `FileCommitted` event of `record` when it says committed (else nothing): every
/// step that finds a version committed calls it, the committer that moved the record first of
/// all, so a crash between a transition and its event, or a version committed in another
/// execution's group, still has its event, once. `snapshot_ms` is the snapshot's commit time
/// when the caller knows it (else the record's).
pub async fn emit_committed(
    store: &dyn ObjectStore,
    record: &sluice_core::ledger::LedgerRecord,
    snapshot_ms: Option<i64>,
) -> Result<(), StepError> {
    let (sluice_core::ledger::LedgerState::Committed { snapshot_id }, Some(table)) =
        (&record.state, &record.table)
    else {
        return Ok(());
    };
    let rows = record.rows.clone().unwrap_or_default();
    let at = snapshot_ms.or_else(|| millis(&record.updated_at));
    emit(
        store,
        &file_committed(
            table,
            &record.object,
            *snapshot_id,
            at,
            rows.valid,
            rows.rejected,
        ),
    )
    .await
}

/// `FileQuarantined`: `object` waits in quarantine as `reason` (its `replays`-th time through).
#[allow(clippy::too_many_arguments)]
pub fn file_quarantined(
    table: Option<&str>,
    object: &ObjectVersion,
    reason: &str,
    detail_text: &str,
    record_key: &str,
    rejects_key: Option<&str>,
    replays: u32,
    at: String,
) -> Event {
    let mut detail = object_fields(object);
    detail.insert("reason".into(), json!(reason));
    detail.insert("detail".into(), json!(detail_text));
    detail.insert("record_key".into(), json!(record_key));
    if let Some(r) = rejects_key {
        detail.insert("rejects_key".into(), json!(r));
    }
    let replays = replays.to_string();
    Event::new(
        EventType::FileQuarantined,
        &[&object.ledger_key(), reason, &replays],
        at,
        table,
        Value::Object(detail),
    )
}

/// `SchemaEvolved`: table `table` (its Iceberg uuid) went from schema `from` to `to`, adding
/// `added`, because of `cause` (an object key, or a drift change's id).
pub fn schema_evolved(
    table: &str,
    table_uuid: &str,
    from: i32,
    to: i32,
    added: &[String],
    cause: &str,
    at: String,
) -> Event {
    let to_text = to.to_string();
    Event::new(
        EventType::SchemaEvolved,
        &[table_uuid, &to_text],
        at,
        Some(table),
        json!({
            "previous_schema_id": from,
            "schema_id": to,
            "added": added,
            "cause": cause,
        }),
    )
}

/// `ArrivalReceived`: the webhook API wrote a body as `object` of `table`.
pub fn arrival_received(
    table: &str,
    id: &str,
    key: &str,
    bytes: u64,
    content_type: &str,
    at: String,
) -> Event {
    Event::new(
        EventType::ArrivalReceived,
        &[table, id],
        at,
        Some(table),
        json!({
            "arrival_id": id,
            "key": key,
            "bytes": bytes,
            "content_type": content_type,
        }),
    )
}

/// Where a stream object's records came from.
#[derive(Debug, Clone, Copy)]
pub struct StreamOrigin<'a> {
    /// `kinesis` or `kafka`.
    pub kind: &'a str,
    /// The stream's name, or the topic.
    pub source: &'a str,
    /// The shard id, or the partition.
    pub shard: &'a str,
    /// The first and last sequence numbers (offsets) in the object.
    pub first: &'a str,
    pub last: &'a str,
    pub records: usize,
}

/// `ArrivalReceived` for an object the stream receiver wrote from a batch of records.
pub fn stream_received(
    table: &str,
    id: &str,
    key: &str,
    bytes: u64,
    origin: StreamOrigin<'_>,
    at: String,
) -> Event {
    let mut event = arrival_received(table, id, key, bytes, "application/x-ndjson", at);
    event.detail["stream"] = json!({
        "kind": origin.kind,
        "source": origin.source,
        "shard": origin.shard,
        "first": origin.first,
        "last": origin.last,
        "records": origin.records,
    });
    event
}

/// `SchemaDriftPending`: the first file blocked by change `change_id` of `table` is in
/// quarantine; `changes` as `sluice drift list` shows them.
pub fn drift_pending(
    table: &str,
    change_id: &str,
    changes: Value,
    first_key: &str,
    at: String,
) -> Event {
    Event::new(
        EventType::SchemaDriftPending,
        &[table, change_id],
        at,
        Some(table),
        json!({
            "change_id": change_id,
            "changes": changes,
            "first_key": first_key,
        }),
    )
}

/// `WatermarkAdvanced`: every object that landed under `table`'s prefix up to `watermark`
/// is committed, filtered or quarantined (it was `previous`).
pub fn watermark_advanced(
    table: &str,
    watermark: &str,
    previous: Option<&str>,
    mark: &crate::reconcile::Watermark,
) -> Event {
    Event::new(
        EventType::WatermarkAdvanced,
        &[table, watermark],
        mark.at.clone(),
        Some(table),
        json!({
            "watermark": watermark,
            "previous": previous,
            "objects": mark.objects,
            "unfinished": mark.unfinished,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(version: &str) -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: None,
            etag: version.into(),
            size: 10,
            sequencer: None,
            last_modified: "2026-03-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn the_same_transition_has_the_same_id_and_another_another() {
        let a = file_committed("orders", &object("e1"), 7, Some(1_772_359_201_500), 3, 1);
        let again = file_committed("orders", &object("e1"), 7, None, 3, 1);
        assert_eq!(a.id, again.id);
        assert_ne!(
            a.id,
            file_committed("orders", &object("e2"), 7, None, 3, 1).id
        );
        assert_ne!(
            a.id,
            file_committed("orders", &object("e1"), 8, None, 3, 1).id
        );
        assert_eq!(a.detail["lag_ms"], 1500);
        assert_eq!(a.time, "2026-03-01T10:00:01.500Z");
        let q = |replays| {
            file_quarantined(
                Some("orders"),
                &object("e1"),
                "parse_error",
                "",
                "k",
                None,
                replays,
                "t".into(),
            )
        };
        assert_eq!(q(0).id, q(0).id);
        assert_ne!(
            q(0).id,
            q(1).id,
            "a replay quarantined again is another transition"
        );
        assert_eq!(
            "filecommitted".parse::<EventType>(),
            Ok(EventType::FileCommitted)
        );
        assert!("Nope"
            .parse::<EventType>()
            .unwrap_err()
            .contains("FileCommitted"));
    }

    #[derive(Default)]
    struct Kept(std::sync::Mutex<Vec<Event>>);

    #[async_trait]
    impl Bus for Kept {
        async fn put(&self, event: &Event) -> Result<(), StepError> {
            self.0.lock().unwrap().push(event.clone());
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_outbox_record_is_delivered_as_written_and_nothing_else_is() {
        let dir = tempfile::tempdir().unwrap();
        let store = sluice_store::LocalStore::new(dir.path().join("b"), "b").unwrap();
        let event = file_committed("orders", &object("e1"), 7, None, 3, 0);
        emit(&store, &event).await.unwrap();
        emit(&store, &event).await.unwrap();
        let bus = Kept::default();
        let key = layout::outbox_event(&event.id);
        assert_eq!(
            deliver(&store, &bus, &key).await.unwrap(),
            Delivered::Sent(event.clone())
        );
        assert_eq!(*bus.0.lock().unwrap(), vec![event]);
        let gone = layout::outbox_event("e0");
        assert_eq!(deliver(&store, &bus, &gone).await.unwrap(), Delivered::Gone);
        for wrong in ["orders/a.ndjson", ".sluice/ledger/ab/x.json"] {
            let e = deliver(&store, &bus, wrong).await.unwrap_err();
            assert!(e.to_string().contains("not an outbox record"), "{e}");
        }
        assert_eq!(bus.0.lock().unwrap().len(), 1);
    }
}
