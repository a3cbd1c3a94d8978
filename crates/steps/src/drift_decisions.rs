//! Decisions on blocked drift: a file quarantined as `drift_blocked` records the changes that
//! blocked it, and every file blocked by the same changes to one table waits on the same
//! pending change ([`sluice_core::drift::change_set_id`]). A person approves it (`sluice drift
//! approve ID`: the table takes those additions whatever its drift policy says, and the
//! waiting files are replayed) or rejects it (`sluice drift reject ID --reason`: the files
//! stay in quarantine, the change leaves the pending list).
//!
//! The decisions of a table are one control object (`.sluice/drift/<ns>.<table>.json`),
//! replaced by compare-and-swap, so two people deciding at once both land. DetectDrift and
//! Validate read it for every file: an approved addition evolves the table like `additive =
//! "evolve"` would, for that path and type only. A widening or an incompatible change is
//! never approvable: no column type holds both.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::config::TableConfig;
use sluice_core::drift::{change_set_id, ColumnAddition, DriftChange};
use sluice_core::layout::drift_decisions;
use sluice_core::quarantine::QuarantineRecord;
use sluice_core::schema::{parse_type_name, Field, TableSchema};
use sluice_core::QuarantineReason;
use sluice_store::{Conditional, ObjectStore};

use crate::context::{now, Context};
use crate::error::StepError;
use crate::replay::quarantined;

/// Compare-and-swap attempts before a decision gives up on a busy object.
const DECIDE_ATTEMPTS: usize = 8;

/// What a person said of a pending change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approved,
    Rejected,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approved => "approved",
            Verdict::Rejected => "rejected",
        }
    }
}

/// One decision on one pending change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// The change set's id ([`change_set_id`]).
    pub id: String,
    pub verdict: Verdict,
    /// The changes decided on.
    pub changes: Vec<DriftChange>,
    /// Why, as the person said it (required for a rejection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// RFC 3339 time of the decision.
    pub at: String,
}

/// Every decision on one table's drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftDecisions {
    #[serde(default)]
    pub decisions: Vec<Decision>,
}

impl DriftDecisions {
    /// The decision on `id`, if there is one.
    pub fn get(&self, id: &str) -> Option<&Decision> {
        self.decisions.iter().find(|d| d.id == id)
    }

    /// Every approved change.
    pub fn approved(&self) -> Vec<DriftChange> {
        self.decisions
            .iter()
            .filter(|d| d.verdict == Verdict::Approved)
            .flat_map(|d| d.changes.iter().cloned())
            .collect()
    }
}

