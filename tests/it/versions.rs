//! Versions of one key: events ordered by the S3 sequencer, removals recorded, and the
//! table's policy for a new version of a key already loaded.

use sluice_core::ledger::LedgerState;
use sluice_local::Outcome;
use sluice_steps::payload::{Arrival, ArrivalEvent};
use sluice_tests::{ndjson, order, Harness};

/// Puts `ids` as the object `key` and returns its arrival with `sequencer`.
async fn put(
    h: &Harness,
    key: &str,
    ids: std::ops::RangeInclusive<u64>,
    seq: Option<&str>,
) -> Arrival {
    let meta = h
        .ctx
        .store
        .put(key, ndjson(ids.map(order)).into_bytes().into())
        .await
        .unwrap();
    Arrival {
        sequencer: seq.map(str::to_string),
        ..h.arrival(key, &meta.etag)
    }
}

async fn filtered_reason(h: &Harness, arrival: &Arrival) -> String {
    let meta = h.ctx.store.head(&arrival.key).await.unwrap().unwrap();
    let record = h
        .ctx
        .ledger
        .get(&meta.to_version("landing"))
        .await
        .unwrap()
        .unwrap();
    match record.record.state {
        LedgerState::Filtered { reason } => reason.to_string(),
        other => panic!("expected filtered, got {other:?}"),
    }
}

#[tokio::test]
async fn an_older_event_after_a_newer_one_is_filtered_as_superseded() {
    let h = Harness::orders().await;
    let newer = put(&h, "orders/k.ndjson", 1..=3, Some("0F")).await;
    let r = h.local.ingest(&newer).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");

    // An event whose sequencer is older than one already seen for the key.
    let older = put(&h, "orders/k.ndjson", 4..=6, Some("0000A")).await;
    let r = h.local.ingest(&older).await.unwrap();
    assert_eq!(r.outcome, Outcome::Filtered, "{r:?}");
    assert!(
        r.detail
            .as_deref()
            .unwrap()
            .contains("later sequencer (0F)"),
        "{r:?}"
    );
    assert_eq!(filtered_reason(&h, &older).await, "superseded");
    assert_eq!(h.rows().await.len(), 3);

    // A newer one goes through: the default policy appends its rows.
    let newest = put(&h, "orders/k.ndjson", 7..=8, Some("10")).await;
    let r = h.local.ingest(&newest).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(h.rows().await.len(), 5);
}

#[tokio::test]
async fn a_removal_is_recorded_and_supersedes_older_creations() {
    let h = Harness::orders().await;
    let created = put(&h, "orders/r.ndjson", 1..=2, Some("20")).await;
    let removed = Arrival {
        event: ArrivalEvent::Removed,
        sequencer: Some("21".into()),
        ..created.clone()
    };
    // The removal's event arrives first; the creation's, delayed, after it.
    let r = h.local.ingest(&removed).await.unwrap();
    assert_eq!(r.outcome, Outcome::Filtered, "{r:?}");
    assert!(r.detail.as_deref().unwrap().contains("removal"), "{r:?}");
    let head = h
        .ctx
        .ledger
        .head("landing", "orders/r.ndjson")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.removals.len(), 1);
    assert_eq!(head.sequencer.as_deref(), Some("21"));

    let r = h.local.ingest(&created).await.unwrap();
    assert_eq!(r.outcome, Outcome::Filtered, "{r:?}");
    assert_eq!(filtered_reason(&h, &created).await, "superseded");
    assert!(h.rows().await.is_empty());
}

fn orders_with_policy(policy: &str) -> String {
    let text = std::fs::read_to_string(sluice_tests::orders_example().join("sluice.toml")).unwrap();
    text.replace(
        "max_invalid_ratio = 0.2",
        &format!("max_invalid_ratio = 0.2\nnew_version = \"{policy}\""),
    )
}

