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
//!
//! The contract a table judges files under is the configured file with the additions of every
//! approved drift change (`sluice drift approve`) added as optional properties
//! ([`effective`]): an approval records a new version (its `approved` lists the change ids),
//! so the history shows when each field became part of the contract, and by whose decision.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sluice_core::config::TableConfig;
use sluice_core::contract::{compatibility_breaks, Contract, TableConflict};
use sluice_core::layout;
use sluice_core::schema::{from_json_schema, optional_json_schema, parse_type_name, TableSchema};
use sluice_store::{Conditional, ObjectStore};

use crate::context::now;
use crate::drift_decisions::{DriftDecisions, Verdict};
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
    /// The approved drift changes (`sluice drift approve`) whose additions this version adds
    /// to the contract file, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved: Vec<String>,
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

/// The contract `table` judges files under, as version 0 (not recorded): the configured
/// `contract` with the additions of every approved change in `decisions` added, in the order
/// approved, as optional properties of the type the files had. An addition the contract has
/// already (the team wrote it in since), or whose type cannot be written back as JSON Schema,
/// is left out; a change none of whose additions is added is not listed in `approved`.
pub fn effective(
    table: &TableConfig,
    contract: &Contract,
    decisions: &DriftDecisions,
) -> ContractVersion {
    let mut schema = contract.schema_json.clone();
    let mut approved = vec![];
    for decision in decisions
        .decisions
        .iter()
        .filter(|d| d.verdict == Verdict::Approved)
    {
        let mut added = false;
        for change in &decision.changes {
            added |= add_property(&mut schema, &change.path, &change.file_type);
        }
        if added {
            approved.push(decision.id.clone());
        }
    }
    let source = match approved.is_empty() {
        true => table.contract.display().to_string(),
        false => format!(
            "{} + approved drift {}",
            table.contract.display(),
            approved.join(", ")
        ),
    };
    ContractVersion {
        table: table.name.clone(),
        version: 0,
        sha256: fingerprint(&schema),
        recorded_at: String::new(),
        source,
        schema,
        approved,
    }
}

/// Adds the optional property at dotted `path` (`coupon`, `customer.tier`, `items.sku` for a
/// member of list `items`' element) with the type `type_name` names, unless it is there or
/// its parent is not an object schema; whether it added it.
fn add_property(root: &mut Value, path: &str, type_name: &str) -> bool {
    let Some(ty) = parse_type_name(type_name) else {
        tracing::warn!(
            path,
            "an approved addition's type cannot be written as JSON Schema"
        );
        return false;
    };
    let segments: Vec<&str> = path.split('.').collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = root;
    for segment in parents {
        let Some(child) = node.get_mut("properties").and_then(|p| p.get_mut(*segment)) else {
            return false;
        };
        node = child;
        // A list's members are its element's.
        while node.get("properties").is_none() && node.get("items").is_some() {
            node = node.get_mut("items").expect("checked above");
        }
    }
    let Some(properties) = node.get_mut("properties").and_then(Value::as_object_mut) else {
        return false;
    };
    if properties.contains_key(*last) {
        return false;
    }
    properties.insert((*last).to_string(), optional_json_schema(&ty));
    true
}

/// Records `wanted` (the [`effective`] contract) as `table`'s newest version unless it
/// already is, after checking it against the version before under the table's compatibility
/// mode; the version it is.
pub async fn record(
    store: &dyn ObjectStore,
    table: &TableConfig,
    wanted: &ContractVersion,
) -> Result<ContractVersion, StepError> {
    let sha256 = wanted.sha256.clone();
    let columns = wanted.columns()?;
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
                &columns,
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
            version: next,
            recorded_at: now(),
            ..wanted.clone()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift_decisions::Decision;
    use serde_json::json;
    use sluice_core::drift::{DriftChange, DriftClass};

    fn approved(id: &str, changes: &[(DriftClass, &str, &str)]) -> Decision {
        Decision {
            id: id.into(),
            verdict: Verdict::Approved,
            changes: changes
                .iter()
                .map(|(class, path, ty)| DriftChange {
                    class: *class,
                    path: (*path).into(),
                    table_type: None,
                    file_type: (*ty).into(),
                })
                .collect(),
            reason: None,
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn the_effective_contract_adds_approved_fields_where_the_files_had_them() {
        let doc = json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "integer"},
            "customer": {"type": "object", "properties": {"email": {"type": "string"}}},
            "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}
        }});
        let table: TableConfig = toml::from_str(
            "name = \"orders\"\nprefix = \"orders/\"\ncontract = \"orders.json\"\nformat = \"ndjson\"",
        )
        .unwrap();
        let contract = Contract::from_value(doc.clone(), "orders.json").unwrap();
        let none = effective(&table, &contract, &DriftDecisions::default());
        assert_eq!(none.schema, doc);
        assert!(none.approved.is_empty());
        assert_eq!(none.source, "orders.json");

        let decisions = DriftDecisions {
            decisions: vec![
                approved(
                    "d1",
                    &[
                        (DriftClass::AdditiveOptional, "coupon", "string"),
                        (
                            DriftClass::NestedAddition,
                            "customer.tier",
                            "struct<level: long>",
                        ),
                        (DriftClass::NestedAddition, "items.gift", "boolean"),
                    ],
                ),
                // Already in the contract: adds nothing, not listed.
                approved("d2", &[(DriftClass::AdditiveOptional, "id", "long")]),
                Decision {
                    verdict: Verdict::Rejected,
                    ..approved("d3", &[(DriftClass::AdditiveOptional, "nope", "long")])
                },
            ],
        };
        let with = effective(&table, &contract, &decisions);
        assert_eq!(with.approved, ["d1"]);
        assert_eq!(with.source, "orders.json + approved drift d1");
        assert_ne!(with.sha256, none.sha256);
        let columns = with.columns().unwrap();
        assert_eq!(columns.field("coupon").unwrap().ty.name(), "string");
        assert!(!columns.field("coupon").unwrap().required);
        assert_eq!(
            columns.field("customer").unwrap().ty.name(),
            "struct<email: string, tier: struct<level: long>>"
        );
        assert_eq!(
            columns.field("items").unwrap().ty.name(),
            "list<struct<sku: string, gift: boolean>>"
        );
        assert!(columns.field("nope").is_none());
        // The contract with the additions is backward and forward compatible with the one
        // without: optional fields only.
        for mode in [
            sluice_core::config::Compatibility::Backward,
            sluice_core::config::Compatibility::Full,
        ] {
            assert!(compatibility_breaks(&none.columns().unwrap(), 1, &columns, mode).is_empty());
        }
    }
}
