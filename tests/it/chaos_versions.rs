//! The fault-injection suite for tables whose policy takes rows out again: `new_version =
//! "replace"` and `on_delete = "delete"`, with compaction and snapshot expiry interleaved.
//!
//! A schedule writes 2–4 keys, each in 1–3 versions (every version its own rows), in rounds:
//! each round puts the next version of some keys and delivers its events 0–3 times (a lost
//! event is left to reconcile), shuffled, in concurrent groups of 1–6, about a third of them
//! crashing at a random fail point (redriven or delivered again later). Some keys are then
//! removed (the object deleted and its removal delivered 1–2 times, also under crashes).
//! Between groups, at random, the table is compacted (sorted or not: later replacements and
//! removals must find their rows in the compacted files) and snapshots are expired under the
//! ledger rule alone (any age: every snapshot here is younger than a lease). Then recovery (redrive what failed, reconcile,
//! redrive again) and the checks:
//!
//! 1. the table holds exactly the rows of the newest version of every key not removed, once,
//!    and nothing of a replaced or removed version;
//! 2. every ledger record is terminal, and exactly the newest version of a kept key is
//!    `committed` (the others `retracted`, or filtered for an event that came too late);
//! 3. every key's head lists its newest version live (none for a removed key), and no change
//!    is left pending;
//! 4. no execution is left failed.
//!
//! `CHAOS_VERSIONS_SCHEDULES` (default 60) and `CHAOS_SEED`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::Rng as _;
use sluice_core::ledger::LedgerState;
use sluice_lake::ExpiryPolicy;
use sluice_local::{LocalError, Outcome};
use sluice_steps::failpoint;
use sluice_steps::payload::{Arrival, ArrivalEvent};
use sluice_steps::ExpireOptions;
use sluice_tests::chaos::{self, FastClock};
use sluice_tests::{ndjson, order, orders_example, parse_config, Harness};

const MAX_GROUP: usize = 6;
const RECOVERY_ROUNDS: usize = 6;

fn config_text() -> String {
    let text = std::fs::read_to_string(orders_example().join("sluice.toml")).unwrap();
    format!(
        "[ledger]\nlease_seconds = 30\n\n{}",
        text.replace(
            "max_invalid_ratio = 0.2",
            "max_invalid_ratio = 0.2\nnew_version = \"replace\"\non_delete = \"delete\"",
        )
    )
}

/// One key's story: its versions' order ids, and whether it ends removed.
#[derive(Debug, Clone)]
struct KeyPlan {
    key: String,
    versions: Vec<Vec<u64>>,
    removed: bool,
}

#[derive(Debug, Default)]
struct Figures {
    schedules: u64,
    versions: u64,
    removals: u64,
    deliveries: u64,
    crashes: u64,
    expiries: u64,
    snapshots_expired: u64,
    compactions: u64,
    files_compacted: u64,
    superseded: u64,
}

struct Schedule {
    seed: u64,
    h: Harness,
    plans: Vec<KeyPlan>,
    log: Vec<String>,
    deliveries: u64,
}

impl Schedule {
    async fn new(seed: u64) -> Schedule {
        let mut h = Harness::with_config(parse_config(&config_text())).await;
        h.local.engine = h.local.engine.clone().with_clock(Arc::new(FastClock));
        let mut rng = chaos::rng(seed);
        let mut next_id = 1u64;
        let plans = (0..rng.random_range(2..=4))
            .map(|k| {
                let versions = (0..rng.random_range(1..=3))
                    .map(|_| {
                        let n = rng.random_range(1..=4);
                        let ids: Vec<u64> = (next_id..next_id + n).collect();
                        next_id += n;
                        ids
                    })
                    .collect();
                KeyPlan {
                    key: format!("orders/s{seed}-k{k}.ndjson"),
                    versions,
                    removed: rng.random_bool(0.35),
                }
            })
            .collect();
        Schedule {
            seed,
            h,
            plans,
            log: vec![],
            deliveries: 0,
        }
    }

