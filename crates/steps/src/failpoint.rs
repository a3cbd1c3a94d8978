//! Named crash points at durable boundaries, for fault-injection tests.
//!
//! Two ways to arm them:
//! - `SLUICE_FAILPOINTS=commit.after_catalog` (comma-separated names) makes the process abort
//!   at that point, as a real crash would: no destructors, no flushing, no ledger update. The
//!   variable is read once; unset, a fail point costs one atomic load.
//! - [`inject`] arms one point for one object key, once, inside this process: the step stops
//!   there with an `Internal` error, so nothing after the point runs, exactly as after a
//!   crash, while the test process goes on to redrive or deliver the event again. The
//!   fault-injection suite runs hundreds of schedules this way without a process per crash.
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
//! Outside an ingestion, `SLUICE_FAILPOINTS=compact.before_commit` aborts `sluice compact` after
//! a partition's new files are written and before its commit (sluice-lake's `compact`, which
//! reads the same variable: the lake cannot depend on the steps).
//!
//! Each is a crash the definition recovers from: the execution shows ABORTED (or FAILED, for an
//! injected crash), and a redrive (or the same event again) finishes the object exactly once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::error::StepError;

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

/// Set once anything was injected, so that `hit` stays one atomic load otherwise.
static INJECTED: AtomicBool = AtomicBool::new(false);

fn injected() -> &'static Mutex<HashSet<(String, String)>> {
    static PLANS: OnceLock<Mutex<HashSet<(String, String)>>> = OnceLock::new();
    PLANS.get_or_init(|| Mutex::new(HashSet::new()))
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

/// Arms `point` for the object `key`, once: the next step that reaches it for that key stops
/// with an `Internal` error naming the point. For tests in this process.
pub fn inject(point: &str, key: &str) {
    let mut plans = injected().lock().unwrap_or_else(|p| p.into_inner());
    plans.insert((point.to_string(), key.to_string()));
    INJECTED.store(true, Ordering::Release);
}

/// Disarms every injected point (those never reached stay armed until this is called).
pub fn clear_injected() {
    injected().lock().unwrap_or_else(|p| p.into_inner()).clear();
}

/// Aborts the process if `name` is armed by the environment; stops the step with an
/// `Internal` error if it was [`inject`]ed for `key`.
pub fn hit(name: &str, key: &str) -> Result<(), StepError> {
    if armed().iter().any(|a| a == name) {
        eprintln!("sluice: fail point {name} hit; aborting");
        std::process::abort();
    }
    if INJECTED.load(Ordering::Acquire) {
        let mut plans = injected().lock().unwrap_or_else(|p| p.into_inner());
        if plans.remove(&(name.to_string(), key.to_string())) {
            return Err(StepError::internal(format!(
                "crash injected at fail point {name} for {key}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_injected_point_fires_once_for_its_key_only() {
        inject("commit.after_catalog", "t/only-this.ndjson");
        assert!(hit("commit.after_catalog", "t/other.ndjson").is_ok());
        assert!(hit("commit.after_ledger", "t/only-this.ndjson").is_ok());
        let err = hit("commit.after_catalog", "t/only-this.ndjson").unwrap_err();
        assert!(err.message.contains("commit.after_catalog"), "{err}");
        assert!(hit("commit.after_catalog", "t/only-this.ndjson").is_ok());
    }
}
