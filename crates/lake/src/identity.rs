//! The table identity guard: a catalog that lost a table is refused, never papered over.
//!
//! Iceberg catalogs map a name to a metadata file; nothing in a catalog remembers that a
//! name once meant another table. Delete `catalog.db` (or drop a Glue table) and the next
//! `create_table` makes a new, empty table at the very same location, while the ledger still
//! calls every earlier version committed: rows gone, exit code 0. So a [`Lake`] opened by the
//! steps carries an [`IdentityGuard`] over the bucket's store (the same object-store port
//! locally and on S3) that reads and writes `sluice_store::Identities` beside the ledger:
//!
//! - every load compares the catalog's table with the recorded identity: a table the catalog
//!   no longer has, has with another UUID, or has at older metadata than recorded, is an `Internal` error naming the table, the
//!   recorded UUID and metadata location and the recovery command (`sluice doctor`);
//! - a table is created only when there is neither an identity record nor a ledger record
//!   committed to it, one creator at a time per process (the ledger scan is not repeated by
//!   every arrival of a first ingest);
//! - after each commit the identity moves forward to the new metadata file (loads adopt newer
//!   metadata too: schema evolution, tables made before identity records existed).
//!
//! [`Lake`]: crate::Lake

use std::sync::Arc;

use iceberg::table::Table;
use sluice_core::config::TableConfig;
use sluice_store::{Identities, IdentityError, Ledger, ObjectStore, TableIdentity};

use crate::error::{LakeError, LakeErrorKind, Result};

/// The command a refusal points at.
pub const RECOVERY_COMMAND: &str = "sluice doctor --repair";

/// Reads and writes the identity records of the bucket whose ledger committed to the tables.
#[derive(Debug, Clone)]
pub struct IdentityGuard {
    identities: Identities,
    ledger: Ledger,
    /// Held while a table is created, so that concurrent first arrivals in this process wait
    /// for one creator instead of each scanning the ledger.
    creating: Arc<tokio::sync::Mutex<()>>,
}