    async fn run(&mut self, figures: &mut Figures) -> Result<Vec<String>, LocalError> {
        let mut rng = chaos::rng(self.seed ^ 0x7e45);
        let mut sequencer = 0x100u64;
        let rounds = self
            .plans
            .iter()
            .map(|p| p.versions.len())
            .max()
            .unwrap_or(0);
        for round in 0..=rounds {
            // This round's events: the next version of each key, or, after the last, removals.
            let mut events = vec![];
            for plan in &self.plans {
                let arrival = if round < plan.versions.len() {
                    let ids = &plan.versions[round];
                    let meta = self
                        .h
                        .ctx
                        .store
                        .put(
                            &plan.key,
                            ndjson(ids.iter().copied().map(order)).into_bytes().into(),
                        )
                        .await
                        .expect("landing a version");
                    figures.versions += 1;
                    self.log
                        .push(format!("put {} v{round}: ids {ids:?}", plan.key));
                    Arrival {
                        etag: Some(meta.etag),
                        ..self.h.arrival(&plan.key, "")
                    }
                } else if round == rounds && plan.removed {
                    self.h.ctx.store.delete(&plan.key).await.expect("removing");
                    figures.removals += 1;
                    self.log.push(format!("removed {}", plan.key));
                    Arrival {
                        event: ArrivalEvent::Removed,
                        etag: None,
                        ..self.h.arrival(&plan.key, "")
                    }
                } else {
                    continue;
                };
                sequencer += 1;
                let arrival = Arrival {
                    sequencer: Some(format!("{sequencer:X}")),
                    ..arrival
                };
                // A removal's event is never lost here: a local bucket keeps no delete
                // marker for reconcile to find.
                let removal = arrival.event == ArrivalEvent::Removed;
                let copies = match rng.random_range(0..100) {
                    0..10 if !removal => 0,
                    0..55 => 1,
                    55..85 => 2,
                    _ => 3,
                };
                events.extend((0..copies).map(|_| arrival.clone()));
            }
            events.shuffle(&mut rng);
            self.deliver(events, &mut rng, figures).await?;
        }
        self.recover().await?;
        Ok(self.check().await)
    }

