//! The seeded fault-injection suite: hundreds of random schedules of lost, duplicated,
//! reordered and concurrent event deliveries with crashes at every durable boundary, each
//! followed by recovery (redrive, reconcile) and the checks of the exactly-once promise.
//!
//! A schedule lands 4–10 generated files (tests/src/chaos.rs: valid, partly invalid, mostly
//! invalid, malformed, corrupt, drifted, empty; each with its expected terminal state and
//! order ids). Each file's event is delivered 0–3 times (about one in ten is lost), in a
//! shuffled order, each delivery its own execution under its own name as on AWS. Some
//! deliveries crash at a random fail point (`failpoint::inject` for that key); a crashed
//! execution is later either redriven or the event is delivered again, at random. Deliveries
//! run in groups of 1–8 at once, so several executions commit to the table concurrently.
//! Then recovery: redrive whatever failed, reconcile the table (lost events), redrive again.
//! Then the checks, reading the table back through an Iceberg scan.
//!
//! `CHAOS_SCHEDULES` (default 500) and `CHAOS_SEED` (default a fixed base; schedule `i` has
//! seed base + i). A failure prints the seed, the schedule and the command that replays it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng as _;
use sluice_core::config::Config;
use sluice_local::{arrival_name, ArrivalReport, LocalError, Outcome};
use sluice_steps::failpoint;
use sluice_steps::payload::Arrival;
use sluice_tests::chaos::{self, FastClock, FileSpec};
use sluice_tests::{orders_example, parse_config, Harness};

/// Most deliveries in flight at once.
const MAX_GROUP: usize = 8;
/// Crash or redrive rounds after which the schedule leaves an event to recovery.
const MAX_FOLLOW_UPS: usize = 3;
/// Redrive rounds in recovery, before and after reconcile.
const RECOVERY_ROUNDS: usize = 5;

/// Figures across schedules.
#[derive(Debug, Default)]
struct Stats {
    schedules: u64,
    files: u64,
    events: u64,
    deliveries: u64,
    /// Deliveries beyond an event's first.
    duplicates: u64,
    /// Events never delivered.
    drops: u64,
    /// Fail points armed for a delivery or a redrive.
    crashes_armed: u64,
    /// Executions that stopped failed (a fail point fired, or retries ran out).
    failed: u64,
    redrives: u64,
    recovery_redrives: u64,
    /// Executions reconcile started for versions no event brought.
    reconciled: u64,
    groups: u64,
    /// Groups with more than one delivery in flight.
    concurrent_groups: u64,
    /// TaskFailed events by error name, across every execution's history.
    task_failures: BTreeMap<String, u64>,
    /// Wall time by phase: workspace set-up and landing, deliveries, recovery, checks.
    phases: [Duration; 4],
}

impl Stats {
    fn line(&self, seed: u64, secs: f64) -> String {
        let f = |k: &str| self.task_failures.get(k).copied().unwrap_or(0);
        format!(
            "chaos: {} schedules (seed {seed}), {} files, {} events, {} deliveries ({} duplicates, {} lost), \
             {} crashes armed, {} executions failed, {} redrives in schedule + {} in recovery, {} run by reconcile, \
             {} groups ({} concurrent), task failures: {} CommitConflict, {} TransientError, {} Internal; \
             {secs:.1}s ({:.0} ms/schedule: set-up {:.0}, deliveries {:.0}, recovery {:.0}, checks {:.0})",
            self.schedules,
            self.files,
            self.events,
            self.deliveries,
            self.duplicates,
            self.drops,
            self.crashes_armed,
            self.failed,
            self.redrives,
            self.recovery_redrives,
            self.reconciled,
            self.groups,
            self.concurrent_groups,
            f("CommitConflict"),
            f("TransientError"),
            f("Internal"),
            secs * 1000.0 / self.schedules.max(1) as f64,
            self.per_schedule_ms(0),
            self.per_schedule_ms(1),
            self.per_schedule_ms(2),
            self.per_schedule_ms(3),
        )
    }

