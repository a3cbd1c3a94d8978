//! The overwrite commit against a real SQLite catalog and real Parquet files: what a reader
//! sees, what the manifests say, and what happens when another writer commits first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iceberg::spec::{ManifestStatus, Operation};
use iceberg::table::Table;
use serde_json::json;
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

use crate::tests::{lake, stage, table_config};
use crate::{Lake, LakeErrorKind, RowChange, StagedBatch, BATCH_IDS_PROPERTY};

/// One batch of `ids`, all on one day, so one data file.
async fn batch(lake: &Lake, cfg: &TableConfig, name: &str, ids: &[i64]) -> StagedBatch {
    let rows: Vec<_> = ids
        .iter()
        .map(|id| json!({"id": id, "at": "2026-01-01T10:00:00Z"}))
        .collect();
    let staged = stage(lake, cfg, name, &rows).await;
    assert_eq!(staged.paths.len(), 1);
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

async fn table(lake: &Lake, cfg: &TableConfig) -> Table {
    lake.load(cfg).await.unwrap().unwrap()
}

/// One manifest entry of the current snapshot, as read through its manifest list.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manifest: String,
    status: ManifestStatus,
    snapshot_id: Option<i64>,
    sequence_number: Option<i64>,
    file_sequence_number: Option<i64>,
}

async fn entries(table: &Table) -> BTreeMap<String, Entry> {
    let mut found = BTreeMap::new();
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return found;
    };
    let list = table.manifest_list_reader(snapshot).load().await.unwrap();
    for manifest_file in list.entries() {
        let manifest = manifest_file.load_manifest(table.file_io()).await.unwrap();
        for e in manifest.entries() {
            let previous = found.insert(
                e.file_path().to_string(),
                Entry {
                    manifest: manifest_file.manifest_path.clone(),
                    status: e.status(),
                    snapshot_id: e.snapshot_id(),
                    sequence_number: e.sequence_number(),
                    file_sequence_number: e.file_sequence_number,
                },
            );
            assert!(previous.is_none(), "{} listed twice", e.file_path());
        }
    }
    found
}

async fn live_files(table: &Table) -> BTreeSet<String> {
    entries(table)
        .await
        .into_iter()
        .filter(|(_, e)| e.status != ManifestStatus::Deleted)
        .map(|(path, _)| path)
        .collect()
}

fn summary(table: &Table) -> HashMap<String, String> {
    table
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties
        .clone()
}

