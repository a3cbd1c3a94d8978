//! `sluice executions list|describe|history`: the executions of the definition, as Step
//! Functions' ListExecutions, DescribeExecution and GetExecutionHistory show them, from the
//! workspace's engine or (`--aws`) from Step Functions, through one port
//! ([`Executions`](crate::port::Executions)) and printed alike.

use std::path::Path;
use std::process::ExitCode;

use crate::port::{Executions, LocalExecutions};

#[derive(Debug, clap::Args)]
pub struct ExecutionsArgs {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Executions, newest first, with a count by status.
    List {
        /// Only executions in this status: RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED.
        #[arg(long)]
        status: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print JSON lines (DescribeExecution's fields) instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One execution: status, input, output or error, redrive count (DescribeExecution).
    Describe { name: String },
    /// An execution's events (GetExecutionHistory).
    History {
        name: String,
        /// Print the events as GetExecutionHistory's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(
    root: &Path,
    target: &crate::target::Target,
    args: ExecutionsArgs,
) -> anyhow::Result<ExitCode> {
    let ExecutionsArgs { command } = args;
    let port: Box<dyn Executions> = match target.aws {
        #[cfg(feature = "aws")]
        true => Box::new(crate::aws::SfnExecutions::open(target).await?),
        _ => Box::new(LocalExecutions::open(root).await?),
    };
    match command {
        Command::List {
            status,
            limit,
            json,
        } => {
            let listed = port.list(status.as_deref(), limit).await?;
            let footer = if json {
                vec![]
            } else {
                port.footer(listed.len()).await?
            };
            crate::print::listing(&listed, &footer, json)?;
        }
        Command::Describe { name } => {
            outln!(
                "{}",
                serde_json::to_string_pretty(&port.describe(&name).await?)?
            );
        }
        Command::History { name, json } => {
            crate::print::history(&port.history(&name).await?, json)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
