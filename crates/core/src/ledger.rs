//! The ledger model: one record per object version, and the only transitions allowed.
//!
//! The records live in the object store (crates/store); this module is the pure rule book.
//! A record is created `claimed` by a conditional create, so of two racing arrivals exactly
//! one proceeds. Every later transition is a compare-and-swap on the previous record and
//! must be allowed by [`LedgerState::can_move_to`]: no sequence reaches two terminal states.

use serde::{Deserialize, Serialize};

use crate::object::{BatchId, ObjectVersion};
use crate::quarantine::QuarantineReason;

/// Where an object version is on its way into the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LedgerState {
    /// An execution owns the object; nothing durable has been written for it yet.
    Claimed,
    /// Valid rows are in staged Parquet files, described by the batch's manifest.
    Staged {
        /// Key of the staged batch manifest under the control prefix.
        manifest_key: String,
    },
    /// The batch is in the table, made visible by this snapshot.
    Committed { snapshot_id: i64 },
    /// The object did not belong (no table, older version, empty): nothing to do.
    Filtered { reason: FilteredReason },
    /// The object waits for a person.
    Quarantined { reason: QuarantineReason },
    /// The version's rows left the table in this snapshot (or, staged after a newer version
    /// of its key was loaded, never entered it): a newer version replaced them (`new_version
    /// = "replace"`) or the object was removed (`on_delete = "delete"`).
    Retracted {
        snapshot_id: i64,
        cause: RetractCause,
    },
}

/// Why a version's rows left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetractCause {
    /// A newer version of the key took its place (`new_version = "replace"`).
    Replaced,
    /// The object was removed from the bucket (`on_delete = "delete"`).
    Removed,
}

impl RetractCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replaced => "replaced",
            Self::Removed => "removed",
        }
    }
}

impl LedgerState {
    /// Committed, filtered and quarantined end a version's life (until a replay).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            Self::Committed { .. }
                | Self::Filtered { .. }
                | Self::Quarantined { .. }
                | Self::Retracted { .. }
        )
    }

    /// The state without its data.
    pub fn kind(&self) -> StateName {
        match self {
            Self::Claimed => StateName::Claimed,
            Self::Staged { .. } => StateName::Staged,
            Self::Committed { .. } => StateName::Committed,
            Self::Filtered { .. } => StateName::Filtered,
            Self::Quarantined { .. } => StateName::Quarantined,
            Self::Retracted { .. } => StateName::Retracted,
        }
    }

    /// The state's name as `sluice files --state` accepts it.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
    }

    /// The transitions of DESIGN §5.1. Re-entering the same state (`staged` → `staged`) is
    /// allowed so that a re-run of a crashed step can record what it redid.
    pub fn can_move_to(&self, next: &LedgerState) -> bool {
        use LedgerState::*;
        matches!(
            (self, next),
            (
                Claimed,
                Staged { .. } | Filtered { .. } | Quarantined { .. } | Claimed
            ) | (
                Staged { .. },
                Staged { .. } | Committed { .. } | Quarantined { .. } | Retracted { .. }
            ) | (Quarantined { .. }, Claimed)
                | (Committed { .. }, Retracted { .. })
        )
    }

    /// Filtered and retracted are final for ever, committed too (but for its rows' retraction
    /// by a newer version or a removal); quarantined is final until a person replays the
    /// object (quarantined → claimed, counted in [`LedgerRecord::replays`]).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Committed { .. } | Self::Filtered { .. } | Self::Retracted { .. }
        )
    }
}

/// All state names, for CLI validation and help.
pub const STATE_NAMES: [&str; 6] = [
    "claimed",
    "staged",
    "committed",
    "filtered",
    "quarantined",
    "retracted",
];

/// A ledger state's name without its data: what a payload reports as `ledger_state` (a
/// duplicate's "the ledger already says committed"). Serialized as [`STATE_NAMES`] spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateName {
    Claimed,
    Staged,
    Committed,
    Filtered,
    Quarantined,
    Retracted,
}

impl StateName {
    /// Every name, in the order of [`STATE_NAMES`].
    pub const ALL: [StateName; 6] = [
        StateName::Claimed,
        StateName::Staged,
        StateName::Committed,
        StateName::Filtered,
        StateName::Quarantined,
        StateName::Retracted,
    ];

    /// The name as [`STATE_NAMES`] spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claimed => "claimed",
            Self::Staged => "staged",
            Self::Committed => "committed",
            Self::Filtered => "filtered",
            Self::Quarantined => "quarantined",
            Self::Retracted => "retracted",
        }
    }
}

