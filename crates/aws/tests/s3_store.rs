//! `S3Store` against an emulated S3 (ministack): every operation of the `ObjectStore` port,
//! the guarantees the ledger needs, and the ledger itself on S3.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use sluice_aws::emulator::Ministack;
use sluice_aws::s3::MIN_PART_SIZE;
use sluice_aws::S3Store;
use sluice_core::ledger::LedgerState;
use sluice_core::ObjectVersion;
use sluice_store::{Claim, Conditional, Ledger, LedgerError, ObjectStore, StoreError};
use tokio::io::AsyncReadExt;

/// A fresh bucket with a unique name in the shared emulator.
async fn bucket(versioned: bool) -> S3Store {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let name = format!(
        "store-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    ministack.create_bucket(&name, versioned).await.unwrap();
    S3Store::from_conf(&ministack.sdk_config().await, name)
}

async fn read_all(store: &S3Store, key: &str, version: Option<&str>) -> (Vec<u8>, String) {
    let mut got = store.get_version(key, version).await.unwrap();
    let mut body = Vec::new();
    got.body.read_to_end(&mut body).await.unwrap();
    (body, got.meta.etag)
}

/// `len` bytes that differ from part to part, written to a temporary file; with their
/// SHA-256.
fn big_file(len: usize) -> (tempfile::NamedTempFile, String) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let mut hash = Sha256::new();
    let mut written = 0;
    let mut line = 0u64;
    while written < len {
        let text = format!(
            "{{\"line\":{line},\"pad\":\"{}\"}}\n",
            "x".repeat(line as usize % 97)
        );
        let take = text.len().min(len - written);
        file.write_all(&text.as_bytes()[..take]).unwrap();
        hash.update(&text.as_bytes()[..take]);
        written += take;
        line += 1;
    }
    file.flush().unwrap();
    (file, hex::encode(hash.finalize()))
}

/// Reads a stream in small pieces, hashing as it goes, so it is never whole in memory here.
async fn hash_stream(
    mut body: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
) -> (u64, String) {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = body.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        total += n as u64;
    }
    (total, hex::encode(hash.finalize()))
}

#[tokio::test]
async fn put_head_get_and_delete_round_trip() {
    let store = bucket(false).await;
    let meta = store
        .put("orders/a.ndjson", Bytes::from_static(b"{\"id\":1}\n"))
        .await
        .unwrap();
    assert_eq!(meta.size, 9);
    assert!(
        !meta.etag.contains('"'),
        "etags are kept unquoted: {}",
        meta.etag
    );
    assert_eq!(
        meta.version_id, None,
        "an unversioned bucket has no version ids"
    );

    let head = store.head("orders/a.ndjson").await.unwrap().unwrap();
    assert_eq!((head.size, &head.etag), (9, &meta.etag));
    let (bytes, got) = store.get_bytes("orders/a.ndjson").await.unwrap().unwrap();
    assert_eq!(&bytes[..], b"{\"id\":1}\n");
    assert_eq!(got.etag, meta.etag);
    assert_eq!(
        read_all(&store, "orders/a.ndjson", None).await,
        (b"{\"id\":1}\n".to_vec(), meta.etag.clone())
    );

    store.delete("orders/a.ndjson").await.unwrap();
    assert_eq!(store.head("orders/a.ndjson").await.unwrap(), None);
    assert!(store.get_bytes("orders/a.ndjson").await.unwrap().is_none());
    assert!(matches!(
        store.get("orders/a.ndjson").await,
        Err(StoreError::NotFound { .. })
    ));
    // Deleting an absent object succeeds, as in S3.
    store.delete("orders/a.ndjson").await.unwrap();
}

