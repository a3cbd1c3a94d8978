//! The object store port: one trait, implemented by the local directory store here and by
//! the S3 store in sluice-aws.
//!
//! The operations are the ones S3 offers and the exactly-once design needs (DESIGN §5):
//! streaming reads, atomic whole-object writes, a create that fails if the key exists
//! (`If-None-Match: *`) and a compare-and-swap on the etag (`If-Match`). A lost condition is
//! not an error but a [`Conditional::PreconditionFailed`] answer, because callers branch on it.
//! Errors say whether a retry may help ([`StoreError::is_transient`]), so the step error
//! mapping never has to read a message.

use std::path::Path;
use std::pin::Pin;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sluice_core::object::KeyError;
use sluice_core::ObjectVersion;
use tokio::io::AsyncRead;

/// What the store knows about one object without reading it: the fields of an S3 `HEAD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectMeta {
    /// Object key, `/`-separated, as checked by `sluice_core::object::check_key`.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Content identity the store reports: S3's ETag, locally the SHA-256 hex of the bytes.
    /// Conditional writes compare against it.
    pub etag: String,
    /// S3 version id on a versioned bucket; `None` on an unversioned bucket and locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Last-modified time, RFC 3339 (UTC).
    pub last_modified: String,
}

impl ObjectMeta {
    /// The object version this metadata describes, for the ledger. A listing or a `HEAD` has
    /// no event `sequencer`, so it is `None`.
    pub fn to_version(&self, bucket: &str) -> ObjectVersion {
        ObjectVersion {
            bucket: bucket.to_string(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            etag: self.etag.clone(),
            size: self.size,
            sequencer: None,
            last_modified: self.last_modified.clone(),
        }
    }
}

/// What a listing found under a prefix: every version the store keeps, so that a caller
/// that must account for every arrival (reconciliation) sees the versions an overwrite hid
/// and the removals a delete left, not only what is current.
///
/// A store without versions (the local directory) has one version per key, its current
/// bytes, identified by their etag: `noncurrent` and `removals` are empty there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The current version of every key that passes `sluice_core::object::check_key` and is
    /// not deleted (its newest version is no delete marker), sorted by key; with its version
    /// id where the store has versions.
    pub objects: Vec<ObjectMeta>,
    /// Older versions of those keys, and every version of a key whose newest version is a
    /// delete marker: bytes that were in the bucket and are not current any more. Sorted by
    /// key, newest first within a key.
    pub noncurrent: Vec<ObjectMeta>,
    /// Delete markers (removals a versioned bucket remembers) of keys sluice can take, sorted
    /// by key, newest first within a key.
    pub removals: Vec<DeleteMarker>,
    /// Every version of an object whose key sluice cannot take, sorted by key: legal on S3
    /// (`a//b`, `./x`, a backslash, a control character) or, in a local directory, a file
    /// name that is not UTF-8 (its bytes escaped as `\xNN`, so the key still fails the
    /// check). No operation of the store reads them; reconciliation records each as
    /// quarantined `unacceptable_key`, so that every object is accounted for.
    pub unacceptable: Vec<ObjectMeta>,
}

/// Where a part of a listing ends and the next begins ([`ObjectStore::listing_part`]): the
/// last entry listed, as S3's `KeyMarker` and `VersionIdMarker` name it. Travels in a
/// backfill's state between invocations, hence serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingMark {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