impl std::fmt::Display for StateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a version was filtered: the codes the steps write. Records already on disk or in S3
/// may hold other strings (older releases wrote free text); they read back as
/// [`FilteredReason::Other`] and are written back unchanged, so the set is closed for what
/// sluice writes and open for what it reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum FilteredReason {
    /// The key is under no table's prefix.
    NoTable,
    /// An event with a later sequencer was already seen for the key, or the object was
    /// overwritten before it was read (see `keyhead`).
    Superseded,
    /// A new version of a key whose first version is loaded, under `new_version = "ignore"`.
    NewVersionIgnored,
    /// The object holds no rows.
    Empty,
    /// The version was removed after it was claimed and before it was read (on a store
    /// without versions, a delete takes the bytes with it): there is nothing to load.
    Removed,
    /// A reason this release does not write, read from an older record.
    Other(String),
}

impl FilteredReason {
    /// The code as records and payloads spell it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::NoTable => "no_table",
            Self::Superseded => "superseded",
            Self::NewVersionIgnored => "new_version_ignored",
            Self::Empty => "empty",
            Self::Removed => "removed",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for FilteredReason {
    fn from(s: &str) -> Self {
        match s {
            "no_table" => Self::NoTable,
            "superseded" => Self::Superseded,
            "new_version_ignored" => Self::NewVersionIgnored,
            "empty" => Self::Empty,
            "removed" => Self::Removed,
            other => Self::Other(other.to_string()),
        }
    }
}

impl From<String> for FilteredReason {
    fn from(s: String) -> Self {
        match FilteredReason::from(s.as_str()) {
            Self::Other(_) => Self::Other(s),
            known => known,
        }
    }
}

impl From<FilteredReason> for String {
    fn from(r: FilteredReason) -> String {
        match r {
            FilteredReason::Other(s) => s,
            known => known.as_str().to_string(),
        }
    }
}

impl std::fmt::Display for FilteredReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Row counts a record carries once validation has run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowCounts {
    /// Rows read from the file (parsed or not).
    pub total: u64,
    /// Rows that passed the contract and were staged.
    pub valid: u64,
    /// Rows rejected (parse errors and contract violations).
    pub rejected: u64,
}

/// The ledger's record for one object version. (No `deny_unknown_fields`: serde cannot
/// combine it with the flattened state.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerRecord {
    pub object: ObjectVersion,
    /// Table the object was routed to, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub batch_id: BatchId,
    #[serde(flatten)]
    pub state: LedgerState,
    /// A person-readable sentence about the last transition (reason details, errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<RowCounts>,
    /// The data files the version's rows were committed in (its staged batch's), once
    /// committed: where a replacement or a removal finds them (compaction may since have
    /// merged them into others, whose footers say which rows are whose).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_files: Vec<String>,
    /// Key of the rejected-rows object, when any row was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_key: Option<String>,
    /// The version of its table's contract the object version was last judged under
    /// (`sluice contract history`), once validated or quarantined after routing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<u32>,
    /// How many times a quarantined version was reopened for a replay.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replays: u32,
    /// Who may work on a `claimed` version, and until when (see [`Lease`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
    /// RFC 3339 time of the claim.
    pub claimed_at: String,
    /// RFC 3339 time of the last transition.
    pub updated_at: String,
}

impl LedgerRecord {
    /// A fresh claim for `object`.
    pub fn claim(object: ObjectVersion, now: &str) -> Self {
        LedgerRecord {
            batch_id: object.batch_id(),
            object,
            table: None,
            state: LedgerState::Claimed,
            detail: None,
            rows: None,
            data_files: vec![],
            rejects_key: None,
            contract_version: None,
            replays: 0,
            lease: None,
            claimed_at: now.to_string(),
            updated_at: now.to_string(),
        }
    }
}

/// The right to work on a claimed object version. A duplicate event's execution that finds a
/// live lease held by another execution stops; once the lease has expired (its holder died and
/// nobody redrove it), any execution may take the claim over, with a compare-and-swap, and
/// continue from the last durable state. A claim without a lease (a reopened replay) is free.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lease {
    /// The execution holding the claim.
    pub owner: String,
    /// RFC 3339 time after which the claim may be taken over.
    pub expires_at: String,
}

impl Lease {
    /// A lease for `owner` from `now` (RFC 3339) for `seconds`.
    pub fn new(owner: &str, now: &str, seconds: u64) -> Self {
        let expires_at = chrono::DateTime::parse_from_rfc3339(now)
            .map(|t| {
                (t.with_timezone(&chrono::Utc)
                    + chrono::Duration::seconds(seconds.min(i64::MAX as u64) as i64))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            })
            .unwrap_or_else(|_| now.to_string());
        Lease {
            owner: owner.to_string(),
            expires_at,
        }
    }

