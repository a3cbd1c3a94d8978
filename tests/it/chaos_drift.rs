//! The fault-injection suite for drift approval: files that bring a field the table's policy
//! blocks (`additive = "quarantine"`) arrive beside plain files, their events duplicated, lost
//! (left to reconcile) and reordered, in concurrent groups, about a third of them crashing at
//! a random fail point; between groups a person approves a pending change (its files replay,
//! and may crash too) or rejects one. Approvals race arrivals: a file bringing an approved
//! field may be judged before or after the approval is recorded. Then recovery (redrive what
//! failed, reconcile, redrive again, and `drift approve` again for every approved change, as
//! an operator does after a crash: it replays what still waits) and the checks:
//!
//! 1. the table holds the rows of every plain file and of every file whose field was
//!    approved, each once, and none of a file whose field was rejected or never decided;
//! 2. every such file of a rejected or undecided field is quarantined, waiting on its change;
//!    every other ledger record is committed;
//! 3. the pending changes are exactly the undecided fields' (and the rejected ones, decided);
//! 4. no execution is left failed.
//!
//! `CHAOS_DRIFT_SCHEDULES` (default 40) and `CHAOS_SEED`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng as _;
use serde_json::json;
use sluice_core::ledger::LedgerState;
use sluice_local::{LocalError, Outcome, Selection};
use sluice_steps::drift_decisions::{self, Verdict};
use sluice_steps::failpoint;
use sluice_steps::payload::Arrival;
use sluice_tests::chaos::{self, FastClock};
use sluice_tests::{ndjson, order, orders_example, parse_config, Harness};

const MAX_GROUP: usize = 6;
const RECOVERY_ROUNDS: usize = 6;
/// The fields a file may bring, each blocked by the policy until someone decides.
const FIELDS: [&str; 3] = ["coupon", "gift", "channel"];

fn config_text() -> String {
    let text = std::fs::read_to_string(orders_example().join("sluice.toml")).unwrap();
    let governed = text.replace("additive = \"evolve\" ", "additive = \"quarantine\"");
    assert!(governed.contains("additive = \"quarantine\""));
    format!("[ledger]\nlease_seconds = 30\n\n{governed}")
}

/// One file: its key, order ids and the blocked field it brings, if any.
#[derive(Debug, Clone)]
struct FilePlan {
    key: String,
    ids: Vec<u64>,
    field: Option<&'static str>,
}

/// What a person decides of a field, and when (after which group).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Approve,
    Reject,
    Undecided,
}

#[derive(Debug, Default)]
struct Figures {
    schedules: u64,
    files: u64,
    deliveries: u64,
    crashes: u64,
    approvals: u64,
    rejections: u64,
    replays: u64,
}

struct Schedule {
    seed: u64,
    h: Harness,
    files: Vec<FilePlan>,
    fates: BTreeMap<&'static str, Fate>,
    decided: BTreeSet<&'static str>,
    log: Vec<String>,
    deliveries: u64,
}

impl Schedule {
    async fn new(seed: u64) -> Schedule {
        let mut h = Harness::with_config(parse_config(&config_text())).await;
        h.local.engine = h.local.engine.clone().with_clock(Arc::new(FastClock));
        let mut rng = chaos::rng(seed);
        let mut next_id = 1u64;
        let files = (0..rng.random_range(3..=8))
            .map(|f| {
                let n = rng.random_range(1..=4);
                let ids: Vec<u64> = (next_id..next_id + n).collect();
                next_id += n;
                let field = rng
                    .random_bool(0.6)
                    .then(|| FIELDS[rng.random_range(0..FIELDS.len())]);
                FilePlan {
                    key: format!("orders/s{seed}-f{f}.ndjson"),
                    ids,
                    field,
                }
            })
            .collect();
        let fates = FIELDS
            .iter()
            .map(|f| {
                let fate = match rng.random_range(0..10) {
                    0..6 => Fate::Approve,
                    6..8 => Fate::Reject,
                    _ => Fate::Undecided,
                };
                (*f, fate)
            })
            .collect();
        Schedule {
            seed,
            h,
            files,
            fates,
            decided: BTreeSet::new(),
            log: vec![],
            deliveries: 0,
        }
    }

