//! `sluice quarantine list|show`: the files that wait for a person, why, and their rejected
//! rows (line, JSON pointer, message).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use sluice_core::quarantine::QuarantineRecord;
use sluice_steps::context::keys;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List quarantined files with their reason codes.
    List {
        /// Only this table's files.
        #[arg(long)]
        table: Option<String>,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one quarantined file: its record and its first rejected rows.
    Show {
        /// The file's key in the bucket (e.g. orders/a.ndjson) or just its file name.
        file: String,
        /// Rejected rows to print.
        #[arg(long, default_value_t = 20)]
        rows: usize,
    },
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    cmd: Command,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    let mut records = vec![];
    for meta in ctx.store.list(&keys::quarantine_prefix()).await? {
        let Some((bytes, _)) = ctx.store.get_bytes(&meta.key).await? else {
            continue;
        };
        let record: QuarantineRecord =
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", meta.key))?;
        records.push(record);
    }
    records.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    match cmd {
        Command::List { table, json } => {
            let records: Vec<_> = records
                .into_iter()
                .filter(|r| table.as_ref().is_none_or(|t| r.table.as_ref() == Some(t)))
                .collect();
            if json {
                for r in &records {
                    outln!("{}", serde_json::to_string(r)?);
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = crate::print::table(["file", "table", "reason", "at", "detail"]);
            for r in &records {
                t.add_row([
                    r.object.key.clone(),
                    r.table.clone().unwrap_or_default(),
                    r.reason.to_string(),
                    r.at.clone(),
                    r.detail.clone(),
                ]);
            }
            outln!("{t}\n{} files in quarantine", records.len());
        }
        Command::Show { file, rows } => {
            let matching: Vec<_> = records
                .iter()
                .filter(|r| r.object.key == file || r.object.file_name() == file)
                .collect();
            let Some(r) = matching.last() else {
                anyhow::bail!("{}", not_in_quarantine(&ctx, &file).await?);
            };
            outln!("{}", serde_json::to_string_pretty(r)?);
            if let Some((_, id)) = sluice_steps::drift_decisions::waits_on(r) {
                outln!(
                    "\nwaits on drift change {id}: `sluice drift list`, then `sluice drift \
                     approve {id}` or `reject {id} --reason TEXT`"
                );
            }
            if let Some(key) = &r.rejects_key {
                outln!();
                crate::rejects::print(&ctx, &r.object.key, key, rows).await?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Why `file` has no quarantine record, from what the ledger says of it: a committed file's
/// rejected rows are one command away.
async fn not_in_quarantine(ctx: &sluice_steps::Context, file: &str) -> anyhow::Result<String> {
    let listing = ctx.ledger.listing().await?;
    let known: Vec<_> = listing
        .records
        .iter()
        .filter(|r| r.object.key == file || r.object.file_name() == file)
        .collect();
    let Some(r) = known.last() else {
        return Ok(format!(
            "{} is not in quarantine, nor anywhere in the ledger (`sluice quarantine list`, `sluice files`)",
            file.escape_debug()
        ));
    };
    let rejected = r.rows.as_ref().map_or(0, |c| c.rejected);
    Ok(if rejected > 0 {
        format!(
            "{} is not in quarantine: it is {} with {rejected} rows rejected; see them with `sluice rejects {}`",
            file.escape_debug(),
            r.state.name(),
            r.object.key.escape_debug()
        )
    } else {
        format!(
            "{} is not in quarantine: it is {} (`sluice files` shows every version)",
            file.escape_debug(),
            r.state.name()
        )
    })
}
