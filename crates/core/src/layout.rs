//! The control prefix, mapped once: every key sluice writes for itself under `.sluice/` in the
//! bucket is built here, and [`families`] lists them as patterns.
//!
//! The CDK app grants each Lambda role exactly the families its function touches, from the
//! same patterns: `cdk/lib/control-layout.json` is [`families`] written out (a test here
//! fails when the two differ, and rewrites the file with `SLUICE_BLESS=1`), and
//! `cdk/lib/sluice-stack.ts` reads it. A key family added here without a grant there fails the
//! CDK tests, not a deployed function.
//!
//! Patterns use `{namespace}`, `{table}` and `*` (any rest of the key).

use serde::Serialize;

use crate::config::{TableConfig, CONTROL_PREFIX};
use crate::object::BatchId;

/// The ledger: one record per object version, sharded by the first two hex digits of its
/// hash.
pub fn ledger_prefix() -> String {
    format!("{CONTROL_PREFIX}ledger/")
}

/// A ledger record: `.sluice/ledger/<first 2 hex>/<hash>.json`.
pub fn ledger_record(hash: &str) -> String {
    format!(
        "{}{}/{hash}.json",
        ledger_prefix(),
        &hash[..2.min(hash.len())]
    )
}

/// Key heads: per key, which version is the newest seen, and removals.
pub fn key_heads_prefix() -> String {
    format!("{CONTROL_PREFIX}keys/")
}

/// A key's head: `.sluice/keys/<first 2 hex>/<hash of bucket/key>.json`.
pub fn key_head(hash: &str) -> String {
    format!(
        "{}{}/{hash}.json",
        key_heads_prefix(),
        &hash[..2.min(hash.len())]
    )
}

/// Where a table's staged batch manifests live: every ready batch of the table.
pub fn staged_prefix(table: &TableConfig) -> String {
    format!("{CONTROL_PREFIX}staged/{}.{}/", table.namespace, table.name)
}

/// The staged batch manifest: which data files a validation wrote.
pub fn manifest(table: &TableConfig, batch: &BatchId) -> String {
    format!("{}{batch}.json", staged_prefix(table))
}

/// Where a table's rejected rows live.
pub fn rejects_prefix(table: &TableConfig) -> String {
    format!(
        "{CONTROL_PREFIX}rejects/{}.{}/",
        table.namespace, table.name
    )
}

/// Rejected rows of one object version, one JSON object per line.
pub fn rejects(table: &TableConfig, batch: &BatchId) -> String {
    format!("{}{batch}.ndjson", rejects_prefix(table))
}

/// Prefix of all quarantine records.
pub fn quarantine_prefix() -> String {
    format!("{CONTROL_PREFIX}quarantine/")
}

/// Where the quarantine records of a table (`None`: of objects routed to none) live.
pub fn quarantine_dir(table: Option<&str>) -> String {
    format!("{}{}/", quarantine_prefix(), table.unwrap_or(UNROUTED))
}

/// The quarantine record of one object version; `None`: not routed to a table.
pub fn quarantine(table: Option<&str>, batch: &BatchId) -> String {
    format!("{}{batch}.json", quarantine_dir(table))
}

/// Where the quarantine records of events that named no object live.
pub fn quarantined_events_dir() -> String {
    format!("{}_events/", quarantine_prefix())
}

/// Where quarantine records of objects routed to no table go.
pub const UNROUTED: &str = "_unrouted";

/// The quarantine record of an event that named no object, by the event's id (only its
/// letters, digits, `-` and `_` are kept, so a hostile id cannot reach another key).
pub fn quarantined_event(event_id: &str) -> String {
    let safe: String = event_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(128)
        .collect();
    let safe = if safe.is_empty() {
        "unnamed".to_string()
    } else {
        safe
    };
    format!("{}{safe}.json", quarantined_events_dir())
}

/// The outbox of outbound events (`sluice_steps::events`).
pub fn outbox_prefix() -> String {
    format!("{CONTROL_PREFIX}outbox/")
}

/// One outbound event, by its id (only its letters and digits are kept).
pub fn outbox_event(id: &str) -> String {
    let safe: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    format!("{}{safe}.json", outbox_prefix())
}

/// What the stream receiver keeps: per table, source and shard (or partition), the highest
/// sequence number (or offset) written and, per object it wrote, the records' positions
/// (`sluice_steps::stream`).
pub fn streams_prefix() -> String {
    format!("{CONTROL_PREFIX}streams/")
}

/// The reconciliation watermark of a table's prefix.
pub fn watermark(table: &TableConfig) -> String {
    format!(
        "{CONTROL_PREFIX}watermarks/{}.{}.json",
        table.namespace, table.name
    )
}

/// Where backfills keep their plans: one directory per backfill execution.
pub fn backfill_prefix() -> String {
    format!("{CONTROL_PREFIX}backfill/")
}

/// The JSON Lines manifest a backfill's Distributed Map reads for one part of its prefix: one
/// line per object version to start, `.sluice/backfill/<execution>/arrivals.jsonl` for the
/// first part, `arrivals-<part>.jsonl` for the others.
pub fn backfill_manifest(execution: &str, part: u32) -> String {
    match part {
        0 => format!("{}{execution}/arrivals.jsonl", backfill_prefix()),
        n => format!("{}{execution}/arrivals-{n}.jsonl", backfill_prefix()),
    }
}

