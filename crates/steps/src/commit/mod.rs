//! Step 5, commit: make staged batches visible in the table, exactly once (DESIGN §5.3), as
//! a group.
//!
//! The ledger is checked first (committed: done; another committer may have taken this batch
//! into its snapshot). Otherwise the committer gathers every ready staged batch of the table
//! (its own first, then other executions' whose ledger says staged), up to the `[commit]`
//! count and byte limits, and appends them in one snapshot: many arrivals at once make few
//! snapshots, instead of a commit storm of one snapshot each that mostly lose their races.
//! The lake looks for each batch id in the table's snapshot summaries before appending, so a
//! batch committed by a run that crashed before its ledger update is recognised and
//! acknowledged, never committed twice. Then every batch of the group is marked committed in
//! the ledger and its manifest removed (in that order, so a crash in between leaves only a
//! spent manifest, which the next committer or `sluice gc` removes).
//!
//! Before it gathers, a committer waits for the arrivals its own process is still running for
//! the table (until a group is full, or they stop moving for `[commit] quiet_ms`, or
//! `wait_ms` has passed), then takes the table's
//! commit turn, so the process's committers do not race one another (see [`crate::flow`]):
//! `sluice ingest` of a thousand small files makes a handful of snapshots.
//!
//! On a table whose policy takes rows out again (`new_version = "replace"`, `on_delete =
//! "delete"`) the group is committed by [`versions`] as one overwrite that also removes the
//! replaced versions' files, and a removal's Retract task comes here too ([`retract`]).
//!
//! A lost optimistic-concurrency race is retried here a few times at once, gathering the group
//! again (the winner may have taken our batch); if the races keep being lost it surfaces as
//! `CommitConflict`, which the definition retries with backoff and jitter.

use std::time::Duration;

use rand::Rng;
use sluice_core::config::TableConfig;
use sluice_core::ledger::LedgerState;
use sluice_core::BatchId;
use sluice_lake::{CommitOutcome, StagedBatch};
use sluice_store::{LedgerError, VersionedRecord};

use crate::context::{keys, now, Context};
use crate::error::{StepError, StepErrorKind};
use crate::failpoint;
use crate::flow::GroupReady;
use crate::payload::{CommitInput, CommitOutput, RetractInput, RetractOutput};

mod versions;

use versions::Versions;
pub use versions::RETRACTED_PROPERTY;

/// Lost races retried inside one step before `CommitConflict` goes to the definition.
const QUICK_ATTEMPTS: u32 = 4;

/// The Retract task: takes a removed object's rows out of its table (`on_delete =
/// "delete"`); see [`versions`].
pub async fn retract(ctx: &Context, input: RetractInput) -> Result<RetractOutput, StepError> {
    let table_cfg = ctx.table(&input.table)?.clone();
    let _turn = ctx.flow.commit_lock(&input.table).await;
    versions::retract_removal(ctx, &table_cfg, &input.removal).await
}

pub async fn commit(ctx: &Context, input: CommitInput) -> Result<CommitOutput, StepError> {
    let out = commit_in_group(ctx, input).await?;
    if !out.superseded {
        // Every path that finds the batch committed gets here, a re-run's too: the event's id
        // is the transition's, so it is written once.
        if let Some(record) = ctx.ledger.get(&out.object).await? {
            crate::events::emit_committed(ctx.store.as_ref(), &record.record, out.snapshot_ms)
                .await?;
        }
    }
    Ok(out)
}

async fn commit_in_group(ctx: &Context, input: CommitInput) -> Result<CommitOutput, StepError> {
    let record = ledger_record(ctx, &input).await?;
    if !matches!(record.record.state, LedgerState::Staged { .. }) {
        let _turn = ctx.flow.commit_lock(&input.table).await;
        return commit_turn(ctx, input).await;
    }
    let limits = &ctx.config.commit;
    let own = input.object.batch_id();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(limits.wait_ms);
    loop {
        let ready = ctx
            .flow
            .wait_for_group(
                &input.table,
                &own,
                limits.max_batches,
                limits.max_bytes,
                crate::flow::GroupWait {
                    most: deadline.saturating_duration_since(tokio::time::Instant::now()),
                    quiet: Duration::from_millis(limits.quiet_ms),
                },
            )
            .await;
        tracing::debug!(key = %input.object.key, ?ready, "group gathered");
        linger(ctx, &record).await;
        // This process's committers of the table take turns; the one before us has often
        // taken our batch into its snapshot, which the ledger, read again, says.
        let turn = ctx.flow.commit_lock(&input.table).await;
        // A group full while we waited for the turn may have gone into the committer before
        // us, leaving ours with batches still on their way: wait for them again, unless the
        // wait is over (quiet, or out of time).
        let waited_out = matches!(ready, GroupReady::Quiet | GroupReady::TimedOut);
        if waited_out
            || ctx
                .flow
                .group_ready_now(&input.table, &own, limits.max_batches, limits.max_bytes)
        {
            let result = commit_turn(ctx, input).await;
            drop(turn);
            return result;
        }
        drop(turn);
    }
}

