//! Drift approval racing arrivals: files bringing a blocked field keep arriving while a person
//! approves it. Whichever side of the approval a file's DetectDrift and Validate fall on, it
//! is either committed with the new column or waits on the approved change, and replaying
//! what waits brings it in: in the end every row is in the table exactly once.

use std::collections::HashSet;

use serde_json::{json, Value};
use sluice_local::{Outcome, Selection};
use sluice_steps::drift_decisions::{self, Verdict};
use sluice_tests::{ndjson, order, orders_example, Harness};

fn with_coupon(id: u64) -> Value {
    let mut o = order(id);
    o["coupon"] = json!("SPRING");
    o
}

#[tokio::test]
async fn an_approval_racing_arrivals_leaves_every_row_in_the_table_once() {
    let text = std::fs::read_to_string(orders_example().join("sluice.toml"))
        .unwrap()
        .replace("additive = \"evolve\" ", "additive = \"quarantine\"");
    assert!(text.contains("additive = \"quarantine\""));
    let h = Harness::with_config_text(&text).await;
    let first = h
        .ingest_bytes("c0.ndjson", ndjson((1..=3).map(with_coupon)))
        .await;
    assert!(
        matches!(first.outcome, Outcome::Quarantined { .. }),
        "{first:?}"
    );
    let pending = drift_decisions::pending(&h.ctx).await.unwrap();
    assert_eq!(pending.len(), 1);
    let change = pending[0].clone();
    assert_eq!(change.files, ["orders/c0.ndjson"]);

    // Eight more files arrive while the approval is recorded.
    let table = h.ctx.config.tables[0].clone();
    let approve = async {
        tokio::task::yield_now().await;
        let approval = drift_decisions::approve(&h.ctx, &table, &change)
            .await
            .unwrap();
        assert!(approval.contract_version >= 2, "{approval:?}");
    };
    let names: Vec<String> = (1..=8u64).map(|f| format!("c{f}.ndjson")).collect();
    let arrivals = futures::future::join_all((1..=8u64).zip(&names).map(|(f, name)| {
        h.ingest_bytes(name, ndjson((1..=3).map(move |i| with_coupon(f * 100 + i))))
    }));
    let (reports, ()) = tokio::join!(arrivals, approve);
    for r in &reports {
        assert!(
            matches!(
                r.outcome,
                Outcome::Committed { .. } | Outcome::Quarantined { .. }
            ),
            "{r:?}"
        );
    }
    // What still waits is replayed; a second replay finds nothing.
    let (replayed, _) = h
        .local
        .replay(&Selection::DriftChange(change.id.clone()))
        .await
        .unwrap();
    assert!(!replayed.is_empty(), "c0 at least waited");
    for r in &replayed {
        assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    }
    let (again, _) = h
        .local
        .replay(&Selection::DriftChange(change.id.clone()))
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    assert!(drift_decisions::pending(&h.ctx).await.unwrap().is_empty());

    let rows = h.rows().await;
    assert_eq!(rows.len(), 27, "nine files of three rows");
    let ids: HashSet<String> = rows.iter().map(|r| r["order_id"].to_string()).collect();
    assert_eq!(ids.len(), 27, "no row twice");
    assert!(
        rows.iter().all(|r| r["coupon"] == "SPRING"),
        "the column kept every value"
    );
}

#[tokio::test]
async fn two_people_deciding_at_once_both_land_and_a_second_decision_on_one_change_is_refused() {
    let text = std::fs::read_to_string(orders_example().join("sluice.toml"))
        .unwrap()
        .replace("additive = \"evolve\" ", "additive = \"quarantine\"");
    let h = Harness::with_config_text(&text).await;
    for (name, field) in [("a.ndjson", "coupon"), ("b.ndjson", "gift")] {
        let mut row = order(1);
        row[field] = json!("x");
        h.ingest_bytes(name, ndjson([row])).await;
    }
    let pending = drift_decisions::pending(&h.ctx).await.unwrap();
    assert_eq!(pending.len(), 2);
    let table = &h.ctx.config.tables[0];
    let store = h.ctx.store.as_ref();
    let (a, b) = tokio::join!(
        drift_decisions::record(
            store,
            table,
            drift_decisions::decision(&pending[0], Verdict::Approved, None)
        ),
        drift_decisions::record(
            store,
            table,
            drift_decisions::decision(&pending[1], Verdict::Rejected, Some("no".into()))
        ),
    );
    a.unwrap();
    b.unwrap();
    let decided = drift_decisions::load(store, table).await.unwrap();
    assert_eq!(decided.decisions.len(), 2);
    let again = drift_decisions::record(
        store,
        table,
        drift_decisions::decision(&pending[1], Verdict::Approved, None),
    )
    .await
    .unwrap_err();
    assert!(again.to_string().contains("already rejected"), "{again}");
}
