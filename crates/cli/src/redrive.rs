//! `sluice redrive NAME | --all`: resume FAILED, TIMED_OUT and ABORTED executions at the state
//! that failed, on the workspace's engine or (`--aws`) with RedriveExecution.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use sluice_local::STATE_MACHINE;
use sluice_states::store::ExecutionStore;
use sluice_states::{Engine, Execution, Status};

use crate::port::{parse_status, LocalExecutions};
use crate::print::{exit_code, print_table, summary};
use crate::target::Target;
use crate::workspace::{self, Workspace};

#[derive(Debug, clap::Args)]
pub struct RedriveArgs {
    /// The execution to redrive (see `sluice executions list --status FAILED`); with --aws
    /// its name or its ARN.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    name: Option<String>,
    /// Every redrivable execution, oldest first: FAILED, TIMED_OUT and ABORTED ones, and
    /// RUNNING ones whose process is gone (marked ABORTED first). One that is in progress
    /// elsewhere meanwhile is skipped and named.
    #[arg(long)]
    all: bool,
    /// With --all: only executions in this status (FAILED, TIMED_OUT or ABORTED).
    #[arg(long, requires = "all", value_name = "STATUS")]
    status: Option<String>,
    /// With --aws: wait until the redriven execution ends, and exit 1 unless it succeeded.
    #[arg(long)]
    wait: bool,
}

pub async fn redrive(
    root: &Path,
    config: &Path,
    target: &Target,
    args: RedriveArgs,
) -> anyhow::Result<ExitCode> {
    let name = match (&args.name, args.all) {
        (Some(name), false) => name.clone(),
        (None, true) if target.aws => {
            bail!("--all redrives the local executions; with --aws, name one execution")
        }
        (None, true) => return redrive_all(root, config, args.status.as_deref()).await,
        _ => bail!("name an execution, or pass --all"),
    };
    if target.aws {
        #[cfg(feature = "aws")]
        return crate::aws::redrive(target, &name, args.wait).await;
    }
    let ws = Workspace::new(root);
    let store = ExecutionStore::open(&ws.executions()).await?;
    let Some(execution) = store.get(&name).await? else {
        bail!("ExecutionDoesNotExist: no execution named '{name}'");
    };
    drop(store);
    if execution.state_machine == STATE_MACHINE {
        let local = workspace::local(root, config).await?;
        let report = local.redrive(&name).await?;
        let reports = [report];
        print_table(&reports);
        outln!("{}", summary(&reports));
        outln!(
            "execution {name} is {} after {} redrive(s)",
            reports[0].status.as_str(),
            local.engine.describe(&name).await?.redrive_count
        );
        return Ok(exit_code(&reports));
    }
    let finished = asl_engine(root, &execution.state_machine)
        .await?
        .redrive(&name)
        .await?;
    crate::asl::print_finished(&finished)
}

/// The engine of a `run-asl` state machine, its tasks bound as they were when it started.
async fn asl_engine(root: &Path, state_machine: &str) -> anyhow::Result<Engine> {
    let registry = crate::asl::saved_registry(root, state_machine)?;
    let mut engine = Engine::open(&Workspace::new(root).executions(), registry).await?;
    if let Some(objects) = crate::asl::saved_objects(root, state_machine)? {
        engine = engine.with_objects(objects);
    }
    Ok(engine)
}

/// `sluice redrive --all [--status S]`: every redrivable execution, oldest first, each
/// where it stopped. Executions of the ingest definition are reported as `ingest` reports
/// arrivals; those of `run-asl` state machines by name and status. One in progress elsewhere
/// (another process took it meanwhile) is named and left to its runner.
async fn redrive_all(root: &Path, config: &Path, status: Option<&str>) -> anyhow::Result<ExitCode> {
    let only = status.map(parse_status).transpose()?;
    if only.is_some_and(|s| !s.is_redrivable()) {
        bail!("--status: only FAILED, TIMED_OUT and ABORTED executions can be redriven");
    }
    let local_executions = LocalExecutions::open(root).await?;
    let engine = local_executions.engine();
    let mut chosen: Vec<Execution> = engine
        .list(only, u32::MAX)
        .await?
        .into_iter()
        .filter(|e| e.status.is_redrivable())
        .collect();
    chosen.reverse();
    if chosen.is_empty() {
        outln!("nothing to redrive: no FAILED, TIMED_OUT or ABORTED execution");
        return Ok(ExitCode::SUCCESS);
    }
    let mut local = None;
    let mut reports = vec![];
    let mut unfinished = 0;
    for e in &chosen {
        let busy = |name: &str| outln!("{name}: in progress elsewhere now; left to its runner");
        if e.state_machine == STATE_MACHINE {
            if local.is_none() {
                local = Some(workspace::local(root, config).await?);
            }
            let Some(local) = &local else { continue };
            match local.redrive(&e.name).await {
                Ok(report) => reports.push(report),
                Err(sluice_local::LocalError::Engine(
                    sluice_states::EngineError::ExecutionBusy { name },
                )) => busy(&name),
                Err(err) => return Err(err).with_context(|| format!("redriving {}", e.name)),
            }
            continue;
        }
        match asl_engine(root, &e.state_machine)
            .await?
            .redrive(&e.name)
            .await
        {
            Ok(finished) => {
                outln!("{}: {}", finished.name, finished.status.as_str());
                if finished.status != Status::Succeeded {
                    unfinished += 1;
                }
            }
            Err(sluice_states::EngineError::ExecutionBusy { name }) => busy(&name),
            Err(err) => return Err(err).with_context(|| format!("redriving {}", e.name)),
        }
    }
    if !reports.is_empty() {
        print_table(&reports);
        outln!("redrove {}", summary(&reports));
    }
    if unfinished > 0 {
        return Ok(ExitCode::from(2));
    }
    Ok(exit_code(&reports))
}
