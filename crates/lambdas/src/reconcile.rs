//! The reconcile function: `{"table": name}` in (the CDK app's schedule sends one per table),
//! an execution of the state machine started for every object version under the table's
//! prefix that needs one (`sluice_steps::reconcile` decides which, and names them: every
//! version S3 keeps, current or not), removals whose events were lost recorded in their
//! keys' heads, and the table's watermark recorded.
//!
//! Names are deterministic, so a version whose event arrives late, or a second
//! reconciliation, meets the execution already started: Step Functions answers
//! `ExecutionAlreadyExists` (or, for a running execution with the same input, the same
//! execution), and both mean "already started".

use serde::{Deserialize, Serialize};
use sluice_core::config::OnDeletePolicy;
use sluice_steps::context::now;
use sluice_steps::reconcile::{self, Start, Watermark};
use sluice_steps::{Context, StepError, StepErrorKind};

/// The reconcile function's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    pub table: String,
}

/// What one reconciliation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileOutput {
    pub table: String,
    /// Versions listed under the prefix and routed to the table.
    pub listed: u64,
    /// Keys whose delete marker this run recorded as a removal (its event was lost).
    #[serde(default)]
    pub removals: Vec<String>,
    /// Executions started now.
    pub started: Vec<String>,
    /// Executions that needed starting but existed already.
    pub already_started: Vec<String>,
    pub watermark: Watermark,
}

/// How a start went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    New,
    AlreadyExists,
}

/// Why an execution could not be started.
#[derive(Debug, thiserror::Error)]
#[error("starting execution {name}: {message}")]
pub struct StartError {
    pub name: String,
    pub message: String,
    /// Throttling, a timeout, a 5xx: the next run (or a retry) may pass.
    pub transient: bool,
}

/// Starts executions of the ingest state machine.
#[async_trait::async_trait]
pub trait ExecutionStarter: Send + Sync {
    /// Starts execution `name` with `input` (JSON text).
    async fn start(&self, name: &str, input: &str) -> Result<Started, StartError>;
}

/// Step Functions' `StartExecution` on one state machine.
pub struct SfnStarter {
    pub client: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
}

#[async_trait::async_trait]
impl ExecutionStarter for SfnStarter {
    async fn start(&self, name: &str, input: &str) -> Result<Started, StartError> {
        use aws_sdk_sfn::error::SdkError;
        use aws_sdk_sfn::operation::start_execution::StartExecutionError;
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Started::New),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), StartExecutionError::ExecutionAlreadyExists(_)) =>
            {
                Ok(Started::AlreadyExists)
            }
            Err(e) => {
                let transient = match &e {
                    SdkError::TimeoutError(_)
                    | SdkError::DispatchFailure(_)
                    | SdkError::ResponseError(_) => true,
                    SdkError::ServiceError(s) => s.raw().status().is_server_error(),
                    _ => false,
                };
                Err(StartError {
                    name: name.to_string(),
                    message: sluice_aws::sdk::error_text(&e),
                    transient,
                })
            }
        }
    }
}

/// Starts one execution reconcile planned, by its deterministic name.
async fn start_one(starter: &dyn ExecutionStarter, start: &Start) -> Result<Started, StepError> {
    let input =
        serde_json::to_string(&start.arrival).map_err(|e| StepError::internal(e.to_string()))?;
    let outcome = starter.start(&start.name, &input).await.map_err(|e| {
        let kind = if e.transient {
            StepErrorKind::TransientError
        } else {
            StepErrorKind::Internal
        };
        StepError::new(kind, e.to_string())
    })?;
    tracing::info!(
        execution = start.name,
        why = ?start.why,
        ?outcome,
        "reconcile: execution started"
    );
    Ok(outcome)
}

