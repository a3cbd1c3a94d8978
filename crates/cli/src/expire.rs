//! `sluice expire [--table T] [--older-than 7d] [--retain-last N] [--dry-run] [--json]`:
//! remove old snapshots from each table's metadata, keeping every snapshot exactly-once
//! still needs (sluice-steps' `expire`). The data files only those snapshots read become
//! orphans for `sluice gc`.
//!
//! With `--aws` the same step runs on the deployed stack's Glue tables, with the ledger and
//! staged manifests of the stack's bucket.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use sluice_lake::ExpiryPolicy;
use sluice_steps::{ExpireOptions, ExpireReport};

use crate::gc::parse_age;
use crate::target::Target;

pub const AFTER_HELP: &str = "\
A snapshot leaves the table's metadata only when all of these hold:
  - it was committed longer ago than --older-than, which may not be shorter than the ledger
    lease ([ledger] lease_seconds): a commit may still be running on a younger one;
  - it is not the current snapshot nor one of the newest --retain-last of the table's
    history;
  - every batch it committed is recorded as committed in the ledger. The commit step knows a
    batch it already committed by the ledger, or, after a crash between the catalog commit
    and the ledger update, by the batch id in a snapshot summary. Such a snapshot stays
    (the report names the batch and its object) until that object's execution is redriven.

Expiry then deletes the manifest lists and manifests no remaining snapshot reads. Data files
that only the expired snapshots read (files an overwrite or a compaction replaced) become
orphans: `sluice gc` removes them. Time travel to an expired snapshot is no longer possible.

Examples:
  sluice expire --dry-run
  sluice expire --table orders --older-than 30d --retain-last 10
  sluice --aws --stack sluice-prod expire";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    #[command(flatten)]
    policy: PolicyArgs,
    /// Change nothing: print what would expire and what stays, and why.
    #[arg(long)]
    dry_run: bool,
    /// Print one JSON report per table instead of sentences.
    #[arg(long)]
    json: bool,
}

/// Which snapshots expire: `expire`'s and `maintain`'s flags.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// Expire only snapshots older than this. A whole number and a unit: s, m, h or d (30s,
    /// 15m, 1h, 2d); at least the ledger lease.
    #[arg(long, default_value = "7d", value_parser = parse_age, value_name = "AGE")]
    older_than: Duration,
    /// Keep the newest N snapshots of the table's history whatever their age (at least 1,
    /// the current snapshot).
    #[arg(long, default_value_t = 1, value_name = "N")]
    retain_last: usize,
}

impl PolicyArgs {
    pub fn policy(&self) -> ExpiryPolicy {
        ExpiryPolicy {
            older_than: self.older_than,
            retain_last: self.retain_last,
        }
    }
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    args: Args,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    let tables = crate::remote::selected_tables(&ctx.config, args.table.as_deref(), config)?;
    let opts = ExpireOptions {
        policy: args.policy.policy(),
        dry_run: args.dry_run,
    };
    if let Err(reason) = sluice_steps::expire::check_policy(&ctx, &opts.policy) {
        anyhow::bail!("refusing to expire: {reason}");
    }
    for table in &tables {
        let report = sluice_steps::expire(&ctx, table, &opts)
            .await
            .with_context(|| format!("expiring snapshots of table {}", table.name))?;
        if args.json {
            outln!("{}", serde_json::to_string(&report)?);
        } else {
            print_report(&report);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_report(report: &ExpireReport) {
    let verb = if report.dry_run {
        "would expire"
    } else {
        "expired"
    };
    for c in &report.expired {
        outln!(
            "{}: {verb} snapshot {} ({}, {}, {} batches)",
            report.table,
            c.snapshot_id,
            crate::print::time_ms(c.timestamp_ms),
            c.operation,
            c.batch_ids.len()
        );
    }
    for k in &report.kept {
        outln!(
            "{}: kept snapshot {} ({}): {}",
            report.table,
            k.snapshot_id,
            crate::print::time_ms(k.timestamp_ms),
            k.reason
        );
    }
    let files = if report.dry_run {
        String::new()
    } else {
        format!(
            ", {} manifest lists and manifests deleted",
            report.metadata_files_deleted
        )
    };
    outln!(
        "{}: {} {} snapshots, kept {} for exactly-once; {} remain{files}",
        report.table,
        verb,
        report.expired.len(),
        report.kept.len(),
        report.remaining
    );
}
