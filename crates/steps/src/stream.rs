//! Arrivals that come as stream records (a Kinesis shard's, a Kafka partition's), by
//! claim-check: each batch the stream delivers becomes, per table its records route to, one
//! NDJSON object under the table's prefix, and from there goes the way of every object (its
//! S3 event starts an ingestion; its rows are judged by the table's contract, and a bad record
//! is rejected alone, with the line that names it, while the good ones commit: a table's
//! `max_invalid_ratio` quarantines a stream object only when none of its records is good).
//! Nothing but keys travels further.
//!
//! The object's key is decided by the records: `<table prefix>stream/<kind>/<source>/<shard>/
//! <first>-<last>.ndjson`, the first and last sequence numbers (offsets) it holds, zero-padded. Exactly
//! once holds across retries, partial-batch retries, re-balances and replays because, per
//! table, source and shard, a checkpoint records the highest position written
//! (`.sluice/streams/<ns>.<table>/<source>/<shard>/checkpoint.json`, replaced by
//! compare-and-swap), and records at or below it are duplicates, skipped. A crash between an
//! object and its checkpoint is found on the retry: the retry's first record is the first of
//! the object written (Lambda retries a batch from its first failed record), so an object whose
//! key starts at that position is looked for and counted as written.
//!
//! Beside each object an index (`.../<first>-<last>.json`) maps its lines to the records'
//! positions, so a rejected line names its shard and sequence number (`sluice rejects`).
//!
//! One receiver per shard at a time (a Kinesis mapping's parallelization factor of 1, Kafka's
//! partition assignment): a second one racing on a shard loses the checkpoint's swap, and its
//! batch is retried.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::config::{Config, StreamConfig, TableConfig};
use sluice_core::layout;
use sluice_store::{Conditional, ObjectStore};

use crate::error::{StepError, StepErrorKind};

/// Where under a table's prefix stream objects are written.
pub const STREAM_DIR: &str = "stream/";

/// Positions are zero-padded to this many digits in keys (an i64 offset has at most 19; a
/// Kinesis sequence number is longer and is written as it is).
const PAD: usize = 20;

/// What kind of stream delivered a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Kinesis,
    Kafka,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Kinesis => "kinesis",
            SourceKind::Kafka => "kafka",
        }
    }
}

/// One record as the stream delivered it.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub kind: SourceKind,
    /// The Kinesis stream's name, or the Kafka topic.
    pub source: String,
    /// The Kinesis shard id, or the Kafka partition's number.
    pub shard: String,
    /// The sequence number, or the offset, in decimal digits.
    pub position: String,
    /// The record's bytes (decoded from the event's base64).
    pub data: Bytes,
    /// The partition key, or the Kafka key as delivered (base64).
    pub key: Option<String>,
    /// When the stream took the record, milliseconds since the epoch.
    pub arrived_ms: Option<i64>,
}

/// Compares two positions (decimal digits of any length) as numbers.
pub fn compare_positions(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn is_position(p: &str) -> bool {
    !p.is_empty() && p.len() <= 256 && p.bytes().all(|b| b.is_ascii_digit())
}

fn padded(p: &str) -> String {
    let p = p.trim_start_matches('0');
    let p = if p.is_empty() { "0" } else { p };
    format!("{p:0>PAD$}")
}

/// A key segment for a source or shard name: letters, digits, `.`, `_` and `-` are kept (every
/// Kinesis stream, shard and Kafka topic name is made of those); anything else is replaced,
/// and a short hash of the name keeps two such names apart.
fn segment(name: &str) -> String {
    let kept: String = name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if kept == name && name != "." && name != ".." && !name.is_empty() {
        return kept;
    }
    let hash = Sha256::digest(name.as_bytes());
    format!("{kept}~{}", hex::encode(&hash[..4]))
}

/// Whether `key` is one of the stream receiver's objects of `table` (under its `stream/`).
/// Their records are independent messages: `max_invalid_ratio` does not quarantine such an
/// object while any of its records is good; the bad ones are rejected, each alone.
pub fn is_stream_object(table: &TableConfig, key: &str) -> bool {
    key.strip_prefix(&table.prefix)
        .is_some_and(|rest| rest.starts_with(STREAM_DIR))
}

/// The directory of one table's objects from one shard.
pub fn objects_dir(table: &TableConfig, kind: SourceKind, source: &str, shard: &str) -> String {
    format!(
        "{}{STREAM_DIR}{}/{}/{}/",
        table.prefix,
        kind.as_str(),
        segment(source),
        segment(shard)
    )
}

fn control_dir(table: &TableConfig, kind: SourceKind, source: &str, shard: &str) -> String {
    format!(
        "{}{}.{}/{}/{}/{}/",
        layout::streams_prefix(),
        table.namespace,
        table.name,
        kind.as_str(),
        segment(source),
        segment(shard)
    )
}

/// A shard's checkpoint for one table: the highest position written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub position: String,
    /// The object that holds it.
    pub object: String,
}

