//! `sluice reconcile [--table T]`: for lost events. Lists each table's prefix in the bucket,
//! runs every object version the ledger never saw (one execution each, as `ingest` does),
//! and records the table's watermark, which `sluice table show` prints.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::ingest::open_with_progress;
use crate::print::{exit_code, print_table, summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    /// Print the per-file results and the watermarks as JSON lines.
    #[arg(long)]
    json: bool,
}

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let local = open_with_progress(root, config, None).await?;
    let tables: Vec<_> = match &args.table {
        Some(name) => vec![local
            .ctx
            .config
            .table(name)
            .with_context(|| format!("no table {name:?} in {}", config.display()))?
            .clone()],
        None => local.ctx.config.tables.clone(),
    };
    let mut all = vec![];
    for table in &tables {
        let r = local.reconcile(table).await?;
        if args.json {
            for report in &r.ran {
                outln!("{}", serde_json::to_string(report)?);
            }
            outln!("{}", serde_json::to_string(&r.watermark)?);
        } else {
            if !r.ran.is_empty() {
                print_table(&r.ran);
            }
            let w = &r.watermark;
            outln!(
                "{}: {} objects listed, {} never seen before (ran now), {} not finished; watermark {}",
                w.table,
                w.objects,
                r.ran.len(),
                w.unfinished,
                match &w.watermark {
                    Some(t) => format!("{t}: every object that landed at or before it is committed, filtered or quarantined"),
                    None => "none: the oldest object is not finished".into(),
                }
            );
        }
        all.extend(r.ran);
    }
    if !args.json && !all.is_empty() {
        outln!("{}", summary(&all));
    }
    Ok(exit_code(&all))
}
