//! Reading tables back: a description for `sluice table show`, and row scans through
//! iceberg-rust's scan planner and Arrow reader (the same path another engine takes: current
//! metadata → manifest list → manifests → data files), never through sluice's own records.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::config::TableConfig;
use sluice_core::schema::TableSchema;

use crate::error::{LakeError, Result};
use crate::schema::from_iceberg_schema;
use crate::Lake;

/// One snapshot, as `sluice table show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub snapshot_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_snapshot_id: Option<i64>,
    /// Commit time, RFC 3339.
    pub committed_at: String,
    pub operation: String,
    /// The whole summary, including `sluice.batch-ids`, `added-records`, `total-records`.
    pub summary: BTreeMap<String, String>,
}

/// What a table is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDescription {
    pub namespace: String,
    pub name: String,
    /// The current metadata file: what another engine opens to read the table.
    pub metadata_location: String,
    pub location: String,
    pub format_version: u8,
    pub schema_id: i32,
    pub schema: TableSchema,
    /// Partition fields as `name = transform(source)`.
    pub partition: Vec<String>,
    pub current_snapshot_id: Option<i64>,
    /// Rows in the current snapshot, from its summary (`total-records`).
    pub total_records: u64,
    pub snapshots: Vec<SnapshotInfo>,
}

impl Lake {
    /// Describes the table, or `None` if nothing has created it yet.
    pub async fn describe(&self, table_cfg: &TableConfig) -> Result<Option<TableDescription>> {
        let Some(table) = self.load(table_cfg).await? else {
            return Ok(None);
        };
        let m = table.metadata();
        let schema = m.current_schema();
        let partition = m
            .default_partition_spec()
            .fields()
            .iter()
            .map(|f| {
                let source = schema
                    .name_by_field_id(f.source_id)
                    .unwrap_or("?")
                    .to_string();
                format!("{} = {}({})", f.name, f.transform, source)
            })
            .collect();
        let mut snapshots: Vec<SnapshotInfo> = m
            .snapshots()
            .map(|s| SnapshotInfo {
                snapshot_id: s.snapshot_id(),
                parent_snapshot_id: s.parent_snapshot_id(),
                committed_at: chrono::DateTime::from_timestamp_millis(s.timestamp_ms())
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                operation: s.summary().operation.as_str().to_string(),
                summary: s
                    .summary()
                    .additional_properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            })
            .collect();
        snapshots.sort_by_key(|s| (s.committed_at.clone(), s.snapshot_id));
        let total_records = m
            .current_snapshot()
            .and_then(|s| {
                s.summary()
                    .additional_properties
                    .get("total-records")
                    .cloned()
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some(TableDescription {
            namespace: table_cfg.namespace.clone(),
            name: table_cfg.name.clone(),
            metadata_location: table.metadata_location().unwrap_or_default().to_string(),
            location: m.location().to_string(),
            format_version: m.format_version() as u8,
            schema_id: schema.schema_id(),
            schema: from_iceberg_schema(schema)?,
            partition,
            current_snapshot_id: m.current_snapshot_id(),
            total_records,
            snapshots,
        }))
    }

    /// Every row of the table's current snapshot, through an Iceberg scan.
    pub async fn scan(&self, table_cfg: &TableConfig) -> Result<Vec<RecordBatch>> {
        let Some(table) = self.load(table_cfg).await? else {
            return Ok(vec![]);
        };
        if table.metadata().current_snapshot().is_none() {
            return Ok(vec![]);
        }
        let stream = table
            .scan()
            .select_all()
            .build()
            .map_err(|e| LakeError::iceberg("planning the scan", e))?
            .to_arrow()
            .await
            .map_err(|e| LakeError::iceberg("starting the scan", e))?;
        stream
            .try_collect()
            .await
            .map_err(|e| LakeError::iceberg("scanning", e))
    }

    /// Every row as a JSON object (nulls omitted), for tests and `sluice table rows`.
    pub async fn scan_json(&self, table_cfg: &TableConfig) -> Result<Vec<Value>> {
        let batches = self.scan(table_cfg).await?;
        let mut out = Vec::new();
        {
            let mut writer = arrow_json::LineDelimitedWriter::new(&mut out);
            for b in &batches {
                writer
                    .write(b)
                    .map_err(|e| LakeError::internal(format!("rows to JSON: {e}")))?;
            }
            writer
                .finish()
                .map_err(|e| LakeError::internal(format!("rows to JSON: {e}")))?;
        }
        out.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                serde_json::from_slice(l)
                    .map_err(|e| LakeError::internal(format!("rows to JSON: {e}")))
            })
            .collect()
    }
}
