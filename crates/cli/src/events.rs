//! `sluice events tail`: the outbound events in the outbox (`sluice_steps::events`), oldest
//! first; `--follow` keeps printing new ones as steps write them, reading only the records
//! written since its last look (one listing a poll), so following a month's outbox in the
//! stack's bucket costs a listing, not a read of every record, each half second.

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use sluice_core::layout::outbox_prefix;
use sluice_steps::events::{Event, EventType};

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The events in the outbox, oldest first (by the time of their transition): FileCommitted,
    /// FileQuarantined, SchemaEvolved, SchemaDriftPending, WatermarkAdvanced, ArrivalReceived. Each has an id
    /// consumers dedupe on and a JSON Schema in schemas/events/.
    Tail {
        /// Keep printing events as they are written, until Ctrl-C.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only events of this type.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<EventType>,
        /// Only events about this table.
        #[arg(long)]
        table: Option<String>,
        /// Only the last N events (before following).
        #[arg(long, short = 'n')]
        last: Option<usize>,
        /// Print each event as a JSON line (as written) instead of a sentence.
        #[arg(long)]
        json: bool,
    },
}

/// How often `--follow` looks for new events.
const POLL: Duration = Duration::from_millis(500);

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    cmd: Command,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    let Command::Tail {
        follow,
        kind,
        table,
        last,
        json,
    } = cmd;
    let wanted = |e: &Event| {
        kind.is_none_or(|k| e.kind == k)
            && table.as_ref().is_none_or(|t| e.table.as_ref() == Some(t))
    };
    let filtered = kind.is_some() || table.is_some();
    // Records already read, by key: a poll reads only what was written since.
    let mut seen: HashSet<String> = HashSet::new();
    let mut first = true;
    loop {
        let mut listed = ctx.store.list(&outbox_prefix()).await?;
        listed.retain(|m| !seen.contains(&m.key));
        listed.sort_by(|a, b| (&a.last_modified, &a.key).cmp(&(&b.last_modified, &b.key)));
        if first {
            // The last N need not read the others, unless a filter must see them.
            if let (Some(n), false) = (last, filtered) {
                for m in listed.drain(..listed.len().saturating_sub(n)) {
                    seen.insert(m.key);
                }
            }
        }
        let mut fresh: Vec<Event> = vec![];
        for meta in listed {
            seen.insert(meta.key.clone());
            let Some((bytes, _)) = ctx.store.get_bytes(&meta.key).await? else {
                continue;
            };
            match serde_json::from_slice::<Event>(&bytes) {
                Ok(event) if wanted(&event) => fresh.push(event),
                Ok(_) => {}
                Err(e) => tracing::warn!(key = %meta.key, error = %e, "not an event; skipped"),
            }
        }
        fresh.sort_by(|a, b| (&a.time, &a.id).cmp(&(&b.time, &b.id)));
        if first {
            if let Some(n) = last {
                fresh.drain(..fresh.len().saturating_sub(n));
            }
            first = false;
        }
        for e in &fresh {
            if json {
                outln!("{}", serde_json::to_string(e)?);
            } else {
                outln!("{}", line(e));
            }
        }
        if !follow {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One event as a sentence.
fn line(e: &Event) -> String {
    let d = &e.detail;
    let s = |k: &str| d[k].as_str().unwrap_or("").escape_debug().to_string();
    let table = e.table.as_deref().unwrap_or("-");
    let what = match e.kind {
        EventType::FileCommitted => format!(
            "{} → {} rows in snapshot {} ({} rejected{})",
            s("key"),
            d["rows_committed"],
            d["snapshot_id"],
            d["rows_rejected"],
            d["lag_ms"]
                .as_i64()
                .map(|ms| format!(", {ms} ms after it landed"))
                .unwrap_or_default()
        ),
        EventType::FileQuarantined => format!("{}: {}: {}", s("key"), s("reason"), s("detail")),
        EventType::SchemaEvolved => format!(
            "schema {} → {}: added {} ({})",
            d["previous_schema_id"],
            d["schema_id"],
            d["added"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default(),
            s("cause")
        ),
        EventType::SchemaDriftPending => format!(
            "drift change {} waits for a decision (first file {}): `sluice drift list`",
            s("change_id"),
            s("first_key")
        ),
        EventType::WatermarkAdvanced => format!(
            "every object landed up to {} is finished ({} listed, {} unfinished)",
            s("watermark"),
            d["objects"],
            d["unfinished"]
        ),
        EventType::ArrivalReceived => format!(
            "received {} ({} bytes, {})",
            s("key"),
            d["bytes"],
            s("content_type")
        ),
    };
    format!(
        "{}  {:<18} {table}  {what}  [{}]",
        e.time,
        e.kind.as_str(),
        e.id
    )
}
