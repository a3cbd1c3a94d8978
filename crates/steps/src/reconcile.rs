//! Lost events, the decision part: which object versions under a table's prefix need an
//! execution, with which deterministic name and input, which removals the ledger has not
//! recorded, and the table's watermark.
//!
//! The listing is the truth; events are only hints. It lists every version the store keeps
//! (`ObjectStore::listing`), not only the current ones: a version overwritten before its
//! event was processed, or hidden by a delete marker, was still an arrival with rows, and
//! sluice accounts for it like any other. So each version that is not a delete marker is
//! looked up in the ledger by its version id (by its etag on a store without versions, as
//! the filter records it). A version the ledger never saw gets an arrival execution named as
//! its event's would be ([`arrival_name`]), so a late event and the reconciliation find one
//! another; a version whose claim was abandoned (not terminal, lease expired) gets a
//! resumption named after its last transition ([`resume_name`]). Who starts the executions
//! is the caller's business: the local engine runs them in process (`sluice-local`), the
//! reconcile Lambda starts them on Step Functions.
//!
//! A delete marker is no arrival: nothing is loaded or retracted for it. It is a removal the
//! key's head must know of (`sluice files` shows removals from there); one whose event was
//! lost is recorded by [`record_removals`] through the filter's own code path, as if its
//! `Object Deleted` event had arrived without a sequencer. A version removed for good (a
//! `DELETE` with a version id, or any delete on a bucket without versions) leaves nothing to
//! list: what the ledger recorded of it stays, nothing more is recorded.
//!
//! Ledger records (and key heads) are read [`LOOKUPS_IN_FLIGHT`] at a time, each a small
//! `GET`, in the listing's order.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::age::{human, Age};
use sluice_core::config::TableConfig;
use sluice_core::keyhead::{KeyHead, MAX_REMOVALS};
use sluice_core::ledger::LedgerRecord;
use sluice_store::{DeleteMarker, LedgerError, Listing, ListingMark, ObjectMeta};

use crate::context::{keys, Context};
use crate::error::StepError;
use crate::payload::{Arrival, ArrivalEvent, ReplayInput};

/// Ledger records (or key heads) read at once: a `GET` from a Lambda to S3 takes tens of
/// milliseconds, so one at a time a prefix of 10,000 versions spends minutes waiting; 32 at
/// once hide that, and stay inside S3's request rate for one prefix and a Lambda's sockets.
/// (The emulator answers in about a millisecond: there, 200 versions reconcile in 0.4 s one
/// at a time or 32 at once.)
pub const LOOKUPS_IN_FLIGHT: usize = 32;

/// A table's reconciliation mark, kept under the control prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    pub table: String,
    /// Last-modified time (RFC 3339) at or before which every listed object is committed,
    /// filtered or quarantined; `None` when the oldest object is not finished.
    pub watermark: Option<String>,
    /// Object versions listed under the table's prefix (current or not; delete markers are
    /// no versions here).
    pub objects: u64,
    /// Listed versions not in a terminal state after the run (waiting for a redrive).
    pub unfinished: u64,
    /// Last-modified time of the oldest of those: the object the watermark waits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unfinished: Option<String>,
    /// Its key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unfinished_key: Option<String>,
    /// When the reconciliation ran.
    pub at: String,
}

impl Watermark {
    /// How long the oldest unfinished version had waited since it landed when the
    /// reconciliation ran; zero when every version is finished (or a time does not parse).
    /// The stack's `OldestUnfinishedAge` metric: unlike the watermark's own age, it stays at
    /// zero on a quiet table whose every object is done.
    pub fn waiting(&self) -> Duration {
        let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
        match (
            self.oldest_unfinished.as_deref().and_then(parse),
            parse(&self.at),
        ) {
            (Some(landed), Some(at)) => (at - landed).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        }
    }