    async fn deliver(
        &mut self,
        events: Vec<Arrival>,
        rng: &mut chaos::Rng,
        figures: &mut Figures,
    ) -> Result<(), LocalError> {
        let mut queue: VecDeque<(Arrival, Option<String>)> =
            events.into_iter().map(|a| (a, None)).collect();
        while !queue.is_empty() {
            let size = rng.random_range(1..=MAX_GROUP).min(queue.len());
            let mut handles = vec![];
            let mut keys = vec![];
            for _ in 0..size {
                let Some((arrival, redrive)) = queue.pop_front() else {
                    break;
                };
                // One fail point per key at a time (a point is armed per key).
                if !keys.contains(&arrival.key) && rng.random_bool(0.3) {
                    let point = failpoint::POINTS[rng.random_range(0..failpoint::POINTS.len())];
                    failpoint::inject(point, &arrival.key);
                    figures.crashes += 1;
                    self.log
                        .push(format!("  crash armed at {point} for {}", arrival.key));
                }
                keys.push(arrival.key.clone());
                let local = self.h.local.clone();
                match redrive {
                    Some(name) => {
                        self.log.push(format!("  redrive {name}"));
                        handles.push((
                            arrival,
                            tokio::spawn(async move { local.redrive(&name).await }),
                        ));
                    }
                    None => {
                        self.deliveries += 1;
                        figures.deliveries += 1;
                        let name = format!(
                            "{}-d{}",
                            sluice_local::arrival_name(&arrival),
                            self.deliveries
                        );
                        self.log.push(format!(
                            "  deliver {:?} {} as {name}",
                            arrival.event, arrival.key
                        ));
                        let a = arrival.clone();
                        handles.push((
                            arrival,
                            tokio::spawn(async move { local.ingest_as(&a, name).await }),
                        ));
                    }
                }
            }
            for (arrival, handle) in handles {
                let report = handle.await.expect("a delivery panicked")?;
                self.log
                    .push(format!("    {} -> {:?}", report.execution, report.outcome));
                match report.outcome {
                    Outcome::Failed { .. } if rng.random_bool(0.5) => {
                        queue.push_back((arrival, Some(report.execution)));
                    }
                    Outcome::Failed { .. } => queue.push_back((arrival, None)),
                    Outcome::Superseded { .. } => figures.superseded += 1,
                    _ => {}
                }
            }
            // Compaction between groups: later replacements and removals must find their
            // rows in the compacted files.
            if rng.random_bool(0.3) {
                let table = self.h.ctx.config.tables[0].clone();
                let options = sluice_lake::CompactOptions {
                    target_file_size: 64 << 20,
                    min_input_files: 2,
                    sort: if rng.random_bool(0.5) {
                        vec!["order_id".into()]
                    } else {
                        vec![]
                    },
                };
                if self.h.ctx.lake.load(&table).await.ok().flatten().is_some() {
                    match self.h.ctx.lake.compact(&table, &options, &|_| {}).await {
                        Ok(report) => {
                            let merged: usize = report
                                .groups
                                .iter()
                                .filter(|g| {
                                    matches!(
                                        g.outcome,
                                        sluice_lake::compact::GroupOutcome::Compacted { .. }
                                    )
                                })
                                .map(|g| g.files_in)
                                .sum();
                            figures.compactions += 1;
                            figures.files_compacted += merged as u64;
                            self.log.push(format!("  compact: {merged} files merged"));
                        }
                        Err(e) => self.log.push(format!("  compact: {e}")),
                    }
                }
            }
            // Expiry between groups, under the ledger rule alone.
            if rng.random_bool(0.3) {
                let table = self.h.ctx.config.tables[0].clone();
                let opts = ExpireOptions {
                    policy: ExpiryPolicy {
                        older_than: std::time::Duration::ZERO,
                        retain_last: 1,
                    },
                    dry_run: false,
                };
                match sluice_steps::expire::expire_unchecked_age(&self.h.ctx, &table, &opts).await {
                    Ok(report) => {
                        figures.expiries += 1;
                        figures.snapshots_expired += report.expired.len() as u64;
                        self.log.push(format!(
                            "  expire: {} expired, {} kept",
                            report.expired.len(),
                            report.kept.len()
                        ));
                    }
                    // The table may not exist yet, or a commit raced the expiry's catalog
                    // commit: expiry is maintenance, the next run takes it.
                    Err(e) => self.log.push(format!("  expire: {e}")),
                }
            }
        }
        Ok(())
    }

    async fn recover(&mut self) -> Result<(), LocalError> {
        self.redrive_failed().await?;
        let table = self.h.ctx.config.tables[0].clone();
        let r = self.h.local.reconcile(&table).await?;
        for report in &r.ran {
            self.log.push(format!(
                "reconcile ran {} as {} -> {:?}",
                report.key, report.execution, report.outcome
            ));
        }
        self.redrive_failed().await
    }

    async fn redrive_failed(&mut self) -> Result<(), LocalError> {
        for _ in 0..RECOVERY_ROUNDS {
            let failed = chaos::failed_executions(&self.h.local).await?;
            if failed.is_empty() {
                break;
            }
            for name in failed {
                let report = self.h.local.redrive(&name).await?;
                self.log
                    .push(format!("recovery: redrive {name} -> {:?}", report.outcome));
            }
        }
        Ok(())
    }