/// An object's index: its lines' records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub object: String,
    pub kind: SourceKind,
    pub source: String,
    pub shard: String,
    /// Line `n` (from 1) is `records[n - 1]`.
    pub records: Vec<IndexedRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexedRecord {
    pub position: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_ms: Option<i64>,
}

/// One object written (or found written) by a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub table: String,
    pub key: String,
    pub records: usize,
    pub first: String,
    pub last: String,
    /// Written before, by an earlier attempt at the same records.
    pub repeated: bool,
}

/// A record the stream must deliver again (with every later one of its shard).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub kind: SourceKind,
    pub source: String,
    pub shard: String,
    pub position: String,
    /// Why, for the log.
    pub reason: String,
}

/// What a batch came to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BatchReport {
    pub records: usize,
    pub written: Vec<Written>,
    /// Records at or below their shard's checkpoint: delivered before, skipped.
    pub duplicates: usize,
    /// Per shard, the first record not written: the stream's partial-batch failure.
    pub failed: Vec<Failed>,
}

/// The line a record becomes: its bytes when they are one line; a JSON document over several
/// lines, re-written compactly; anything else with its line breaks turned into spaces (it is
/// not JSON, and its contract rejects it, with the line). An empty record is `null`.
fn line_of(data: &[u8]) -> Vec<u8> {
    let trimmed = data.trim_ascii();
    if trimmed.is_empty() {
        return b"null".to_vec();
    }
    if !trimmed.iter().any(|&b| b == b'\n' || b == b'\r') {
        return trimmed.to_vec();
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(trimmed) {
        if let Ok(compact) = serde_json::to_vec(&value) {
            return compact;
        }
    }
    trimmed
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect()
}

/// The table a record goes to: the value of the stream's route field when it names a table,
/// else the stream's table.
fn route<'c>(config: &'c Config, stream: &StreamConfig, data: &[u8]) -> Option<&'c TableConfig> {
    if let Some(field) = &stream.route_field {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(data) {
            if let Some(serde_json::Value::String(name)) = map.get(field) {
                if let Some(table) = config.table(name) {
                    return Some(table);
                }
            }
        }
    }
    config.table(&stream.table)
}

/// Writes a batch of stream records into objects, once: see the module's documentation.
/// Records of several shards may come together (a Kafka batch holds several partitions);
/// within a shard, they are taken in position order. A shard whose objects could not all be
/// written is reported in [`BatchReport::failed`] from its first record not written; the
/// others' are written.
pub async fn receive_batch(
    store: &dyn ObjectStore,
    config: &Config,
    records: Vec<StreamRecord>,
    now: &str,
) -> Result<BatchReport, StepError> {
    let mut report = BatchReport {
        records: records.len(),
        ..BatchReport::default()
    };
    let mut shards: BTreeMap<(SourceKind, String, String), Vec<StreamRecord>> = BTreeMap::new();
    for record in records {
        if !is_position(&record.position) {
            return Err(StepError::new(
                StepErrorKind::Internal,
                format!(
                    "a record of {} shard {:?} has position {:?}, not a decimal number",
                    record.source, record.shard, record.position
                ),
            ));
        }
        shards
            .entry((record.kind, record.source.clone(), record.shard.clone()))
            .or_default()
            .push(record);
    }
    for ((kind, source, shard), mut records) in shards {
        records.sort_by(|a, b| compare_positions(&a.position, &b.position));
        records.dedup_by(|a, b| compare_positions(&a.position, &b.position) == Ordering::Equal);
        let fail = |position: &str, reason: String| Failed {
            kind,
            source: source.clone(),
            shard: shard.clone(),
            position: position.to_string(),
            reason,
        };
        let Some(stream) = config.stream(&source) else {
            report.failed.push(fail(
                &records[0].position,
                format!(
                    "no [[stream]] names source {source:?}, no table is named so, and there is \
                     more than one table"
                ),
            ));
            continue;
        };
        let mut by_table: BTreeMap<String, Vec<StreamRecord>> = BTreeMap::new();
        for record in records {
            let Some(table) = route(config, &stream, &record.data) else {
                return Err(StepError::new(
                    StepErrorKind::Internal,
                    format!("stream {source:?}: no table {:?}", stream.table),
                ));
            };
            by_table.entry(table.name.clone()).or_default().push(record);
        }
        let mut first_failed: Option<Failed> = None;
        for (table, records) in by_table {
            let Some(table) = config.table(&table) else {
                continue;
            };
            let first = records[0].position.clone();
            match write_table(store, table, kind, &source, &shard, records, now).await {
                Ok((written, duplicates)) => {
                    report.duplicates += duplicates;
                    report.written.extend(written);
                }
                Err(e) => {
                    tracing::warn!(
                        table = %table.name, source = %source, shard = %shard,
                        error = %e, "stream records not written; the stream delivers them again"
                    );
                    let lower = first_failed
                        .as_ref()
                        .is_none_or(|f| compare_positions(&first, &f.position) == Ordering::Less);
                    if lower {
                        first_failed = Some(fail(&first, format!("{}: {e}", table.name)));
                    }
                }
            }
        }
        report.failed.extend(first_failed);
    }
    Ok(report)
}

