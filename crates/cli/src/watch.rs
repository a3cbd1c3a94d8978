//! `sluice watch DIR`: a drop folder. Every file that appears in DIR (or is already there)
//! is landed under its table's prefix and runs as one execution, as `sluice ingest` does;
//! the filesystem's events say when, the same way S3 events do on AWS. Keys keep the path
//! relative to DIR (`sources.rs`).
//!
//! A file is taken once it is finished: its writer has closed it (on Linux the watcher sees
//! each close after a write; a writer that pauses with the file open is still writing) and
//! its size and modification time have held still for `--settle-ms` (default 2 s; where no
//! close is reported, that alone decides). Names starting with `.` (and anything in a hidden
//! directory) or ending in `.tmp`, `.part` or `~` are ignored until renamed, so
//! write-then-rename works; a directory moved in is walked. A file changed again later is a
//! new version and runs again; the same bytes again are a duplicate and run nothing.
//!
//! Under `on_delete = "delete"`, a file removed from the folder (or renamed away) is a
//! removal of the object it landed as: its landing copy is deleted and the removal runs
//! through the definition, so the rows of the key's versions leave the table. Under the
//! default `keep`, removals in the folder change nothing (the landing copy stays, for
//! replays).
//!
//! Never taken: the workspace (a DIR inside it is refused) and `.sluice` directories;
//! symbolic links unless `--follow-symlinks` (each skipped link is named once). A file that
//! cannot be landed (a name no key can hold) is named once and the watch goes on.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context as _};
use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use sluice_core::config::{OnDeletePolicy, TableConfig};
use sluice_local::ArrivalReport;
use sluice_steps::payload::{Arrival, ArrivalEvent};

use crate::ingest::{land_and_run, open_with_progress, pick_table, Landed};
use crate::print::{exit_code, summary};
use crate::sources::{shown, Walker};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to watch (recursively). It must not be inside the workspace; a
    /// workspace inside it is left out, as is any `.sluice` directory.
    dir: PathBuf,
    /// Table the files land in; needed when the configuration has several tables.
    #[arg(long)]
    table: Option<String>,
    /// How long a closed file's size and modification time must hold still before it is
    /// taken, in milliseconds. On Linux a file still open for writing is not taken until
    /// it has not changed for ten times this (at least a minute); where closes are not
    /// reported this wait is the only guard, so keep it above a writer's longest pause.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Follow symbolic links in the folder. Without it each link is named and skipped.
    #[arg(long)]
    follow_symlinks: bool,
    /// Stop after this many arrivals (for scripts and tests); default: run until Ctrl-C.
    #[arg(long)]
    stop_after: Option<usize>,
    /// Print each result as a JSON line instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Whether `rel` (relative to the folder) is left alone until renamed: a hidden name or
/// directory, or a name writers use while writing.
fn ignored(rel: &Path) -> bool {
    let hidden = rel.components().any(|c| match c {
        Component::Normal(name) => name.to_str().is_none_or(|n| n.starts_with('.')),
        _ => false,
    });
    let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
        return true;
    };
    hidden || name.ends_with(".tmp") || name.ends_with(".part") || name.ends_with('~')
}

/// Size and modification time: a file whose fingerprint holds still has settled. A link is
/// looked through only when links are followed.
fn fingerprint(path: &Path, follow: bool) -> Option<(u64, SystemTime)> {
    let m = if follow {
        std::fs::metadata(path).ok()?
    } else {
        std::fs::symlink_metadata(path).ok()?
    };
    if m.is_dir() {
        return None;
    }
    Some((m.len(), m.modified().ok()?))
}

/// A path waiting to be taken.
struct Pending {
    /// Fingerprint when last looked at.
    seen: Option<(u64, SystemTime)>,
    /// When the fingerprint last changed.
    since: Instant,
    /// Written to since the last close after a write (Linux): a writer still has it open.
    writing: bool,
}

impl Pending {
    fn new(writing: bool) -> Self {
        Pending {
            seen: None,
            since: Instant::now(),
            writing,
        }
    }
}

/// How long a file still marked as being written must stay unchanged before it is taken
/// anyway (at least ten times `--settle-ms`).
const WRITER_GONE: Duration = Duration::from_secs(60);

