//! Step 1, filter: decide whether an arrival is a new object version for a table.
//!
//! Routes by key prefix, refuses hostile keys and sluice's own control objects, claims the
//! object version in the ledger (a conditional create, so of two duplicate events exactly one
//! proceeds), and sends oversize or unreadable objects to quarantine. A version the ledger
//! already knows is a duplicate, unless an earlier run crashed part-way: then the output says
//! where to resume (a claim whose lease expired, or this execution's own, is taken over).
//! The key's head (`sluice_core::keyhead`) orders events by sequencer, records removals and
//! applies the table's new-version policy: an older event is filtered as `superseded`, an
//! ignored new version as `new_version_ignored`.

use sluice_core::config::CONTROL_PREFIX;
use sluice_core::config::{NewVersionPolicy, OnDeletePolicy, TableConfig};
use sluice_core::keyhead::{KeyHead, Order, Removal};
use sluice_core::ledger::{FilteredReason, Lease, LedgerState};
use sluice_core::object::{check_key, KeyError};
use sluice_core::reader::check_extension;
use sluice_core::ObjectVersion;
use sluice_core::QuarantineReason;
use sluice_store::{Claim, LedgerError, VersionedRecord};

use crate::context::{now, Context};
use crate::error::StepError;
use crate::payload::{self, Arrival, ArrivalEvent, FilterInput, FilterOutput};

/// The lease holder for a claim made without an execution name (a direct call of the step,
/// as in tests): all such callers count as one holder.
const ANONYMOUS: &str = "anonymous";

