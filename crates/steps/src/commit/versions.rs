//! Commits to a table whose policy takes rows out again (`new_version = "replace"`, `on_delete
//! = "delete"`): each key's live versions are kept in its head (`sluice_core::keyhead`), and
//! every commit is one overwrite snapshot that adds the group's new versions and removes the
//! data files of the versions they replace, so a reader sees the old rows or the new ones,
//! never both or neither.
//!
//! Per batch of the group, under a compare-and-swap of its key's head:
//!
//! 1. the head's pending change is settled against the table (applied if its batch is in a
//!    snapshot summary, void once its lease expired, busy otherwise: a busy key's batch waits
//!    for a later group, or, if it is ours, the step answers `CommitConflict` and the
//!    definition retries it);
//! 2. the batch's change is planned and written as the head's pending change, under the
//!    ledger lease: under `replace`, it retracts every live version older than itself, or,
//!    older than a live version, it adds nothing (its rows never enter the table);
//!
//! then one overwrite removes the retracted versions' data files and adds the new batches'
//! (a superseded batch adds only its id to the summary, so a re-run recognises it), and each
//! head's change is applied, and the retracted versions' ledger records become `retracted`.
//!
//! A crash anywhere converges: before the catalog commit the pending changes are void once
//! their lease passes (or planned again by the redriven commit of the same batch); after it,
//! whoever reads a head next applies its change, because the batch is in the table. A version
//! is live while its key's head lists it; the ledger follows: `committed` for a live version,
//! `retracted` for one whose rows left (or never entered).

use std::collections::{HashMap, HashSet};

use sluice_core::config::{NewVersionPolicy, TableConfig};
use sluice_core::keyhead::{KeyHead, LiveVersion, PendingChange, Settled};
use sluice_core::ledger::{Lease, LedgerState, RetractCause};
use sluice_core::{BatchId, ObjectVersion};
use sluice_lake::commit::committed_batches;
use sluice_lake::{CommitOutcome, RowChange, StagedBatch};
use sluice_store::LedgerError;

use crate::context::{now, Context};
use crate::error::{StepError, StepErrorKind};
use crate::payload::{Removal, RetractOutput};

/// Snapshot summary property listing the batch ids whose rows a snapshot took out.
pub const RETRACTED_PROPERTY: &str = "sluice.retracted-batch-ids";

/// What a commit to a table that tracks versions did, beyond the plain outcome.
#[derive(Debug, Default)]
pub(crate) struct Versions {
    /// Batches of the group whose rows are not in the table after the commit: older than a
    /// live version of their key (or retracted since).
    pub superseded: HashSet<BatchId>,
    /// Per batch of the group, how many earlier versions of its key it replaced.
    pub replaced: HashMap<BatchId, usize>,
}

/// The version a staged batch is, as its key's head keeps it.
fn version_of(object: &ObjectVersion) -> LiveVersion {
    LiveVersion {
        ledger_key: object.ledger_key(),
        batch_id: object.batch_id(),
        sequencer: object.sequencer.clone(),
        last_modified: object.last_modified.clone(),
    }
}

/// One batch of the group, planned.
struct Planned {
    batch: StagedBatch,
    object: ObjectVersion,
    change: Option<PendingChange>,
}