#[tokio::test]
async fn ignore_keeps_the_first_loaded_version_and_append_loads_each() {
    let ignore = Harness::with_config_text(&orders_with_policy("ignore")).await;
    let append = Harness::with_config_text(&orders_with_policy("append")).await;
    for h in [&ignore, &append] {
        let first = put(h, "orders/v.ndjson", 1..=2, None).await;
        h.local.ingest(&first).await.unwrap();
        let second = put(h, "orders/v.ndjson", 3..=5, None).await;
        let r = h.local.ingest(&second).await.unwrap();
        if std::ptr::eq(h, &ignore) {
            assert_eq!(r.outcome, Outcome::Filtered, "{r:?}");
            assert_eq!(filtered_reason(h, &second).await, "new_version_ignored");
            assert_eq!(h.rows().await.len(), 2);
        } else {
            assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
            assert_eq!(h.rows().await.len(), 5);
        }
    }
}

#[tokio::test]
async fn under_ignore_a_version_replaces_a_first_one_that_was_quarantined() {
    let h = Harness::with_config_text(&orders_with_policy("ignore")).await;
    let meta = h
        .ctx
        .store
        .put("orders/q.ndjson", b"{not json\n{nor this\n".to_vec().into())
        .await
        .unwrap();
    let bad = h
        .local
        .ingest(&h.arrival("orders/q.ndjson", &meta.etag))
        .await
        .unwrap();
    assert!(
        matches!(bad.outcome, Outcome::Quarantined { .. }),
        "{bad:?}"
    );
    let good = put(&h, "orders/q.ndjson", 1..=3, None).await;
    let r = h.local.ingest(&good).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(h.rows().await.len(), 3);
}

/// An object removed while its execution runs, between the filter's claim and the reading
/// (on a store without versions the bytes are gone with it): the version ends in exactly one
/// terminal state, filtered `removed`, and the key's head records the removal. Before, the
/// read failed as an internal error and the claim stayed unfinished for good.
#[tokio::test]
async fn an_object_removed_while_its_execution_runs_ends_in_one_terminal_state() {
    use sluice_steps::payload::{FilterInput, FilterOutput, ObjectTask, Origin, ValidateOutput};

    let h = Harness::orders().await;
    let arrival = put(&h, "orders/brief.ndjson", 1..=3, Some("30")).await;
    let accepted = sluice_steps::filter::filter(
        &h.ctx,
        FilterInput {
            arrival: arrival.clone(),
            execution: Some("ex-created".into()),
        },
    )
    .await
    .unwrap();
    let FilterOutput::Accepted { object, table, .. } = accepted else {
        panic!("accepted: {accepted:?}");
    };

    // The object is deleted and its Object Deleted event runs, while the first execution
    // is between Filter and DetectDrift.
    h.ctx.store.delete(&arrival.key).await.unwrap();
    let removal = Arrival {
        event: ArrivalEvent::Removed,
        sequencer: Some("31".into()),
        ..arrival.clone()
    };
    let r = h.local.ingest(&removal).await.unwrap();
    assert_eq!(r.outcome, Outcome::Filtered, "{r:?}");

    // The first execution goes on.
    let task = ObjectTask {
        object: object.clone(),
        table,
        status: Some(Origin::Accepted),
    };
    sluice_steps::drift::detect_drift(&h.ctx, task.clone())
        .await
        .unwrap();
    let validated = sluice_steps::validate::validate(&h.ctx, task)
        .await
        .unwrap();
    assert!(
        matches!(validated, ValidateOutput::Filtered { .. }),
        "{validated:?}"
    );

    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap().record;
    match &record.state {
        LedgerState::Filtered { reason } => assert_eq!(reason.to_string(), "removed"),
        other => panic!("expected filtered, got {other:?}"),
    }
    let records: Vec<_> = h
        .ctx
        .ledger
        .list()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.object.key == arrival.key)
        .collect();
    assert_eq!(records.len(), 1, "one record of the version: {records:?}");
    let head = h
        .ctx
        .ledger
        .head("landing", &arrival.key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.removals.len(), 1, "{head:?}");
    assert!(h.rows().await.is_empty());
}