    /// A sentence for a person when the oldest unfinished version has waited longer than
    /// `freshness`, the table's setting; `None` otherwise.
    pub fn lateness(&self, freshness: Option<Age>) -> Option<String> {
        let freshness = freshness?;
        let waiting = self.waiting();
        (waiting > freshness.as_duration()).then(|| {
            format!(
                "late: {} landed {} and had waited {} when reconciled, longer than the \
                 table's freshness of {freshness} (`sluice files` shows its state)",
                self.oldest_unfinished_key.as_deref().unwrap_or("an object"),
                self.oldest_unfinished.as_deref().unwrap_or("?"),
                human(waiting),
            )
        })
    }
}

/// One object version listed under a table's prefix and routed to that table, with the
/// ledger's record of it as the listing found it.
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

/// What reconciliation found under a table's prefix.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Every version routed to the table, with its ledger record, in [`list`]'s order.
    pub listed: Vec<Listed>,
    /// Delete markers of keys routed to the table whose removal the key's head does not
    /// record: their events were lost (or are on their way). By key, newest first.
    pub unrecorded_removals: Vec<DeleteMarker>,
}

/// Lists `table`'s prefix and reads the ledger record of every version routed to it (a
/// longer prefix of another table wins): current versions, then older ones and versions of
/// deleted keys, each group by key and newest first within a key. First loads the table
/// through the identity guard: a table the catalog lost is refused here, not reported as
/// reconciled. Objects whose key sluice cannot take are listed too: their execution records
/// them as quarantined `unacceptable_key` (see the filter step), so the watermark counts
/// every object there is, not only those sluice can read.
pub async fn list(ctx: &Context, table: &TableConfig) -> Result<Vec<Listed>, StepError> {
    Ok(list_under(ctx, table, &table.prefix).await?.listed)
}

/// [`list`], and the removals to record, under `prefix` (the table's prefix, or a longer
/// one within it: a part of a large prefix).
pub async fn list_under(
    ctx: &Context,
    table: &TableConfig,
    prefix: &str,
) -> Result<Survey, StepError> {
    ctx.lake.load(table).await?;
    let listing = ctx.store.listing(prefix).await?;
    survey(ctx, table, listing).await
}

/// [`list_under`] for one part of the listing ([`sluice_store::ObjectStore::listing_part`]): the versions
/// after `from`, at least `at_least` of them, and where the next part starts. A backfill
/// plans a prefix too large for one invocation this way, a part per invocation. (Removals of
/// a key whose markers straddle two parts are judged per part; a backfill records none.)
pub async fn list_part(
    ctx: &Context,
    table: &TableConfig,
    prefix: &str,
    from: Option<&ListingMark>,
    at_least: usize,
) -> Result<(Survey, Option<ListingMark>), StepError> {
    ctx.lake.load(table).await?;
    let (listing, next) = ctx.store.listing_part(prefix, from, at_least).await?;
    Ok((survey(ctx, table, listing).await?, next))
}

/// The ledger's view of `listing`: each version routed to `table` with its record, and the
/// delete markers its keys' heads do not record.
async fn survey(ctx: &Context, table: &TableConfig, listing: Listing) -> Result<Survey, StepError> {
    let routed = |key: &str| ctx.config.route(key).map(|t| &t.name) == Some(&table.name);
    let versions: Vec<ObjectMeta> = listing
        .objects
        .into_iter()
        .chain(listing.noncurrent)
        .chain(listing.unacceptable)
        .filter(|meta| routed(&meta.key))
        .collect();
    let listed = futures::stream::iter(versions)
        .map(|meta| look_up(ctx, meta))
        .buffered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut markers: Vec<Vec<DeleteMarker>> = vec![];
    for marker in listing.removals.into_iter().filter(|m| routed(&m.key)) {
        match markers.last_mut() {
            Some(of_key) if of_key[0].key == marker.key => of_key.push(marker),
            _ => markers.push(vec![marker]),
        }
    }
    let unrecorded: Vec<Vec<DeleteMarker>> = futures::stream::iter(markers)
        .map(|of_key| async move {
            let head = ctx.ledger.head(ctx.store.bucket(), &of_key[0].key).await?;
            Ok::<_, StepError>(unrecorded_removals(head.as_ref(), of_key))
        })
        .buffered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(Survey {
        listed,
        unrecorded_removals: unrecorded.into_iter().flatten().collect(),
    })
}

