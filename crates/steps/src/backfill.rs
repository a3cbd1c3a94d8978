//! Backfill, the plan: which object versions under a historical prefix need an ingest
//! execution, written as the JSON Lines manifest that `statemachine/backfill.asl.json`'s
//! Distributed Map reads, one child ingest per line.
//!
//! The listing is reconcile's ([`reconcile::list`]), narrowed to the prefix; the decision per
//! version is reconcile's too ([`reconcile::start_for`]): a version the ledger never saw gets
//! the name its event would get, an abandoned claim a resumption, and everything the ledger
//! already has is a duplicate, so a backfill over a prefix that was ingested (by events,
//! reconcile or an earlier backfill) starts nothing. The names are deterministic: an event
//! arriving late, a reconcile or a second backfill meets the same execution.
//!
//! Who starts the executions is the definition's business: Step Functions' Distributed Map
//! on AWS, the same definition on sluice's engine locally.
//!
//! A prefix of any size: one plan lists and looks up one part of the prefix, at least
//! `part_versions` versions ([`DEFAULT_PART_VERSIONS`]; the listing resumes from the mark the
//! part before left, [`Continuation`]), so that no invocation has more to do than it can in
//! its time. The definition runs a Map Run per part and plans the next part until the
//! listing ends; the counts in each plan are of all the parts so far.

use serde::{Deserialize, Serialize};
use sluice_core::config::TableConfig;
use sluice_core::layout;
use sluice_store::ListingMark;

use crate::context::{now, Context};
use crate::error::{StepError, StepErrorKind};
use crate::payload::Arrival;
use crate::reconcile::{self, Listed, Start};

/// The plan's input: `{"backfill": {"table", "prefix"?, "execution"}}` is how the reconcile
/// function receives it; this is the inner object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    pub table: String,
    /// Where to backfill: the table's prefix or a longer one (default: the table's prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// The backfill execution's name (`$$.Execution.Name`): the manifest lives under it, so
    /// a retried plan rewrites its own manifest and no other.
    pub execution: String,
    /// Where the part before stopped; `None` (or `null`, as the definition passes it) for
    /// the first part.
    #[serde(default)]
    pub continuation: Option<Continuation>,
}

/// Where the next part of a plan starts, and the counts of the parts before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    /// The listing resumes after this entry.
    pub from: ListingMark,
    /// The next part's number (the first part is 0).
    pub part: u32,
    pub listed: u64,
    pub duplicates: u64,
    pub unreadable: u64,
    pub to_start: u64,
}

/// Versions one plan lists and looks up at least, when the prefix has that many: a listing
/// of 100,000 versions is about 100 pages and its ledger lookups, 32 at a time, about a
/// minute on S3, far inside a Lambda's 15 minutes; the manifest about 30 MB.
pub const DEFAULT_PART_VERSIONS: usize = 100_000;

/// The plan's output, the input of the definition's Distributed Map. The counts are of every
/// part so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackfillPlan {
    pub table: String,
    pub prefix: String,
    /// The bucket the manifest is in (the landing bucket).
    pub bucket: String,
    /// This part's manifest key: one [`ManifestLine`] per version to start.
    pub manifest: String,
    /// This part's number (0 for the first).
    #[serde(default)]
    pub part: u32,
    /// Lines in this part's manifest: what its Map Run starts.
    #[serde(default)]
    pub part_to_start: u64,
    /// Where the next part starts; `null` when this part was the last.
    #[serde(default)]
    pub continuation: Option<Continuation>,
    /// Versions listed under the prefix and routed to the table.
    pub listed: u64,
    /// Listed versions the ledger already has (committed, filtered, quarantined, replayed, or
    /// claimed by an execution still within its lease): nothing is started for them.
    pub duplicates: u64,
    /// Listed versions whose ledger record cannot be read: nothing is started for them
    /// (it would stop at the same record); `sluice doctor` reports them.
    pub unreadable: u64,
    /// Lines in the manifests: executions the Map Runs start.
    pub to_start: u64,
}

/// One line of the manifest: the child ingest execution's name and input, exactly as
/// reconcile would start it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLine {
    pub name: String,
    pub input: Arrival,
}

