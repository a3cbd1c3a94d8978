//! `sluice doctor [--repair] [--json]`: the catalog, the tables' identity records, the ledger,
//! the data files and the executions checked against each other.
//!
//! Each of them can be damaged on its own (a deleted `catalog.db`, a record removed or
//! garbled by hand, a data file lost with a disk), and then the others tell a story that is no
//! longer true: the ledger says committed while the table has no such rows. Doctor reports
//! every such mismatch as a [`Finding`] with a stable kind, and with `--repair` repairs what
//! can be repaired without guessing:
//!
//! - `table_missing`: the catalog lost a table that was recorded or committed to: its newest
//!   metadata file (of the recorded UUID) is registered again with the catalog's own
//!   `register_table`; nothing is rewritten.
//! - `uuid_mismatch`: the catalog holds another table under the name: if that one has no
//!   snapshot (an empty table an older sluice created in place of the lost one), it is removed
//!   from the catalog (its files stay) and the recorded table is registered again.
//! - `catalog_stale`: the catalog points at older metadata than recorded (a catalog put back
//!   from a backup): the newest metadata file of the table is registered in its place.
//! - `identity_missing`, `identity_corrupt`: recorded from the catalog's table, when every
//!   batch the ledger committed is in it.
//! - `record_missing`: a snapshot summary names a batch no ledger record has: the record is
//!   recreated, committed in that snapshot, for the object version in the bucket whose batch
//!   id it is.
//!
//! Reported for a person: `batch_missing` (the ledger says committed, the table lacks the
//! batch), `record_corrupt` (skipped by every listing), `data_file_missing`,
//! `execution_unfinished` (redrive it), `execution_without_record`.
//! Exit code 0 when nothing is wrong (or everything found was repaired), 1 otherwise.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;
use sluice_core::config::TableConfig;
use sluice_core::ledger::{LedgerRecord, LedgerState};
use sluice_core::{BatchId, ObjectVersion};
use sluice_lake::commit::committed_batches;
use sluice_lake::identity::identity_of;
use sluice_lake::register::FoundMetadata;
use sluice_states::store::ExecutionStore;
use sluice_states::Status;
use sluice_steps::context::now;
use sluice_steps::payload::Arrival;
use sluice_steps::Context;
use sluice_store::{Identities, Ledger, LedgerListing};

use crate::workspace::{self, Workspace};

/// Executions read for the cross-check, newest first.
const EXECUTIONS_READ: u32 = 100_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Repair what can be repaired safely: register a lost table's metadata file again,
    /// recreate ledger records from snapshot summaries, record missing table identities.
    #[arg(long)]
    repair: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

/// One inconsistency.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The table it concerns, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Stable name of the kind of damage (see the module docs).
    pub kind: &'static str,
    /// What is wrong, in a sentence with the names and ids involved.
    pub detail: String,
    /// What became of it.
    pub repair: Repair,
}

/// What `--repair` does (or did) about a finding.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", content = "action", rename_all = "snake_case")]
pub enum Repair {
    /// Repaired in this run; what was done.
    Repaired(String),
    /// `--repair` would do this.
    Repairable(String),
    /// Needs a person; what to do.
    Manual(String),
}

impl Repair {
    fn is_repaired(&self) -> bool {
        matches!(self, Repair::Repaired(_))
    }
}

#[derive(Debug, Default, Serialize)]
struct Report {
    /// Nothing is wrong any more.
    ok: bool,
    findings: Vec<Finding>,
    /// What could not be checked, and why (not inconsistencies).
    notes: Vec<String>,
}