async fn commit_turn(ctx: &Context, input: CommitInput) -> Result<CommitOutput, StepError> {
    let table_cfg = ctx.table(&input.table)?.clone();
    let object = input.object.clone();
    let record = ledger_record(ctx, &input).await?;
    let rows = record.record.rows.as_ref().map(|r| r.valid).unwrap_or(0);
    match &record.record.state {
        LedgerState::Committed { snapshot_id } => {
            ctx.flow.committed(&input.table, [&object.batch_id()]);
            if record.record.replays > 0 {
                settle_quarantine(ctx, &input.table, &object).await?;
            }
            return Ok(CommitOutput {
                object,
                table: input.table,
                snapshot_id: *snapshot_id,
                rows,
                already_committed: true,
                snapshot_ms: snapshot_ms(ctx, &table_cfg, *snapshot_id).await,
                group: 0,
                superseded: false,
                replaced: 0,
            });
        }
        // Committed and then replaced by a newer version, or superseded when another
        // execution's group took it: nothing left to do.
        LedgerState::Retracted { snapshot_id, .. } => {
            ctx.flow.committed(&input.table, [&object.batch_id()]);
            return Ok(CommitOutput {
                object,
                table: input.table,
                snapshot_id: *snapshot_id,
                rows: 0,
                already_committed: true,
                snapshot_ms: snapshot_ms(ctx, &table_cfg, *snapshot_id).await,
                group: 0,
                superseded: true,
                replaced: 0,
            });
        }
        LedgerState::Staged { .. } => {}
        other => {
            return Err(StepError::internal(format!(
                "{}: commit called on a {} object",
                object.key,
                other.name()
            )))
        }
    }
    let Some(own) = read_manifest(ctx, &input.manifest_key).await? else {
        // Staged, yet the manifest is gone: another committer took the batch and removed the
        // manifest after its ledger update, which happened after our read. Read again.
        let now_record = ledger_record(ctx, &input).await?;
        if let LedgerState::Retracted { .. } = now_record.record.state {
            // Taken by another committer's group and superseded: the retracted arm above.
            return Box::pin(commit_turn(ctx, input)).await;
        }
        if let LedgerState::Committed { snapshot_id } = now_record.record.state {
            ctx.flow.committed(&input.table, [&object.batch_id()]);
            return Ok(CommitOutput {
                object,
                table: input.table,
                snapshot_id,
                rows,
                already_committed: true,
                snapshot_ms: snapshot_ms(ctx, &table_cfg, snapshot_id).await,
                group: 0,
                superseded: false,
                replaced: 0,
            });
        }
        return Err(StepError::internal(format!(
            "staged manifest {} is missing",
            input.manifest_key
        )));
    };
    let mut attempt = 0;
    let (group, outcome, versions) = loop {
        attempt += 1;
        let group = gather(ctx, &table_cfg, &own).await?;
        // Another committer waiting for a full group must not count these: by its turn they
        // are gone, and it would commit the few staged after them alone.
        let ids: Vec<BatchId> = group.iter().map(|b| b.batch_id.clone()).collect();
        ctx.flow.taking(&input.table, &ids);
        let committed = if table_cfg.tracks_versions() {
            versions::commit_group(ctx, &table_cfg, group, &own.batch_id).await
        } else {
            ctx.lake
                .commit_batches(&table_cfg, &group)
                .await
                .map(|outcome| (group, outcome, Versions::default()))
                .map_err(StepError::from)
        };
        if committed.is_err() {
            ctx.flow.not_taken(&input.table, &ids);
        }
        match committed {
            Ok(done) => break done,
            Err(e) if e.kind == StepErrorKind::CommitConflict && attempt < QUICK_ATTEMPTS => {
                let pause = rand::rng().random_range(5..=40u64) * u64::from(attempt);
                tracing::info!(table = %table_cfg.name, attempt, pause_ms = pause, "commit race lost; gathering again");
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => return Err(e),
        }
    };
    ctx.flow
        .committed(&input.table, group.iter().map(|b| &b.batch_id));
    failpoint::hit("commit.after_catalog", &object.key)?;

    let snapshot_id = match outcome.snapshots.get(&own.batch_id) {
        Some(id) => *id,
        // A batch with no data files (every row rejected, under the ratio): nothing to append.
        None => ctx
            .lake
            .describe(&table_cfg)
            .await?
            .and_then(|d| d.current_snapshot_id)
            .unwrap_or(0),
    };
    // Our own record first: it is the one this execution answers for. Another committer whose
    // group found our batch in the snapshot we just added may have marked it already (or,
    // under `replace`, a newer version's commit retracted it since).
    let superseded = versions.superseded.contains(&own.batch_id);
    match ctx
        .ledger
        .transition(&record, &now(), |r| {
            settle_record(r, snapshot_id, &own, superseded)
        })
        .await
    {
        Ok(_) => {}
        Err(LedgerError::Conflict { .. })
            if matches!(
                ledger_record(ctx, &input).await?.record.state,
                LedgerState::Committed { snapshot_id: s } if s == snapshot_id
            ) || matches!(
                ledger_record(ctx, &input).await?.record.state,
                LedgerState::Retracted { .. }
            ) => {}
        Err(e) => return Err(e.into()),
    }
    failpoint::hit("commit.after_ledger", &object.key)?;
    settle_group(ctx, &input.table, &group, &outcome, &own, &versions).await?;
    if record.record.replays > 0 {
        settle_quarantine(ctx, &input.table, &object).await?;
    }
    delete_manifest(ctx, &input.manifest_key).await;
    let already = outcome.already_committed.contains(&own.batch_id);
    if already {
        tracing::info!(key = %object.key, snapshot_id, "batch was already committed; ledger caught up");
    }
    Ok(CommitOutput {
        object,
        table: input.table,
        snapshot_id,
        rows: if superseded { 0 } else { own.rows },
        already_committed: already,
        snapshot_ms: snapshot_ms(ctx, &table_cfg, snapshot_id).await,
        group: if outcome.new_snapshot_id.is_some() {
            outcome.snapshots.len() - outcome.already_committed.len()
        } else {
            0
        },
        superseded,
        replaced: versions.replaced.get(&own.batch_id).copied().unwrap_or(0),
    })
}

/// The ledger's record of a batch the group commit took: committed with its data files, or,
/// when a newer version of its key is loaded (`replace`), retracted.
fn settle_record(
    r: &mut sluice_core::ledger::LedgerRecord,
    snapshot_id: i64,
    batch: &StagedBatch,
    superseded: bool,
) {
    if superseded {
        r.state = LedgerState::Retracted {
            snapshot_id,
            cause: sluice_core::ledger::RetractCause::Replaced,
        };
        r.detail = Some(format!(
            "{}: a newer version of the key is loaded (new_version = \"replace\"); this \
             version's rows did not enter the table",
            r.object.key
        ));
    } else {
        r.state = LedgerState::Committed { snapshot_id };
        r.data_files = batch.paths.clone();
    }
}

/// The commit time of `snapshot_id`, for the report; `None` if the table cannot say.
async fn snapshot_ms(ctx: &Context, table: &TableConfig, snapshot_id: i64) -> Option<i64> {
    let loaded = ctx.lake.load(table).await.ok()??;
    let snapshot = loaded.metadata().snapshot_by_id(snapshot_id)?;
    Some(snapshot.timestamp_ms())
}

async fn ledger_record(ctx: &Context, input: &CommitInput) -> Result<VersionedRecord, StepError> {
    ctx.ledger
        .get(&input.object)
        .await?
        .ok_or_else(|| StepError::internal(format!("{}: no ledger record", input.object.key)))
}

async fn read_manifest(ctx: &Context, key: &str) -> Result<Option<StagedBatch>, StepError> {
    let Some((bytes, _)) = ctx.store.get_bytes(key).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StepError::internal(format!("staged manifest {key}: {e}")))
}

