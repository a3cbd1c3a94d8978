//! `sluice maintain [--table T] [--older-than 7d] [--retain-last 1] [--min-age 1h]
//! [--no-compact] [--dry-run] [--json]`: keep each table healthy in one run: compact its small
//! files, expire the snapshots exactly-once no longer needs, then remove what nothing
//! references (sluice-steps' `maintain`). Run it from cron or a systemd timer; on AWS the same rules apply with `--aws`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use sluice_steps::{ExpireOptions, GcOptions, MaintainOptions};

use crate::gc::parse_age;
use crate::target::Target;

pub const AFTER_HELP: &str = "\
In order, per table:
  0. compact  each partition's small data files into few of about the target size, with the
              table's [table.compaction] settings (see `sluice compact --help`); skipped with
              --no-compact and with --dry-run;
  1. expire   snapshots older than --older-than, all but the newest --retain-last, never one a
              batch the ledger has not settled still needs (see `sluice expire --help`);
  2. gc       staged files that will never commit, spent manifests, and data files no
              snapshot reads any more: those only the expired snapshots read go now (see
              `sluice gc --help`).

Each step is safe beside running ingestions and after a crash: run it again.

With --aws on the Glue catalog, a table whose [table.glue_optimizers] asks for AWS Glue's
table optimizers has them set up first (created, or updated to match), and what they do
(compaction, expiry) is left to them; gc still runs.

Examples:
  sluice maintain --dry-run
  sluice maintain --table orders --older-than 30d --retain-last 10
  sluice --aws --stack sluice-prod maintain";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    policy: crate::expire::PolicyArgs,
    /// Keep unreferenced files younger than this (a validation may be writing them).
    #[arg(long, default_value = "1h", value_parser = parse_age, value_name = "AGE")]
    min_age: Duration,
    /// Skip the compaction step.
    #[arg(long)]
    no_compact: bool,
    /// Change nothing: print what expiry and gc would do (compaction is skipped).
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON report per table instead of sentences and tables.
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
    let opts = MaintainOptions {
        compact: !args.no_compact,
        expire: ExpireOptions {
            policy: args.policy.policy(),
            dry_run: args.dry_run,
        },
        gc: GcOptions {
            dry_run: args.dry_run,
            min_age: args.min_age,
        },
    };
    if let Err(reason) = sluice_steps::expire::check_policy(&ctx, &opts.expire.policy) {
        anyhow::bail!("refusing to expire: {reason}");
    }
    for table in &tables {
        let report = sluice_steps::maintain(&ctx, table, &opts)
            .await
            .map_err(|e| anyhow::anyhow!("maintaining table {}: {}", table.name, e.chain()))?;
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            for change in &report.optimizers {
                outln!(
                    "{}: Glue {} optimizer {}",
                    report.table,
                    change.optimizer,
                    change.action
                );
            }
            if !report.left_to_optimizers.is_empty() {
                outln!(
                    "{}: {} left to the table's Glue optimizers ([table.glue_optimizers])",
                    report.table,
                    report.left_to_optimizers.join(" and ")
                );
            }
            if let Some(c) = &report.compact {
                crate::compact::print_summary(c);
            }
            match report.left_to {
                Some(service) => outln!(
                    "{}: snapshot expiry and unreferenced-file removal are left to {service}, \
                     which maintains the table itself",
                    report.table
                ),
                None => {
                    crate::expire::print_report(&report.expire);
                    crate::gc::print_report(&report.gc);
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