/// The decision, without I/O: the versions under `prefix` that need an execution at `now`,
/// and how many the ledger already has or cannot read.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub starts: Vec<Start>,
    pub listed: u64,
    pub duplicates: u64,
    pub unreadable: u64,
}

/// Decides, for every listed version whose key lies under `prefix`, whether it needs an
/// execution (see the module docs).
pub fn decide(listed: &[Listed], prefix: &str, bucket: &str, now: &str) -> Decision {
    let mut d = Decision {
        starts: vec![],
        listed: 0,
        duplicates: 0,
        unreadable: 0,
    };
    for l in listed.iter().filter(|l| l.meta.key.starts_with(prefix)) {
        d.listed += 1;
        match reconcile::start_for(l, bucket, now) {
            Some(start) => d.starts.push(start),
            None if l.corrupt.is_some() => d.unreadable += 1,
            None => d.duplicates += 1,
        }
    }
    d
}

/// The prefix a request backfills: the table's, or a longer one within it.
pub fn prefix_of(table: &TableConfig, prefix: Option<&str>) -> Result<String, StepError> {
    match prefix {
        None | Some("") => Ok(table.prefix.clone()),
        Some(p) if p.starts_with(&table.prefix) => Ok(p.to_string()),
        Some(p) => Err(StepError::new(
            StepErrorKind::BadInput,
            format!(
                "prefix {p:?} does not lie within table {}'s prefix {:?}",
                table.name, table.prefix
            ),
        )),
    }
}

/// The manifest's body: one JSON object per line.
pub fn manifest_body(starts: &[Start]) -> Result<Vec<u8>, StepError> {
    let mut body = Vec::with_capacity(starts.len() * 256);
    for s in starts {
        let line = ManifestLine {
            name: s.name.clone(),
            input: s.arrival.clone(),
        };
        serde_json::to_writer(&mut body, &line).map_err(|e| StepError::internal(e.to_string()))?;
        body.push(b'\n');
    }
    Ok(body)
}

/// Plans one part of a backfill: lists at least `part_versions` versions of the prefix from
/// where the part before stopped, decides, writes the part's manifest under
/// `.sluice/backfill/<execution>/` and returns where it is, the counts so far and where the
/// next part starts.
pub async fn plan(
    ctx: &Context,
    request: &BackfillRequest,
    part_versions: usize,
) -> Result<BackfillPlan, StepError> {
    check_execution_name(&request.execution)?;
    let table = ctx.table(&request.table)?.clone();
    let prefix = prefix_of(&table, request.prefix.as_deref())?;
    let bucket = ctx.store.bucket().to_string();
    let before = request.continuation.as_ref();
    let (survey, next) = reconcile::list_part(
        ctx,
        &table,
        &prefix,
        before.map(|c| &c.from),
        part_versions.max(1),
    )
    .await?;
    let d = decide(&survey.listed, &prefix, &bucket, &now());
    let part = before.map_or(0, |c| c.part);
    let manifest = layout::backfill_manifest(&request.execution, part);
    ctx.store
        .put(&manifest, manifest_body(&d.starts)?.into())
        .await?;
    let (listed, duplicates, unreadable, to_start) = (
        before.map_or(0, |c| c.listed) + d.listed,
        before.map_or(0, |c| c.duplicates) + d.duplicates,
        before.map_or(0, |c| c.unreadable) + d.unreadable,
        before.map_or(0, |c| c.to_start) + d.starts.len() as u64,
    );
    tracing::info!(
        table = table.name,
        prefix,
        part,
        listed = d.listed,
        duplicates = d.duplicates,
        unreadable = d.unreadable,
        to_start = d.starts.len(),
        manifest,
        last = next.is_none(),
        "backfill part planned"
    );
    Ok(BackfillPlan {
        table: table.name.clone(),
        prefix,
        bucket,
        manifest,
        part,
        part_to_start: d.starts.len() as u64,
        continuation: next.map(|from| Continuation {
            from,
            part: part + 1,
            listed,
            duplicates,
            unreadable,
            to_start,
        }),
        listed,
        duplicates,
        unreadable,
        to_start,
    })
}