/// The identity a loaded table has.
pub fn identity_of(cfg: &TableConfig, table: &Table) -> TableIdentity {
    let metadata = table.metadata();
    TableIdentity {
        namespace: cfg.namespace.clone(),
        table: cfg.name.clone(),
        uuid: metadata.uuid().to_string(),
        metadata_location: table.metadata_location().unwrap_or_default().to_string(),
        last_updated_ms: metadata.last_updated_ms(),
        updated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

impl IdentityGuard {
    /// A guard over the identity records and ledger kept in `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        IdentityGuard {
            identities: Identities::new(store.clone()),
            ledger: Ledger::new(store),
            creating: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The recorded identity of `cfg`'s table, if any.
    pub async fn recorded(&self, cfg: &TableConfig) -> Result<Option<TableIdentity>> {
        match self.identities.get(&cfg.namespace, &cfg.name).await {
            Ok(found) => Ok(found.map(|v| v.identity)),
            Err(e) => Err(identity_error(cfg, e)),
        }
    }

    /// Checks what the catalog answered for `cfg` (`None`: no such table) against the record
    /// read before it: the table must be there, with the recorded UUID, at least as new as the
    /// recorded metadata (an older one is a catalog put back from a backup: committing on it
    /// would orphan the newer snapshots' files); adopts a newer metadata file of the same table (best effort: a read-only workspace can
    /// still be inspected).
    pub(crate) async fn check_loaded(
        &self,
        cfg: &TableConfig,
        table: Option<&Table>,
        recorded: Option<TableIdentity>,
    ) -> Result<()> {
        match (table, recorded) {
            (Some(t), Some(r)) if t.metadata().uuid().to_string() != r.uuid => {
                Err(replaced(cfg, &r, &t.metadata().uuid().to_string()))
            }
            (Some(t), Some(r)) if t.metadata().last_updated_ms() < r.last_updated_ms => {
                Err(stale(cfg, &r, t.metadata_location().unwrap_or_default()))
            }
            (Some(t), r) => {
                let now = identity_of(cfg, t);
                let newer = r.is_none_or(|r| {
                    r.metadata_location != now.metadata_location
                        && r.last_updated_ms <= now.last_updated_ms
                });
                if newer {
                    if let Err(e) = self.identities.record(&now).await {
                        tracing::debug!(table = %cfg.name, error = %e, "table identity not updated");
                    }
                }
                Ok(())
            }
            (None, Some(r)) => Err(lost(cfg, &r)),
            (None, None) => Ok(()),
        }
    }

    /// Refuses to create `cfg`'s table when the ledger says rows were committed to it: the
    /// table existed and the catalog lost it before it had an identity record.
    pub(crate) async fn check_creatable(&self, cfg: &TableConfig) -> Result<()> {
        let committed = self.ledger.has_commits(&cfg.name).await.map_err(|e| {
            LakeError::new(LakeErrorKind::Transient, format!("reading the ledger: {e}"))
        })?;
        if committed {
            return Err(LakeError::internal(format!(
                "table {}.{} is missing from the catalog, but the ledger has object versions \
                 committed to it: the catalog lost the table, and a new empty one would hide \
                 their rows; refusing to create it. Run `sluice doctor` to see the damage and \
                 `{RECOVERY_COMMAND}` to register the table's newest metadata file again",
                cfg.namespace, cfg.name
            )));
        }
        Ok(())
    }

    /// Records `table` as `cfg`'s identity after sluice changed it (created, committed).
    pub(crate) async fn remember(&self, cfg: &TableConfig, table: &Table) -> Result<()> {
        self.identities
            .record(&identity_of(cfg, table))
            .await
            .map(|_| ())
            .map_err(|e| identity_error(cfg, e))
    }

    /// The creation lock (see the field).
    pub(crate) async fn creating(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.creating.lock().await
    }
}

fn lost(cfg: &TableConfig, r: &TableIdentity) -> LakeError {
    LakeError::internal(format!(
        "table {}.{} is missing from the catalog, but this workspace recorded it (UUID {}, \
         metadata {}): the catalog lost the table; refusing to create a new empty one in its \
         place. Run `sluice doctor` to see the damage and `{RECOVERY_COMMAND}` to register \
         that metadata file again",
        cfg.namespace, cfg.name, r.uuid, r.metadata_location
    ))
}

fn stale(cfg: &TableConfig, r: &TableIdentity, found: &str) -> LakeError {
    LakeError::internal(format!(
        "table {}.{} in the catalog points at metadata {found}, older than the recorded {} \
         (UUID {}): the catalog was put back to an earlier state and lacks later commits; \
         refusing to use it. Run `sluice doctor` to see the damage and `{RECOVERY_COMMAND}` \
         to register the newest metadata file again",
        cfg.namespace, cfg.name, r.metadata_location, r.uuid
    ))
}

fn replaced(cfg: &TableConfig, r: &TableIdentity, found: &str) -> LakeError {
    LakeError::internal(format!(
        "table {}.{} in the catalog has UUID {found}, but this workspace recorded UUID {} \
         (metadata {}): the catalog holds another table than the one the ledger committed \
         to; refusing to use it. Run `sluice doctor` to see the damage and \
         `{RECOVERY_COMMAND}` to register the recorded table again",
        cfg.namespace, cfg.name, r.uuid, r.metadata_location
    ))
}

fn identity_error(cfg: &TableConfig, e: IdentityError) -> LakeError {
    match e {
        IdentityError::UuidChanged {
            recorded,
            metadata_location,
            found,
            ..
        } => replaced(
            cfg,
            &TableIdentity {
                namespace: cfg.namespace.clone(),
                table: cfg.name.clone(),
                uuid: recorded,
                metadata_location,
                last_updated_ms: 0,
                updated_at: String::new(),
            },
            &found,
        ),
        IdentityError::Conflict { .. } => {
            LakeError::new(LakeErrorKind::Transient, format!("table {}: {e}", cfg.name))
        }
        IdentityError::Store(s) if s.is_transient() => {
            LakeError::new(LakeErrorKind::Transient, format!("table {}: {s}", cfg.name))
        }
        other => LakeError::internal(format!(
            "table {}.{}: {other}; run `sluice doctor`",
            cfg.namespace, cfg.name
        )),
    }
}
