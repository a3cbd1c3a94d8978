//! A catalog's own table optimizers (AWS Glue's managed compaction, snapshot retention and
//! orphan file deletion), as a port the lake calls: when it creates a table, and when
//! `maintain` runs, the optimizers a table's `[table.glue_optimizers]` asks for are made to
//! exist as asked. The Glue implementation lives in sluice-aws; a lake without one (the local
//! catalog, S3 Tables) has none, and the section is then ignored or refused by the opener.

use async_trait::async_trait;
use serde::Serialize;
use sluice_core::config::TableConfig;

use crate::error::Result;

/// What [`TableOptimizers::ensure`] did to one optimizer of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptimizerChange {
    /// The optimizer's type as the service names it (`compaction`, `retention`,
    /// `orphan_file_deletion`).
    pub optimizer: String,
    /// `created`, `updated` (its configuration differed from the table's), `unchanged`, or
    /// `left` (one the configuration does not ask for, which sluice does not remove).
    pub action: String,
}

/// The service that runs a catalog's table optimizers.
#[async_trait]
pub trait TableOptimizers: Send + Sync {
    /// The service's name, in reports ("AWS Glue").
    fn service(&self) -> &'static str;

    /// Makes the optimizers `table`'s configuration asks for exist, with its settings;
    /// creates what is missing, updates what differs, removes nothing. Idempotent.
    async fn ensure(&self, table: &TableConfig) -> Result<Vec<OptimizerChange>>;
}