#[tokio::test]
async fn overwrite_marks_removed_entries_deleted_keeps_the_rest_and_adds_the_new() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    // A and B in one snapshot (one manifest), E in a second.
    let a = batch(&lake, &cfg, "b-a", &[1, 2]).await;
    let b = batch(&lake, &cfg, "b-b", &[3]).await;
    let e = batch(&lake, &cfg, "b-e", &[4]).await;
    let c = batch(&lake, &cfg, "b-c", &[5, 6, 7]).await;
    let first = lake
        .commit_batches(&cfg, &[a.clone(), b.clone()])
        .await
        .unwrap();
    let second = lake
        .commit_batches(&cfg, std::slice::from_ref(&e))
        .await
        .unwrap();
    let (s1, s2) = (
        first.new_snapshot_id.unwrap(),
        second.new_snapshot_id.unwrap(),
    );
    let before = entries(&table(&lake, &cfg).await).await;

    let outcome = lake
        .overwrite(
            &cfg,
            &a.paths,
            std::slice::from_ref(&c),
            RowChange::Changed,
            HashMap::from([("sluice.lineage".to_string(), "test".to_string())]),
        )
        .await
        .unwrap();

    let s3 = outcome.new_snapshot_id.unwrap();
    assert_eq!(
        outcome.snapshots,
        BTreeMap::from([(c.batch_id.clone(), s3)])
    );
    assert_eq!(ids(&lake, &cfg).await, vec![3, 4, 5, 6, 7]);
    let t = table(&lake, &cfg).await;
    let snapshot = t.metadata().current_snapshot().unwrap();
    assert_eq!(snapshot.snapshot_id(), s3);
    assert_eq!(snapshot.parent_snapshot_id(), Some(s2));
    assert_eq!(snapshot.sequence_number(), 3);
    assert_eq!(snapshot.summary().operation, Operation::Overwrite);

    let after = entries(&t).await;
    let entry = |path: &str| after[path].clone();
    let (pa, pb, pe, pc) = (&a.paths[0], &b.paths[0], &e.paths[0], &c.paths[0]);
    assert_eq!(after.len(), 4, "{after:#?}");
    assert_eq!(
        (
            entry(pa).status,
            entry(pa).snapshot_id,
            entry(pa).sequence_number,
            entry(pa).file_sequence_number
        ),
        (ManifestStatus::Deleted, Some(s3), Some(1), Some(1))
    );
    assert_eq!(
        (
            entry(pb).status,
            entry(pb).snapshot_id,
            entry(pb).sequence_number,
            entry(pb).file_sequence_number
        ),
        (ManifestStatus::Existing, Some(s1), Some(1), Some(1))
    );
    assert_eq!(
        entry(pa).manifest,
        entry(pb).manifest,
        "one rewritten manifest"
    );
    assert_ne!(entry(pa).manifest, before[pa].manifest);
    assert_eq!(
        entry(pe),
        before[pe].clone(),
        "an untouched manifest is carried over as it is"
    );
    assert_eq!(
        (
            entry(pe).status,
            entry(pe).snapshot_id,
            entry(pe).sequence_number
        ),
        (ManifestStatus::Added, Some(s2), Some(2))
    );
    assert_eq!(
        (
            entry(pc).status,
            entry(pc).snapshot_id,
            entry(pc).sequence_number,
            entry(pc).file_sequence_number
        ),
        (ManifestStatus::Added, Some(s3), Some(3), Some(3))
    );

    let s = summary(&t);
    let size = |b: &StagedBatch| b.bytes.to_string();
    assert_eq!(s["added-data-files"], "1");
    assert_eq!(s["deleted-data-files"], "1");
    assert_eq!(s["added-records"], "3");
    assert_eq!(s["deleted-records"], "2");
    assert_eq!(s["added-files-size"], size(&c));
    assert_eq!(s["removed-files-size"], size(&a));
    assert_eq!(s["total-data-files"], "3");
    assert_eq!(s["total-records"], "5");
    assert_eq!(
        s["total-files-size"],
        (b.bytes + e.bytes + c.bytes).to_string()
    );
    assert_eq!(s[BATCH_IDS_PROPERTY], "b-c");
    assert_eq!(s["sluice.lineage"], "test");
    assert_eq!(
        crate::commit::committed_batches(&t).get(&c.batch_id),
        Some(&s3),
        "the group commit's batch check sees batches an overwrite committed"
    );
}

#[tokio::test]
async fn rewriting_files_with_the_same_rows_commits_a_replace() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let b = batch(&lake, &cfg, "b-b", &[2]).await;
    let compacted = batch(&lake, &cfg, "b-compacted", &[1, 2]).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&a))
        .await
        .unwrap();
    lake.commit_batches(&cfg, std::slice::from_ref(&b))
        .await
        .unwrap();
    let remove: Vec<String> = a.paths.iter().chain(&b.paths).cloned().collect();
    lake.overwrite(
        &cfg,
        &remove,
        &[compacted],
        RowChange::Unchanged,
        HashMap::new(),
    )
    .await
    .unwrap();
    let t = table(&lake, &cfg).await;
    assert_eq!(
        t.metadata().current_snapshot().unwrap().summary().operation,
        Operation::Replace
    );
    let s = summary(&t);
    assert_eq!(
        (
            s["deleted-data-files"].as_str(),
            s["added-data-files"].as_str()
        ),
        ("2", "1")
    );
    assert_eq!(s["total-data-files"], "1");
    assert_eq!(s["total-records"], "2");
    assert_eq!(ids(&lake, &cfg).await, vec![1, 2]);
}

