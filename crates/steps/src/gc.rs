//! Garbage collection of one table: remove staged files that will never commit, and
//! manifests whose batch is already in the table, never a file a snapshot references.
//!
//! An ingestion writes data files into the table's data location, then a staged-batch
//! manifest under `.sluice/staged/<namespace>.<table>/<batch id>.json`, then moves the ledger
//! record to staged; the commit appends the files in one snapshot. Crashes and quarantines
//! leave files behind. [`gc`] sorts every manifest by its batch's ledger record and the
//! table's snapshot summaries:
//!
//! - **in flight**: the record is claimed or staged. Kept, with its files, even when the batch
//!   id is already in a snapshot summary: that is a crash between the catalog commit and the
//!   ledger update, and the redriven commit reads this manifest to recognise it.
//! - **spent**: the record is committed, or (no record in flight) a snapshot summary lists
//!   the batch. The manifest is removed; its files are the table's.
//! - **abandoned**: the record is quarantined or filtered, or there is none, and no snapshot
//!   lists the batch. Its data files (all but any the table references) are removed, then
//!   the manifest.
//!
//! Then every data file in the table's data location that no snapshot references (every
//! snapshot, every live manifest entry), that no kept manifest lists and
//! whose name is not that of a batch in flight is an **orphan** (say, a Parquet file a
//! crashed validation was writing), removed once it is older than `min_age`. A younger file,
//! and an abandoned batch with a younger file or manifest, is reported and kept: a
//! validation may be writing it right now (a replay rewrites the same deterministic names).
//!
//! Reads happen in an order that protects every file some step still needs: the ledger
//! first, then the manifests, then the table, then the data files. A batch that is claimed
//! or staged when the ledger is read keeps its files; one committed by then is in the table
//! read after; one claimed later writes files younger than `min_age`. Just before removing
//! an abandoned batch its ledger record is read again, and just before removing any file its
//! modification time is checked again (in an S3 warehouse, the object's last-modified time,
//! in whole seconds). Deleting is idempotent and ordered (data files, then the manifest that
//! lists them), so a crash half-way leaves a state the next run finishes.
//! Metadata files (metadata JSON, manifest lists, manifests) are never touched.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use iceberg::table::Table;
use serde::{Deserialize, Serialize};
use sluice_core::config::TableConfig;
use sluice_core::ledger::{LedgerRecord, LedgerState};
use sluice_core::{BatchId, ObjectVersion};
use sluice_lake::commit::committed_batches;
use sluice_lake::files::{self, canonical_path, StoredDataFile};
use sluice_lake::writer::batch_of_data_file;
use sluice_lake::Lake;
use sluice_store::{CorruptRecord, ObjectMeta};

use crate::context::{keys, Context};
use crate::error::StepError;

/// How [`gc`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Report what would be removed, remove nothing.
    pub dry_run: bool,
    /// Unreferenced files (and manifests of abandoned batches) younger than this are kept.
    pub min_age: Duration,
}

/// One file or manifest in a [`GcReport`]: a data file's path, or a manifest's object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GcFile {
    pub path: String,
    pub bytes: u64,
}

/// The files of one category of a [`GcReport`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcCategory {
    pub files: Vec<GcFile>,
}

impl GcCategory {
    /// How many files.
    pub fn count(&self) -> usize {
        self.files.len()
    }

    /// Their bytes together.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }

    fn push(&mut self, path: impl Into<String>, bytes: u64) {
        self.files.push(GcFile {
            path: path.into(),
            bytes,
        });
    }
}

/// What [`gc`] removed from one table (with `dry_run`, would remove), and what it kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// The table's name.
    pub table: String,
    /// Whether nothing was removed.
    pub dry_run: bool,
    /// Removed: manifests of batches already committed.
    pub spent_manifests: GcCategory,
    /// Removed: data files of batches that will never commit.
    pub abandoned_files: GcCategory,
    /// Removed: manifests of batches that will never commit.
    pub abandoned_manifests: GcCategory,
    /// Removed: data files nothing references or lists.
    pub orphan_files: GcCategory,
    /// Kept: unreferenced files, and manifests of abandoned batches, younger than `min_age`
    /// (or that changed while gc ran).
    pub too_young: GcCategory,
    /// Kept: manifests and unreferenced data files of batches claimed or staged (and, while
    /// the ledger has corrupt records, of batches without a readable record, and orphans).
    pub in_flight: GcCategory,
    /// Ledger records that could not be read (`sluice doctor` reports them too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub corrupt_records: Vec<CorruptRecord>,
}