/// Writes one table's records of one shard: skips those at or below the checkpoint and those
/// of an object an earlier attempt wrote, writes the rest as one object, moves the checkpoint.
async fn write_table(
    store: &dyn ObjectStore,
    table: &TableConfig,
    kind: SourceKind,
    source: &str,
    shard: &str,
    mut records: Vec<StreamRecord>,
    now: &str,
) -> Result<(Vec<Written>, usize), StepError> {
    let control = control_dir(table, kind, source, shard);
    let checkpoint_key = format!("{control}checkpoint.json");
    let objects = objects_dir(table, kind, source, shard);
    let (checkpoint, etag) = match store.get_bytes(&checkpoint_key).await? {
        Some((bytes, meta)) => {
            let checkpoint: Checkpoint = serde_json::from_slice(&bytes).map_err(|e| {
                StepError::internal(format!(
                    "the checkpoint {checkpoint_key} is unreadable: {e}"
                ))
            })?;
            (Some(checkpoint), Some(meta.etag))
        }
        None => (None, None),
    };
    let before = records.len();
    if let Some(c) = &checkpoint {
        records.retain(|r| compare_positions(&r.position, &c.position) == Ordering::Greater);
    }
    let duplicates = before - records.len();
    let mut written = vec![];
    let mut high: Option<(String, String)> = None;
    // Objects an earlier attempt wrote and could not checkpoint: each starts at the first
    // record left.
    while let Some(first) = records.first() {
        let start = format!("{objects}{}-", padded(&first.position));
        let Some(found) = store.list(&start).await?.into_iter().next() else {
            break;
        };
        let last = found
            .key
            .strip_prefix(&start)
            .and_then(|rest| rest.strip_suffix(".ndjson"))
            .filter(|p| is_position(p))
            .ok_or_else(|| {
                StepError::internal(format!("{} is not a stream object's key", found.key))
            })?
            .to_string();
        let count = records
            .iter()
            .take_while(|r| compare_positions(&r.position, &last) != Ordering::Greater)
            .count();
        // Its event, in case the attempt that wrote it stopped before (written only if absent),
        // with its records counted by its index (this batch may end before the object does).
        let name = format!("{}-{}", padded(&first.position), padded(&last));
        let in_object = match store.get_bytes(&format!("{control}{name}.json")).await? {
            Some((bytes, _)) => serde_json::from_slice::<Index>(&bytes)
                .map(|i| i.records.len())
                .unwrap_or(count),
            None => count,
        };
        let object = Object {
            key: &found.key,
            bytes: found.size,
            first: &first.position,
            last: &last,
            records: in_object,
            at: found.last_modified.clone(),
        };
        emit_received(store, &table.name, kind, source, shard, object).await?;
        written.push(Written {
            table: table.name.clone(),
            key: found.key.clone(),
            records: count,
            first: first.position.clone(),
            last: last.clone(),
            repeated: true,
        });
        records.drain(..count);
        high = Some((last, found.key));
    }
    if let (Some(first), Some(last)) = (records.first(), records.last()) {
        let (first, last) = (first.position.clone(), last.position.clone());
        let name = format!("{}-{}", padded(&first), padded(&last));
        let key = format!("{objects}{name}.ndjson");
        let index = Index {
            object: key.clone(),
            kind,
            source: source.to_string(),
            shard: shard.to_string(),
            records: records
                .iter()
                .map(|r| IndexedRecord {
                    position: r.position.clone(),
                    key: r.key.clone(),
                    arrived_ms: r.arrived_ms,
                })
                .collect(),
        };
        let index = serde_json::to_vec(&index)
            .map_err(|e| StepError::internal(format!("an index: {e}")))?;
        // The index first: an object is never without one.
        store
            .create_if_absent(&format!("{control}{name}.json"), Bytes::from(index))
            .await?;
        let mut body = Vec::with_capacity(records.iter().map(|r| r.data.len() + 1).sum());
        for r in &records {
            body.extend_from_slice(&line_of(&r.data));
            body.push(b'\n');
        }
        let bytes = body.len() as u64;
        let (repeated, at) = match store.create_if_absent(&key, Bytes::from(body)).await? {
            Conditional::Done(meta) => (false, meta.last_modified),
            Conditional::PreconditionFailed => (true, now.to_string()),
        };
        let object = Object {
            key: &key,
            bytes,
            first: &first,
            last: &last,
            records: records.len(),
            at,
        };
        emit_received(store, &table.name, kind, source, shard, object).await?;
        written.push(Written {
            table: table.name.clone(),
            key: key.clone(),
            records: records.len(),
            first,
            last: last.clone(),
            repeated,
        });
        high = Some((last, key));
    }
    if let Some((position, object)) = high {
        let body = serde_json::to_vec(&Checkpoint { position, object })
            .map_err(|e| StepError::internal(format!("a checkpoint: {e}")))?;
        let swapped = match &etag {
            Some(etag) => {
                store
                    .put_if_match(&checkpoint_key, Bytes::from(body), etag)
                    .await?
            }
            None => {
                store
                    .create_if_absent(&checkpoint_key, Bytes::from(body))
                    .await?
            }
        };
        if swapped == Conditional::PreconditionFailed {
            return Err(StepError::new(
                StepErrorKind::TransientError,
                format!(
                    "{checkpoint_key} moved while this batch was written: another receiver \
                     takes this shard; the batch is delivered again"
                ),
            ));
        }
    }
    Ok((written, duplicates))
}

