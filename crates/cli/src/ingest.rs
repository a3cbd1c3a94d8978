//! `sluice ingest PATH...`: each file is an arrival. It is copied into the landing bucket
//! under its table's prefix (as an upload to S3 would be), then runs as one execution of
//! statemachine/ingest.asl.json on the engine. Ends with a table of what happened to every
//! file, the paths refused (not landed) and a summary line.
//!
//! Which files a PATH stands for, and under which key each lands (the path relative to a
//! given directory), is `sources.rs`. A path that cannot be landed is named and the rest go
//! on; the exit code says that something given was not landed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sluice_core::config::TableConfig;
use sluice_local::{ArrivalReport, Local};
use sluice_steps::payload::Arrival;
use sluice_steps::Progress;

use crate::print::{exit_code, print_table, summary};
use crate::sources::{shown, Found, Passed, Source, Walker};
use crate::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (or directories, read recursively in name order) to ingest, in this order. A
    /// file found under a directory lands at the table's prefix plus its path relative to
    /// that directory (`data/dt=1/a.ndjson` given as `data`: `<prefix>dt=1/a.ndjson`); a file
    /// given by name at the prefix plus its name. A file given twice is taken once; a second
    /// file for a key already taken, a name no object key can hold, a symbolic link met in a
    /// directory (see --follow-symlinks) and anything not a regular file are refused by name
    /// (exit 3) while the rest go on. The workspace and `.sluice` directories are left out.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Follow symbolic links met while walking a directory (a loop is walked once). Without
    /// it each link is refused by name. A PATH given here is always taken as given.
    #[arg(long)]
    follow_symlinks: bool,
    /// Table to land the files in; needed when the configuration has several tables.
    #[arg(long)]
    table: Option<String>,
    /// Print the per-file results as JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    /// Files validated at once (reading, checking rows, writing Parquet: the heavy part).
    /// Beyond those, up to `[commit] max_batches` arrivals (at most 256) are under way, most
    /// of them waiting for a validation slot or for their commit, and commits group: a
    /// committer waits for the arrivals still on their way and takes every staged batch into
    /// one snapshot, so many small files make few snapshots (see `[commit]` in sluice.toml).
    /// `--jobs 1` validates them one by one.
    #[arg(long, short = 'j', default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
}

/// Arrivals under way at once, at most, whatever `[commit] max_batches` says: each holds an
/// execution lock file and, while it is landed, a file being copied.
const MAX_IN_FLIGHT: usize = 256;

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let jobs = usize::from(args.jobs);
    let local = open_with_progress(root, config, Some(jobs)).await?;
    let table = pick_table(&local, config, args.table.as_deref())?;
    // Walked once the workspace exists, so that a walk over it can leave it out.
    let walker = Walker {
        prefix: table.prefix.clone(),
        follow_symlinks: args.follow_symlinks,
        workspace: std::fs::canonicalize(root).ok(),
    };
    let Found {
        sources,
        mut refused,
        left_out,
    } = walker.walk(&args.paths);
    for passed in &left_out {
        eprintln!("left out: {}: {}", shown(&passed.path), passed.why);
    }
    let in_flight = jobs.max(local.ctx.config.commit.max_batches.min(MAX_IN_FLIGHT));
    // Each arrival is a task of its own, so that the steps' async work (Parquet encoding,
    // commits) spreads over the runtime's threads; reports come back in file order.
    let mut runs = futures::stream::iter(sources.iter().cloned())
        .map(|source| {
            let (local, table) = (local.clone(), table.clone());
            tokio::spawn(async move { land_and_run(&local, &table, &source).await })
        })
        .buffered(in_flight);
    let mut reports = Vec::with_capacity(sources.len());
    while let Some(report) = runs.next().await {
        let report = match report.context("an arrival's task ended abnormally")? {
            Ok(Landed::Ran(report)) => *report,
            Ok(Landed::Refused(passed)) => {
                refused.push(passed);
                continue;
            }
            Err(e) => return Err(e),
        };
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        }
        reports.push(report);
    }
    if args.json {
        for passed in &refused {
            let line = serde_json::json!({
                "path": passed.path.to_string_lossy(),
                "outcome": "refused",
                "detail": passed.why,
            });
            outln!("{line}");
        }
    } else {
        print_table(&reports);
        print_refused(&refused);
    }
    outln!("{}", summary(&reports));
    if !refused.is_empty() {
        outln!(
            "{} paths refused (not landed): each is named above with the reason",
            refused.len()
        );
    }
    // An execution to redrive (2) says more than a path not landed (3).
    let unfinished = reports.iter().any(|r| r.unfinished);
    Ok(if !unfinished && !refused.is_empty() {
        ExitCode::from(3)
    } else {
        exit_code(&reports)
    })
}

/// One line per path refused, with the reason.
pub fn print_refused(refused: &[Passed]) {
    for passed in refused {
        outln!(
            "refused (not landed): {}: {}",
            shown(&passed.path),
            passed.why
        );
    }
}

