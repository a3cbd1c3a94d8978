//! `sluice executions list|describe|history`, `sluice redrive NAME|--all` and `sluice replay …`:
//! operating the engine's executions as one operates Step Functions' (ListExecutions,
//! DescribeExecution, GetExecutionHistory, RedriveExecution, StartExecution).

use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{bail, Context as _};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::Value;
use sluice_core::QuarantineReason;
use sluice_local::{Selection, STATE_MACHINE};
use sluice_states::history::Event;
use sluice_states::store::ExecutionStore;
use sluice_states::{Engine, Execution, Registry, Status};

use crate::ingest::{exit_code, print_table, summary};
use crate::workspace::{self, Workspace};

#[derive(Debug, clap::Args)]
pub struct ExecutionsArgs {
    #[command(flatten)]
    target: crate::aws::Target,
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
    #[command(flatten)]
    target: crate::aws::Target,
    /// With --aws: wait until the redriven execution ends, and exit 1 unless it succeeded.
    #[arg(long)]
    wait: bool,
}

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
    #[command(flatten)]
    target: crate::aws::Target,
    /// With --aws: the landing bucket, where the ledger and quarantine records are (the stack
    /// output BucketName).
    #[arg(long, env = "SLUICE_BUCKET", value_name = "NAME")]
    bucket: Option<String>,
}

/// The execution store alone, for commands that bind no tasks.
async fn store(root: &Path) -> anyhow::Result<Engine> {
    let path = Workspace::new(root).executions();
    if !path.exists() {
        bail!(
            "no executions yet: {} does not exist (run `sluice ingest` first)",
            path.display()
        );
    }
    Ok(Engine::open(&path, Registry::new()).await?)
}