#[tokio::test]
async fn listing_pages_through_more_than_a_thousand_keys() {
    let store = bucket(false).await;
    let keys: Vec<String> = (0..1001).map(|i| format!("many/{i:05}.json")).collect();
    futures::stream::iter(keys.clone())
        .map(|key| {
            let store = store.clone();
            async move { store.put(&key, Bytes::from(key.clone())).await.unwrap() }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    store
        .put("other/x", Bytes::from_static(b"x"))
        .await
        .unwrap();
    store.put("manyx", Bytes::from_static(b"x")).await.unwrap();

    let listed = store.list("many/").await.unwrap();
    let listed_keys: Vec<&str> = listed.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(listed_keys, keys);
    assert!(listed.iter().all(|m| m.size == 15 && !m.etag.is_empty()));
    // A plain string prefix, as in S3, and a small page size gives the same answer.
    let small_pages = store.clone().with_list_page_size(7);
    assert_eq!(small_pages.list("many").await.unwrap().len(), 1002);
    assert_eq!(small_pages.list("").await.unwrap().len(), 1003);
    assert!(small_pages.list("none/").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_multi_megabyte_object_streams_back() {
    let store = bucket(false).await;
    let (file, sha) = big_file(9 * 1024 * 1024 + 17);
    let meta = store.put_file("big/one.ndjson", file.path()).await.unwrap();
    assert_eq!(meta.size, 9 * 1024 * 1024 + 17);
    assert!(
        !meta.etag.contains('-'),
        "one PUT below the part size: {}",
        meta.etag
    );
    let got = store.get("big/one.ndjson").await.unwrap();
    assert_eq!(got.meta.size, meta.size);
    assert_eq!(hash_stream(got.body).await, (meta.size, sha));
}

#[tokio::test]
async fn put_file_above_the_part_size_is_a_multipart_upload() {
    let store = bucket(false).await.with_part_size(MIN_PART_SIZE);
    let size = 2 * MIN_PART_SIZE as usize + 1234;
    let (file, sha) = big_file(size);
    let meta = store
        .put_file("big/parts.ndjson", file.path())
        .await
        .unwrap();
    assert_eq!(meta.size, size as u64);
    // S3 names a multipart object's etag after its part count.
    assert!(
        meta.etag.ends_with("-3"),
        "three parts expected: {}",
        meta.etag
    );
    let got = store.get("big/parts.ndjson").await.unwrap();
    assert_eq!(got.meta.etag, meta.etag);
    assert_eq!(hash_stream(got.body).await, (size as u64, sha));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creators_of_one_key_exactly_one_wins() {
    let store = bucket(false).await;
    let racers = 16;
    let barrier = Arc::new(tokio::sync::Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|i| {
            // A client each, as separate Lambdas would have.
            let store = S3Store::new(store.client().clone(), store.bucket());
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let body = Bytes::from(format!("creator {i}"));
                barrier.wait().await;
                let answer = store
                    .create_if_absent(".sluice/ledger/one.json", body.clone())
                    .await
                    .unwrap();
                (answer, body)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        if let (Conditional::Done(meta), body) = task.await.unwrap() {
            winners.push((meta, body));
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creator must win");
    let (meta, body) = &winners[0];
    let (stored, stored_meta) = store
        .get_bytes(".sluice/ledger/one.json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&stored, &stored_meta.etag), (body, &meta.etag));
    assert_eq!(
        store
            .create_if_absent(".sluice/ledger/one.json", Bytes::from_static(b"late"))
            .await
            .unwrap(),
        Conditional::PreconditionFailed
    );
}

#[tokio::test]
async fn put_if_match_swaps_only_the_etag_it_read() {
    let store = bucket(false).await;
    let first = store.put("c", Bytes::from_static(b"1")).await.unwrap();
    let second = match store
        .put_if_match("c", Bytes::from_static(b"2"), &first.etag)
        .await
        .unwrap()
    {
        Conditional::Done(meta) => meta,
        Conditional::PreconditionFailed => panic!("the current etag was refused"),
    };
    assert_ne!(second.etag, first.etag);
    let stale = store
        .put_if_match("c", Bytes::from_static(b"3"), &first.etag)
        .await
        .unwrap();
    assert_eq!(stale, Conditional::PreconditionFailed);
    assert_eq!(
        store.get_bytes("c").await.unwrap().unwrap().0,
        Bytes::from_static(b"2")
    );
    let absent = store
        .put_if_match("absent", Bytes::from_static(b"x"), &first.etag)
        .await
        .unwrap();
    assert_eq!(absent, Conditional::PreconditionFailed);
    assert_eq!(store.head("absent").await.unwrap(), None);
}

#[tokio::test]
async fn an_older_version_reads_as_it_was_on_a_versioned_bucket() {
    let store = bucket(true).await;
    let v1 = store
        .put("orders/a.ndjson", Bytes::from_static(b"first\n"))
        .await
        .unwrap();
    let v2 = store
        .put("orders/a.ndjson", Bytes::from_static(b"second\n"))
        .await
        .unwrap();
    let (id1, id2) = (
        v1.version_id.clone().unwrap(),
        v2.version_id.clone().unwrap(),
    );
    assert_ne!(id1, id2);

    let current = store.head("orders/a.ndjson").await.unwrap().unwrap();
    assert_eq!(current.version_id.as_deref(), Some(id2.as_str()));
    let old = store
        .head_version("orders/a.ndjson", Some(&id1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((old.etag.as_str(), old.size), (v1.etag.as_str(), 6));
    assert_eq!(old.version_id.as_deref(), Some(id1.as_str()));

    let got = store
        .get_version("orders/a.ndjson", Some(&id1))
        .await
        .unwrap();
    assert_eq!(got.meta.version_id.as_deref(), Some(id1.as_str()));
    assert_eq!(
        read_all(&store, "orders/a.ndjson", Some(&id1)).await,
        (b"first\n".to_vec(), v1.etag.clone())
    );
    assert_eq!(
        read_all(&store, "orders/a.ndjson", None).await,
        (b"second\n".to_vec(), v2.etag.clone())
    );
    // The version an event named stays readable after the key is deleted.
    store.delete("orders/a.ndjson").await.unwrap();
    assert_eq!(store.head("orders/a.ndjson").await.unwrap(), None);
    assert_eq!(
        read_all(&store, "orders/a.ndjson", Some(&id1)).await.0,
        b"first\n"
    );
}

#[tokio::test]
async fn hostile_keys_are_refused_before_any_request() {
    // Nothing listens on port 9 of loopback: a request would fail as a service error.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url("http://127.0.0.1:9")
        .load()
        .await;
    let unreachable = S3Store::from_conf(&sdk, "nowhere");
    let reachable = bucket(false).await;
    for store in [&unreachable, &reachable] {
        for key in ["../outside", "/etc/passwd", "a//b", "", "a/./b", "a\\..\\b"] {
            let refused = |r: Result<(), StoreError>| matches!(r, Err(StoreError::BadKey(_)));
            let body = Bytes::from_static(b"x");
            assert!(
                refused(store.put(key, body.clone()).await.map(drop)),
                "put {key:?}"
            );
            assert!(
                refused(store.create_if_absent(key, body.clone()).await.map(drop)),
                "create {key:?}"
            );
            assert!(
                refused(store.put_if_match(key, body, "e").await.map(drop)),
                "cas {key:?}"
            );
            assert!(refused(store.head(key).await.map(drop)), "head {key:?}");
            assert!(refused(store.get(key).await.map(drop)), "get {key:?}");
            assert!(
                refused(store.get_version(key, Some("v")).await.map(drop)),
                "get_version {key:?}"
            );
            assert!(
                refused(store.get_bytes(key).await.map(drop)),
                "get_bytes {key:?}"
            );
            assert!(refused(store.delete(key).await), "delete {key:?}");
            assert!(
                refused(
                    store
                        .put_file(key, std::path::Path::new("/dev/null"))
                        .await
                        .map(drop)
                ),
                "put_file {key:?}"
            );
        }
        assert!(matches!(
            store.list("../").await,
            Err(StoreError::BadKey(_))
        ));
        assert!(matches!(
            store.list("/etc/").await,
            Err(StoreError::BadKey(_))
        ));
    }
    assert!(
        reachable.list("").await.unwrap().is_empty(),
        "nothing was written"
    );
    // The unreachable store does fail a good key, and says it may pass.
    let err = unreachable.head("orders/a.ndjson").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Service { .. }) && err.is_transient(),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_bucket_is_not_transient() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let store = S3Store::from_conf(&ministack.sdk_config().await, "no-such-bucket");
    let err = store.put("k", Bytes::from_static(b"x")).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Service { code, .. } if code == "NoSuchBucket"),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

fn object(bucket: &str, key: &str, etag: &str) -> ObjectVersion {
    ObjectVersion {
        bucket: bucket.into(),
        key: key.into(),
        version_id: None,
        etag: etag.into(),
        size: 10,
        sequencer: None,
        last_modified: "2026-01-01T00:00:00Z".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_runs_on_s3() {
    let store = bucket(false).await;
    let ledger = Ledger::new(Arc::new(store.clone()));
    let object = object(store.bucket(), "orders/a.ndjson", "e1");

    // Racing arrivals of one version: one owner.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (ledger, object) = (ledger.clone(), object.clone());
            tokio::spawn(
                async move { ledger.claim(&object, "2026-01-01T00:00:00Z").await.unwrap() },
            )
        })
        .collect();
    let mut owners = Vec::new();
    for task in tasks {
        if let Claim::New(record) = task.await.unwrap() {
            owners.push(record);
        }
    }
    assert_eq!(owners.len(), 1, "exactly one claim must be new");
    let claimed = owners.remove(0);
    match ledger.claim(&object, "2026-01-01T00:01:00Z").await.unwrap() {
        Claim::Existing(existing) => assert_eq!(existing, claimed),
        Claim::New(_) => panic!("a duplicate arrival claimed the version again"),
    }

    // A transition is a compare-and-swap on the etag it read.
    let staged = ledger
        .transition(&claimed, "2026-01-01T00:02:00Z", |r| {
            r.state = LedgerState::Staged {
                manifest_key: ".sluice/staged/m.json".into(),
            }
        })
        .await
        .unwrap();
    assert_ne!(staged.etag, claimed.etag);
    let lost = ledger
        .transition(&claimed, "2026-01-01T00:03:00Z", |r| {
            r.state = LedgerState::Filtered {
                reason: "stale".into(),
            }
        })
        .await;
    assert!(
        matches!(lost, Err(LedgerError::Conflict { .. })),
        "{lost:?}"
    );
    let committed = ledger
        .transition(&staged, "2026-01-01T00:04:00Z", |r| {
            r.state = LedgerState::Committed { snapshot_id: 7 }
        })
        .await
        .unwrap();
    assert_eq!(ledger.get(&object).await.unwrap(), Some(committed));
}

/// The version id of a `PUT` of `body` at `key`.
async fn put_version(store: &S3Store, key: &str, body: &'static [u8]) -> String {
    let meta = store.put(key, Bytes::from_static(body)).await.unwrap();
    meta.version_id
        .expect("a versioned bucket names the version")
}

/// `DELETE` of `key` without a version id: the delete marker's version id.
async fn delete_marker(store: &S3Store, key: &str) -> String {
    let out = store
        .client()
        .delete_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(out.delete_marker, Some(true));
    out.version_id.expect("the marker's version id")
}

// See: the issue "`S3Store::list` uses ListObjectsV2, which has no version ids".
#[tokio::test]
async fn a_listing_names_every_version_and_delete_marker_page_by_page() {
    // Two keys a page: every page boundary falls inside some key's versions.
    let store = bucket(true).await.with_list_page_size(2);
    let a1 = put_version(&store, "v/a.ndjson", b"a1").await;
    let a2 = put_version(&store, "v/a.ndjson", b"a2-").await;
    let b1 = put_version(&store, "v/b.ndjson", b"b1").await;
    let b_gone = delete_marker(&store, "v/b.ndjson").await;
    let c1 = put_version(&store, "v/c.ndjson", b"c1").await;
    let c_gone = delete_marker(&store, "v/c.ndjson").await;
    let c2 = put_version(&store, "v/c.ndjson", b"c2").await;
    put_version(&store, "w/elsewhere.ndjson", b"w").await;

    let listing = store.listing("v/").await.unwrap();
    let ids = |metas: &[sluice_store::ObjectMeta]| -> Vec<(String, String)> {
        metas
            .iter()
            .map(|m| (m.key.clone(), m.version_id.clone().unwrap()))
            .collect()
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        ids(&listing.objects),
        [pair("v/a.ndjson", &a2), pair("v/c.ndjson", &c2)],
        "the current versions, with their ids"
    );
    assert_eq!(
        ids(&listing.noncurrent),
        [
            pair("v/a.ndjson", &a1),
            pair("v/b.ndjson", &b1),
            pair("v/c.ndjson", &c1)
        ],
        "overwritten and deleted versions, newest first within a key"
    );
    let markers: Vec<(String, String, bool)> = listing
        .removals
        .iter()
        .map(|m| (m.key.clone(), m.version_id.clone(), m.is_latest))
        .collect();
    assert_eq!(
        markers,
        [
            ("v/b.ndjson".to_string(), b_gone, true),
            ("v/c.ndjson".to_string(), c_gone, false)
        ]
    );
    assert!(listing.unacceptable.is_empty());
    // Each version's etag and size are its own, as a HEAD of that version says.
    for meta in listing.objects.iter().chain(&listing.noncurrent) {
        let head = store
            .head_version(&meta.key, meta.version_id.as_deref())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&head.etag, head.size), (&meta.etag, meta.size), "{meta:?}");
    }
    // `list` is the current objects only, and a page size of 1000 gives the same answer.
    let keys: Vec<String> = store
        .list("v/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    assert_eq!(keys, ["v/a.ndjson", "v/c.ndjson"]);
    assert_eq!(
        store
            .clone()
            .with_list_page_size(1000)
            .listing("v/")
            .await
            .unwrap(),
        listing
    );

    // In parts of three entries (a backfill's plan, a part per invocation), each resumed from
    // S3's own markers: every version and marker once, in the same order.
    let whole = store.clone().with_list_page_size(1000);
    let mut joined = sluice_store::Listing::default();
    let (mut from, mut parts) = (None, 0);
    loop {
        let (part, next) = whole.listing_part("v/", from.as_ref(), 3).await.unwrap();
        parts += 1;
        if next.is_some() {
            assert_eq!(
                part.len(),
                3,
                "a part that is not the last holds what was asked"
            );
        }
        joined.objects.extend(part.objects);
        joined.noncurrent.extend(part.noncurrent);
        joined.removals.extend(part.removals);
        joined.unacceptable.extend(part.unacceptable);
        match next {
            Some(mark) => from = Some(mark),
            None => break,
        }
        assert!(parts < 10, "the parts do not end");
    }
    assert_eq!(parts, 3, "7 entries in parts of 3");
    assert_eq!(joined, listing);
}

#[tokio::test]
async fn an_unversioned_bucket_lists_objects_without_version_ids() {
    let store = bucket(false).await.with_list_page_size(2);
    for key in ["u/1.ndjson", "u/2.ndjson", "u/3.ndjson"] {
        store.put(key, Bytes::from_static(b"x")).await.unwrap();
    }
    store
        .put("u/1.ndjson", Bytes::from_static(b"xy"))
        .await
        .unwrap();
    store.delete("u/2.ndjson").await.unwrap();
    let listing = store.listing("u/").await.unwrap();
    let found: Vec<(&str, Option<&str>, u64)> = listing
        .objects
        .iter()
        .map(|m| (m.key.as_str(), m.version_id.as_deref(), m.size))
        .collect();
    assert_eq!(found, [("u/1.ndjson", None, 2), ("u/3.ndjson", None, 1)]);
    assert!(listing.noncurrent.is_empty() && listing.removals.is_empty());
}