/// One stream object, as its `ArrivalReceived` tells it.
struct Object<'a> {
    key: &'a str,
    bytes: u64,
    /// Its first and last positions.
    first: &'a str,
    last: &'a str,
    /// The records it holds (all of them, not only those of this batch).
    records: usize,
    /// When it was written.
    at: String,
}

/// Emits the `ArrivalReceived` of a stream object of `table` from `shard` (written only if
/// absent: an object found written gets it once, whichever attempt emits it).
async fn emit_received(
    store: &dyn ObjectStore,
    table: &str,
    kind: SourceKind,
    source: &str,
    shard: &str,
    object: Object<'_>,
) -> Result<(), StepError> {
    let id = arrival_id(table, kind, source, shard, object.first);
    let origin = crate::events::StreamOrigin {
        kind: kind.as_str(),
        source,
        shard,
        first: object.first,
        last: object.last,
        records: object.records,
    };
    let event =
        crate::events::stream_received(table, &id, object.key, object.bytes, origin, object.at);
    crate::events::emit(store, &event).await
}

/// The arrival id of a stream object (24 hex digits, as a webhook arrival's).
pub fn arrival_id(table: &str, kind: SourceKind, source: &str, shard: &str, first: &str) -> String {
    crate::receive::arrival_id(
        table,
        Some(&format!(
            "stream\0{}\0{source}\0{shard}\0{}",
            kind.as_str(),
            padded(first)
        )),
        b"",
    )
}

/// The record behind line `line` (from 1) of stream object `key`, from its index: `None` when
/// `key` is not a stream object or its index is gone.
pub async fn record_at(
    store: &dyn ObjectStore,
    config: &Config,
    key: &str,
    line: usize,
) -> Result<Option<(Index, IndexedRecord)>, StepError> {
    let Some(index) = index_of(store, config, key).await? else {
        return Ok(None);
    };
    let record = line
        .checked_sub(1)
        .and_then(|i| index.records.get(i))
        .cloned();
    Ok(record.map(|r| (index, r)))
}

