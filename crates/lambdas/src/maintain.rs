//! The maintenance function: `{"table": name}` in (the CDK app's schedule sends one per
//! table, by default daily), `sluice_steps::maintain` run on it: small files compacted with
//! the table's `[table.compaction]` settings, snapshots expired under the ledger rule (never
//! one exactly-once still needs), then garbage collected. What `sluice
//! maintain --aws` does from a laptop, on a schedule.
//!
//! The request may override the defaults: `older_than` and `min_age` in the age form of
//! sluice.toml (`30s`, `15m`, `1h`, `2d`), `retain_last` a count, `compact: false` to skip
//! compaction. A policy the expiry rule
//! refuses (an age shorter than the ledger lease) is an `Internal` error: the schedule's
//! dead-letter queue and the function's error alarm say so.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sluice_core::age::Age;
use sluice_lake::ExpiryPolicy;
use sluice_steps::{Context, ExpireOptions, GcOptions, MaintainOptions, MaintainReport, StepError};

/// Snapshots younger than this stay (a week: time to redrive, time travel for a mistake).
pub const DEFAULT_OLDER_THAN: Duration = Duration::from_secs(7 * 86_400);
/// Unreferenced files younger than this stay (a validation may be writing them).
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(3600);

/// The maintenance function's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintainRequest {
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_than: Option<Age>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_last: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<Age>,
    /// `false` skips compaction (default: compact with the table's settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact: Option<bool>,
}

impl MaintainRequest {
    /// The options this request asks for, the defaults filled in.
    pub fn options(&self) -> MaintainOptions {
        MaintainOptions {
            compact: self.compact.unwrap_or(true),
            expire: ExpireOptions {
                policy: ExpiryPolicy {
                    older_than: self.older_than.map_or(DEFAULT_OLDER_THAN, Age::as_duration),
                    retain_last: self.retain_last.unwrap_or(1),
                },
                dry_run: false,
            },
            gc: GcOptions {
                dry_run: false,
                min_age: self.min_age.map_or(DEFAULT_MIN_AGE, Age::as_duration),
            },
        }
    }
}

/// Decodes the invocation's payload, then [`handle`]: a payload of another shape is an
/// `Internal` error that says what the function takes.
pub async fn handle_value(
    ctx: &Context,
    payload: serde_json::Value,
) -> Result<MaintainReport, StepError> {
    let request: MaintainRequest = serde_json::from_value(payload).map_err(|e| {
        StepError::internal(format!(
            "the maintain function takes {{\"table\": NAME}} and optionally older_than, \
             retain_last, min_age: {e}"
        ))
    })?;
    handle(ctx, request).await
}

/// Maintains the table `request` names.
pub async fn handle(ctx: &Context, request: MaintainRequest) -> Result<MaintainReport, StepError> {
    let table = ctx.table(&request.table)?.clone();
    let report = sluice_steps::maintain(ctx, &table, &request.options()).await?;
    tracing::info!(
        table = %table.name,
        expired = report.expire.expired.len(),
        kept = report.expire.kept.len(),
        removed = report.gc.removed_count(),
        "maintained"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_request_takes_the_defaults_and_ages_read_as_in_the_config() {
        let bare: MaintainRequest = serde_json::from_str(r#"{"table": "orders"}"#).unwrap();
        let o = bare.options();
        assert_eq!(o.expire.policy.older_than, DEFAULT_OLDER_THAN);
        assert_eq!(o.expire.policy.retain_last, 1);
        assert_eq!(o.gc.min_age, DEFAULT_MIN_AGE);
        let set: MaintainRequest = serde_json::from_str(
            r#"{"table": "orders", "older_than": "30d", "retain_last": 5, "min_age": "2h"}"#,
        )
        .unwrap();
        let o = set.options();
        assert_eq!(o.expire.policy.older_than, Duration::from_secs(30 * 86_400));
        assert_eq!(o.expire.policy.retain_last, 5);
        assert_eq!(o.gc.min_age, Duration::from_secs(7200));
        assert!(serde_json::from_str::<MaintainRequest>(
            r#"{"table": "t", "older_than": "a week"}"#
        )
        .is_err());
        assert!(serde_json::from_str::<MaintainRequest>(r#"{"table": "t", "typo": 1}"#).is_err());
    }
}
