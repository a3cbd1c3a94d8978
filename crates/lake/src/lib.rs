//! sluice-lake: everything sluice does to Apache Iceberg tables, through iceberg-rust.
//!
//! The steps see a [`Lake`]: load or create a table from its contract, add nullable columns
//! when the drift policy says evolve, write a batch of rows as staged zstd Parquet data files
//! with deterministic names, commit staged batches in one fast-append snapshot whose summary
//! carries their batch ids, remove and add data files in one overwrite snapshot, compact small
//! files, and read a table back through an Iceberg scan. Locally the catalog
//! is Iceberg's SQL catalog on a SQLite file with a local-filesystem warehouse; any engine that
//! reads Iceberg metadata (pyiceberg, DuckDB, Spark) reads the tables it writes.
//!
//! # Layout
//! - [`error`]: `LakeError` and its kinds (what the steps map to Step Functions error names)
//! - [`schema`]: sluice's table schema ↔ Iceberg schema, partition specs
//! - [`catalog`]: the [`Lake`] handle: open, load/create, evolve
//! - [`decode`]: parse once: the contract compiled into a decoder that checks each row while
//!   it builds the Arrow columns
//! - [`writer`]: [`writer::BatchWriter`], JSON rows → Arrow → staged Parquet data files
//! - [`fanout`]: a partitioned batch's rows through a bounded number of open data files,
//!   under one memory budget
//! - [`commit`]: idempotent group commit of staged batches
//! - [`overwrite`]: one snapshot that removes live data files and adds others (`overwrite`,
//!   `replace`), with rebase on a lost race
//! - [`compact`]: rewriting a partition's small files as few large ones (one `replace`
//!   snapshot per partition), with each output's row lineage in its footer
//! - [`expire`]: snapshot expiry: which snapshots a policy selects, and removing them
//! - [`identity`]: the guard that refuses a catalog which lost or replaced a table
//! - [`no_catalog`]: the catalog of a process that never touches a table
//! - [`register`]: registering a table's metadata file again (`sluice doctor --repair`)
//! - [`files`]: referenced and stored data files, for garbage collection
//! - [`read`]: table description and read-back scans

pub mod as_is;
pub mod catalog;
pub mod commit;
pub mod compact;
pub mod decode;
pub mod error;
pub mod expire;
pub mod fanout;
pub mod files;
pub mod identity;
pub mod no_catalog;
pub mod optimizers;
pub mod overwrite;
pub mod read;
pub mod register;
pub mod schema;
mod split;
pub mod writer;

pub use catalog::Lake;
pub use commit::{CommitOutcome, StagedBatch};
pub use compact::{CompactOptions, CompactReport, LineageSegment};
pub use error::{LakeError, LakeErrorKind};
pub use expire::{ExpiryCandidate, ExpiryOutcome, ExpiryPolicy};
pub use files::StoredDataFile;
pub use optimizers::{OptimizerChange, TableOptimizers};
pub use overwrite::{OverwriteOutcome, RowChange};

/// Snapshot summary property that lists the batch ids a snapshot committed, comma-separated.
pub const BATCH_IDS_PROPERTY: &str = "sluice.batch-ids";

#[cfg(test)]
mod tests;
