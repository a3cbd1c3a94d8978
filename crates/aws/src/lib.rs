//! sluice-aws: sluice's ports on AWS, the S3 object store and the Glue and S3 Tables Iceberg
//! catalogs.
//!
//! The steps see an `Arc<dyn ObjectStore>` and a `Lake`; this crate gives them S3 and Glue
//! behind those, so the code that runs locally on a directory and SQLite runs unchanged on
//! AWS. [`S3Store`] keeps the guarantees the ledger is built on (atomic replace,
//! create-if-absent that one racer wins, compare-and-swap on the etag) with S3's conditional
//! writes, and reads exactly the object version an event names. [`open_glue_lake`] opens a
//! `Lake` on the Glue Data Catalog with table files in S3, where a lost optimistic-locking
//! race is a `CommitConflict` like a lost race on the local catalog. Every client is built
//! from one [`SdkConfig`](aws_config::SdkConfig) ([`sdk_config`]), so `AWS_ENDPOINT_URL`
//! points all of them at an emulator.
//!
//! # Layout
//! - [`sdk`]: [`sdk_config`] and [`s3_client`] (path-style when the endpoint is overridden)
//! - [`s3`]: [`S3Store`], an S3 bucket as an `ObjectStore`
//! - `s3_error`: which failed S3 requests are worth retrying
//! - [`glue`]: [`open_glue_lake`], the Glue catalog with S3 FileIO
//! - [`glue_optimizers`]: [`GlueOptimizers`], Glue's managed table optimizers for tables that ask
//!   for them
//! - [`s3tables`]: [`open_s3tables_lake`], an S3 Tables table bucket's Iceberg REST catalog
//! - [`sigv4`]: [`sigv4::SigV4Signer`], SigV4 for requests sent outside the AWS SDK
//! - [`emulator`] (feature `emulator`, tests only): [`emulator::Ministack`], a local AWS, and
//!   [`emulator::Stack`], the deployed stack on it

#[cfg(feature = "emulator")]
pub mod emulator;
pub mod glue;
pub mod glue_optimizers;
pub mod s3;
mod s3_error;
pub mod s3tables;
pub mod sdk;
pub mod sigv4;

pub use glue::open_glue_lake;
pub use glue_optimizers::GlueOptimizers;
pub use s3::S3Store;
pub use s3tables::open_s3tables_lake;
pub use sdk::{s3_client, sdk_config};
