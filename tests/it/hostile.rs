//! Hostile and broken input: never a panic, never a lost object; every object version ends
//! in exactly one terminal state, which the ledger shows.

use std::io::Write;

use sluice_core::ledger::LedgerState;
use sluice_core::QuarantineReason;
use sluice_local::Outcome;
use sluice_tests::{ndjson, order, Harness};

const LIMITED: &str = r#"
[limits]
max_object_bytes = 2000000
max_line_bytes = 4096
max_expansion_ratio = 4

[[table]]
name = "orders"
namespace = "shop"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"
max_invalid_ratio = 0.2
"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn hostile_files_end_in_a_terminal_state() {
    let h = Harness::with_config_text(LIMITED).await;
    let garbage: Vec<u8> = (0..50_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let deep = "[".repeat(100_000) + "\n";
    let long_line = format!("{}\n{}", "x".repeat(10_000), ndjson((1..=9).map(order)));
    // 1 MiB compressed limit floor × 4 = 4 MiB; this expands to 8 MiB.
    let bomb = gzip(&vec![b' '; 8 << 20]);

    let cases: Vec<(&str, Vec<u8>, Outcome)> = vec![
        (
            "garbage.ndjson",
            garbage,
            Outcome::Quarantined {
                reason: QuarantineReason::TooManyInvalidRows,
            },
        ),
        (
            "deep.ndjson",
            deep.into_bytes(),
            Outcome::Quarantined {
                reason: QuarantineReason::TooManyInvalidRows,
            },
        ),
        (
            "bomb.ndjson.gz",
            bomb,
            Outcome::Quarantined {
                reason: QuarantineReason::TooLarge,
            },
        ),
        ("empty.ndjson", vec![], Outcome::Filtered),
        (
            "table.parquet",
            b"PAR1....PAR1".to_vec(),
            Outcome::Quarantined {
                reason: QuarantineReason::UnsupportedFormat,
            },
        ),
        (
            "huge.ndjson",
            vec![b'\n'; 2_000_001],
            Outcome::Quarantined {
                reason: QuarantineReason::TooLarge,
            },
        ),
    ];
    for (name, bytes, expected) in cases {
        let r = h.ingest_bytes(name, bytes).await;
        assert_eq!(r.outcome, expected, "{name}: {:?}", r.detail);
    }
    // A line over max_line_bytes is one rejected row; its neighbours commit.
    let r = h.ingest_bytes("long-line.ndjson", long_line).await;
    assert!(matches!(r.outcome, Outcome::Committed { .. }), "{r:?}");
    assert_eq!(r.rows.as_ref().unwrap().rejected, 1);

    let records = h.ctx.ledger.list().await.unwrap();
    assert_eq!(records.len(), 7);
    for rec in &records {
        assert!(
            rec.state.is_terminal(),
            "{} left {:?}",
            rec.object.key,
            rec.state
        );
    }
}

#[tokio::test]
async fn objects_outside_every_prefix_are_filtered_and_recorded() {
    let h = Harness::orders().await;
    let meta = h
        .ctx
        .store
        .put("elsewhere/x.ndjson", ndjson([order(1)]).into_bytes().into())
        .await
        .unwrap();
    let r = h.arrive("elsewhere/x.ndjson", &meta.etag).await;
    assert_eq!(r.outcome, Outcome::Filtered);
    let rec = h
        .ctx
        .ledger
        .get(&meta.to_version("landing"))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(rec.record.state, LedgerState::Filtered { .. }));
}

// See: #15
#[tokio::test]
async fn unacceptable_keys_are_quarantined_without_touching_disk() {
    let h = Harness::orders().await;
    for key in [
        "orders/../../etc/passwd",
        "orders//a.ndjson",
        "orders/a\\b.ndjson",
        "/etc/passwd",
    ] {
        let r = h.arrive(key, "x").await;
        assert_eq!(
            r.outcome,
            Outcome::Quarantined {
                reason: QuarantineReason::UnacceptableKey
            },
            "{key}"
        );
        // The same event again finds the record: a duplicate, nothing more.
        let again = h.arrive(key, "x").await;
        assert!(
            matches!(again.outcome, Outcome::Duplicate { .. }),
            "{key}: {again:?}"
        );
    }
    // sluice's own control objects are not the table's objects: filtered, unrecorded.
    let r = h.arrive(".sluice/ledger/x.json", "x").await;
    assert_eq!(r.outcome, Outcome::Filtered);
    assert!(r.object.is_none());
    let records = h.ctx.ledger.list().await.unwrap();
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.state
        == LedgerState::Quarantined {
            reason: QuarantineReason::UnacceptableKey
        }));
}
