//! The reconcile function's second job: a backfill's plan. `statemachine/backfill.asl.json`
//! invokes it with `{"backfill": {"table", "prefix", "execution"}}`; it lists the prefix,
//! writes the manifest of versions to start and returns where it is with the counts
//! (`sluice_steps::backfill`). The schedule's `{"table": name}` is reconcile, as before,
//! unless it finds more versions to start than one invocation should start one by one
//! ([`Escalation`]): then it starts a backfill execution of the table instead, and Step
//! Functions' Distributed Map starts them.

use serde::{Deserialize, Serialize};
use sluice_steps::backfill::{self, BackfillPlan, BackfillRequest};
use sluice_steps::context::now;
use sluice_steps::reconcile::{self as steps_reconcile, slug, Fate, Watermark};
use sluice_steps::{Context, StepError, StepErrorKind};

use crate::metrics;
use crate::reconcile::{self, ExecutionStarter, ReconcileOutput, ReconcileRequest, Started};

/// What the reconcile function accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Request {
    Backfill(BackfillEnvelope),
    Reconcile(ReconcileRequest),
}

/// `{"backfill": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillEnvelope {
    pub backfill: BackfillRequest,
}

impl Request {
    /// The table it is about, for the invocation's span.
    pub fn table(&self) -> &str {
        match self {
            Request::Backfill(b) => &b.backfill.table,
            Request::Reconcile(r) => &r.table,
        }
    }
}

/// What the reconcile function answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Response {
    Plan(BackfillPlan),
    Reconciled(ReconcileOutput),
    Escalated(Escalated),
}

/// A reconciliation handed to a backfill: too many versions to start one by one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalated {
    pub table: String,
    pub listed: u64,
    pub to_start: u64,
    /// The backfill execution's name.
    pub backfill: String,
    /// False when an execution of that name existed already (a run earlier in the hour).
    pub started: bool,
    /// The table's watermark as listed, before the backfill runs (recorded).
    pub watermark: Watermark,
}

/// The reconcile function's way out of a large prefix: above `above` versions to start it
/// starts the backfill state machine for the table (`SLUICE_BACKFILL_STATE_MACHINE_ARN`;
/// `SLUICE_BACKFILL_ABOVE`, default [`DEFAULT_ABOVE`]).
pub struct Escalation {
    /// Starts executions of the backfill state machine.
    pub backfills: Box<dyn ExecutionStarter>,
    pub above: usize,
}

/// Versions to start above which reconcile starts a backfill instead.
pub const DEFAULT_ABOVE: usize = 1000;

/// The backfill reconcile starts for `table` at `now` (RFC 3339): one name per table and
/// hour, so that the runs of one hour start it once.
pub fn escalation_name(table: &str, now: &str) -> String {
    let hour: String = now
        .chars()
        .take(13)
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("backfill-{}-reconcile-{hour}", slug(table, 40))
}

/// Runs a request: the plan, or a reconciliation (handed to a backfill when it is large and
/// `escalation` is given).
pub async fn handle(
    ctx: &Context,
    starter: &dyn ExecutionStarter,
    escalation: Option<&Escalation>,
    part_versions: usize,
    request: Request,
) -> Result<Response, StepError> {
    match request {
        Request::Backfill(b) => Ok(Response::Plan(
            backfill::plan(ctx, &b.backfill, part_versions).await?,
        )),
        Request::Reconcile(r) => {
            if let Some(e) = escalation {
                if let Some(escalated) = escalate(ctx, e, &r).await? {
                    emit(&escalated.watermark, escalated.to_start as usize);
                    return Ok(Response::Escalated(escalated));
                }
            }
            let out = reconcile::reconcile(ctx, starter, r).await?;
            emit(&out.watermark, out.started.len());
            Ok(Response::Reconciled(out))
        }
    }
}

/// The reconciliation's metrics, by the stack and the table (the per-table freshness alarms'
/// `OldestUnfinishedAge`).
fn emit(mark: &Watermark, started: usize) {
    metrics::emit(
        &metrics::of_reconciliation(mark, started),
        &metrics::Dimensions::from_env(Some(&mark.table)),
    );
}

