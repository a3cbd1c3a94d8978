//! Replay: a quarantined file goes through statemachine/ingest.asl.json again as a new
//! execution (after the operator fixed the cause), and the ledger keeps it exactly once.

use sluice_core::ledger::LedgerState;
use sluice_core::QuarantineReason;
use sluice_local::{Outcome, Selection};
use sluice_tests::{ndjson, order, Harness};

const STRICT: &str = r#"
[[table]]
name = "orders"
namespace = "shop"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"
max_invalid_ratio = 0.2
"#;

/// Six good rows and four broken lines: 40 % invalid.
fn mostly_good() -> String {
    let mut body = ndjson((1..=6).map(order));
    body.push_str("{not json\n{\"order_id\": \n[1,2\n\"text\"\n");
    body
}

#[tokio::test]
async fn replay_after_a_policy_fix_commits_once_and_clears_the_quarantine() {
    let mut h = Harness::with_config_text(STRICT).await;
    let r = h.ingest_bytes("batch.ndjson", mostly_good()).await;
    assert_eq!(
        r.outcome,
        Outcome::Quarantined {
            reason: QuarantineReason::TooManyInvalidRows
        }
    );
    let object = r.object.clone().unwrap();
    assert_eq!(h.local.quarantined().await.unwrap().len(), 1);

    // Replaying before anything changed quarantines it again, through the same definition.
    let (reports, skipped) = h
        .local
        .replay(&Selection::Reason(QuarantineReason::TooManyInvalidRows))
        .await
        .unwrap();
    assert!(skipped.is_empty());
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].execution.split('-').next(), Some("replay1"));
    assert!(
        matches!(reports[0].outcome, Outcome::Quarantined { .. }),
        "{reports:?}"
    );
    assert_eq!(h.rows().await.len(), 0);

    // The operator tolerates more bad lines, then replays by file name.
    h.reconfigure(&STRICT.replace("0.2", "0.5")).await;
    let (reports, _) = h
        .local
        .replay(&Selection::Id("batch.ndjson".into()))
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r.execution.split('-').next(), Some("replay2"));
    assert!(
        matches!(r.outcome, Outcome::Committed { already: false, .. }),
        "{r:?}"
    );
    assert_eq!(r.rows.as_ref().map(|c| (c.valid, c.rejected)), Some((6, 4)));
    assert_eq!(h.rows().await.len(), 6);
    let record = h.ctx.ledger.get(&object).await.unwrap().unwrap();
    assert!(matches!(record.record.state, LedgerState::Committed { .. }));
    assert_eq!(record.record.replays, 2);
    assert!(
        h.local.quarantined().await.unwrap().is_empty(),
        "quarantine record removed"
    );

    // Nothing is left to replay, and the same event again runs nothing.
    let (reports, _) = h
        .local
        .replay(&Selection::Table("orders".into()))
        .await
        .unwrap();
    assert!(reports.is_empty());
    let again = h.arrive("orders/batch.ndjson", &object.etag).await;
    assert!(
        matches!(again.outcome, Outcome::Duplicate { .. }),
        "{again:?}"
    );
    assert_eq!(h.rows().await.len(), 6);
    assert_eq!(h.snapshots().await, 1);
}

#[tokio::test]
async fn replay_executions_are_idempotent_by_name() {
    let h = Harness::with_config_text(STRICT).await;
    h.ingest_bytes("batch.ndjson", mostly_good()).await;
    // Two operators replay at once: one execution; the loser is told it is busy (or, if it
    // came second, finds the finished execution by name and input).
    let sel = Selection::Id("orders/batch.ndjson".into());
    let (a, b) = tokio::join!(h.local.replay(&sel), h.local.replay(&sel));
    let mut names = vec![];
    for result in [a, b] {
        match result {
            Ok((reports, _)) => names.extend(reports.into_iter().map(|r| r.execution)),
            Err(sluice_local::LocalError::Engine(sluice_states::EngineError::ExecutionBusy {
                name,
            })) => names.push(name),
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(names.len(), 2);
    assert!(names.iter().all(|n| n.starts_with("replay1-")), "{names:?}");
    let executions = h.local.engine.list(None, 100).await.unwrap();
    assert_eq!(
        executions
            .iter()
            .filter(|e| e.name.starts_with("replay"))
            .count(),
        1
    );
}