pub async fn filter(ctx: &Context, input: FilterInput) -> Result<FilterOutput, StepError> {
    let FilterInput { arrival, execution } = input;
    let owner = execution.as_deref().unwrap_or(ANONYMOUS);
    let skip = FilterOutput::filtered;
    if arrival.key.starts_with(CONTROL_PREFIX) {
        return Ok(skip(format!(
            "{} is sluice's own control object",
            arrival.key.escape_debug()
        )));
    }
    if arrival.bucket != ctx.store.bucket() {
        return Ok(skip(format!(
            "bucket {:?} is not the landing bucket",
            arrival.bucket
        )));
    }
    if let Err(e) = check_key(&arrival.key) {
        return unacceptable_key(ctx, &arrival, owner, e).await;
    }
    if arrival.event == ArrivalEvent::Removed {
        let detail = record_removal(ctx, &arrival).await?;
        return Ok(match ctx.config.route(&arrival.key) {
            Some(table) if table.on_delete == OnDeletePolicy::Delete => FilterOutput::Removed {
                table: table.name.clone(),
                removal: payload::Removal {
                    bucket: arrival.bucket.clone(),
                    key: arrival.key.clone(),
                    version_id: arrival.version_id.clone(),
                    sequencer: arrival.sequencer.clone(),
                    at: arrival.time.clone().unwrap_or_else(now),
                },
            },
            _ => skip(detail),
        });
    }
    // The version the event names (on a versioned bucket), not whatever is current now.
    let Some(meta) = ctx
        .store
        .head_version(&arrival.key, arrival.version_id.as_deref())
        .await?
    else {
        let detail = format!("{} no longer exists", arrival.key);
        settle_unreadable_claim(ctx, &arrival, owner, FilteredReason::Removed, &detail).await?;
        return Ok(skip(detail));
    };
    if let Some(etag) = &arrival.etag {
        if *etag != meta.etag && arrival.version_id.is_none() {
            let detail = format!(
                "{} has been overwritten since this event; the newer version has its own event",
                arrival.key
            );
            settle_unreadable_claim(ctx, &arrival, owner, FilteredReason::Superseded, &detail)
                .await?;
            return Ok(skip(detail));
        }
    }
    let mut object = meta.to_version(ctx.store.bucket());
    object.sequencer = arrival.sequencer.clone();
    let table = ctx.config.route(&object.key).cloned();

    let at = now();
    let lease = Lease::new(owner, &at, ctx.config.ledger.lease_seconds);
    let record = match ctx.ledger.claim_leased(&object, &at, Some(lease)).await? {
        Claim::New(record) => record,
        Claim::Existing(record) => {
            // A duplicate of a committed version: its event, should the run that committed
            // it have stopped before writing it.
            crate::events::emit_committed(ctx.store.as_ref(), &record.record, None).await?;
            let known_table = record
                .record
                .table
                .clone()
                .or(table.as_ref().map(|t| t.name.clone()));
            let duplicate = |detail| FilterOutput::Duplicate {
                object: object.clone(),
                table: known_table.clone(),
                ledger_state: record.record.state.kind(),
                detail,
            };
            return Ok(match (&record.record.state, &known_table) {
                (LedgerState::Staged { manifest_key }, _) => FilterOutput::ResumeCommit {
                    object: object.clone(),
                    table: known_table.clone(),
                    manifest_key: manifest_key.clone(),
                    ledger_state: record.record.state.kind(),
                },
                // Claimed but never staged: the run that claimed it is still going, or it died
                // before staging. Its own redrive, or anyone once the lease has expired, takes
                // the claim over; staged file names are deterministic, so validating again
                // converges.
                (LedgerState::Claimed, Some(table_name)) => {
                    match take_over(ctx, &record, owner).await? {
                        Ok(taken) => match place(ctx, &object, &arrival, table.as_ref()).await? {
                            Some((reason, detail)) => {
                                return filtered(ctx, &taken, object, reason, detail).await
                            }
                            None => FilterOutput::Accepted {
                                object: object.clone(),
                                table: table_name.clone(),
                                ledger_state: Some(record.record.state.kind()),
                            },
                        },
                        Err(holder) => duplicate(Some(holder)),
                    }
                }
                _ => duplicate(None),
            });
        }
    };
    tracing::info!(key = %object.key, etag = %object.etag, "object claimed");
    crate::failpoint::hit("filter.after_claim", &object.key)?;

    let Some(table) = table else {
        let detail = format!("{} is under no table's prefix", object.key);
        ctx.ledger
            .transition(&record, &now(), |r| {
                r.state = LedgerState::Filtered {
                    reason: FilteredReason::NoTable,
                };
                r.detail = Some(detail.clone());
            })
            .await?;
        return Ok(FilterOutput::Filtered {
            object: Some(object),
            detail,
        });
    };
    if let Some((reason, detail)) = place(ctx, &object, &arrival, Some(&table)).await? {
        return filtered(ctx, &record, object, reason, detail).await;
    }
    let reject = |reason: QuarantineReason, detail: String| FilterOutput::Rejected {
        object: object.clone(),
        table: Some(table.name.clone()),
        reason,
        detail,
    };
    if object.size > ctx.config.limits.max_object_bytes {
        return Ok(reject(
            QuarantineReason::TooLarge,
            format!(
                "{} is {} bytes, over limits.max_object_bytes = {}",
                object.key, object.size, ctx.config.limits.max_object_bytes
            ),
        ));
    }
    if let Err(why) = check_extension(
        &object.key,
        sluice_core::reader::format_for_key(&object.key, table.format),
    ) {
        return Ok(reject(QuarantineReason::UnsupportedFormat, why));
    }
    Ok(FilterOutput::Accepted {
        table: table.name.clone(),
        object,
        ledger_state: None,
    })
}