/// Starts a backfill of the table when more than `e.above` of its versions need starting.
async fn escalate(
    ctx: &Context,
    e: &Escalation,
    request: &ReconcileRequest,
) -> Result<Option<Escalated>, StepError> {
    let table = ctx.table(&request.table)?.clone();
    let listed = sluice_steps::reconcile::list(ctx, &table).await?;
    let d = backfill::decide(&listed, &table.prefix, ctx.store.bucket(), &now());
    if d.starts.len() <= e.above {
        return Ok(None);
    }
    let name = escalation_name(&table.name, &now());
    let input = serde_json::json!({ "table": table.name }).to_string();
    let started = e.backfills.start(&name, &input).await.map_err(|err| {
        let kind = if err.transient {
            StepErrorKind::TransientError
        } else {
            StepErrorKind::Internal
        };
        StepError::new(kind, err.to_string())
    })?;
    tracing::info!(
        table = table.name,
        to_start = d.starts.len(),
        above = e.above,
        backfill = name,
        ?started,
        "reconcile: too many versions to start one by one; a backfill starts them"
    );
    // What is true now: every version to start is unfinished until its execution ends.
    let fates = listed
        .iter()
        .map(|l| {
            Fate::of(
                &l.meta,
                l.record.as_ref().is_some_and(|r| r.state.is_terminal()),
            )
        })
        .collect();
    let watermark = steps_reconcile::watermark(&table, fates, now());
    steps_reconcile::record_watermark(ctx, &table, &watermark).await?;
    Ok(Some(Escalated {
        table: table.name.clone(),
        listed: d.listed,
        to_start: d.starts.len() as u64,
        backfill: name,
        started: started == Started::New,
        watermark,
    }))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::init::{open_context, Backend, Settings};
    use crate::reconcile::StartError;
    use serde_json::json;

    const PARTS: usize = sluice_steps::backfill::DEFAULT_PART_VERSIONS;

    /// Records every start; a name started before exists already.
    #[derive(Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<(String, String)>>>);

    #[async_trait::async_trait]
    impl ExecutionStarter for Recorder {
        async fn start(&self, name: &str, input: &str) -> Result<Started, StartError> {
            let mut started = self.0.lock().unwrap();
            let exists = started.iter().any(|(n, _)| n == name);
            started.push((name.to_string(), input.to_string()));
            Ok(if exists {
                Started::AlreadyExists
            } else {
                Started::New
            })
        }
    }

    /// A workspace with `n` files under orders/ that no event announced.
    async fn workspace(dir: &std::path::Path, n: usize) -> Context {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let landing = dir.join("landing/orders");
        std::fs::create_dir_all(&landing).unwrap();
        let rows =
            std::fs::read(repo.join("examples/orders/data/orders-2026-03-01.ndjson")).unwrap();
        for i in 0..n {
            std::fs::write(landing.join(format!("f{i}.ndjson")), &rows).unwrap();
        }
        let settings = Settings {
            function: "reconcile".into(),
            config: repo.join("examples/orders/sluice.toml"),
            backend: Backend::Local {
                root: dir.to_path_buf(),
            },
            json_logs: false,
        };
        open_context(&settings).await.unwrap()
    }

    #[tokio::test]
    async fn a_large_reconciliation_starts_one_backfill_and_a_small_one_reconciles() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = workspace(dir.path(), 4).await;
        let (ingests, backfills) = (Recorder::default(), Recorder::default());
        let escalation = Escalation {
            backfills: Box::new(backfills.clone()),
            above: 3,
        };
        let request = || {
            Request::Reconcile(ReconcileRequest {
                table: "orders".into(),
            })
        };
        let out = handle(&ctx, &ingests, Some(&escalation), PARTS, request())
            .await
            .unwrap();
        let Response::Escalated(e) = out else {
            panic!("{out:?}")
        };
        assert_eq!((e.listed, e.to_start, e.started), (4, 4, true));
        assert!(
            e.backfill.starts_with("backfill-orders-reconcile-"),
            "{e:?}"
        );
        assert!(
            ingests.0.lock().unwrap().is_empty(),
            "nothing started one by one"
        );
        let (_, input) = backfills.0.lock().unwrap()[0].clone();
        assert_eq!(input, r#"{"table":"orders"}"#);
        // The same hour again: the same backfill, which exists already.
        let Response::Escalated(again) =
            handle(&ctx, &ingests, Some(&escalation), PARTS, request())
                .await
                .unwrap()
        else {
            panic!()
        };
        assert_eq!((again.backfill, again.started), (e.backfill, false));

        // At or below the threshold (or with no backfill state machine): reconcile as ever.
        let small = Escalation {
            backfills: Box::new(backfills.clone()),
            above: 4,
        };
        let out = handle(&ctx, &ingests, Some(&small), PARTS, request())
            .await
            .unwrap();
        assert!(
            matches!(out, Response::Reconciled(ref r) if r.started.len() == 4),
            "{out:?}"
        );
        assert_eq!(backfills.0.lock().unwrap().len(), 2);
    }

    #[test]
    fn escalation_names_are_per_table_and_hour() {
        let a = escalation_name("orders", "2026-12-06T09:30:01.123Z");
        assert_eq!(a, "backfill-orders-reconcile-20261206T09");
        assert_eq!(a, escalation_name("orders", "2026-12-06T09:59:59.999Z"));
        assert_ne!(a, escalation_name("orders", "2026-12-06T10:00:00.000Z"));
    }

    #[test]
    fn both_requests_parse_and_nothing_else_does() {
        let r: Request = serde_json::from_value(json!({"table": "orders"})).unwrap();
        assert!(matches!(r, Request::Reconcile(_)));
        let r: Request = serde_json::from_value(
            json!({"backfill": {"table": "orders", "prefix": "orders/2025/", "execution": "b-1"}}),
        )
        .unwrap();
        match r {
            Request::Backfill(b) => {
                assert_eq!(b.backfill.prefix.as_deref(), Some("orders/2025/"));
                assert_eq!(b.backfill.execution, "b-1");
            }
            other => panic!("{other:?}"),
        }
        assert!(serde_json::from_value::<Request>(json!({"table": "orders", "x": 1})).is_err());
        assert!(
            serde_json::from_value::<Request>(json!({"backfill": {"table": "orders"}})).is_err()
        );
    }
}
