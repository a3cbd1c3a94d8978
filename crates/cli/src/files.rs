//! `sluice files`: the ledger, one line per object version: committed, filtered,
//! quarantined, or (after a crash) claimed or staged. A ledger record that cannot be read is
//! named with its reason and left out; it never hides the rest of the ledger.

use std::path::Path;
use std::process::ExitCode;

use sluice_core::ledger::{LedgerState, STATE_NAMES};

use crate::stack::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table's objects.
    #[arg(long)]
    table: Option<String>,
    /// Only objects in this state.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(STATE_NAMES))]
    state: Option<String>,
    /// Print JSON lines (the ledger records) instead of a table.
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
    let records: Vec<_> = listing
        .records
        .into_iter()
        .filter(|r| {
            args.table
                .as_ref()
                .is_none_or(|t| table_of(r).as_ref() == Some(t))
        })
        .filter(|r| args.state.as_ref().is_none_or(|s| r.state.name() == s))
        .collect();
    if args.json {
        for r in &records {
            outln!("{}", serde_json::to_string(r)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Version and etag tell two versions of one key apart (an overwritten object).
    let mut t = crate::print::table([
        "key", "version", "etag", "table", "state", "rows", "rejected", "detail", "updated",
    ]);
    for r in &records {
        let state = match &r.state {
            LedgerState::Committed { snapshot_id } => format!("committed @{snapshot_id}"),
            LedgerState::Filtered { reason } => format!("filtered: {reason}"),
            LedgerState::Quarantined { reason } => format!("quarantined: {reason}"),
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
    for r in &records {
        *by_state.entry(r.state.name()).or_default() += 1;
    }
    let counts: Vec<String> = by_state.iter().map(|(s, n)| format!("{n} {s}")).collect();
    outln!(
        "{t}\n{} object versions: {}",
        records.len(),
        counts.join(", ")
    );
    Ok(ExitCode::SUCCESS)
}
