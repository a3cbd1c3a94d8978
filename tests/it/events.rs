//! Outbound events: one per transition that matters downstream, each valid against its
//! versioned JSON Schema in schemas/events/, none repeated by duplicate deliveries or by a
//! step run again after a crash between the transition and its event.

use std::collections::BTreeMap;

use sluice_local::Outcome;
use sluice_steps::events::{list, Event, EventType};
use sluice_steps::failpoint;
use sluice_tests::{ndjson, order, orders_files, repo, Harness};

fn by_type(events: &[Event]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for e in events {
        *out.entry(e.kind.as_str()).or_default() += 1;
    }
    out
}

/// Every event, checked against the schema of its type and version.
fn assert_valid(events: &[Event]) {
    for e in events {
        let path = repo().join(format!(
            "schemas/events/{}.v{}.json",
            e.kind.as_str(),
            e.schema_version
        ));
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event = serde_json::to_value(e).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|err| format!("{}: {err}", err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{event}\nbreaks {}: {errors:?}",
            path.display()
        );
    }
}

#[tokio::test]
async fn each_commit_quarantine_and_evolution_is_one_event_valid_against_its_schema() {
    let h = Harness::orders().await;
    let mut reports = vec![];
    for file in orders_files() {
        reports.push(h.ingest(&file).await);
    }
    let committed = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Committed { .. }))
        .count();
    let quarantined = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Quarantined { .. }))
        .count();
    assert!(committed >= 4 && quarantined >= 1, "{reports:?}");
    let events = list(h.ctx.store.as_ref()).await.unwrap();
    let counts = by_type(&events);
    assert_eq!(counts.get("FileCommitted"), Some(&committed), "{counts:?}");
    assert_eq!(
        counts.get("FileQuarantined"),
        Some(&quarantined),
        "{counts:?}"
    );
    assert_eq!(
        counts.get("SchemaEvolved"),
        Some(&1),
        "the coupon column: {counts:?}"
    );
    assert_valid(&events);
    let evolved = events
        .iter()
        .find(|e| e.kind == EventType::SchemaEvolved)
        .unwrap();
    assert_eq!(evolved.detail["added"], serde_json::json!(["coupon"]));
    assert!(evolved.detail["cause"].as_str().unwrap().contains("coupon"));
    let first = events
        .iter()
        .find(|e| {
            e.kind == EventType::FileCommitted
                && e.detail["key"] == "orders/orders-2026-03-01.ndjson"
        })
        .unwrap();
    assert_eq!(first.table.as_deref(), Some("orders"));
    assert!(
        first.detail["rows_committed"].as_u64().unwrap() > 0,
        "{first:?}"
    );

    // The same files again are duplicates: no event more.
    for file in orders_files() {
        h.ingest(&file).await;
    }
    assert_eq!(list(h.ctx.store.as_ref()).await.unwrap(), events);

    // Reconcile: the watermark moves once; a second run with nothing new tells nothing.
    let table = h.ctx.config.tables[0].clone();
    h.local.reconcile(&table).await.unwrap();
    h.local.reconcile(&table).await.unwrap();
    let now = list(h.ctx.store.as_ref()).await.unwrap();
    let marks: Vec<&Event> = now
        .iter()
        .filter(|e| e.kind == EventType::WatermarkAdvanced)
        .collect();
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert!(
        marks[0].detail["watermark"].as_str().is_some(),
        "{:?}",
        marks[0]
    );
    assert!(marks[0].detail["previous"].is_null());
    assert_valid(&now);

    // A crash after the ledger says committed and before the event is written: the redrive
    // finds the batch committed and writes the event, once.
    let key = "orders/late.ndjson";
    failpoint::inject("commit.after_ledger", key);
    let crashed = h.ingest_bytes("late.ndjson", ndjson([order(900)])).await;
    assert!(
        matches!(crashed.outcome, Outcome::Failed { .. }),
        "{crashed:?}"
    );
    let late = |events: &[Event]| {
        events
            .iter()
            .filter(|e| e.kind == EventType::FileCommitted && e.detail["key"] == key)
            .count()
    };
    assert_eq!(late(&list(h.ctx.store.as_ref()).await.unwrap()), 0);
    let redriven = h.local.redrive(&crashed.execution).await.unwrap();
    assert!(
        matches!(redriven.outcome, Outcome::Committed { .. }),
        "{redriven:?}"
    );
    let after = list(h.ctx.store.as_ref()).await.unwrap();
    assert_eq!(late(&after), 1);
    // And again, as a duplicate event would: still one.
    h.ingest_bytes("late.ndjson", ndjson([order(900)])).await;
    assert_eq!(late(&list(h.ctx.store.as_ref()).await.unwrap()), 1);
    assert_valid(&after);
}

#[tokio::test]
async fn a_blocked_drift_tells_once_that_it_waits() {
    let text = std::fs::read_to_string(sluice_tests::orders_example().join("sluice.toml"))
        .unwrap()
        .replace("additive = \"evolve\" ", "additive = \"quarantine\"");
    let h = Harness::with_config_text(&text).await;
    let with_gift = |id: u64| {
        let mut o = order(id);
        o["gift"] = serde_json::json!(true);
        o
    };
    for (name, id) in [("g1.ndjson", 1), ("g2.ndjson", 2)] {
        let r = h.ingest_bytes(name, ndjson([with_gift(id)])).await;
        assert!(matches!(r.outcome, Outcome::Quarantined { .. }), "{r:?}");
    }
    let events = list(h.ctx.store.as_ref()).await.unwrap();
    let pending: Vec<&Event> = events
        .iter()
        .filter(|e| e.kind == EventType::SchemaDriftPending)
        .collect();
    assert_eq!(pending.len(), 1, "one change, two files: {events:?}");
    assert_eq!(pending[0].detail["changes"][0]["path"], "gift");
    assert_eq!(by_type(&events).get("FileQuarantined"), Some(&2));
    assert_valid(&events);
}