/// Commits `group` (our batch `own` first) to a table that tracks versions; see the module
/// docs. Returns the batches actually taken (a busy key's batch is left for later), the
/// outcome as [`sluice_lake::Lake::commit_batches`] gives it, and what happened to versions.
pub(crate) async fn commit_group(
    ctx: &Context,
    table_cfg: &TableConfig,
    group: Vec<StagedBatch>,
    own: &BatchId,
) -> Result<(Vec<StagedBatch>, CommitOutcome, Versions), StepError> {
    let table =
        ctx.lake.load(table_cfg).await?.ok_or_else(|| {
            StepError::internal(format!("table {} does not exist", table_cfg.name))
        })?;
    let done = committed_batches(&table);
    let at = now();
    let lease = Lease::new("", &at, ctx.config.ledger.lease_seconds);
    let replace = table_cfg.new_version == NewVersionPolicy::Replace;

    let mut planned: Vec<Planned> = vec![];
    let mut keys = HashSet::new();
    let mut applied = vec![];
    for batch in group {
        let is_own = batch.batch_id == *own;
        let Some(object) = batch.object.clone() else {
            if is_own {
                return Err(StepError::internal(format!(
                    "staged batch {} names no object version",
                    batch.batch_id
                )));
            }
            continue;
        };
        // One version of a key per snapshot: a second one waits for the next group.
        if !keys.insert((object.bucket.clone(), object.key.clone())) {
            continue;
        }
        let version = version_of(&object);
        let expires_at = lease.expires_at.clone();
        let (_, (settled, change)) = ctx
            .ledger
            .update_head(&object.bucket, &object.key, &at, |head: &mut KeyHead| {
                let settled = head.settle(|b| done.contains_key(b), &at, Some(&version.batch_id));
                if matches!(settled, Settled::Busy(_)) || done.contains_key(&version.batch_id) {
                    return (settled, None);
                }
                let (add, retract) = if replace {
                    head.replace_with(&version)
                } else {
                    head.append(&version)
                };
                let change = PendingChange {
                    batch_id: version.batch_id.clone(),
                    add,
                    retract,
                    expires_at: expires_at.clone(),
                };
                head.pending = Some(change.clone());
                (settled, Some(change))
            })
            .await?;
        match settled {
            Settled::Busy(other) if is_own => {
                return Err(StepError::new(
                    StepErrorKind::CommitConflict,
                    format!(
                        "{}: batch {} is committing a version of the same key; this one \
                         follows it",
                        object.key, other.batch_id
                    ),
                ))
            }
            Settled::Busy(_) => continue,
            Settled::Applied(change) => applied.push(change),
            Settled::Nothing | Settled::Void(_) | Settled::Own => {}
        }
        planned.push(Planned {
            batch,
            object,
            change,
        });
    }
    // Changes a crashed committer left in the table: their retracted versions' records.
    for change in &applied {
        let snapshot_id = done.get(&change.batch_id).copied().unwrap_or_default();
        mark_retracted(ctx, change, snapshot_id).await?;
    }

    // The data files of every version whose rows leave.
    let leaving: HashSet<&BatchId> = planned
        .iter()
        .filter_map(|p| p.change.as_ref())
        .flat_map(|c| c.retract.iter().map(|v| &v.batch_id))
        .collect();
    let leaving_ids: HashSet<BatchId> = leaving.iter().map(|b| (*b).clone()).collect();
    let (remove, rewritten) = take_out(ctx, &table, &leaving_ids).await?;
    let mut versions = Versions::default();
    let mut add = rewritten;
    for p in &planned {
        let Some(change) = &p.change else {
            continue; // in the table already
        };
        if !change.retract.is_empty() {
            versions
                .replaced
                .insert(p.batch.batch_id.clone(), change.retract.len());
        }
        let mut batch = p.batch.clone();
        if change.add.is_none() {
            // Its rows never enter; its id still goes into the summary.
            batch.data_files.clear();
            batch.paths.clear();
        }
        add.push(batch);
    }
    let written = commit_planned(ctx, table_cfg, &lease, &remove, &add, &leaving_ids).await?;

    // Settle every head: the batches are in the table now (or were already).
    let mut outcome = CommitOutcome {
        new_snapshot_id: written.new_snapshot_id,
        ..CommitOutcome::default()
    };
    for p in &planned {
        let id = &p.batch.batch_id;
        let snapshot_id = written
            .snapshots
            .get(id)
            .or_else(|| done.get(id))
            .copied()
            .or(written.new_snapshot_id)
            .unwrap_or_default();
        outcome.snapshots.insert(id.clone(), snapshot_id);
        if done.contains_key(id) || written.already_committed.contains(id) {
            outcome.already_committed.push(id.clone());
        }
        let (head, settled) = ctx
            .ledger
            .update_head(&p.object.bucket, &p.object.key, &now(), |head| {
                head.settle(|b| b == id || done.contains_key(b), &at, None)
            })
            .await?;
        if let Settled::Applied(change) = settled {
            let applied_in = written
                .snapshots
                .get(&change.batch_id)
                .or_else(|| done.get(&change.batch_id))
                .copied()
                .unwrap_or(snapshot_id);
            mark_retracted(ctx, &change, applied_in).await?;
        }
        let live = head.live.iter().any(|v| v.batch_id == *id);
        if !live {
            versions.superseded.insert(id.clone());
        }
    }
    let taken = planned.into_iter().map(|p| p.batch).collect();
    Ok((taken, outcome, versions))
}

