//! `sluice gc [--table T] [--dry-run] [--min-age 1h]`: remove what ingestions left behind
//! that will never commit (staged files of quarantined batches, files of interrupted
//! writes) and the manifests of committed batches; never a file a snapshot references. Then,
//! once for the workspace, the temporary copies a killed ingest left in the bucket's
//! `.sluice/tmp/` (a copy is renamed into place only when complete).
//!
//! With `--aws` the same step runs on the deployed stack: the ledger and staged manifests in
//! the stack's bucket, the Glue tables, their data files listed in the warehouse's bucket
//! (see sluice-lake's `files`). Stale temporaries are a local directory's only.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use comfy_table::CellAlignment;
use sluice_steps::{GcOptions, GcReport};
use sluice_store::LocalStore;

use crate::target::Target;
use crate::workspace::{Workspace, BUCKET};

pub const AFTER_HELP: &str = "\
What goes, per table:
  spent manifests       staged-batch manifests of batches already committed
  abandoned data files  data files of batches that will never commit (quarantined, filtered,
                        or unknown to the ledger, and in no snapshot)
  abandoned manifests   their manifests, removed after their data files
  orphan data files     Parquet files in the table's data location that no snapshot
                        references and no staged batch lists (an interrupted write)

What stays:
  every file any snapshot references (all snapshots, every live manifest entry), metadata files,
  manifests and files of batches claimed or staged (an execution to finish or redrive), and
  unreferenced files younger than --min-age: a validation may be writing them right now.

And for the whole bucket:
  stale temporary copies  landing/.sluice/tmp/*: copies and writes of a killed process, never
                        renamed into place, not modified for --min-age

Deleting is idempotent and ordered (data files, then the manifest that lists them): after a
crash, run it again.

On the deployed stack (--aws): the same rules, on the stack bucket's ledger and staged
manifests and on the Glue tables, whose data files are the objects under each table's data
location in the warehouse's bucket (an object's age is its last-modified time). A versioned
bucket keeps what gc deleted as noncurrent versions until its lifecycle expires them. There
are no stale temporary copies on S3 (a write is whole or absent). IAM: glue:GetTable;
s3:ListBucket on the bucket; s3:GetObject on .sluice/ and the warehouse; s3:DeleteObject on
.sluice/staged/ and the tables' data locations.

Examples:
  sluice gc --dry-run
  sluice gc --table orders --min-age 2d
  sluice --aws --stack sluice-prod gc --dry-run";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    /// Remove nothing: print what would be removed, and each path.
    #[arg(long)]
    dry_run: bool,
    /// Keep unreferenced files younger than this. A whole number and a unit: s, m, h or d
    /// (30s, 15m, 1h, 2d).
    #[arg(long, default_value = "1h", value_parser = parse_age, value_name = "AGE")]
    min_age: Duration,
    /// Print one JSON report per table (every path, with its bytes) instead of a table.
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
    let tables = crate::remote::selected_tables(&ctx.config, args.table.as_deref(), config)?;
    let opts = GcOptions {
        dry_run: args.dry_run,
        min_age: args.min_age,
    };
    for table in &tables {
        let report = sluice_steps::gc(&ctx, table, &opts)
            .await
            .with_context(|| format!("collecting garbage of table {}", table.name))?;
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
    }
    // Not a table's: temporary copies in the bucket that a killed process never renamed.
    // Only a local bucket has them: an S3 write is whole or absent.
    if target.aws {
        return Ok(ExitCode::SUCCESS);
    }
    let landing = Workspace::new(root).landing();
    let temporaries = LocalStore::new(landing.clone(), BUCKET)
        .with_context(|| format!("opening the landing bucket {}", landing.display()))?
        .collect_stale_temporaries(args.min_age, args.dry_run)
        .await
        .context("removing stale temporary copies")?;
    let bytes: u64 = temporaries.iter().map(|(_, b)| b).sum();
    if args.json {
        let files: Vec<_> = temporaries
            .iter()
            .map(|(p, b)| serde_json::json!({"path": p.display().to_string(), "bytes": b}))
            .collect();
        let line = serde_json::json!({"stale_temporaries": files, "dry_run": args.dry_run});
        outln!("{line}");
    } else if args.dry_run {
        for (path, _) in &temporaries {
            outln!("would remove (stale temporary copy): {}", path.display());
        }
        outln!(
            "landing: dry run, would remove {} stale temporary copies, {bytes} bytes",
            temporaries.len()
        );
    } else {
        outln!(
            "landing: removed {} stale temporary copies, {bytes} bytes",
            temporaries.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_report(report: &GcReport) {
    let mut t = crate::print::table(["category", "files", "bytes"]);
    for (name, category) in report.removed().into_iter().chain(report.kept()) {
        t.add_row([
            name.to_string(),
            category.count().to_string(),
            category.bytes().to_string(),
        ]);
    }
    for column in 1..3 {
        if let Some(c) = t.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    outln!("table {}", report.table);
    outln!("{t}");
    for c in &report.corrupt_records {
        outln!(
            "corrupt ledger record {} skipped ({}); batches without a readable record and \
             orphans kept; see `sluice doctor`",
            c.key,
            c.reason
        );
    }
    if report.dry_run {
        for (name, category) in report.removed() {
            for f in &category.files {
                outln!("would remove ({name}): {}", f.path);
            }
        }
        outln!(
            "{}: dry run, would remove {} files, {} bytes",
            report.table,
            report.removed_count(),
            report.removed_bytes()
        );
    } else {
        outln!(
            "{}: removed {} files, {} bytes",
            report.table,
            report.removed_count(),
            report.removed_bytes()
        );
    }
}

/// Parses `30s`, `15m`, `1h`, `2d`: a whole number and one unit.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid age {text:?}: expected a whole number and a unit, s, m, h or d (30s, 15m, 1h, 2d)"
        )
    };
    let text_trimmed = text.trim();
    let unit_at = text_trimmed
        .char_indices()
        .last()
        .map(|(i, _)| i)
        .ok_or_else(bad)?;
    let (number, unit) = text_trimmed.split_at(unit_at);
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("invalid age {text:?}: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_a_number_and_a_unit() {
        assert_eq!(parse_age("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_age("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_age("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_age("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_age("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        for bad in ["", "h", "1", "1x", "-1h", "1.5h", "1 h", "1hh", "1H", "ひ"] {
            let e = parse_age(bad).unwrap_err();
            assert!(e.contains("30s, 15m, 1h, 2d"), "{bad:?}: {e}");
        }
        assert!(parse_age("99999999999999999999d").is_err());
        assert!(parse_age("999999999999999999d")
            .unwrap_err()
            .contains("too large"));
    }
}