/// An execution name is a key segment here: letters, digits, `-` and `_`, 1 to 80 of them
/// (Step Functions' own rule), so it cannot reach another key.
fn check_execution_name(name: &str) -> Result<(), StepError> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(StepError::new(
            StepErrorKind::BadInput,
            format!("execution name {name:?}: 1 to 80 letters, digits, '-' or '_'"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::ledger::{LedgerRecord, LedgerState};
    use sluice_store::ObjectMeta;

    fn table() -> TableConfig {
        toml::from_str(
            "name = \"orders\"\nprefix = \"orders/\"\nformat = \"ndjson\"\ncontract = \"c.json\"",
        )
        .expect("a minimal table")
    }

    fn meta(key: &str) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size: 3,
            etag: format!("etag-{key}"),
            version_id: Some("v1".into()),
            last_modified: "2025-01-01T00:00:00Z".into(),
        }
    }

    fn committed(m: &ObjectMeta) -> LedgerRecord {
        let mut r = LedgerRecord::claim(m.to_version("landing"), "2025-01-02T00:00:00Z");
        r.state = LedgerState::Committed { snapshot_id: 7 };
        r.lease = None;
        r
    }

    #[test]
    fn only_versions_under_the_prefix_the_ledger_never_saw_are_started() {
        let seen = meta("orders/2025/b.ndjson");
        let listed = vec![
            Listed {
                meta: meta("orders/2024/a.ndjson"),
                record: None,
                corrupt: None,
            },
            Listed {
                record: Some(committed(&seen)),
                meta: seen,
                corrupt: None,
            },
            Listed {
                meta: meta("orders/2025/c.ndjson"),
                record: None,
                corrupt: None,
            },
            Listed {
                meta: meta("orders/2025/d.ndjson"),
                record: None,
                corrupt: Some("ledger record x is corrupt".into()),
            },
        ];
        let d = decide(&listed, "orders/2025/", "landing", "2025-02-01T00:00:00Z");
        assert_eq!((d.listed, d.duplicates, d.unreadable), (3, 1, 1));
        assert_eq!(d.starts.len(), 1);
        let start = &d.starts[0];
        assert_eq!(start.arrival.key, "orders/2025/c.ndjson");
        assert_eq!(start.arrival.version_id.as_deref(), Some("v1"));
        // The name its event would get: a late event meets this very execution.
        assert_eq!(start.name, reconcile::arrival_name(&start.arrival));

        let all = decide(&listed, "orders/", "landing", "2025-02-01T00:00:00Z");
        assert_eq!((all.listed, all.starts.len()), (4, 2));
    }

    #[test]
    fn the_manifest_is_one_start_per_line_as_reconcile_starts_it() {
        let listed: Vec<Listed> = ["orders/a.ndjson", "orders/b.ndjson"]
            .into_iter()
            .map(|k| Listed {
                meta: meta(k),
                record: None,
                corrupt: None,
            })
            .collect();
        let d = decide(&listed, "orders/", "landing", "2025-02-01T00:00:00Z");
        let body = manifest_body(&d.starts).unwrap();
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<ManifestLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].name, d.starts[1].name);
        assert_eq!(lines[1].input, d.starts[1].arrival);
        // The line's input is the arrival exactly as reconcile serialises it.
        let raw: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(
            raw["input"],
            serde_json::to_value(&d.starts[0].arrival).unwrap()
        );
        assert!(manifest_body(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_prefix_must_lie_within_the_tables() {
        let t = table();
        assert_eq!(prefix_of(&t, None).unwrap(), "orders/");
        assert_eq!(prefix_of(&t, Some("")).unwrap(), "orders/");
        assert_eq!(prefix_of(&t, Some("orders/2025/")).unwrap(), "orders/2025/");
        let e = prefix_of(&t, Some("invoices/")).unwrap_err();
        assert_eq!(e.kind, StepErrorKind::BadInput);
        let e = prefix_of(&t, Some("ord")).unwrap_err();
        assert_eq!(e.kind, StepErrorKind::BadInput);
    }

    #[test]
    fn an_execution_name_cannot_leave_its_directory() {
        assert!(check_execution_name("backfill-orders-1").is_ok());
        for bad in ["", "../x", "a/b", &"x".repeat(81)] {
            assert!(check_execution_name(bad).is_err(), "{bad:?}");
        }
    }
}
