//! The `sluice` command: the local face of sluice.
//!
//! Every subcommand opens the workspace (a directory holding the landing bucket, the
//! embedded Iceberg catalog and its warehouse) and the configuration, then does one thing.
//! `anyhow` lives here and only here; the libraries return typed errors.
//!
//! # Layout
//! - `workspace.rs`: where things live, opening the steps' context
//! - `ingest.rs`: `sluice ingest PATH...` (one execution of the definition per file)
//! - `sources.rs`: what PATHs and drop folders stand for: files, their landing keys, refusals
//! - `watch.rs`: `sluice watch DIR`
//! - `reconcile.rs`: `sluice reconcile` (lost events, watermarks)
//! - `backfill.rs`: `sluice backfill PREFIX [--aws]` (statemachine/backfill.asl.json)
//! - `executions.rs`: `sluice executions list|describe|history`, through `port.rs`'s
//!   `Executions` (the engine locally, Step Functions with `--aws`)
//! - `redrive.rs`: `sluice redrive NAME|--all`; `replay.rs`: `sluice replay …`
//! - `print.rs`: the tables, summaries and exit codes the commands share
//! - `asl.rs`: `sluice run-asl FILE` (the engine on its own)
//! - `table.rs`: `sluice table show`
//! - `quarantine.rs`: `sluice quarantine list|show`
//! - `files.rs`: `sluice files`
//! - `rejects.rs`: `sluice rejects FILE|--batch B` (rejected rows of any file)
//! - `out.rs`: `outln!` (stdout that ends quietly on a closed pipe), errors printed once
//! - `gc.rs`: `sluice gc` (staged files that will never commit, spent manifests)
//! - `compact.rs`: `sluice compact` (small data files rewritten as few, one `replace`
//!   snapshot per partition)
//! - `doctor.rs`: `sluice doctor` (catalog, identity records, ledger, data files and
//!   executions checked against each other; `--repair`)
//! - `completions.rs`: `sluice completions SHELL`, `sluice man` (from the clap definition)
//! - `task.rs`: `sluice task success|failure|heartbeat TOKEN` (callback tasks)
//! - `target.rs`: `--aws`, `--stack NAME` and the flags that name the stack's resources one
//!   by one; `stack.rs`: what they resolve to (the deployed stack's outputs);
//!   `remote.rs`: the steps' context on S3 and Glue, which `quarantine`, `files`, `table`
//!   and `gc` open with `--aws`
//! - `aws.rs`: Step Functions behind `executions`, `redrive` and `replay --aws`, and
//!   `dlq replay`; `dlq.rs`: `sluice dlq list|replay`
//! - `archive.rs`: `sluice archive replay` (EventBridge's archive of a table's arrivals)
//! - `threads.rs`: `--threads N`, the runtime and the cores it may use
//!
//! The AWS SDK is behind the `aws` feature (default): without it, stack.rs, aws.rs, dlq.rs,
//! archive.rs and the `--aws` branches are not compiled, and `--aws`, `dlq` and `archive` are
//! parsed as ever but refused with exit code 2 (`without_aws`).

#[macro_use]
mod out;

mod alloc;
#[cfg(feature = "aws")]
mod archive;
mod asl;
#[cfg(feature = "aws")]
mod aws;
mod backfill;
mod compact;
mod completions;
mod contract;
#[cfg(feature = "aws")]
mod dlq;
mod doctor;
mod drift;
mod events;
mod executions;
mod expire;
mod files;
mod gc;
mod ingest;
mod maintain;
mod port;
mod print;
mod quarantine;
mod reconcile;
mod redrive;
mod rejects;
mod remote;
mod replay;
mod serve;
mod sources;
#[cfg(feature = "aws")]
mod stack;
mod table;
mod target;
mod task;
mod threads;
mod watch;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The engine and the steps allocate many small JSON values; mimalloc does that well. Its
// options are set before the first allocation (see `alloc`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const AFTER_HELP: &str = "\
Workspace layout (--workspace, default ./lake):
  landing/             the bucket: objects land under their table's prefix
  landing/.sluice/     control objects: ledger, staged manifests, rejects, quarantine records;
                       tmp/ holds copies until they are complete (`gc` removes stale ones)
  warehouse/           Iceberg tables (Parquet data files and metadata)
  catalog.db           the embedded Iceberg SQL catalog (SQLite)
  executions.db        the Step Functions engine's executions and their histories (SQLite)
  bindings/            task bindings of `run-asl` state machines, for `redrive`

