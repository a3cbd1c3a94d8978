//! What the ledger knows about a key across its versions: the order of its events and which
//! version a table loads.
//!
//! S3 delivers events for one key out of order; only the `sequencer` orders them. A
//! [`KeyHead`] keeps, per bucket and key, the highest sequencer seen (from a created or a
//! removed event), the version first admitted for loading (for the `ignore` new-version
//! policy) and the removals seen. The filter consults it before claiming: an event older than
//! one already seen for the key is about a superseded version and is filtered with a reason,
//! never committed over the newer one. The records live in the bucket next to the ledger
//! (crates/store) and change only by compare-and-swap; this module is the pure part.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::ledger::Lease;
use crate::object::BatchId;

/// Most removals a head remembers (the newest); older ones are only in the event archive.
pub const MAX_REMOVALS: usize = 16;

/// Compares two S3 sequencers: hexadecimal strings of varying length, compared as numbers
/// (AWS: pad the shorter with leading zeros, then compare). `None` if either is not hex, so a
/// malformed sequencer never orders anything.
pub fn cmp_sequencer(a: &str, b: &str) -> Option<Ordering> {
    let norm = |s: &str| -> Option<String> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let t = s.trim_start_matches('0').to_ascii_uppercase();
        Some(t)
    };
    let (a, b) = (norm(a)?, norm(b)?);
    Some(a.len().cmp(&b.len()).then_with(|| a.cmp(&b)))
}

/// One `ObjectRemoved` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// The version removed (a delete marker's id on a versioned bucket), when the event says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// When sluice recorded it, RFC 3339.
    pub recorded_at: String,
}

/// The ledger's record of one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyHead {
    pub bucket: String,
    pub key: String,
    /// The highest sequencer seen for the key, from a created or a removed event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// Ledger key of the version the highest sequencer belongs to; `None` when it was a
    /// removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest: Option<String>,
    /// Ledger key of the first version admitted for loading (the `ignore` policy keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loaded: Option<String>,
    /// Removal events, oldest first, at most the newest 16.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removals: Vec<Removal>,
    /// The versions whose rows are in the table, kept for tables whose policy may take them
    /// out again (`new_version = "replace"`, `on_delete = "delete"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub live: Vec<LiveVersion>,
    /// A commit under way that changes [`KeyHead::live`] (see [`PendingChange`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingChange>,
    pub updated_at: String,
}

/// A version of a key, as the key's head orders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveVersion {
    /// `ObjectVersion::ledger_key`.
    pub ledger_key: String,
    pub batch_id: BatchId,
    /// The S3 event's sequencer, when the arrival had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// The object's last-modified time (RFC 3339), which orders versions without sequencers.
    pub last_modified: String,
}

impl LiveVersion {
    /// Whether `self` is a later version of the key than `other`: by sequencer when both have
    /// one that compares, else by last-modified time, else by ledger key (so that any two
    /// versions are ordered the same way by every committer).
    pub fn is_newer_than(&self, other: &LiveVersion) -> bool {
        let by_sequencer = match (&self.sequencer, &other.sequencer) {
            (Some(a), Some(b)) => cmp_sequencer(a, b),
            _ => None,
        };
        let order = by_sequencer
            .filter(|o| *o != Ordering::Equal)
            .unwrap_or_else(|| {
                let time = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
                match (time(&self.last_modified), time(&other.last_modified)) {
                    (Some(a), Some(b)) if a != b => a.cmp(&b),
                    _ => self.ledger_key.cmp(&other.ledger_key),
                }
            });
        order == Ordering::Greater
    }
}

/// A commit under way that changes a key's live versions. It is written to the head before
/// the catalog commit and settled after it, by its own committer or by whoever reads the head
/// next: once the table's snapshot summaries name `batch_id`, the change happened (`add`
/// becomes live, `retract` leave); while they do not, the change is only intended, and once
/// `expires_at` has passed without it, it is void. A head with a live pending change of
/// another batch is busy: its committer holds the key (a lease, as the ledger's claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingChange {
    /// The batch whose commit decides the change (a version's, or a removal's).
    pub batch_id: BatchId,
    /// The version that becomes live; `None` for a removal, or a version older than one
    /// already live under `replace` (its rows never enter the table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<LiveVersion>,
    /// The live versions whose rows the commit takes out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retract: Vec<LiveVersion>,
    /// RFC 3339 time after which, if the batch is not in the table, the change is void.
    pub expires_at: String,
}

