//! A table's data files in an object store bucket (S3): the listing, and the size and
//! modification time of one file, that iceberg's FileIO cannot give.
//!
//! A canonical location `s3://bucket/prefix` is the keys under `prefix/` in the store of
//! `bucket`; a key `k` found there is the data file `s3://bucket/k`. The store is the
//! warehouse's bucket: a location in any other bucket is refused, never read through a store
//! of the wrong bucket. Keys go through the store's own checks (no empty, `.` or `..`
//! segment), and the listing keeps only `.parquet` keys under `prefix/` (the slash keeps a
//! sibling `prefix2/` out).
//!
//! An object's modification time is its last-modified time in whole seconds: S3 lists it
//! with milliseconds but a `HEAD` answers in seconds, and gc compares the listed time with a
//! later stat's to see whether a file was written again. Whole seconds still tell a rewrite:
//! a file gc removes is at least `min_age` old when listed, so a write after the listing
//! lands in a later second (with `min_age` of a second or more).

use std::time::{Duration, SystemTime};

use sluice_store::{ObjectMeta, ObjectStore, StoreError};

use super::{StoredDataFile, DATA_FILE_EXTENSION};
use crate::error::{LakeError, LakeErrorKind, Result};

/// The scheme of a canonical object store location (see [`super::canonical_path`]).
const SCHEME: &str = "s3://";

/// The bucket and key of a canonical location `s3://bucket/key`; `None` for anything else
/// (another scheme, no bucket, no key).
fn bucket_and_key(location: &str) -> Option<(&str, &str)> {
    let (bucket, key) = location.strip_prefix(SCHEME)?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The key of `location` in `store`, refused unless `location` is in the store's bucket.
fn key_in<'a>(store: &dyn ObjectStore, location: &'a str) -> Result<&'a str> {
    match bucket_and_key(location) {
        Some((bucket, key)) if bucket == store.bucket() => Ok(key),
        Some((bucket, _)) => Err(LakeError::internal(format!(
            "{location} is in bucket {bucket}, but the warehouse's data files are read in \
             bucket {}: refusing to read it",
            store.bucket()
        ))),
        None => Err(LakeError::internal(format!(
            "{location} is not an {SCHEME}bucket/key location: refusing to read it"
        ))),
    }
}

