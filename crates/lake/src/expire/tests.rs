//! Expiry against a real SQLite catalog and real Parquet files.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

use super::{candidates, ExpiryPolicy};
use crate::files::{canonical_path, referenced_files};
use crate::tests::{lake, stage, table_config};
use crate::{Lake, RowChange, StagedBatch};

async fn append(lake: &Lake, cfg: &TableConfig, name: &str, id: i64) -> StagedBatch {
    let staged = stage(
        lake,
        cfg,
        name,
        &[json!({"id": id, "at": "2026-01-01T10:00:00Z"})],
    )
    .await;
    lake.commit_batches(cfg, std::slice::from_ref(&staged))
        .await
        .unwrap();
    staged
}

async fn ids(lake: &Lake, cfg: &TableConfig) -> Vec<i64> {
    let mut ids: Vec<i64> = lake
        .scan_json(cfg)
        .await
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids
}

fn all_ages(retain_last: usize) -> ExpiryPolicy {
    ExpiryPolicy {
        older_than: Duration::ZERO,
        retain_last,
    }
}

/// Far enough in the future that every snapshot of the test is older than any cutoff.
const LATER: i64 = i64::MAX / 2;

#[tokio::test]
async fn the_newest_snapshots_stay_and_the_older_ones_leave_with_their_metadata_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    for (i, name) in ["b-1", "b-2", "b-3", "b-4", "b-5"].iter().enumerate() {
        append(&lake, &cfg, name, i as i64).await;
    }
    let table = lake.load(&cfg).await.unwrap().unwrap();
    let picked = candidates(&table, all_ages(2), LATER);
    let batches: Vec<&str> = picked
        .iter()
        .flat_map(|c| c.batch_ids.iter().map(BatchId::as_str))
        .collect();
    assert_eq!(
        batches,
        ["b-1", "b-2", "b-3"],
        "oldest first, newest two kept"
    );
    assert!(picked.iter().all(|c| c.operation == "append"));
    // Nothing is old enough under a real age.
    let week = ExpiryPolicy {
        older_than: Duration::from_secs(7 * 86_400),
        retain_last: 1,
    };
    assert!(lake.expiry_candidates(&cfg, week).await.unwrap().is_empty());

    let old_lists: Vec<String> = picked
        .iter()
        .map(|c| {
            let s = table.metadata().snapshot_by_id(c.snapshot_id).unwrap();
            canonical_path(s.manifest_list())
        })
        .collect();
    let expired: Vec<i64> = picked.iter().map(|c| c.snapshot_id).collect();
    let outcome = lake.expire_snapshots(&cfg, &expired).await.unwrap();
    assert_eq!(outcome.snapshots, expired);
    assert_eq!(outcome.metadata_files_left, 0);
    // Three manifest lists; each append's manifest is still read by the newer snapshots.
    assert_eq!(outcome.metadata_files_deleted, 3, "{outcome:?}");
    for list in &old_lists {
        assert!(
            !std::path::Path::new(list).exists(),
            "{list} is still there"
        );
    }
    let after = lake.load(&cfg).await.unwrap().unwrap();
    assert_eq!(after.metadata().snapshots().count(), 2);
    assert_eq!(
        ids(&lake, &cfg).await,
        [0, 1, 2, 3, 4],
        "appended rows stay"
    );
    // A re-run finds nothing left to do.
    let again = lake.expire_snapshots(&cfg, &expired).await.unwrap();
    assert!(again.snapshots.is_empty() && again.metadata_files_deleted == 0);
}

#[tokio::test]
async fn files_an_overwrite_removed_are_unreferenced_once_the_older_snapshots_expire() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let first = append(&lake, &cfg, "b-first", 1).await;
    let second = append(&lake, &cfg, "b-second", 2).await;
    let replacement = stage(
        &lake,
        &cfg,
        "b-third",
        &[json!({"id": 3, "at": "2026-01-01T10:00:00Z"})],
    )
    .await;
    lake.overwrite(
        &cfg,
        &first.paths,
        std::slice::from_ref(&replacement),
        RowChange::Changed,
        HashMap::new(),
    )
    .await
    .unwrap();
    let gone = canonical_path(&first.paths[0]);
    let table = lake.load(&cfg).await.unwrap().unwrap();
    assert!(referenced_files(&table).await.unwrap().contains(&gone));

    let picked = candidates(&table, all_ages(1), LATER);
    assert_eq!(picked.len(), 2, "both appends; the overwrite is current");
    let ids_to_expire: Vec<i64> = picked.iter().map(|c| c.snapshot_id).collect();
    lake.expire_snapshots(&cfg, &ids_to_expire).await.unwrap();

    let table = lake.load(&cfg).await.unwrap().unwrap();
    let referenced = referenced_files(&table).await.unwrap();
    assert!(!referenced.contains(&gone), "{gone} is still referenced");
    assert!(referenced.contains(&canonical_path(&second.paths[0])));
    assert!(referenced.contains(&canonical_path(&replacement.paths[0])));
    assert_eq!(ids(&lake, &cfg).await, [2, 3]);
}

#[tokio::test]
async fn the_current_snapshot_never_expires() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    append(&lake, &cfg, "b-only", 1).await;
    let table = lake.load(&cfg).await.unwrap().unwrap();
    assert!(candidates(&table, all_ages(1), LATER).is_empty());
    let current = table.metadata().current_snapshot_id().unwrap();
    let e = lake.expire_snapshots(&cfg, &[current]).await.unwrap_err();
    assert!(e.message.contains("current snapshot"), "{e}");
    assert_eq!(ids(&lake, &cfg).await, [1]);
}