    /// True once `now` (RFC 3339) is at or past the expiry. An unreadable time counts as
    /// expired: a lease nobody can read must not block the object for ever.
    pub fn expired(&self, now: &str) -> bool {
        match (
            chrono::DateTime::parse_from_rfc3339(&self.expires_at),
            chrono::DateTime::parse_from_rfc3339(now),
        ) {
            (Ok(until), Ok(now)) => now >= until,
            _ => true,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Error for a transition the rule book forbids.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("ledger transition {from} -> {to} is not allowed")]
pub struct IllegalTransition {
    pub from: &'static str,
    pub to: &'static str,
}

/// Checks a transition; the store calls this before every compare-and-swap.
pub fn check_transition(from: &LedgerState, to: &LedgerState) -> Result<(), IllegalTransition> {
    if from.can_move_to(to) {
        Ok(())
    } else {
        Err(IllegalTransition {
            from: from.name(),
            to: to.name(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_state() -> impl Strategy<Value = LedgerState> {
        prop_oneof![
            Just(LedgerState::Claimed),
            Just(LedgerState::Staged {
                manifest_key: "m".into()
            }),
            (0i64..5).prop_map(|snapshot_id| LedgerState::Committed { snapshot_id }),
            Just(LedgerState::Filtered {
                reason: "no table".into()
            }),
            Just(LedgerState::Quarantined {
                reason: QuarantineReason::ParseError
            }),
            (0i64..5).prop_map(|snapshot_id| LedgerState::Retracted {
                snapshot_id,
                cause: RetractCause::Replaced
            }),
        ]
    }

    proptest! {
        /// Applying any sequence of attempted transitions, skipping the refused ones, never
        /// reaches two final states (committed, filtered, retracted) but for the retraction
        /// of committed rows, never commits twice, and never leaves a terminal state except by
        /// a replay of a quarantined version or that retraction.
        #[test]
        fn no_sequence_reaches_two_terminal_states(steps in proptest::collection::vec(any_state(), 0..20)) {
            let mut state = LedgerState::Claimed;
            let mut last_terminal: Option<LedgerState> = None;
            let mut finals = 0;
            for next in steps {
                if check_transition(&state, &next).is_ok() {
                    if state.is_terminal() {
                        prop_assert!(
                            matches!(
                                (&state, &next),
                                (LedgerState::Quarantined { .. }, LedgerState::Claimed)
                                    | (LedgerState::Committed { .. }, LedgerState::Retracted { .. })
                            ),
                            "left terminal state {state:?} for {next:?}"
                        );
                    }
                    let retraction = matches!(
                        (&state, &next),
                        (LedgerState::Committed { .. }, LedgerState::Retracted { .. })
                    );
                    state = next;
                    if state.is_terminal() {
                        last_terminal = Some(state.clone());
                    }
                    if state.is_final() && !retraction {
                        finals += 1;
                        prop_assert_eq!(finals, 1, "second final state {:?} after {:?}", state, last_terminal);
                    }
                }
            }
        }
    }

    #[test]
    fn a_lease_expires_after_its_seconds() {
        let lease = Lease::new("exec-1", "2026-01-01T00:00:00.000Z", 60);
        assert_eq!(lease.expires_at, "2026-01-01T00:01:00.000Z");
        assert!(!lease.expired("2026-01-01T00:00:59.999Z"));
        assert!(lease.expired("2026-01-01T00:01:00.000Z"));
        assert!(lease.expired("2026-01-02T00:00:00Z"));
        let broken = Lease {
            owner: "x".into(),
            expires_at: "not a time".into(),
        };
        assert!(broken.expired("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn state_names_are_spelled_once() {
        let names: Vec<&str> = StateName::ALL.iter().map(|n| n.as_str()).collect();
        assert_eq!(names, STATE_NAMES);
        for n in StateName::ALL {
            assert_eq!(serde_json::to_value(n).unwrap(), n.as_str());
        }
        let filtered = LedgerState::Filtered {
            reason: FilteredReason::Empty,
        };
        assert_eq!(filtered.kind(), StateName::Filtered);
        assert_eq!(filtered.name(), "filtered");
    }

    #[test]
    fn filtered_reasons_read_old_records_and_write_them_back_unchanged() {
        for known in ["no_table", "superseded", "new_version_ignored", "empty"] {
            let reason: FilteredReason = serde_json::from_value(known.into()).unwrap();
            assert!(!matches!(reason, FilteredReason::Other(_)), "{known}");
            assert_eq!(serde_json::to_value(&reason).unwrap(), known);
        }
        let old: LedgerState =
            serde_json::from_str(r#"{"state":"filtered","reason":"older version"}"#).unwrap();
        assert_eq!(
            old,
            LedgerState::Filtered {
                reason: FilteredReason::Other("older version".into())
            }
        );
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"state":"filtered","reason":"older version"}"#
        );
    }

    #[test]
    fn record_round_trips_through_json() {
        let object = ObjectVersion {
            bucket: "landing".into(),
            key: "orders/a.ndjson".into(),
            version_id: None,
            etag: "abc".into(),
            size: 3,
            sequencer: None,
            last_modified: "2026-01-01T00:00:00Z".into(),
        };
        let mut record = LedgerRecord::claim(object, "2026-01-01T00:00:00Z");
        record.state = LedgerState::Committed { snapshot_id: 42 };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""state":"committed""#), "{json}");
        let back: LedgerRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, record);
    }
}
