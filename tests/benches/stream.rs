//! Stream records into objects: the stream receiver's path (`sluice_steps::stream`), fed
//! Kinesis-shaped batches as Lambda delivers them (1,000 records of about 200 bytes, four
//! shards), into the local bucket; then every object ingested by the local engine and the
//! table's rows checked against the records sent (each good one once, the bad ones rejected).
//!
//! `cargo bench -p sluice-tests --bench stream -- [RECORDS] [BATCH]` (`make bench-stream`);
//! prints records/s into objects beside the target (100k/s), and the ingest that follows.

use std::time::Instant;

use bytes::Bytes;
use sluice_steps::stream::{receive_batch, SourceKind, StreamRecord};
use sluice_tests::{order, Harness};

const TARGET: f64 = 100_000.0;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let records = args.first().copied().unwrap_or(200_000);
    let batch = args.get(1).copied().unwrap_or(1_000).max(1);
    let shards = 4u64;
    let h = Harness::orders().await;
    // Every 500th record breaks the contract (its amount is text).
    let make = |n: u64| {
        let mut row = order(n + 1);
        if n % 500 == 499 {
            row["amount"] = "n/a".into();
        }
        StreamRecord {
            kind: SourceKind::Kinesis,
            source: "orders".into(),
            shard: format!("shardId-{:012}", n % shards),
            position: format!("4959{:052}", n),
            data: Bytes::from(row.to_string()),
            key: Some(format!("pk-{}", n % 97)),
            arrived_ms: None,
        }
    };
    let batches: Vec<Vec<StreamRecord>> = (0..shards)
        .flat_map(|s| {
            let per_shard: Vec<u64> = (0..records).filter(|n| n % shards == s).collect();
            per_shard
                .chunks(batch as usize)
                .map(|c| c.iter().map(|&n| make(n)).collect())
                .collect::<Vec<_>>()
        })
        .collect();
    let bytes: usize = batches.iter().flatten().map(|r| r.data.len()).sum();

    let started = Instant::now();
    let mut objects = 0;
    for b in batches {
        let report = receive_batch(
            h.ctx.store.as_ref(),
            &h.ctx.config,
            b,
            "2026-12-07T00:00:00Z",
        )
        .await
        .expect("a batch written");
        assert!(report.failed.is_empty(), "{:?}", report.failed);
        objects += report.written.len();
    }
    let write = started.elapsed().as_secs_f64();
    let rate = records as f64 / write;

    // Every object through the local engine, then the table checked.
    let started = Instant::now();
    for meta in h.ctx.store.list("orders/stream/").await.unwrap() {
        h.arrive(&meta.key, &meta.etag).await;
    }
    let ingest = started.elapsed().as_secs_f64();
    let mut ids: Vec<u64> = h
        .rows()
        .await
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    let want: Vec<u64> = (0..records)
        .filter(|n| n % 500 != 499)
        .map(|n| n + 1)
        .collect();
    assert_eq!(ids.len(), want.len(), "rows in the table");
    assert!(
        ids == want,
        "the table's rows are not exactly the good records, once each"
    );

    println!(
        "stream receiver: {records} records ({:.1} MB) in batches of {batch}, {shards} shards",
        bytes as f64 / 1e6
    );
    println!("| measure | value | target |");
    println!("| --- | --- | --- |");
    println!(
        "| records/s into objects | {rate:.0} ({objects} objects in {write:.2} s) | >= {TARGET:.0}: {} |",
        if rate >= TARGET { "met" } else { "missed" }
    );
    println!(
        "| then ingested, rows/s | {:.0} ({} rows, {} rejected, in {ingest:.1} s) | |",
        want.len() as f64 / ingest,
        want.len(),
        records as usize - want.len()
    );
    println!(
        "ratio stream: {:.2}x the 100k records/s target",
        rate / TARGET
    );
}
