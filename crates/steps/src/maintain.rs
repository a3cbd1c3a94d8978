//! Table maintenance, in the order that keeps each step's work small and safe: expire the
//! snapshots exactly-once no longer needs ([`crate::expire`]), then collect what nothing
//! references any more ([`crate::gc`]): the data files only expired snapshots read go in the
//! same run. `sluice maintain` runs it locally; on AWS the same function runs on a schedule.

use serde::Serialize;
use sluice_core::config::TableConfig;

use crate::context::Context;
use crate::error::StepError;
use crate::expire::{expire, ExpireOptions, ExpireReport};
use crate::gc::{gc, GcOptions, GcReport};

/// How [`maintain`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainOptions {
    pub expire: ExpireOptions,
    pub gc: GcOptions,
}

/// What [`maintain`] did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintainReport {
    pub table: String,
    pub expire: ExpireReport,
    pub gc: GcReport,
}

/// Maintains `table`: expiry, then garbage collection (see the module docs).
pub async fn maintain(
    ctx: &Context,
    table: &TableConfig,
    opts: &MaintainOptions,
) -> Result<MaintainReport, StepError> {
    let expired = expire(ctx, table, &opts.expire).await?;
    let collected = gc(ctx, table, &opts.gc).await?;
    Ok(MaintainReport {
        table: table.name.clone(),
        expire: expired,
        gc: collected,
    })
}