    async fn run(&mut self, figures: &mut Figures) -> Result<Vec<String>, LocalError> {
        let mut rng = chaos::rng(self.seed ^ 0xd21f7);
        let mut events = vec![];
        for file in &self.files {
            let rows = file.ids.iter().map(|i| {
                let mut row = order(*i);
                if let Some(field) = file.field {
                    row[field] = json!("x");
                }
                row
            });
            let meta = self
                .h
                .ctx
                .store
                .put(&file.key, ndjson(rows).into_bytes().into())
                .await
                .expect("landing a file");
            figures.files += 1;
            self.log.push(format!(
                "put {} ids {:?} field {:?}",
                file.key, file.ids, file.field
            ));
            let arrival = Arrival {
                etag: Some(meta.etag),
                ..self.h.arrival(&file.key, "")
            };
            let copies = match rng.random_range(0..100) {
                0..10 => 0,
                10..60 => 1,
                60..85 => 2,
                _ => 3,
            };
            events.extend((0..copies).map(|_| arrival.clone()));
        }
        events.shuffle(&mut rng);
        self.deliver(events, &mut rng, figures).await?;
        self.recover(figures).await?;
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
                if !keys.contains(&arrival.key) && rng.random_bool(0.3) {
                    self.arm(rng, &arrival.key, figures);
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
                        self.log
                            .push(format!("  deliver {} as {name}", arrival.key));
                        let a = arrival.clone();
                        handles.push((
                            arrival,
                            tokio::spawn(async move { local.ingest_as(&a, name).await }),
                        ));
                    }
                }
            }
            // A decision races the group: recorded while its executions run.
            let decision = self.decide_one(rng, figures);
            let decided = async {
                if let Some((field, verdict)) = decision {
                    self.record(field, verdict).await
                } else {
                    Ok(None)
                }
            };
            let (decided, results) = tokio::join!(
                decided,
                futures::future::join_all(
                    handles
                        .into_iter()
                        .map(|(a, h)| async move { (a, h.await) })
                )
            );
            if let Some(line) = decided? {
                self.log.push(line);
            }
            for (arrival, joined) in results {
                let report = joined.expect("a delivery panicked")?;
                self.log
                    .push(format!("    {} -> {:?}", report.execution, report.outcome));
                match report.outcome {
                    Outcome::Failed { .. } if rng.random_bool(0.5) => {
                        queue.push_back((arrival, Some(report.execution)));
                    }
                    Outcome::Failed { .. } => queue.push_back((arrival, None)),
                    _ => {}
                }
            }
            // An approved change's waiting files replay, under crashes of their own.
            if rng.random_bool(0.4) {
                self.replay_approved(rng, figures, true).await?;
            }
        }
        Ok(())
    }

    /// Arms one fail point for `key`.
    fn arm(&mut self, rng: &mut chaos::Rng, key: &str, figures: &mut Figures) {
        let point = failpoint::POINTS[rng.random_range(0..failpoint::POINTS.len())];
        failpoint::inject(point, key);
        figures.crashes += 1;
        self.log.push(format!("  crash armed at {point} for {key}"));
    }

    /// Picks, now and then, a field whose fate is decided and that is not decided yet.
    fn decide_one(
        &mut self,
        rng: &mut chaos::Rng,
        figures: &mut Figures,
    ) -> Option<(&'static str, Verdict)> {
        if !rng.random_bool(0.5) {
            return None;
        }
        let open: Vec<&'static str> = self
            .fates
            .iter()
            .filter(|(f, fate)| **fate != Fate::Undecided && !self.decided.contains(*f))
            .map(|(f, _)| *f)
            .collect();
        let field = *open.choose(rng)?;
        self.decided.insert(field);
        let verdict = match self.fates[field] {
            Fate::Approve => {
                figures.approvals += 1;
                Verdict::Approved
            }
            _ => {
                figures.rejections += 1;
                Verdict::Rejected
            }
        };
        Some((field, verdict))
    }

    /// Records a decision on `field`'s change, as `sluice drift approve|reject` does.
    async fn record(
        &self,
        field: &'static str,
        verdict: Verdict,
    ) -> Result<Option<String>, LocalError> {
        let change = sluice_steps::drift_decisions::PendingChange {
            id: id_of(field),
            table: "orders".into(),
            changes: vec![change_of(field)],
            files: vec![],
            decision: None,
        };
        let table = &self.h.ctx.config.tables[0];
        drift_decisions::record(
            self.h.ctx.store.as_ref(),
            table,
            drift_decisions::decision(&change, verdict, Some("chaos".into())),
        )
        .await
        .map_err(|e| LocalError::Store(e.to_string()))?;
        Ok(Some(format!("  {} {field}", verdict.as_str())))
    }

    /// Replays the files waiting on every approved change; with `crashes`, some of them crash.
    async fn replay_approved(
        &mut self,
        rng: &mut chaos::Rng,
        figures: &mut Figures,
        crashes: bool,
    ) -> Result<(), LocalError> {
        let approved: Vec<&'static str> = self
            .decided
            .iter()
            .copied()
            .filter(|f| self.fates[f] == Fate::Approve)
            .collect();
        for field in approved {
            if crashes {
                let waiting: Vec<String> = self
                    .files
                    .iter()
                    .filter(|f| f.field == Some(field))
                    .map(|f| f.key.clone())
                    .collect();
                for key in waiting {
                    if rng.random_bool(0.3) {
                        self.arm(rng, &key, figures);
                    }
                }
            }
            let (reports, _) = self
                .h
                .local
                .replay(&Selection::DriftChange(id_of(field)))
                .await?;
            for r in reports {
                figures.replays += 1;
                self.log
                    .push(format!("  replay {} ({field}) -> {:?}", r.key, r.outcome));
            }
        }
        Ok(())
    }

    async fn recover(&mut self, figures: &mut Figures) -> Result<(), LocalError> {
        // A point armed but not hit yet stays armed, so recovery may crash once more: each of
        // its steps is followed by redrives.
        self.redrive_failed().await?;
        let table = self.h.ctx.config.tables[0].clone();
        let r = self.h.local.reconcile(&table).await?;
        for report in &r.ran {
            self.log.push(format!(
                "reconcile ran {} as {} -> {:?}",
                report.key, report.execution, report.outcome
            ));
        }
        self.redrive_failed().await?;
        // `drift approve` again on every approved change: replays what still waits.
        let mut rng = chaos::rng(self.seed ^ 0x5eed);
        self.replay_approved(&mut rng, figures, false).await?;
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

    /// Whether `file`'s rows belong in the table in the end.
    fn lands(&self, file: &FilePlan) -> bool {
        match file.field {
            None => true,
            Some(field) => self.fates[field] == Fate::Approve && self.decided.contains(field),
        }
    }

    async fn check(&self) -> Vec<String> {
        let mut problems = vec![];
        let ctx = &self.h.ctx;
        let mut expected: Vec<u64> = self
            .files
            .iter()
            .filter(|f| self.lands(f))
            .flat_map(|f| f.ids.clone())
            .collect();
        expected.sort();
        let mut found: Vec<u64> = match ctx.lake.scan_json(&ctx.config.tables[0]).await {
            Ok(rows) => rows.iter().filter_map(|r| r["order_id"].as_u64()).collect(),
            // No file landed: the table may never have been created.
            Err(_) if expected.is_empty() => vec![],
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
        for file in &self.files {
            let states: Vec<&'static str> = records
                .iter()
                .filter(|r| r.object.key == file.key)
                .map(|r| r.state.name())
                .collect();
            let want = if self.lands(file) {
                "committed"
            } else {
                "quarantined"
            };
            if states != [want] {
                problems.push(format!(
                    "{}: ledger {states:?}, expected [{want}]",
                    file.key
                ));
            }
            if let Some(r) = records.iter().find(|r| r.object.key == file.key) {
                if !matches!(
                    r.state,
                    LedgerState::Committed { .. } | LedgerState::Quarantined { .. }
                ) {
                    problems.push(format!("{}: left {}", file.key, r.state.name()));
                }
            }
        }
        match drift_decisions::pending(ctx).await {
            Ok(pending) => {
                let mut waiting: Vec<(String, bool)> = pending
                    .iter()
                    .map(|c| (c.changes[0].path.clone(), c.decision.is_some()))
                    .collect();
                waiting.sort();
                let mut want: Vec<(String, bool)> = self
                    .files
                    .iter()
                    .filter(|f| !self.lands(f))
                    .filter_map(|f| f.field)
                    .map(|f| (f.to_string(), self.decided.contains(f)))
                    .collect();
                want.sort();
                want.dedup();
                if waiting != want {
                    problems.push(format!("pending changes {waiting:?}, expected {want:?}"));
                }
            }
            Err(e) => problems.push(format!("pending changes unreadable: {e}")),
        }
        if let Ok(failed) = chaos::failed_executions(&self.h.local).await {
            for name in failed {
                problems.push(format!("execution {name} is still failed after recovery"));
            }
        }
        problems
    }
}

/// The change a file bringing `field` is blocked by.
fn change_of(field: &str) -> sluice_core::drift::DriftChange {
    sluice_core::drift::DriftChange {
        class: sluice_core::drift::DriftClass::AdditiveOptional,
        path: field.into(),
        table_type: None,
        file_type: "string".into(),
    }
}

fn id_of(field: &str) -> String {
    sluice_core::drift::change_set_id("orders", &[change_of(field)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_drift_approvals_racing_arrivals_land_every_approved_row_once() {
    let schedules = chaos::env_u64("CHAOS_DRIFT_SCHEDULES", 40);
    let base = chaos::env_u64("CHAOS_SEED", chaos::DEFAULT_SEED);
    let started = std::time::Instant::now();
    let mut figures = Figures::default();
    let mut failure = None;
    for i in 0..schedules {
        let seed = base + i;
        let mut s = Schedule::new(seed).await;
        figures.schedules += 1;
        let problems = s.run(&mut figures).await.expect("the engine failed");
        if !problems.is_empty() {
            failure = Some(format!(
                "schedule {seed} broke the promise:\n  {}\n\nschedule:\n  {}\n\nreplay it: \
                 CHAOS_SEED={seed} CHAOS_DRIFT_SCHEDULES=1 cargo test -p sluice-tests --test it \
                 -- chaos_drift --nocapture",
                problems.join("\n  "),
                s.log.join("\n  ")
            ));
            break;
        }
    }
    let line = format!(
        "chaos (drift approval): {} schedules, {} files, {} deliveries, {} crashes armed, {} \
         approvals, {} rejections, {} replays, {:.1}s",
        figures.schedules,
        figures.files,
        figures.deliveries,
        figures.crashes,
        figures.approvals,
        figures.rejections,
        figures.replays,
        started.elapsed().as_secs_f64()
    );
    sluice_tests::chaos::summary(&line);
    if let Some(report) = failure {
        panic!("{report}");
    }
}
