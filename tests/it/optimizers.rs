//! A catalog's own table optimizers (AWS Glue's, behind sluice-lake's `TableOptimizers` port):
//! set up when sluice creates a table that asks for them, checked again by every maintenance
//! run, and what they do left to them; a table that does not ask for them is maintained by
//! sluice alone, and a failure to set them up never costs the arrival that created the table.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use sluice_core::config::TableConfig;
use sluice_lake::{LakeError, OptimizerChange, TableOptimizers};
use sluice_local::{Local, Outcome};
use sluice_steps::{ExpireOptions, GcOptions, MaintainOptions};
use sluice_tests::{ndjson, order, orders_example, parse_config, Harness};

/// Records the tables it was asked to set up; fails every call while `failing`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    failing: bool,
}

#[async_trait]
impl TableOptimizers for Recorder {
    fn service(&self) -> &'static str {
        "AWS Glue"
    }

    async fn ensure(
        &self,
        table: &TableConfig,
    ) -> sluice_lake::error::Result<Vec<OptimizerChange>> {
        self.calls.lock().unwrap().push(table.name.clone());
        if self.failing {
            return Err(LakeError::internal(
                "AccessDeniedException: glue:CreateTableOptimizer",
            ));
        }
        Ok(vec![OptimizerChange {
            optimizer: "retention".into(),
            action: "created".into(),
        }])
    }
}

/// The orders example with `section` appended to its table.
fn config(section: &str) -> String {
    let text = std::fs::read_to_string(orders_example().join("sluice.toml")).unwrap();
    format!("{text}\n{section}\n")
}

/// A fresh workspace whose lake has `optimizers`.
async fn harness(text: &str, optimizers: Arc<Recorder>) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let plain = sluice_tests::open_context(dir.path(), parse_config(text)).await;
    let lake = sluice_lake::Lake::open_local(
        &dir.path().join("catalog.db"),
        &dir.path().join("warehouse"),
    )
    .await
    .unwrap()
    .with_optimizers(optimizers);
    let ctx = sluice_steps::Context::new(plain.config.as_ref().clone(), plain.store.clone(), lake)
        .unwrap();
    let local = Local::open(ctx.clone(), &dir.path().join("executions.db"))
        .await
        .unwrap();
    Harness { dir, ctx, local }
}

fn options() -> MaintainOptions {
    MaintainOptions {
        compact: true,
        expire: ExpireOptions {
            policy: sluice_lake::ExpiryPolicy {
                older_than: Duration::from_secs(3600),
                retain_last: 1,
            },
            dry_run: false,
        },
        gc: GcOptions {
            dry_run: false,
            min_age: Duration::ZERO,
        },
    }
}

async fn land(h: &Harness, files: u64) {
    for f in 0..files {
        let done = h
            .ingest_bytes(
                &format!("o{f}.ndjson"),
                ndjson((1..=4).map(|i| order(f * 100 + i))),
            )
            .await;
        assert!(
            matches!(done.outcome, Outcome::Committed { .. }),
            "{done:?}"
        );
    }
}

#[tokio::test]
async fn a_table_that_asks_gets_its_optimizers_and_maintenance_leaves_their_work_to_them() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(
        &config("[table.glue_optimizers]\ncompaction = true\nsnapshot_retention_days = 15\n"),
        recorder.clone(),
    )
    .await;
    land(&h, 6).await;
    // Set up once, by the arrival that created the table.
    assert_eq!(*recorder.calls.lock().unwrap(), ["orders"]);
    let table = &h.ctx.config.tables[0];
    let report = sluice_steps::maintain(&h.ctx, table, &options())
        .await
        .unwrap();
    // Checked again by maintenance, which then neither compacts nor expires.
    assert_eq!(recorder.calls.lock().unwrap().len(), 2);
    assert_eq!(report.left_to_optimizers, ["compact", "expire"]);
    assert_eq!(report.optimizers.len(), 1);
    assert_eq!(report.compact, None);
    // Expiry did not run (a run reports the snapshots that remain).
    assert_eq!(report.expire, sluice_steps::ExpireReport::default());
    assert_eq!(h.rows().await.len(), 24);
    // A dry run changes nothing, the optimizers included.
    let mut dry = options();
    dry.expire.dry_run = true;
    dry.gc.dry_run = true;
    let report = sluice_steps::maintain(&h.ctx, table, &dry).await.unwrap();
    assert!(report.optimizers.is_empty());
    assert_eq!(recorder.calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn retention_alone_leaves_compaction_to_sluice() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(
        &config("[table.glue_optimizers]\nsnapshot_retention_days = 15\n"),
        recorder.clone(),
    )
    .await;
    land(&h, 6).await;
    let table = &h.ctx.config.tables[0];
    let report = sluice_steps::maintain(&h.ctx, table, &options())
        .await
        .unwrap();
    assert_eq!(report.left_to_optimizers, ["expire"]);
    assert!(report.compact.is_some(), "sluice compacts: {report:?}");
    assert_eq!(h.rows().await.len(), 24);
}

#[tokio::test]
async fn a_table_that_does_not_ask_is_maintained_by_sluice_alone() {
    let recorder = Arc::new(Recorder::default());
    let h = harness(&config(""), recorder.clone()).await;
    land(&h, 6).await;
    let report = sluice_steps::maintain(&h.ctx, &h.ctx.config.tables[0], &options())
        .await
        .unwrap();
    assert!(recorder.calls.lock().unwrap().is_empty());
    assert!(report.left_to_optimizers.is_empty() && report.optimizers.is_empty());
    assert!(report.compact.is_some());
    assert!(report.expire.remaining > 0, "sluice expires: {report:?}");
}

#[tokio::test]
async fn optimizers_that_cannot_be_set_up_cost_no_row_and_fail_maintenance() {
    let recorder = Arc::new(Recorder {
        failing: true,
        ..Recorder::default()
    });
    let h = harness(
        &config("[table.glue_optimizers]\nsnapshot_retention_days = 15\n"),
        recorder.clone(),
    )
    .await;
    // The arrival that created the table commits anyway: nothing expires without them.
    land(&h, 2).await;
    assert_eq!(h.rows().await.len(), 8);
    // Maintenance says why, for its alarm.
    let e = sluice_steps::maintain(&h.ctx, &h.ctx.config.tables[0], &options())
        .await
        .unwrap_err();
    assert!(e.chain().contains("glue:CreateTableOptimizer"), "{e}");
}
