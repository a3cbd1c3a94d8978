//! `S3Store`: an S3 bucket as sluice's object store.
//!
//! Every [`ObjectStore`] operation is one S3 request (or a multipart upload), and the
//! guarantees the ledger leans on are S3's own: a PUT replaces an object atomically,
//! `If-None-Match: *` lets exactly one racing creator win, and `If-Match: "<etag>"` is a
//! compare-and-swap. Keys are hostile input: each passes `sluice_core::object::check_key`
//! before any request is made, as in the local store.
//!
//! Etags are kept without S3's surrounding quotes, as S3 event notifications carry them, so
//! an event's etag compares equal to a `HEAD`'s. S3 version ids are kept as S3 gives them;
//! the id `null` (an unversioned bucket's answer) is no version id. A `PUT`'s answer has no
//! `Last-Modified`, so metadata returned by writes carries the writer's clock instead.
//!
//! Listings are `ListObjectVersions`, paged: every version under the prefix with its version
//! id and etag, current or not, and the delete markers, because the ledger names a version
//! by its id and reconciliation must account for each (see [`Listing`]). On an unversioned
//! bucket every object is one version with the id `null`, so the same request serves both.
//! Noncurrent versions cost listing pages: the CDK app's lifecycle rules expire them under
//! the control prefix.
//!
//! Bodies stream both ways: `get` hands out the response body as an `AsyncRead`, and
//! `put_file` sends a file from disk, in parts of [`DEFAULT_PART_SIZE`] through a multipart
//! upload when it is larger than one part, a few parts in flight at once.

use std::path::Path;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::primitives::{ByteStream, DateTime, DateTimeFormat, Length};
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sluice_core::object::check_key;
use sluice_store::{
    Conditional, DeleteMarker, GetObject, Listing, ListingMark, ObjectMeta, ObjectStore, StoreError,
};

use crate::s3_error::{status, store_error};

/// Part size of multipart uploads, and the size above which `put_file` uses one: 16 MiB,
/// so a file of up to 156 GiB fits S3's 10,000 parts.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;

/// S3's smallest part (every part but the last): 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// S3's largest part count per upload.
const MAX_PARTS: u64 = 10_000;

/// Parts uploaded at once: enough to hide latency, few enough to stay polite to the network
/// a Lambda shares.
const PARTS_IN_FLIGHT: usize = 4;

/// Keys (versions and delete markers) per `ListObjectVersions` page unless told otherwise:
/// S3's maximum.
const LIST_PAGE: i32 = 1000;