struct Doctor<'a> {
    ctx: &'a Context,
    repair: bool,
    report: Report,
}

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let ctx = workspace::open(root, config).await?;
    let mut doctor = Doctor {
        ctx: &ctx,
        repair: args.repair,
        report: Report::default(),
    };
    let mut listing = ctx.ledger.listing().await?;
    for c in &listing.corrupt {
        doctor.find(
            None,
            "record_corrupt",
            format!("ledger record {} cannot be read: {}", c.key, c.reason),
            Repair::Manual(
                "skipped by every listing; once you know which object it was, delete the \
                 record and run `sluice reconcile`"
                    .into(),
            ),
        );
    }
    for table in &ctx.config.tables {
        doctor.table(table, &mut listing).await?;
    }
    doctor.executions(root, &listing).await;
    let report = &mut doctor.report;
    report.ok = report.findings.iter().all(|f| f.repair.is_repaired());
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print(report);
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print(report: &Report) {
    for f in &report.findings {
        let table = f
            .table
            .as_deref()
            .map(|t| format!("{t}: "))
            .unwrap_or_default();
        let what = match &f.repair {
            Repair::Repaired(a) => format!("repaired: {a}"),
            Repair::Repairable(a) => format!("`sluice doctor --repair` would: {a}"),
            Repair::Manual(a) => format!("to do: {a}"),
        };
        outln!("{table}{}: {}\n  {what}", f.kind, f.detail);
    }
    for n in &report.notes {
        outln!("note: {n}");
    }
    let repaired = report
        .findings
        .iter()
        .filter(|f| f.repair.is_repaired())
        .count();
    if report.findings.is_empty() {
        outln!("no problems found");
    } else {
        outln!(
            "{} problems found, {repaired} repaired, {} left",
            report.findings.len(),
            report.findings.len() - repaired
        );
    }
}

