//! Group commit: a committer takes every ready staged batch of its table into one snapshot,
//! within the `[commit]` limits; the executions whose batches it took acknowledge them.

use std::collections::HashMap;

use sluice_lake::BATCH_IDS_PROPERTY;
use sluice_local::Outcome;
use sluice_tests::{ndjson, order, Harness};

/// Batch ids per snapshot, oldest snapshot first.
async fn batches_per_snapshot(h: &Harness) -> Vec<usize> {
    let table = h
        .ctx
        .lake
        .load(&h.ctx.config.tables[0])
        .await
        .unwrap()
        .unwrap();
    let mut snapshots: Vec<_> = table.metadata().snapshots().collect();
    snapshots.sort_by_key(|s| s.sequence_number());
    snapshots
        .iter()
        .map(|s| {
            s.summary()
                .additional_properties
                .get(BATCH_IDS_PROPERTY)
                .map(|ids| ids.split(',').filter(|i| !i.is_empty()).count())
                .unwrap_or(0)
        })
        .collect()
}

/// Lands `n` files of 3 rows each and stops each execution right after its batch is staged.
async fn stage(h: &Harness, n: usize) -> Vec<String> {
    let mut executions = vec![];
    for i in 0..n {
        let key = format!("orders/staged-{i}.ndjson");
        let first = (i * 3 + 1) as u64;
        let meta = h
            .ctx
            .store
            .put(
                &key,
                ndjson((first..first + 3).map(order)).into_bytes().into(),
            )
            .await
            .unwrap();
        sluice_steps::failpoint::inject("validate.after_staged", &key);
        let name = format!("stop-{i}");
        let r = h
            .local
            .ingest_as(&h.arrival(&key, &meta.etag), name.clone())
            .await
            .unwrap();
        assert!(matches!(r.outcome, Outcome::Failed { .. }), "{r:?}");
        executions.push(name);
    }
    executions
}

#[tokio::test]
async fn one_commit_takes_every_ready_batch_and_the_others_acknowledge() {
    let h = Harness::orders().await;
    let stopped = stage(&h, 5).await;
    assert_eq!(h.snapshots().await, 0);

    // One more arrival: its commit takes its own batch and the five waiting ones.
    let last = h
        .ingest_bytes("last.ndjson", ndjson((100..=101).map(order)))
        .await;
    assert!(
        matches!(last.outcome, Outcome::Committed { already: false, .. }),
        "{last:?}"
    );
    assert_eq!(batches_per_snapshot(&h).await, vec![6]);
    assert_eq!(h.rows().await.len(), 5 * 3 + 2);

    // The stopped executions, redriven, find their batches committed by it, in its snapshot.
    let Outcome::Committed { snapshot_id, .. } = last.outcome else {
        unreachable!()
    };
    for name in stopped {
        let r = h.local.redrive(&name).await.unwrap();
        assert_eq!(
            r.outcome,
            Outcome::Duplicate {
                state: "committed".into()
            },
            "{r:?}"
        );
        let record = h
            .ctx
            .ledger
            .get(r.object.as_ref().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record.record.state,
            sluice_core::ledger::LedgerState::Committed { snapshot_id }
        );
    }
    assert_eq!(h.snapshots().await, 1);
    assert_eq!(h.rows().await.len(), 17);
    // Spent manifests are gone.
    let staged = h
        .ctx
        .store
        .list(&sluice_steps::context::keys::staged_prefix(
            &h.ctx.config.tables[0],
        ))
        .await
        .unwrap();
    assert!(staged.is_empty(), "{staged:?}");
}

#[tokio::test]
async fn a_group_keeps_to_the_count_limit() {
    let h = Harness::orders_with("[commit]\nmax_batches = 2").await;
    let stopped = stage(&h, 5).await;
    for name in &stopped {
        h.local.redrive(name).await.unwrap();
    }
    let groups = batches_per_snapshot(&h).await;
    assert!(groups.iter().all(|&g| g <= 2), "{groups:?}");
    assert_eq!(groups.iter().sum::<usize>(), 5, "{groups:?}");
    assert_eq!(
        groups.len(),
        3,
        "5 batches in groups of at most 2: {groups:?}"
    );
    assert_eq!(h.rows().await.len(), 15);
}

/// Group sizes decided by the arrivals' counts alone: on a loaded machine a validation can
/// sit still longer than the default `quiet_ms` (500 ms), and the committer would then rightly
/// stop waiting, which makes an exact group count a measure of the machine, not of the code.
const COUNTS_DECIDE: &str = "[commit]\nquiet_ms = 600000\nwait_ms = 600000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_arrivals_land_once_in_fewer_snapshots() {
    let h = Harness::orders_with(COUNTS_DECIDE).await;
    let n = 16u64;
    let mut arrivals = vec![];
    for i in 0..n {
        let key = format!("orders/burst-{i}.ndjson");
        let meta = h
            .ctx
            .store
            .put(
                &key,
                ndjson((i * 2 + 1..=i * 2 + 2).map(order))
                    .into_bytes()
                    .into(),
            )
            .await
            .unwrap();
        arrivals.push(h.arrival(&key, &meta.etag));
    }
    let runs = arrivals.iter().map(|a| h.local.ingest(a));
    let reports = futures::future::join_all(runs).await;
    for r in &reports {
        let r = r.as_ref().unwrap();
        assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    }
    let mut ids: HashMap<i64, usize> = HashMap::new();
    for row in h.rows().await {
        *ids.entry(row["order_id"].as_i64().unwrap()).or_default() += 1;
    }
    assert_eq!(ids.len(), (n * 2) as usize);
    assert!(ids.values().all(|&c| c == 1), "a row landed twice: {ids:?}");
    // Every committer knew the others were on their way (Local counts its arrivals) and
    // waited for them: one snapshot takes all sixteen.
    let groups = batches_per_snapshot(&h).await;
    assert_eq!(groups, vec![n as usize]);
    assert_eq!(h.ctx.flow.counts("orders"), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_larger_than_a_group_fills_groups() {
    let h = Harness::orders_with(&format!("{COUNTS_DECIDE}\nmax_batches = 4")).await;
    let n = 10u64;
    let mut arrivals = vec![];
    for i in 0..n {
        let key = format!("orders/burst-{i}.ndjson");
        let meta = h
            .ctx
            .store
            .put(&key, ndjson([order(i + 1)]).into_bytes().into())
            .await
            .unwrap();
        arrivals.push(h.arrival(&key, &meta.etag));
    }
    let reports = futures::future::join_all(arrivals.iter().map(|a| h.local.ingest(a))).await;
    assert!(reports
        .iter()
        .all(|r| matches!(r.as_ref().unwrap().outcome, Outcome::Committed { .. })));
    let groups = batches_per_snapshot(&h).await;
    assert_eq!(groups.iter().sum::<usize>(), n as usize, "{groups:?}");
    assert!(groups.iter().all(|&g| g <= 4), "{groups:?}");
    // Ten batches in groups of at most four: three snapshots, not ten.
    assert_eq!(groups.len(), 3, "{groups:?}");
    assert_eq!(h.rows().await.len(), n as usize);
}
