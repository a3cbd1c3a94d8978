//! `sluice table show T`: schema, snapshots with their summaries, row count, and the current
//! metadata file (what another engine opens to read the table).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use sluice_core::config::TableConfig;
use sluice_core::schema::Field;
use sluice_steps::context::keys;
use sluice_steps::reconcile::Watermark;
use sluice_steps::Context;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Describe a table: schema, partitioning, snapshots, rows, metadata location.
    Show {
        /// Table name as in the configuration.
        table: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    cmd: Command,
) -> anyhow::Result<ExitCode> {
    let Command::Show { table, json } = cmd;
    // Only the store and the catalog: `table show` reads, so it works on a read-only workspace.
    let ctx = &crate::remote::open(target, root, config).await?;
    let cfg = ctx
        .config
        .table(&table)
        .with_context(|| format!("no table {table:?} in {}", config.display()))?;
    let Some(d) = ctx.lake.describe(cfg).await? else {
        anyhow::bail!(
            "table {}.{} has not been created yet: ingest a file first",
            cfg.namespace,
            cfg.name
        );
    };
    let watermark = watermark(ctx, cfg).await?;
    let contract = ctx.contract(&cfg.name).ok();
    let decisions = sluice_steps::drift_decisions::load(ctx.store.as_ref(), cfg).await?;
    if json {
        let mut v = serde_json::to_value(&d)?;
        v["watermark"] = serde_json::to_value(&watermark)?;
        v["drift_decisions"] = serde_json::to_value(&decisions.decisions)?;
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("table      {}.{}", d.namespace, d.name);
    outln!("metadata   {}", d.metadata_location);
    outln!("location   {}", d.location);
    outln!(
        "format     v{}, schema id {}",
        d.format_version,
        d.schema_id
    );
    outln!(
        "partition  {}",
        if d.partition.is_empty() {
            "none".to_string()
        } else {
            d.partition.join(", ")
        }
    );
    outln!("rows       {}", d.total_records);
    if let Some(contract) = &contract {
        outln!(
            "decoding   {}",
            sluice_lake::decode::describe(&contract.schema_json, &d.schema)
        );
    }
    match &watermark {
        Some(w) => outln!(
            "watermark  {} (reconciled {}; {} objects listed, {} not finished)",
            w.watermark
                .as_deref()
                .unwrap_or("none: the oldest object is not finished"),
            w.at,
            w.objects,
            w.unfinished
        ),
        None => outln!("watermark  none yet (`sluice reconcile` lists the prefix and sets it)"),
    }
    if let Some(late) = watermark.as_ref().and_then(|w| w.lateness(cfg.freshness)) {
        outln!("           {late}");
    }
    let verdicts = |v| {
        decisions
            .decisions
            .iter()
            .filter(|d| d.verdict == v)
            .count()
    };
    let (approved, rejected) = (
        verdicts(sluice_steps::drift_decisions::Verdict::Approved),
        verdicts(sluice_steps::drift_decisions::Verdict::Rejected),
    );
    if approved + rejected > 0 {
        outln!(
            "drift      {approved} change(s) approved, {rejected} rejected (`sluice drift list --all`)"
        );
    }
    if cfg.drift.incompatible == sluice_core::config::DriftAction::Rescue {
        outln!(
            "rescue     values that do not fit their columns go into {} (incompatible = \"rescue\")",
            sluice_core::schema::RESCUED_COLUMN
        );
    }
    if let Some(glue) = cfg.glue_optimizers.as_ref().filter(|g| g.any()) {
        let mut asked = vec![];
        if glue.compaction {
            asked.push("compaction".to_string());
        }
        if let Some(days) = glue.snapshot_retention_days {
            asked.push(format!("snapshot retention {days} d"));
        }
        if let Some(days) = glue.orphan_file_retention_days {
            asked.push(format!("orphan file deletion {days} d"));
        }
        outln!(
            "optimizers AWS Glue: {} (on the Glue catalog; `sluice maintain --aws` sets them up)",
            asked.join(", ")
        );
    }
    outln!("\nschema");
    for f in &d.schema.fields {
        print_field(f, 1);
    }
    let mut t = crate::print::table([
        "snapshot",
        "committed at",
        "op",
        "added rows",
        "total rows",
        "batch ids",
    ]);
    for s in &d.snapshots {
        let get = |k: &str| s.summary.get(k).cloned().unwrap_or_default();
        t.add_row([
            s.snapshot_id.to_string(),
            s.committed_at.clone(),
            s.operation.clone(),
            get("added-records"),
            get("total-records"),
            get(sluice_lake::BATCH_IDS_PROPERTY),
        ]);
    }
    outln!("\nsnapshots ({})\n{t}", d.snapshots.len());
    Ok(ExitCode::SUCCESS)
}

/// The table's last reconciliation watermark, if it was ever reconciled.
async fn watermark(ctx: &Context, cfg: &TableConfig) -> anyhow::Result<Option<Watermark>> {
    let key = keys::watermark(cfg);
    let Some((bytes, _)) = ctx.store.get_bytes(&key).await? else {
        return Ok(None);
    };
    Ok(Some(
        serde_json::from_slice(&bytes).with_context(|| format!("reading {key}"))?,
    ))
}

fn print_field(f: &Field, depth: usize) {
    let pad = "  ".repeat(depth);
    let req = if f.required { "required" } else { "optional" };
    match &f.ty {
        sluice_core::schema::FieldType::Struct(members) => {
            outln!("{pad}{:<20} struct {req}", f.name);
            for m in members {
                print_field(m, depth + 1);
            }
        }
        ty => outln!("{pad}{:<20} {} {req}", f.name, ty.name()),
    }
}
