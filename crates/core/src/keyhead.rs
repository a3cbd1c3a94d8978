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
    pub updated_at: String,
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
            updated_at: now.to_string(),
        }
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

    proptest! {
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