/// The ledger's record of one listed version.
async fn look_up(ctx: &Context, meta: ObjectMeta) -> Result<Listed, StepError> {
    let version = meta.to_version(ctx.store.bucket());
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
    Ok(Listed {
        meta,
        record,
        corrupt,
    })
}

/// The delete markers of one key (newest first) that `head` does not record. A removal
/// recorded with the marker's version id records it; one recorded without a version id (an
/// event that named none) records the oldest marker it may stand for: one made at or before
/// the removal was recorded, each removal standing for one marker. Only the newest
/// `MAX_REMOVALS` markers count, as many as a head keeps, so that recording them never pushes
/// out one recorded before and the next run finds the same answer.
pub fn unrecorded_removals(
    head: Option<&KeyHead>,
    markers: Vec<DeleteMarker>,
) -> Vec<DeleteMarker> {
    let recorded = head.map(|h| h.removals.as_slice()).unwrap_or_default();
    let mut unnamed: Vec<Option<chrono::DateTime<chrono::Utc>>> = recorded
        .iter()
        .filter(|r| r.version_id.is_none())
        .map(|r| time(&r.recorded_at))
        .collect();
    unnamed.sort();
    let mut left = vec![];
    // Oldest first, so that an unnamed removal stands for the marker just before it.
    for marker in markers.into_iter().take(MAX_REMOVALS).rev() {
        if recorded
            .iter()
            .any(|r| r.version_id.as_deref() == Some(marker.version_id.as_str()))
        {
            continue;
        }
        let made = time(&marker.last_modified);
        let standing_for = unnamed
            .iter()
            .position(|at| matches!((at, made), (Some(at), Some(made)) if *at >= made));
        match standing_for {
            Some(i) => {
                unnamed.remove(i);
            }
            None => left.push(marker),
        }
    }
    left.reverse();
    left
}

