//! Object identity: which bytes an event is about.
//!
//! An arrival is one *version* of one object. S3 names a version by `version_id` when the
//! bucket is versioned and otherwise only by its `etag`; the ledger keys on bucket + key +
//! (version id, else etag), so the same bytes under two keys are two objects, and the same
//! key rewritten with other bytes is a new version (DESIGN §4).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One version of one object in the landing bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectVersion {
    /// Bucket name (locally: the name of the landing directory).
    pub bucket: String,
    /// Object key, `/`-separated, already checked by [`check_key`].
    pub key: String,
    /// S3 version id; `None` on an unversioned bucket and on the local directory store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Content hash as the store reports it (S3 ETag, locally the SHA-256 of the bytes).
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// S3 event `sequencer`: orders events for one key; absent for local arrivals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// Last-modified time, RFC 3339.
    pub last_modified: String,
}

impl ObjectVersion {
    /// The ledger identity of this version: bucket + key + (version id, else etag).
    pub fn ledger_key(&self) -> String {
        let version = self.version_id.as_deref().unwrap_or(&self.etag);
        format!("{}/{}#{}", self.bucket, self.key, version)
    }

    /// The batch id under which this version's rows are staged and committed. Deterministic,
    /// so a re-run of a crashed step writes the same staged files and finds the same commit.
    pub fn batch_id(&self) -> BatchId {
        BatchId::for_ledger_key(&self.ledger_key())
    }

    /// File name of the key (last path segment), for display.
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }

    /// Whether a person naming a file as `name` means this version: its whole key, its file
    /// name or its batch id (the three ways `replay` and `rejects` accept).
    pub fn is_named(&self, name: &str) -> bool {
        self.key == name || self.file_name() == name || self.batch_id().as_str() == name
    }
}

/// A batch of staged rows that one commit makes visible, named after its object version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BatchId(pub String);

impl BatchId {
    /// What every object version's batch id starts with. Other writers that record ids in a
    /// snapshot summary (compaction: `compact-…`) never use it, so an id names an arrival
    /// exactly when it starts with this.
    pub const ARRIVAL_PREFIX: &'static str = "b-";

    /// `b-` followed by the first 24 hex digits of SHA-256 of the ledger key.
    pub fn for_ledger_key(ledger_key: &str) -> Self {
        let digest = Sha256::digest(ledger_key.as_bytes());
        BatchId(format!(
            "{}{}",
            Self::ARRIVAL_PREFIX,
            &hex::encode(digest)[..24]
        ))
    }

    /// Whether this batch holds the rows of one object version (not a compaction's).
    pub fn is_arrival(&self) -> bool {
        self.0.starts_with(Self::ARRIVAL_PREFIX) && self.0.len() > Self::ARRIVAL_PREFIX.len()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BatchId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an object key was refused before anything touched the disk or the network.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("object key is empty")]
    Empty,
    #[error("object key {key:?} is longer than 1024 bytes")]
    TooLong { key: String },
    #[error("object key {key:?} contains a control character")]
    ControlCharacter { key: String },
    #[error("object key {key:?} has an empty, `.` or `..` segment")]
    BadSegment { key: String },
    #[error("object key {key:?} is absolute or contains a backslash")]
    NotRelative { key: String },
}

/// Checks that a key is safe to map onto a directory: relative, no `.`/`..`/empty segments,
/// no control characters, at most 1024 bytes (the S3 limit). Every key from an event, a CLI
/// argument or a listing passes through here: keys are hostile input.
pub fn check_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > 1024 {
        return Err(KeyError::TooLong {
            key: key.chars().take(64).collect(),
        });
    }
    if key.chars().any(char::is_control) {
        return Err(KeyError::ControlCharacter {
            key: key.escape_debug().to_string(),
        });
    }
    if key.starts_with('/') || key.contains('\\') {
        return Err(KeyError::NotRelative {
            key: key.to_string(),
        });
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(KeyError::BadSegment {
            key: key.to_string(),
        });
    }
    Ok(())
}

/// SHA-256 of `bytes` as lowercase hex: the local store's etag.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(key: &str, etag: &str, version_id: Option<&str>) -> ObjectVersion {
        ObjectVersion {
            bucket: "landing".into(),
            key: key.into(),
            version_id: version_id.map(Into::into),
            etag: etag.into(),
            size: 1,
            sequencer: None,
            last_modified: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn same_bytes_under_two_keys_are_two_objects() {
        let a = version("orders/a.ndjson", "e1", None);
        let b = version("orders/b.ndjson", "e1", None);
        assert_ne!(a.ledger_key(), b.ledger_key());
        assert_ne!(a.batch_id(), b.batch_id());
    }

    #[test]
    fn version_id_wins_over_etag() {
        let a = version("k", "e1", Some("v1"));
        let b = version("k", "e2", Some("v1"));
        assert_eq!(a.ledger_key(), b.ledger_key());
    }

    #[test]
    fn hostile_keys_are_refused() {
        for key in [
            "",
            "/etc/passwd",
            "a/../b",
            "a//b",
            "./a",
            "a\\b",
            "a\u{0}b",
            "..",
            "a/.",
        ] {
            assert!(check_key(key).is_err(), "{key:?} accepted");
        }
        assert!(check_key(&"a".repeat(1025)).is_err());
        assert!(check_key("orders/2026/01/a.ndjson.gz").is_ok());
    }
}
