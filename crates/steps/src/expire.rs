//! Snapshot expiry of one table, made safe for exactly-once (README, Guarantees).
//!
//! The commit step recognises a batch it already committed in two places: the ledger
//! (committed: done), and, after a crash between the catalog commit and the ledger update,
//! the batch id in a snapshot summary. Expiring that snapshot before the ledger caught up
//! would make the redriven commit append the batch a second time. So the ledger is the record
//! of truth, and a snapshot may expire only when:
//!
//! - it is older than the policy's age, which may not be shorter than the ledger lease
//!   (`[ledger] lease_seconds`): a commit may still be running on anything younger;
//! - it is not the current snapshot nor one of the newest `retain_last` of its history;
//! - every batch its summary names is settled: no staged manifest of the batch is left
//!   whose ledger record is still claimed or staged (or unreadable). A batch in flight
//!   keeps its manifest until its record says committed (crates/steps' commit), so the
//!   manifests under the table's staged prefix are exactly the batches to look up.
//!
//! A snapshot refused for an unsettled batch is reported with the batch and its object key;
//! redriving (or re-running) that object's execution settles it, and the next expiry takes
//! the snapshot. Data files that only expired snapshots read become orphans that `gc`
//! removes; expiry itself deletes only the manifest lists and manifests nothing reads any
//! more.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use sluice_core::age;
use sluice_core::config::TableConfig;
use sluice_core::ledger::LedgerState;
use sluice_core::BatchId;
use sluice_lake::commit::StagedBatch;
use sluice_lake::{ExpiryCandidate, ExpiryPolicy};

use crate::context::{keys, Context};
use crate::error::StepError;

/// How [`expire`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpireOptions {
    pub policy: ExpiryPolicy,
    /// Report what would expire, change nothing.
    pub dry_run: bool,
}

/// A snapshot the policy selected that stays, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptSnapshot {
    pub snapshot_id: i64,
    pub timestamp_ms: i64,
    pub reason: String,
}

/// What [`expire`] did to one table (with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpireReport {
    pub table: String,
    pub dry_run: bool,
    /// Snapshots removed from the metadata (or that would be).
    pub expired: Vec<ExpiryCandidate>,
    /// Snapshots old enough that stay for exactly-once.
    pub kept: Vec<KeptSnapshot>,
    /// Snapshots in the table after the run.
    pub remaining: usize,
    /// Manifest lists and manifests deleted.
    pub metadata_files_deleted: usize,
    /// Ones that could not be deleted (space only; named in the log).
    pub metadata_files_left: usize,
}

/// Refuses a policy that could remove a snapshot a running commit needs: an age shorter than
/// the ledger lease, or `retain_last` 0.
pub fn check_policy(ctx: &Context, policy: &ExpiryPolicy) -> Result<(), String> {
    let lease = Duration::from_secs(ctx.config.ledger.lease_seconds);
    if policy.older_than < lease {
        return Err(format!(
            "an age of {} is shorter than the ledger lease ({}, [ledger] lease_seconds): a \
             commit may still be running on a snapshot that young, and would not find its \
             batch if the snapshot left",
            age::human(policy.older_than),
            age::human(lease)
        ));
    }
    if policy.retain_last == 0 {
        return Err(
            "at least the current snapshot is retained: retain-last must be 1 or more".into(),
        );
    }
    Ok(())
}

/// Expires what `opts.policy` selects from `table`, keeping every snapshot exactly-once still
/// needs; see the module docs. A policy [`check_policy`] refuses is an error.
pub async fn expire(
    ctx: &Context,
    table: &TableConfig,
    opts: &ExpireOptions,
) -> Result<ExpireReport, StepError> {
    check_policy(ctx, &opts.policy).map_err(StepError::internal)?;
    expire_unchecked_age(ctx, table, opts).await
}

/// [`expire`] without the age floor: what the policy selects, whatever its age, minus every
/// snapshot a batch the ledger has not settled still needs. The fault-injection suite runs
/// it between deliveries, where every snapshot is younger than any lease, to show that the
/// ledger rule alone keeps exactly-once.
pub async fn expire_unchecked_age(
    ctx: &Context,
    table: &TableConfig,
    opts: &ExpireOptions,
) -> Result<ExpireReport, StepError> {
    let unsettled = unsettled_batches(ctx, table).await?;
    let candidates = ctx.lake.expiry_candidates(table, opts.policy).await?;
    let mut report = ExpireReport {
        table: table.name.clone(),
        dry_run: opts.dry_run,
        ..ExpireReport::default()
    };
    for candidate in candidates {
        let waiting = candidate
            .batch_ids
            .iter()
            .find_map(|id| unsettled.get(id).map(|key| (id, key)));
        match waiting {
            Some((batch, key)) => report.kept.push(KeptSnapshot {
                snapshot_id: candidate.snapshot_id,
                timestamp_ms: candidate.timestamp_ms,
                reason: format!(
                    "it committed batch {batch} ({key}), whose ledger record is not yet \
                     committed: the commit of that object has not finished; redrive its \
                     execution, and the snapshot can expire"
                ),
            }),
            None => report.expired.push(candidate),
        }
    }
    if !opts.dry_run && !report.expired.is_empty() {
        let ids: Vec<i64> = report.expired.iter().map(|c| c.snapshot_id).collect();
        let outcome = ctx.lake.expire_snapshots(table, &ids).await?;
        report
            .expired
            .retain(|c| outcome.snapshots.contains(&c.snapshot_id));
        report.metadata_files_deleted = outcome.metadata_files_deleted;
        report.metadata_files_left = outcome.metadata_files_left;
    }
    let after = ctx.lake.load(table).await?;
    report.remaining = after.map_or(0, |t| t.metadata().snapshots().count());
    if opts.dry_run {
        report.remaining = report.remaining.saturating_sub(report.expired.len());
    }
    tracing::info!(
        table = %table.name,
        dry_run = opts.dry_run,
        expired = report.expired.len(),
        kept = report.kept.len(),
        "expiry done"
    );
    Ok(report)
}

/// Batches with a staged manifest whose ledger record is not committed, with their object
/// key (or the manifest key when the manifest names no object or cannot be read: unknown
/// counts as unsettled).
async fn unsettled_batches(
    ctx: &Context,
    table: &TableConfig,
) -> Result<HashMap<BatchId, String>, StepError> {
    let mut found = HashMap::new();
    for meta in ctx.store.list(&keys::staged_prefix(table)).await? {
        let Some(batch) = crate::gc::manifest_batch(&meta.key) else {
            continue;
        };
        let manifest = match ctx.store.get_bytes(&meta.key).await? {
            Some((bytes, _)) => serde_json::from_slice::<StagedBatch>(&bytes).ok(),
            // Removed since the listing: its batch was settled meanwhile.
            None => continue,
        };
        let Some(object) = manifest.and_then(|m| m.object) else {
            found.insert(batch, meta.key.clone());
            continue;
        };
        // Quarantined counts as unsettled too: a replay would commit the batch again, and
        // only the snapshot summary would tell it that its rows are in already.
        let settled = matches!(
            ctx.ledger.get(&object).await?.map(|r| r.record.state),
            Some(LedgerState::Committed { .. } | LedgerState::Filtered { .. })
        );
        if !settled {
            found.insert(batch, object.key.clone());
        }
    }
    Ok(found)
}
