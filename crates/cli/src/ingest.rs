//! `sluice ingest PATH...`: each file is an arrival. It is copied into the landing bucket
//! under its table's prefix (as an upload to S3 would be), then runs as one execution of
//! statemachine/ingest.asl.json on the engine. Ends with a table of what happened to every
//! file and a summary line.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sluice_core::config::TableConfig;
use sluice_core::object::check_key;
use sluice_local::{ArrivalReport, Local, Outcome};
use sluice_steps::payload::Arrival;
use sluice_steps::Progress;

use crate::workspace;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (or directories, read recursively in name order) to ingest, in this order.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
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
    let files = expand(&args.paths)?;
    let jobs = usize::from(args.jobs);
    let local = open_with_progress(root, config, Some(jobs)).await?;
    let table = pick_table(&local, config, args.table.as_deref())?;
    let in_flight = jobs.max(local.ctx.config.commit.max_batches.min(MAX_IN_FLIGHT));
    // Each arrival is a task of its own, so that the steps' async work (Parquet encoding,
    // commits) spreads over the runtime's threads; reports come back in file order.
    let mut runs = futures::stream::iter(files.iter().cloned())
        .map(|path| {
            let (local, table) = (local.clone(), table.clone());
            tokio::spawn(async move { land_and_run(&local, &table, &path).await })
        })
        .buffered(in_flight);
    let mut reports = Vec::with_capacity(files.len());
    while let Some(report) = runs.next().await {
        let report = report.context("an arrival's task ended abnormally")??;
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        reports.push(report);
    }
    if !args.json {
        print_table(&reports);
    }
    println!("{}", summary(&reports));
    Ok(exit_code(&reports))
}

/// Exit 2 when some execution did not finish (it waits for a fix and a redrive).
pub fn exit_code(reports: &[ArrivalReport]) -> ExitCode {
    if reports.iter().any(|r| r.unfinished) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
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

/// Copies `path` into the bucket under the table's prefix and runs the arrival.
pub async fn land_and_run(
    local: &Local,
    table: &TableConfig,
    path: &Path,
) -> anyhow::Result<ArrivalReport> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: file name is not UTF-8", path.display()))?;
    let key = format!("{}{name}", table.prefix);
    // On its way from now: a committer of the table waits for it (group commit).
    let _running = local.ctx.flow.arrival(&table.name);
    check_key(&key).with_context(|| format!("{}: cannot be an object key", path.display()))?;
    let store = &local.ctx.store;
    let meta = store
        .put_file(&key, path)
        .await
        .with_context(|| format!("landing {}", path.display()))?;
    let arrival = Arrival {
        bucket: store.bucket().to_string(),
        key,
        version_id: meta.version_id.clone(),
        etag: Some(meta.etag.clone()),
        sequencer: None,
        event: Default::default(),
    };
    local
        .ingest_counted(&arrival)
        .await
        .with_context(|| format!("running the execution for {}", path.display()))
}

/// Files in argument order; a directory contributes its files in name order.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![];
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("{}", p.display()))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("{}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            out.extend(expand(&entries)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

pub fn print_table(reports: &[ArrivalReport]) {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_header(["file", "result", "rows", "rejected", "snapshot", "detail"]);
    for r in reports {
        let (result, snapshot) = match &r.outcome {
            Outcome::Committed {
                snapshot_id,
                already: false,
            } => ("committed".to_string(), snapshot_id.to_string()),
            Outcome::Committed {
                snapshot_id,
                already: true,
            } => (
                "committed (earlier run)".to_string(),
                snapshot_id.to_string(),
            ),
            Outcome::Filtered => ("filtered".to_string(), String::new()),
            Outcome::Duplicate { state } => (format!("duplicate ({state})"), String::new()),
            Outcome::Quarantined { reason } => (format!("quarantined: {reason}"), String::new()),
            Outcome::Failed { error } => (format!("FAILED: {error}"), String::new()),
        };
        let (rows, rejected) = match (&r.outcome, &r.rows) {
            (Outcome::Duplicate { .. }, _) | (_, None) => (String::new(), String::new()),
            (Outcome::Committed { .. }, Some(c)) => (c.valid.to_string(), c.rejected.to_string()),
            (_, Some(c)) => ("0".to_string(), c.rejected.to_string()),
        };
        let file = r.key.rsplit('/').next().unwrap_or(&r.key).to_string();
        t.add_row([
            file,
            result,
            rows,
            rejected,
            snapshot,
            r.detail.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
}

/// One line: files by fate, rows committed and rejected, snapshots added.
pub fn summary(reports: &[ArrivalReport]) -> String {
    let mut committed = 0;
    let mut quarantined = 0;
    let mut duplicates = 0;
    let mut filtered = 0;
    let mut failed = 0;
    let mut rows = 0;
    let mut rejected = 0;
    // Snapshots these executions added. A batch found already committed in one of them was
    // taken into that snapshot by another execution's group commit, in this same run: its rows
    // count. One found in an older snapshot was committed before: they do not.
    let snapshots: BTreeSet<i64> = reports
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Committed {
                snapshot_id,
                already: false,
            } => Some(snapshot_id),
            _ => None,
        })
        .collect();
    for r in reports {
        match &r.outcome {
            Outcome::Committed { snapshot_id, .. } => {
                committed += 1;
                if snapshots.contains(snapshot_id) {
                    if let Some(c) = &r.rows {
                        rows += c.valid;
                        rejected += c.rejected;
                    }
                }
            }
            Outcome::Quarantined { .. } => quarantined += 1,
            Outcome::Duplicate { .. } => duplicates += 1,
            Outcome::Filtered => filtered += 1,
            Outcome::Failed { .. } => failed += 1,
        }
    }
    let mut line = format!(
        "{} files: {committed} committed, {quarantined} quarantined, {duplicates} duplicates, {filtered} filtered; \
         {rows} rows committed, {rejected} rows rejected, {} snapshot{} added",
        reports.len(),
        snapshots.len(),
        if snapshots.len() == 1 { "" } else { "s" }
    );
    let succeeded = reports
        .iter()
        .filter(|r| r.status == sluice_states::Status::Succeeded)
        .count();
    // Duplicates name the execution that ran before; its file may wait in quarantine.
    let in_quarantine = quarantined
        + reports
            .iter()
            .filter(
                |r| matches!(&r.outcome, Outcome::Duplicate { state } if state == "quarantined"),
            )
            .count();
    line.push_str(&format!(
        "\n{} executions of statemachine/ingest.asl.json: {} succeeded ({in_quarantine} of them in quarantine), {} did not finish",
        reports.len(),
        succeeded,
        reports.len() - succeeded
    ));
    if failed > 0 {
        line.push_str(&format!(
            "\n{failed} executions FAILED: see `sluice executions list --status FAILED`, fix, then `sluice redrive NAME`"
        ));
    }
    line
}