/// Takes over a `claimed` record for `owner` if its lease allows: it is `owner`'s own (a
/// redrive or a retry of the same execution), absent (a reopened replay) or expired (the run
/// died). The new lease is written with a compare-and-swap, so of two executions taking over
/// at once exactly one goes on. `Ok(Err(why))` names the live holder when the claim is not free.
async fn take_over(
    ctx: &Context,
    record: &VersionedRecord,
    owner: &str,
) -> Result<Result<VersionedRecord, String>, StepError> {
    let at = now();
    if let Some(lease) = &record.record.lease {
        if lease.owner != owner && !lease.expired(&at) {
            return Ok(Err(format!(
                "execution {} holds the claim until {}; it is taken over after that if that run died",
                lease.owner, lease.expires_at
            )));
        }
    }
    let lease = Lease::new(owner, &at, ctx.config.ledger.lease_seconds);
    let previous = record.record.lease.as_ref().map(|l| l.owner.clone());
    match ctx
        .ledger
        .transition(record, &at, |r| r.lease = Some(lease.clone()))
        .await
    {
        Ok(taken) => {
            if previous.as_deref().is_some_and(|p| p != owner) {
                tracing::warn!(key = %record.record.object.key, previous = ?previous, "expired claim taken over");
            }
            Ok(Ok(taken))
        }
        Err(LedgerError::Conflict { .. }) => Ok(Err(
            "another execution took the claim over at the same moment".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Where this version stands among its key's versions (see `sluice_core::keyhead`): an event
/// older than one already seen for the key is superseded; under `new_version = "ignore"`, a
/// version of a key whose first admitted version is loaded (or on its way) is ignored.
/// `Some((reason, detail))` filters it. Only arrivals with a sequencer, or tables with the
/// `ignore` policy, touch the key's head; it is updated by compare-and-swap, and deciding
/// again for the same version gives the same answer, so a re-run converges.
async fn place(
    ctx: &Context,
    object: &ObjectVersion,
    arrival: &Arrival,
    table: Option<&TableConfig>,
) -> Result<Option<(FilteredReason, String)>, StepError> {
    let ignore = table.is_some_and(|t| t.new_version == NewVersionPolicy::Ignore);
    let sequencer = arrival.sequencer.as_deref();
    if sequencer.is_none() && !ignore {
        return Ok(None);
    }
    let this = object.ledger_key();
    let decide = |head: &mut KeyHead| -> Verdict {
        if let Order::Older { newer } = head.order(sequencer) {
            if head.latest.as_deref() != Some(this.as_str()) {
                return Verdict::Superseded(newer);
            }
        }
        head.saw_created(sequencer, &this);
        match &head.loaded {
            Some(first) if ignore && *first != this => Verdict::Loaded(first.clone()),
            _ => {
                if ignore {
                    head.loaded = Some(this.clone());
                }
                Verdict::Go
            }
        }
    };
    let (_, verdict) = ctx
        .ledger
        .update_head(&object.bucket, &object.key, &now(), decide)
        .await?;
    Ok(match verdict {
        Verdict::Go => None,
        Verdict::Superseded(newer) => Some((
            FilteredReason::Superseded,
            format!(
                "{}: an event with a later sequencer ({newer}) was already seen for this key; \
                 this older version is not loaded over it",
                object.key
            ),
        )),
        Verdict::Loaded(first) => {
            // The first version counts only while it is loaded or on its way; if it ended
            // filtered or quarantined, this version takes its place.
            let gone = match ctx.ledger.get_by_ledger_key(&first).await? {
                None => true,
                Some(r) => matches!(
                    r.state,
                    LedgerState::Filtered { .. } | LedgerState::Quarantined { .. }
                ),
            };
            if gone {
                let (_, moved) = ctx
                    .ledger
                    .update_head(&object.bucket, &object.key, &now(), |head| {
                        if head.loaded.as_deref() == Some(first.as_str()) {
                            head.loaded = Some(this.clone());
                        }
                        head.loaded.as_deref() == Some(this.as_str())
                    })
                    .await?;
                if moved {
                    return Ok(None);
                }
            }
            Some((
                FilteredReason::NewVersionIgnored,
                format!(
                    "{}: the table keeps the first version of a key (new_version = \"ignore\"); \
                     {first} is loaded",
                    object.key
                ),
            ))
        }
    })
}

/// The version the event names can no longer be read (removed, or overwritten on a bucket
/// without versions): a claim an earlier run of this event left (it crashed after claiming)
/// would stay claimed for ever, since nothing will read those bytes again. It ends filtered,
/// if this execution may take the claim over (its own redrive, or the holder's lease expired).
async fn settle_unreadable_claim(
    ctx: &Context,
    arrival: &Arrival,
    owner: &str,
    reason: FilteredReason,
    detail: &str,
) -> Result<(), StepError> {
    let Some(etag) = arrival.etag.clone() else {
        return Ok(());
    };
    let named = ObjectVersion {
        bucket: arrival.bucket.clone(),
        key: arrival.key.clone(),
        version_id: arrival.version_id.clone(),
        etag,
        size: 0,
        sequencer: arrival.sequencer.clone(),
        last_modified: String::new(),
    };
    let Some(record) = ctx.ledger.get(&named).await? else {
        return Ok(());
    };
    if record.record.state != LedgerState::Claimed {
        return Ok(());
    }
    if let Ok(taken) = take_over(ctx, &record, owner).await? {
        let object = taken.record.object.clone();
        filtered(ctx, &taken, object, reason, detail.to_string()).await?;
    }
    Ok(())
}

/// What the key's head says about a version.
enum Verdict {
    Go,
    Superseded(String),
    Loaded(String),
}

/// An object whose key sluice cannot take (legal on S3: `a//b`, `./x`, a backslash, a control
/// character): nothing may read it, but it is accounted for. The version is claimed in the
/// ledger under the identity the event gives (the record's key is a hash, so any key fits)
/// and rejected as `unacceptable_key`, so the Quarantine state records it; the object itself
/// is never touched. A version already recorded is a duplicate.
async fn unacceptable_key(
    ctx: &Context,
    arrival: &Arrival,
    owner: &str,
    error: KeyError,
) -> Result<FilterOutput, StepError> {
    tracing::warn!(key = %arrival.key.escape_debug(), %error, "arrival with a key sluice cannot take");
    let object = ObjectVersion {
        bucket: arrival.bucket.clone(),
        key: arrival.key.clone(),
        version_id: arrival.version_id.clone(),
        // The store refuses to look at the key, so the event's identity is all there is.
        etag: arrival.etag.clone().unwrap_or_default(),
        size: 0,
        sequencer: arrival.sequencer.clone(),
        last_modified: String::new(),
    };
    let table = ctx.config.route(&object.key).map(|t| t.name.clone());
    let at = now();
    let lease = Lease::new(owner, &at, ctx.config.ledger.lease_seconds);
    let rejected = FilterOutput::Rejected {
        object: object.clone(),
        table: table.clone(),
        reason: QuarantineReason::UnacceptableKey,
        detail: format!(
            "{error}: sluice cannot read an object under this key; copy it to an acceptable \
             key (no empty, `.` or `..` segment, no backslash or control character, at most \
             1024 bytes) and it arrives as a new object"
        ),
    };
    let record = match ctx.ledger.claim_leased(&object, &at, Some(lease)).await? {
        Claim::New(_) => return Ok(rejected),
        Claim::Existing(record) => record,
    };
    let duplicate = |detail| FilterOutput::Duplicate {
        object: object.clone(),
        table: table.clone(),
        ledger_state: record.record.state.kind(),
        detail,
    };
    // Claimed but not yet quarantined: a run that died in between; take it over as any claim.
    if record.record.state == LedgerState::Claimed {
        return Ok(match take_over(ctx, &record, owner).await? {
            Ok(_) => rejected,
            Err(holder) => duplicate(Some(holder)),
        });
    }
    Ok(duplicate(None))
}

/// Records the claimed version as filtered for `reason`.
async fn filtered(
    ctx: &Context,
    record: &VersionedRecord,
    object: ObjectVersion,
    reason: FilteredReason,
    detail: String,
) -> Result<FilterOutput, StepError> {
    ctx.ledger
        .transition(record, &now(), |r| {
            r.state = LedgerState::Filtered {
                reason: reason.clone(),
            };
            r.detail = Some(detail.clone());
        })
        .await?;
    tracing::info!(key = %object.key, %reason, "version filtered");
    Ok(FilterOutput::Filtered {
        object: Some(object),
        detail,
    })
}

/// An `ObjectRemoved` event: recorded in the key's head (the newest removal makes older
/// created events superseded); nothing is loaded or deleted from the table. Reconciliation
/// records a removal whose event was lost through here too.
pub(crate) async fn record_removal(ctx: &Context, arrival: &Arrival) -> Result<String, StepError> {
    let at = now();
    let removal = Removal {
        sequencer: arrival.sequencer.clone(),
        version_id: arrival.version_id.clone(),
        recorded_at: at.clone(),
    };
    ctx.ledger
        .update_head(&arrival.bucket, &arrival.key, &at, |head| {
            head.saw_removed(removal.clone())
        })
        .await?;
    tracing::info!(key = %arrival.key, "removal recorded");
    Ok(format!(
        "removal of {} recorded in the ledger; rows already loaded stay in the table \
         (on_delete = \"keep\")",
        arrival.key
    ))
}
