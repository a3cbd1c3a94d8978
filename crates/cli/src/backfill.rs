//! `sluice backfill PREFIX [--table T] [--aws]`: replays a historical prefix exactly once.
//! Runs `statemachine/backfill.asl.json`: its Plan lists the object versions under PREFIX,
//! keeps those the ledger never saw, and writes them as a manifest; its Distributed Map
//! starts one child ingest execution per version under the name its event would get. A
//! prefix larger than one part (`--part-versions`) is planned and run part by part.
//! Everything the ledger already has is a duplicate, so a second backfill starts nothing.
//!
//! Locally the definition runs on sluice's engine, each child an ingest execution in this
//! process. With `--aws` it is StartExecution of the deployed backfill state machine
//! (`--backfill-state-machine-arn` or `SLUICE_BACKFILL_STATE_MACHINE_ARN`), then, unless
//! `--no-wait`, its end and its Map Run's item counts.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use sluice_core::config::{Config, TableConfig};
use sluice_local::backfill::{backfill_name, Backfilled};
use sluice_local::ArrivalReport;
use sluice_states::Status;
use sluice_steps::context::now;

use crate::ingest::open_with_progress;
use crate::print::{exit_code, print_table, summary};
use crate::target::Target;
use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The prefix to backfill: a table's prefix or a longer one within it (`orders/2025/`).
    prefix: String,
    /// The table (default: the table whose prefix PREFIX lies within).
    #[arg(long)]
    table: Option<String>,
    /// With --aws: the backfill state machine (default: the stack's output
    /// `BackfillStateMachineArn`, with --stack).
    #[arg(long, env = "SLUICE_BACKFILL_STATE_MACHINE_ARN", value_name = "ARN")]
    backfill_state_machine_arn: Option<String>,
    /// With --aws: return once the execution started, without waiting for its end.
    #[arg(long)]
    no_wait: bool,
    /// Print the per-file results as JSON lines instead of a table (local).
    #[arg(long)]
    json: bool,
    /// Locally: object versions each part of the plan lists at least (the stack's reconcile
    /// function takes SLUICE_BACKFILL_PART_VERSIONS). A prefix with more is planned and run
    /// part after part, each part's executions started before the next part is listed.
    #[arg(
        long,
        value_name = "N",
        default_value_t = sluice_steps::backfill::DEFAULT_PART_VERSIONS,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    part_versions: usize,
}

pub async fn run(
    root: &Path,
    config_path: &Path,
    target: &Target,
    args: Args,
) -> anyhow::Result<ExitCode> {
    if target.aws {
        #[cfg(feature = "aws")]
        return run_aws(config_path, target, args).await;
    }
    let local = open_with_progress(root, config_path, None).await?;
    let table = table_for(&local.ctx.config, &args.prefix, args.table.as_deref())?;
    let name = backfill_name(&table.name, &now());
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} backfill {msg}: {pos} ingest executions ended")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(args.prefix.clone());
    bar.enable_steady_tick(Duration::from_millis(200));
    let progress = bar.clone();
    let on_child = Arc::new(move |_: &ArrivalReport| progress.inc(1));
    let done = local
        .backfill(
            &Workspace::new(root).executions(),
            &table.name,
            Some(&args.prefix),
            &name,
            args.part_versions,
            on_child,
        )
        .await
        .with_context(|| format!("running backfill {name}"))?;
    bar.finish_and_clear();
    report_local(&done, args.json)
}

/// The table `prefix` is backfilled into: `--table` (the prefix must lie within its
/// prefix; the plan refuses it otherwise), or the table with the longest prefix it lies in.
pub fn table_for(config: &Config, prefix: &str, name: Option<&str>) -> anyhow::Result<TableConfig> {
    if let Some(name) = name {
        return config
            .table(name)
            .cloned()
            .with_context(|| format!("no table {name:?} in the configuration"));
    }
    config
        .tables
        .iter()
        .filter(|t| prefix.starts_with(&t.prefix))
        .max_by_key(|t| t.prefix.len())
        .cloned()
        .with_context(|| {
            let prefixes: Vec<&str> = config.tables.iter().map(|t| t.prefix.as_str()).collect();
            format!(
                "{prefix:?} lies within no table's prefix ({}): name a table's prefix or a \
                 longer one",
                prefixes.join(", ")
            )
        })
}

