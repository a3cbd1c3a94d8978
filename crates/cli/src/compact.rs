//! `sluice compact [--table T] [--target-file-size 256MB] [--min-input-files 5] [--sort a,b]
//! [--json]`: rewrite each partition's small data files as few files of about the target
//! size, one `replace` snapshot per partition (sluice-lake's `compact`). The table's
//! `[table.compaction]` settings are the defaults; the flags override them. Local only.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use comfy_table::CellAlignment;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sluice_core::config::TableConfig;
use sluice_core::size::ByteSize;
use sluice_lake::compact::{CompactProgress, GroupOutcome};
use sluice_lake::{CompactOptions, CompactReport};

pub const AFTER_HELP: &str = "\
Per partition of the table's current partitioning, the live data files smaller than three
quarters of the target size are the small ones; a partition with at least --min-input-files
of them has them read, record batch by record batch, and written again as files of about
the target size (zstd Parquet, like every file sluice writes), committed in one Iceberg
`replace` snapshot that removes the small files: readers see the same rows before and after.
With --sort, the rows of each new file are in that order (each small file is sorted in
memory, then all are merged; a file above 32 MiB is merged as it is, and the report names it).

Every new file records in its Parquet footer (key sluice.lineage) which source batch each of
its rows came from, so the rows of one source file can still be found and replaced later.

Safe to interrupt and to run again: a partition's new files are named after its inputs, so a
re-run writes the same names, and files of a run that never committed are removed by
`sluice gc`. An ingestion committing meanwhile is kept; one that removed a file being
compacted makes that partition a conflict (reported, nothing committed, exit code 1), and the
other partitions go on: run compact again.

Sizes: plain bytes or a whole number and a unit, 512k, 256MB, 1GiB (binary units).

