//! `sluice task success|failure|heartbeat TOKEN`: the worker's side of a callback task (a
//! Task whose resource ends in `.waitForTaskToken`), as Step Functions' SendTaskSuccess,
//! SendTaskFailure and SendTaskHeartbeat. The answer goes into the workspace's execution
//! store, where the execution waiting with the token (in this process or another) reads it.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use serde_json::Value;
use sluice_states::{Engine, Registry};

use crate::workspace::Workspace;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The task succeeded with this output (SendTaskSuccess).
    Success {
        /// The task token (`$$.Task.Token` in the task's request).
        token: String,
        /// The task's output, JSON (at most 256 KiB).
        #[arg(long)]
        output: String,
    },
    /// The task failed with this error and cause, which its Retry and Catch see
    /// (SendTaskFailure).
    Failure {
        token: String,
        #[arg(long, default_value = "")]
        error: String,
        #[arg(long, default_value = "")]
        cause: String,
    },
    /// The task is still working: its HeartbeatSeconds count again from now
    /// (SendTaskHeartbeat).
    Heartbeat { token: String },
}

pub async fn run(root: &Path, cmd: Command) -> anyhow::Result<ExitCode> {
    let path = Workspace::new(root).executions();
    if !path.exists() {
        bail!(
            "no executions: {} does not exist, so no task waits for a callback",
            path.display()
        );
    }
    let engine = Engine::open(&path, Registry::new()).await?;
    match cmd {
        Command::Success { token, output } => {
            let output: Value =
                serde_json::from_str(&output).context("InvalidOutput: --output must be JSON")?;
            engine.send_task_success(&token, &output).await?;
        }
        Command::Failure {
            token,
            error,
            cause,
        } => engine.send_task_failure(&token, &error, &cause).await?,
        Command::Heartbeat { token } => engine.send_task_heartbeat(&token).await?,
    }
    Ok(ExitCode::SUCCESS)
}