/// The ids of the table's rows, sorted.
async fn ids(h: &Harness) -> Vec<u64> {
    let mut ids: Vec<u64> = h
        .rows()
        .await
        .iter()
        .map(|r| r["order_id"].as_u64().unwrap())
        .collect();
    ids.sort();
    ids
}

/// The ledger state of the version an arrival made by [`put`] named.
async fn state_of(h: &Harness, arrival: &Arrival) -> LedgerState {
    h.ctx
        .ledger
        .get(&first_version(h, arrival).await)
        .await
        .unwrap()
        .unwrap()
        .record
        .state
}

/// The current snapshot's operation and summary properties.
async fn current_summary(h: &Harness) -> (String, std::collections::HashMap<String, String>) {
    let table = h
        .ctx
        .lake
        .load(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .unwrap();
    let s = table
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .clone();
    (s.operation.as_str().to_string(), s.additional_properties)
}

#[tokio::test]
async fn replace_leaves_only_the_newest_versions_rows_in_one_snapshot_each() {
    let h = Harness::with_config_text(&orders_with_policy("replace")).await;
    let other = put(&h, "orders/other.ndjson", 100..=101, None).await;
    h.local.ingest(&other).await.unwrap();
    let first = put(&h, "orders/v.ndjson", 1..=5, None).await;
    let r = h.local.ingest(&first).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(ids(&h).await, [1, 2, 3, 4, 5, 100, 101]);

    let second = put(&h, "orders/v.ndjson", 6..=8, None).await;
    let r = h.local.ingest(&second).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(
        r.detail.as_deref(),
        Some("replaced the rows of 1 earlier version of the key")
    );
    assert_eq!(
        ids(&h).await,
        [6, 7, 8, 100, 101],
        "the old rows left, the new came"
    );
    let (operation, summary) = current_summary(&h).await;
    assert_eq!(operation, "overwrite");
    let first_batch = first_version(&h, &first).await.batch_id();
    assert_eq!(
        summary[sluice_steps::commit::RETRACTED_PROPERTY],
        first_batch.as_str()
    );
    assert!(matches!(
        state_of(&h, &first).await,
        LedgerState::Retracted {
            cause: sluice_core::ledger::RetractCause::Replaced,
            ..
        }
    ));
    assert!(matches!(
        state_of(&h, &second).await,
        LedgerState::Committed { .. }
    ));
    assert_eq!(h.snapshots().await, 3);

    // And again: each new version takes out the one before it.
    let third = put(&h, "orders/v.ndjson", 9..=9, None).await;
    h.local.ingest(&third).await.unwrap();
    assert_eq!(ids(&h).await, [9, 100, 101]);
    let head = h
        .ctx
        .ledger
        .head("landing", "orders/v.ndjson")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head.live.len(), 1);
    assert_eq!(head.pending, None);

    // Another engine reads the same rows.
    let read = pyiceberg_ids(&h);
    assert_eq!(read, serde_json::json!([9, 100, 101]));
}

/// The object version the ledger knows for an arrival made by [`put`] (the local store
/// keeps one version per key, so a later `put` replaced its bytes).
async fn first_version(h: &Harness, arrival: &Arrival) -> sluice_core::ObjectVersion {
    let listing = h.ctx.ledger.list().await.unwrap();
    listing
        .into_iter()
        .find(|r| r.object.key == arrival.key && Some(&r.object.etag) == arrival.etag.as_ref())
        .unwrap()
        .object
}

/// A version staged before a newer one of its key was loaded, committed after it: its rows
/// never enter, and the newer version's stay.
#[tokio::test]
async fn under_replace_an_older_version_committed_late_stays_out() {
    let h = Harness::with_config_text(&orders_with_policy("replace")).await;
    let key = "orders/late.ndjson";
    let older = put(&h, key, 1..=4, None).await;
    // The older version's execution stops once staged, before its commit.
    sluice_steps::failpoint::inject("validate.after_staged", key);
    let stopped = h.local.ingest_as(&older, "older-1".into()).await.unwrap();
    assert!(
        matches!(stopped.outcome, Outcome::Failed { .. }),
        "{stopped:?}"
    );

    let newer = put(&h, key, 5..=6, None).await;
    let r = h.local.ingest(&newer).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(ids(&h).await, [5, 6]);

    let redriven = h.local.redrive("older-1").await.unwrap();
    assert!(
        matches!(redriven.outcome, Outcome::Superseded { .. }),
        "{redriven:?}"
    );
    assert_eq!(ids(&h).await, [5, 6], "the older version's rows stay out");
    let state = state_of(&h, &older).await;
    assert!(matches!(state, LedgerState::Retracted { .. }), "{state:?}");
}