/// Another writer appends D after the overwrite loaded its base: the overwrite loses the
/// race, rebases on the new snapshot, and D stays.
#[tokio::test]
async fn a_file_appended_concurrently_survives_the_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let other = crate::tests::lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let b = batch(&lake, &cfg, "b-b", &[2]).await;
    let c = batch(&lake, &cfg, "b-c", &[3]).await;
    let d = batch(&lake, &cfg, "b-d", &[4]).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&a))
        .await
        .unwrap();
    lake.commit_batches(&cfg, std::slice::from_ref(&b))
        .await
        .unwrap();
    let base = table(&lake, &cfg).await;

    other
        .commit_batches(&cfg, std::slice::from_ref(&d))
        .await
        .unwrap();
    let outcome = lake
        .overwrite_on(
            &cfg,
            &base,
            &a.paths,
            std::slice::from_ref(&c),
            RowChange::Changed,
            HashMap::new(),
        )
        .await
        .unwrap();

    assert_eq!(outcome.rebases, 1);
    assert_eq!(ids(&lake, &cfg).await, vec![2, 3, 4]);
    let t = table(&lake, &cfg).await;
    assert_eq!(
        t.metadata().current_snapshot().unwrap().sequence_number(),
        4
    );
    assert_eq!(summary(&t)["total-data-files"], "3");
    assert_eq!(summary(&t)["total-records"], "3");
    let live = live_files(&t).await;
    assert_eq!(
        live,
        BTreeSet::from([b.paths[0].clone(), c.paths[0].clone(), d.paths[0].clone()])
    );
}

/// Another writer removes A after the overwrite loaded its base: removing A again would
/// resurrect nothing and double-count, so it is a conflict naming A, and nothing is committed.
#[tokio::test]
async fn a_file_removed_concurrently_is_a_conflict_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let other = crate::tests::lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let b = batch(&lake, &cfg, "b-b", &[2]).await;
    let c = batch(&lake, &cfg, "b-c", &[3]).await;
    let x = batch(&lake, &cfg, "b-x", &[9]).await;
    lake.commit_batches(&cfg, &[a.clone(), b.clone()])
        .await
        .unwrap();
    let base = table(&lake, &cfg).await;

    other
        .overwrite(&cfg, &a.paths, &[x], RowChange::Changed, HashMap::new())
        .await
        .unwrap();
    let snapshots = table(&lake, &cfg).await.metadata().snapshots().count();
    let err = lake
        .overwrite_on(
            &cfg,
            &base,
            &a.paths,
            std::slice::from_ref(&c),
            RowChange::Changed,
            HashMap::new(),
        )
        .await
        .unwrap_err();

    assert_eq!(err.kind, LakeErrorKind::CommitConflict, "{err}");
    assert!(err.to_string().contains(&a.paths[0]), "{err}");
    let t = table(&lake, &cfg).await;
    assert_eq!(t.metadata().snapshots().count(), snapshots);
    assert!(!crate::commit::committed_batches(&t).contains_key(&c.batch_id));
    assert_eq!(ids(&lake, &cfg).await, vec![2, 9]);
}

#[tokio::test]
async fn removing_a_file_that_is_not_live_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let b = batch(&lake, &cfg, "b-b", &[2]).await;
    let c = batch(&lake, &cfg, "b-c", &[3]).await;
    let x = batch(&lake, &cfg, "b-x", &[9]).await;
    lake.commit_batches(&cfg, &[a.clone(), b.clone()])
        .await
        .unwrap();
    let nowhere = format!("{}/never-written.parquet", dir.path().display());
    lake.overwrite(&cfg, &a.paths, &[x], RowChange::Changed, HashMap::new())
        .await
        .unwrap();
    let snapshots = table(&lake, &cfg).await.metadata().snapshots().count();
    let metadata_dir = format!("{}/metadata", lake.location(&cfg));
    let metadata_files = || {
        let mut names: Vec<_> = std::fs::read_dir(&metadata_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = metadata_files();

    // Never in the table, and removed by an earlier snapshot: both are refused by name,
    // also beside a live file whose manifest had been rewritten by then.
    for gone in [nowhere, a.paths[0].clone()] {
        let err = lake
            .overwrite(
                &cfg,
                &[b.paths[0].clone(), gone.clone()],
                std::slice::from_ref(&c),
                RowChange::Changed,
                HashMap::new(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, LakeErrorKind::Internal, "{err}");
        assert!(err.to_string().contains(&gone), "{err}");
    }
    assert_eq!(
        table(&lake, &cfg).await.metadata().snapshots().count(),
        snapshots
    );
    assert_eq!(
        metadata_files(),
        before,
        "a refused overwrite leaves no manifests behind"
    );
    assert_eq!(ids(&lake, &cfg).await, vec![2, 9]);
}

#[tokio::test]
async fn the_same_overwrite_run_twice_adds_one_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let c = batch(&lake, &cfg, "b-c", &[3]).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&a))
        .await
        .unwrap();
    let run = || {
        lake.overwrite(
            &cfg,
            &a.paths,
            std::slice::from_ref(&c),
            RowChange::Changed,
            HashMap::new(),
        )
    };
    let first = run().await.unwrap();
    let second = run().await.unwrap();
    assert_eq!(second.new_snapshot_id, None);
    assert_eq!(second.already_committed, vec![c.batch_id.clone()]);
    assert_eq!(second.snapshots, first.snapshots);
    assert_eq!(table(&lake, &cfg).await.metadata().snapshots().count(), 2);
    assert_eq!(ids(&lake, &cfg).await, vec![3]);
}

