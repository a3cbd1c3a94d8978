//! Stream batches and webhook retries through faults: records delivered by a stream that
//! retries batches, retries them partially from a failed record, moves its iterator back
//! (replays), while the bucket fails writes at random points (an object written and its
//! checkpoint not, an index written and its object not); webhook bodies sent again with the
//! same key, or without one. Every object is then ingested (some arrivals twice): each good
//! record must be one row, each bad one a rejected line that names its shard and sequence.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng as _;
use sluice_steps::receive;
use sluice_steps::stream::{self, SourceKind, StreamRecord};
use sluice_store::{Conditional, GetObject, Listing, ObjectMeta, ObjectStore, StoreError};
use sluice_tests::chaos::{env_u64, rng, DEFAULT_SEED};
use sluice_tests::{ndjson, order, Harness};

/// The bucket, failing each write with probability `1 / every` while armed.
#[derive(Debug)]
struct Flaky {
    inner: Arc<dyn ObjectStore>,
    every: u64,
    state: AtomicU64,
    failed: AtomicU64,
}

impl Flaky {
    fn fail_now(&self, key: &str) -> Result<(), StoreError> {
        if self.every == 0 {
            return Ok(());
        }
        // A small xorshift: deterministic from the schedule's seed.
        let mut x = self.state.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::SeqCst);
        if x.is_multiple_of(self.every) {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Service {
                key: key.to_string(),
                code: "InternalError".into(),
                message: "injected".into(),
                transient: true,
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ObjectStore for Flaky {
    fn bucket(&self) -> &str {
        self.inner.bucket()
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head(key).await
    }
    async fn head_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head_version(key, version_id).await
    }
    async fn get(&self, key: &str) -> Result<GetObject, StoreError> {
        self.inner.get(key).await
    }
    async fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<GetObject, StoreError> {
        self.inner.get_version(key, version_id).await
    }
    async fn get_bytes(&self, key: &str) -> Result<Option<(Bytes, ObjectMeta)>, StoreError> {
        self.inner.get_bytes(key).await
    }
    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        self.fail_now(key)?;
        self.inner.put(key, body).await
    }
    async fn put_file(&self, key: &str, path: &Path) -> Result<ObjectMeta, StoreError> {
        self.fail_now(key)?;
        self.inner.put_file(key, path).await
    }
    async fn create_if_absent(&self, key: &str, body: Bytes) -> Result<Conditional, StoreError> {
        self.fail_now(key)?;
        self.inner.create_if_absent(key, body).await
    }
    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
    ) -> Result<Conditional, StoreError> {
        self.fail_now(key)?;
        self.inner.put_if_match(key, body, etag).await
    }
    async fn listing(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.inner.listing(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
}

/// One shard's records: `(sequence number, bytes, good)`; every 40th record is bad (not JSON,
/// or a row its contract rejects).
fn shard_records(shard: u64, n: u64) -> Vec<(String, Vec<u8>, bool)> {
    (0..n)
        .map(|i| {
            let id = shard * 100_000 + i + 1;
            let seq = format!("4959{:020}{:032}", shard, 1_000 + i * 7);
            match i % 40 {
                13 => (seq, b"{\"order_id\": oops".to_vec(), false),
                29 => {
                    let mut row = order(id);
                    row["amount"] = "a lot".into();
                    (seq, row.to_string().into_bytes(), false)
                }
                _ => (seq, order(id).to_string().into_bytes(), true),
            }
        })
        .collect()
}

fn batch(shard: u64, records: &[(String, Vec<u8>, bool)]) -> Vec<StreamRecord> {
    records
        .iter()
        .map(|(seq, data, _)| StreamRecord {
            kind: SourceKind::Kinesis,
            source: "orders".into(),
            shard: format!("shardId-{shard:012}"),
            position: seq.clone(),
            data: Bytes::from(data.clone()),
            key: Some(format!("pk-{shard}")),
            arrived_ms: None,
        })
        .collect()
}

#[tokio::test]
async fn stream_batches_retried_split_and_replayed_through_write_faults_load_each_record_once() {
    let schedules = env_u64("STREAM_SCHEDULES", 12);
    let base = env_u64("CHAOS_SEED", DEFAULT_SEED);
    let mut failures = vec![];
    let mut faults = 0;
    for s in 0..schedules {
        let seed = base.wrapping_add(s);
        let mut r = rng(seed);
        let h = Harness::orders().await;
        let flaky = Flaky {
            inner: h.ctx.store.clone(),
            every: r.random_range(3..9),
            state: AtomicU64::new(seed | 1),
            failed: AtomicU64::new(0),
        };
        let shards: Vec<Vec<(String, Vec<u8>, bool)>> =
            (0..2).map(|shard| shard_records(shard, 160)).collect();
        // The stream: per shard, where its iterator stands.
        let mut at = [0usize; 2];
        let mut rounds = 0;
        while at.iter().zip(&shards).any(|(a, s)| *a < s.len()) {
            rounds += 1;
            assert!(rounds < 10_000, "seed {seed}: the stream never drained");
            let shard = r.random_range(0..2usize);
            let records = &shards[shard];
            if at[shard] >= records.len() {
                continue;
            }
            // Now and then the iterator moves back (a replay, a re-balance).
            if r.random_bool(0.08) {
                at[shard] = at[shard].saturating_sub(r.random_range(1..60));
            }
            let end = (at[shard] + r.random_range(20..60)).min(records.len());
            let delivered = batch(shard as u64, &records[at[shard]..end]);
            let now = "2026-12-07T00:00:00Z";
            match stream::receive_batch(&flaky, &h.ctx.config, delivered, now).await {
                // A failed invocation: Lambda delivers the whole batch again.
                Err(_) => {}
                Ok(report) => match report.failed.first() {
                    // Partial: delivered again from the failed record on.
                    Some(f) => {
                        at[shard] = records
                            .iter()
                            .position(|(seq, _, _)| *seq == f.position)
                            .expect("a failed record of the batch");
                    }
                    // The answer is lost now and then: the same batch comes again.
                    None if r.random_bool(0.1) => {}
                    None => at[shard] = end,
                },
            }
        }
        faults += flaky.failed.load(Ordering::SeqCst);

        // Every object is ingested; a third of them twice (a duplicate S3 event).
        let objects = h.ctx.store.list("orders/stream/").await.unwrap();
        // Each object has its ArrivalReceived, once, with its records counted, whatever
        // attempt wrote it.
        let events = sluice_steps::events::list(h.ctx.store.as_ref())
            .await
            .unwrap();
        for meta in &objects {
            let about: Vec<_> = events
                .iter()
                .filter(|e| e.detail["key"] == meta.key.as_str())
                .collect();
            let (bytes, _) = h.ctx.store.get_bytes(&meta.key).await.unwrap().unwrap();
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
            if about.len() != 1 || about[0].detail["stream"]["records"] != lines {
                failures.push(format!(
                    "seed {seed}: {} has {} ArrivalReceived events ({:?}), {lines} lines",
                    meta.key,
                    about.len(),
                    about
                        .iter()
                        .map(|e| &e.detail["stream"])
                        .collect::<Vec<_>>()
                ));
            }
        }
        for meta in &objects {
            h.arrive(&meta.key, &meta.etag).await;
            if r.random_bool(0.3) {
                h.arrive(&meta.key, &meta.etag).await;
            }
        }
        let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
        for row in h.rows().await {
            *seen.entry(row["order_id"].as_u64().unwrap()).or_default() += 1;
        }
        let want: Vec<u64> = shards
            .iter()
            .enumerate()
            .flat_map(|(shard, records)| {
                records
                    .iter()
                    .enumerate()
                    .filter(|(_, (_, _, good))| *good)
                    .map(move |(i, _)| shard as u64 * 100_000 + i as u64 + 1)
            })
            .collect();
        let missing: Vec<_> = want.iter().filter(|id| !seen.contains_key(id)).collect();
        let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
        if !missing.is_empty() || !twice.is_empty() || seen.len() != want.len() {
            failures.push(format!(
                "seed {seed}: {} rows for {} good records; missing {missing:?}, repeated {twice:?}",
                seen.len(),
                want.len()
            ));
        }
        // Each bad record is one rejected line, which its index maps back to its sequence
        // number.
        let bad: Vec<&String> = shards
            .iter()
            .flat_map(|records| {
                records
                    .iter()
                    .filter(|(_, _, good)| !*good)
                    .map(|(s, _, _)| s)
            })
            .collect();
        let mut rejected = vec![];
        for record in h.ctx.ledger.list().await.unwrap() {
            let Some(key) = &record.rejects_key else {
                continue;
            };
            for row in h.rejects(key).await {
                let line = row["line"].as_u64().unwrap() as usize;
                let (_, at) = stream::record_at(
                    h.ctx.store.as_ref(),
                    &h.ctx.config,
                    &record.object.key,
                    line,
                )
                .await
                .unwrap()
                .expect("the object's index names the line's record");
                rejected.push(at.position);
            }
        }
        rejected.sort();
        let mut bad: Vec<String> = bad.into_iter().cloned().collect();
        bad.sort();
        if rejected != bad {
            failures.push(format!(
                "seed {seed}: rejected {} records, {} were bad",
                rejected.len(),
                bad.len()
            ));
        }
    }
    assert!(
        faults > 0,
        "no fault was injected: the suite proves nothing"
    );
    assert!(failures.is_empty(), "{failures:#?}");
    let line = format!(
        "chaos streams: {schedules} schedules (seed {base}), {faults} write faults injected, \
         every good record one row, every bad one rejected with its sequence number"
    );
    sluice_tests::chaos::summary(&line);
}

#[tokio::test]
async fn webhook_retries_with_and_without_a_key_load_each_body_once() {
    let h = Harness::orders().await;
    let mut r = rng(DEFAULT_SEED);
    let mut sends = vec![];
    for b in 0..24u64 {
        let body = ndjson((0..5).map(|i| order(b * 10 + i + 1)));
        let key = (b % 3 != 0).then(|| format!("delivery-{b}"));
        for _ in 0..r.random_range(1..4) {
            sends.push((key.clone(), body.clone()));
        }
    }
    // Retries arrive out of order, as a sender's retry queue sends them.
    for i in (1..sends.len()).rev() {
        let j = r.random_range(0..=i);
        sends.swap(i, j);
    }
    let mut ids = BTreeMap::new();
    for (key, body) in &sends {
        let got = receive::receive(
            h.ctx.store.as_ref(),
            &h.ctx.config,
            receive::Request {
                table: "orders",
                content_type: Some("application/x-ndjson"),
                content_encoding: None,
                idempotency_key: key.as_deref(),
                body: Bytes::from(body.clone()),
            },
            1 << 20,
        )
        .await
        .unwrap();
        let id = ids.entry(got.id.clone()).or_insert(got.key.clone());
        assert_eq!(*id, got.key, "one id, one key");
        // Each receipt runs the arrival (a retried body is a duplicate arrival).
        let meta = h.ctx.store.head(&got.key).await.unwrap().unwrap();
        h.arrive(&got.key, &meta.etag).await;
    }
    assert_eq!(ids.len(), 24, "one arrival per body");
    let mut order_ids: Vec<u64> = h
        .rows()
        .await
        .iter()
        .map(|row| row["order_id"].as_u64().unwrap())
        .collect();
    order_ids.sort();
    let want: Vec<u64> = (0..24u64)
        .flat_map(|b| (0..5).map(move |i| b * 10 + i + 1))
        .collect();
    assert_eq!(order_ids, want, "each row once");
}
