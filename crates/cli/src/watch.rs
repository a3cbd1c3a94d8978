//! `sluice watch DIR`: a drop folder. Every file that appears in DIR (or is already there)
//! is landed under its table's prefix and runs as one execution, as `sluice ingest` does;
//! the filesystem's events say when, the same way S3 events do on AWS.
//!
//! A file is taken once it has stopped changing for `--settle-ms` (writers that are still
//! writing are left alone); names starting with `.` or ending in `.tmp`, `.part` or `~` are
//! ignored, so write-then-rename works. A file changed again later is a new version and
//! runs again; the same bytes again are a duplicate and run nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::{EventKind, RecursiveMode, Watcher};
use sluice_local::ArrivalReport;

use crate::ingest::{exit_code, land_and_run, open_with_progress, pick_table, summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to watch (recursively).
    dir: PathBuf,
    /// Table the files land in; needed when the configuration has several tables.
    #[arg(long)]
    table: Option<String>,
    /// How long a file must stay unchanged before it is taken, in milliseconds.
    #[arg(long, default_value_t = 300)]
    settle_ms: u64,
    /// Stop after this many arrivals (for scripts and tests); default: run until Ctrl-C.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Print each result as a JSON line instead of a sentence.
    #[arg(long)]
    json: bool,
}

fn ignored(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    name.starts_with('.')
        || name.ends_with(".tmp")
        || name.ends_with(".part")
        || name.ends_with('~')
}

/// Size and modification time: a file whose fingerprint holds still has settled.
fn fingerprint(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    m.is_file()
        .then(|| (m.len(), m.modified().ok()))
        .and_then(|(l, t)| Some((l, t?)))
}

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("watching {}", args.dir.display()))?;
    let local = open_with_progress(root, config, None).await?;
    let table = pick_table(&local, config, args.table.as_deref())?;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let _ = tx.send(res);
    })
    .context("starting the filesystem watcher")?;
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", dir.display()))?;
    eprintln!(
        "watching {} for files for table {} (Ctrl-C to stop)",
        dir.display(),
        table.name
    );

    // Path → (fingerprint when last seen, when it last changed).
    let mut pending: HashMap<PathBuf, (Option<(u64, std::time::SystemTime)>, Instant)> =
        HashMap::new();
    // What each path was when it last ran, so an unrelated event does not re-run it.
    let mut done: HashMap<PathBuf, (u64, std::time::SystemTime)> = HashMap::new();
    for entry in walk(&dir) {
        pending.insert(entry, (None, Instant::now()));
    }
    let settle = Duration::from_millis(args.settle_ms);
    let mut reports: Vec<ArrivalReport> = vec![];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            event = rx.recv() => {
                match event {
                    Some(Ok(ev)) => {
                        if matches!(ev.kind, EventKind::Create(_) | EventKind::Modify(_) | EventKind::Access(notify::event::AccessKind::Close(_))) {
                            for p in ev.paths {
                                if !ignored(&p) {
                                    pending.insert(p, (None, Instant::now()));
                                }
                            }
                        }
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "filesystem watcher"),
                    None => break,
                }
            }
            _ = tick.tick() => {
                let mut ready = vec![];
                for (path, (seen, since)) in pending.iter_mut() {
                    let now = fingerprint(path);
                    if now != *seen {
                        *seen = now;
                        *since = Instant::now();
                    } else if since.elapsed() >= settle {
                        ready.push(path.clone());
                    }
                }
                ready.sort();
                for path in ready {
                    let Some((Some(fp), _)) = pending.remove(&path) else { continue };
                    if ignored(&path) || done.get(&path) == Some(&fp) {
                        continue;
                    }
                    done.insert(path.clone(), fp);
                    let report = match land_and_run(&local, &table, &path).await {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("{}: {e:#}", path.display());
                            continue;
                        }
                    };
                    if args.json {
                        println!("{}", serde_json::to_string(&report)?);
                    } else {
                        println!("{}", line(&report));
                    }
                    reports.push(report);
                    if args.stop_after.is_some_and(|n| reports.len() >= n) {
                        println!("{}", summary(&reports));
                        return Ok(exit_code(&reports));
                    }
                }
            }
        }
    }
    println!("{}", summary(&reports));
    Ok(exit_code(&reports))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if !ignored(&p) {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn line(r: &ArrivalReport) -> String {
    let outcome = match &r.outcome {
        sluice_local::Outcome::Committed { snapshot_id, .. } => {
            format!("committed (snapshot {snapshot_id})")
        }
        sluice_local::Outcome::Quarantined { reason } => format!("quarantined: {reason}"),
        sluice_local::Outcome::Duplicate { state } => format!("duplicate ({state})"),
        sluice_local::Outcome::Filtered => "filtered".into(),
        sluice_local::Outcome::Failed { error } => format!("FAILED: {error}"),
    };
    format!("{} → {outcome}  [{}]", r.key, r.execution)
}
