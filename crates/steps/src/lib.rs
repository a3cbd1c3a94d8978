//! sluice-steps: the five steps of an ingestion, as plain async functions from a small serde
//! input to a small serde output (claim-check: references, never rows).
//!
//! The same functions run in process under sluice's own Step Functions engine (the
//! `sluice-local` crate binds them to the definition's Tasks) and inside the Lambdas on AWS.
//! A step never calls another step; the order, the retries and the catches live in the
//! state machine definition, `statemachine/ingest.asl.json`.
//!
//! # Layout
//! - [`filter`]: route, refuse, claim in the ledger, detect duplicates
//! - [`drift`]: infer the file's schema, classify drift, evolve or block
//! - [`validate`]: stream, validate, stage Parquet and rejects
//! - [`quarantine`]: record a file that waits for a person
//! - [`commit`]: idempotent commit of a staged batch
//! - [`backfill`]: a historical prefix's plan: the manifest of versions a Distributed Map
//!   starts
//! - [`reconcile`]: lost events: which listed versions need an execution, and the watermark
//! - [`replay`]: which quarantined versions a selection replays, under which names
//! - [`expire`]: snapshot expiry that keeps what exactly-once still needs
//! - [`maintain`]: expiry then garbage collection of a table, as one run
//! - [`gc`]: remove staged files that will never commit, and spent manifests
//! - [`payload`]: the step inputs and outputs
//! - [`state`]: `IngestState`, the document the definition accumulates
//! - [`error`]: `StepError` and the names Retry/Catch match
//! - [`context`]: shared state and control-prefix keys
//! - [`flow`]: this process's arrivals in flight, for group commit and validation slots
//! - [`dispatch`]: a task's JSON input to a step and its output back (engine and Lambdas)
//! - [`failpoint`]: named crash points for fault injection

pub mod backfill;
pub mod commit;
pub mod context;
pub mod contracts;
pub mod dispatch;
pub mod drift;
pub mod drift_decisions;
pub mod error;
pub mod events;
pub mod expire;
pub mod failpoint;
pub mod filter;
pub mod flow;
pub mod gc;
pub mod maintain;
pub(crate) mod parquet_rows;
pub mod payload;
pub mod quarantine;
pub mod receive;
pub mod reconcile;
pub mod replay;
mod source;
pub mod state;
pub mod stream;
pub mod validate;

pub use context::{Context, Progress};
pub use error::{StepError, StepErrorKind};
pub use expire::{expire, ExpireOptions, ExpireReport};
pub use gc::{gc, GcOptions, GcReport};
pub use maintain::{maintain, MaintainOptions, MaintainReport};