    fn per_schedule_ms(&self, phase: usize) -> f64 {
        self.phases[phase].as_secs_f64() * 1000.0 / self.schedules.max(1) as f64
    }
}

/// One step of a schedule.
#[derive(Debug, Clone)]
enum Step {
    /// Deliver event `event` (a new execution).
    Deliver { event: usize },
    /// Redrive the failed execution `name` of event `event`.
    Redrive { event: usize, name: String },
}

impl Step {
    fn event(&self) -> usize {
        match self {
            Step::Deliver { event } | Step::Redrive { event, .. } => *event,
        }
    }
}

/// One schedule's state: its workspace, files, events and what happened, for the report.
struct Schedule {
    seed: u64,
    h: Harness,
    files: Vec<FileSpec>,
    arrivals: Vec<Arrival>,
    log: Vec<String>,
    deliveries: usize,
    follow_ups: Vec<usize>,
    /// Whether one group may hold two steps of the same event; see [`overlap`].
    overlap: bool,
}

/// Whether two executions of the same object version may run at the same time (two
/// deliveries of one event in one group); on unless `CHAOS_OVERLAP=0`. The claim's lease
/// (`[ledger] lease_seconds`) stops the second one while the first lives; without leases the
/// second took a fresh claim over and rewrote, under the same names, the staged Parquet files
/// the first was committing.
fn overlap() -> bool {
    chaos::env_u64("CHAOS_OVERLAP", 1) != 0
}

/// The next `size` steps of the queue; without `overlap`, a step whose event already has a
/// step in the group waits for a later group (the group may then be smaller).
fn take_group(queue: &mut VecDeque<Step>, size: usize, overlap: bool) -> Vec<Step> {
    if overlap {
        return queue.drain(..size).collect();
    }
    let mut group: Vec<Step> = vec![];
    let mut waiting = VecDeque::new();
    while group.len() < size {
        let Some(step) = queue.pop_front() else { break };
        if group.iter().any(|g| g.event() == step.event()) {
            waiting.push_back(step);
        } else {
            group.push(step);
        }
    }
    while let Some(step) = waiting.pop_back() {
        queue.push_front(step);
    }
    group
}

impl Schedule {
    async fn new(config: &Config, seed: u64, stats: &mut Stats) -> Schedule {
        let started = Instant::now();
        let mut h = Harness::with_config(config.clone()).await;
        h.local.engine = h.local.engine.clone().with_clock(Arc::new(FastClock));
        let mut rng = chaos::rng(seed);
        let files = chaos::generate(&mut rng, &format!("s{seed}"));
        let prefix = h.ctx.config.tables[0].prefix.clone();
        let mut arrivals = vec![];
        for f in &files {
            let key = f.key(&prefix);
            let meta = h
                .ctx
                .store
                .put(&key, f.bytes.clone().into())
                .await
                .expect("landing a file");
            arrivals.push(Arrival {
                bucket: h.ctx.store.bucket().to_string(),
                key,
                version_id: meta.version_id.clone(),
                etag: Some(meta.etag.clone()),
                sequencer: None,
                event: Default::default(),
                time: None,
            });
        }
        stats.schedules += 1;
        stats.files += files.len() as u64;
        stats.events += files.len() as u64;
        let log = files.iter().map(|f| format!("file {f}")).collect();
        stats.phases[0] += started.elapsed();
        let n = files.len();
        Schedule {
            seed,
            h,
            files,
            arrivals,
            log,
            deliveries: 0,
            follow_ups: vec![0; n],
            overlap: overlap(),
        }
    }

