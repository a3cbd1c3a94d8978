//! Table maintenance, in the order that keeps each step's work small and safe: compact the
//! small data files (sluice-lake's `compact`, with the table's `[table.compaction]` settings),
//! expire the snapshots exactly-once no longer needs ([`crate::expire`]), then collect what
//! nothing references any more ([`crate::gc`]): the data files only expired snapshots read,
//! those a compaction replaced among them, go in the same run. `sluice maintain` runs it
//! locally; on AWS the same function runs on a schedule. In a catalog that maintains its
//! tables itself (S3 Tables) only compaction runs: expiry and unreferenced-file removal are
//! the service's, and the report says so. On a catalog with table optimizers (AWS Glue), a
//! table whose `[table.glue_optimizers]` asks for them gets them set up first (created, or
//! updated to match), and what they do is left to them: compaction when Glue compacts,
//! expiry when Glue's retention expires snapshots; gc, which knows the ledger, still runs.

use serde::Serialize;
use sluice_core::config::TableConfig;

use sluice_lake::{CompactOptions, CompactReport, OptimizerChange};

use crate::context::Context;
use crate::error::StepError;
use crate::expire::{expire, ExpireOptions, ExpireReport};
use crate::gc::{gc, GcOptions, GcReport};

/// How [`maintain`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainOptions {
    /// Compact first (the table's `[table.compaction]` settings); `false` skips it.
    pub compact: bool,
    pub expire: ExpireOptions,
    pub gc: GcOptions,
}

/// What [`maintain`] did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintainReport {
    pub table: String,
    /// `None` when compaction was skipped, or with `dry_run` (a compaction writes files).
    pub compact: Option<CompactReport>,
    pub expire: ExpireReport,
    pub gc: GcReport,
    /// The service that expires snapshots and removes unreferenced files itself (S3 Tables),
    /// when the catalog is one: expiry and gc were left to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_to: Option<&'static str>,
    /// What setting up the catalog's table optimizers did (AWS Glue's, as the table's
    /// `[table.glue_optimizers]` asks); empty without them, and with `dry_run`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optimizers: Vec<OptimizerChange>,
    /// The steps left to those optimizers (`compact`, `expire`), which this run skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_to_optimizers: Vec<&'static str>,
}

/// Maintains `table`: expiry, then garbage collection (see the module docs).
pub async fn maintain(
    ctx: &Context,
    table: &TableConfig,
    opts: &MaintainOptions,
) -> Result<MaintainReport, StepError> {
    let (optimizers, left_to_optimizers) = optimizers(ctx, table, opts.expire.dry_run).await?;
    let compacted =
        if opts.compact && !opts.expire.dry_run && !left_to_optimizers.contains(&COMPACT) {
            compact(ctx, table).await?
        } else {
            None
        };
    if let Some(service) = ctx.lake.managed_by() {
        return Ok(MaintainReport {
            table: table.name.clone(),
            compact: compacted,
            expire: ExpireReport::default(),
            gc: GcReport::default(),
            left_to: Some(service),
            optimizers,
            left_to_optimizers,
        });
    }
    let expired = if left_to_optimizers.contains(&EXPIRE) {
        ExpireReport::default()
    } else {
        expire(ctx, table, &opts.expire).await?
    };
    let collected = gc(ctx, table, &opts.gc).await?;
    Ok(MaintainReport {
        table: table.name.clone(),
        compact: compacted,
        expire: expired,
        gc: collected,
        left_to: None,
        optimizers,
        left_to_optimizers,
    })
}

/// The step names in [`MaintainReport::left_to_optimizers`].
const COMPACT: &str = "compact";
const EXPIRE: &str = "expire";

/// Sets up the table's optimizers when the catalog has them and the table asks for them (not
/// with `dry_run`, nor before the table exists), and says which steps they take over.
async fn optimizers(
    ctx: &Context,
    table: &TableConfig,
    dry_run: bool,
) -> Result<(Vec<OptimizerChange>, Vec<&'static str>), StepError> {
    let (Some(optimizers), Some(wanted)) = (ctx.lake.optimizers(), &table.glue_optimizers) else {
        return Ok((vec![], vec![]));
    };
    let mut left = vec![];
    if wanted.compaction {
        left.push(COMPACT);
    }
    if wanted.snapshot_retention_days.is_some() {
        left.push(EXPIRE);
    }
    if dry_run || !wanted.any() || ctx.lake.load(table).await?.is_none() {
        return Ok((vec![], left));
    }
    Ok((optimizers.ensure(table).await?, left))
}

/// The table's compaction with its settings; `None` when the table does not exist yet.
async fn compact(ctx: &Context, table: &TableConfig) -> Result<Option<CompactReport>, StepError> {
    if ctx.lake.load(table).await?.is_none() {
        return Ok(None);
    }
    let report = ctx
        .lake
        .compact(table, &compact_options(table), &|_| {})
        .await?;
    Ok(Some(report))
}

/// The compaction settings of a table (`[table.compaction]`), defaults filled in.
pub fn compact_options(table: &TableConfig) -> CompactOptions {
    let settings = &table.compaction;
    let defaults = CompactOptions::default();
    CompactOptions {
        target_file_size: settings.target_file_size.map_or(
            defaults.target_file_size,
            sluice_core::size::ByteSize::bytes,
        ),
        min_input_files: settings.min_input_files.unwrap_or(defaults.min_input_files),
        sort: settings.sort.clone(),
    }
}
