//! Table identity records: which Iceberg table the ledger's commits went into.
//!
//! The ledger says "committed in snapshot S"; that sentence is only true of one table, the one
//! with a particular UUID. A catalog can lose that table (a deleted `catalog.db`, a Glue table
//! dropped by hand) and an unguarded writer would then create a new, empty table at the same
//! location while the ledger still calls every version committed. So beside the ledger, under
//! the control prefix, each table has one [`TableIdentity`] record
//! (`.sluice/tables/<namespace>.<table>.json`): its UUID and the newest metadata location
//! sluice has seen. sluice-lake reads it before trusting the catalog and writes it after each
//! change it makes. Like ledger records it is written with a conditional create and then a
//! compare-and-swap, and it only moves forward (by the metadata's `last-updated-ms`), so racing
//! committers cannot put an older metadata file back over a newer one.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::store::{Conditional, ObjectStore, StoreError};

/// How often [`Identities::record`] re-reads and tries again after losing a race.
const RECORD_ATTEMPTS: usize = 16;

/// What the workspace (or bucket) knows about one table's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableIdentity {
    /// Iceberg namespace, as in the configuration.
    pub namespace: String,
    /// Table name, as in the configuration.
    pub table: String,
    /// The table's `table-uuid`: a catalog table with another UUID is another table.
    pub uuid: String,
    /// The newest metadata file sluice has seen for the table: what `sluice doctor --repair`
    /// registers when the catalog has lost the table.
    pub metadata_location: String,
    /// `last-updated-ms` of that metadata file, so the record never moves backwards.
    pub last_updated_ms: i64,
    /// RFC 3339 time of the last write of this record.
    pub updated_at: String,
}

/// A record with the etag it was read with.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionedIdentity {
    /// The record as stored.
    pub identity: TableIdentity,
    /// Etag of the stored record.
    pub etag: String,
}

/// Why reading or writing an identity record failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The store failed underneath.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored record cannot be read.
    #[error("table identity record {key:?} is corrupt: {message}")]
    Corrupt {
        /// Store key of the record.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A write would change the table's UUID: the catalog holds another table than the one
    /// the ledger committed to.
    #[error(
        "table {namespace}.{table}: the catalog's table has UUID {found}, but this workspace \
         recorded UUID {recorded} (metadata {metadata_location})"
    )]
    UuidChanged {
        namespace: String,
        table: String,
        /// The UUID recorded earlier.
        recorded: String,
        /// The recorded metadata location.
        metadata_location: String,
        /// The UUID the write carried.
        found: String,
    },
    /// Every attempt lost a race with another writer.
    #[error("table identity record {key:?} kept changing under this writer")]
    Conflict { key: String },
}

/// The identity records of one bucket.
#[derive(Debug, Clone)]
pub struct Identities {
    /// The bucket's own store; records live under the control prefix.
    store: Arc<dyn ObjectStore>,
}

impl Identities {
    /// Identity records kept in `store`.
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        Identities { store }
    }

    /// `.sluice/tables/<namespace>.<table>.json`.
    pub fn key(namespace: &str, table: &str) -> String {
        sluice_core::layout::identity(namespace, table)
    }

    /// The record of a table, or `None` if none was ever written.
    pub async fn get(
        &self,
        namespace: &str,
        table: &str,
    ) -> Result<Option<VersionedIdentity>, IdentityError> {
        let key = Self::key(namespace, table);
        let Some((bytes, meta)) = self.store.get_bytes(&key).await? else {
            return Ok(None);
        };
        let identity: TableIdentity =
            serde_json::from_slice(&bytes).map_err(|e| IdentityError::Corrupt {
                key: key.clone(),
                message: e.to_string(),
            })?;
        Ok(Some(VersionedIdentity {
            identity,
            etag: meta.etag,
        }))
    }

    /// Records `identity` unless the stored record is as new or newer. A stored record with
    /// another UUID is [`IdentityError::UuidChanged`], never overwritten: that takes a person
    /// (`sluice doctor`). Returns whether it wrote.
    pub async fn record(&self, identity: &TableIdentity) -> Result<bool, IdentityError> {
        let key = Self::key(&identity.namespace, &identity.table);
        let body = encode(&key, identity)?;
        for _ in 0..RECORD_ATTEMPTS {
            let written = match self.get(&identity.namespace, &identity.table).await? {
                None => self.store.create_if_absent(&key, body.clone()).await?,
                Some(current) => {
                    let stored = &current.identity;
                    if stored.uuid != identity.uuid {
                        return Err(IdentityError::UuidChanged {
                            namespace: identity.namespace.clone(),
                            table: identity.table.clone(),
                            recorded: stored.uuid.clone(),
                            metadata_location: stored.metadata_location.clone(),
                            found: identity.uuid.clone(),
                        });
                    }
                    if stored.metadata_location == identity.metadata_location
                        || stored.last_updated_ms > identity.last_updated_ms
                    {
                        return Ok(false);
                    }
                    self.store
                        .put_if_match(&key, body.clone(), &current.etag)
                        .await?
                }
            };
            if let Conditional::Done(_) = written {
                tracing::debug!(
                    table = %identity.table,
                    uuid = %identity.uuid,
                    metadata = %identity.metadata_location,
                    "table identity recorded"
                );
                return Ok(true);
            }
        }
        Err(IdentityError::Conflict { key })
    }

    /// Replaces the record whatever it holds: for `sluice doctor --repair` only, after a
    /// person's command decided which table is the right one.
    pub async fn overwrite(&self, identity: &TableIdentity) -> Result<(), IdentityError> {
        let key = Self::key(&identity.namespace, &identity.table);
        self.store.put(&key, encode(&key, identity)?).await?;
        Ok(())
    }
}

fn encode(key: &str, identity: &TableIdentity) -> Result<Bytes, IdentityError> {
    let mut body = serde_json::to_vec_pretty(identity).map_err(|e| IdentityError::Corrupt {
        key: key.to_string(),
        message: e.to_string(),
    })?;
    body.push(b'\n');
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::LocalStore;

    fn identities() -> (tempfile::TempDir, Identities) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> =
            Arc::new(LocalStore::new(dir.path().join("bucket"), "landing").unwrap());
        (dir, Identities::new(store))
    }

    fn identity(uuid: &str, location: &str, ms: i64) -> TableIdentity {
        TableIdentity {
            namespace: "shop".into(),
            table: "orders".into(),
            uuid: uuid.into(),
            metadata_location: location.into(),
            last_updated_ms: ms,
            updated_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn the_record_only_moves_forward() {
        let (_dir, ids) = identities();
        assert!(ids.record(&identity("u1", "m1", 10)).await.unwrap());
        assert!(ids.record(&identity("u1", "m3", 30)).await.unwrap());
        // A slower committer's older metadata does not go back over the newer one.
        assert!(!ids.record(&identity("u1", "m2", 20)).await.unwrap());
        let stored = ids.get("shop", "orders").await.unwrap().unwrap();
        assert_eq!(stored.identity.metadata_location, "m3");
    }

    #[tokio::test]
    async fn another_uuid_is_refused_not_recorded() {
        let (_dir, ids) = identities();
        ids.record(&identity("u1", "m1", 10)).await.unwrap();
        let err = ids.record(&identity("u2", "m9", 90)).await.unwrap_err();
        assert!(matches!(err, IdentityError::UuidChanged { .. }), "{err:?}");
        let stored = ids.get("shop", "orders").await.unwrap().unwrap();
        assert_eq!(stored.identity.uuid, "u1");
    }
}
