//! Conformance of the engine with AWS Step Functions, as one test binary.
//!
//! - [`corpus`]: the table of cases, one family per state type, field, intrinsic function,
//!   error rule and JSONata feature, each citing where its expected result comes from; one
//!   test runs them all and prints `conformance: P passed of T …`, failing on any failure not
//!   listed (with its reason) in `KNOWN_FAILURES.md`, and on a listed one that passes.
//! - [`scenarios`]: cases that take several executions or a redrive, written as tests.
//! - [`task_tokens`]: the callback API (SendTaskSuccess, …) from another engine on the store.

mod corpus;
mod scenarios;
mod task_tokens;