/// Closes after writes are reported on Linux (inotify); elsewhere only settling decides.
const CLOSES_REPORTED: bool = cfg!(target_os = "linux");

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("watching {}", args.dir.display()))?;
    let local = open_with_progress(root, config, None).await?;
    let table = pick_table(&local, config, args.table.as_deref())?;
    let workspace = root
        .canonicalize()
        .with_context(|| format!("opening the workspace {}", root.display()))?;
    if dir.starts_with(&workspace) {
        bail!(
            "{} is inside the workspace {}: sluice would ingest its own files; watch a folder outside it",
            dir.display(),
            workspace.display()
        );
    }
    let walker = Walker {
        prefix: table.prefix.clone(),
        follow_symlinks: args.follow_symlinks,
        workspace: Some(workspace),
    };

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = notify::RecommendedWatcher::new(
        move |res: notify::Result<notify::Event>| {
            let _ = tx.send(res);
        },
        notify::Config::default().with_follow_symlinks(args.follow_symlinks),
    )
    .context("starting the filesystem watcher")?;
    watcher
        .watch(&dir, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", dir.display()))?;
    eprintln!(
        "watching {} for files for table {} (Ctrl-C to stop)",
        dir.display(),
        table.name
    );

    let mut pending: HashMap<PathBuf, Pending> = HashMap::new();
    // What each path was when it last ran (or was refused), so an unrelated event does not
    // take it again.
    let mut done: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    for entry in walk(&dir, &dir, &walker) {
        pending.insert(entry, Pending::new(false));
    }
    let settle = Duration::from_millis(args.settle_ms);
    // A file created but never closed after a write (linked in with `ln`, or its writer
    // stopped for good) is taken once it has not changed for this long.
    let writer_gone = (settle * 10).max(WRITER_GONE);
    let mut reports: Vec<ArrivalReport> = vec![];
    // Under on_delete = "delete", a file removed from the folder is a removal of its object.
    let deletes = table.on_delete == OnDeletePolicy::Delete;
    let mut removed: Vec<PathBuf> = vec![];
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
            event = rx.recv() => {
                match event {
                    Some(Ok(ev)) if deletes && is_removal(&ev.kind) => {
                        for path in ev.paths {
                            if watchable(&dir, &walker, &path) && !ignored_path(&dir, &path) {
                                pending.remove(&path);
                                removed.push(path);
                            }
                        }
                    }
                    Some(Ok(ev)) => noticed(&dir, &walker, ev, &mut pending),
                    Some(Err(e)) => tracing::warn!(error = %e, "filesystem watcher"),
                    None => break,
                }
            }
            _ = tick.tick() => {
                // Files removed from the folder (on_delete = "delete"): the landing copy goes,
                // and the removal runs as S3's Object Deleted event would.
                for path in std::mem::take(&mut removed) {
                    if path.exists() {
                        continue; // replaced meanwhile: its new version is pending
                    }
                    done.remove(&path);
                    let Some(report) = remove_and_run(&local, &table, &dir, &walker, &path).await? else {
                        continue;
                    };
                    if args.json {
                        outln!("{}", serde_json::to_string(&report)?);
                    } else {
                        outln!("{}", line(&report));
                    }
                    reports.push(report);
                    if args.stop_after.is_some_and(|n| reports.len() >= n) {
                        outln!("{}", summary(&reports));
                        return Ok(exit_code(&reports));
                    }
                }
                let mut ready = vec![];
                for (path, p) in pending.iter_mut() {
                    let now = fingerprint(path, args.follow_symlinks);
                    let wait = if p.writing { writer_gone } else { settle };
                    if now != p.seen {
                        p.seen = now;
                        p.since = Instant::now();
                    } else if p.since.elapsed() >= wait {
                        ready.push(path.clone());
                    }
                }
                ready.sort();
                for path in ready {
                    let Some(Pending { seen: Some(fp), .. }) = pending.remove(&path) else { continue };
                    if done.get(&path) == Some(&fp) {
                        continue;
                    }
                    done.insert(path.clone(), fp);
                    let source = match walker.watched(&dir, &path) {
                        Ok(Some(source)) => source,
                        Ok(None) => continue,
                        Err(why) => {
                            outln!("refused (not landed): {}: {why}", shown(&path));
                            continue;
                        }
                    };
                    let report = match land_and_run(&local, &table, &source).await {
                        Ok(Landed::Ran(r)) => *r,
                        Ok(Landed::Refused(passed)) => {
                            outln!("refused (not landed): {}: {}", shown(&passed.path), passed.why);
                            continue;
                        }
                        Err(e) => {
                            eprintln!("{}: {e:#}", shown(&path));
                            continue;
                        }
                    };
                    if args.json {
                        outln!("{}", serde_json::to_string(&report)?);
                    } else {
                        outln!("{}", line(&report));
                    }
                    reports.push(report);
                    if args.stop_after.is_some_and(|n| reports.len() >= n) {
                        outln!("{}", summary(&reports));
                        return Ok(exit_code(&reports));
                    }
                }
            }
        }
    }
    outln!("{}", summary(&reports));
    Ok(exit_code(&reports))
}

/// A file removed, or moved out of its name (a rename's old name).
fn is_removal(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Remove(RemoveKind::File | RemoveKind::Any)
            | EventKind::Modify(ModifyKind::Name(RenameMode::From))
    )
}

/// Whether `path` is one the folder's rules leave alone (see [`ignored`]).
fn ignored_path(dir: &Path, path: &Path) -> bool {
    path.strip_prefix(dir).map_or(true, ignored)
}