fn report_local(done: &Backfilled, json: bool) -> anyhow::Result<ExitCode> {
    let e = &done.execution;
    if json {
        for report in &done.ran {
            outln!("{}", serde_json::to_string(report)?);
        }
    } else if !done.ran.is_empty() {
        print_table(&done.ran);
    }
    match &done.plan {
        Some(p) => outln!(
            "backfill {} {}: {} versions listed under {}, {} duplicates (the ledger has them), \
             {} to start: {} ran now, {} already started elsewhere{}",
            e.name,
            e.status.as_str(),
            p.listed,
            p.prefix,
            p.duplicates,
            p.to_start,
            done.ran.len(),
            done.already_started.len(),
            if p.unreadable > 0 {
                format!(
                    "; {} with an unreadable ledger record (see `sluice doctor`)",
                    p.unreadable
                )
            } else {
                String::new()
            }
        ),
        None => outln!(
            "backfill {} {}: the plan did not run",
            e.name,
            e.status.as_str()
        ),
    }
    if !done.ran.is_empty() {
        outln!("{}", summary(&done.ran));
    }
    if e.status != Status::Succeeded {
        outln!(
            "backfill {} did not succeed: {}: {}; fix the cause, then `sluice redrive {}`",
            e.name,
            e.error.as_deref().unwrap_or("?"),
            e.cause.as_deref().unwrap_or(""),
            e.name
        );
        return Ok(ExitCode::from(2));
    }
    Ok(exit_code(&done.ran))
}

/// `sluice backfill --aws`: the deployed backfill state machine, for the table `--table` or
/// the prefix names.
#[cfg(feature = "aws")]
async fn run_aws(config_path: &Path, target: &Target, args: Args) -> anyhow::Result<ExitCode> {
    let config = crate::workspace::load_config(config_path)?;
    let table = table_for(&config, &args.prefix, args.table.as_deref())?;
    let deployed = target.resolve().await?;
    let arn = deployed.value(
        crate::stack::BACKFILL_STATE_MACHINE,
        args.backfill_state_machine_arn.as_deref(),
    )?;
    deployed.same_region(&arn)?;
    let client = aws_sdk_sfn::Client::new(&deployed.sdk);
    on_aws(&client, &arn, &table.name, &args.prefix, !args.no_wait).await
}

/// Starts the backfill state machine `arn` for `table` and `prefix`; with `wait`, waits for
/// its end and prints its Map Run's item counts. Exit 2 when it did not succeed or some
/// child failed.
#[cfg(feature = "aws")]
pub async fn on_aws(
    client: &aws_sdk_sfn::Client,
    arn: &str,
    table: &str,
    prefix: &str,
    wait: bool,
) -> anyhow::Result<ExitCode> {
    use aws_sdk_sfn::types::ExecutionStatus;
    let name = backfill_name(table, &now());
    let input = serde_json::json!({"table": table, "prefix": prefix});
    let started = client
        .start_execution()
        .state_machine_arn(arn)
        .name(&name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(sluice_aws::sdk::error_text(&e)))
        .with_context(|| format!("starting backfill {name} of {arn}"))?;
    let execution_arn = started.execution_arn;
    outln!("backfill {name} started: {execution_arn}");
    if !wait {
        return Ok(ExitCode::SUCCESS);
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} backfill {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let described = loop {
        let d = client
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(sluice_aws::sdk::error_text(&e)))
            .context("describing the backfill")?;
        if d.status != ExecutionStatus::Running {
            break d;
        }
        if let Some(counts) = map_run_counts(client, &execution_arn).await {
            bar.set_message(format!(
                "{prefix}: {} of {} children ended",
                counts.total - counts.pending - counts.running,
                counts.total
            ));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    bar.finish_and_clear();
    let plan: Option<serde_json::Value> = described
        .output()
        .and_then(|o| serde_json::from_str(o).ok());
    if let Some(p) = &plan {
        outln!(
            "plan: {} versions listed under {prefix}, {} duplicates (the ledger has them), {} to start",
            p["listed"],
            p["duplicates"],
            p["to_start"]
        );
    }
    let counts = map_run_counts(client, &execution_arn).await;
    match &counts {
        Some(c) => outln!(
            "map run: {} items: {} succeeded, {} failed, {} timed out, {} aborted, {} pending, {} running",
            c.total,
            c.succeeded,
            c.failed,
            c.timed_out,
            c.aborted,
            c.pending,
            c.running
        ),
        None if plan.as_ref().is_some_and(|p| p["to_start"] == 0) => {
            outln!("map run: none (nothing to start)")
        }
        None => outln!("map run: no counts (the service listed no Map Run)"),
    }
    outln!("backfill {name}: {}", described.status.as_str());
    let failed_children = counts.is_some_and(|c| c.failed + c.timed_out + c.aborted > 0);
    if described.status != ExecutionStatus::Succeeded {
        outln!(
            "{}: {}",
            described.error().unwrap_or("?"),
            described.cause().unwrap_or("")
        );
        return Ok(ExitCode::from(2));
    }
    Ok(if failed_children {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The first Map Run's item counts of an execution, if the service has one.
#[cfg(feature = "aws")]
async fn map_run_counts(
    client: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Option<aws_sdk_sfn::types::MapRunItemCounts> {
    let runs = client
        .list_map_runs()
        .execution_arn(execution_arn)
        .send()
        .await
        .ok()?;
    let run = runs.map_runs().first()?;
    let d = client
        .describe_map_run()
        .map_run_arn(run.map_run_arn())
        .send()
        .await
        .ok()?;
    d.item_counts().cloned()
}
