//! Lost events: objects whose events never came are found by listing the bucket, run once,
//! and the table's watermark says up to when everything is accounted for.

use sluice_local::Outcome;
use sluice_steps::payload::Arrival;
use sluice_tests::{ndjson, order, Harness};

#[tokio::test]
async fn reconcile_runs_what_the_events_missed_and_sets_the_watermark() {
    let h = Harness::orders().await;
    let table = h.ctx.config.tables[0].clone();
    // One file arrives with its event; three land silently (their events are lost).
    h.ingest_bytes("a.ndjson", ndjson((1..=2).map(order))).await;
    for (name, ids) in [
        ("b.ndjson", 3..=4),
        ("c.ndjson", 5..=7),
        ("d.ndjson", 8..=8),
    ] {
        h.ctx
            .store
            .put(
                &format!("orders/{name}"),
                ndjson(ids.map(order)).into_bytes().into(),
            )
            .await
            .unwrap();
    }
    assert!(h.local.watermark(&table).await.unwrap().is_none());

    let r = h.local.reconcile(&table).await.unwrap();
    let mut ran: Vec<&str> = r.ran.iter().map(|a| a.key.as_str()).collect();
    ran.sort();
    assert_eq!(
        ran,
        ["orders/b.ndjson", "orders/c.ndjson", "orders/d.ndjson"]
    );
    assert!(r
        .ran
        .iter()
        .all(|a| matches!(a.outcome, Outcome::Committed { already: false, .. })));
    assert_eq!(h.rows().await.len(), 8);
    let w = r.watermark;
    assert_eq!((w.objects, w.unfinished), (4, 0));
    let newest = h
        .ctx
        .store
        .list("orders/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.last_modified)
        .max();
    assert_eq!(w.watermark, newest);
    assert_eq!(
        h.local.watermark(&table).await.unwrap().unwrap().watermark,
        newest
    );

    // Again: nothing new, nothing runs, nothing is added.
    let again = h.local.reconcile(&table).await.unwrap();
    assert!(again.ran.is_empty());
    assert_eq!(h.snapshots().await, 4);
}

#[tokio::test]
async fn an_unfinished_object_holds_the_watermark_back() {
    let h = Harness::orders().await;
    let table = h.ctx.config.tables[0].clone();
    h.ingest_bytes("early.ndjson", ndjson((1..=2).map(order)))
        .await;
    std::thread::sleep(std::time::Duration::from_millis(20));
    // A version claimed by a run that died before finishing (only Filter ran).
    let meta = h
        .ctx
        .store
        .put(
            "orders/stuck.ndjson",
            ndjson((3..=4).map(order)).into_bytes().into(),
        )
        .await
        .unwrap();
    sluice_steps::filter::filter(
        &h.ctx,
        Arrival {
            bucket: "landing".into(),
            key: "orders/stuck.ndjson".into(),
            version_id: None,
            etag: Some(meta.etag.clone()),
            sequencer: None,
            event: Default::default(),
            time: None,
        }
        .into(),
    )
    .await
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    h.ingest_bytes("late.ndjson", ndjson((5..=6).map(order)))
        .await;

    let r = h.local.reconcile(&table).await.unwrap();
    assert!(
        r.ran.is_empty(),
        "the stuck version is known to the ledger: {:?}",
        r.ran
    );
    let early = h
        .ctx
        .store
        .head("orders/early.ndjson")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.watermark.unfinished, 1);
    assert_eq!(r.watermark.watermark, Some(early.last_modified));
}

#[tokio::test]
async fn reconcile_finishes_a_claim_whose_lease_expired() {
    let h = Harness::orders_with("[ledger]\nlease_seconds = 0").await;
    let table = h.ctx.config.tables[0].clone();
    let key = "orders/abandoned.ndjson";
    let meta = h
        .ctx
        .store
        .put(key, ndjson((1..=3).map(order)).into_bytes().into())
        .await
        .unwrap();
    // A run that crashed after staging and was never redriven.
    sluice_steps::failpoint::inject("validate.after_staged", key);
    let crashed = h
        .local
        .ingest_as(&h.arrival(key, &meta.etag), "crashed".into())
        .await
        .unwrap();
    assert!(
        matches!(crashed.outcome, Outcome::Failed { .. }),
        "{crashed:?}"
    );

    let r = h.local.reconcile(&table).await.unwrap();
    assert_eq!(r.ran.len(), 1, "{:?}", r.ran);
    assert!(
        matches!(r.ran[0].outcome, Outcome::Committed { already: false, .. }),
        "{:?}",
        r.ran[0]
    );
    assert!(r.ran[0].execution.starts_with("resume-"), "{:?}", r.ran[0]);
    assert_eq!(r.watermark.unfinished, 0);
    assert_eq!(h.rows().await.len(), 3);

    let again = h.local.reconcile(&table).await.unwrap();
    assert!(again.ran.is_empty(), "{:?}", again.ran);
    assert_eq!(h.snapshots().await, 1);
}