impl GcReport {
    /// The removed categories, with the names the CLI prints.
    pub fn removed(&self) -> [(&'static str, &GcCategory); 4] {
        [
            ("spent manifests", &self.spent_manifests),
            ("abandoned data files", &self.abandoned_files),
            ("abandoned manifests", &self.abandoned_manifests),
            ("orphan data files", &self.orphan_files),
        ]
    }

    /// The kept categories, with the names the CLI prints.
    pub fn kept(&self) -> [(&'static str, &GcCategory); 2] {
        [
            ("kept: younger than min-age", &self.too_young),
            ("kept: in flight", &self.in_flight),
        ]
    }

    /// Files removed (or, with `dry_run`, to remove) in all categories.
    pub fn removed_count(&self) -> usize {
        self.removed().iter().map(|(_, c)| c.count()).sum()
    }

    /// Bytes removed (or, with `dry_run`, to remove) in all categories.
    pub fn removed_bytes(&self) -> u64 {
        self.removed().iter().map(|(_, c)| c.bytes()).sum()
    }
}

/// What a manifest's batch is, from its ledger record and the table's snapshot summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFate {
    /// Claimed or staged: a step still needs the manifest and its files.
    InFlight,
    /// In the table: the manifest has done its job.
    Spent,
    /// Quarantined, filtered or unknown, and in no snapshot: it will never commit.
    Abandoned,
}

/// Sorts a batch by its ledger record (if any) and whether a snapshot summary lists it.
/// A record in flight wins over a snapshot summary: after a crash between the catalog commit
/// and the ledger update, the redriven commit still reads the manifest.
pub fn batch_fate(record: Option<&LedgerState>, in_a_snapshot: bool) -> BatchFate {
    match record {
        Some(LedgerState::Claimed | LedgerState::Staged { .. }) => BatchFate::InFlight,
        Some(LedgerState::Committed { .. }) => BatchFate::Spent,
        _ if in_a_snapshot => BatchFate::Spent,
        _ => BatchFate::Abandoned,
    }
}

/// Only what gc needs of a manifest body. Read leniently (unknown fields allowed), so that a
/// manifest written by a newer sluice still lists its files.
#[derive(Debug, Deserialize)]
struct ManifestPaths {
    #[serde(default)]
    paths: Vec<String>,
}

/// An abandoned batch, as planned.
#[derive(Debug)]
struct Abandoned {
    manifest: GcFile,
    /// The ledger record's object, to read the record again before removing anything.
    object: Option<ObjectVersion>,
    files: Vec<StoredDataFile>,
}

/// What one run found, before anything is removed.
#[derive(Debug, Default)]
struct Plan {
    spent: Vec<GcFile>,
    abandoned: Vec<Abandoned>,
    orphans: Vec<StoredDataFile>,
    too_young: GcCategory,
    in_flight: GcCategory,
}

/// Everything gc reads, in the order that keeps it safe (see the module docs).
struct Observed {
    records: HashMap<BatchId, LedgerRecord>,
    /// Ledger records that could not be read: any batch without a readable record may be
    /// theirs, so while there are any, such batches and orphans are kept.
    corrupt: Vec<CorruptRecord>,
    manifests: Vec<ObjectMeta>,
    table: Option<Table>,
    referenced: HashSet<String>,
    committed: HashSet<BatchId>,
    stored: Vec<StoredDataFile>,
}

/// Removes what will never commit from `table`, and the manifests of committed batches;
/// see the module docs for the rules. With `opts.dry_run` nothing is removed and the report
/// says what would be. Safe to run while ingestions run, and to re-run after a crash.
pub async fn gc(
    ctx: &Context,
    table: &TableConfig,
    opts: &GcOptions,
) -> Result<GcReport, StepError> {
    let now = SystemTime::now();
    let seen = read_state(ctx, table).await?;
    let plan = plan(ctx, &seen, opts.min_age, now).await?;
    let mut report = if opts.dry_run {
        dry_report(table, plan)
    } else {
        match &seen.table {
            Some(t) => execute(ctx, t, table, plan).await?,
            // No table: no data files to remove, only manifests.
            None => execute_manifests_only(ctx, table, plan).await?,
        }
    };
    report.corrupt_records = seen.corrupt;
    tracing::info!(
        table = %table.name,
        dry_run = opts.dry_run,
        removed = report.removed_count(),
        bytes = report.removed_bytes(),
        too_young = report.too_young.count(),
        in_flight = report.in_flight.count(),
        "gc done"
    );
    Ok(report)
}

async fn read_state(ctx: &Context, table_cfg: &TableConfig) -> Result<Observed, StepError> {
    let listing = ctx.ledger.listing().await?;
    let records = listing
        .records
        .into_iter()
        .map(|r| (r.batch_id.clone(), r))
        .collect();
    let manifests = ctx
        .store
        .list(&keys::staged_prefix(table_cfg))
        .await?
        .into_iter()
        .filter(|m| m.key.ends_with(".json"))
        .collect();
    let table = ctx.lake.load(table_cfg).await?;
    let (referenced, committed, stored) = match &table {
        Some(t) => (
            files::referenced_files(t).await?,
            committed_batches(t).into_keys().collect(),
            ctx.lake.list_data_files(t).await?,
        ),
        None => Default::default(),
    };
    Ok(Observed {
        records,
        corrupt: listing.corrupt,
        manifests,
        table,
        referenced,
        committed,
        stored,
    })
}

async fn plan(
    ctx: &Context,
    seen: &Observed,
    min_age: Duration,
    now: SystemTime,
) -> Result<Plan, StepError> {
    let stored: HashMap<&str, &StoredDataFile> =
        seen.stored.iter().map(|f| (f.path.as_str(), f)).collect();
    let in_flight_batches: HashSet<&BatchId> = seen
        .records
        .values()
        .filter(|r| batch_fate(Some(&r.state), false) == BatchFate::InFlight)
        .map(|r| &r.batch_id)
        .collect();
    // A corrupt record may be any batch's: then nothing is abandoned or orphaned for lack of
    // a record.
    let owners_unknown = !seen.corrupt.is_empty();
    let mut plan = Plan::default();

    // Manifests by fate; kept manifests first, so their files are known before any other.
    let mut abandoned = vec![];
    let mut kept_paths: HashSet<String> = HashSet::new();
    for meta in &seen.manifests {
        let Some(batch) = manifest_batch(&meta.key) else {
            continue;
        };
        let record = seen.records.get(&batch);
        let manifest = GcFile {
            path: meta.key.clone(),
            bytes: meta.size,
        };
        match batch_fate(record.map(|r| &r.state), seen.committed.contains(&batch)) {
            BatchFate::Spent => plan.spent.push(manifest),
            BatchFate::InFlight => {
                kept_paths.extend(manifest_paths(ctx, &meta.key).await?);
                plan.in_flight.files.push(manifest);
            }
            BatchFate::Abandoned if record.is_none() && owners_unknown => {
                kept_paths.extend(manifest_paths(ctx, &meta.key).await?);
                plan.in_flight.files.push(manifest);
            }
            BatchFate::Abandoned => abandoned.push((meta, manifest, record)),
        }
    }

    // Abandoned batches: their unreferenced files, unless anything of theirs is young.
    let mut abandoned_paths: HashSet<String> = HashSet::new();
    for (meta, manifest, record) in abandoned {
        let mut files = vec![];
        for path in manifest_paths(ctx, &meta.key).await? {
            if seen.referenced.contains(&path) || kept_paths.contains(&path) {
                continue;
            }
            if let Some(f) = stored.get(path.as_str()) {
                if abandoned_paths.insert(path) {
                    files.push((*f).clone());
                }
            }
        }
        let young = !manifest_is_old(meta, now, min_age)
            || files.iter().any(|f| !is_old(f.modified, now, min_age));
        if young {
            for f in &files {
                plan.too_young.push(&f.path, f.bytes);
            }
            plan.too_young.files.push(manifest);
        } else {
            plan.abandoned.push(Abandoned {
                manifest,
                object: record.map(|r| r.object.clone()),
                files,
            });
        }
    }

    // Every other unreferenced data file: in flight, an orphan, or too young to tell.
    for f in &seen.stored {
        if seen.referenced.contains(&f.path) || abandoned_paths.contains(&f.path) {
            continue;
        }
        let of_a_batch_in_flight =
            batch_of_data_file(&f.path).is_some_and(|b| in_flight_batches.contains(&b));
        if kept_paths.contains(&f.path) || of_a_batch_in_flight || owners_unknown {
            plan.in_flight.push(&f.path, f.bytes);
        } else if is_old(f.modified, now, min_age) {
            plan.orphans.push(f.clone());
        } else {
            plan.too_young.push(&f.path, f.bytes);
        }
    }
    Ok(plan)
}

/// The batch id of a manifest key (`…/<batch id>.json`).
pub(crate) fn manifest_batch(key: &str) -> Option<BatchId> {
    let name = key.rsplit('/').next()?.strip_suffix(".json")?;
    (!name.is_empty()).then(|| BatchId(name.to_string()))
}

/// The data file paths a manifest lists, in canonical form. A manifest that is gone has
/// none; one that cannot be read lists none (its files are then judged as orphans).
async fn manifest_paths(ctx: &Context, key: &str) -> Result<Vec<String>, StepError> {
    let Some((bytes, _)) = ctx.store.get_bytes(key).await? else {
        return Ok(vec![]);
    };
    match serde_json::from_slice::<ManifestPaths>(&bytes) {
        Ok(m) => Ok(m.paths.iter().map(|p| canonical_path(p)).collect()),
        Err(e) => {
            tracing::warn!(key, error = %e, "unreadable staged manifest: its files are judged as orphans");
            Ok(vec![])
        }
    }
}

/// Whether something last modified at `modified` is at least `min_age` old. A time in the
/// future is young.
fn is_old(modified: SystemTime, now: SystemTime, min_age: Duration) -> bool {
    now.duration_since(modified).is_ok_and(|age| age >= min_age)
}

fn manifest_is_old(meta: &ObjectMeta, now: SystemTime, min_age: Duration) -> bool {
    match chrono::DateTime::parse_from_rfc3339(&meta.last_modified) {
        Ok(t) => is_old(SystemTime::from(t), now, min_age),
        // An unreadable time: keep it, as if it were young.
        Err(_) => false,
    }
}

fn dry_report(table: &TableConfig, plan: Plan) -> GcReport {
    let mut report = GcReport {
        table: table.name.clone(),
        dry_run: true,
        too_young: plan.too_young,
        in_flight: plan.in_flight,
        ..Default::default()
    };
    for f in plan.orphans {
        report.orphan_files.push(f.path, f.bytes);
    }
    for a in plan.abandoned {
        for f in a.files {
            report.abandoned_files.push(f.path, f.bytes);
        }
        report.abandoned_manifests.files.push(a.manifest);
    }
    report.spent_manifests.files = plan.spent;
    report
}

async fn execute(
    ctx: &Context,
    table: &Table,
    table_cfg: &TableConfig,
    plan: Plan,
) -> Result<GcReport, StepError> {
    let mut report = GcReport {
        table: table_cfg.name.clone(),
        dry_run: false,
        too_young: plan.too_young,
        in_flight: plan.in_flight,
        ..Default::default()
    };
    for f in &plan.orphans {
        if remove_if_unchanged(&ctx.lake, table, f, &mut report.too_young).await?
            == Removal::Removed
        {
            report.orphan_files.push(&f.path, f.bytes);
        }
    }
    for a in plan.abandoned {
        if let Some(object) = &a.object {
            let now_in_flight =
                ctx.ledger.get(object).await?.is_some_and(|r| {
                    batch_fate(Some(&r.record.state), false) == BatchFate::InFlight
                });
            if now_in_flight {
                tracing::info!(manifest = %a.manifest.path, "batch went back in flight (a replay); kept");
                for f in &a.files {
                    report.in_flight.push(&f.path, f.bytes);
                }
                report.in_flight.files.push(a.manifest);
                continue;
            }
        }
        let mut all_removed = true;
        for f in &a.files {
            match remove_if_unchanged(&ctx.lake, table, f, &mut report.too_young).await? {
                Removal::Removed => report.abandoned_files.push(&f.path, f.bytes),
                Removal::Gone => {}
                Removal::Changed => all_removed = false,
            }
        }
        if all_removed {
            ctx.store.delete(&a.manifest.path).await?;
            report.abandoned_manifests.files.push(a.manifest);
        } else {
            report.too_young.files.push(a.manifest);
        }
    }
    remove_spent(ctx, plan.spent, &mut report).await?;
    Ok(report)
}

async fn execute_manifests_only(
    ctx: &Context,
    table_cfg: &TableConfig,
    plan: Plan,
) -> Result<GcReport, StepError> {
    let mut report = GcReport {
        table: table_cfg.name.clone(),
        dry_run: false,
        too_young: plan.too_young,
        in_flight: plan.in_flight,
        ..Default::default()
    };
    for a in plan.abandoned {
        ctx.store.delete(&a.manifest.path).await?;
        report.abandoned_manifests.files.push(a.manifest);
    }
    remove_spent(ctx, plan.spent, &mut report).await?;
    Ok(report)
}

async fn remove_spent(
    ctx: &Context,
    spent: Vec<GcFile>,
    report: &mut GcReport,
) -> Result<(), StepError> {
    for m in spent {
        ctx.store.delete(&m.path).await?;
        report.spent_manifests.files.push(m);
    }
    Ok(())
}

/// What became of a file gc meant to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    Removed,
    /// Already gone (a re-run after a crash, or another gc).
    Gone,
    /// Modified since it was listed: being written again; kept.
    Changed,
}