/// What the head's pending change turned out to be, given the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// No pending change.
    Nothing,
    /// The batch is in the table: the change was applied to [`KeyHead::live`]; its
    /// retracted versions' ledger records are to be marked (by whoever settled it).
    Applied(PendingChange),
    /// Its lease expired and the batch is not in the table: dropped.
    Void(PendingChange),
    /// Another batch's change, still within its lease: the key is busy.
    Busy(PendingChange),
    /// This batch's own change, not (yet) in the table: the caller may plan it again.
    Own,
}

/// What the sequencer says about an event, given the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Order {
    /// Newer than anything seen (or nothing to compare): it becomes the head's sequencer.
    Newest,
    /// The same sequencer as the head's: the same event again.
    Same,
    /// Older than an event already seen for the key.
    Older { newer: String },
}

impl KeyHead {
    /// An empty head for a key.
    pub fn new(bucket: &str, key: &str, now: &str) -> Self {
        KeyHead {
            bucket: bucket.to_string(),
            key: key.to_string(),
            sequencer: None,
            latest: None,
            loaded: None,
            removals: vec![],
            live: vec![],
            pending: None,
            updated_at: now.to_string(),
        }
    }

    /// Settles the pending change against the table: `committed` says whether a batch id is
    /// in its snapshot summaries, `now` is RFC 3339, `own` the caller's batch (its own change
    /// is never busy). See [`PendingChange`].
    pub fn settle(
        &mut self,
        committed: impl Fn(&BatchId) -> bool,
        now: &str,
        own: Option<&BatchId>,
    ) -> Settled {
        let Some(pending) = self.pending.clone() else {
            return Settled::Nothing;
        };
        if committed(&pending.batch_id) {
            self.pending = None;
            self.live
                .retain(|v| !pending.retract.iter().any(|r| r.ledger_key == v.ledger_key));
            if let Some(add) = &pending.add {
                if !self.live.iter().any(|v| v.ledger_key == add.ledger_key) {
                    self.live.push(add.clone());
                }
            }
            return Settled::Applied(pending);
        }
        if own == Some(&pending.batch_id) {
            return Settled::Own;
        }
        let lease = Lease {
            owner: String::new(),
            expires_at: pending.expires_at.clone(),
        };
        if lease.expired(now) {
            self.pending = None;
            return Settled::Void(pending);
        }
        Settled::Busy(pending)
    }

    /// The change committing `version` makes under `new_version = "replace"`: it retracts
    /// every live version older than itself and becomes live, unless a live version is newer
    /// (then its rows never enter the table and nothing leaves). A version already live
    /// changes nothing.
    pub fn replace_with(&self, version: &LiveVersion) -> (Option<LiveVersion>, Vec<LiveVersion>) {
        if self.live.iter().any(|v| v.ledger_key == version.ledger_key) {
            return (None, vec![]);
        }
        if self.live.iter().any(|v| v.is_newer_than(version)) {
            return (None, vec![]);
        }
        (Some(version.clone()), self.live.clone())
    }

    /// The change committing `version` makes when versions accumulate (`append`): it becomes
    /// live too.
    pub fn append(&self, version: &LiveVersion) -> (Option<LiveVersion>, Vec<LiveVersion>) {
        if self.live.iter().any(|v| v.ledger_key == version.ledger_key) {
            return (None, vec![]);
        }
        (Some(version.clone()), vec![])
    }

    /// Where an event with `sequencer` stands against what the head has seen.
    pub fn order(&self, sequencer: Option<&str>) -> Order {
        match (sequencer, self.sequencer.as_deref()) {
            (Some(s), Some(h)) => match cmp_sequencer(s, h) {
                Some(Ordering::Less) => Order::Older {
                    newer: h.to_string(),
                },
                Some(Ordering::Equal) => Order::Same,
                _ => Order::Newest,
            },
            _ => Order::Newest,
        }
    }

    /// Records a created event of the version `ledger_key` if it is the newest.
    pub fn saw_created(&mut self, sequencer: Option<&str>, ledger_key: &str) {
        if let (Some(s), Order::Newest) = (sequencer, self.order(sequencer)) {
            self.sequencer = Some(s.to_string());
            self.latest = Some(ledger_key.to_string());
        }
    }

