//! Replay, the decision part: which quarantined object versions a selection names, which of
//! them may be replayed, and under which deterministic name and input each replay execution
//! starts. Who starts them is the caller's business (the local engine in process, or Step
//! Functions from `sluice replay --aws`), as for [`crate::reconcile`].

use sluice_core::ledger::LedgerState;
use sluice_core::quarantine::QuarantineRecord;
use sluice_core::QuarantineReason;
use sluice_store::{Ledger, ObjectStore};

use crate::context::keys;
use crate::error::StepError;
use crate::payload::{Origin, ReplayInput};
use crate::reconcile::replay_name;

/// Which quarantined objects to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// One object: its key, its file name or its batch id.
    Id(String),
    Reason(QuarantineReason),
    Table(String),
    /// The files waiting on one pending drift change (`sluice drift approve ID`).
    DriftChange(String),
}

impl std::fmt::Display for Selection {
    /// As a person typed it: `nope`, `--reason drift_blocked`, `--table orders`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::Id(id) => write!(f, "{}", id.escape_debug()),
            Selection::Reason(reason) => write!(f, "--reason {reason}"),
            Selection::Table(table) => write!(f, "--table {}", table.escape_debug()),
            Selection::DriftChange(id) => write!(f, "drift change {}", id.escape_debug()),
        }
    }
}

/// A quarantined object not replayed, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub key: String,
    pub why: String,
}

/// Quarantine records under the control prefix of `store`, by key.
pub async fn quarantined(
    store: &dyn ObjectStore,
) -> Result<Vec<(String, QuarantineRecord)>, StepError> {
    let mut out = vec![];
    let metas = store.list(&keys::quarantine_prefix()).await?;
    for meta in metas {
        let Some((bytes, _)) = store.get_bytes(&meta.key).await? else {
            continue;
        };
        let record: QuarantineRecord = serde_json::from_slice(&bytes)
            .map_err(|e| StepError::internal(format!("quarantine record {}: {e}", meta.key)))?;
        out.push((meta.key, record));
    }
    Ok(out)
}

/// The replay executions to start for the quarantined objects `selection` names: each with
/// its deterministic name ([`replay_name`]) and input. Only objects the ledger still holds
/// as quarantined are chosen; the rest are skipped with the reason. Needs only the store
/// and the ledger, so the same plan is started on sluice's engine or on AWS Step Functions.
pub async fn plan_replay(
    ledger: &Ledger,
    selection: &Selection,
) -> Result<(Vec<(String, ReplayInput)>, Vec<Skipped>), StepError> {
    let mut planned = vec![];
    let mut skipped = vec![];
    for (record_key, record) in quarantined(ledger.store().as_ref()).await? {
        let o = &record.object;
        let chosen = match selection {
            Selection::Id(id) => o.is_named(id),
            Selection::Reason(r) => record.reason == *r,
            Selection::Table(t) => record.table.as_deref() == Some(t.as_str()),
            Selection::DriftChange(id) => {
                crate::drift_decisions::waits_on(&record).is_some_and(|(_, waits)| waits == *id)
            }
        };
        if !chosen {
            continue;
        }
        let skip = |why: String| Skipped {
            key: o.key.clone(),
            why,
        };
        if record.reason == QuarantineReason::UnacceptableKey {
            skipped.push(skip(
                "no object can be read under its key; copy it to an acceptable key, where it arrives as a new object".into(),
            ));
            continue;
        }
        let Some(table) = record.table.clone() else {
            skipped.push(skip(
                "it was quarantined before it was routed to a table; land it again under a table's prefix".into(),
            ));
            continue;
        };
        let current = ledger.get(o).await?;
        let replays = match current.as_ref().map(|r| &r.record.state) {
            Some(LedgerState::Quarantined { .. }) => {
                current.as_ref().map(|r| r.record.replays).unwrap_or(0)
            }
            Some(other) => {
                skipped.push(skip(format!("it is {} now, not quarantined", other.name())));
                continue;
            }
            None => {
                skipped.push(skip("the ledger has no record of it".into()));
                continue;
            }
        };
        let input = ReplayInput {
            status: Origin::Replay,
            object: o.clone(),
            table,
            quarantine_key: record_key,
            attempt: replays + 1,
        };
        planned.push((replay_name(&input), input));
    }
    Ok((planned, skipped))
}