/// A removal that adds no rows records its batch id through a batch with no files, so it
/// is idempotent too, and is committed as Iceberg's `delete`.
#[tokio::test]
async fn a_removal_without_new_files_is_a_delete_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let a = batch(&lake, &cfg, "b-a", &[1]).await;
    let b = batch(&lake, &cfg, "b-b", &[2]).await;
    lake.commit_batches(&cfg, &[a.clone(), b.clone()])
        .await
        .unwrap();
    let marker = StagedBatch {
        batch_id: BatchId("b-delete".into()),
        data_files: vec![],
        paths: vec![],
        rows: 0,
        bytes: 0,
        ..a.clone()
    };
    for _ in 0..2 {
        lake.overwrite(
            &cfg,
            &a.paths,
            std::slice::from_ref(&marker),
            RowChange::Changed,
            HashMap::new(),
        )
        .await
        .unwrap();
    }
    let t = table(&lake, &cfg).await;
    assert_eq!(t.metadata().snapshots().count(), 2);
    assert_eq!(
        t.metadata().current_snapshot().unwrap().summary().operation,
        Operation::Delete
    );
    assert_eq!(summary(&t)["total-records"], "1");
    assert_eq!(ids(&lake, &cfg).await, vec![2]);
}

mod model {
    //! A random run of appends, overwrites and replaces against a model of the live files.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Append,
        /// Remove the live files whose index (in path order) the mask selects, add one.
        Overwrite {
            mask: u8,
            add: bool,
            same_rows: bool,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::Append),
            (any::<u8>(), any::<bool>(), any::<bool>()).prop_map(|(mask, add, same_rows)| {
                Step::Overwrite {
                    mask,
                    add,
                    same_rows,
                }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

        #[test]
        fn live_files_and_summary_totals_follow_the_model(steps in prop::collection::vec(step(), 1..7)) {
            tokio::runtime::Runtime::new().unwrap().block_on(run(steps));
        }
    }

    async fn run(steps: Vec<Step>) {
        let dir = tempfile::tempdir().unwrap();
        let lake = lake(&dir).await;
        let cfg = table_config(false);
        // path → rows of the file, for the files the model says are live
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        let mut next_id = 0i64;
        for (n, step) in steps.into_iter().enumerate() {
            next_id += 2;
            let fresh = batch(&lake, &cfg, &format!("b-{n}"), &[next_id, next_id + 1]).await;
            match step {
                Step::Append => {
                    lake.commit_batches(&cfg, std::slice::from_ref(&fresh))
                        .await
                        .unwrap();
                    model.insert(fresh.paths[0].clone(), 2);
                }
                Step::Overwrite {
                    mask,
                    add,
                    same_rows,
                } => {
                    let remove: Vec<String> = model
                        .keys()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << (i % 8)) != 0)
                        .map(|(_, p)| p.clone())
                        .collect();
                    let add_batches = if add { vec![fresh.clone()] } else { vec![] };
                    if remove.is_empty() && !add {
                        continue;
                    }
                    let rows = if same_rows {
                        RowChange::Unchanged
                    } else {
                        RowChange::Changed
                    };
                    lake.overwrite(&cfg, &remove, &add_batches, rows, HashMap::new())
                        .await
                        .unwrap();
                    for p in &remove {
                        model.remove(p);
                    }
                    if add {
                        model.insert(fresh.paths[0].clone(), 2);
                    }
                }
            }
            let t = table(&lake, &cfg).await;
            let live = live_files(&t).await;
            assert_eq!(live, model.keys().cloned().collect::<BTreeSet<_>>());
            let s = summary(&t);
            assert_eq!(s["total-data-files"], model.len().to_string());
            assert_eq!(s["total-records"], model.values().sum::<u64>().to_string());
            assert_eq!(
                t.metadata().current_snapshot().unwrap().sequence_number(),
                t.metadata().snapshots().count() as i64
            );
        }
        assert_eq!(
            lake.scan_json(&cfg).await.unwrap().len() as u64,
            model.values().sum::<u64>()
        );
    }
}