/// A commit killed between the catalog commit and its ledger and head updates: the redrive
/// (or the next commit of the key, whichever comes first) settles the change, and no row is
/// there twice or missing.
#[tokio::test]
async fn a_replace_killed_after_the_catalog_commit_converges() {
    let h = Harness::with_config_text(&orders_with_policy("replace")).await;
    let key = "orders/crash.ndjson";
    let first = put(&h, key, 1..=3, None).await;
    h.local.ingest(&first).await.unwrap();
    let second = put(&h, key, 4..=7, None).await;
    sluice_steps::failpoint::inject("commit.after_catalog", key);
    let crashed = h.local.ingest_as(&second, "second-1".into()).await.unwrap();
    assert!(
        matches!(crashed.outcome, Outcome::Failed { .. }),
        "{crashed:?}"
    );
    assert_eq!(ids(&h).await, [4, 5, 6, 7], "the snapshot landed");

    // A third version arrives before the redrive: it settles the second's change first.
    let third = put(&h, key, 8..=8, None).await;
    let r = h.local.ingest(&third).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(ids(&h).await, [8]);

    let redriven = h.local.redrive("second-1").await.unwrap();
    assert!(
        matches!(redriven.outcome, Outcome::Superseded { .. }),
        "committed, then replaced by the third: {redriven:?}"
    );
    assert_eq!(ids(&h).await, [8]);
    for arrival in [&first, &second] {
        let state = state_of(&h, arrival).await;
        assert!(matches!(state, LedgerState::Retracted { .. }), "{state:?}");
    }
}

/// Two versions of one key committed at the same moment by two processes (each its own
/// context, flow and commit turn, as two Lambdas): whichever wins the key's head, the table
/// ends with the newer version's rows only, and each version in one terminal state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_committing_two_versions_of_a_key_at_once_leave_the_newer() {
    let text = orders_with_policy("replace");
    for round in 0..6 {
        let h = Harness::with_config_text(&text).await;
        let other = sluice_local::Local::open(
            sluice_tests::open_context(h.dir.path(), sluice_tests::parse_config(&text)).await,
            &h.dir.path().join("executions-other.db"),
        )
        .await
        .unwrap();
        let key = "orders/raced.ndjson";
        sluice_steps::failpoint::inject("validate.after_staged", key);
        let older = put(&h, key, 1..=3, None).await;
        h.local.ingest_as(&older, "older".into()).await.unwrap();
        let newer = put(&h, key, 4..=6, None).await;
        // A fail point fires once: armed again for the second execution.
        sluice_steps::failpoint::inject("validate.after_staged", key);
        other.ingest_as(&newer, "newer".into()).await.unwrap();

        let (a, b) = tokio::join!(h.local.redrive("older"), other.redrive("newer"));
        let (a, b) = (a.unwrap(), b.unwrap());
        // The older one either committed first and was replaced, or came second and stayed
        // out; the newer one committed either way.
        assert!(
            matches!(
                a.outcome,
                Outcome::Superseded { .. } | Outcome::Committed { .. }
            ),
            "round {round}: {a:?}"
        );
        assert!(
            matches!(b.outcome, Outcome::Committed { .. }),
            "round {round}: {b:?}"
        );
        assert_eq!(ids(&h).await, [4, 5, 6], "round {round}");
        let older_state = state_of(&h, &older).await;
        assert!(
            matches!(older_state, LedgerState::Retracted { .. }),
            "round {round}: {older_state:?}"
        );
        let head = h.ctx.ledger.head("landing", key).await.unwrap().unwrap();
        assert_eq!(head.live.len(), 1, "round {round}: {head:?}");
        assert_eq!(head.pending, None, "round {round}");
    }
}