    /// Runs the schedule's deliveries, recovery and checks; the problems found.
    async fn run(&mut self, stats: &mut Stats) -> Result<Vec<String>, LocalError> {
        let started = Instant::now();
        let mut rng = chaos::rng(self.seed ^ 0x5eed);
        let mut queue: Vec<Step> = vec![];
        for event in 0..self.arrivals.len() {
            let copies: u64 = match rng.random_range(0..100) {
                0..10 => 0,
                10..55 => 1,
                55..85 => 2,
                _ => 3,
            };
            if copies == 0 {
                stats.drops += 1;
                self.log.push(format!("event {event}: lost"));
            }
            stats.duplicates += copies.saturating_sub(1);
            queue.extend((0..copies).map(|_| Step::Deliver { event }));
        }
        queue.shuffle(&mut rng);
        let mut queue: VecDeque<Step> = queue.into();

        while !queue.is_empty() {
            let size = rng.random_range(1..=MAX_GROUP).min(queue.len());
            let group = take_group(&mut queue, size, self.overlap);
            stats.groups += 1;
            if size > 1 {
                stats.concurrent_groups += 1;
            }
            let mut handles = vec![];
            let mut described = vec![];
            for step in group {
                let crash = rng
                    .random_bool(0.3)
                    .then(|| failpoint::POINTS[rng.random_range(0..failpoint::POINTS.len())]);
                let arrival = self.arrivals[step.event()].clone();
                if let Some(point) = crash {
                    failpoint::inject(point, &arrival.key);
                    stats.crashes_armed += 1;
                }
                let local = self.h.local.clone();
                let text = match &step {
                    Step::Deliver { event } => {
                        self.deliveries += 1;
                        stats.deliveries += 1;
                        let name = format!("{}-d{}", arrival_name(&arrival), self.deliveries);
                        let t = format!("deliver event {event} as {name}");
                        handles.push(tokio::spawn(async move {
                            local.ingest_as(&arrival, name).await
                        }));
                        t
                    }
                    Step::Redrive { event, name } => {
                        stats.redrives += 1;
                        let n = name.clone();
                        handles.push(tokio::spawn(async move { local.redrive(&n).await }));
                        format!("redrive event {event}'s {name}")
                    }
                };
                described.push((
                    step,
                    format!(
                        "{text}{}",
                        crash
                            .map(|p| format!(", crash armed at {p}"))
                            .unwrap_or_default()
                    ),
                ));
            }
            let mut results = vec![];
            for h in handles {
                results.push(h.await.expect("a delivery task panicked")?);
            }
            self.log.push(format!("group of {size}:"));
            for ((step, text), report) in described.into_iter().zip(results) {
                self.log
                    .push(format!("  {text} -> {}", outcome_text(&report)));
                if let Outcome::Failed { .. } = report.outcome {
                    stats.failed += 1;
                    let event = step.event();
                    if self.follow_ups[event] < MAX_FOLLOW_UPS {
                        self.follow_ups[event] += 1;
                        let next = if rng.random_bool(0.5) {
                            Step::Redrive {
                                event,
                                name: report.execution.clone(),
                            }
                        } else {
                            Step::Deliver { event }
                        };
                        let at = rng.random_range(0..=queue.len());
                        queue.insert(at, next);
                    }
                }
            }
        }
        stats.phases[1] += started.elapsed();
        let started = Instant::now();
        self.recover(stats).await?;
        stats.phases[2] += started.elapsed();
        let started = Instant::now();
        let table = self.h.ctx.config.tables[0].clone();
        let mut problems = chaos::check_all(&self.h.ctx, &table, &self.files).await;
        problems.extend(self.unfinished_executions().await?);
        self.count_task_failures(stats).await?;
        stats.phases[3] += started.elapsed();
        Ok(problems)
    }

    /// Redrive every failed execution, reconcile the table, redrive again.
    async fn recover(&mut self, stats: &mut Stats) -> Result<(), LocalError> {
        self.redrive_failed(stats).await?;
        let table = self.h.ctx.config.tables[0].clone();
        let r = self.h.local.reconcile(&table).await?;
        stats.reconciled += r.ran.len() as u64;
        for report in &r.ran {
            self.log.push(format!(
                "reconcile ran {} as {} -> {}",
                report.key,
                report.execution,
                outcome_text(report)
            ));
        }
        self.redrive_failed(stats).await
    }

