//! `sluice files`: the ledger, one line per object version: committed, filtered,
//! quarantined, or (after a crash) claimed or staged; and one line per removal a key's head
//! records (an `Object Deleted` event, or a delete marker reconcile found), in the state
//! `removed`. A removal is not a ledger state: it belongs to the key, not to a version, and
//! takes nothing out of the table. A ledger record or key head that cannot be read is named
//! with its reason and left out; it never hides the rest of the ledger.

use std::path::Path;
use std::process::ExitCode;

use sluice_core::keyhead::Removal;
use sluice_core::ledger::{LedgerRecord, LedgerState, STATE_NAMES};

use crate::target::Target;

/// The state `files` gives a removal line, beside the ledger's [`STATE_NAMES`].
const REMOVED: &str = "removed";

/// One line of the listing.
enum Line {
    Version(Box<LedgerRecord>),
    /// A removal of `key` in `bucket`, as the key's head records it.
    Removal {
        bucket: String,
        key: String,
        removal: Removal,
    },
}

impl Line {
    fn key(&self) -> &str {
        match self {
            Line::Version(r) => &r.object.key,
            Line::Removal { key, .. } => key,
        }
    }

    /// When it happened: a version's claim, a removal's recording.
    fn at(&self) -> &str {
        match self {
            Line::Version(r) => &r.claimed_at,
            Line::Removal { removal, .. } => &removal.recorded_at,
        }
    }

    fn state(&self) -> &'static str {
        match self {
            Line::Version(r) => r.state.name(),
            Line::Removal { .. } => REMOVED,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table's objects.
    #[arg(long)]
    table: Option<String>,
    /// Only objects in this state (`removed`: the removals the keys' heads record).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
        STATE_NAMES.iter().copied().chain([REMOVED])
    ))]
    state: Option<String>,
    /// Print JSON lines (the ledger records, and for a removal an object of the same shape
    /// with `"state": "removed"`) instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    if let Some(name) = &args.table {
        if ctx.config.table(name).is_none() {
            let names: Vec<&str> = ctx.config.tables.iter().map(|t| t.name.as_str()).collect();
            anyhow::bail!(
                "no table {name:?} in {}; its tables are: {}",
                config.display(),
                names.join(", ")
            );
        }
    }
    let listing = ctx.ledger.listing().await?;
    for c in &listing.corrupt {
        eprintln!(
            "sluice: corrupt ledger record {} skipped: {} (`sluice doctor` reports it)",
            c.key, c.reason
        );
    }
    // A record names its table once validated; one only claimed (an execution under way, or
    // stopped by a crash) belongs to the table its key routes to.
    let table_of = |r: &sluice_core::ledger::LedgerRecord| -> Option<String> {
        r.table
            .clone()
            .or_else(|| ctx.config.route(&r.object.key).map(|t| t.name.clone()))
    };
    let (heads, unreadable) = ctx.ledger.removals().await?;
    for c in &unreadable {
        eprintln!(
            "sluice: unreadable key head {} skipped: {} (its removals are not shown)",
            c.key, c.reason
        );
    }
    let removals = heads.into_iter().flat_map(|head| {
        head.removals.into_iter().map(move |removal| Line::Removal {
            bucket: head.bucket.clone(),
            key: head.key.clone(),
            removal,
        })
    });
    let table_of_line = |l: &Line| -> Option<String> {
        match l {
            Line::Version(r) => table_of(r),
            Line::Removal { key, .. } => ctx.config.route(key).map(|t| t.name.clone()),
        }
    };
    let mut lines: Vec<Line> = listing
        .records
        .into_iter()
        .map(|r| Line::Version(Box::new(r)))
        .chain(removals)
        .filter(|l| {
            args.table
                .as_ref()
                .is_none_or(|t| table_of_line(l).as_ref() == Some(t))
        })
        .filter(|l| args.state.as_ref().is_none_or(|s| l.state() == s))
        .collect();
    // By key, then in time; stable, so the ledger's order of a key's versions stays.
    lines.sort_by(|a, b| a.key().cmp(b.key()).then_with(|| a.at().cmp(b.at())));
    if args.json {
        for l in &lines {
            let json = match l {
                Line::Version(r) => serde_json::to_string(r)?,
                Line::Removal {
                    bucket,
                    key,
                    removal,
                } => serde_json::to_string(&serde_json::json!({
                    "object": {"bucket": bucket, "key": key, "version_id": removal.version_id},
                    "table": ctx.config.route(key).map(|t| &t.name),
                    "state": REMOVED,
                    "sequencer": removal.sequencer,
                    "updated_at": removal.recorded_at,
                }))?,
            };
            outln!("{json}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Version and etag tell two versions of one key apart (an overwritten object); a
    // removal's version is its delete marker's.
    let mut t = crate::print::table([
        "key", "version", "etag", "table", "state", "rows", "rejected", "detail", "updated",
    ]);
    for l in &lines {
        let r = match l {
            Line::Version(r) => r,
            Line::Removal { key, removal, .. } => {
                t.add_row([
                    key.escape_debug().to_string(),
                    removal.version_id.clone().unwrap_or_else(|| "-".into()),
                    "-".into(),
                    table_of_line(l).unwrap_or_default(),
                    REMOVED.into(),
                    String::new(),
                    String::new(),
                    "rows already loaded stay in the table".into(),
                    removal.recorded_at.clone(),
                ]);
                continue;
            }
        };
        let state = match &r.state {
            LedgerState::Committed { snapshot_id } => format!("committed @{snapshot_id}"),
            LedgerState::Filtered { reason } => format!("filtered: {reason}"),
            LedgerState::Quarantined { reason } => format!("quarantined: {reason}"),
            LedgerState::Retracted { snapshot_id, cause } => {
                format!("retracted ({}) @{snapshot_id}", cause.as_str())
            }
            // Not finished: who holds it, and from when another execution may take it over.
            s => match &r.lease {
                Some(lease) => format!(
                    "{} (lease: {} until {})",
                    s.name(),
                    lease.owner,
                    lease.expires_at
                ),
                None => s.name().to_string(),
            },
        };
        let (rows, rejected) = r
            .rows
            .as_ref()
            .map(|c| (c.valid.to_string(), c.rejected.to_string()))
            .unwrap_or_default();
        t.add_row([
            r.object.key.escape_debug().to_string(),
            r.object.version_id.clone().unwrap_or_else(|| "-".into()),
            crate::print::short_etag(&r.object.etag),
            table_of(r).unwrap_or_default(),
            state,
            rows,
            rejected,
            r.detail.clone().unwrap_or_default(),
            r.updated_at.clone(),
        ]);
    }
    let mut by_state = std::collections::BTreeMap::<&str, usize>::new();
    let mut versions = 0;
    for l in &lines {
        if let Line::Version(r) = l {
            versions += 1;
            *by_state.entry(r.state.name()).or_default() += 1;
        }
    }
    let counts: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let removed = lines.len() - versions;
    let mut summary = format!("{versions} object versions: {}", counts.join(", "));
    if removed > 0 {
        summary.push_str(&format!("; {removed} removals"));
    }
    outln!(
        "{t}
{summary}"
    );
    Ok(ExitCode::SUCCESS)
}