/// The workspace's engine, its steps reporting read progress on a bar.
/// `jobs`: validations at once (default: no bound beyond the callers' own).
pub async fn open_with_progress(
    root: &Path,
    config: &Path,
    jobs: Option<usize>,
) -> anyhow::Result<Local> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    // One bar over every file being read, as several run at once: each file adds its size
    // when it starts and its bytes as they are read; the bar clears when none is running.
    let state = Arc::new(Mutex::new((bar, HashMap::<String, u64>::new())));
    let mut ctx = workspace::open(root, config).await?;
    refuse_contradicting_contracts(&ctx).await?;
    if let Some(jobs) = jobs {
        ctx = ctx.with_jobs(jobs);
    }
    let ctx = ctx.with_progress(Arc::new(move |object, p| {
        let Ok(mut guard) = state.lock() else { return };
        let (bar, running) = &mut *guard;
        let id = object.ledger_key();
        match p {
            Progress::Started { size } => {
                if running.is_empty() {
                    bar.reset();
                    bar.set_length(0);
                }
                bar.inc_length(size);
                running.insert(id, 0);
                bar.set_message(object.file_name().to_string());
            }
            Progress::Read { bytes } => {
                let seen = running.entry(id).or_default();
                bar.inc(bytes.saturating_sub(*seen));
                *seen = (*seen).max(bytes);
            }
            Progress::Finished => {
                running.remove(&id);
                if running.is_empty() {
                    bar.finish_and_clear();
                }
            }
        }
    }));
    workspace::local_on(root, ctx).await
}

/// Refuses a contract that contradicts its existing table
/// ([`sluice_steps::Context::check_contract_fits`]) or breaks its compatibility mode against
/// the version recorded before it, and records it as a new version when it is one, before any
/// file is landed or judged; the drift step checks again for every file.
pub async fn refuse_contradicting_contracts(ctx: &sluice_steps::Context) -> anyhow::Result<()> {
    for table in &ctx.config.tables {
        // A table that cannot be loaded (a lost catalog) is left to the executions, which
        // refuse it with their own error and wait for a repair and a redrive.
        if let Ok(Some(loaded)) = ctx.lake.load(table).await {
            let current =
                sluice_lake::schema::from_iceberg_schema(loaded.metadata().current_schema())?;
            ctx.check_contract_fits(table, &current)
                .map_err(|e| anyhow::anyhow!(e.message))?;
        }
        ctx.contract_version(table)
            .await
            .map_err(|e| anyhow::anyhow!(e.message))?;
    }
    Ok(())
}

/// The table files land in: `--table`, or the only one configured.
pub fn pick_table(local: &Local, config: &Path, name: Option<&str>) -> anyhow::Result<TableConfig> {
    let cfg = &local.ctx.config;
    Ok(match (name, cfg.tables.as_slice()) {
        (Some(name), _) => cfg
            .table(name)
            .with_context(|| format!("no table {name:?} in {}", config.display()))?
            .clone(),
        (None, [only]) => only.clone(),
        (None, _) => bail!("{} has several tables: pass --table NAME", config.display()),
    })
}

/// What became of a source: it ran as an execution, or it could not be landed.
pub enum Landed {
    Ran(Box<ArrivalReport>),
    Refused(Passed),
}

/// Copies `source` into the bucket at its key and runs the arrival. A file that cannot be
/// copied (gone, unreadable, swapped for a link since it was found) is refused, not fatal;
/// an execution that cannot be run is an error.
pub async fn land_and_run(
    local: &Local,
    table: &TableConfig,
    source: &Source,
) -> anyhow::Result<Landed> {
    let refused = |why: String| {
        Ok(Landed::Refused(Passed {
            path: source.shown.clone(),
            why,
        }))
    };
    // `read` is the file itself, or a link's target resolved when links are followed: a
    // link here was swapped in after the walk.
    match std::fs::symlink_metadata(&source.read) {
        Ok(md) if md.is_file() => {}
        Ok(_) => return refused("no longer a regular file".into()),
        Err(e) => return refused(format!("cannot be read: {e}")),
    }
    // On its way from now: a committer of the table waits for it (group commit).
    let _running = local.ctx.flow.arrival(&table.name);
    let store = &local.ctx.store;
    let meta = match store.put_file(&source.key, &source.read).await {
        Ok(meta) => meta,
        Err(e) => return refused(format!("landing it at {} failed: {e}", source.key)),
    };
    let arrival = Arrival {
        bucket: store.bucket().to_string(),
        key: source.key.clone(),
        version_id: meta.version_id.clone(),
        etag: Some(meta.etag.clone()),
        sequencer: None,
        event: Default::default(),
        time: None,
    };
    let report = local
        .ingest_counted(&arrival)
        .await
        .with_context(|| format!("running the execution for {}", source.shown.display()))?;
    Ok(Landed::Ran(Box::new(report)))
}