    /// Records a removed event; a newest removal makes the key's head "removed".
    pub fn saw_removed(&mut self, removal: Removal) {
        let seq = removal.sequencer.clone();
        if let (Some(s), Order::Newest) = (seq.as_deref(), self.order(seq.as_deref())) {
            self.sequencer = Some(s.to_string());
            self.latest = None;
        }
        if !self.removals.contains(&removal) {
            self.removals.push(removal);
        }
        if self.removals.len() > MAX_REMOVALS {
            let extra = self.removals.len() - MAX_REMOVALS;
            self.removals.drain(..extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequencers_compare_as_hex_numbers_of_any_length() {
        assert_eq!(cmp_sequencer("0A", "0B"), Some(Ordering::Less));
        assert_eq!(cmp_sequencer("FF", "0100"), Some(Ordering::Less));
        assert_eq!(cmp_sequencer("00ab", "AB"), Some(Ordering::Equal));
        assert_eq!(
            cmp_sequencer("0055B9A3D1E0BB0D4C", "0055B9A3D1E0BB0D4B"),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp_sequencer("not hex", "0A"), None);
        assert_eq!(cmp_sequencer("", "0A"), None);
    }

    #[test]
    fn an_older_event_after_a_newer_one_is_older() {
        let mut head = KeyHead::new("b", "k", "t");
        head.saw_created(Some("0B"), "b/k#v2");
        assert_eq!(head.order(Some("0A")), Order::Older { newer: "0B".into() });
        assert_eq!(head.order(Some("0B")), Order::Same);
        assert_eq!(head.order(None), Order::Newest);
        // An older created event does not move the head.
        head.saw_created(Some("0A"), "b/k#v1");
        assert_eq!(head.latest.as_deref(), Some("b/k#v2"));
    }

    #[test]
    fn a_newer_removal_makes_earlier_creations_older() {
        let mut head = KeyHead::new("b", "k", "t");
        head.saw_created(Some("10"), "b/k#v1");
        let removal = Removal {
            sequencer: Some("11".into()),
            version_id: None,
            recorded_at: "t".into(),
        };
        head.saw_removed(removal.clone());
        head.saw_removed(removal);
        assert_eq!(head.latest, None);
        assert_eq!(
            head.removals.len(),
            1,
            "a duplicate removal is recorded once"
        );
        assert!(matches!(head.order(Some("10")), Order::Older { .. }));
    }

    fn version(n: u32, sequencer: Option<&str>) -> LiveVersion {
        LiveVersion {
            ledger_key: format!("b/k#v{n}"),
            batch_id: BatchId(format!("b-{n}")),
            sequencer: sequencer.map(str::to_string),
            last_modified: format!("2026-01-01T00:00:{n:02}Z"),
        }
    }

    fn pending(batch: &str, add: Option<LiveVersion>, expires_at: &str) -> PendingChange {
        PendingChange {
            batch_id: BatchId(batch.into()),
            add,
            retract: vec![],
            expires_at: expires_at.into(),
        }
    }

    #[test]
    fn versions_order_by_sequencer_then_time_then_key() {
        // The sequencer wins over the clock when both versions have one.
        assert!(version(1, Some("0B")).is_newer_than(&version(2, Some("0A"))));
        assert!(version(2, None).is_newer_than(&version(1, Some("0B"))));
        assert!(!version(1, None).is_newer_than(&version(1, None)));
        let mut same_time = version(1, None);
        same_time.ledger_key = "b/k#w".into();
        assert!(same_time.is_newer_than(&version(1, None)));
        assert!(!version(1, None).is_newer_than(&same_time));
    }

    #[test]
    fn a_pending_change_is_applied_once_its_batch_is_in_the_table() {
        let mut head = KeyHead::new("b", "k", "t");
        head.live = vec![version(1, None)];
        let mut change = pending("b-2", Some(version(2, None)), "2026-01-01T01:00:00Z");
        change.retract = vec![version(1, None)];
        head.pending = Some(change.clone());
        let early = "2026-01-01T00:30:00Z";
        // Not in the table, within its lease: busy for anyone else, its own for b-2.
        let other = BatchId("b-3".into());
        assert!(matches!(
            head.settle(|_| false, early, Some(&other)),
            Settled::Busy(_)
        ));
        assert_eq!(
            head.settle(|_| false, early, Some(&BatchId("b-2".into()))),
            Settled::Own
        );
        assert_eq!(head.live, [version(1, None)]);
        // In the table: applied, whoever reads it.
        assert_eq!(
            head.settle(|b| b.as_str() == "b-2", early, None),
            Settled::Applied(change)
        );
        assert_eq!(head.live, [version(2, None)]);
        assert_eq!(head.pending, None);
        assert_eq!(head.settle(|_| true, early, None), Settled::Nothing);
    }

    #[test]
    fn a_pending_change_past_its_lease_and_not_in_the_table_is_void() {
        let mut head = KeyHead::new("b", "k", "t");
        head.live = vec![version(1, None)];
        head.pending = Some(pending(
            "b-2",
            Some(version(2, None)),
            "2026-01-01T01:00:00Z",
        ));
        let late = "2026-01-01T01:00:00Z";
        assert!(matches!(
            head.settle(|_| false, late, None),
            Settled::Void(_)
        ));
        assert_eq!(head.live, [version(1, None)], "nothing changed");
        assert_eq!(head.pending, None);
    }

    #[test]
    fn an_older_version_under_replace_changes_nothing() {
        let mut head = KeyHead::new("b", "k", "t");
        head.live = vec![version(5, None)];
        assert_eq!(head.replace_with(&version(3, None)), (None, vec![]));
        assert_eq!(
            head.replace_with(&version(7, None)),
            (Some(version(7, None)), vec![version(5, None)])
        );
        assert_eq!(head.replace_with(&version(5, None)), (None, vec![]));
        assert_eq!(
            head.append(&version(3, None)),
            (Some(version(3, None)), vec![])
        );
    }

    proptest! {
        /// Under `replace`, whatever order the versions of a key commit in (each commit
        /// settling the head, planning, then landing), exactly the newest version is live at
        /// the end, and every other version's rows were either retracted or never added.
        #[test]
        fn replace_leaves_only_the_newest_version_whatever_the_commit_order(
            order in Just((1u32..=8).collect::<Vec<_>>()).prop_shuffle()
        ) {
            let mut head = KeyHead::new("b", "k", "t");
            let mut in_table: std::collections::BTreeSet<u32> = Default::default();
            for n in &order {
                let v = version(*n, None);
                let (add, retract) = head.replace_with(&v);
                head.pending = Some(PendingChange {
                    batch_id: v.batch_id.clone(),
                    add: add.clone(),
                    retract: retract.clone(),
                    expires_at: "2026-01-01T01:00:00Z".into(),
                });
                // The catalog commit: retracted rows leave, the added ones enter.
                for r in &retract {
                    let m: u32 = r.ledger_key.rsplit('v').next().unwrap().parse().unwrap();
                    prop_assert!(in_table.remove(&m), "v{} retracted but not in the table", m);
                }
                if add.is_some() {
                    in_table.insert(*n);
                }
                let settled = head.settle(|b| *b == v.batch_id, "2026-01-01T00:00:00Z", None);
                prop_assert!(matches!(settled, Settled::Applied(_)));
            }
            prop_assert_eq!(in_table.into_iter().collect::<Vec<_>>(), vec![8]);
            prop_assert_eq!(head.live.clone(), vec![version(8, None)]);
        }

        /// Whatever order the events of one key arrive in, the head ends at the highest
        /// sequencer, and every event that was older than the head when it arrived is older
        /// than the final head too: none is ever taken for the newest once a newer was seen.
        #[test]
        fn the_head_ends_at_the_highest_sequencer(mut seqs in proptest::collection::vec(1u64..10_000, 1..20)) {
            let mut head = KeyHead::new("b", "k", "t");
            let shuffled = seqs.clone();
            for s in &shuffled {
                let hex = format!("{s:0width$X}", width = (*s as usize % 7) + 1);
                let before = head.order(Some(&hex));
                head.saw_created(Some(&hex), &format!("b/k#{s}"));
                if let Order::Older { .. } = before {
                    let still_older = matches!(head.order(Some(&hex)), Order::Older { .. });
                    prop_assert!(still_older, "{} was older and is not any more", hex);
                }
            }
            seqs.sort();
            let max = *seqs.last().unwrap();
            let final_seq = u64::from_str_radix(head.sequencer.as_deref().unwrap(), 16).unwrap();
            prop_assert_eq!(final_seq, max);
            let expected = format!("b/k#{max}");
            prop_assert_eq!(head.latest.as_deref(), Some(expected.as_str()));
        }
    }
}