    async fn check(&self) -> Vec<String> {
        let mut problems = vec![];
        let ctx = &self.h.ctx;
        let mut expected: Vec<u64> = self
            .plans
            .iter()
            .filter(|p| !p.removed)
            .flat_map(|p| p.versions.last().cloned().unwrap_or_default())
            .collect();
        expected.sort();
        let mut found: Vec<u64> = match ctx.lake.scan_json(&ctx.config.tables[0]).await {
            Ok(rows) => rows.iter().filter_map(|r| r["order_id"].as_u64()).collect(),
            Err(e) => {
                problems.push(format!("the table cannot be scanned: {e}"));
                vec![]
            }
        };
        found.sort();
        if found != expected {
            problems.push(format!(
                "the table holds ids {found:?}, expected {expected:?}"
            ));
        }
        let records = ctx.ledger.list().await.unwrap_or_default();
        for plan in &self.plans {
            let newest: Vec<u64> = plan.versions.last().cloned().unwrap_or_default();
            let mut committed = vec![];
            for r in records.iter().filter(|r| r.object.key == plan.key) {
                if !r.state.is_terminal() {
                    problems.push(format!(
                        "{}: a record is still {}",
                        plan.key,
                        r.state.name()
                    ));
                }
                if let LedgerState::Committed { .. } = r.state {
                    committed.push(r.rows.as_ref().map(|c| c.valid).unwrap_or(0));
                }
            }
            let want = if plan.removed {
                vec![]
            } else {
                vec![newest.len() as u64]
            };
            if committed != want {
                problems.push(format!(
                    "{}: committed records with {committed:?} rows, expected {want:?}",
                    plan.key
                ));
            }
            match ctx.ledger.head("landing", &plan.key).await {
                Ok(Some(head)) => {
                    if head.pending.is_some() {
                        problems.push(format!("{}: a change is left pending: {head:?}", plan.key));
                    }
                    let live = head.live.len();
                    let want = usize::from(!plan.removed);
                    if live != want {
                        problems.push(format!(
                            "{}: {live} live versions in the head, expected {want}",
                            plan.key
                        ));
                    }
                }
                Ok(None) => problems.push(format!("{}: no head", plan.key)),
                Err(e) => problems.push(format!("{}: head unreadable: {e}", plan.key)),
            }
        }
        if let Ok(failed) = chaos::failed_executions(&self.h.local).await {
            for name in failed {
                problems.push(format!("execution {name} is still failed after recovery"));
            }
        }
        problems
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_replace_delete_and_expiry_keep_only_the_live_versions_rows() {
    let schedules = chaos::env_u64("CHAOS_VERSIONS_SCHEDULES", 60);
    let base = chaos::env_u64("CHAOS_SEED", chaos::DEFAULT_SEED);
    let started = std::time::Instant::now();
    let mut figures = Figures::default();
    let mut failures: BTreeMap<u64, String> = BTreeMap::new();
    for i in 0..schedules {
        let seed = base + i;
        let mut s = Schedule::new(seed).await;
        figures.schedules += 1;
        let problems = s.run(&mut figures).await.expect("the engine failed");
        if !problems.is_empty() {
            failures.insert(
                seed,
                format!(
                    "schedule {seed} broke the promise:\n  {}\n\nschedule:\n  {}\n\nreplay it: \
                     CHAOS_SEED={seed} CHAOS_VERSIONS_SCHEDULES=1 cargo test -p sluice-tests \
                     --test it -- chaos_versions --nocapture",
                    problems.join("\n  "),
                    s.log.join("\n  ")
                ),
            );
            break;
        }
    }
    let line = format!(
        "chaos (replace, delete, compaction, expiry): {} schedules, {} versions, {} removals, \
         {} deliveries, {} crashes armed, {} compactions ({} files merged), {} expiries ({} \
         snapshots expired), {} superseded, {:.1}s",
        figures.schedules,
        figures.versions,
        figures.removals,
        figures.deliveries,
        figures.crashes,
        figures.compactions,
        figures.files_compacted,
        figures.expiries,
        figures.snapshots_expired,
        figures.superseded,
        started.elapsed().as_secs_f64()
    );
    sluice_tests::chaos::summary(&line);
    if let Some((_, report)) = failures.into_iter().next() {
        panic!("{report}");
    }
}