/// A table's identity record (which Iceberg table this is: uuid, location).
pub fn identity(namespace: &str, table: &str) -> String {
    format!("{CONTROL_PREFIX}tables/{namespace}.{table}.json")
}

/// Where a local bucket writes temporary files before renaming them into place.
pub const LOCAL_TMP: &str = ".sluice/tmp";
/// Where a local bucket keeps its lock files (a fixed number, shared by keys).
pub const LOCAL_LOCKS: &str = ".sluice/locks";

/// Where the versions of a table's contract are recorded, one object each.
pub fn contracts_prefix(table: &TableConfig) -> String {
    format!(
        "{CONTROL_PREFIX}contracts/{}.{}/",
        table.namespace, table.name
    )
}

/// Version `version` of a table's contract: `.sluice/contracts/<ns>.<table>/v000003.json`
/// (zero-padded, so that a listing is in version order).
pub fn contract_version(table: &TableConfig, version: u32) -> String {
    format!("{}v{version:06}.json", contracts_prefix(table))
}

/// The decisions on a table's blocked drift (`sluice drift approve|reject`): one object per
/// table, replaced by compare-and-swap.
pub fn drift_decisions(table: &TableConfig) -> String {
    format!(
        "{CONTROL_PREFIX}drift/{}.{}.json",
        table.namespace, table.name
    )
}

/// One family of control keys, as a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Family {
    /// What the keys are.
    pub name: &'static str,
    /// The keys, with `{namespace}`, `{table}` and a trailing `*`.
    pub pattern: String,
}

/// Every family of keys sluice writes in a bucket, for a table named `{table}` in
/// `{namespace}`; the patterns are made by the functions above, so they cannot drift.
pub fn families() -> Vec<Family> {
    let table: TableConfig = toml::from_str(
        "name = \"{table}\"\nnamespace = \"{namespace}\"\nprefix = \"p/\"\nformat = \"ndjson\"\ncontract = \"c.json\"",
    )
    .expect("a pattern table");
    let family = |name, pattern: String| Family { name, pattern };
    vec![
        family("ledger", format!("{}*", ledger_prefix())),
        family("key_heads", format!("{}*", key_heads_prefix())),
        family("staged", format!("{}*", staged_prefix(&table))),
        family("rejects", format!("{}*", rejects_prefix(&table))),
        family(
            "quarantine",
            format!("{}*", quarantine_dir(Some("{table}"))),
        ),
        family("quarantine_unrouted", format!("{}*", quarantine_dir(None))),
        family(
            "quarantine_events",
            format!("{}*", quarantined_events_dir()),
        ),
        family("watermark", watermark(&table)),
        family("identity", identity("{namespace}", "{table}")),
        family("backfill", format!("{}*", backfill_prefix())),
        family("contracts", format!("{}*", contracts_prefix(&table))),
        family("drift_decisions", drift_decisions(&table)),
        family("outbox", format!("{}*", outbox_prefix())),
        family("streams", format!("{}*", streams_prefix())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../cdk/lib/control-layout.json")
    }

    /// The fixture the CDK app builds its IAM from is exactly [`families`]; `SLUICE_BLESS=1`
    /// writes it.
    #[test]
    fn the_cdk_fixture_is_this_layout() {
        let mut text = serde_json::to_string_pretty(&families()).unwrap();
        text.push('\n');
        if std::env::var_os("SLUICE_BLESS").is_some() {
            std::fs::write(fixture(), &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(fixture()).unwrap_or_default();
        assert_eq!(
            on_disk, text,
            "cdk/lib/control-layout.json differs from crates/core/src/layout.rs: \
             run `SLUICE_BLESS=1 cargo test -p sluice-core layout`, then the CDK tests"
        );
    }

    #[test]
    fn patterns_are_what_the_builders_make() {
        let by_name = |n: &str| {
            families()
                .into_iter()
                .find(|f| f.name == n)
                .unwrap()
                .pattern
        };
        assert_eq!(by_name("ledger"), ".sluice/ledger/*");
        assert_eq!(by_name("key_heads"), ".sluice/keys/*");
        assert_eq!(by_name("staged"), ".sluice/staged/{namespace}.{table}/*");
        assert_eq!(by_name("rejects"), ".sluice/rejects/{namespace}.{table}/*");
        assert_eq!(by_name("quarantine"), ".sluice/quarantine/{table}/*");
        assert_eq!(
            by_name("quarantine_unrouted"),
            ".sluice/quarantine/_unrouted/*"
        );
        assert_eq!(
            by_name("watermark"),
            ".sluice/watermarks/{namespace}.{table}.json"
        );
        assert_eq!(
            by_name("identity"),
            ".sluice/tables/{namespace}.{table}.json"
        );
        assert_eq!(by_name("backfill"), ".sluice/backfill/*");
        assert_eq!(
            backfill_manifest("bf-1", 0),
            ".sluice/backfill/bf-1/arrivals.jsonl"
        );
        assert_eq!(
            backfill_manifest("bf-1", 12),
            ".sluice/backfill/bf-1/arrivals-12.jsonl"
        );
        for f in families() {
            assert!(f.pattern.starts_with(CONTROL_PREFIX), "{f:?}");
        }
        assert_eq!(ledger_record("abcd"), ".sluice/ledger/ab/abcd.json");
        assert_eq!(key_head("abcd"), ".sluice/keys/ab/abcd.json");
        assert_eq!(
            quarantined_event("../../x"),
            ".sluice/quarantine/_events/x.json"
        );
    }
}