/// The age limit: below the count and byte limits, wait until our batch has been staged for
/// `linger_ms`, so that batches staged meanwhile join this snapshot.
async fn linger(ctx: &Context, record: &VersionedRecord) {
    let limit = ctx.config.commit.linger_ms;
    if limit == 0 {
        return;
    }
    let staged_at = chrono::DateTime::parse_from_rfc3339(&record.record.updated_at)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    let age = (chrono::Utc::now() - staged_at).num_milliseconds().max(0) as u64;
    if age < limit {
        tokio::time::sleep(Duration::from_millis(limit - age)).await;
    }
}

/// Our batch, then every other ready batch of the table, within the `[commit]` limits. A
/// batch is ready when its manifest names its object and that object's ledger record says
/// staged with this very manifest; anything else (a validation still going, a manifest whose
/// batch was quarantined) is left alone.
async fn gather(
    ctx: &Context,
    table: &TableConfig,
    own: &StagedBatch,
) -> Result<Vec<StagedBatch>, StepError> {
    let limits = &ctx.config.commit;
    let mut group = vec![own.clone()];
    let mut bytes = own.bytes;
    let prefix = keys::staged_prefix(table);
    for meta in ctx.store.list(&prefix).await? {
        if group.len() >= limits.max_batches {
            break;
        }
        if !meta.key.ends_with(".json") || meta.key == keys::manifest(table, &own.batch_id) {
            continue;
        }
        let Ok(Some(batch)) = read_manifest(ctx, &meta.key).await else {
            continue;
        };
        if batch.data_files.is_empty() || bytes.saturating_add(batch.bytes) > limits.max_bytes {
            continue;
        }
        let Some(object) = &batch.object else {
            continue;
        };
        let ready = matches!(
            ctx.ledger.get(object).await?.map(|r| r.record.state),
            Some(LedgerState::Staged { manifest_key }) if manifest_key == meta.key
        );
        if ready {
            bytes += batch.bytes;
            group.push(batch);
        }
    }
    Ok(group)
}

