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