fn orders_deleting(extra: &str) -> String {
    let text = std::fs::read_to_string(sluice_tests::orders_example().join("sluice.toml")).unwrap();
    text.replace(
        "max_invalid_ratio = 0.2",
        &format!("max_invalid_ratio = 0.2\non_delete = \"delete\"\n{extra}"),
    )
}

#[tokio::test]
async fn on_delete_delete_takes_a_removed_objects_rows_out_in_one_snapshot() {
    let h = Harness::with_config_text(&orders_deleting("")).await;
    let kept = put(&h, "orders/kept.ndjson", 10..=11, Some("01")).await;
    h.local.ingest(&kept).await.unwrap();
    let gone = put(&h, "orders/gone.ndjson", 1..=3, Some("10")).await;
    h.local.ingest(&gone).await.unwrap();
    assert_eq!(ids(&h).await, [1, 2, 3, 10, 11]);
    let snapshots = h.snapshots().await;

    let removal = Arrival {
        event: ArrivalEvent::Removed,
        sequencer: Some("11".into()),
        etag: None,
        ..gone.clone()
    };
    let r = h.local.ingest(&removal).await.unwrap();
    assert!(
        matches!(
            r.outcome,
            Outcome::Removed {
                versions: 1,
                snapshot_id: Some(_)
            }
        ),
        "{r:?}"
    );
    assert_eq!(ids(&h).await, [10, 11]);
    assert_eq!(h.snapshots().await, snapshots + 1);
    let (operation, summary) = current_summary(&h).await;
    assert_eq!(operation, "delete");
    let gone_batch = first_version(&h, &gone).await.batch_id();
    assert_eq!(
        summary[sluice_steps::commit::RETRACTED_PROPERTY],
        gone_batch.as_str()
    );
    let state = state_of(&h, &gone).await;
    assert!(
        matches!(
            state,
            LedgerState::Retracted {
                cause: sluice_core::ledger::RetractCause::Removed,
                ..
            }
        ),
        "{state:?}"
    );

    // The same event delivered again (its own execution, as EventBridge would start it)
    // takes nothing out and adds no snapshot.
    let again = h
        .local
        .ingest_as(&removal, "redelivered".into())
        .await
        .unwrap();
    assert!(
        matches!(again.outcome, Outcome::Removed { .. }),
        "{again:?}"
    );
    assert_eq!(ids(&h).await, [10, 11]);
    assert_eq!(h.snapshots().await, snapshots + 1);
}

/// A removal delivered after a version created later than it: only the versions it removed
/// leave (S3 orders them by sequencer); the later version's rows stay.
#[tokio::test]
async fn a_late_removal_leaves_the_version_created_after_it() {
    let h = Harness::with_config_text(&orders_deleting("")).await;
    let key = "orders/again.ndjson";
    let v1 = put(&h, key, 1..=2, Some("10")).await;
    h.local.ingest(&v1).await.unwrap();
    let v2 = put(&h, key, 3..=4, Some("12")).await;
    h.local.ingest(&v2).await.unwrap();
    assert_eq!(ids(&h).await, [1, 2, 3, 4], "append loads both");

    let removal = Arrival {
        event: ArrivalEvent::Removed,
        sequencer: Some("11".into()),
        etag: None,
        ..v1.clone()
    };
    let r = h.local.ingest(&removal).await.unwrap();
    assert!(
        matches!(r.outcome, Outcome::Removed { versions: 1, .. }),
        "{r:?}"
    );
    assert_eq!(ids(&h).await, [3, 4]);
}

