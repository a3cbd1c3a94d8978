//! `sluice run-asl FILE --input JSON`: the engine on its own. Any Amazon States Language
//! definition runs with its Task resources bound to shell commands (`--task
//! RESOURCE=COMMAND`: the task input on stdin, its output on stdout) or echoed (`--echo`),
//! with durable history in the workspace's execution store, so `sluice executions` and
//! `sluice redrive` work on it as on ingest executions.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_states::items::{DirObjects, Objects};
use sluice_states::{EchoHandler, Engine, Execution, Registry, ShellHandler, StartRequest, Status};

use crate::workspace::Workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The definition (JSON, JSONPath query language).
    file: PathBuf,
    /// The execution input: JSON text, or @FILE to read it from a file.
    #[arg(long, default_value = "{}")]
    input: String,
    /// The execution name (1-80 letters, digits, '-', '_'); default: a fresh one. The same
    /// name with the same input returns the earlier execution instead of running again.
    #[arg(long)]
    name: Option<String>,
    /// Bind a Task resource to a shell command, e.g.
    /// --task 'arn:aws:lambda:us-east-1:123:function:Double=jq ".n * 2"'. Repeatable.
    #[arg(long = "task", value_name = "RESOURCE=COMMAND")]
    tasks: Vec<String>,
    /// Tasks bound to nothing else return their input.
    #[arg(long)]
    echo: bool,
    /// Replace a `${NAME}` placeholder in the definition (as CDK's definitionSubstitutions).
    /// Repeatable.
    #[arg(long = "sub", value_name = "NAME=VALUE")]
    subs: Vec<String>,
    /// The state machine's name (executions are listed under it); default: the file stem.
    #[arg(long)]
    state_machine: Option<String>,
    /// A directory whose subdirectories are buckets, for distributed Map's ItemReader and
    /// ResultWriter (`s3://bucket/key` → DIR/bucket/key).
    #[arg(long)]
    bucket_dir: Option<PathBuf>,
    /// Only parse and check the definition; print every problem with its JSON path.
    /// Placeholders without a --sub value stand for themselves.
    #[arg(long)]
    check: bool,
}

/// How a run-asl state machine's tasks were bound, kept for `sluice redrive`.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Bindings {
    tasks: BTreeMap<String, String>,
    echo: bool,
    bucket_dir: Option<PathBuf>,
}

fn bindings_path(root: &Path, state_machine: &str) -> PathBuf {
    Workspace::new(root)
        .bindings()
        .join(format!("{state_machine}.json"))
}

fn registry(b: &Bindings) -> Registry {
    let mut registry = Registry::new();
    for (resource, command) in &b.tasks {
        registry.bind(
            resource.clone(),
            Arc::new(ShellHandler::new(command.clone())),
        );
    }
    if b.echo {
        registry.set_fallback(Arc::new(EchoHandler));
    }
    registry
}

fn load(root: &Path, state_machine: &str) -> anyhow::Result<Bindings> {
    let path = bindings_path(root, state_machine);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "state machine {state_machine}: its task bindings ({}) are missing",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// The registry a `run-asl` state machine was started with.
pub fn saved_registry(root: &Path, state_machine: &str) -> anyhow::Result<Registry> {
    Ok(registry(&load(root, state_machine)?))
}

/// Its bucket directory, if it had one.
pub fn saved_objects(root: &Path, state_machine: &str) -> anyhow::Result<Option<Arc<dyn Objects>>> {
    Ok(load(root, state_machine)?
        .bucket_dir
        .map(|d| Arc::new(DirObjects::new(d)) as Arc<dyn Objects>))
}

fn pairs(items: &[String], flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            // The command may contain '='; the resource (an ARN) does not.
            item.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("{flag} {item:?}: expected NAME=VALUE"))
        })
        .collect()
}

pub async fn run(root: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let subs: HashMap<String, String> = pairs(&args.subs, "--sub")?.into_iter().collect();
    let text = match sluice_states::parse::substitute(&raw, &subs) {
        Ok(text) => text,
        // A lint of a CDK-templated file: placeholders stand for themselves.
        Err(missing) if args.check => {
            let mut all = subs.clone();
            all.extend(missing.into_iter().map(|m| (m.clone(), m)));
            sluice_states::parse::substitute(&raw, &all)
                .map_err(|m| anyhow::anyhow!("unbound placeholders: {}", m.join(", ")))?
        }
        Err(missing) => bail!(
            "{}: placeholders with no --sub value: {}",
            args.file.display(),
            missing.join(", ")
        ),
    };
    if let Err(problems) = sluice_states::parse_definition(&text) {
        for p in &problems.0 {
            eprintln!("{}: {}: {}", args.file.display(), p.path, p.message);
        }
        bail!(
            "{}: {} problem(s) in the definition",
            args.file.display(),
            problems.0.len()
        );
    }
    if args.check {
        outln!("{}: ok", args.file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let input_text = match args.input.strip_prefix('@') {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("--input: reading {path}"))?
        }
        None => args.input.clone(),
    };
    let input: Value = serde_json::from_str(&input_text).context("--input is not JSON")?;
    let state_machine = match &args.state_machine {
        Some(s) => s.clone(),
        None => args
            .file
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_"))
            .unwrap_or_else(|| "state-machine".into()),
    };
    if state_machine == sluice_local::STATE_MACHINE {
        bail!("the state machine name {state_machine} is sluice's own; pick another with --state-machine");
    }
    let bindings = Bindings {
        tasks: pairs(&args.tasks, "--task")?.into_iter().collect(),
        echo: args.echo,
        bucket_dir: args.bucket_dir.clone(),
    };
    let path = bindings_path(root, &state_machine);
    std::fs::create_dir_all(path.parent().unwrap_or(root))
        .with_context(|| format!("creating {}", path.display()))?;
    std::fs::write(&path, serde_json::to_vec_pretty(&bindings)?)
        .with_context(|| format!("writing {}", path.display()))?;

    let mut engine = Engine::open(&Workspace::new(root).executions(), registry(&bindings)).await?;
    if let Some(dir) = &bindings.bucket_dir {
        engine = engine.with_objects(Arc::new(DirObjects::new(dir.clone())));
    }
    let name = args.name.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            &uuid_like()
        )
    });
    let outcome = engine
        .start(StartRequest {
            state_machine,
            definition: text,
            name,
            input,
        })
        .await?;
    if outcome.existing {
        eprintln!(
            "execution {} already existed with this input; nothing ran",
            outcome.execution.name
        );
    }
    print_finished(&outcome.execution)
}

/// Eight hex digits from the clock and the process id: enough to keep names apart.
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{:08x}", nanos ^ std::process::id().rotate_left(16))
}

/// Prints how an execution ended: its output, or its error and cause. Exit 0 when it
/// succeeded, 2 when it did not (redrive it after a fix).
pub fn print_finished(e: &Execution) -> anyhow::Result<ExitCode> {
    eprintln!(
        "execution {} {} (redrives: {})",
        e.name,
        e.status.as_str(),
        e.redrive_count
    );
    if e.status == Status::Succeeded {
        let output = e.output.clone().unwrap_or(Value::Null);
        outln!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "status": e.status.as_str(),
            "error": e.error,
            "cause": e.cause,
        }))?
    );
    eprintln!("fix the cause, then `sluice redrive {}`", e.name);
    Ok(ExitCode::from(2))
}
