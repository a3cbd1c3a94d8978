//! Lost events: `sluice reconcile` lists each table's prefix in the bucket (the listing is
//! the truth; events are only hints), runs every object version the ledger never saw as an
//! arrival, and records a per-table watermark: every object that landed at or before it is
//! committed, filtered or quarantined.
//!
//! Which versions need an execution, under which name, is `sluice_steps::reconcile`, shared
//! with the reconcile Lambda; here each one runs in process on the engine.

use sluice_core::config::TableConfig;
use sluice_steps::context::{keys, now};
use sluice_steps::reconcile;
pub use sluice_steps::reconcile::Watermark;

use crate::{ArrivalReport, Local, LocalError};

/// What one table's reconciliation did.
#[derive(Debug, Clone)]
pub struct Reconciled {
    pub watermark: Watermark,
    /// The arrivals it ran: object versions the ledger had no record of.
    pub ran: Vec<ArrivalReport>,
}

impl Local {
    /// Reconciles one table's prefix (see the module docs).
    pub async fn reconcile(&self, table: &TableConfig) -> Result<Reconciled, LocalError> {
        let err = LocalError::Step;
        let bucket = self.ctx.store.bucket().to_string();
        let listed = reconcile::list(&self.ctx, table).await.map_err(err)?;
        let mut ran = vec![];
        // What became of every object routed to this table, after the run.
        let mut fates = vec![];
        for l in &listed {
            let mut record = l.record.clone();
            if let Some(start) = reconcile::start_for(l, &bucket, &now()) {
                ran.push(self.ingest_as(&start.arrival, start.name).await?);
                let version = l.meta.to_version(&bucket);
                record = self
                    .ctx
                    .ledger
                    .get(&version)
                    .await
                    .map_err(|e| err(e.into()))?
                    .map(|r| r.record);
            }
            let done = record.is_some_and(|r| r.state.is_terminal());
            fates.push(reconcile::Fate::of(&l.meta, done));
        }
        let mark = reconcile::watermark(table, fates, now());
        reconcile::record_watermark(&self.ctx, table, &mark)
            .await
            .map_err(err)?;
        Ok(Reconciled {
            watermark: mark,
            ran,
        })
    }

    /// The table's last recorded watermark, if it was ever reconciled.
    pub async fn watermark(&self, table: &TableConfig) -> Result<Option<Watermark>, LocalError> {
        let key = keys::watermark(table);
        let Some((bytes, _)) = self
            .ctx
            .store
            .get_bytes(&key)
            .await
            .map_err(|e| LocalError::Store(e.to_string()))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LocalError::Record {
                key,
                message: e.to_string(),
            })
    }
}