impl Listing {
    /// Entries in all four groups.
    pub fn len(&self) -> usize {
        self.objects.len() + self.noncurrent.len() + self.removals.len() + self.unacceptable.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The part of a whole listing after `from` (by key: a key's versions stay together)
    /// holding at least `at_least` entries, whole keys, and the mark of its last key when
    /// more follow; see [`ObjectStore::listing_part`].
    pub fn cut(
        mut self,
        from: Option<&ListingMark>,
        at_least: usize,
    ) -> (Listing, Option<ListingMark>) {
        if let Some(from) = from {
            let after = |key: &str| key > from.key.as_str();
            self.objects.retain(|o| after(&o.key));
            self.noncurrent.retain(|o| after(&o.key));
            self.removals.retain(|m| after(&m.key));
            self.unacceptable.retain(|o| after(&o.key));
        }
        let mut keys: Vec<&str> = self
            .objects
            .iter()
            .chain(&self.noncurrent)
            .chain(&self.unacceptable)
            .map(|o| o.key.as_str())
            .chain(self.removals.iter().map(|m| m.key.as_str()))
            .collect();
        keys.sort_unstable();
        let Some(last) = keys.get(at_least.max(1) - 1).map(|k| k.to_string()) else {
            return (self, None);
        };
        if keys.last().is_some_and(|k| *k == last) {
            return (self, None);
        }
        let within = |key: &str| key <= last.as_str();
        self.objects.retain(|o| within(&o.key));
        self.noncurrent.retain(|o| within(&o.key));
        self.removals.retain(|m| within(&m.key));
        self.unacceptable.retain(|o| within(&o.key));
        (
            self,
            Some(ListingMark {
                key: last,
                version_id: None,
            }),
        )
    }
}

/// A delete marker: the version a `DELETE` without a version id leaves on a versioned bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteMarker {
    /// The key deleted.
    pub key: String,
    /// The marker's own version id (the `version-id` of its `Object Deleted` event).
    pub version_id: String,
    /// When the delete happened, RFC 3339 (UTC).
    pub last_modified: String,
    /// Whether it is the key's newest version (the key reads as absent).
    pub is_latest: bool,
}

/// An object being read: its metadata and a streaming body, so a 10 GiB file is never held
/// in memory.
pub struct GetObject {
    /// Metadata of exactly the bytes `body` yields (the etag was taken from the same open
    /// file, not from a second lookup that a concurrent writer could change).
    pub meta: ObjectMeta,
    /// The object's bytes.
    pub body: Pin<Box<dyn AsyncRead + Send>>,
}

impl std::fmt::Debug for GetObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObject")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// The answer to a conditional write: a lost condition is an expected outcome that callers
/// branch on (a duplicate arrival, a lost race), not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional {
    /// The condition held and the object was written; its new metadata.
    Done(ObjectMeta),
    /// The condition did not hold (the key exists, or its etag changed); nothing was written.
    PreconditionFailed,
}

