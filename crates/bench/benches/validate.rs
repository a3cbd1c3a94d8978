//! Row validation alone, two ways, over the rows of the generated orders file, valid and
//! broken alike: `sluice_contract` is the `jsonschema` contract (`sluice_core::contract::
//! Contract`) over rows already parsed, as the value-based path calls it; `sluice_plan` is the
//! compiled plan (`sluice_lake::decode`, the path the validate step takes) from each row's
//! text, parsing, checking and building the Arrow columns in one pass. `peers.py validate` times Python `jsonschema` and `fastjsonschema` on the same rows
//! with the same schema; `run.py` reads criterion's estimate and prints the ratios.
//!
//! Rows: the first `BENCH_VALIDATE_ROWS` (default 20,000) lines of
//! `$BENCH_DATA/orders.ndjson` (default `target/bench-data`); lines that are not JSON are
//! skipped, as the reader rejects them before validation. Without that file the same rows are
//! generated in memory (the generator's stream does not depend on the row count).

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use sluice_bench::{files, fixtures, write_ndjson};
use sluice_core::contract::Contract;
use sluice_lake::decode::RowDecoder;

/// The first rows of the orders file that are JSON, as their text.
fn lines() -> Vec<String> {
    let n: usize = std::env::var("BENCH_VALIDATE_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::var_os("BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data")
        });
    let mut path = dir.join(files::NDJSON);
    let _generated;
    if !path.exists() {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        path = tmp.path().join(files::NDJSON);
        write_ndjson(
            &path,
            n as u64,
            sluice_bench::Spec::default().invalid_ratio,
            42,
        )
        .expect("generate rows");
        _generated = tmp;
    }
    let file = std::fs::File::open(&path).expect("open the generated orders");
    BufReader::new(file)
        .lines()
        .take(n)
        .map(|l| l.expect("read a line"))
        .filter(|l| serde_json::from_str::<Value>(l).is_ok())
        .collect()
}

fn validate(c: &mut Criterion) {
    let contract =
        Contract::load(&fixtures().join("orders.schema.json")).expect("the orders contract");
    let lines = lines();
    let rows: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let invalid = rows
        .iter()
        .filter(|r| !contract.validate(r).is_empty())
        .count();
    eprintln!("{} rows, {invalid} of them break the contract", rows.len());
    let mut group = c.benchmark_group("validate");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("sluice_contract", |b| {
        b.iter(|| {
            let mut violations = 0;
            for row in &rows {
                violations += contract.validate(black_box(row)).len();
            }
            violations
        })
    });
    let plan = std::sync::Arc::new(
        sluice_lake::decode::plan_for(&contract.schema_json, &contract.table_schema)
            .expect("the orders contract compiles to a plan"),
    );
    let mut decoder = RowDecoder::new(plan);
    let accepted = lines.iter().filter(|l| decoder.push(l.as_bytes())).count();
    assert_eq!(
        accepted,
        rows.len() - invalid,
        "the plan and the contract disagree"
    );
    decoder.flush().expect("columns");
    group.bench_function("sluice_plan", |b| {
        b.iter(|| {
            let mut accepted = 0;
            for (i, line) in lines.iter().enumerate() {
                accepted += usize::from(decoder.push(black_box(line.as_bytes())));
                if i % 8192 == 8191 {
                    black_box(decoder.flush().expect("columns"));
                }
            }
            black_box(decoder.flush().expect("columns"));
            accepted
        })
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