/// One S3 bucket. Cheap to clone (the client is shared).
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Bytes per part of a multipart upload; files up to this size go in one `PUT`.
    part_size: u64,
    /// `max-keys` of each listing request.
    list_page: i32,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("bucket", &self.bucket)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// The bucket `bucket`, reached through `client`.
    pub fn new(client: Client, bucket: impl Into<String>) -> S3Store {
        S3Store {
            client,
            bucket: bucket.into(),
            part_size: DEFAULT_PART_SIZE,
            list_page: LIST_PAGE,
        }
    }

    /// The bucket `bucket`, with a client built from `sdk` (path-style when the endpoint is
    /// overridden, see [`crate::s3_client`]).
    pub fn from_conf(sdk: &SdkConfig, bucket: impl Into<String>) -> S3Store {
        S3Store::new(crate::s3_client(sdk), bucket)
    }

    /// Uses parts of `bytes` (at least [`MIN_PART_SIZE`]) for multipart uploads.
    pub fn with_part_size(mut self, bytes: u64) -> S3Store {
        self.part_size = bytes.max(MIN_PART_SIZE);
        self
    }

    /// Lists `keys` keys per request (1 to 1000).
    pub fn with_list_page_size(mut self, keys: i32) -> S3Store {
        self.list_page = keys.clamp(1, LIST_PAGE);
        self
    }

    /// The S3 client, for what the store does not do (bucket set-up, say).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One `PUT` of `body` with an optional condition; 412 is the lost condition.
    async fn put_object(
        &self,
        key: &str,
        body: Bytes,
        condition: Condition<'_>,
    ) -> Result<Conditional, StoreError> {
        check_key(key)?;
        let size = body.len() as u64;
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        request = match condition {
            Condition::None => request,
            Condition::Absent => request.if_none_match("*"),
            Condition::EtagIs(etag) => request.if_match(quoted(etag)),
        };
        match request
            .customize()
            .config_override(uploading())
            .send()
            .await
        {
            Ok(out) => Ok(Conditional::Done(written(
                key,
                size,
                out.e_tag(),
                out.version_id(),
            )?)),
            Err(e) if status(&e) == Some(412) => Ok(Conditional::PreconditionFailed),
            // If-Match on an absent key: S3 answers 404, the trait answers a lost condition.
            Err(e) if status(&e) == Some(404) && matches!(condition, Condition::EtagIs(_)) => {
                Ok(Conditional::PreconditionFailed)
            }
            Err(e) => Err(store_error(key, e)),
        }
    }

    /// A multipart upload of the file at `path` (`size` bytes); aborted if any part fails, so
    /// no half-uploaded parts are left to pay for.
    async fn put_multipart(
        &self,
        key: &str,
        path: &Path,
        size: u64,
    ) -> Result<ObjectMeta, StoreError> {
        // Parts grow past the configured size only for files too big for 10,000 of them.
        let part_size = self.part_size.max(size.div_ceil(MAX_PARTS));
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        let upload_id = created.upload_id().ok_or_else(|| StoreError::Corrupt {
            key: key.to_string(),
            message: "CreateMultipartUpload answered without an upload id".into(),
        })?;
        match self
            .upload_parts(key, path, size, part_size, upload_id)
            .await
        {
            Ok(done) => written(key, size, done.e_tag(), done.version_id()),
            Err(e) => {
                let aborted = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .send()
                    .await;
                if let Err(abort) = aborted {
                    // The bucket's lifecycle rule for incomplete uploads is the backstop.
                    tracing::warn!(key, error = %store_error(key, abort), "multipart upload not aborted");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &str,
        path: &Path,
        size: u64,
        part_size: u64,
        upload_id: &str,
    ) -> Result<CompleteMultipartUploadOutput, StoreError> {
        let count = size.div_ceil(part_size);
        let parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|index| {
                let offset = index * part_size;
                let length = part_size.min(size - offset);
                self.upload_part(key, path, upload_id, index, offset, length)
            })
            .buffered(PARTS_IN_FLIGHT)
            .try_collect()
            .await?;
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| store_error(key, e))
    }

    /// Uploads bytes `offset..offset + length` of the file as part `index` (0-based),
    /// streamed from disk.
    async fn upload_part(
        &self,
        key: &str,
        path: &Path,
        upload_id: &str,
        index: u64,
        offset: u64,
        length: u64,
    ) -> Result<CompletedPart, StoreError> {
        // Part numbers are 1-based and at most 10,000, so the conversion cannot fail.
        let number = i32::try_from(index + 1).map_err(|_| StoreError::Corrupt {
            key: key.to_string(),
            message: format!("part {} is past S3's limit", index + 1),
        })?;
        let body = ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(length))
            .build()
            .await
            .map_err(|e| StoreError::Io {
                key: key.to_string(),
                source: std::io::Error::other(e),
            })?;
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(number)
            .body(body)
            .customize()
            .config_override(uploading())
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(CompletedPart::builder()
            .set_e_tag(out.e_tag().map(str::to_string))
            .part_number(number)
            .build())
    }
}