Every arrival runs as one execution of statemachine/ingest.asl.json, the definition CDK
deploys, on sluice's own Step Functions engine: Filter, DetectDrift, Validate, Commit, with
the definition's retries; bad files go to Quarantine. An execution that fails (an internal
error, retries exhausted, the process killed) keeps its history: fix the cause, then
`sluice redrive NAME` resumes it at the state that failed without re-running what succeeded
(`sluice redrive --all`: every one). An execution whose process stopped shows ABORTED.

The deployed stack (--aws): quarantine list|show, files, table show, gc, reconcile,
executions, redrive and replay take --aws and then operate the stack the CDK app deployed
instead of the workspace: the bucket on S3, the tables in Glue (or in the stack's S3 Tables
table bucket), Step Functions, the reconcile function; dlq and archive always do. --stack
NAME (or SLUICE_STACK) reads the bucket, state machine, warehouse, table bucket, queues and
function from the CloudFormation stack's outputs; a flag naming one of them (--bucket,
--state-machine-arn, --warehouse, --table-bucket-arn, --queue-url, --function) wins over the
output. --config is still the configuration the stack was deployed
with (tables, prefixes, contracts). Credentials and region come from the AWS SDK's chain
(AWS_PROFILE, AWS_REGION, SSO, instance role). Each command's --help names the IAM actions
it needs; every one with --stack needs cloudformation:DescribeStacks. For instance:
  sluice --aws --stack sluice-prod quarantine list
  sluice --aws --stack sluice-prod files --state quarantined
  sluice --aws --stack sluice-prod reconcile --table orders
  sluice --stack sluice-prod dlq list
  sluice --stack sluice-prod archive replay --table orders --since 2026-03-01 --wait

Exit codes:
  0  the command ran (files that ended in quarantine are a result, not a failure)
  1  bad usage, configuration or contract, or an operation failed (`compact`: a partition
     conflicted with another commit); with --aws also: the
     stack does not exist (in this region), no credentials, an output or flag missing, a
     resource in another region, a message kept in the dead-letter queue
  2  an execution did not finish (FAILED, TIMED_OUT or ABORTED): fix, then `sluice redrive NAME`;
     or --aws, dlq or archive in a build without AWS support (without the `aws` feature)
  3  `ingest`: every execution finished, but some paths given were not landed (a name no
     object key can hold, a symbolic link not followed, a second file for one key, not a
     regular file, unreadable); each is named with its reason