/// One store for the landing bucket and sluice's control objects. `Debug` so that contexts
/// holding an `Arc<dyn ObjectStore>` can derive it.
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// The bucket's name, as it appears in [`ObjectVersion::bucket`] and ledger keys.
    fn bucket(&self) -> &str;

    /// Metadata of `key`, or `None` if there is no such object.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;

    /// Metadata of one version of `key` (`None`: the current one), or `None` if there is no
    /// such version. An unversioned store has only the current version: any `Some(id)` is
    /// absent there.
    async fn head_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectMeta>, StoreError>;

    /// Streams `key`. [`StoreError::NotFound`] if it is absent.
    async fn get(&self, key: &str) -> Result<GetObject, StoreError>;

    /// Streams exactly one version of `key` (`None`: the current one), so that an event about
    /// an older version of a key reads that version, not whatever was written since.
    /// [`StoreError::NotFound`] if that version is absent; an unversioned store answers so for
    /// any `Some(id)`.
    async fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<GetObject, StoreError>;

    /// Reads all of `key` into memory, or `None` if absent. For small objects only (ledger
    /// records, manifests); use [`ObjectStore::get`] for data files.
    async fn get_bytes(&self, key: &str) -> Result<Option<(Bytes, ObjectMeta)>, StoreError>;

    /// Writes `key`, replacing any previous object atomically: a reader sees the old bytes or
    /// the new ones, never a mix.
    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError>;

    /// Writes `key` from a local file, streaming it (the file is never read whole into
    /// memory). Atomic like [`ObjectStore::put`].
    async fn put_file(&self, key: &str, path: &Path) -> Result<ObjectMeta, StoreError>;

    /// Writes `key` only if no object exists there (S3 `If-None-Match: *`). Of any number of
    /// racing creators exactly one gets [`Conditional::Done`].
    async fn create_if_absent(&self, key: &str, body: Bytes) -> Result<Conditional, StoreError>;

    /// Replaces `key` only if its current etag is `etag` (S3 `If-Match`): a compare-and-swap.
    /// An absent object fails the condition.
    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
    ) -> Result<Conditional, StoreError>;

    /// Every version under `prefix` (a plain string prefix, as in S3), recursively, as
    /// [`Listing`] sorts them; objects whose key sluice cannot take are set apart in
    /// [`Listing::unacceptable`], never dropped.
    async fn listing(&self, prefix: &str) -> Result<Listing, StoreError>;

    /// One part of [`ObjectStore::listing`], for a prefix too large to list and act on at
    /// once: the versions after `from` (everything when `None`), at least `at_least` of them
    /// when there are that many (delete markers and unacceptable keys count too), and where
    /// the next part starts, `None` once the listing is complete. The parts of one listing
    /// together hold each version exactly once. This default lists everything and cuts at
    /// key boundaries, for stores that list cheaply (a local directory); S3 resumes from its
    /// own markers, a page at a time.
    async fn listing_part(
        &self,
        prefix: &str,
        from: Option<&ListingMark>,
        at_least: usize,
    ) -> Result<(Listing, Option<ListingMark>), StoreError> {
        Ok(self.listing(prefix).await?.cut(from, at_least))
    }

    /// The current objects of [`ObjectStore::listing`] that can be addressed, sorted by key.
    /// Leaves out older versions, delete markers and objects whose key sluice cannot take:
    /// callers that must account for every object version (reconciliation) use `listing`.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        Ok(self.listing(prefix).await?.objects)
    }

    /// Deletes `key`. Deleting an absent object succeeds, as in S3.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (only from operations that need it, such as `get`).
    #[error("object {key:?} not found")]
    NotFound { key: String },
    /// The key was refused before anything touched the disk or the network: keys are hostile
    /// input.
    #[error("refused object key: {0}")]
    BadKey(#[from] KeyError),
    /// The key is well formed but its path is not ours to touch: it leads through a symbolic
    /// link out of the bucket's root, or into the store's own working directories.
    #[error("refused object key {key:?}: {reason}")]
    UnsafePath {
        /// The refused key.
        key: String,
        /// Why, in a sentence.
        reason: &'static str,
    },
    /// The file system (or later the network) failed.
    #[error("I/O error on object {key:?}")]
    Io {
        /// The key being read or written.
        key: String,
        /// The underlying error; its kind decides [`StoreError::is_transient`].
        #[source]
        source: std::io::Error,
    },
    /// A remote object service (S3) refused or failed the request, after the client's own
    /// retries.
    #[error("object store service error on {key:?}: {code}: {message}")]
    Service {
        /// The key (or prefix) the request was about.
        key: String,
        /// The service's error code (`SlowDown`, `AccessDenied`, ...) or the client's own
        /// failure class (`Timeout`, `Dispatch`, ...).
        code: String,
        /// The service's message, or the client's.
        message: String,
        /// Whether the same request may succeed later (throttling, 5xx, timeouts, a lost
        /// network, a conditional write racing another); decided once where the error is made.
        transient: bool,
    },
    /// The object exists but its content or metadata makes no sense.
    #[error("object {key:?} is corrupt: {message}")]
    Corrupt {
        /// The key of the corrupt object.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl StoreError {
    /// Whether retrying the same operation may succeed. I/O failures are transient unless
    /// their kind says the request itself is wrong (absent, forbidden, a directory where an
    /// object should be, ...); service errors say so themselves; refused keys and corrupt
    /// objects never are.
    pub fn is_transient(&self) -> bool {
        use std::io::ErrorKind::*;
        match self {
            StoreError::Io { source, .. } => !matches!(
                source.kind(),
                NotFound
                    | PermissionDenied
                    | AlreadyExists
                    | InvalidInput
                    | InvalidData
                    | Unsupported
                    | NotADirectory
                    | IsADirectory
                    | DirectoryNotEmpty
                    | ReadOnlyFilesystem
                    | FileTooLarge
                    | InvalidFilename
                    | NotSeekable
            ),
            StoreError::Service { transient, .. } => *transient,
            StoreError::NotFound { .. }
            | StoreError::BadKey(_)
            | StoreError::UnsafePath { .. }
            | StoreError::Corrupt { .. } => false,
        }
    }

    /// An I/O error on `key`.
    pub(crate) fn io(key: &str, source: std::io::Error) -> Self {
        StoreError::Io {
            key: key.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(key: &str, version: &str) -> ObjectMeta {
        ObjectMeta {
            key: key.into(),
            size: 1,
            etag: format!("e-{key}-{version}"),
            version_id: Some(version.into()),
            last_modified: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// Nine entries over six keys, every group used, a key with three versions.
    fn whole() -> Listing {
        Listing {
            objects: vec![meta("p/a", "2"), meta("p/c", "1"), meta("p/e", "1")],
            noncurrent: vec![meta("p/a", "1"), meta("p/b", "1"), meta("p/c", "0")],
            removals: vec![DeleteMarker {
                key: "p/b".into(),
                version_id: "m".into(),
                last_modified: "2026-01-02T00:00:00Z".into(),
                is_latest: true,
            }],
            unacceptable: vec![meta("p//d", "1"), meta("p/f\\", "1")],
        }
    }

    #[test]
    fn parts_of_a_listing_hold_every_entry_once_and_keep_a_keys_versions_together() {
        for at_least in 0..=10 {
            let mut joined = Listing::default();
            let (mut from, mut parts) = (None, 0);
            loop {
                let (part, next) = whole().cut(from.as_ref(), at_least);
                parts += 1;
                assert!(parts <= 9, "at_least {at_least}: does not end");
                if next.is_some() {
                    assert!(
                        part.len() >= at_least.max(1),
                        "at_least {at_least}: {part:?}"
                    );
                }
                // No key is in two parts.
                let keys = |l: &Listing| -> std::collections::BTreeSet<String> {
                    l.objects
                        .iter()
                        .chain(&l.noncurrent)
                        .chain(&l.unacceptable)
                        .map(|o| o.key.clone())
                        .chain(l.removals.iter().map(|m| m.key.clone()))
                        .collect()
                };
                assert!(
                    keys(&joined).is_disjoint(&keys(&part)),
                    "at_least {at_least}"
                );
                joined.objects.extend(part.objects);
                joined.noncurrent.extend(part.noncurrent);
                joined.removals.extend(part.removals);
                joined.unacceptable.extend(part.unacceptable);
                match next {
                    Some(mark) => from = Some(mark),
                    None => break,
                }
            }
            assert_eq!(joined, whole(), "at_least {at_least}");
            if at_least >= 9 {
                assert_eq!(parts, 1);
            }
        }
        let (rest, next) = whole().cut(
            Some(&ListingMark {
                key: "p/e".into(),
                version_id: None,
            }),
            2,
        );
        assert_eq!((rest.len(), next), (1, None), "only p/f\\ is after p/e");
    }

    #[test]
    fn io_errors_are_transient_unless_the_request_is_wrong() {
        let io = |kind| StoreError::io("k", std::io::Error::from(kind));
        assert!(io(std::io::ErrorKind::Interrupted).is_transient());
        assert!(io(std::io::ErrorKind::TimedOut).is_transient());
        assert!(!io(std::io::ErrorKind::NotFound).is_transient());
        assert!(!io(std::io::ErrorKind::PermissionDenied).is_transient());
        assert!(!StoreError::NotFound { key: "k".into() }.is_transient());
        assert!(!StoreError::BadKey(KeyError::Empty).is_transient());
        let service = |transient| StoreError::Service {
            key: "k".into(),
            code: "SlowDown".into(),
            message: "reduce your request rate".into(),
            transient,
        };
        assert!(service(true).is_transient());
        assert!(!service(false).is_transient());
    }

    #[test]
    fn meta_becomes_a_version_without_sequencer() {
        let meta = ObjectMeta {
            key: "orders/a.ndjson".into(),
            size: 3,
            etag: "e".into(),
            version_id: None,
            last_modified: "2026-01-01T00:00:00Z".into(),
        };
        let version = meta.to_version("landing");
        assert_eq!(version.bucket, "landing");
        assert_eq!(version.key, meta.key);
        assert_eq!(version.sequencer, None);
    }
}