/// The one overwrite of a planned change: `remove` out, `add` in, the retracted batch ids in
/// the summary. Only while the plan's lease holds: past it, another committer may have voided
/// the plan in the key's head, so the step plans again (`CommitConflict`).
async fn commit_planned(
    ctx: &Context,
    table_cfg: &TableConfig,
    lease: &Lease,
    remove: &[String],
    add: &[StagedBatch],
    leaving: &HashSet<BatchId>,
) -> Result<sluice_lake::OverwriteOutcome, StepError> {
    if lease.expired(&now()) {
        return Err(StepError::new(
            StepErrorKind::CommitConflict,
            "the plan outlived its lease before the catalog commit; planning again",
        ));
    }
    let mut summary = HashMap::new();
    if !leaving.is_empty() {
        let mut ids: Vec<&str> = leaving.iter().map(BatchId::as_str).collect();
        ids.sort_unstable();
        summary.insert(RETRACTED_PROPERTY.to_string(), ids.join(","));
    }
    Ok(ctx
        .lake
        .overwrite(table_cfg, remove, add, RowChange::Changed, summary)
        .await?)
}

/// The files to remove so that the rows of `leaving` leave the table, and the rewritten
/// compacted files to add in their place: a batch's own files go whole; a compacted file that
/// also holds other batches' rows is written again without theirs (sluice-lake's
/// `locate_batches`, `rewrite_without`).
async fn take_out(
    ctx: &Context,
    table: &iceberg::table::Table,
    leaving: &HashSet<BatchId>,
) -> Result<(Vec<String>, Vec<StagedBatch>), StepError> {
    if leaving.is_empty() {
        return Ok((vec![], vec![]));
    }
    let located = ctx.lake.locate_batches(table, leaving).await?;
    let mut remove = located.whole;
    let mut add = vec![];
    for file in located.partial {
        if let Some(batch) = ctx.lake.rewrite_without(table, &file, leaving).await? {
            add.push(batch);
        }
        remove.push(file.path);
    }
    Ok((remove, add))
}

