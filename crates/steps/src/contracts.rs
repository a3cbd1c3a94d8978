//! Contract versions: every contract a table's files have been judged under, recorded in the
//! bucket (`.sluice/contracts/<namespace>.<table>/v000001.json`, …; on AWS the stack's bucket,
//! locally the workspace's), so that a data team can see what changed, when, and check a new
//! contract before it judges anything.
//!
//! A version is recorded the first time a process uses a contract whose bytes differ from the
//! newest recorded one: at the start of `sluice ingest` (and the other commands that judge
//! files) and in DetectDrift (on AWS, the first execution a function container runs after a
//! deploy changed the contract). Before it is recorded, the new contract is checked against
//! the newest version under the table's `compatibility` mode
//! ([`sluice_core::contract::compatibility_breaks`]); an incompatible one is refused, so no
//! file is judged by it. Recording is a create-if-absent of the next number: of racing
//! processes exactly one writes it, and the others read it back (the same contract) or take
//! the number after (another contract).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sluice_core::config::TableConfig;
use sluice_core::contract::{compatibility_breaks, Contract, TableConflict};
use sluice_core::layout;
use sluice_core::schema::{from_json_schema, TableSchema};
use sluice_store::{Conditional, ObjectStore};

use crate::context::now;
use crate::error::StepError;

/// One recorded version of a table's contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractVersion {
    /// The table's name.
    pub table: String,
    /// 1, 2, …: the order in which the versions were first used.
    pub version: u32,
    /// SHA-256 of the JSON Schema document as serialised here (hex): what tells one version
    /// from another, whatever the file's spacing.
    pub sha256: String,
    /// When it was first used (RFC 3339).
    pub recorded_at: String,
    /// The contract file it was read from, as the configuration names it.
    pub source: String,
    /// The JSON Schema document.
    pub schema: Value,
}

impl ContractVersion {
    /// The columns this version maps to.
    pub fn columns(&self) -> Result<TableSchema, StepError> {
        from_json_schema(&self.schema).map_err(|e| {
            StepError::internal(format!(
                "version {} of table {}'s contract no longer maps to columns: {e}",
                self.version, self.table
            ))
        })
    }
}

/// The fingerprint of a contract document.
pub fn fingerprint(schema: &Value) -> String {
    hex::encode(Sha256::digest(schema.to_string().as_bytes()))
}

/// Every recorded version of `table`'s contract, oldest first.
pub async fn versions(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<Vec<ContractVersion>, StepError> {
    let mut listed = store.list(&layout::contracts_prefix(table)).await?;
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    let mut out = Vec::with_capacity(listed.len());
    for meta in listed {
        let Some((bytes, _)) = store.get_bytes(&meta.key).await? else {
            continue;
        };
        let version: ContractVersion = serde_json::from_slice(&bytes).map_err(|e| {
            StepError::internal(format!("{} is not a contract version: {e}", meta.key))
        })?;
        out.push(version);
    }
    Ok(out)
}

/// Records `contract` as `table`'s newest version unless it already is, after checking it
/// against the version before under the table's compatibility mode; the version it is.
pub async fn record(
    store: &dyn ObjectStore,
    table: &TableConfig,
    contract: &Contract,
) -> Result<ContractVersion, StepError> {
    let sha256 = fingerprint(&contract.schema_json);
    for _ in 0..RECORD_ATTEMPTS {
        let known = versions(store, table).await?;
        let latest = known.last();
        if let Some(latest) = latest {
            if latest.sha256 == sha256 {
                return Ok(latest.clone());
            }
            let breaks = compatibility_breaks(
                &latest.columns()?,
                latest.version,
                &contract.table_schema,
                table.compatibility,
            );
            if !breaks.is_empty() {
                return Err(incompatible(table, latest.version, &breaks));
            }
        }
        // The number after every one taken, whatever a record says of itself.
        let next = known
            .iter()
            .map(|v| v.version)
            .max()
            .unwrap_or(0)
            .max(known.len() as u32)
            + 1;
        let version = ContractVersion {
            table: table.name.clone(),
            version: next,
            sha256: sha256.clone(),
            recorded_at: now(),
            source: table.contract.display().to_string(),
            schema: contract.schema_json.clone(),
        };
        let body = serde_json::to_vec_pretty(&version)
            .map_err(|e| StepError::internal(format!("a contract version: {e}")))?;
        let key = layout::contract_version(table, version.version);
        match store.create_if_absent(&key, Bytes::from(body)).await? {
            Conditional::Done(_) => {
                tracing::info!(
                    table = %table.name,
                    version = version.version,
                    "contract version recorded"
                );
                return Ok(version);
            }
            // Another process recorded that number first: read the versions again.
            Conditional::PreconditionFailed => continue,
        }
    }
    Err(StepError::new(
        crate::error::StepErrorKind::TransientError,
        format!(
            "the contract of table {} could not be recorded: {RECORD_ATTEMPTS} attempts each \
             found its version number taken (under {})",
            table.name,
            layout::contracts_prefix(table)
        ),
    ))
}

/// Tries at recording a version, each after reading the versions again: more racing
/// recorders of different contracts than this at once is not a thing that happens.
const RECORD_ATTEMPTS: usize = 8;

fn incompatible(table: &TableConfig, latest: u32, breaks: &[TableConflict]) -> StepError {
    let listed: Vec<String> = breaks.iter().map(ToString::to_string).collect();
    StepError::internal(format!(
        "the contract {} of table {}.{} is not {} compatible with version {latest}, so no file \
         is judged by it: {}. Put the contract back, or set the table's `compatibility` (backward, \
         forward, full, none) to what the change needs",
        table.contract.display(),
        table.namespace,
        table.name,
        table.compatibility.as_str(),
        listed.join("; ")
    ))
}