Settings per table in sluice.toml, overridden by the flags:
  [[table]]
  ...
  [table.compaction]
  target_file_size = \"256MB\"
  min_input_files = 5
  sort = [\"customer_id\"]

Exit codes: 0 every partition compacted or left alone; 1 a partition conflicted, or an error.

Examples:
  sluice compact
  sluice compact --table orders --target-file-size 128MB --sort customer_id,ordered_at
  sluice compact --json | jq '.groups[] | select(.outcome.status == \"compacted\")'";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    /// Bytes per output file, about (default: the table's `compaction.target_file_size`,
    /// else 256MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    target_file_size: Option<ByteSize>,
    /// A partition with fewer small files is left alone (default: the table's
    /// `compaction.min_input_files`, else 5; at least 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    min_input_files: Option<u32>,
    /// Sort each output's rows by these top-level columns, comma-separated (default: the
    /// table's `compaction.sort`, else input order).
    #[arg(long, value_name = "COLUMNS", value_delimiter = ',')]
    sort: Option<Vec<String>>,
    /// Print one JSON report per table instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_size(text: &str) -> Result<ByteSize, String> {
    text.parse()
        .map_err(|e: sluice_core::size::SizeError| e.to_string())
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &crate::target::Target,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    let tables = crate::remote::selected_tables(&ctx.config, args.table.as_deref(), config)?;
    let mut conflicts = 0;
    for table in &tables {
        if ctx.lake.load(table).await?.is_none() {
            if !args.json {
                outln!("{}: not created yet, nothing to compact", table.name);
            }
            continue;
        }
        let options = options(table, &args);
        let bar = progress_bar(args.json);
        let on_progress = |p: CompactProgress| match p {
            CompactProgress::Planned { bytes, .. } => bar.set_length(bytes),
            CompactProgress::InputRead { bytes } => bar.inc(bytes),
            CompactProgress::GroupDone { partition } => bar.set_message(partition),
        };
        let report = ctx
            .lake
            .compact(table, &options, &on_progress)
            .await
            .with_context(|| format!("compacting table {}", table.name))?;
        bar.finish_and_clear();
        conflicts += report.conflicts();
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report, &options);
        }
    }
    Ok(if conflicts > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The table's settings, each overridden by its flag.
fn options(table: &TableConfig, args: &Args) -> CompactOptions {
    let settings = &table.compaction;
    let defaults = CompactOptions::default();
    CompactOptions {
        target_file_size: args
            .target_file_size
            .or(settings.target_file_size)
            .map_or(defaults.target_file_size, ByteSize::bytes),
        min_input_files: args
            .min_input_files
            .map(|n| n as usize)
            .or(settings.min_input_files)
            .unwrap_or(defaults.min_input_files),
        sort: args.sort.clone().unwrap_or_else(|| settings.sort.clone()),
    }
}

fn progress_bar(json: bool) -> ProgressBar {
    let bar = ProgressBar::new(0);
    if json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "compacting {msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar
}

/// One line: what a compaction did to a table (for `sluice maintain`).
pub(crate) fn print_summary(report: &CompactReport) {
    let compacted: Vec<_> = report
        .groups
        .iter()
        .filter(|g| matches!(g.outcome, GroupOutcome::Compacted { .. }))
        .collect();
    let files_in: usize = compacted.iter().map(|g| g.files_in).sum();
    let files_out: usize = compacted.iter().map(|g| g.files_out).sum();
    outln!(
        "{}: compacted {} partitions, {files_in} small files into {files_out}; {} conflicts",
        report.table,
        compacted.len(),
        report.conflicts()
    );
}

fn print_report(report: &CompactReport, options: &CompactOptions) {
    let target =
        ByteSize::new(options.target_file_size).map_or_else(String::new, |s| s.to_string());
    outln!(
        "table {} (target {target}, at least {} small files{})",
        report.table,
        options.min_input_files,
        if options.sort.is_empty() {
            String::new()
        } else {
            format!(", sorted by {}", options.sort.join(", "))
        }
    );
    if report.groups.is_empty() {
        outln!("{}: no small files", report.table);
        return;
    }
    let mut t = crate::print::table([
        "partition",
        "files in",
        "files out",
        "rows",
        "bytes in",
        "bytes out",
        "outcome",
    ]);
    for g in &report.groups {
        let outcome = match &g.outcome {
            GroupOutcome::Compacted {
                snapshot_id,
                already_committed,
                ..
            } => format!(
                "compacted, snapshot {snapshot_id}{}",
                if *already_committed {
                    " (earlier run)"
                } else {
                    ""
                }
            ),
            GroupOutcome::Skipped { reason } => format!("left alone: {reason}"),
            GroupOutcome::Conflict { file, message, .. } => match file {
                Some(f) => format!("conflict: {f} was removed by another commit"),
                None => format!("conflict: {message}"),
            },
        };
        let compacted = !matches!(g.outcome, GroupOutcome::Skipped { .. });
        let out = |n: String| if compacted { n } else { "-".to_string() };
        t.add_row([
            if g.partition.is_empty() {
                "(unpartitioned)".to_string()
            } else {
                g.partition.clone()
            },
            g.files_in.to_string(),
            out(g.files_out.to_string()),
            g.rows.to_string(),
            g.bytes_in.to_string(),
            out(g.bytes_out.to_string()),
            outcome,
        ]);
    }
    for column in 1..6 {
        if let Some(c) = t.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    outln!("{t}");
    for g in &report.groups {
        for path in &g.not_resorted {
            outln!("not re-sorted (larger than 32 MiB, merged as it is): {path}");
        }
    }
    let compacted: Vec<_> = report
        .groups
        .iter()
        .filter(|g| matches!(g.outcome, GroupOutcome::Compacted { .. }))
        .collect();
    outln!(
        "{}: {} partitions compacted, {} files into {}; {} conflicts",
        report.table,
        compacted.len(),
        compacted.iter().map(|g| g.files_in).sum::<usize>(),
        compacted.iter().map(|g| g.files_out).sum::<usize>(),
        report.conflicts()
    );
    if report.conflicts() > 0 {
        outln!("another commit removed a file being compacted: run `sluice compact` again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_say_what_is_accepted() {
        assert_eq!(parse_size("256MB").unwrap().bytes(), 256 << 20);
        assert_eq!(parse_size("1GiB").unwrap().bytes(), 1 << 30);
        assert_eq!(parse_size("512k").unwrap().bytes(), 512 << 10);
        assert_eq!(parse_size("4096").unwrap().bytes(), 4096);
        for bad in ["0", "-1MB", "12 furlongs", "1.5GB"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("invalid size"), "{bad}: {e}");
        }
    }
}
