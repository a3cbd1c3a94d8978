//! Putting a lost table back into the catalog: what `sluice doctor --repair` does when the
//! catalog no longer knows a table the ledger committed to.
//!
//! The table itself is not lost with the catalog: its metadata files, manifests and data files
//! are still at its location. [`Lake::metadata_files`] lists the metadata files there (the
//! caller takes the newest of the recorded UUID), and
//! [`Lake::register`] hands it to the catalog's own `register_table`, which every Iceberg
//! catalog offers (SQL, Glue, REST): no metadata is written, the table is as it was.

use std::collections::HashMap;
use std::path::PathBuf;

use iceberg::spec::TableMetadata;
use iceberg::table::Table;
use sluice_core::config::TableConfig;

use crate::error::{LakeError, LakeErrorKind, Result};
use crate::Lake;

/// A metadata file found under a table's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMetadata {
    /// Its location, as the catalog stores it.
    pub location: String,
    /// The table UUID it describes.
    pub uuid: String,
    /// Its `last-updated-ms`.
    pub last_updated_ms: i64,
    /// Snapshots it holds.
    pub snapshots: usize,
}

impl Lake {
    /// Every readable metadata file under `cfg`'s table location (`<location>/metadata/`),
    /// oldest first (by `last-updated-ms`). Only local warehouses can be listed; elsewhere the
    /// answer is empty and the caller falls back to the recorded location.
    pub async fn metadata_files(&self, cfg: &TableConfig) -> Result<Vec<FoundMetadata>> {
        let location = self.location(cfg);
        if !location.starts_with('/') {
            return Ok(vec![]);
        }
        let dir = PathBuf::from(format!("{location}/metadata"));
        tokio::task::spawn_blocking(move || metadata_in(&dir))
            .await
            .map_err(|e| LakeError::internal(format!("listing metadata files: {e}")))?
    }

    /// Registers the metadata file at `metadata_location` as `cfg`'s table (creating the
    /// namespace if the catalog lost that too). Fails if the catalog has the table.
    pub async fn register(&self, cfg: &TableConfig, metadata_location: &str) -> Result<Table> {
        let ident = Self::ident(cfg)?;
        let ns = ident.namespace().clone();
        let exists = self
            .catalog()
            .namespace_exists(&ns)
            .await
            .map_err(|e| LakeError::iceberg(format!("looking up namespace {ns:?}"), e))?;
        if !exists {
            self.catalog()
                .create_namespace(&ns, HashMap::new())
                .await
                .map_err(|e| LakeError::iceberg(format!("creating namespace {ns:?}"), e))?;
        }
        let table = self
            .catalog()
            .register_table(&ident, metadata_location.to_string())
            .await
            .map_err(|e| {
                LakeError::iceberg(format!("registering {metadata_location} as {ident}"), e)
            })?;
        tracing::info!(table = %ident, metadata = metadata_location, "table registered");
        Ok(table)
    }

    /// Removes `cfg`'s table from the catalog only; its files stay where they are (the
    /// impostor an unguarded writer created, before the real one is registered again).
    pub async fn forget(&self, cfg: &TableConfig) -> Result<()> {
        let ident = Self::ident(cfg)?;
        self.catalog()
            .drop_table(&ident)
            .await
            .map_err(|e| LakeError::iceberg(format!("removing {ident} from the catalog"), e))
    }
}

fn metadata_in(dir: &std::path::Path) -> Result<Vec<FoundMetadata>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => {
            return Err(LakeError::new(
                LakeErrorKind::Transient,
                format!("listing {}: {e}", dir.display()),
            ))
        }
    };
    let mut found = vec![];
    for entry in entries.flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.ends_with(".metadata.json") {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        // A file that is not table metadata (or one half-written by a crash) is no candidate.
        let Ok(metadata) = serde_json::from_slice::<TableMetadata>(&bytes) else {
            tracing::warn!(path = %path.display(), "unreadable metadata file passed over");
            continue;
        };
        found.push(FoundMetadata {
            location: path.display().to_string(),
            uuid: metadata.uuid().to_string(),
            last_updated_ms: metadata.last_updated_ms(),
            snapshots: metadata.snapshots().count(),
        });
    }
    found.sort_by(|a, b| (a.last_updated_ms, &a.location).cmp(&(b.last_updated_ms, &b.location)));
    Ok(found)
}
