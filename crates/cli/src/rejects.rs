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
    /// object they came from; for a stream object's line, `stream`: its shard and sequence
    /// number) instead of a table.
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
            let index = stream_index(&ctx, &r.object.key).await;
            for row in read(&ctx, key).await? {
                let mut v = serde_json::to_value(&row)?;
                v["key"] = r.object.key.clone().into();
                v["batch_id"] = r.batch_id.as_str().into();
                if let Some((index, record)) = index.as_ref().and_then(|i| record_of(i, row.line)) {
                    v["stream"] = serde_json::json!({
                        "kind": index.kind,
                        "source": index.source,
                        "shard": index.shard,
                        "position": record.position,
                        "partition_key": record.key,
                    });
                }
                outln!("{}", serde_json::to_string(&v)?);
            }
            continue;
        }
        outln!(
            "{} ({}): {state}",
            r.object.key.escape_debug(),
            version_of(r)
        );
        print(&ctx, &r.object.key, key, args.rows).await?;
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

/// The index of `object` when the stream receiver wrote it (its lines' shard and sequence
/// numbers); `None` for any other object, or when it cannot be read (the rows still print).
async fn stream_index(ctx: &Context, object: &str) -> Option<sluice_steps::stream::Index> {
    match sluice_steps::stream::index_of(ctx.store.as_ref(), &ctx.config, object).await {
        Ok(index) => index,
        Err(e) => {
            eprintln!("sluice: {object}: its stream index cannot be read ({e})");
            None
        }
    }
}

/// The stream record behind line `line` (from 1).
fn record_of(
    index: &sluice_steps::stream::Index,
    line: u64,
) -> Option<(
    &sluice_steps::stream::Index,
    &sluice_steps::stream::IndexedRecord,
)> {
    let i = usize::try_from(line).ok()?.checked_sub(1)?;
    index.records.get(i).map(|r| (index, r))
}

/// The first `rows` rejected rows of `object` stored at `key` (0: all), as a table, with
/// their count; for a stream object, each with the record's shard and sequence number.
pub async fn print(ctx: &Context, object: &str, key: &str, rows: usize) -> anyhow::Result<()> {
    let all = read(ctx, key).await?;
    let index = stream_index(ctx, object).await;
    let shown = if rows == 0 {
        all.len()
    } else {
        rows.min(all.len())
    };
    let mut t = crate::print::table(["line", "reason", "pointer", "message", "row"]);
    for row in &all[..shown] {
        let line = match index.as_ref().and_then(|i| record_of(i, row.line)) {
            Some((index, record)) => format!(
                "{} ({} {}, {} {})",
                row.line,
                if index.kind == sluice_steps::stream::SourceKind::Kafka {
                    "partition"
                } else {
                    "shard"
                },
                index.shard,
                if index.kind == sluice_steps::stream::SourceKind::Kafka {
                    "offset"
                } else {
                    "sequence"
                },
                record.position
            ),
            None => row.line.to_string(),
        };
        t.add_row([
            line,
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
