//! `sluice replay FILE | --reason R | --table T`: quarantined files through the definition
//! again, locally or (`--aws`) started on Step Functions, under the same deterministic names.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use serde_json::Value;
use sluice_core::QuarantineReason;
use sluice_local::Selection;

use crate::print::{exit_code, nothing_to_replay, print_table, summary};
use crate::target::Target;
use crate::workspace;

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
pub struct ReplayArgs {
    /// One quarantined file: its key in the bucket, its file name or its batch id.
    #[arg(group = "which")]
    id: Option<String>,
    /// Every quarantined file with this reason (parse_error, contract_violation,
    /// too_many_invalid_rows, drift_blocked, unsupported_format, too_large, internal).
    #[arg(long, group = "which")]
    reason: Option<String>,
    /// Every quarantined file of this table.
    #[arg(long, group = "which")]
    table: Option<String>,
    /// Print the per-file results as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Start nothing: print, per file, the execution name and the input a StartExecution
    /// needs (`{"name": …, "input": {…}}`, one JSON line each), to replay from the Step
    /// Functions console or `aws stepfunctions start-execution` by hand.
    #[arg(long)]
    print_input: bool,
}

pub async fn replay(
    root: &Path,
    config: &Path,
    target: &Target,
    args: ReplayArgs,
) -> anyhow::Result<ExitCode> {
    let selection = match (args.id, args.reason, args.table) {
        (Some(id), _, _) => Selection::Id(id),
        (_, Some(r), _) => Selection::Reason(
            serde_json::from_value::<QuarantineReason>(Value::String(r.clone()))
                .with_context(|| format!("--reason {r:?} is not a quarantine reason"))?,
        ),
        (_, _, Some(t)) => Selection::Table(t),
        _ => bail!("name a quarantined file, --reason or --table"),
    };
    if target.aws {
        #[cfg(feature = "aws")]
        {
            let how = if args.print_input {
                crate::aws::ReplayHow::PrintInput
            } else {
                crate::aws::ReplayHow::Start { json: args.json }
            };
            return crate::aws::replay(target, &selection, how).await;
        }
    }
    if args.print_input {
        let ctx = workspace::open(root, config).await?;
        let (planned, skipped) = sluice_local::plan_replay(&ctx.ledger, &selection).await?;
        return crate::print::replay_inputs(&planned, &skipped, &selection);
    }
    replay_locally(root, config, &selection, args.json).await
}

/// Replays `selection` on the local engine, once the configured contracts fit their tables,
/// and prints each file's result (a table, or JSON lines with `json`) and the summary: what
/// `sluice replay` and `sluice drift approve` do on a workspace.
pub async fn replay_locally(
    root: &Path,
    config: &Path,
    selection: &Selection,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let local = workspace::local(root, config).await?;
    crate::ingest::refuse_contradicting_contracts(&local.ctx).await?;
    let (reports, skipped) = local.replay(selection).await?;
    if let Some(code) = nothing_to_replay(reports.is_empty(), &skipped, selection) {
        return Ok(code);
    }
    if json {
        for r in &reports {
            outln!("{}", serde_json::to_string(r)?);
        }
    } else {
        print_table(&reports);
    }
    outln!("replayed {}", summary(&reports));
    Ok(exit_code(&reports))
}