impl Doctor<'_> {
    fn find(&mut self, table: Option<&str>, kind: &'static str, detail: String, repair: Repair) {
        self.report.findings.push(Finding {
            table: table.map(str::to_string),
            kind,
            detail,
            repair,
        });
    }

    /// `Repaired(done)` after `action` succeeded, `Repairable(plan)` without `--repair`.
    async fn fix<F>(&self, plan: String, action: F) -> anyhow::Result<Repair>
    where
        F: std::future::Future<Output = anyhow::Result<String>>,
    {
        if !self.repair {
            return Ok(Repair::Repairable(plan));
        }
        Ok(Repair::Repaired(action.await?))
    }

    async fn table(
        &mut self,
        cfg: &TableConfig,
        listing: &mut LedgerListing,
    ) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let name = cfg.name.as_str();
        let identities = Identities::new(ctx.store.clone());
        let (recorded, identity_corrupt) = match identities.get(&cfg.namespace, name).await {
            Ok(r) => (r.map(|r| r.identity), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let committed: Vec<&LedgerRecord> = listing
            .records
            .iter()
            .filter(|r| r.table.as_deref() == Some(name))
            .filter(|r| matches!(r.state, LedgerState::Committed { .. }))
            .collect();
        let mut table = ctx.lake.inspect(cfg).await?;
        let files = ctx.lake.metadata_files(cfg).await?;
        let newest_of = |uuid: Option<&str>| -> Option<FoundMetadata> {
            files
                .iter()
                .rfind(|f| match uuid {
                    Some(u) => f.uuid == u,
                    // The UUID unknown (only the ledger remembers the table): one with rows.
                    None => f.snapshots > 0,
                })
                .cloned()
        };
        let recorded_uuid = recorded.as_ref().map(|r| r.uuid.clone());
        // The metadata file to register: the newest of the recorded table, else the recorded one.
        let candidate = newest_of(recorded_uuid.as_deref())
            .map(|f| f.location)
            .or_else(|| recorded.as_ref().map(|r| r.metadata_location.clone()));

        // What the catalog holds under the name: (UUID, whether it has no snapshot).
        let held = table.as_ref().map(|t| {
            let m = t.metadata();
            (
                m.uuid().to_string(),
                m.snapshots().next().is_none(),
                m.last_updated_ms(),
            )
        });
        match held {
            None if recorded.is_some() || !committed.is_empty() => {
                let evidence = match &recorded {
                    Some(r) => format!("recorded with UUID {} at {}", r.uuid, r.metadata_location),
                    None => format!("{} ledger records committed to it", committed.len()),
                };
                let detail = format!(
                    "table {}.{name} is missing from the catalog ({evidence})",
                    cfg.namespace
                );
                let repair = match &candidate {
                    Some(location) => {
                        let plan = format!("register {location} as {}.{name}", cfg.namespace);
                        self.fix(plan, async {
                            let t = ctx.lake.register(cfg, location).await?;
                            identities.overwrite(&identity_of(cfg, &t)).await?;
                            table = Some(t);
                            Ok(format!("registered {location}"))
                        })
                        .await?
                    }
                    None => Repair::Manual(
                        "no metadata file of the table was found under its location: restore \
                         the warehouse or the catalog from a backup"
                            .into(),
                    ),
                };
                self.find(Some(name), "table_missing", detail, repair);
            }
            Some((uuid, _, updated_ms))
                if recorded
                    .as_ref()
                    .is_some_and(|r| r.uuid == uuid && r.last_updated_ms > updated_ms) =>
            {
                let location = table
                    .as_ref()
                    .and_then(|t| t.metadata_location())
                    .unwrap_or_default()
                    .to_string();
                let detail = format!(
                    "the catalog's table {}.{name} points at {location}, older than the \
                     recorded {}",
                    cfg.namespace,
                    recorded
                        .as_ref()
                        .map(|r| r.metadata_location.as_str())
                        .unwrap_or_default()
                );
                let repair = match &candidate {
                    Some(newest) => {
                        let plan = format!(
                            "point the catalog at {newest} (remove the entry, register again)"
                        );
                        self.fix(plan, async {
                            ctx.lake.forget(cfg).await?;
                            let t = ctx.lake.register(cfg, newest).await?;
                            identities.overwrite(&identity_of(cfg, &t)).await?;
                            table = Some(t);
                            Ok(format!("registered {newest}"))
                        })
                        .await?
                    }
                    None => Repair::Manual("restore the newer metadata file from a backup".into()),
                };
                self.find(Some(name), "catalog_stale", detail, repair);
            }
            Some((uuid, empty, _)) => {
                if let Some(r) = recorded.as_ref().filter(|r| r.uuid != uuid) {
                    let detail = format!(
                        "the catalog's table {}.{name} has UUID {uuid}, the recorded one {} \
                         (metadata {})",
                        cfg.namespace, r.uuid, r.metadata_location
                    );
                    let repair = match (&candidate, empty) {
                        (Some(location), true) => {
                            let plan = format!(
                                "remove the empty table {uuid} from the catalog (its files \
                                 stay) and register {location}"
                            );
                            self.fix(plan, async {
                                ctx.lake.forget(cfg).await?;
                                let t = ctx.lake.register(cfg, location).await?;
                                identities.overwrite(&identity_of(cfg, &t)).await?;
                                table = Some(t);
                                Ok(format!("registered {location}"))
                            })
                            .await?
                        }
                        _ => Repair::Manual(
                            "the catalog's table holds snapshots: decide which is the table, \
                             remove the other from the catalog, then run `sluice doctor --repair`"
                                .into(),
                        ),
                    };
                    self.find(Some(name), "uuid_mismatch", detail, repair);
                }
            }
            None => {}
        }

        let Some(t) = &table else {
            return Ok(());
        };
        let in_table = committed_batches(t);
        let snapshot_ids: HashSet<i64> =
            t.metadata().snapshots().map(|s| s.snapshot_id()).collect();
        // Once `sluice expire` has removed the snapshot that committed a batch, its summary is
        // gone; the batch's data files, still read by the table, say its rows are there.
        let referenced = sluice_lake::files::referenced_files(t).await?;
        let with_files: HashSet<BatchId> = referenced
            .iter()
            .filter_map(|p| sluice_lake::writer::batch_of_data_file(p))
            .collect();
        let mut lost = 0;
        for r in &committed {
            let LedgerState::Committed { snapshot_id } = r.state else {
                continue;
            };
            let has_rows = r.rows.as_ref().is_none_or(|c| c.valid > 0);
            let expired_but_there =
                !snapshot_ids.contains(&snapshot_id) && with_files.contains(&r.batch_id);
            if in_table.contains_key(&r.batch_id) || !has_rows || expired_but_there {
                continue;
            }
            lost += 1;
            let gone = if snapshot_ids.contains(&snapshot_id) {
                "the snapshot exists but does not list the batch"
            } else {
                "the table has no such snapshot"
            };
            self.find(
                Some(name),
                "batch_missing",
                format!(
                    "ledger says {} committed in snapshot {snapshot_id} (batch {}), but {gone}",
                    r.object.key, r.batch_id
                ),
                Repair::Manual(
                    "its rows are not in the table: register the metadata file that holds \
                     them, or restore the table from a backup"
                        .into(),
                ),
            );
        }

        // The identity record, once the catalog's table is the one the ledger committed to.
        let sound = lost == 0
            && recorded
                .as_ref()
                .is_none_or(|r| r.uuid == t.metadata().uuid().to_string());
        let problem = match (&identity_corrupt, &recorded) {
            (Some(e), _) => Some(("identity_corrupt", e.clone())),
            (None, None) => Some((
                "identity_missing",
                format!("table {}.{name} has no identity record", cfg.namespace),
            )),
            _ => None,
        };
        if let Some((kind, detail)) = problem {
            let now_identity = identity_of(cfg, t);
            let repair = if sound {
                let plan = format!(
                    "record UUID {} at {}",
                    now_identity.uuid, now_identity.metadata_location
                );
                self.fix(plan.clone(), async {
                    identities.overwrite(&now_identity).await?;
                    Ok(plan)
                })
                .await?
            } else {
                Repair::Manual("repair the table first".into())
            };
            self.find(Some(name), kind, detail, repair);
        }

        self.missing_records(cfg, &in_table, listing).await?;

        // Data files every live snapshot reads.
        for path in referenced {
            if path.starts_with('/') && !Path::new(&path).exists() {
                self.find(
                    Some(name),
                    "data_file_missing",
                    format!("data file {path} is referenced by the table but missing"),
                    Repair::Manual(
                        "restore the file from a backup; a scan of the table fails without it"
                            .into(),
                    ),
                );
            }
        }
        Ok(())
    }

    /// Batches the snapshot summaries name and no ledger record has.
    async fn missing_records(
        &mut self,
        cfg: &TableConfig,
        in_table: &HashMap<BatchId, i64>,
        listing: &mut LedgerListing,
    ) -> anyhow::Result<()> {
        let ctx = self.ctx;
        let known: HashSet<&BatchId> = listing.records.iter().map(|r| &r.batch_id).collect();
        let corrupt_keys: HashSet<&str> = listing.corrupt.iter().map(|c| c.key.as_str()).collect();
        // Only arrivals have ledger records; a compaction's id names no object version.
        let mut missing: Vec<(&BatchId, i64)> = in_table
            .iter()
            .filter(|(b, _)| b.is_arrival() && !known.contains(b))
            .map(|(b, s)| (b, *s))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort();
        let bucket = ctx.store.bucket().to_string();
        let mut versions: HashMap<BatchId, ObjectVersion> = HashMap::new();
        for meta in ctx.store.list(&cfg.prefix).await? {
            if ctx.config.route(&meta.key).map(|t| &t.name) == Some(&cfg.name) {
                let v = meta.to_version(&bucket);
                versions.insert(v.batch_id(), v);
            }
        }
        let mut restored = vec![];
        for (batch, snapshot_id) in missing {
            let detail =
                format!("snapshot {snapshot_id} lists batch {batch}, which no ledger record has");
            let corrupt = versions
                .get(batch)
                .is_some_and(|o| corrupt_keys.contains(Ledger::record_key(o).as_str()));
            if corrupt {
                // Its record is there but unreadable: reported as record_corrupt.
                continue;
            }
            let repair = match versions.get(batch) {
                Some(object) => {
                    let mut record = LedgerRecord::claim(object.clone(), &now());
                    record.table = Some(cfg.name.clone());
                    record.state = LedgerState::Committed { snapshot_id };
                    record.detail = Some(format!(
                        "restored by sluice doctor from snapshot {snapshot_id}'s summary"
                    ));
                    let plan = format!("recreate the record of {} as committed", object.key);
                    let r = self
                        .fix(plan, async {
                            if ctx.ledger.restore(&record).await? {
                                Ok(format!(
                                    "recreated the record of {} as committed",
                                    object.key
                                ))
                            } else {
                                anyhow::bail!("a record of {} appeared meanwhile", object.key)
                            }
                        })
                        .await?;
                    if r.is_repaired() {
                        restored.push(record);
                    }
                    r
                }
                None => Repair::Manual(
                    "no object version in the bucket has this batch id (overwritten or \
                     removed): the rows are in the table, the ledger cannot name their source"
                        .into(),
                ),
            };
            self.find(Some(&cfg.name), "record_missing", detail, repair);
        }
        listing.records.extend(restored);
        Ok(())
    }

    /// Executions against the ledger: unfinished ones, and finished arrivals whose current
    /// object version has no record.
    async fn executions(&mut self, root: &Path, listing: &LedgerListing) {
        let ws = Workspace::new(root);
        if !ws.executions().exists() {
            return;
        }
        let store = match ExecutionStore::open(&ws.executions()).await {
            Ok(s) => s,
            Err(e) => {
                self.report
                    .notes
                    .push(format!("executions not checked: {e}"));
                return;
            }
        };
        let executions = match store.list(None, EXECUTIONS_READ).await {
            Ok(x) => x,
            Err(e) => {
                self.report
                    .notes
                    .push(format!("executions not checked: {e}"));
                return;
            }
        };
        let known: HashSet<String> = listing
            .records
            .iter()
            .map(|r| r.object.ledger_key())
            .collect();
        let corrupt: HashSet<String> = listing.corrupt.iter().map(|c| c.key.clone()).collect();
        for x in executions {
            match x.status {
                Status::Failed | Status::TimedOut | Status::Aborted => {
                    self.find(
                        None,
                        "execution_unfinished",
                        format!("execution {} is {}", x.name, x.status.as_str()),
                        Repair::Manual(format!("sluice redrive {}", x.name)),
                    );
                }
                Status::Succeeded => {
                    let Ok(arrival) = serde_json::from_value::<Arrival>(x.input.clone()) else {
                        continue;
                    };
                    self.arrival_without_record(&x.name, &arrival, &known, &corrupt)
                        .await;
                }
                Status::Running => {}
            }
        }
    }

    async fn arrival_without_record(
        &mut self,
        name: &str,
        arrival: &Arrival,
        known: &HashSet<String>,
        corrupt: &HashSet<String>,
    ) {
        let ctx = self.ctx;
        let Some(table) = ctx.config.route(&arrival.key) else {
            return;
        };
        let Some(etag) = &arrival.etag else {
            return;
        };
        // Only the version still in the bucket: an overwritten one may never have had a record.
        let current = match ctx.store.head(&arrival.key).await {
            Ok(Some(m)) if &m.etag == etag => m,
            _ => return,
        };
        let version = current.to_version(ctx.store.bucket());
        if known.contains(&version.ledger_key()) || corrupt.contains(&Ledger::record_key(&version))
        {
            return;
        }
        self.find(
            Some(&table.name),
            "execution_without_record",
            format!(
                "execution {name} finished for {}, which has no ledger record",
                arrival.key
            ),
            Repair::Manual(
                "if its batch is in the table, `sluice doctor --repair` recreates the record \
                 (see record_missing); otherwise ingest the file again"
                    .into(),
            ),
        );
    }
}
