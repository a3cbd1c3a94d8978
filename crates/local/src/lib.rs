//! sluice-local: sluice on a laptop, run the way AWS runs it.
//!
//! Every arrival is an execution of `statemachine/ingest.asl.json` (the very file CDK
//! deploys) on sluice's own Step Functions engine, with its Tasks bound to the in-process
//! steps and its history kept in a SQLite execution store beside the workspace. Failed
//! executions are redriven, quarantined objects replayed by starting new executions of the
//! same definition; the ledger keeps both exactly once.
//!
//! # Layout
//! - [`bind`]: the definition, its placeholders and the step handlers
//! - [`report`]: an execution read back as what happened to the arrival
//! - [`reconcile`]: lost events: list the bucket, run what the ledger never saw, watermark
//! - [`backfill`]: `statemachine/backfill.asl.json` on the engine, its children ingest
//!   executions on it too

pub mod backfill;
pub mod bind;
pub mod reconcile;
pub mod report;

use std::path::Path;

use sluice_core::quarantine::QuarantineRecord;
use sluice_states::{Engine, EngineError, Execution, StartRequest};
use sluice_steps::payload::Arrival;
use sluice_steps::Context;

pub use bind::{DEFINITION, STATE_MACHINE};
pub use report::{ArrivalReport, Outcome};
pub use sluice_steps::reconcile::{arrival_name, replay_name};
pub use sluice_steps::replay::{plan_replay, quarantined, Selection, Skipped};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("statemachine/ingest.asl.json has placeholders with no local binding: {0:?}")]
    Unbound(Vec<String>),
    #[error("{0}")]
    Store(String),
    /// A step run outside an execution (reconcile's listing) failed; its causes are kept.
    #[error(transparent)]
    Step(#[from] sluice_steps::StepError),
    #[error("quarantine record {key}: {message}")]
    Record { key: String, message: String },
}

/// The steps' context and the engine that runs the definition over them.
#[derive(Clone)]
pub struct Local {
    pub ctx: Context,
    pub engine: Engine,
    definition: String,
}

impl Local {
    /// Opens (creating if needed) the execution store at `db` and binds the steps on `ctx`.
    pub async fn open(ctx: Context, db: &Path) -> Result<Local, LocalError> {
        let definition = bind::definition().map_err(LocalError::Unbound)?;
        let engine = Engine::open(db, bind::registry(&ctx)).await?;
        Ok(Local {
            ctx,
            engine,
            definition,
        })
    }

    /// Runs one arrival as an execution named after it. The same arrival again (a duplicate
    /// event) finds its execution and runs nothing.
    pub async fn ingest(&self, arrival: &Arrival) -> Result<ArrivalReport, LocalError> {
        self.ingest_as(arrival, arrival_name(arrival)).await
    }

    /// As [`Local::ingest`], for a caller that counts the arrival as on its way itself
    /// ([`sluice_steps::flow::Flow::arrival`]), from before the object has even landed.
    pub async fn ingest_counted(&self, arrival: &Arrival) -> Result<ArrivalReport, LocalError> {
        let input = serde_json::to_value(arrival).map_err(|e| LocalError::Store(e.to_string()))?;
        self.start(arrival_name(arrival), input).await
    }

    /// Runs one arrival as an execution named `name`. This is how AWS runs a duplicate
    /// delivery of an event: a new execution with its own name, which does not find the
    /// earlier one, so only the ledger can tell that the object version is already known.
    /// An execution of that name that exists already is returned as it is (or refused, if
    /// its input differs), as for [`Local::ingest`].
    pub async fn ingest_as(
        &self,
        arrival: &Arrival,
        name: String,
    ) -> Result<ArrivalReport, LocalError> {
        let input = serde_json::to_value(arrival).map_err(|e| LocalError::Store(e.to_string()))?;
        // Counted as on its way to its table until it ends, so that a committer of the same
        // table waits for its batch (group commit; see `sluice_steps::flow`).
        let _running = self
            .ctx
            .config
            .route(&arrival.key)
            .map(|t| self.ctx.flow.arrival(&t.name));
        self.start(name, input).await
    }

    async fn start(
        &self,
        name: String,
        input: serde_json::Value,
    ) -> Result<ArrivalReport, LocalError> {
        let mut outcome = self
            .engine
            .start(StartRequest {
                state_machine: STATE_MACHINE.to_string(),
                definition: self.definition.clone(),
                name,
                input,
            })
            .await?;
        let running_elsewhere = outcome.execution.status == sluice_states::Status::Running;
        if running_elsewhere {
            // This very arrival is in progress elsewhere: in another process, or in another
            // task of this one (the same file named twice). Its end is this arrival's result;
            // failing here would abandon every other arrival of the command.
            tracing::info!(
                execution = outcome.execution.name,
                "arrival in progress elsewhere; waiting for its execution to end"
            );
            outcome.execution = self.engine.wait(&outcome.execution.name).await?;
        }
        let mut report = self.report(&outcome.execution).await?;
        if outcome.existing && !report.unfinished {
            // This very arrival ran before: nothing ran now.
            let state = match &report.object {
                Some(o) => match self.ctx.ledger.get(o).await {
                    Ok(Some(r)) => r.record.state.name().to_string(),
                    _ => "done".into(),
                },
                None => "done".into(),
            };
            report.outcome = Outcome::Duplicate { state };
            report.detail = Some(if running_elsewhere {
                format!(
                    "execution {} ran elsewhere at the same time; waited for it",
                    report.execution
                )
            } else {
                format!("execution {} already ran", report.execution)
            });
        }
        Ok(report)
    }

    /// Redrives a failed, aborted or timed-out execution from where it stopped.
    pub async fn redrive(&self, name: &str) -> Result<ArrivalReport, LocalError> {
        let execution = self.engine.redrive(name).await?;
        self.report(&execution).await
    }

    /// The report of an execution as it stands.
    pub async fn report(&self, execution: &Execution) -> Result<ArrivalReport, LocalError> {
        let history = self.engine.history(&execution.name).await?;
        Ok(report::report(execution, &history))
    }

    /// Quarantine records under the control prefix, by key.
    pub async fn quarantined(&self) -> Result<Vec<(String, QuarantineRecord)>, LocalError> {
        Ok(quarantined(self.ctx.store.as_ref()).await?)
    }

    /// Starts a replay execution for every quarantined object the selection names (see
    /// [`plan_replay`]), and reports each.
    pub async fn replay(
        &self,
        selection: &Selection,
    ) -> Result<(Vec<ArrivalReport>, Vec<Skipped>), LocalError> {
        let (planned, skipped) = plan_replay(&self.ctx.ledger, selection).await?;
        let mut reports = vec![];
        for (name, input) in planned {
            let value =
                serde_json::to_value(&input).map_err(|e| LocalError::Store(e.to_string()))?;
            reports.push(self.start(name, value).await?);
        }
        Ok((reports, skipped))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_execution_names_and_follow_the_version() {
        let a = Arrival {
            bucket: "landing".into(),
            key: format!("orders/{}.ndjson", "x ü/".repeat(40)),
            version_id: None,
            etag: Some("e1".into()),
            sequencer: None,
            event: Default::default(),
            time: None,
        };
        let n = arrival_name(&a);
        sluice_states::engine::check_name(&n).unwrap();
        assert_eq!(n, arrival_name(&a.clone()));
        let b = Arrival {
            etag: Some("e2".into()),
            ..a
        };
        assert_ne!(n, arrival_name(&b));
    }
}
