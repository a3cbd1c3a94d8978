//! Step 1, filter: decide whether an arrival is a new object version for a table.
//!
//! Routes by key prefix, refuses hostile keys and sluice's own control objects, claims the
//! object version in the ledger (a conditional create, so of two duplicate events exactly one
//! proceeds), and sends oversize or unreadable objects to quarantine. A version the ledger
//! already knows is a duplicate, unless an earlier run crashed part-way: then the output says
//! where to resume.

use sluice_core::config::CONTROL_PREFIX;
use sluice_core::ledger::{Lease, LedgerState};
use sluice_core::object::check_key;
use sluice_core::reader::check_extension;
use sluice_core::QuarantineReason;
use sluice_store::{Claim, LedgerError, VersionedRecord};

use crate::context::{now, Context};
use crate::error::StepError;
use crate::payload::{FilterInput, FilterOutput, FilterStatus};

/// The lease holder for a claim made without an execution name (a direct call).
const ANONYMOUS: &str = "anonymous";

pub async fn filter(ctx: &Context, input: FilterInput) -> Result<FilterOutput, StepError> {
    let FilterInput { arrival, execution } = input;
    let owner = execution.as_deref().unwrap_or(ANONYMOUS);
    let skip = |detail: String| FilterOutput {
        status: FilterStatus::Filtered,
        object: None,
        table: None,
        manifest_key: None,
        reason: None,
        ledger_state: None,
        detail: Some(detail),
    };
    if let Err(e) = check_key(&arrival.key) {
        tracing::warn!(error = %e, "arrival with an unsafe key ignored");
        return Ok(skip(format!("unsafe key: {e}")));
    }
    if arrival.key.starts_with(CONTROL_PREFIX) {
        return Ok(skip(format!(
            "{} is sluice's own control object",
            arrival.key
        )));
    }
    if arrival.bucket != ctx.store.bucket() {
        return Ok(skip(format!(
            "bucket {:?} is not the landing bucket",
            arrival.bucket
        )));
    }
    let Some(meta) = ctx.store.head(&arrival.key).await? else {
        return Ok(skip(format!("{} no longer exists", arrival.key)));
    };
    if let Some(etag) = &arrival.etag {
        if *etag != meta.etag && arrival.version_id.is_none() {
            return Ok(skip(format!(
                "{} has been overwritten since this event; the newer version has its own event",
                arrival.key
            )));
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
            let out = FilterOutput {
                object: Some(object.clone()),
                table: record
                    .record
                    .table
                    .clone()
                    .or(table.as_ref().map(|t| t.name.clone())),
                ledger_state: Some(record.record.state.name().to_string()),
                manifest_key: None,
                reason: None,
                detail: None,
                status: FilterStatus::Duplicate,
            };
            return Ok(match &record.record.state {
                LedgerState::Staged { manifest_key } => FilterOutput {
                    status: FilterStatus::ResumeCommit,
                    manifest_key: Some(manifest_key.clone()),
                    ..out
                },
                // Claimed but never staged: the run that claimed it is still going, or it died
                // before staging. Its own redrive, or anyone once the lease has expired, takes
                // the claim over; staged file names are deterministic, so validating again
                // converges.
                LedgerState::Claimed if out.table.is_some() => {
                    match take_over(ctx, &record, owner).await? {
                        Ok(()) => FilterOutput {
                            status: FilterStatus::Accepted,
                            ..out
                        },
                        Err(holder) => FilterOutput {
                            detail: Some(holder),
                            ..out
                        },
                    }
                }
                _ => out,
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
                    reason: "no_table".into(),
                };
                r.detail = Some(detail.clone());
            })
            .await?;
        return Ok(FilterOutput {
            object: Some(object),
            ..skip(detail)
        });
    };
    let reject = |reason: QuarantineReason, detail: String| FilterOutput {
        status: FilterStatus::Rejected,
        object: Some(object.clone()),
        table: Some(table.name.clone()),
        manifest_key: None,
        reason: Some(reason),
        ledger_state: None,
        detail: Some(detail),
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
        crate::source::format_for(&object.key, table.format),
    ) {
        return Ok(reject(QuarantineReason::UnsupportedFormat, why));
    }
    Ok(FilterOutput {
        status: FilterStatus::Accepted,
        table: Some(table.name.clone()),
        object: Some(object),
        manifest_key: None,
        reason: None,
        ledger_state: None,
        detail: None,
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
) -> Result<Result<(), String>, StepError> {
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
        Ok(_) => {
            if previous.as_deref().is_some_and(|p| p != owner) {
                tracing::warn!(key = %record.record.object.key, previous = ?previous, "expired claim taken over");
            }
            Ok(Ok(()))
        }
        Err(LedgerError::Conflict { .. }) => Ok(Err(
            "another execution took the claim over at the same moment".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