    async fn redrive_failed(&mut self, stats: &mut Stats) -> Result<(), LocalError> {
        for _ in 0..RECOVERY_ROUNDS {
            let failed = chaos::failed_executions(&self.h.local).await?;
            if failed.is_empty() {
                break;
            }
            for name in failed {
                stats.recovery_redrives += 1;
                let report = self.h.local.redrive(&name).await?;
                self.log.push(format!(
                    "recovery: redrive {name} -> {}",
                    outcome_text(&report)
                ));
            }
        }
        Ok(())
    }

    /// Executions recovery could not finish: each is a person paged for nothing, or worse.
    async fn unfinished_executions(&self) -> Result<Vec<String>, LocalError> {
        let mut problems = vec![];
        for name in chaos::failed_executions(&self.h.local).await? {
            let e = self.h.local.engine.describe(&name).await?;
            let report = self.h.local.report(&e).await?;
            let failures: Vec<String> = self
                .h
                .local
                .engine
                .history(&name)
                .await?
                .into_iter()
                .filter(|ev| ev.kind == "TaskFailed")
                .map(|ev| ev.details.to_string())
                .collect();
            problems.push(format!(
                "execution {name} is still {} after {RECOVERY_ROUNDS} redrives: {}; its task failures: {}",
                e.status.as_str(),
                report.detail.unwrap_or_default(),
                failures.join(" | ")
            ));
        }
        Ok(problems)
    }

    async fn count_task_failures(&self, stats: &mut Stats) -> Result<(), LocalError> {
        for e in self.h.local.engine.list(None, u32::MAX).await? {
            for event in self.h.local.engine.history(&e.name).await? {
                if event.kind == "TaskFailed" {
                    let error = event
                        .details
                        .get("error")
                        .and_then(|v| v.as_str())
                        .unwrap_or("?")
                        .to_string();
                    *stats.task_failures.entry(error).or_default() += 1;
                }
            }
        }
        Ok(())
    }

    fn report(&self, problems: &[String]) -> String {
        format!(
            "schedule with seed {seed} broke the exactly-once promise:\n  {}\n\nschedule:\n  {}\n\n\
             replay it: CHAOS_SEED={seed} CHAOS_SCHEDULES=1 cargo test -p sluice-tests --test it -- chaos --nocapture",
            problems.join("\n  "),
            self.log.join("\n  "),
            seed = self.seed,
        )
    }
}

fn outcome_text(r: &ArrivalReport) -> String {
    match &r.outcome {
        Outcome::Committed { already, .. } => {
            format!("committed{}", if *already { " (already)" } else { "" })
        }
        Outcome::Filtered => "filtered".into(),
        Outcome::Superseded { .. } => "superseded".into(),
        Outcome::Removed { versions, .. } => format!("removed ({versions} retracted)"),
        Outcome::Duplicate { state } => format!("duplicate ({state})"),
        Outcome::Quarantined { reason } => format!("quarantined ({reason})"),
        Outcome::Failed { .. } => format!("FAILED: {}", r.detail.as_deref().unwrap_or("-")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_schedules_keep_every_version_exactly_once() {
    let schedules = chaos::env_u64("CHAOS_SCHEDULES", 500);
    let base = chaos::env_u64("CHAOS_SEED", chaos::DEFAULT_SEED);
    let config = parse_config(
        &std::fs::read_to_string(orders_example().join("sluice.toml")).expect("sluice.toml"),
    );
    let started = Instant::now();
    let mut stats = Stats::default();
    for i in 0..schedules {
        let seed = base + i;
        let mut schedule = Schedule::new(&config, seed, &mut stats).await;
        let problems = match schedule.run(&mut stats).await {
            Ok(p) => p,
            Err(e) => vec![format!("running the schedule failed: {e}")],
        };
        if !problems.is_empty() {
            panic!("{}", schedule.report(&problems));
        }
    }
    let line = stats.line(base, started.elapsed().as_secs_f64());
    sluice_tests::chaos::summary(&line);
}