pub async fn run(root: &Path, args: ExecutionsArgs) -> anyhow::Result<ExitCode> {
    let ExecutionsArgs { target, command } = args;
    if target.aws {
        return match command {
            Command::List {
                status,
                limit,
                json,
            } => crate::aws::list(&target, status, limit, json).await,
            Command::Describe { name } => crate::aws::describe(&target, &name).await,
            Command::History { name, json } => crate::aws::history(&target, &name, json).await,
        };
    }
    let engine = store(root).await?;
    match command {
        Command::List {
            status,
            limit,
            json,
        } => {
            let status = status
                .map(|s| Status::from_str(&s.to_ascii_uppercase()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--status: {e}"))?;
            let executions = engine.list(status, limit).await?;
            if json {
                for e in &executions {
                    outln!("{}", serde_json::to_string(e)?);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            t.set_header([
                "execution",
                "status",
                "started",
                "took",
                "redrives",
                "error",
            ]);
            for e in &executions {
                t.add_row([
                    e.name.clone(),
                    e.status.as_str().to_string(),
                    e.start_date.format("%Y-%m-%d %H:%M:%S").to_string(),
                    took(e),
                    e.redrive_count.to_string(),
                    e.error.clone().unwrap_or_default(),
                ]);
            }
            outln!("{t}");
            outln!("{}", counts(&engine).await?);
            if let Some(hint) = redrive_hint(&engine).await? {
                outln!("{hint}");
            }
        }
        Command::Describe { name } => {
            let e = engine.describe(&name).await?;
            outln!("{}", serde_json::to_string_pretty(&described(&e)?)?);
        }
        Command::History { name, json } => {
            let events = engine.history(&name).await?;
            if json {
                let events: Vec<Value> = events.iter().map(Event::to_aws).collect();
                outln!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "events": events }))?
                );
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = Table::new();
            t.load_preset(UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
            t.set_header(["id", "type", "time", "details"]);
            for e in &events {
                t.add_row([
                    e.id.to_string(),
                    e.kind.clone(),
                    e.timestamp.format("%H:%M:%S%.3f").to_string(),
                    brief(&e.details),
                ]);
            }
            outln!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// DescribeExecution's fields; for an execution of the ingest definition, right after its
/// `status`, the arrival's `outcome` (committed, quarantined and why, ...). The `output` is
/// the state document as the definition left it, whose own `status` is the last step's
/// word (a file Validate accepted and Commit then quarantined still says `accepted` there):
/// `outcome` is what became of the file.
fn described(e: &Execution) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(e)?;
    v["stateMachineArn"] = Value::String(sluice_states::store::state_machine_arn(&e.state_machine));
    if e.state_machine != STATE_MACHINE || e.status == Status::Running {
        return Ok(v);
    }
    let report = sluice_local::report::report(e, &[]);
    let mut outcome = serde_json::to_value(&report.outcome)?;
    if let Some(detail) = &report.detail {
        outcome["detail"] = Value::String(detail.clone());
    }
    let Value::Object(fields) = v else {
        return Ok(v);
    };
    let mut ordered = serde_json::Map::new();
    for (k, value) in fields {
        let after_status = k == "status";
        ordered.insert(k, value);
        if after_status {
            ordered.insert("outcome".into(), outcome.clone());
        }
    }
    Ok(Value::Object(ordered))
}

/// "N executions: a SUCCEEDED, b FAILED, …".
pub async fn counts(engine: &Engine) -> anyhow::Result<String> {
    let counts = engine.store().counts().await?;
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    let parts: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    Ok(format!("{total} executions: {}", parts.join(", ")))
}

/// How to redrive, when some executions wait for it (a `RUNNING` one whose process is gone
/// was marked `ABORTED` by the listing, so it counts).
async fn redrive_hint(engine: &Engine) -> anyhow::Result<Option<String>> {
    let waiting: u64 = engine
        .store()
        .counts()
        .await?
        .iter()
        .filter(|(s, _)| s.is_redrivable())
        .map(|(_, n)| n)
        .sum();
    Ok((waiting > 0).then(|| {
        format!(
            "{waiting} can be redriven (FAILED, TIMED_OUT or ABORTED; ABORTED: its process stopped \
             before it finished): `sluice redrive NAME`, or every one: `sluice redrive --all`"
        )
    }))
}

fn took(e: &Execution) -> String {
    match e.stop_date {
        Some(stop) => {
            let ms = (stop - e.start_date).num_milliseconds().max(0);
            if ms < 10_000 {
                format!("{ms} ms")
            } else {
                format!("{:.1} s", ms as f64 / 1000.0)
            }
        }
        None => String::new(),
    }
}

/// One line of an event's details: the state, resource, error; no payloads.
fn brief(details: &Value) -> String {
    let Some(m) = details.as_object() else {
        return String::new();
    };
    let mut parts = vec![];
    for k in [
        "name",
        "resource",
        "index",
        "length",
        "error",
        "redriveCount",
    ] {
        if let Some(v) = m.get(k) {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{k}={text}"));
        }
    }
    if let Some(Value::String(cause)) = m.get("cause") {
        let cut: String = cause.chars().take(160).collect();
        parts.push(format!("cause={cut}"));
    }
    parts.join(" ")
}

pub async fn redrive(root: &Path, config: &Path, args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let name = match (&args.name, args.all) {
        (Some(name), false) => name.clone(),
        (None, true) if args.target.aws => {
            bail!("--all redrives the local executions; with --aws, name one execution")
        }
        (None, true) => return redrive_all(root, config, args.status.as_deref()).await,
        _ => bail!("name an execution, or pass --all"),
    };
    if args.target.aws {
        return crate::aws::redrive(&args.target, &name, args.wait).await;
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
    let only = status
        .map(|s| Status::from_str(&s.to_ascii_uppercase()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--status: {e}"))?;
    if only.is_some_and(|s| !s.is_redrivable()) {
        bail!("--status: only FAILED, TIMED_OUT and ABORTED executions can be redriven");
    }
    let engine = store(root).await?;
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

pub async fn replay(root: &Path, config: &Path, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let selection = match (args.id, args.reason, args.table) {
        (Some(id), _, _) => Selection::Id(id),
        (_, Some(r), _) => Selection::Reason(
            serde_json::from_value::<QuarantineReason>(Value::String(r.clone()))
                .with_context(|| format!("--reason {r:?} is not a quarantine reason"))?,
        ),
        (_, _, Some(t)) => Selection::Table(t),
        _ => bail!("name a quarantined file, --reason or --table"),
    };
    if args.target.aws {
        return crate::aws::replay(&args.target, args.bucket.as_deref(), &selection, args.json)
            .await;
    }
    let local = workspace::local(root, config).await?;
    let (reports, skipped) = local.replay(&selection).await?;
    if let Some(code) = nothing_to_replay(reports.is_empty(), &skipped, &selection) {
        return Ok(code);
    }
    if args.json {
        for r in &reports {
            outln!("{}", serde_json::to_string(r)?);
        }
    } else {
        print_table(&reports);
    }
    outln!("replayed {}", summary(&reports));
    Ok(exit_code(&reports))
}

/// Prints the skipped files; when nothing was replayed, says so and gives the exit code (1
/// if nothing matched at all). Shared by the local and the `--aws` replay.
pub fn nothing_to_replay(
    none: bool,
    skipped: &[sluice_local::Skipped],
    selection: &Selection,
) -> Option<ExitCode> {
    for s in skipped {
        eprintln!("skipped {}: {}", s.key, s.why);
    }
    if !none {
        return None;
    }
    outln!(
        "nothing to replay: no quarantined file matches {selection} (see `sluice quarantine list`)"
    );
    Some(if skipped.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
