//! Named crash points at durable boundaries, for fault-injection tests.
//!
//! `SLUICE_FAILPOINTS=commit.after_catalog` (comma-separated names) makes the process abort
//! at that point, as a real crash would: no destructors, no flushing, no ledger update. The
//! variable is read once; unset, a fail point costs one atomic load.
//!
//! Points: `commit.after_catalog` (the snapshot is in the catalog, the ledger still says
//! staged), `commit.after_ledger`.

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

/// Aborts the process if `name` is armed.
pub fn hit(name: &str) {
    if armed().iter().any(|a| a == name) {
        eprintln!("sluice: fail point {name} hit; aborting");
        std::process::abort();
    }
}