/// The removal of the object a watched file landed as: its landing copy deleted, then a
/// removal arrival run through the definition (Filter records it, Retract takes the rows of
/// the key's versions out). `None` for a path no key can hold.
async fn remove_and_run(
    local: &sluice_local::Local,
    table: &TableConfig,
    dir: &Path,
    walker: &Walker,
    path: &Path,
) -> anyhow::Result<Option<ArrivalReport>> {
    let Ok(rel) = path.strip_prefix(dir) else {
        return Ok(None);
    };
    let Ok(key) = walker.key_for(rel) else {
        return Ok(None);
    };
    let store = &local.ctx.store;
    if store.head(&key).await?.is_none() {
        return Ok(None); // never landed (or removed already)
    }
    store
        .delete(&key)
        .await
        .with_context(|| format!("removing {key} from the landing bucket"))?;
    let arrival = Arrival {
        bucket: store.bucket().to_string(),
        key: key.clone(),
        version_id: None,
        etag: None,
        sequencer: None,
        event: ArrivalEvent::Removed,
        time: Some(sluice_steps::context::now()),
    };
    let _running = local.ctx.flow.arrival(&table.name);
    let report = local
        .ingest_counted(&arrival)
        .await
        .with_context(|| format!("running the removal of {key}"))?;
    Ok(Some(report))
}

/// Takes note of one filesystem event: which paths may have a new version, and whether a
/// writer still has them open.
fn noticed(
    dir: &Path,
    walker: &Walker,
    ev: notify::Event,
    pending: &mut HashMap<PathBuf, Pending>,
) {
    let writing = match ev.kind {
        EventKind::Create(CreateKind::File) | EventKind::Modify(ModifyKind::Data(_)) => {
            Some(CLOSES_REPORTED)
        }
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(false),
        EventKind::Create(_) | EventKind::Modify(_) => None,
        _ => return,
    };
    for path in ev.paths {
        if !watchable(dir, walker, &path) {
            continue;
        }
        // A directory created or moved in: its files raise no events of their own.
        if path.is_dir() && !path.is_symlink() {
            for file in walk(dir, &path, walker) {
                pending.entry(file).or_insert_with(|| Pending::new(false));
            }
            continue;
        }
        let entry = pending
            .entry(path)
            .or_insert_with(|| Pending::new(writing.unwrap_or(false)));
        entry.since = Instant::now();
        if let Some(writing) = writing {
            entry.writing = writing;
        }
    }
}

/// Whether `path` is one the watch may take: inside the folder, not ignored, not sluice's.
fn watchable(dir: &Path, walker: &Walker, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(dir) else {
        return false;
    };
    !rel.as_os_str().is_empty() && !ignored(rel) && !walker.in_workspace(path)
}

/// Every file under `from` (inside the folder `dir`) the watch may take, without following
/// links unless asked; the workspace is not entered.
fn walk(dir: &Path, from: &Path, walker: &Walker) -> Vec<PathBuf> {
    let mut out = vec![];
    let mut seen = std::collections::HashSet::new();
    let mut dirs = vec![from.to_path_buf()];
    while let Some(d) = dirs.pop() {
        // A followed link back up is walked once.
        let Ok(canonical) = d.canonicalize() else {
            continue;
        };
        if !seen.insert(canonical) || walker.in_workspace(&d) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(rel) = p.strip_prefix(dir) else {
                continue;
            };
            if ignored(rel) {
                continue;
            }
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            if is_link && !walker.follow_symlinks {
                // Listed, so that taking it names it as refused.
                out.push(p);
            } else if p.is_dir() {
                dirs.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

pub(crate) fn line(r: &ArrivalReport) -> String {
    let outcome = match &r.outcome {
        sluice_local::Outcome::Committed { snapshot_id, .. } => {
            format!("committed (snapshot {snapshot_id})")
        }
        sluice_local::Outcome::Quarantined { reason } => format!("quarantined: {reason}"),
        sluice_local::Outcome::Duplicate { state } => format!("duplicate ({state})"),
        sluice_local::Outcome::Filtered => "filtered".into(),
        sluice_local::Outcome::Removed { versions, .. } => {
            format!("removed: {versions} versions' rows retracted")
        }
        sluice_local::Outcome::Superseded { snapshot_id } => {
            format!("superseded: a newer version is loaded (snapshot {snapshot_id})")
        }
        sluice_local::Outcome::Failed { error } => format!("FAILED: {error}"),
    };
    format!("{} → {outcome}  [{}]", r.key.escape_debug(), r.execution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_being_written_and_hidden_directories_are_ignored() {
        for rel in [
            "a.ndjson.part",
            "a.ndjson.tmp",
            "a.ndjson~",
            ".a.ndjson",
            ".sync/a.ndjson",
            "x/.sluice/ledger/r.json",
        ] {
            assert!(ignored(Path::new(rel)), "{rel}");
        }
        assert!(!ignored(Path::new("dt=2026-06-01/part-0000.ndjson")));
    }
}