/// Marks the ledger records of the versions `change` retracted (committed, or staged after a
/// crash before their own ledger update) as retracted in `snapshot_id`. Idempotent.
async fn mark_retracted(
    ctx: &Context,
    change: &PendingChange,
    snapshot_id: i64,
) -> Result<(), StepError> {
    let cause = if change.add.is_some() {
        RetractCause::Replaced
    } else {
        RetractCause::Removed
    };
    for version in &change.retract {
        let Some(record) = ctx.ledger.get_by_ledger_key(&version.ledger_key).await? else {
            continue;
        };
        for _ in 0..3 {
            let Some(current) = ctx.ledger.get(&record.object).await? else {
                break;
            };
            if !matches!(
                current.record.state,
                LedgerState::Committed { .. } | LedgerState::Staged { .. }
            ) {
                break;
            }
            let detail = match &change.add {
                Some(by) => format!(
                    "{}: replaced by a newer version of the key ({}) in snapshot {snapshot_id}",
                    record.object.key, by.ledger_key
                ),
                None => format!(
                    "{}: the object was removed; its rows left the table in snapshot \
                     {snapshot_id}",
                    record.object.key
                ),
            };
            match ctx
                .ledger
                .transition(&current, &now(), |r| {
                    r.state = LedgerState::Retracted { snapshot_id, cause };
                    r.detail = Some(detail.clone());
                })
                .await
            {
                Ok(_) => break,
                Err(LedgerError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Takes the rows of the versions `removal` removed out of the table (`on_delete =
/// "delete"`), in one snapshot whose summary records the removal's own id, so a redelivered
/// event retracts nothing twice. The versions removed are the key's live versions older than
/// the removal (by sequencer, else by time): a removal delivered late does not take out a
/// version created after it.
pub(crate) async fn retract_removal(
    ctx: &Context,
    table_cfg: &TableConfig,
    removal: &Removal,
) -> Result<RetractOutput, StepError> {
    let table =
        ctx.lake.load(table_cfg).await?.ok_or_else(|| {
            StepError::internal(format!("table {} does not exist", table_cfg.name))
        })?;
    let done = committed_batches(&table);
    let id = removal.batch_id();
    let at = now();
    let lease = Lease::new("", &at, ctx.config.ledger.lease_seconds);
    let stamp = LiveVersion {
        ledger_key: format!("{}/{}#removal", removal.bucket, removal.key),
        batch_id: id.clone(),
        sequencer: removal.sequencer.clone(),
        last_modified: removal.at.clone(),
    };
    let expires_at = lease.expires_at.clone();
    let (_, (settled, change)) = ctx
        .ledger
        .update_head(&removal.bucket, &removal.key, &at, |head: &mut KeyHead| {
            let settled = head.settle(|b| done.contains_key(b), &at, Some(&id));
            if matches!(settled, Settled::Busy(_)) || done.contains_key(&id) {
                return (settled, None);
            }
            let retract: Vec<LiveVersion> = head
                .live
                .iter()
                .filter(|v| !v.is_newer_than(&stamp))
                .cloned()
                .collect();
            if retract.is_empty() {
                return (settled, None);
            }
            let change = PendingChange {
                batch_id: id.clone(),
                add: None,
                retract,
                expires_at: expires_at.clone(),
            };
            head.pending = Some(change.clone());
            (settled, Some(change))
        })
        .await?;
    match settled {
        Settled::Busy(other) => {
            return Err(StepError::new(
                StepErrorKind::CommitConflict,
                format!(
                    "{}: batch {} is committing a version of the same key; the removal \
                     follows it",
                    removal.key, other.batch_id
                ),
            ))
        }
        Settled::Applied(change) => {
            let snapshot_id = done.get(&change.batch_id).copied().unwrap_or_default();
            mark_retracted(ctx, &change, snapshot_id).await?;
            if change.batch_id == id {
                // Our own retraction, committed by a run that stopped before settling it.
                return Ok(RetractOutput {
                    table: table_cfg.name.clone(),
                    key: removal.key.clone(),
                    snapshot_id: Some(snapshot_id),
                    versions: change.retract.len(),
                    already_retracted: true,
                });
            }
        }
        Settled::Nothing | Settled::Void(_) | Settled::Own => {}
    }
    let Some(change) = change else {
        return Ok(RetractOutput {
            table: table_cfg.name.clone(),
            key: removal.key.clone(),
            snapshot_id: done.get(&id).copied(),
            versions: 0,
            already_retracted: done.contains_key(&id),
        });
    };
    let leaving: HashSet<&BatchId> = change.retract.iter().map(|v| &v.batch_id).collect();
    let leaving_ids: HashSet<BatchId> = leaving.iter().map(|b| (*b).clone()).collect();
    let (remove, mut add) = take_out(ctx, &table, &leaving_ids).await?;
    let marker = StagedBatch {
        batch_id: id.clone(),
        object: None,
        schema_id: table.metadata().current_schema_id(),
        partition_spec_id: table.metadata().default_partition_spec_id(),
        rows: 0,
        bytes: 0,
        paths: vec![],
        data_files: vec![],
    };
    add.push(marker);
    let written = commit_planned(ctx, table_cfg, &lease, &remove, &add, &leaving_ids).await?;
    let snapshot_id = written
        .snapshots
        .get(&id)
        .copied()
        .or(written.new_snapshot_id)
        .unwrap_or_default();
    let (_, settled) = ctx
        .ledger
        .update_head(&removal.bucket, &removal.key, &now(), |head| {
            head.settle(|b| *b == id || done.contains_key(b), &now(), None)
        })
        .await?;
    if let Settled::Applied(applied) = settled {
        mark_retracted(ctx, &applied, snapshot_id).await?;
    }
    tracing::info!(key = %removal.key, snapshot_id, versions = change.retract.len(), "removed object's rows retracted");
    Ok(RetractOutput {
        table: table_cfg.name.clone(),
        key: removal.key.clone(),
        snapshot_id: Some(snapshot_id),
        versions: change.retract.len(),
        already_retracted: !written.already_committed.is_empty(),
    })
}
