//! Engine throughput: state transitions per second for a 10k-state Pass chain and a
//! 10k-item inline Map, in JSONPath and in JSONata (the JSONata chain assigns a variable in
//! every state; the JSONata Map selects with `Items` and assigns per item), with durable
//! history in a real SQLite execution store, and the peak memory of the process. `make bench` runs it (release build) and also runs the same
//! definitions on aws-local-stepfunctions (Node.js, history in memory) for a ratio.
//!
//! `cargo bench -p sluice-states --bench engine -- [N]` (N states/items, default 10000).
//! Both engines are timed from the definition text to the end of the execution.
//! Prints one line per workload and writes the definitions it used to `target/bench-asl/`
//! so the peer runs the very same files.

use std::time::Instant;

// The allocator the `sluice` binary uses (the engine allocates many small JSON values).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use serde_json::{json, Value};
use sluice_states::{Engine, Registry, StartRequest, Status};

fn pass_chain(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({"Type": "Pass", "Result": {"i": i}, "ResultPath": "$.last"});
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"StartAt": "S0", "States": states})
}

fn jsonata_chain(n: usize) -> Value {
    let mut states = serde_json::Map::new();
    for i in 0..n {
        let mut s = json!({
            "Type": "Pass",
            "Assign": {"total": "{% ($exists($total) ? $total : 0) + 1 %}"},
            "Output": {"i": i, "last": "{% $states.input.i %}"}
        });
        if i + 1 == n {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    json!({"QueryLanguage": "JSONata", "StartAt": "S0", "States": states})
}

fn jsonata_map() -> Value {
    json!({
        "QueryLanguage": "JSONata",
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "Items": "{% $states.input.items %}",
                "MaxConcurrency": 40,
                "ItemSelector": {"n": "{% $states.context.Map.Item.Value %}"},
                "ItemProcessor": {
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "Assign": {"seen": "{% $states.input.n %}"}, "Output": {"doubled": "{% $states.input.n * 2 %}"}, "End": true}}
                },
                "Output": {"count": "{% $count($states.result) %}"},
                "End": true
            }
        }
    })
}

fn inline_map() -> Value {
    json!({
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 40,
                "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
                "ItemProcessor": {
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": true}}
                },
                "ResultSelector": {"count.$": "States.ArrayLength($)"},
                "End": true
            }
        }
    })
}

/// Peak resident set size of this process, in MiB (Linux; 0 elsewhere).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Seconds to parse and check the definition (part of every start).
fn parse_secs(def: &Value) -> f64 {
    let text = def.to_string();
    let started = Instant::now();
    sluice_states::parse_definition(&text).expect("definition parses");
    started.elapsed().as_secs_f64()
}

async fn run(engine: &Engine, name: &str, def: &Value, input: Value) -> (f64, usize) {
    let started = Instant::now();
    let out = engine
        .start(StartRequest {
            state_machine: "bench".into(),
            definition: def.to_string(),
            name: name.into(),
            input,
        })
        .await
        .expect("execution starts");
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(
        out.execution.status,
        Status::Succeeded,
        "{:?}",
        out.execution
    );
    let events = engine.history(name).await.expect("history").len();
    (secs, events)
}

/// Iterations of the Map workloads, at most (the history limit; see `main`).
const MAP_ITEMS: usize = 5_000;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(&dir.path().join("executions.db"), Registry::new())
        .await
        .expect("engine");
    let out_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-asl");
    std::fs::create_dir_all(&out_dir).expect("target/bench-asl");

    let chain = pass_chain(n);
    std::fs::write(out_dir.join("pass-chain.json"), chain.to_string()).expect("write");
    let mut runs = vec![];
    for i in 0..RUNS {
        runs.push(run(&engine, &format!("pass-chain-{i}"), &chain, json!({})).await);
    }
    let (secs, events) = median(runs);
    println!(
        "sluice-engine pass-chain {n} states {secs:.3} s {:.0} transitions/s (median of {RUNS}; {events} history events in SQLite; parsing and checking the definition takes {:.3} s of it; peak RSS {:.0} MiB)",
        n as f64 / secs,
        parse_secs(&chain),
        peak_rss_mib()
    );

    // An inline Map's iterations write their events into the execution's history, which holds
    // at most 25,000 events on AWS and here (four per iteration): 5,000 iterations stay under
    // it, 10,000 would fail the execution as AWS fails it. Larger fan-outs are a Distributed
    // Map's work.
    let m = n.min(MAP_ITEMS);
    let map = inline_map();
    let items: Vec<usize> = (0..m).collect();
    std::fs::write(out_dir.join("inline-map.json"), map.to_string()).expect("write");
    std::fs::write(
        out_dir.join("inline-map.input.json"),
        json!({"items": items}).to_string(),
    )
    .expect("write");
    let mut runs = vec![];
    for i in 0..RUNS {
        runs.push(
            run(
                &engine,
                &format!("inline-map-{i}"),
                &map,
                json!({"items": items}),
            )
            .await,
        );
    }
    let (secs, events) = median(runs);
    // One transition per iteration's state, plus the Map state itself.
    let transitions = m + 1;
    println!(
        "sluice-engine inline-map {m} items {secs:.3} s {:.0} transitions/s (median of {RUNS}; {events} history events in SQLite; peak RSS {:.0} MiB)",
        transitions as f64 / secs,
        peak_rss_mib()
    );

    let chain = jsonata_chain(n);
    std::fs::write(out_dir.join("jsonata-chain.json"), chain.to_string()).expect("write");
    let mut runs = vec![];
    for i in 0..RUNS {
        runs.push(
            run(
                &engine,
                &format!("jsonata-chain-{i}"),
                &chain,
                json!({"i": -1}),
            )
            .await,
        );
    }
    let (secs, events) = median(runs);
    println!(
        "sluice-engine jsonata-chain {n} states {secs:.3} s {:.0} transitions/s (median of {RUNS}; {events} history events in SQLite; parsing and checking the definition takes {:.3} s of it; peak RSS {:.0} MiB)",
        n as f64 / secs,
        parse_secs(&chain),
        peak_rss_mib()
    );

    let map = jsonata_map();
    std::fs::write(out_dir.join("jsonata-map.json"), map.to_string()).expect("write");
    let mut runs = vec![];
    for i in 0..RUNS {
        runs.push(
            run(
                &engine,
                &format!("jsonata-map-{i}"),
                &map,
                json!({"items": items}),
            )
            .await,
        );
    }
    let (secs, events) = median(runs);
    println!(
        "sluice-engine jsonata-map {m} items {secs:.3} s {:.0} transitions/s (median of {RUNS}; {events} history events in SQLite; peak RSS {:.0} MiB)",
        transitions as f64 / secs,
        peak_rss_mib()
    );
}

/// Runs per workload; the median is reported (the first run also pays for a cold store).
const RUNS: usize = 5;

fn median(mut runs: Vec<(f64, usize)>) -> (f64, usize) {
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs[runs.len() / 2]
}