/// Every `.parquet` object under the data location `location` (canonical, no trailing
/// slash), as data files, sorted by path.
pub(super) async fn list(store: &dyn ObjectStore, location: &str) -> Result<Vec<StoredDataFile>> {
    let prefix = format!("{}/", key_in(store, location)?);
    let objects = store
        .list(&prefix)
        .await
        .map_err(|e| store_error(format!("listing {location}"), e))?;
    let mut found = objects
        .into_iter()
        .filter(|m| m.key.ends_with(DATA_FILE_EXTENSION))
        .map(|m| stored(store.bucket(), m))
        .collect::<Result<Vec<_>>>()?;
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// The object at `path` (canonical `s3://bucket/key`) as it is now, or `None` if it is gone.
pub(super) async fn stat(store: &dyn ObjectStore, path: &str) -> Result<Option<StoredDataFile>> {
    let key = key_in(store, path)?;
    let meta = store
        .head(key)
        .await
        .map_err(|e| store_error(format!("reading {path}"), e))?;
    meta.map(|m| stored(store.bucket(), m)).transpose()
}

/// A listed or stat'ed object of `bucket` as a data file.
fn stored(bucket: &str, meta: ObjectMeta) -> Result<StoredDataFile> {
    let path = format!("{SCHEME}{bucket}/{}", meta.key);
    let modified = whole_seconds(&meta.last_modified).ok_or_else(|| {
        LakeError::internal(format!(
            "{path} has an unreadable last-modified time {:?}",
            meta.last_modified
        ))
    })?;
    Ok(StoredDataFile {
        path,
        bytes: meta.size,
        modified,
    })
}

/// An RFC 3339 time, truncated to whole seconds (see the module docs).
fn whole_seconds(rfc3339: &str) -> Option<SystemTime> {
    let at = chrono::DateTime::parse_from_rfc3339(rfc3339).ok()?;
    let seconds = u64::try_from(at.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
}

/// A store error as a lake error: transient when the store says a retry may help.
fn store_error(doing: String, e: StoreError) -> LakeError {
    let kind = if e.is_transient() {
        LakeErrorKind::Transient
    } else {
        LakeErrorKind::Internal
    };
    LakeError {
        kind,
        message: format!("{doing}: {e}"),
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_store::LocalStore;

    /// A local store standing in for the bucket `warehouse`, with `keys` in it.
    async fn bucket_with(keys: &[&str]) -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().to_path_buf(), "warehouse").unwrap();
        for key in keys {
            store.put(key, "PAR1".into()).await.unwrap();
        }
        (dir, store)
    }

    #[test]
    fn a_location_is_a_bucket_and_a_key() {
        assert_eq!(
            bucket_and_key("s3://wh/tables/shop/orders/data"),
            Some(("wh", "tables/shop/orders/data"))
        );
        assert_eq!(bucket_and_key("s3://wh/"), None);
        assert_eq!(bucket_and_key("s3://wh"), None);
        assert_eq!(bucket_and_key("s3:///key"), None);
        assert_eq!(bucket_and_key("gs://wh/key"), None);
        assert_eq!(bucket_and_key("/wh/key"), None);
    }

    #[tokio::test]
    async fn the_listing_is_the_parquet_keys_under_the_location_as_paths() {
        let (_dir, store) = bucket_with(&[
            "t/shop/orders/data/day=1/b-1-00000.parquet",
            "t/shop/orders/data/a.parquet",
            "t/shop/orders/data/notes.txt",
            "t/shop/orders/data2/c.parquet",
            "t/shop/orders/metadata/snap-1.avro",
        ])
        .await;
        let found = list(&store, "s3://warehouse/t/shop/orders/data")
            .await
            .unwrap();
        let paths: Vec<_> = found.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "s3://warehouse/t/shop/orders/data/a.parquet",
                "s3://warehouse/t/shop/orders/data/day=1/b-1-00000.parquet",
            ]
        );
        assert!(found.iter().all(|f| f.bytes == 4));
    }

    #[tokio::test]
    async fn a_stat_reads_the_object_and_a_gone_object_is_none() {
        let (_dir, store) = bucket_with(&["t/data/a.parquet"]).await;
        let listed = list(&store, "s3://warehouse/t/data").await.unwrap();
        let now = stat(&store, "s3://warehouse/t/data/a.parquet")
            .await
            .unwrap();
        assert_eq!(now.as_ref(), listed.first(), "listed and stat'ed alike");
        assert_eq!(
            stat(&store, "s3://warehouse/t/data/b.parquet")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn another_bucket_or_scheme_is_refused() {
        let (_dir, store) = bucket_with(&["t/data/a.parquet"]).await;
        let e = list(&store, "s3://landing/t/data").await.unwrap_err();
        assert!(e.to_string().contains("is in bucket landing"), "{e}");
        let e = stat(&store, "s3://landing/t/data/a.parquet")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("refusing"), "{e}");
        let e = stat(&store, "gs://warehouse/t/data/a.parquet")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not an s3://bucket/key"), "{e}");
    }

    #[tokio::test]
    async fn a_key_with_a_dot_dot_segment_is_refused_by_the_store() {
        let (_dir, store) = bucket_with(&[]).await;
        let e = stat(&store, "s3://warehouse/t/data/../metadata/x.parquet")
            .await
            .unwrap_err();
        assert_eq!(e.kind, LakeErrorKind::Internal, "{e}");
    }

    #[test]
    fn times_are_whole_seconds() {
        let at = |s| whole_seconds(s).unwrap();
        assert_eq!(at("2026-03-01T10:00:00.999Z"), at("2026-03-01T10:00:00Z"));
        assert_eq!(
            at("2026-03-01T10:00:01Z")
                .duration_since(at("2026-03-01T10:00:00.5Z"))
                .unwrap(),
            Duration::from_secs(1)
        );
        assert_eq!(whole_seconds("yesterday"), None);
    }
}
