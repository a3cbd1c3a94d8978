//! Named crash points at durable boundaries, for fault-injection tests.
//!
//! `SLUICE_FAILPOINTS=commit.after_catalog` (comma-separated names) makes the process abort
//! at that point, as a real crash would: no destructors, no flushing, no ledger update. The
//! variable is read once; unset, a fail point costs one atomic load.
//!
//! Points, at every durable boundary of an ingestion, in order:
//! - `filter.after_claim`: the ledger record exists (claimed), nothing is staged
//! - `validate.mid_write`: some Parquet rows are written, the file is not finished
//! - `validate.after_manifest`: the staged batch's manifest is written, the ledger still
//!   says claimed
//! - `validate.after_staged`: the ledger says staged
//! - `commit.after_catalog`: the snapshot is in the catalog, the ledger still says staged
//! - `commit.after_ledger`: the ledger says committed
//!
//! Each is a crash the definition recovers from: the execution shows ABORTED, and a redrive
//! (or the same event again, for the earlier points) finishes the object exactly once.

use std::sync::OnceLock;

fn armed() -> &'static Vec<String> {
    static ARMED: OnceLock<Vec<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var("SLUICE_FAILPOINTS")
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Every fail point, in the order an ingestion reaches them.
pub const POINTS: [&str; 6] = [
    "filter.after_claim",
    "validate.mid_write",
    "validate.after_manifest",
    "validate.after_staged",
    "commit.after_catalog",
    "commit.after_ledger",
];

/// Aborts the process if `name` is armed.
pub fn hit(name: &str) {
    if armed().iter().any(|a| a == name) {
        eprintln!("sluice: fail point {name} hit; aborting");
        std::process::abort();
    }
}