#[tokio::test]
async fn a_format_v1_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(false);
    let ident = Lake::ident(&cfg).unwrap();
    lake.catalog()
        .create_namespace(ident.namespace(), HashMap::new())
        .await
        .unwrap();
    let creation = iceberg::TableCreation::builder()
        .name(cfg.name.clone())
        .location(lake.location(&cfg))
        .schema(crate::schema::to_iceberg_schema(&crate::tests::schema()).unwrap())
        .format_version(iceberg::spec::FormatVersion::V1)
        .build();
    lake.catalog()
        .create_table(ident.namespace(), creation)
        .await
        .unwrap();
    let c = batch(&lake, &cfg, "b-c", &[3]).await;
    let err = lake
        .overwrite(&cfg, &[], &[c], RowChange::Changed, HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, LakeErrorKind::Internal, "{err}");
    assert!(err.to_string().contains("format v2"), "{err}");
    assert_eq!(table(&lake, &cfg).await.metadata().snapshots().count(), 0);
}

#[tokio::test]
async fn the_summary_counts_the_partitions_an_overwrite_changed() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let cfg = table_config(true);
    let day = |id: i64, d: u32| json!({"id": id, "at": format!("2026-01-0{d}T10:00:00Z")});
    let a = stage(&lake, &cfg, "b-a", &[day(1, 1), day(2, 2)]).await;
    let c = stage(&lake, &cfg, "b-c", &[day(3, 3)]).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&a))
        .await
        .unwrap();
    lake.overwrite(&cfg, &a.paths, &[c], RowChange::Changed, HashMap::new())
        .await
        .unwrap();
    let s = summary(&table(&lake, &cfg).await);
    assert_eq!(s["changed-partition-count"], "3", "{s:?}");
    assert_eq!(s["deleted-data-files"], "2");
    assert_eq!(ids(&lake, &cfg).await, vec![3]);
}

/// Appends and overwrites racing for real: every append lands (retried once after a
/// conflict, as the state machine would), every overwrite lands (rebasing when it lost), and
/// the table ends with exactly the rows the model says.
#[tokio::test]
async fn racing_appends_and_overwrites_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lake = lake(&dir).await;
    let other = crate::tests::lake(&dir).await;
    let cfg = table_config(false);
    let first = batch(&lake, &cfg, "b-first", &[0]).await;
    lake.commit_batches(&cfg, std::slice::from_ref(&first))
        .await
        .unwrap();
    let mut expected = vec![];
    let mut previous = first;
    for round in 1..=5i64 {
        let appended = batch(&lake, &cfg, &format!("b-append-{round}"), &[round * 10]).await;
        let replacement = batch(
            &lake,
            &cfg,
            &format!("b-replace-{round}"),
            &[round * 10 + 1],
        )
        .await;
        let (append, overwrite) = tokio::join!(
            other.commit_batches(&cfg, std::slice::from_ref(&appended)),
            lake.overwrite(
                &cfg,
                &previous.paths,
                std::slice::from_ref(&replacement),
                RowChange::Changed,
                HashMap::new()
            ),
        );
        overwrite.unwrap();
        if let Err(e) = append {
            assert_eq!(e.kind, LakeErrorKind::CommitConflict, "{e}");
            other
                .commit_batches(&cfg, std::slice::from_ref(&appended))
                .await
                .unwrap();
        }
        expected.push(round * 10);
        previous = replacement;
    }
    expected.push(51);
    expected.sort();
    assert_eq!(ids(&lake, &cfg).await, expected);
    let t = table(&lake, &cfg).await;
    assert_eq!(summary(&t)["total-data-files"], expected.len().to_string());
}
