//! Lost events, the decision part: which object versions under a table's prefix need an
//! execution, with which deterministic name and input, and the table's watermark.
//!
//! The listing is the truth; events are only hints. A version the ledger never saw gets an
//! arrival execution named as its event's would be ([`arrival_name`]), so a late event and the
//! reconciliation find one another; a version whose claim was abandoned (not terminal, lease
//! expired) gets a resumption named after its last transition ([`resume_name`]). Who starts
//! the executions is the caller's business: the local engine runs them in process
//! (`sluice-local`), the reconcile Lambda starts them on Step Functions.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::config::TableConfig;
use sluice_core::ledger::LedgerRecord;
use sluice_store::{LedgerError, ObjectMeta};

use crate::context::{keys, Context};
use crate::error::StepError;
use crate::payload::{Arrival, ReplayInput};

/// A table's reconciliation mark, kept under the control prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub table: String,
    /// Last-modified time (RFC 3339) at or before which every listed object is committed,
    /// filtered or quarantined; `None` when the oldest object is not finished.
    pub watermark: Option<String>,
    /// Objects listed under the table's prefix.
    pub objects: u64,
    /// Listed objects not in a terminal state after the run (waiting for a redrive).
    pub unfinished: u64,
    /// When the reconciliation ran.
    pub at: String,
}

/// One object listed under a table's prefix and routed to that table, with the ledger's
/// record of its version as the listing found it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub meta: ObjectMeta,
    pub record: Option<LedgerRecord>,
    /// Why its ledger record cannot be read, when it cannot: no execution is started for it
    /// (it would stop at the same record) and it counts as unfinished, so the watermark says
    /// only what is true; `sluice doctor` reports it.
    pub corrupt: Option<String>,
}

/// Why reconciliation starts an execution for a listed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The ledger has no record of it: its event was lost (or is still on its way).
    Unseen,
    /// Claimed or staged, and whoever held it has been gone longer than the lease.
    Abandoned,
}

/// An execution to start: its deterministic name and its input.
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub name: String,
    pub arrival: Arrival,
    pub why: Why,
}

/// Lists `table`'s prefix and reads the ledger record of every version routed to it (a
/// longer prefix of another table wins). First loads the table through the identity guard:
/// a table the catalog lost is refused here, not reported as reconciled. Objects whose key
/// sluice cannot take are listed too: their execution records them as quarantined
/// `unacceptable_key` (see the filter step), so the watermark counts every object there is,
/// not only those sluice can read.
pub async fn list(ctx: &Context, table: &TableConfig) -> Result<Vec<Listed>, StepError> {
    ctx.lake.load(table).await?;
    let store = &ctx.store;
    let listing = store.listing(&table.prefix).await?;
    let mut out = vec![];
    for meta in listing.objects.into_iter().chain(listing.unacceptable) {
        if ctx.config.route(&meta.key).map(|t| &t.name) != Some(&table.name) {
            continue;
        }
        let version = meta.to_version(store.bucket());
        let (record, corrupt) = match ctx.ledger.get(&version).await {
            Ok(r) => (r.map(|r| r.record), None),
            Err(LedgerError::Corrupt { key, message }) => {
                tracing::warn!(key = %meta.key, record = %key, reason = %message, "corrupt ledger record: not reconciled");
                (
                    None,
                    Some(format!("ledger record {key} is corrupt: {message}")),
                )
            }
            Err(e) => return Err(e.into()),
        };
        out.push(Listed {
            meta,
            record,
            corrupt,
        });
    }
    Ok(out)
}

/// The execution `listed` needs at `now` (RFC 3339), if any.
pub fn start_for(listed: &Listed, bucket: &str, now: &str) -> Option<Start> {
    let arrival = Arrival {
        bucket: bucket.to_string(),
        key: listed.meta.key.clone(),
        version_id: listed.meta.version_id.clone(),
        etag: Some(listed.meta.etag.clone()),
        sequencer: None,
        event: Default::default(),
    };
    if listed.corrupt.is_some() {
        return None;
    }
    match &listed.record {
        None => Some(Start {
            name: arrival_name(&arrival),
            arrival,
            why: Why::Unseen,
        }),
        Some(r) if abandoned(r, now) => Some(Start {
            name: resume_name(r),
            arrival,
            why: Why::Abandoned,
        }),
        Some(_) => None,
    }
}

/// A record no execution is finishing: not terminal, and its lease (if any) has expired.
pub fn abandoned(record: &LedgerRecord, now: &str) -> bool {
    !record.state.is_terminal() && record.lease.as_ref().is_none_or(|l| l.expired(now))
}

