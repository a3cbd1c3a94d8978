//! Exactly once: duplicate arrivals and a crash between the catalog commit and the ledger
//! update add no rows and no snapshots.

use sluice_core::ledger::LedgerState;
use sluice_local::Outcome;
use sluice_tests::{ndjson, order, Harness};

#[tokio::test]
async fn duplicate_arrival_adds_no_rows_and_no_snapshots() {
    let h = Harness::orders().await;
    let body = ndjson((1..=10).map(order));
    let first = h.ingest_bytes("a.ndjson", body.clone()).await;
    assert!(
        matches!(first.outcome, Outcome::Committed { already: false, .. }),
        "{first:?}"
    );
    // The same event delivered twice more, and the same bytes landed again.
    let etag = first.object.as_ref().unwrap().etag.clone();
    h.arrive("orders/a.ndjson", &etag).await;
    let again = h.ingest_bytes("a.ndjson", body).await;
    assert_eq!(
        again.outcome,
        Outcome::Duplicate {
            state: "committed".into()
        }
    );
    assert_eq!(h.rows().await.len(), 10);
    assert_eq!(h.snapshots().await, 1);
}

#[tokio::test]
async fn same_bytes_under_another_key_are_another_object() {
    let h = Harness::orders().await;
    let body = ndjson((1..=3).map(order));
    h.ingest_bytes("a.ndjson", body.clone()).await;
    let b = h.ingest_bytes("b.ndjson", body).await;
    assert!(matches!(
        b.outcome,
        Outcome::Committed { already: false, .. }
    ));
    assert_eq!(h.rows().await.len(), 6);
}

#[tokio::test]
async fn crash_after_commit_before_ledger_is_not_committed_twice() {
    let h = Harness::orders().await;
    let body = ndjson((1..=7).map(order));
    let key = "orders/crash.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, body.into_bytes().into())
        .await
        .unwrap();
    let object = meta.to_version("landing");

    // Run filter, drift and validate, then commit to the catalog directly and "crash"
    // before the ledger update: the ledger still says staged.
    let arrival = sluice_steps::payload::Arrival {
        bucket: "landing".into(),
        key: key.into(),
        version_id: None,
        etag: Some(meta.etag.clone()),
        sequencer: None,
        event: Default::default(),
        time: None,
    };
    let f = sluice_steps::filter::filter(&h.ctx, arrival.into())
        .await
        .unwrap();
    let task = sluice_steps::payload::ObjectTask {
        object: object.clone(),
        table: f.table().unwrap().to_string(),
        status: None,
    };
    sluice_steps::drift::detect_drift(&h.ctx, task.clone())
        .await
        .unwrap();
    let v = sluice_steps::validate::validate(&h.ctx, task)
        .await
        .unwrap();
    let (bytes, _) = h
        .ctx
        .store
        .get_bytes(v.manifest_key().unwrap())
        .await
        .unwrap()
        .unwrap();
    let batch: sluice_lake::StagedBatch = serde_json::from_slice(&bytes).unwrap();
    h.ctx
        .lake
        .commit_batches(&h.ctx.config.tables[0], &[batch])
        .await
        .unwrap();
    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    assert!(matches!(record.record.state, LedgerState::Staged { .. }));
    assert_eq!(h.snapshots().await, 1);

    // The event is delivered again (a retry, a redrive): the commit is recognised.
    let r = h.arrive(key, &meta.etag).await;
    assert!(
        matches!(r.outcome, Outcome::Committed { already: true, .. }),
        "{r:?}"
    );
    assert_eq!(h.snapshots().await, 1);
    assert_eq!(h.rows().await.len(), 7);
    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    assert!(matches!(record.record.state, LedgerState::Committed { .. }));
}

