//! The orders example, as `make run` ingests it: the figures it prints are the ones checked
//! here, read back through an Iceberg scan.

use sluice_core::QuarantineReason;
use sluice_local::Outcome;
use sluice_tests::{orders_files, Harness};

/// Valid rows in the example: 20 + 18 (2 of 20 rejected) + 10 (CSV) + 15 (gzip) + 10 (coupon).
const EXAMPLE_VALID_ROWS: usize = 73;

#[tokio::test]
async fn orders_example_lands_expected_rows_and_quarantines_two_files() {
    let h = Harness::orders().await;
    let mut committed = 0;
    let mut quarantined = vec![];
    for file in orders_files() {
        let r = h.ingest(&file).await;
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        match r.outcome {
            Outcome::Committed { already: false, .. } => committed += 1,
            Outcome::Quarantined { reason } => quarantined.push((name, reason)),
            other => panic!("{name}: unexpected {other:?} ({:?})", r.detail),
        }
    }
    assert_eq!(committed, 5);
    assert_eq!(
        quarantined,
        vec![
            (
                "orders-2026-03-03-malformed.ndjson".to_string(),
                QuarantineReason::TooManyInvalidRows
            ),
            (
                "orders-2026-03-07-quantity-as-text.ndjson".to_string(),
                QuarantineReason::DriftBlocked
            ),
        ]
    );
    assert_eq!(h.rows().await.len(), EXAMPLE_VALID_ROWS);
    assert_eq!(h.snapshots().await, 5);
}

#[tokio::test]
async fn second_pass_of_the_example_adds_nothing() {
    let h = Harness::orders().await;
    for file in orders_files() {
        h.ingest(&file).await;
    }
    let (rows, snapshots) = (h.rows().await.len(), h.snapshots().await);
    for file in orders_files() {
        let r = h.ingest(&file).await;
        assert!(
            matches!(r.outcome, Outcome::Duplicate { .. }),
            "{:?}",
            r.outcome
        );
    }
    assert_eq!(h.rows().await.len(), rows);
    assert_eq!(h.snapshots().await, snapshots);
}

#[tokio::test]
async fn every_step_payload_stays_under_8_kib() {
    let h = Harness::orders().await;
    for file in orders_files() {
        let r = h.ingest(&file).await;
        assert!(r.largest_payload > 0);
        assert!(
            r.largest_payload < 8 * 1024,
            "{}: {} bytes",
            r.key,
            r.largest_payload
        );
    }
    // A file with thousands of bad rows still travels by reference.
    // Every row misses required fields: 5000 rejects, one reference.
    let bad: String = (1..=5000)
        .map(|i| format!("{{\"order_id\": {i}}}\n"))
        .collect();
    let r = h.ingest_bytes("all-bad.ndjson", bad).await;
    assert!(matches!(
        r.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::TooManyInvalidRows
        }
    ));
    assert!(r.largest_payload < 8 * 1024, "{} bytes", r.largest_payload);
}