/// The condition of a `PUT`.
#[derive(Clone, Copy)]
enum Condition<'a> {
    None,
    /// `If-None-Match: *`.
    Absent,
    /// `If-Match: "<etag>"`.
    EtagIs(&'a str),
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.head_version(key, None).await
    }

    async fn head_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        check_key(key)?;
        let answer = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await;
        match answer {
            Ok(out) => meta(
                key,
                out.content_length(),
                out.e_tag(),
                out.version_id(),
                out.last_modified(),
            )
            .map(Some),
            Err(e) if status(&e) == Some(404) => Ok(None),
            Err(e) => Err(store_error(key, e)),
        }
    }

    async fn get(&self, key: &str) -> Result<GetObject, StoreError> {
        self.get_version(key, None).await
    }

    async fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<GetObject, StoreError> {
        check_key(key)?;
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_string))
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => {
                return Err(StoreError::NotFound {
                    key: key.to_string(),
                })
            }
            Err(e) => return Err(store_error(key, e)),
        };
        let meta = meta(
            key,
            out.content_length(),
            out.e_tag(),
            out.version_id(),
            out.last_modified(),
        )?;
        Ok(GetObject {
            meta,
            body: Box::pin(out.body.into_async_read()),
        })
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<(Bytes, ObjectMeta)>, StoreError> {
        check_key(key)?;
        let answer = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(store_error(key, e)),
        };
        let meta = meta(
            key,
            out.content_length(),
            out.e_tag(),
            out.version_id(),
            out.last_modified(),
        )?;
        let body = out.body.collect().await.map_err(|e| StoreError::Service {
            key: key.to_string(),
            code: "Body".into(),
            message: format!("reading the object's body: {e}"),
            transient: true,
        })?;
        Ok(Some((body.into_bytes(), meta)))
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        match self.put_object(key, body, Condition::None).await? {
            Conditional::Done(meta) => Ok(meta),
            Conditional::PreconditionFailed => Err(StoreError::Corrupt {
                key: key.to_string(),
                message: "an unconditional PUT answered 412".into(),
            }),
        }
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<ObjectMeta, StoreError> {
        check_key(key)?;
        let io_err = |source| StoreError::Io {
            key: key.to_string(),
            source,
        };
        let size = tokio::fs::metadata(path).await.map_err(io_err)?.len();
        if size > self.part_size {
            return self.put_multipart(key, path, size).await;
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| io_err(std::io::Error::other(e)))?;
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body)
            .customize()
            .config_override(uploading())
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        written(key, size, out.e_tag(), out.version_id())
    }

    async fn create_if_absent(&self, key: &str, body: Bytes) -> Result<Conditional, StoreError> {
        self.put_object(key, body, Condition::Absent).await
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
    ) -> Result<Conditional, StoreError> {
        self.put_object(key, body, Condition::EtagIs(etag)).await
    }

    async fn listing(&self, prefix: &str) -> Result<Listing, StoreError> {
        Ok(self.listing_part(prefix, None, usize::MAX).await?.0)
    }

    /// ListObjectsV2, not the versions: current objects are all these callers want (the
    /// ledger, staged manifests, quarantine records, a table's data files), a page of them
    /// is never padded with the noncurrent versions every ledger transition leaves, and it
    /// needs `s3:ListBucket` only, which every role has; `s3:ListBucketVersions` is granted
    /// to reconcile alone, under the tables' prefixes. No version ids: callers read by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        check_prefix(prefix)?;
        let mut found = vec![];
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(self.list_page)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_error(prefix, e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if check_key(key).is_err() {
                    continue;
                }
                found.push(meta(
                    key,
                    object.size(),
                    object.e_tag(),
                    None,
                    object.last_modified(),
                )?);
            }
        }
        // S3 lists in UTF-8 byte order, which is `str` order; sorting keeps the promise
        // whatever a compatible store does.
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// ListObjectVersions pages from `from` (S3's own key and version-id markers) until
    /// `at_least` entries are listed (the last page asks for no more than are missing) or the
    /// listing ends.
    async fn listing_part(
        &self,
        prefix: &str,
        from: Option<&ListingMark>,
        at_least: usize,
    ) -> Result<(Listing, Option<ListingMark>), StoreError> {
        check_prefix(prefix)?;
        let mut found = Listing::default();
        let (mut key_marker, mut version_marker) = match from {
            Some(m) => (Some(m.key.clone()), m.version_id.clone()),
            None => (None, None),
        };
        let mut next = None;
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(prefix)
                .max_keys(
                    self.list_page
                        .min(page_for(at_least.saturating_sub(found.len()))),
                )
                .set_key_marker(key_marker.clone())
                .set_version_id_marker(version_marker.clone())
                .send()
                .await
                .map_err(|e| store_error(prefix, e))?;
            // The entry the request resumed after; a store that repeats it on the next page
            // (the emulator does, for objects without a version id) is not believed twice.
            let resumed = key_marker.take().map(|k| (k, version_marker.take()));
            let repeated = |key: &str, id: Option<&str>| {
                resumed
                    .as_ref()
                    .is_some_and(|(k, v)| k == key && v.as_deref() == id)
            };
            for v in page.versions() {
                let Some(key) = v.key() else { continue };
                if repeated(key, v.version_id()) {
                    continue;
                }
                let listed = meta(key, v.size(), v.e_tag(), v.version_id(), v.last_modified())?;
                // Legal on S3, but no key sluice can take: set apart, to be accounted for.
                if let Err(e) = check_key(key) {
                    tracing::warn!(key, error = %e, "listed an object whose key sluice cannot take");
                    found.unacceptable.push(listed);
                } else if v.is_latest() == Some(true) {
                    found.objects.push(listed);
                } else {
                    found.noncurrent.push(listed);
                }
            }
            for m in page.delete_markers() {
                let (Some(key), Some(id)) = (m.key(), version(m.version_id())) else {
                    continue;
                };
                if repeated(key, m.version_id()) {
                    continue;
                }
                if check_key(key).is_ok() {
                    found.removals.push(DeleteMarker {
                        key: key.to_string(),
                        version_id: id,
                        last_modified: m.last_modified().map_or_else(now, rfc3339),
                        is_latest: m.is_latest() == Some(true),
                    });
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
            let Some(key) = key_marker.clone() else {
                return Err(StoreError::Corrupt {
                    key: prefix.to_string(),
                    message: "a truncated ListObjectVersions page has no next key marker".into(),
                });
            };
            if found.len() >= at_least {
                next = Some(ListingMark {
                    key,
                    version_id: version_marker.clone(),
                });
                break;
            }
        }
        sort_listing(&mut found);
        Ok((found, next))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        check_key(key)?;
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_error(key, e))?;
        Ok(())
    }
}