#[tokio::test]
async fn a_live_claim_stops_a_duplicate_execution_and_its_holder_finishes_on_redrive() {
    let h = Harness::orders_with("[ledger]\nlease_seconds = 900").await;
    let key = "orders/leased.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, ndjson((1..=5).map(order)).into_bytes().into())
        .await
        .unwrap();
    let arrival = h.arrival(key, &meta.etag);
    sluice_steps::failpoint::inject("validate.after_manifest", key);
    let first = h
        .local
        .ingest_as(&arrival, "delivery-1".into())
        .await
        .unwrap();
    assert!(matches!(first.outcome, Outcome::Failed { .. }), "{first:?}");

    // Another delivery of the same event, as its own execution, while the lease lives.
    let second = h
        .local
        .ingest_as(&arrival, "delivery-2".into())
        .await
        .unwrap();
    assert_eq!(
        second.outcome,
        Outcome::Duplicate {
            state: "claimed".into()
        },
        "{second:?}"
    );
    assert!(
        second
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("delivery-1"),
        "the detail names the holder: {second:?}"
    );
    assert!(h.rows().await.is_empty());

    // The holder's redrive keeps its own lease and finishes the version.
    let redriven = h.local.redrive("delivery-1").await.unwrap();
    assert!(
        matches!(redriven.outcome, Outcome::Committed { .. }),
        "{redriven:?}"
    );
    assert_eq!(h.rows().await.len(), 5);
    assert_eq!(h.snapshots().await, 1);
}

#[tokio::test]
async fn an_expired_claim_is_taken_over_and_the_late_redrive_adds_nothing() {
    let h = Harness::orders_with("[ledger]\nlease_seconds = 0").await;
    let key = "orders/taken.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, ndjson((1..=4).map(order)).into_bytes().into())
        .await
        .unwrap();
    let arrival = h.arrival(key, &meta.etag);
    sluice_steps::failpoint::inject("validate.mid_write", key);
    let first = h.local.ingest_as(&arrival, "crashed".into()).await.unwrap();
    assert!(matches!(first.outcome, Outcome::Failed { .. }), "{first:?}");

    // The lease has expired: the next delivery takes the claim over and loads the file.
    let taker = h.local.ingest_as(&arrival, "taker".into()).await.unwrap();
    assert!(
        matches!(taker.outcome, Outcome::Committed { already: false, .. }),
        "{taker:?}"
    );
    let record = h
        .ctx
        .ledger
        .get(taker.object.as_ref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(record.record.state, LedgerState::Committed { .. }));
    assert_eq!(record.record.lease.as_ref().unwrap().owner, "taker");

    // The crashed execution, redriven late, finds the version finished.
    let late = h.local.redrive("crashed").await.unwrap();
    assert!(
        matches!(
            late.outcome,
            Outcome::Committed { already: true, .. } | Outcome::Duplicate { .. }
        ),
        "{late:?}"
    );
    assert_eq!(h.rows().await.len(), 4);
    assert_eq!(h.snapshots().await, 1);
}

/// On AWS a duplicate delivery of an event is a new execution with its own name. One
/// execution crashes after staging; a second delivery commits the object; then the first is
/// redriven: it finds the object finished and ends as a duplicate instead of failing again.
#[tokio::test]
async fn redrive_after_a_duplicate_delivery_finished_the_object_succeeds_as_duplicate() {
    let h = Harness::orders().await;
    let key = "orders/redriven-late.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, ndjson((1..=5).map(order)).into_bytes().into())
        .await
        .unwrap();
    let arrival = sluice_steps::payload::Arrival {
        bucket: "landing".into(),
        key: key.into(),
        version_id: None,
        etag: Some(meta.etag.clone()),
        sequencer: None,
        event: Default::default(),
        time: None,
    };
    sluice_steps::failpoint::inject("validate.after_staged", key);
    let first = h
        .local
        .ingest_as(&arrival, "delivery-1".into())
        .await
        .unwrap();
    assert!(matches!(first.outcome, Outcome::Failed { .. }), "{first:?}");
    let second = h
        .local
        .ingest_as(&arrival, "delivery-2".into())
        .await
        .unwrap();
    assert!(
        matches!(second.outcome, Outcome::Committed { already: false, .. }),
        "{second:?}"
    );

    let redriven = h.local.redrive("delivery-1").await.unwrap();
    assert_eq!(
        redriven.status,
        sluice_states::Status::Succeeded,
        "{redriven:?}"
    );
    assert_eq!(
        redriven.outcome,
        Outcome::Duplicate {
            state: "committed".into()
        }
    );
    assert_eq!(h.rows().await.len(), 5);
    assert_eq!(h.snapshots().await, 1);
}