/// An RFC 3339 time, or `None` if it is not one (it then matches nothing).
fn time(at: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Records each of `markers` in its key's head, as the filter records an `Object Deleted`
/// event (without a sequencer: a listing has none, so the removal orders nothing). Returns
/// the keys, in order. Recording one twice is harmless: the next survey finds it recorded.
pub async fn record_removals(
    ctx: &Context,
    markers: &[DeleteMarker],
) -> Result<Vec<String>, StepError> {
    let bucket = ctx.store.bucket().to_string();
    futures::stream::iter(markers)
        .map(|marker| {
            let arrival = Arrival {
                bucket: bucket.clone(),
                key: marker.key.clone(),
                version_id: Some(marker.version_id.clone()),
                etag: None,
                sequencer: None,
                event: ArrivalEvent::Removed,
                time: Some(marker.last_modified.clone()),
            };
            async move {
                crate::filter::record_removal(ctx, &arrival).await?;
                tracing::info!(key = %marker.key, marker = %marker.version_id, "reconcile: lost removal recorded");
                Ok::<_, StepError>(marker.key.clone())
            }
        })
        .buffered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await
}

/// The execution that retracts a lost removal's rows (`on_delete = "delete"`): the removal
/// goes through the definition like its event would have (the filter records it, Retract
/// takes the rows out), under a name of its own, so reconciling again finds it started.
pub fn removal_start(marker: &DeleteMarker, bucket: &str) -> Start {
    let arrival = Arrival {
        bucket: bucket.to_string(),
        key: marker.key.clone(),
        version_id: Some(marker.version_id.clone()),
        etag: None,
        sequencer: None,
        event: ArrivalEvent::Removed,
        time: Some(marker.last_modified.clone()),
    };
    let digest = Sha256::digest(format!("{}#{}", marker.key, marker.version_id).as_bytes());
    let stem = marker.key.rsplit('/').next().unwrap_or(&marker.key);
    Start {
        name: format!("removal-{}-{}", slug(stem, 48), &hex::encode(digest)[..16]),
        arrival,
        why: Why::Unseen,
    }
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
        time: None,
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

/// What one listed version came to after a reconciliation, for [`watermark`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Fate {
    /// Its last-modified time (RFC 3339), when it landed.
    pub landed: String,
    pub key: String,
    /// Committed, filtered or quarantined.
    pub done: bool,
}

impl Fate {
    pub fn of(meta: &ObjectMeta, done: bool) -> Self {
        Fate {
            landed: meta.last_modified.clone(),
            key: meta.key.clone(),
            done,
        }
    }
}

/// The watermark of `table` from the fate of every listed version: the newest time before
/// the oldest unfinished version (a group of equal times counts only if all of it is
/// finished), and that version.
pub fn watermark(table: &TableConfig, mut fates: Vec<Fate>, at: String) -> Watermark {
    fates.sort();
    let unfinished = fates.iter().filter(|f| !f.done).count() as u64;
    let first_unfinished = fates.iter().find(|f| !f.done);
    let watermark = fates
        .iter()
        .filter(|f| first_unfinished.is_none_or(|u| f.landed < u.landed))
        .map(|f| f.landed.clone())
        .next_back();
    Watermark {
        table: table.name.clone(),
        watermark,
        objects: fates.len() as u64,
        unfinished,
        oldest_unfinished: first_unfinished.map(|f| f.landed.clone()),
        oldest_unfinished_key: first_unfinished.map(|f| f.key.clone()),
        at,
    }
}

/// Records `mark` as `table`'s watermark under the control prefix; when it is later than
/// the one recorded before, a `WatermarkAdvanced` event says so (once per watermark).
pub async fn record_watermark(
    ctx: &Context,
    table: &TableConfig,
    mark: &Watermark,
) -> Result<(), StepError> {
    let key = keys::watermark(table);
    let previous = match ctx.store.get_bytes(&key).await? {
        Some((bytes, _)) => serde_json::from_slice::<Watermark>(&bytes)
            .ok()
            .and_then(|w| w.watermark),
        None => None,
    };
    let body = serde_json::to_vec_pretty(mark).map_err(|e| StepError::internal(e.to_string()))?;
    ctx.store.put(&key, body.into()).await?;
    if let Some(now) = &mark.watermark {
        if previous.as_ref().is_none_or(|p| later(now, p)) {
            crate::events::emit(
                ctx.store.as_ref(),
                &crate::events::watermark_advanced(&table.name, now, previous.as_deref(), mark),
            )
            .await?;
        }
    }
    Ok(())
}

/// Whether RFC 3339 time `a` is after `b` (as text when either does not parse).
fn later(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
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

    fn fate(landed: &str, key: &str, done: bool) -> Fate {
        Fate {
            landed: landed.into(),
            key: key.into(),
            done,
        }
    }

    #[test]
    fn the_watermark_stops_before_the_oldest_unfinished_object() {
        let fates = vec![
            fate("2026-01-03", "t/d", true),
            fate("2026-01-01", "t/a", true),
            fate("2026-01-02", "t/c", false),
            fate("2026-01-02", "t/b", true),
        ];
        let w = watermark(&table(), fates, "now".into());
        assert_eq!(w.watermark.as_deref(), Some("2026-01-01"));
        assert_eq!((w.objects, w.unfinished), (4, 1));
        assert_eq!(w.oldest_unfinished.as_deref(), Some("2026-01-02"));
        assert_eq!(w.oldest_unfinished_key.as_deref(), Some("t/c"));
        let all_done = watermark(
            &table(),
            vec![fate("2026-01-05", "t/e", true)],
            "now".into(),
        );
        assert_eq!(all_done.watermark.as_deref(), Some("2026-01-05"));
        assert_eq!(all_done.oldest_unfinished, None);
        assert_eq!(all_done.waiting(), Duration::ZERO);
    }

    #[test]
    fn an_object_waiting_past_the_tables_freshness_is_late_and_a_quiet_table_never_is() {
        let at = "2026-01-01T03:00:00.000Z";
        let waiting = watermark(
            &table(),
            vec![
                fate("2026-01-01T00:30:00Z", "t/old", true),
                fate("2026-01-01T01:00:00Z", "t/stuck", false),
                fate("2026-01-01T02:59:00Z", "t/new", false),
            ],
            at.into(),
        );
        assert_eq!(waiting.waiting(), Duration::from_secs(2 * 3600));
        let hour: Age = "1h".parse().unwrap();
        let late = waiting.lateness(Some(hour)).expect("two hours is late");
        assert!(
            late.contains("t/stuck") && late.contains("2h") && late.contains("1h"),
            "{late}"
        );
        assert_eq!(waiting.lateness(Some("3h".parse().unwrap())), None);
        assert_eq!(
            waiting.lateness(None),
            None,
            "no freshness set, nothing is late"
        );
        // Everything done a day ago: the watermark is old, nothing waits.
        let quiet = watermark(
            &table(),
            vec![fate("2025-12-31T00:00:00Z", "t/a", true)],
            at.into(),
        );
        assert_eq!(quiet.waiting(), Duration::ZERO);
        assert_eq!(quiet.lateness(Some(hour)), None);
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

    fn marker(id: &str, at: &str) -> DeleteMarker {
        DeleteMarker {
            key: "t/a.ndjson".into(),
            version_id: id.into(),
            last_modified: at.into(),
            is_latest: false,
        }
    }

    fn head_with(removals: &[(Option<&str>, &str)]) -> KeyHead {
        let mut head = KeyHead::new("landing", "t/a.ndjson", "2026-01-01T00:00:00Z");
        for (id, at) in removals {
            head.saw_removed(sluice_core::keyhead::Removal {
                sequencer: None,
                version_id: id.map(str::to_string),
                recorded_at: at.to_string(),
            });
        }
        head
    }

    #[test]
    fn a_marker_the_head_names_is_recorded_and_one_it_does_not_is_not() {
        let markers = vec![
            marker("m2", "2026-01-02T00:00:00Z"),
            marker("m1", "2026-01-01T00:00:00Z"),
        ];
        let ids = |left: Vec<DeleteMarker>| -> Vec<String> {
            left.into_iter().map(|m| m.version_id).collect()
        };
        assert_eq!(
            ids(unrecorded_removals(None, markers.clone())),
            ["m2", "m1"]
        );
        let head = head_with(&[(Some("m1"), "2026-01-01T00:00:01.000Z")]);
        assert_eq!(
            ids(unrecorded_removals(Some(&head), markers.clone())),
            ["m2"]
        );
    }

    #[test]
    fn a_removal_recorded_without_a_version_stands_for_one_marker_made_before_it() {
        let markers = vec![
            marker("m2", "2026-01-02T00:00:00Z"),
            marker("m1", "2026-01-01T00:00:00Z"),
        ];
        // Recorded after m2 was made: it may stand for either, and stands for one only.
        let late = head_with(&[(None, "2026-01-02T00:00:00.500Z")]);
        let left = unrecorded_removals(Some(&late), markers.clone());
        assert_eq!(left.len(), 1, "{left:?}");
        // Recorded before m2 was made: it cannot be m2's event.
        let early = head_with(&[(None, "2026-01-01T12:00:00.000Z")]);
        let left = unrecorded_removals(Some(&early), markers);
        let ids: Vec<&str> = left.iter().map(|m| m.version_id.as_str()).collect();
        assert_eq!(ids, ["m2"]);
    }

    #[test]
    fn only_as_many_markers_as_a_head_keeps_are_recorded() {
        let markers: Vec<DeleteMarker> = (0..MAX_REMOVALS + 5)
            .rev()
            .map(|i| marker(&format!("m{i:02}"), &format!("2026-01-01T00:00:{i:02}Z")))
            .collect();
        let left = unrecorded_removals(None, markers);
        assert_eq!(left.len(), MAX_REMOVALS);
        assert_eq!(
            left[0].version_id,
            format!("m{:02}", MAX_REMOVALS + 4),
            "newest first"
        );
    }
}
