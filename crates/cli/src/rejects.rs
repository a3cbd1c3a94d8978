//! `sluice rejects FILE | --batch B`: the rejected rows of any file, committed or quarantined:
//! line, reason, JSON pointer, message and the row as it came.
//!
//! A committed file's rejected rows are kept as its quarantined file's are (the ledger record
//! names them); this is the one place to read either.

use std::path::Path;
use std::process::ExitCode;

use sluice_core::ledger::LedgerRecord;
use sluice_core::quarantine::RejectedRow;
use sluice_steps::Context;

use crate::workspace;

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("which").required(true).multiple(false))]
pub struct Args {
    /// The file: its key in the bucket (orders/a.ndjson), its file name, or its batch id.
    /// Every version of it the ledger knows is shown.
    #[arg(group = "which")]
    file: Option<String>,
    /// The batch id (as `table show` lists them and reject files are named).
    #[arg(long, group = "which", value_name = "B")]
    batch: Option<String>,
    /// Rejected rows to print per file version (0: all of them).
    #[arg(long, default_value_t = 20)]
    rows: usize,
    /// Print the rejected rows as JSON lines (line, reason, pointer, message, raw, and the
    /// object they came from) instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let ctx = workspace::open(root, config).await?;
    let listing = ctx.ledger.listing().await?;
    let wanted = args
        .file
        .as_deref()
        .or(args.batch.as_deref())
        .unwrap_or_default();
    let matching: Vec<&LedgerRecord> = listing
        .records
        .iter()
        .filter(|r| match &args.batch {
            Some(b) => r.batch_id.as_str() == b,
            None => r.object.is_named(wanted),
        })
        .collect();
    if wanted.trim().is_empty() {
        anyhow::bail!("name a file: its key, its file name or its batch id");
    }
    if matching.is_empty() {
        anyhow::bail!(
            "no file {wanted:?} in the ledger (`sluice files` lists every object version)"
        );
    }
    for r in matching {
        let state = r.state.name();
        let Some(key) = &r.rejects_key else {
            if !args.json {
                outln!(
                    "{} ({}): {state}, no rows rejected",
                    r.object.key.escape_debug(),
                    version_of(r)
                );
            }
            continue;
        };
        if args.json {
            for row in read(&ctx, key).await? {
                let mut v = serde_json::to_value(&row)?;
                v["key"] = r.object.key.clone().into();
                v["batch_id"] = r.batch_id.as_str().into();
                outln!("{}", serde_json::to_string(&v)?);
            }
            continue;
        }
        outln!(
            "{} ({}): {state}",
            r.object.key.escape_debug(),
            version_of(r)
        );
        print(&ctx, key, args.rows).await?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `batch b-…, version V` or `batch b-…, etag E…`: which version of the key this is.
fn version_of(r: &LedgerRecord) -> String {
    match &r.object.version_id {
        Some(v) => format!("batch {}, version {v}", r.batch_id.as_str()),
        None => format!(
            "batch {}, etag {}",
            r.batch_id.as_str(),
            crate::print::short_etag(&r.object.etag)
        ),
    }
}

/// The rejected rows stored at `key`. A line that cannot be read (edited by hand, cut short)
/// is named on stderr and skipped: it never hides the others.
async fn read(ctx: &Context, key: &str) -> anyhow::Result<Vec<RejectedRow>> {
    let Some((bytes, _)) = ctx.store.get_bytes(key).await? else {
        anyhow::bail!("the rejected rows at {key} are gone (removed by hand?)");
    };
    let mut rows = vec![];
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RejectedRow>(line) {
            Ok(row) => rows.push(row),
            Err(e) => eprintln!(
                "sluice: {key}, line {}: not a rejected row ({e}); skipped",
                i + 1
            ),
        }
    }
    Ok(rows)
}

/// The first `rows` rejected rows stored at `key` (0: all), as a table, with their count.
pub async fn print(ctx: &Context, key: &str, rows: usize) -> anyhow::Result<()> {
    let all = read(ctx, key).await?;
    let shown = if rows == 0 {
        all.len()
    } else {
        rows.min(all.len())
    };
    let mut t = crate::print::table(["line", "reason", "pointer", "message", "row"]);
    for row in &all[..shown] {
        t.add_row([
            row.line.to_string(),
            row.reason.to_string(),
            row.pointer.clone(),
            row.message.clone(),
            cut(&row.raw, 80),
        ]);
    }
    let more = if shown < all.len() {
        format!("; the first {shown} shown (--rows 0: all)")
    } else {
        String::new()
    };
    outln!("rejected rows: {}{more}, kept at {key}\n{t}", all.len());
    Ok(())
}

/// At most `n` characters, with `…` when cut; control characters escaped.
fn cut(text: &str, n: usize) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| {
            let shown: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect();
    if escaped.chars().count() <= n {
        return escaped;
    }
    let mut s: String = escaped.chars().take(n).collect();
    s.push('…');
    s
}