/// Reconciles `request.table` (see the module docs).
pub async fn reconcile(
    ctx: &Context,
    starter: &dyn ExecutionStarter,
    request: ReconcileRequest,
) -> Result<ReconcileOutput, StepError> {
    let table = ctx.table(&request.table)?.clone();
    let bucket = ctx.store.bucket().to_string();
    let survey = reconcile::list_under(ctx, &table, &table.prefix).await?;
    let listed = survey.listed;
    let mut started = vec![];
    let mut already_started = vec![];
    let mut fates = vec![];
    // A lost removal is recorded; under `on_delete = "delete"` its rows must leave too, so it
    // goes through the definition as its event would have.
    let removals = if table.on_delete == OnDeletePolicy::Delete {
        let mut keys = vec![];
        for marker in &survey.unrecorded_removals {
            let start = reconcile::removal_start(marker, &bucket);
            match start_one(starter, &start).await? {
                Started::New => started.push(start.name),
                Started::AlreadyExists => already_started.push(start.name),
            }
            keys.push(marker.key.clone());
        }
        keys
    } else {
        reconcile::record_removals(ctx, &survey.unrecorded_removals).await?
    };
    for l in &listed {
        let mut done = l.record.as_ref().is_some_and(|r| r.state.is_terminal());
        if let Some(start) = reconcile::start_for(l, &bucket, &now()) {
            match start_one(starter, &start).await? {
                Started::New => started.push(start.name),
                Started::AlreadyExists => already_started.push(start.name),
            }
            // Started, not finished: the next reconciliation moves the mark past it.
            done = false;
        }
        fates.push(reconcile::Fate::of(&l.meta, done));
    }
    let mark = reconcile::watermark(&table, fates, now());
    reconcile::record_watermark(ctx, &table, &mark).await?;
    Ok(ReconcileOutput {
        table: table.name.clone(),
        listed: listed.len() as u64,
        removals,
        started,
        already_started,
        watermark: mark,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;
    use crate::init::{open_context, Backend, Settings};
    use sluice_steps::payload::{Arrival, FilterInput};

    /// Step Functions' answer to names, as far as reconcile cares: a name started before
    /// exists already. Counts every call.
    #[derive(Default)]
    struct Recorder {
        started: Mutex<Vec<(String, String)>>,
    }

    #[async_trait::async_trait]
    impl ExecutionStarter for Recorder {
        async fn start(&self, name: &str, input: &str) -> Result<Started, StartError> {
            let mut started = self.started.lock().unwrap();
            let exists = started.iter().any(|(n, _)| n == name);
            started.push((name.to_string(), input.to_string()));
            Ok(if exists {
                Started::AlreadyExists
            } else {
                Started::New
            })
        }
    }

    async fn orders_workspace(dir: &std::path::Path) -> Context {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let landing = dir.join("landing/orders");
        std::fs::create_dir_all(&landing).unwrap();
        for name in ["orders-2026-03-01.ndjson", "orders-2026-03-04.csv"] {
            std::fs::copy(
                repo.join("examples/orders/data").join(name),
                landing.join(name),
            )
            .unwrap();
        }
        let settings = Settings {
            function: "reconcile".into(),
            config: repo.join("examples/orders/sluice.toml"),
            backend: Backend::Local {
                root: dir.to_path_buf(),
            },
            json_logs: false,
        };
        open_context(&settings)
            .await
            .expect("the local workspace opens")
    }

    #[tokio::test]
    async fn versions_the_ledger_never_saw_get_the_names_their_events_would_get() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = orders_workspace(dir.path()).await;
        // One of the two arrived through its event and was claimed by the filter.
        let seen = Arrival {
            bucket: "landing".into(),
            key: "orders/orders-2026-03-01.ndjson".into(),
            version_id: None,
            etag: None,
            sequencer: None,
            event: Default::default(),
            time: None,
        };
        let claimed = sluice_steps::filter::filter(
            &ctx,
            FilterInput {
                arrival: seen,
                execution: Some("ex-1".into()),
            },
        )
        .await
        .unwrap();
        assert!(
            matches!(
                claimed,
                sluice_steps::payload::FilterOutput::Accepted { .. }
            ),
            "{claimed:?}"
        );

        let recorder = Recorder::default();
        let request = ReconcileRequest {
            table: "orders".into(),
        };
        let out = reconcile(&ctx, &recorder, request.clone()).await.unwrap();
        assert_eq!(out.listed, 2);
        assert_eq!(out.started.len(), 1, "{out:?}");
        assert!(out.started[0].starts_with("ingest-orders-2026-03-04_csv-"));
        let (_, input) = recorder.started.lock().unwrap()[0].clone();
        let arrival: Arrival = serde_json::from_str(&input).expect("a native arrival");
        assert_eq!(arrival.key, "orders/orders-2026-03-04.csv");
        assert_eq!(
            out.started[0],
            sluice_steps::reconcile::arrival_name(&arrival)
        );
        // Nothing is finished yet: no watermark, and it is recorded.
        assert_eq!(out.watermark.watermark, None);
        assert_eq!(out.watermark.unfinished, 2);

        // Again: the same name, which Step Functions finds already started.
        let again = reconcile(&ctx, &recorder, request).await.unwrap();
        assert!(again.started.is_empty());
        assert_eq!(again.already_started, out.started);
    }

    #[tokio::test]
    async fn an_unknown_table_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = orders_workspace(dir.path()).await;
        let e = reconcile(
            &ctx,
            &Recorder::default(),
            ReconcileRequest {
                table: "nope".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, StepErrorKind::Internal);
    }
}