/// Replace and delete together: the replaced version is gone, and the removal takes the
/// version that replaced it.
#[tokio::test]
async fn replace_then_remove_leaves_nothing_of_the_key() {
    let h = Harness::with_config_text(&orders_deleting("new_version = \"replace\"")).await;
    let key = "orders/both.ndjson";
    let v1 = put(&h, key, 1..=2, None).await;
    h.local.ingest(&v1).await.unwrap();
    let v2 = put(&h, key, 3..=5, None).await;
    h.local.ingest(&v2).await.unwrap();
    assert_eq!(ids(&h).await, [3, 4, 5]);
    let removal = Arrival {
        event: ArrivalEvent::Removed,
        etag: None,
        ..v2.clone()
    };
    let r = h.local.ingest(&removal).await.unwrap();
    assert!(
        matches!(r.outcome, Outcome::Removed { versions: 1, .. }),
        "{r:?}"
    );
    assert!(ids(&h).await.is_empty());
    let head = h.ctx.ledger.head("landing", key).await.unwrap().unwrap();
    assert!(head.live.is_empty() && head.pending.is_none(), "{head:?}");
}

/// Replace and delete after compaction merged the versions' files: the retracted rows are
/// taken out of the compacted file (rewritten without them), the other keys' rows stay, and
/// another engine reads the result.
#[tokio::test]
async fn replace_and_delete_take_rows_out_of_compacted_files() {
    let h = Harness::with_config_text(&orders_deleting("new_version = \"replace\"")).await;
    let mut firsts = vec![];
    for k in 0..4u64 {
        let key = format!("orders/k{k}.ndjson");
        let arrival = put(&h, &key, (k * 10 + 1)..=(k * 10 + 3), None).await;
        h.local.ingest(&arrival).await.unwrap();
        firsts.push(arrival);
    }
    let table = h.ctx.config.tables[0].clone();
    let options = sluice_lake::CompactOptions {
        target_file_size: 64 << 20,
        min_input_files: 2,
        sort: vec!["order_id".into()],
    };
    let report = h.ctx.lake.compact(&table, &options, &|_| {}).await.unwrap();
    assert!(
        report
            .groups
            .iter()
            .any(|g| g.files_in >= 2 && g.files_out == 1),
        "{report:?}"
    );
    let before = ids(&h).await;
    assert_eq!(before, [1, 2, 3, 11, 12, 13, 21, 22, 23, 31, 32, 33]);

    // k1 replaced, k2 removed: their rows leave the compacted file.
    let newer = put(&h, "orders/k1.ndjson", 100..=101, None).await;
    let r = h.local.ingest(&newer).await.unwrap();
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(ids(&h).await, [1, 2, 3, 21, 22, 23, 31, 32, 33, 100, 101]);
    let removal = Arrival {
        event: ArrivalEvent::Removed,
        etag: None,
        ..firsts[2].clone()
    };
    let r = h.local.ingest(&removal).await.unwrap();
    assert!(
        matches!(r.outcome, Outcome::Removed { versions: 1, .. }),
        "{r:?}"
    );
    assert_eq!(ids(&h).await, [1, 2, 3, 31, 32, 33, 100, 101]);

    // The rewritten file's lineage no longer names the retracted batches.
    let loaded = h.ctx.lake.load(&table).await.unwrap().unwrap();
    let gone: std::collections::HashSet<sluice_core::BatchId> = [
        first_version(&h, &firsts[1]).await.batch_id(),
        first_version(&h, &firsts[2]).await.batch_id(),
    ]
    .into();
    let located = h.ctx.lake.locate_batches(&loaded, &gone).await.unwrap();
    assert_eq!(located, sluice_lake::compact::Located::default());
    let read = pyiceberg_ids(&h);
    assert_eq!(read, serde_json::json!([1, 2, 3, 31, 32, 33, 100, 101]));
}

/// The order ids pyiceberg scans from the harness's table, sorted.
fn pyiceberg_ids(h: &Harness) -> serde_json::Value {
    crate::interop::pyiceberg(
        r#"
import json, sys
from pyiceberg.catalog.sql import SqlCatalog
root = sys.argv[1]
catalog = SqlCatalog("sluice", uri=f"sqlite:///{root}/catalog.db", warehouse=f"file://{root}/warehouse")
rows = catalog.load_table("shop.orders").scan().to_arrow()
print(json.dumps(sorted(rows.column("order_id").to_pylist())))
"#,
        h.dir.path(),
    )
}
