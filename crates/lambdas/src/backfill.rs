//! The reconcile function's second job: a backfill's plan. `statemachine/backfill.asl.json`
//! invokes it with `{"backfill": {"table", "prefix", "execution"}}`; it lists the prefix,
//! writes the manifest of versions to start and returns where it is with the counts
//! (`sluice_steps::backfill`). The schedule's `{"table": name}` is reconcile, as before.

use serde::{Deserialize, Serialize};
use sluice_steps::backfill::{self, BackfillPlan, BackfillRequest};
use sluice_steps::{Context, StepError};

use crate::reconcile::{self, ExecutionStarter, ReconcileOutput, ReconcileRequest};

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
}

/// Runs a request: the plan, or a reconciliation.
pub async fn handle(
    ctx: &Context,
    starter: &dyn ExecutionStarter,
    request: Request,
) -> Result<Response, StepError> {
    match request {
        Request::Backfill(b) => Ok(Response::Plan(backfill::plan(ctx, &b.backfill).await?)),
        Request::Reconcile(r) => Ok(Response::Reconciled(
            reconcile::reconcile(ctx, starter, r).await?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