/// Removes `f` if it is still as listed (same modification time); a changed file is kept
/// and reported in `kept`.
async fn remove_if_unchanged(
    lake: &Lake,
    table: &Table,
    f: &StoredDataFile,
    kept: &mut GcCategory,
) -> Result<Removal, StepError> {
    match lake.stat_data_file(table, &f.path).await? {
        Some(now) if now.modified != f.modified => {
            kept.push(&f.path, now.bytes);
            Ok(Removal::Changed)
        }
        Some(_) => {
            files::delete_data_file(table, &f.path).await?;
            Ok(Removal::Removed)
        }
        None => Ok(Removal::Gone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::QuarantineReason;

    #[test]
    fn a_batch_in_flight_is_kept_even_if_a_snapshot_lists_it() {
        let staged = LedgerState::Staged {
            manifest_key: "k".into(),
        };
        assert_eq!(batch_fate(Some(&staged), true), BatchFate::InFlight);
        assert_eq!(
            batch_fate(Some(&LedgerState::Claimed), false),
            BatchFate::InFlight
        );
    }

    #[test]
    fn committed_or_in_a_snapshot_is_spent_and_the_rest_abandoned() {
        let committed = LedgerState::Committed { snapshot_id: 1 };
        let quarantined = LedgerState::Quarantined {
            reason: QuarantineReason::DriftBlocked,
        };
        let filtered = LedgerState::Filtered {
            reason: "empty".into(),
        };
        assert_eq!(batch_fate(Some(&committed), false), BatchFate::Spent);
        assert_eq!(batch_fate(Some(&quarantined), true), BatchFate::Spent);
        assert_eq!(batch_fate(None, true), BatchFate::Spent);
        assert_eq!(batch_fate(Some(&quarantined), false), BatchFate::Abandoned);
        assert_eq!(batch_fate(Some(&filtered), false), BatchFate::Abandoned);
        assert_eq!(batch_fate(None, false), BatchFate::Abandoned);
    }

    #[test]
    fn age_is_measured_from_the_modification_time() {
        let now = SystemTime::now();
        let hour = Duration::from_secs(3600);
        assert!(is_old(now - 2 * hour, now, hour));
        assert!(!is_old(now - hour / 2, now, hour));
        assert!(is_old(now, now, Duration::ZERO));
        assert!(!is_old(now + hour, now, Duration::ZERO), "future is young");
    }

    #[test]
    fn manifest_keys_name_their_batch() {
        assert_eq!(
            manifest_batch(".sluice/staged/shop.orders/b-0123.json"),
            Some(BatchId("b-0123".into()))
        );
        assert_eq!(manifest_batch(".sluice/staged/shop.orders/.json"), None);
        assert_eq!(manifest_batch(".sluice/staged/shop.orders/b-1.tmp"), None);
    }
}