/// Marks the other batches of the group committed in the ledger, then removes their
/// manifests. A record another committer or its own execution moved meanwhile is left as it
/// is: it can only have become committed, with the same snapshot.
async fn settle_group(
    ctx: &Context,
    table: &str,
    group: &[StagedBatch],
    outcome: &CommitOutcome,
    own: &StagedBatch,
    versions: &Versions,
) -> Result<(), StepError> {
    let table_cfg = ctx.table(table)?;
    for batch in group.iter().filter(|b| b.batch_id != own.batch_id) {
        let (Some(object), Some(snapshot_id)) =
            (&batch.object, outcome.snapshots.get(&batch.batch_id))
        else {
            continue;
        };
        let Some(record) = ctx.ledger.get(object).await? else {
            continue;
        };
        if !matches!(record.record.state, LedgerState::Staged { .. }) {
            continue;
        }
        match ctx
            .ledger
            .transition(&record, &now(), |r| {
                settle_record(
                    r,
                    *snapshot_id,
                    batch,
                    versions.superseded.contains(&batch.batch_id),
                )
            })
            .await
        {
            // Its own execution may never reach its commit step again (a redrive of it finds
            // it committed in Validate): the event is written here too.
            Ok(settled) => {
                crate::events::emit_committed(ctx.store.as_ref(), &settled.record, None).await?
            }
            Err(LedgerError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        if record.record.replays > 0 {
            settle_quarantine(ctx, table, object).await?;
        }
        delete_manifest(ctx, &keys::manifest(table_cfg, &batch.batch_id)).await;
    }
    Ok(())
}

/// A spent manifest is garbage; failing to remove it only leaves work for `sluice gc`.
async fn delete_manifest(ctx: &Context, key: &str) {
    if let Err(e) = ctx.store.delete(key).await {
        tracing::warn!(manifest = key, error = %e, "could not remove a spent staged manifest");
    }
}

/// A replayed version landed: its quarantine record has been dealt with. Deleting an absent
/// record succeeds, so a re-run converges.
async fn settle_quarantine(
    ctx: &Context,
    table: &str,
    object: &sluice_core::ObjectVersion,
) -> Result<(), StepError> {
    let key = keys::quarantine(Some(table), &object.batch_id());
    ctx.store.delete(&key).await?;
    tracing::info!(key = %object.key, "replayed version committed; quarantine record removed");
    Ok(())
}