/// The configuration a request that sends a body runs under: no attempt deadline (see
/// [`crate::sdk::upload_timeouts`]).
fn uploading() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::default().timeout_config(crate::sdk::upload_timeouts())
}

/// The `MaxKeys` that asks for `missing` entries: at least one, at most what an `i32` holds
/// (S3 itself answers at most 1,000).
fn page_for(missing: usize) -> i32 {
    i32::try_from(missing.max(1)).unwrap_or(i32::MAX)
}

/// Puts a listing in the order [`Listing`] promises: by key, newest version first within a
/// key. S3 lists versions so already (keys in UTF-8 byte order, which is `str` order, and
/// each key's versions newest first); a stable sort by key keeps the promise whatever a
/// compatible store does with keys, and keeps each key's versions in the store's order,
/// which times of one-second precision could not always restore.
fn sort_listing(found: &mut Listing) {
    found.objects.sort_by(|a, b| a.key.cmp(&b.key));
    found.noncurrent.sort_by(|a, b| a.key.cmp(&b.key));
    found.unacceptable.sort_by(|a, b| a.key.cmp(&b.key));
    found.removals.sort_by(|a, b| a.key.cmp(&b.key));
}

/// Refuses a listing prefix the way the local store does: the part up to its last `/` must
/// be a valid key, and absolute or backslashed prefixes are refused outright.
fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.starts_with('/') || prefix.contains('\\') {
        check_key(prefix)?;
    }
    let dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
    if !dir.is_empty() {
        check_key(dir)?;
    }
    Ok(())
}

/// Metadata from the fields of a `HEAD`, `GET` or listing.
fn meta(
    key: &str,
    size: Option<i64>,
    etag: Option<&str>,
    version_id: Option<&str>,
    last_modified: Option<&DateTime>,
) -> Result<ObjectMeta, StoreError> {
    let corrupt = |message: &str| StoreError::Corrupt {
        key: key.to_string(),
        message: message.to_string(),
    };
    let etag = etag.ok_or_else(|| corrupt("the answer has no ETag"))?;
    let size = u64::try_from(size.unwrap_or(0)).map_err(|_| corrupt("negative size"))?;
    let last_modified = match last_modified {
        Some(at) => rfc3339(at),
        None => now(),
    };
    Ok(ObjectMeta {
        key: key.to_string(),
        size,
        etag: unquoted(etag).to_string(),
        version_id: version(version_id),
        last_modified,
    })
}

/// Metadata of an object this store just wrote (`size` bytes).
fn written(
    key: &str,
    size: u64,
    etag: Option<&str>,
    version_id: Option<&str>,
) -> Result<ObjectMeta, StoreError> {
    let etag = etag.ok_or_else(|| StoreError::Corrupt {
        key: key.to_string(),
        message: "the write was answered without an ETag".into(),
    })?;
    Ok(ObjectMeta {
        key: key.to_string(),
        size,
        etag: unquoted(etag).to_string(),
        version_id: version(version_id),
        last_modified: now(),
    })
}

/// A version id, or none for S3's `null` (an object written while versioning was off).
fn version(id: Option<&str>) -> Option<String> {
    id.filter(|id| !id.is_empty() && *id != "null")
        .map(str::to_string)
}

/// An etag without its surrounding quotes.
fn unquoted(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// An etag in quotes, as `If-Match` wants it.
fn quoted(etag: &str) -> String {
    format!("\"{}\"", unquoted(etag))
}

/// RFC 3339 in UTC, as the local store writes it.
fn rfc3339(at: &DateTime) -> String {
    // Formatting a time S3 sent cannot fail for any date S3 can send; epoch is the fallback.
    at.fmt(DateTimeFormat::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

fn now() -> String {
    rfc3339(&DateTime::from(SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_lose_their_quotes_and_regain_them_for_if_match() {
        assert_eq!(unquoted("\"abc\""), "abc");
        assert_eq!(unquoted("abc"), "abc");
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
    }

    #[test]
    fn the_null_version_is_no_version() {
        assert_eq!(version(Some("null")), None);
        assert_eq!(version(None), None);
        assert_eq!(version(Some("3HL4kqtJ")), Some("3HL4kqtJ".into()));
    }

    #[test]
    fn listing_prefixes_are_checked_like_keys() {
        assert!(check_prefix("").is_ok());
        assert!(check_prefix("orders").is_ok());
        assert!(check_prefix("orders/2026/").is_ok());
        assert!(check_prefix("../").is_err());
        assert!(check_prefix("/etc/").is_err());
        assert!(check_prefix("a\\b").is_err());
    }
}