/// The decisions on `table`'s drift (none while the object is absent).
pub async fn load(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<DriftDecisions, StepError> {
    Ok(load_with_etag(store, table).await?.0)
}

async fn load_with_etag(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<(DriftDecisions, Option<String>), StepError> {
    let key = drift_decisions(table);
    match store.get_bytes(&key).await? {
        None => Ok((DriftDecisions::default(), None)),
        Some((bytes, meta)) => {
            let decisions = serde_json::from_slice(&bytes).map_err(|e| {
                StepError::internal(format!(
                    "{key}: the drift decisions of table {} are not readable ({e}); restore \
                     the object's previous version or remove it",
                    table.name
                ))
            })?;
            Ok((decisions, Some(meta.etag)))
        }
    }
}

/// Records `decision` for `table`. An id already decided keeps its first decision, which is
/// returned as an error naming it.
pub async fn record(
    store: &dyn ObjectStore,
    table: &TableConfig,
    decision: Decision,
) -> Result<(), StepError> {
    let key = drift_decisions(table);
    for _ in 0..DECIDE_ATTEMPTS {
        let (mut decisions, etag) = load_with_etag(store, table).await?;
        if let Some(earlier) = decisions.get(&decision.id) {
            return Err(StepError::internal(format!(
                "drift change {} of table {} was already {} at {}",
                decision.id,
                table.name,
                earlier.verdict.as_str(),
                earlier.at
            )));
        }
        decisions.decisions.push(decision.clone());
        let body = Bytes::from(
            serde_json::to_vec_pretty(&decisions)
                .map_err(|e| StepError::internal(e.to_string()))?,
        );
        let written = match &etag {
            Some(etag) => store.put_if_match(&key, body, etag).await?,
            None => store.create_if_absent(&key, body).await?,
        };
        if let Conditional::Done(_) = written {
            return Ok(());
        }
    }
    Err(StepError::new(
        crate::error::StepErrorKind::TransientError,
        format!(
            "{key}: kept changing under {DECIDE_ATTEMPTS} attempts to record a decision; try again"
        ),
    ))
}

/// A change to one table that files wait on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingChange {
    pub id: String,
    pub table: String,
    pub changes: Vec<DriftChange>,
    /// The quarantined files blocked by it: their keys in the bucket, oldest record first.
    pub files: Vec<String>,
    /// The decision on it, once there is one (the files of an approved change still
    /// quarantined are the ones its replay has not brought in yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

impl PendingChange {
    /// Why the change cannot be approved, if it cannot.
    pub fn unapprovable(&self) -> Option<String> {
        let refused: Vec<String> = self
            .changes
            .iter()
            .filter(|c| !c.approvable())
            .map(ToString::to_string)
            .collect();
        (!refused.is_empty()).then(|| {
            format!(
                "{}: no column type holds both; fix the files or the contract, then `sluice \
                 replay`",
                refused.join("; ")
            )
        })
    }
}

/// The changes quarantined files wait on, per table, each with its decision if it has one;
/// files blocked before sluice recorded the changes (or by a `[limits]` refusal) are not
/// among them.
pub async fn pending(ctx: &Context) -> Result<Vec<PendingChange>, StepError> {
    // (table, id) -> the changes, and each waiting file as (record time, key).
    type Waiting = (Vec<DriftChange>, Vec<(String, String)>);
    let mut by_id: BTreeMap<(String, String), Waiting> = BTreeMap::new();
    for (_, record) in quarantined(ctx.store.as_ref()).await? {
        let Some((table, id)) = waits_on(&record) else {
            continue;
        };
        let entry = by_id
            .entry((table, id))
            .or_insert_with(|| (record.drift.clone(), vec![]));
        entry.1.push((record.at.clone(), record.object.key.clone()));
    }
    let mut out = vec![];
    let mut decisions: BTreeMap<String, DriftDecisions> = BTreeMap::new();
    for ((table, id), (changes, mut files)) in by_id {
        if !decisions.contains_key(&table) {
            let loaded = match ctx.config.table(&table) {
                Some(cfg) => load(ctx.store.as_ref(), cfg).await?,
                None => DriftDecisions::default(),
            };
            decisions.insert(table.clone(), loaded);
        }
        files.sort();
        out.push(PendingChange {
            decision: decisions[&table].get(&id).cloned(),
            id,
            table,
            changes,
            files: files.into_iter().map(|(_, key)| key).collect(),
        });
    }
    Ok(out)
}

/// The table and change-set id a quarantined file waits on, if it waits on one.
pub fn waits_on(record: &QuarantineRecord) -> Option<(String, String)> {
    if record.reason != QuarantineReason::DriftBlocked || record.drift.is_empty() {
        return None;
    }
    let table = record.table.clone()?;
    let id = change_set_id(&table, &record.drift);
    Some((table, id))
}

/// Why approving `change` would change nothing: every addition it lists is in `table` already
/// (a newer contract, or another file under a looser policy, added it), so its files only
/// need a replay.
pub fn moot(change: &PendingChange, table: &TableSchema) -> Option<String> {
    let present = |path: &str| sluice_core::drift::has_path(table, path);
    change.changes.iter().all(|c| present(&c.path)).then(|| {
        let paths: Vec<&str> = change.changes.iter().map(|c| c.path.as_str()).collect();
        format!(
            "table {} already has {} since the files were blocked; replay them instead: \
                 `sluice replay --table {}`",
            change.table,
            paths.join(", "),
            change.table
        )
    })
}

/// A decision made now.
pub fn decision(change: &PendingChange, verdict: Verdict, reason: Option<String>) -> Decision {
    Decision {
        id: change.id.clone(),
        verdict,
        changes: change.changes.clone(),
        reason,
        at: now(),
    }
}

/// What approving a change did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approval {
    /// The columns the table gained (dotted paths); none when it had them or does not exist
    /// yet (the first replayed file creates it).
    pub evolved: Vec<String>,
    /// The contract version that records the approval ([`crate::contracts::effective`]).
    pub contract_version: u32,
}

/// Approves `change` of `table`: records the decision, adds its columns to the table (so the
/// table has them before any file is replayed, and with `--no-replay` too), and records the
/// contract version that includes them. The files waiting are replayed by the caller.
pub async fn approve(
    ctx: &Context,
    table: &TableConfig,
    change: &PendingChange,
) -> Result<Approval, StepError> {
    record(
        ctx.store.as_ref(),
        table,
        decision(change, Verdict::Approved, None),
    )
    .await?;
    let mut evolved = vec![];
    if let Some(current) = ctx.lake.load(table).await? {
        let schema = sluice_lake::schema::from_iceberg_schema(current.metadata().current_schema())?;
        let additions: Vec<ColumnAddition> = change
            .changes
            .iter()
            .filter(|c| !sluice_core::drift::has_path(&schema, &c.path))
            .filter_map(addition)
            .collect();
        if !additions.is_empty() {
            sluice_core::evolution::check(&additions, &schema, &ctx.config.limits).map_err(
                |detail| {
                    StepError::internal(format!(
                        "drift change {} is approved, but table {} cannot take it now: {detail}",
                        change.id, table.name
                    ))
                },
            )?;
            crate::validate::add_columns(ctx, table, &additions, &change.id).await?;
            evolved = additions.iter().map(ColumnAddition::path).collect();
        }
    }
    let contract_version = ctx.contract_version(table).await?;
    Ok(Approval {
        evolved,
        contract_version,
    })
}

/// The column an approved addition adds: the type its files had, optional; `None` when the
/// type's name cannot be read back (the first replayed file adds it, typed by its values).
fn addition(change: &DriftChange) -> Option<ColumnAddition> {
    let ty = parse_type_name(&change.file_type)?;
    let (parent, name) = match change.path.rsplit_once('.') {
        Some((parent, name)) => (Some(parent.to_string()), name.to_string()),
        None => (None, change.path.clone()),
    };
    Some(ColumnAddition {
        parent,
        field: Field {
            name,
            ty,
            required: false,
        },
    })
}