/// The watermark of `table` from the `(last modified, finished)` of every listed object:
/// the newest time before the oldest unfinished object (a group of equal times counts only
/// if all of it is finished).
pub fn watermark(table: &TableConfig, mut fates: Vec<(String, bool)>, at: String) -> Watermark {
    fates.sort();
    let unfinished = fates.iter().filter(|(_, done)| !done).count() as u64;
    let first_unfinished = fates.iter().find(|(_, done)| !done).map(|(t, _)| t.clone());
    let watermark = fates
        .iter()
        .filter(|(t, _)| first_unfinished.as_ref().is_none_or(|u| t < u))
        .map(|(t, _)| t.clone())
        .next_back();
    Watermark {
        table: table.name.clone(),
        watermark,
        objects: fates.len() as u64,
        unfinished,
        at,
    }
}

/// Records `mark` as `table`'s watermark under the control prefix.
pub async fn record_watermark(
    ctx: &Context,
    table: &TableConfig,
    mark: &Watermark,
) -> Result<(), StepError> {
    let body = serde_json::to_vec_pretty(mark).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&keys::watermark(table), body.into()).await?;
    Ok(())
}

/// `ingest-<file name>-<digest of the arrival>`: the same event gets the same name, a new
/// version of the object (another etag or version id) another.
pub fn arrival_name(arrival: &Arrival) -> String {
    let digest = Sha256::digest(serde_json::to_vec(arrival).unwrap_or_default());
    let stem = arrival.key.rsplit('/').next().unwrap_or(&arrival.key);
    format!("ingest-{}-{}", slug(stem, 48), &hex::encode(digest)[..16])
}

/// `replay<n>-<file name>-<digest of the version>`: one name per replay of a version.
pub fn replay_name(input: &ReplayInput) -> String {
    let digest = Sha256::digest(input.object.ledger_key().as_bytes());
    format!(
        "replay{}-{}-{}",
        input.attempt,
        slug(input.object.file_name(), 40),
        &hex::encode(digest)[..16]
    )
}

/// `resume-<file name>-<digest of the version and its last transition>`: reconciling the same
/// stuck record twice finds the first resumption instead of starting another; a record that
/// moved since gets a new name.
pub fn resume_name(record: &LedgerRecord) -> String {
    let digest = Sha256::digest(format!(
        "{}\n{}",
        record.object.ledger_key(),
        record.updated_at
    ));
    format!(
        "resume-{}-{}",
        slug(record.object.file_name(), 48),
        &hex::encode(digest)[..16]
    )
}

/// Letters, digits, `-` and `_` only (execution names), at most `max` characters.
pub fn slug(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableConfig {
        toml::from_str("name = \"t\"\nprefix = \"t/\"\nformat = \"ndjson\"\ncontract = \"c.json\"")
            .expect("a minimal table")
    }

    #[test]
    fn the_watermark_stops_before_the_oldest_unfinished_object() {
        let fates = vec![
            ("2026-01-03".to_string(), true),
            ("2026-01-01".to_string(), true),
            ("2026-01-02".to_string(), false),
            ("2026-01-02".to_string(), true),
        ];
        let w = watermark(&table(), fates, "now".into());
        assert_eq!(w.watermark.as_deref(), Some("2026-01-01"));
        assert_eq!((w.objects, w.unfinished), (4, 1));
        let all_done = watermark(&table(), vec![("2026-01-05".into(), true)], "now".into());
        assert_eq!(all_done.watermark.as_deref(), Some("2026-01-05"));
    }

    #[test]
    fn an_unseen_version_gets_the_name_its_event_would_get() {
        let listed = Listed {
            meta: ObjectMeta {
                key: "t/a b.ndjson".into(),
                size: 3,
                etag: "e1".into(),
                version_id: None,
                last_modified: "2026-01-01T00:00:00Z".into(),
            },
            record: None,
            corrupt: None,
        };
        let start = start_for(&listed, "landing", "2026-01-02T00:00:00Z").expect("unseen");
        assert_eq!(start.why, Why::Unseen);
        assert_eq!(start.name, arrival_name(&start.arrival));
        assert!(start.name.starts_with("ingest-a_b_ndjson-"));
        assert_eq!(start.arrival.etag.as_deref(), Some("e1"));
    }

    // See: #15
    #[test]
    fn a_version_with_a_corrupt_record_starts_nothing() {
        let listed = Listed {
            meta: ObjectMeta {
                key: "t/a.ndjson".into(),
                size: 3,
                etag: "e1".into(),
                version_id: None,
                last_modified: "2026-01-01T00:00:00Z".into(),
            },
            record: None,
            corrupt: Some("ledger record k is corrupt: EOF".into()),
        };
        assert_eq!(start_for(&listed, "landing", "2026-01-02T00:00:00Z"), None);
    }
}
