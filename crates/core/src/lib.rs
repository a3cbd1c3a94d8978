//! sluice-core: the pure domain of sluice, with no I/O runtime, no AWS and no Iceberg.
//!
//! Everything here is plain types and rules that the steps compose: what an arrived object
//! is, how a table is configured, what its contract says, how a file is read row by row, how
//! a row is validated, how a file's schema drifts from the table's, and which ledger
//! transitions are legal. Fast unit tests and property tests live beside the code.
//!
//! # Layout
//! - [`age`]: spans of time as written in the config and on the command line (`15m`, `1h`)
//! - [`size`]: sizes in bytes as written in the config and on the command line (`256MB`)
//! - [`object`]: object versions, batch ids, key safety checks
//! - [`schema`]: the table schema model and its mapping from JSON Schema
//! - [`config`]: the `sluice.toml` configuration
//! - [`contract`]: a table's compiled JSON Schema and row validation
//! - [`reader`]: format and compression detection, streaming NDJSON/CSV row readers
//! - [`drift`]: schema inference from a sample, drift classification and policy
//! - [`evolution`]: the limits every schema evolution passes; new fields of accepted rows
//! - [`quarantine`]: reason codes, rejected rows, quarantine records
//! - [`layout`]: every control key under `.sluice/`, built in one place; its patterns for the
//!   CDK app's IAM
//! - [`ledger`]: ledger states, records and the transition rule book

pub mod age;
pub mod config;
pub mod contract;
pub mod drift;
pub mod evolution;
pub mod keyhead;
pub mod layout;
pub mod ledger;
pub mod object;
pub mod quarantine;
pub mod reader;
pub mod rescue;
pub mod schema;
pub mod size;

pub use object::{BatchId, ObjectVersion};

/// An error and its sources as one line of words, `outer: inner: innermost`, each message
/// once: a cause whose text the message before it already carries (a wrapper that repeats its
/// source, an `io::Error` said twice) is left out. What a person reads, on the CLI and in the
/// AWS adapters' messages, instead of `Debug` forms or repeated sentences.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![];
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        let text = text.trim();
        if !text.is_empty() && !parts.last().is_some_and(|last| last.contains(text)) {
            parts.push(text.to_string());
        }
        next = err.source();
    }
    parts.join(": ")
}
pub use quarantine::QuarantineReason;