/// The index of stream object `key`, if it is one and its index exists.
pub async fn index_of(
    store: &dyn ObjectStore,
    config: &Config,
    key: &str,
) -> Result<Option<Index>, StepError> {
    let Some(table) = config.route(key) else {
        return Ok(None);
    };
    let Some(rest) = key
        .strip_prefix(&table.prefix)
        .and_then(|r| r.strip_prefix(STREAM_DIR))
    else {
        return Ok(None);
    };
    // <kind>/<source>/<shard>/<first>-<last>.ndjson
    let parts: Vec<&str> = rest.split('/').collect();
    let [kind, source, shard, file] = parts[..] else {
        return Ok(None);
    };
    let Some(name) = file.strip_suffix(".ndjson") else {
        return Ok(None);
    };
    let index_key = format!(
        "{}{}.{}/{kind}/{source}/{shard}/{name}.json",
        layout::streams_prefix(),
        table.namespace,
        table.name
    );
    let Some((bytes, _)) = store.get_bytes(&index_key).await? else {
        return Ok(None);
    };
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| StepError::internal(format!("the index {index_key} is unreadable: {e}")))?;
    Ok((index.object == key).then_some(index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_compare_as_numbers_of_any_length() {
        assert_eq!(compare_positions("9", "10"), Ordering::Less);
        assert_eq!(compare_positions("007", "7"), Ordering::Equal);
        let a = "49590338271490256608559692538361571095921575989136588898";
        let b = "49590338271490256608559692540925702759324208523137515618";
        assert_eq!(compare_positions(a, b), Ordering::Less);
        assert_eq!(padded("5"), "00000000000000000005");
        assert_eq!(padded(a), a);
        assert!(!is_position("12a"));
        assert!(!is_position(""));
    }

    #[test]
    fn names_that_are_not_plain_segments_cannot_reach_another_key() {
        assert_eq!(segment("shardId-000000000001"), "shardId-000000000001");
        assert_eq!(segment("orders.v1_topic"), "orders.v1_topic");
        for hostile in ["../etc", "a/b", "..", ".", "", "a\0b"] {
            let s = segment(hostile);
            assert!(
                !s.contains('/') && s != ".." && s != "." && !s.is_empty(),
                "{s}"
            );
        }
        assert_ne!(segment("a/b"), segment("a_b"));
    }

    fn config(extra: &str) -> Config {
        let text = format!(
            "[[table]]\nname = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\ncontract = \"o.json\"\n\
             [[table]]\nname = \"refunds\"\nprefix = \"refunds/\"\nformat = \"ndjson\"\ncontract = \"r.json\"\n{extra}"
        );
        Config::parse(
            &text,
            std::path::Path::new("sluice.toml"),
            Default::default(),
        )
        .unwrap()
    }

    fn kinesis(shard: &str, from: u64, to: u64) -> Vec<StreamRecord> {
        (from..=to)
            .map(|n| StreamRecord {
                kind: SourceKind::Kinesis,
                source: "clicks".into(),
                shard: shard.into(),
                position: format!("4959{n:030}"),
                data: Bytes::from(format!(
                    "{{\"n\":{n},\"kind\":\"{}\"}}",
                    if n % 3 == 0 { "refunds" } else { "orders" }
                )),
                key: Some(format!("k{n}")),
                arrived_ms: Some(1_700_000_000_000),
            })
            .collect()
    }

    /// Every record's `n`, over every object written under `prefix`, in key order.
    async fn rows(store: &dyn ObjectStore, prefix: &str) -> Vec<u64> {
        let mut out = vec![];
        for meta in store.list(prefix).await.unwrap() {
            let (bytes, _) = store.get_bytes(&meta.key).await.unwrap().unwrap();
            for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                out.push(v["n"].as_u64().unwrap());
            }
        }
        out
    }

    const STREAM: &str = "[[stream]]\nsource = \"clicks\"\ntable = \"orders\"\n";

    #[tokio::test]
    async fn retries_partial_retries_and_replays_write_each_record_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = sluice_store::LocalStore::new(dir.path().join("b"), "b").unwrap();
        let config = config(STREAM);
        let now = "2026-12-07T00:00:00Z";
        let first = receive_batch(&store, &config, kinesis("shardId-000000000000", 1, 10), now)
            .await
            .unwrap();
        assert_eq!((first.written.len(), first.duplicates), (1, 0));
        assert!(first.failed.is_empty());
        // The same batch again (a retry after a lost answer), a partial retry from record 5
        // with newer records, and an iterator moved back to the start.
        let again = receive_batch(&store, &config, kinesis("shardId-000000000000", 1, 10), now)
            .await
            .unwrap();
        assert_eq!((again.written.len(), again.duplicates), (0, 10));
        let partial = receive_batch(&store, &config, kinesis("shardId-000000000000", 5, 15), now)
            .await
            .unwrap();
        assert_eq!(partial.duplicates, 6);
        assert_eq!(partial.written[0].first, format!("4959{:030}", 11));
        receive_batch(&store, &config, kinesis("shardId-000000000000", 1, 15), now)
            .await
            .unwrap();
        assert_eq!(
            rows(&store, "orders/stream/").await,
            (1..=15).collect::<Vec<_>>()
        );
        // Line 2 of the second object is record 12, with its shard and partition key.
        let key = &partial.written[0].key;
        let (index, record) = record_at(&store, &config, key, 2).await.unwrap().unwrap();
        assert_eq!(index.shard, "shardId-000000000000");
        assert_eq!(record.position, format!("4959{:030}", 12));
        assert_eq!(record.key.as_deref(), Some("k12"));
        assert!(record_at(&store, &config, "orders/a.ndjson", 1)
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn an_object_written_before_a_crash_is_found_by_the_retry_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = sluice_store::LocalStore::new(dir.path().join("b"), "b").unwrap();
        let config = config(STREAM);
        let now = "2026-12-07T00:00:00Z";
        let shard = "shardId-000000000001";
        receive_batch(&store, &config, kinesis(shard, 1, 4), now)
            .await
            .unwrap();
        let b = receive_batch(&store, &config, kinesis(shard, 5, 8), now)
            .await
            .unwrap();
        // The crash: the object of 5..=8 is written, its checkpoint is not.
        let table = config.table("orders").unwrap();
        let checkpoint = format!(
            "{}checkpoint.json",
            control_dir(table, SourceKind::Kinesis, "clicks", shard)
        );
        store
            .put(
                &checkpoint,
                Bytes::from(
                    serde_json::to_vec(&Checkpoint {
                        position: format!("4959{:030}", 4),
                        object: String::new(),
                    })
                    .unwrap(),
                ),
            )
            .await
            .unwrap();
        // The retry brings 5..=12: 5..=8 are found written, 9..=12 are new.
        let retry = receive_batch(&store, &config, kinesis(shard, 5, 12), now)
            .await
            .unwrap();
        assert_eq!(retry.written.len(), 2);
        assert!(retry.written[0].repeated && retry.written[0].key == b.written[0].key);
        assert!(!retry.written[1].repeated && retry.written[1].records == 4);
        assert_eq!(
            rows(&store, "orders/stream/").await,
            (1..=12).collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn records_route_by_field_and_an_unknown_source_is_delivered_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = sluice_store::LocalStore::new(dir.path().join("b"), "b").unwrap();
        let config =
            config("[[stream]]\nsource = \"clicks\"\ntable = \"orders\"\nroute_field = \"kind\"\n");
        let now = "2026-12-07T00:00:00Z";
        let report = receive_batch(&store, &config, kinesis("s", 1, 9), now)
            .await
            .unwrap();
        assert_eq!(report.written.len(), 2);
        assert_eq!(rows(&store, "refunds/stream/").await, vec![3, 6, 9]);
        assert_eq!(rows(&store, "orders/stream/").await, vec![1, 2, 4, 5, 7, 8]);
        // Two tables, no [[stream]] for "views", no table named so: not written, delivered
        // again from its first record (a configuration to fix, not data to drop).
        let mut views = kinesis("s", 20, 22);
        for r in &mut views {
            r.source = "views".into();
        }
        let report = receive_batch(&store, &config, views, now).await.unwrap();
        assert!(report.written.is_empty());
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].position, format!("4959{:030}", 20));
        assert!(report.failed[0].reason.contains("no [[stream]]"));
    }

    #[test]
    fn a_record_becomes_one_line() {
        assert_eq!(line_of(b"{\"a\":1}"), b"{\"a\":1}");
        assert_eq!(line_of(b"{\n  \"a\": 1\n}\n"), b"{\"a\":1}");
        assert_eq!(line_of(b"not\njson"), b"not json");
        assert_eq!(line_of(b"  "), b"null");
    }
}