Examples (from a clone of the repository; the configuration named once for all of them):
  export SLUICE_CONFIG=examples/orders/sluice.toml
  sluice ingest examples/orders/data/*
  sluice table show orders
  sluice quarantine list
  sluice files --state quarantined
  sluice rejects orders-2026-03-02-some-invalid.ndjson
  sluice executions list --status FAILED
  sluice executions history ingest-orders-2026-03-01_ndjson-981502fdda55f6f8
  sluice redrive ingest-orders-2026-03-01_ndjson-981502fdda55f6f8
  sluice redrive --all --status ABORTED
  sluice replay --reason drift_blocked
  sluice watch inbox/
  sluice reconcile --table orders
  sluice gc --dry-run
  sluice compact --table orders
  sluice doctor --repair
  sluice run-asl machine.asl.json --input '{\"n\": 1}' --task 'Inc=jq .n+1'";

/// sluice lands files in Apache Iceberg tables exactly once: it routes each arrived file to
/// its table, checks every row against the table's JSON Schema contract, handles schema
/// drift by policy, quarantines what is bad with a reason, and commits the rest in an
/// idempotent snapshot.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, after_long_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Directory of the local bucket, catalog and warehouse.
    #[arg(long, global = true, env = "SLUICE_WORKSPACE", default_value = "lake")]
    workspace: PathBuf,
    /// The configuration file (tables, prefixes, contracts, drift policies).
    #[arg(
        long,
        global = true,
        env = "SLUICE_CONFIG",
        default_value = "sluice.toml"
    )]
    config: PathBuf,
    /// Cores to use: the async runtime's worker threads and the steps' pools; on Linux the
    /// process is pinned to that many CPUs, so reading and validating threads share them
    /// too. Default: every available core.
    #[arg(long, global = true, env = "SLUICE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// More log output (-v info, -vv debug); logs go to stderr. RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    target: target::Target,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Land files and ingest them: each file is an arrival under its table's prefix.
    Ingest(ingest::Args),
    /// Inspect a table (--aws: the Glue table; IAM glue:GetTable, s3:GetObject on the
    /// warehouse and .sluice/watermarks/).
    #[command(subcommand)]
    Table(table::Command),
    /// A table's contract versions: show one, the history with what changed, a diff, and a
    /// check of the configured contract (and a file) before it judges anything (--aws: the
    /// versions in the stack's bucket; IAM s3:ListBucket, s3:GetObject on .sluice/contracts/).
    #[command(subcommand)]
    Contract(contract::Command),
    /// Schema changes quarantined files wait on, and decisions on them: list, approve (the
    /// table takes the additions and the files replay) or reject (--aws: the stack's bucket
    /// and Step Functions; IAM s3:GetObject, s3:PutObject on .sluice/drift/, what `replay
    /// --aws` needs).
    #[command(subcommand, after_help = drift::AFTER_HELP)]
    Drift(drift::Command),
    /// Outbound events: what downstream systems are told (files committed or quarantined,
    /// schemas evolved, drift waiting, webhook bodies received), from the outbox (--aws: the
    /// stack's bucket; IAM s3:ListBucket, s3:GetObject on .sluice/outbox/).
    #[command(subcommand)]
    Events(events::Command),
    /// Files waiting in quarantine, and why (--aws: the records in the stack's bucket; IAM
    /// s3:ListBucket, s3:GetObject on .sluice/).
    #[command(subcommand)]
    Quarantine(quarantine::Command),
    /// Every object version the ledger knows, and its state (--aws: the stack's bucket's
    /// ledger; IAM s3:ListBucket, s3:GetObject on .sluice/).
    Files(files::Args),
    /// The rejected rows of a file, committed or quarantined: line, reason, JSON pointer,
    /// message and the row as it came.
    Rejects(rejects::Args),
    /// Find object versions whose events were lost: list each table's prefix, run what the
    /// ledger never saw, and record the table's watermark (--aws: invoke the stack's
    /// reconcile function once per table and print what it did; IAM lambda:InvokeFunction).
    Reconcile(reconcile::Args),
    /// Replay a historical prefix exactly once: one ingest execution per object version the
    /// ledger never saw, through statemachine/backfill.asl.json's Distributed Map (locally on
    /// sluice's engine, with --aws on Step Functions).
    Backfill(backfill::Args),
    /// Remove staged files that will never commit and manifests of committed batches;
    /// never a file a snapshot references, nor anything younger than --min-age (--aws: the
    /// Glue tables' data files in S3 and the stack bucket's staged manifests; IAM below).
    #[command(after_long_help = gc::AFTER_HELP)]
    Gc(gc::Args),
    /// Rewrite each partition's small data files as few files of about the target size, in
    /// one `replace` snapshot per partition: the same rows, fewer files, faster scans (--aws:
    /// the Glue tables; IAM glue:GetTable, glue:UpdateTable, s3:GetObject and s3:PutObject on
    /// the tables' files).
    #[command(after_long_help = compact::AFTER_HELP)]
    Compact(compact::Args),
    /// Remove old snapshots from each table's metadata (default: older than 7 days, all but
    /// the current one), never one exactly-once still needs; then `gc` removes the data files
    /// only they read (--aws: the Glue tables; IAM glue:GetTable, glue:UpdateTable,
    /// s3:GetObject, s3:PutObject and s3:DeleteObject on the tables' metadata).
    #[command(after_long_help = expire::AFTER_HELP)]
    Expire(expire::Args),
    /// Keep each table healthy in one run: compact small files, expire old snapshots, then
    /// collect garbage (--aws: the Glue tables; the IAM of compact, expire and gc together).
    #[command(after_long_help = maintain::AFTER_HELP)]
    Maintain(maintain::Args),
    /// Watch a drop folder: every file that appears is landed and ingested.
    Watch(watch::Args),
    /// Serve the webhook API: bodies posted to /tables/{table}/arrivals are landed and
    /// ingested; GET /arrivals/{id} says where each stands.
    #[command(long_about = serve::ABOUT)]
    Serve(serve::Args),
    /// Check catalog, table identities, ledger, data files and executions against each
    /// other and report every inconsistency (exit code 1 if any is left); --repair repairs
    /// what can be repaired safely (a lost table registered again, ledger records recreated
    /// from snapshot summaries).
    Doctor(doctor::Args),
    /// The engine's executions (or, with --aws, Step Functions'): list, describe one, show
    /// its history (IAM states:ListExecutions, states:DescribeExecution,
    /// states:GetExecutionHistory).
    Executions(executions::ExecutionsArgs),
    /// Resume a FAILED, TIMED_OUT or ABORTED execution at the state that failed, or every one
    /// with --all (--aws: RedriveExecution on Step Functions; IAM states:DescribeExecution,
    /// states:RedriveExecution).
    Redrive(redrive::RedriveArgs),
    /// Send quarantined files through the definition again (after fixing the contract,
    /// the policy or the file's cause); the ledger keeps them exactly once (--aws: started on
    /// Step Functions; IAM s3:ListBucket, s3:GetObject on .sluice/, states:StartExecution).
    Replay(replay::ReplayArgs),
    /// The deployed stack's dead-letter queue: events EventBridge could not deliver. List
    /// them, or start them; a message that is not an arrival is kept, with its reason.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Dlq(dlq::Command),
    /// The deployed stack's EventBridge archives: replay a table's arrivals of a time window.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Archive(archive::Command),
    #[cfg(not(feature = "aws"))]
    #[command(hide = true)]
    Dlq(WithoutAws),
    #[cfg(not(feature = "aws"))]
    #[command(hide = true)]
    Archive(WithoutAws),
    /// Run any Amazon States Language definition on sluice's engine, its Tasks bound to
    /// shell commands or echoed.
    RunAsl(asl::Args),
    /// Answer a callback task (`.waitForTaskToken`) by its token: success with an output,
    /// failure with an error and cause, or a heartbeat.
    #[command(subcommand)]
    Task(task::Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, sluice(1), or write one page per command with --out DIR.
    Man(completions::ManArgs),
}

impl Command {
    /// Whether the command can operate the deployed stack (`--aws`).
    fn takes_aws(&self) -> bool {
        matches!(
            self,
            Command::Table(_)
                | Command::Contract(_)
                | Command::Drift(_)
                | Command::Events(_)
                | Command::Quarantine(_)
                | Command::Files(_)
                | Command::Reconcile(_)
                | Command::Backfill(_)
                | Command::Gc(_)
                | Command::Expire(_)
                | Command::Maintain(_)
                | Command::Compact(_)
                | Command::Executions(_)
                | Command::Redrive(_)
                | Command::Replay(_)
                | Command::Dlq(_)
                | Command::Archive(_)
        )
    }
}

/// The arguments of `dlq` or `archive` in a build without AWS support: taken as they come,
/// so that the command is refused with `without_aws`'s advice rather than as unknown.
#[cfg(not(feature = "aws"))]
#[derive(Debug, clap::Args)]
struct WithoutAws {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    _args: Vec<String>,
}

/// What a build without the `aws` feature says to `--aws`, `dlq` and `archive`; exit code 2.
fn without_aws() -> ExitCode {
    eprintln!(
        "sluice: this build has no AWS support; build with \
         `cargo build --release -p sluice-cli --features aws` (or `cargo install --path crates/cli`)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    alloc::configure();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let threads = cli.threads.map(usize::from);
    workspace::set_threads(threads);
    let runtime = match threads::runtime(threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sluice: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    if cli.target.aws && !cli.command.takes_aws() {
        eprintln!(
            "sluice: this command runs on the local workspace only; --aws is for quarantine, \
             files, table, gc, compact, expire, maintain, reconcile, backfill, executions, redrive, replay, dlq and archive"
        );
        return ExitCode::from(1);
    }
    if cfg!(not(feature = "aws")) && cli.target.aws {
        return without_aws();
    }
    let (ws, config, target) = (&cli.workspace, &cli.config, &cli.target);
    let result = runtime.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest::run(ws, config, args).await,
            Command::Table(cmd) => table::run(ws, config, target, cmd).await,
            Command::Contract(cmd) => contract::run(ws, config, target, cmd).await,
            Command::Drift(cmd) => drift::run(ws, config, target, cmd).await,
            Command::Events(cmd) => events::run(ws, config, target, cmd).await,
            Command::Quarantine(cmd) => quarantine::run(ws, config, target, cmd).await,
            Command::Files(args) => files::run(ws, config, target, args).await,
            Command::Rejects(args) => rejects::run(ws, config, args).await,
            Command::Reconcile(args) => reconcile::run(ws, config, target, args).await,
            Command::Backfill(args) => backfill::run(ws, config, target, args).await,
            Command::Gc(args) => gc::run(ws, config, target, args).await,
            Command::Compact(args) => compact::run(ws, config, target, args).await,
            Command::Expire(args) => expire::run(ws, config, target, args).await,
            Command::Maintain(args) => maintain::run(ws, config, target, args).await,
            Command::Watch(args) => watch::run(ws, config, args).await,
            Command::Serve(args) => serve::run(ws, config, args).await,
            Command::Doctor(args) => doctor::run(ws, config, args).await,
            Command::Executions(args) => executions::run(ws, target, args).await,
            #[cfg(feature = "aws")]
            Command::Dlq(cmd) => dlq::run(target, cmd).await,
            #[cfg(feature = "aws")]
            Command::Archive(cmd) => archive::run(target, config, cmd).await,
            #[cfg(not(feature = "aws"))]
            Command::Dlq(_) | Command::Archive(_) => Ok(without_aws()),
            Command::Redrive(args) => redrive::redrive(ws, config, target, args).await,
            Command::Replay(args) => replay::replay(ws, config, target, args).await,
            Command::RunAsl(args) => asl::run(ws, args).await,
            Command::Task(cmd) => task::run(ws, cmd).await,
            Command::Completions(args) => completions::completions(args),
            Command::Man(args) => completions::man(args),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(cause) = workspace::out_of_space(&cli.workspace, &e) {
                eprintln!("sluice: {cause}");
            }
            eprintln!("sluice: {}", out::chain(&e));
            ExitCode::from(1)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // The AWS SDK's credential chain warns of every provider it tried (IMDS off a
        // cloud host, say) in `Debug` form; the command's own error says what matters once.
        tracing_subscriber::EnvFilter::new(format!(
            "{default},sqlx=warn,iceberg=warn,aws_config=error,aws_smithy_runtime=error"
        ))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
