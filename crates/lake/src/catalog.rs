//! The [`Lake`] handle: one Iceberg catalog, and the table operations sluice needs.
//!
//! Locally the catalog is Iceberg's SQL catalog on a SQLite file (`catalog.db`) whose tables
//! live in a filesystem warehouse; on AWS it is Glue (sluice-aws opens it and hands it over
//! with [`Lake::from_catalog`]). Either way a table lives at `<warehouse>/<namespace>/<table>`,
//! except in a catalog that manages its tables ([`Lake::with_managed_tables`], S3 Tables):
//! there the catalog places a new table itself, and expires its snapshots and removes its
//! unreferenced files itself, so sluice's expiry and garbage collection refuse to run.
//! Tables are created from the contract on first use with the library's own commit retries
//! turned off (`commit.retry.num-retries = 0`): a retried commit must pass sluice's batch-id
//! check again, so the retry loop is sluice's (the state machine's `CommitConflict` retry),
//! not the library's silent re-apply.
//!
//! A lake opened for the steps is guarded ([`Lake::guarded`], see [`crate::identity`]):
//! loading compares the catalog's answer with the table's recorded identity, and creating
//! happens only for a table nothing has committed to.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use iceberg::io::LocalFsStorageFactory;
use iceberg::spec::Type;
use iceberg::table::Table;
use iceberg::transaction::{AddColumn, ApplyTransactionAction, Transaction};
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent, TableCreation, TableIdent};
use iceberg_catalog_sql::{SqlBindStyle, SqlCatalogBuilder};
use sluice_core::config::TableConfig;
use sluice_core::drift::ColumnAddition;
use sluice_core::schema::TableSchema;

use sluice_store::ObjectStore;

use crate::error::{LakeError, LakeErrorKind, Result};
use crate::identity::IdentityGuard;
use crate::optimizers::TableOptimizers;
use crate::schema;

/// Name sluice gives its local SQL catalog (the `catalog_name` column in SQLite).
pub const LOCAL_CATALOG_NAME: &str = "sluice";

/// An Iceberg catalog and what sluice does with its tables.
#[derive(Clone)]
pub struct Lake {
    catalog: Arc<dyn Catalog>,
    /// Where new tables' directories go (`<warehouse>/<namespace>/<table>`).
    warehouse: String,
    /// The identity records and ledger the catalog's answers are checked against; `None`
    /// for a bare lake (tests, other engines' checks).
    guard: Option<IdentityGuard>,
    /// The warehouse's bucket, where the data files of a table in an object store are
    /// listed and stat'ed for garbage collection (iceberg's FileIO can do neither); `None`
    /// for a local warehouse, whose files are read from the filesystem.
    data_store: Option<Arc<dyn ObjectStore>>,
    /// The service that manages this catalog's tables (S3 Tables): it chooses a new table's
    /// location, and its own maintenance expires snapshots and deletes unreferenced files,
    /// which sluice then must not do. `None`: sluice places and maintains its tables.
    managed_by: Option<&'static str>,
    /// The catalog's own table optimizers (Glue's), set up for a table when it is created and
    /// by `maintain`, as `[table.glue_optimizers]` asks.
    optimizers: Option<Arc<dyn TableOptimizers>>,
}

/// The columns sluice adds to a table beside its contract's: the lineage columns with
/// `lineage = true`, the `_rescued` column with `incompatible = "rescue"`.
fn own_fields(table: &TableConfig) -> Vec<sluice_core::schema::Field> {
    let mut out = vec![];
    if table.lineage {
        out.extend(sluice_core::schema::lineage_fields());
    }
    if table.drift.incompatible == sluice_core::config::DriftAction::Rescue {
        out.push(sluice_core::schema::rescued_field());
    }
    out
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("warehouse", &self.warehouse)
            .finish()
    }
}

impl Lake {
    /// Opens (creating if needed) the embedded catalog: SQLite at `catalog_db`, data and
    /// metadata files under `warehouse`.
    pub async fn open_local(catalog_db: &Path, warehouse: &Path) -> Result<Lake> {
        std::fs::create_dir_all(warehouse).map_err(|e| {
            LakeError::new(
                LakeErrorKind::Transient,
                format!("creating {}: {e}", warehouse.display()),
            )
        })?;
        if let Some(dir) = catalog_db.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                LakeError::new(
                    LakeErrorKind::Transient,
                    format!("creating {}: {e}", dir.display()),
                )
            })?;
        }
        let warehouse = std::path::absolute(warehouse)
            .map_err(|e| LakeError::internal(format!("resolving {}: {e}", warehouse.display())))?;
        let catalog_db = std::path::absolute(catalog_db)
            .map_err(|e| LakeError::internal(format!("resolving {}: {e}", catalog_db.display())))?;
        // mode=rwc creates the file; WAL lets several processes commit to one catalog.
        let uri = format!("sqlite://{}?mode=rwc", catalog_db.display());
        let props = HashMap::from([
            ("uri".to_string(), uri),
            ("warehouse".to_string(), warehouse.display().to_string()),
            (
                "sql_bind_style".to_string(),
                SqlBindStyle::QMark.to_string(),
            ),
        ]);
        let catalog = SqlCatalogBuilder::default()
            .with_storage_factory(Arc::new(LocalFsStorageFactory))
            .load(LOCAL_CATALOG_NAME, props)
            .await
            .map_err(|e| {
                LakeError::iceberg(format!("opening catalog {}", catalog_db.display()), e)
            })?;
        Ok(Lake {
            catalog: Arc::new(catalog),
            warehouse: warehouse.display().to_string(),
            guard: None,
            data_store: None,
            managed_by: None,
            optimizers: None,
        })
    }

    /// A lake on any Iceberg catalog (Glue on AWS), with new tables under `warehouse`
    /// (`<warehouse>/<namespace>/<table>`).
    pub fn from_catalog(catalog: Arc<dyn Catalog>, warehouse: String) -> Lake {
        Lake {
            catalog,
            warehouse,
            guard: None,
            data_store: None,
            managed_by: None,
            optimizers: None,
        }
    }

    /// The same lake on a catalog whose tables `service` manages (S3 Tables): new tables are
    /// created without a location, for the catalog to choose, and [`Lake::refuse_if_managed`]
    /// stops sluice's expiry and garbage collection, which the service does itself.
    pub fn with_managed_tables(mut self, service: &'static str) -> Lake {
        self.managed_by = Some(service);
        self
    }

    /// The same lake, setting up `optimizers` for each table it creates whose configuration
    /// asks for them.
    pub fn with_optimizers(mut self, optimizers: Arc<dyn TableOptimizers>) -> Lake {
        self.optimizers = Some(optimizers);
        self
    }

    /// The catalog's table optimizers, if it has any.
    pub fn optimizers(&self) -> Option<&Arc<dyn TableOptimizers>> {
        self.optimizers.as_ref()
    }

    /// The service that manages this lake's tables, if one does.
    pub fn managed_by(&self) -> Option<&'static str> {
        self.managed_by
    }

    /// An error naming `table` and why, if its tables are managed by their service: `what`
    /// (snapshot expiry, listing data files for gc) is that service's job there, and the
    /// object storage behind it does not let sluice list or delete table files.
    pub fn refuse_if_managed(&self, table: impl std::fmt::Display, what: &str) -> Result<()> {
        match self.managed_by {
            Some(service) => Err(LakeError::internal(format!(
                "table {table} is in {service}, which expires snapshots and removes \
                 unreferenced files itself: sluice does not run {what} there"
            ))),
            None => Ok(()),
        }
    }

    /// The same lake, listing the data files of tables in an object store through `store`,
    /// the warehouse's bucket (see [`crate::files`]).
    pub fn with_data_store(mut self, store: Arc<dyn ObjectStore>) -> Lake {
        self.data_store = Some(store);
        self
    }

    /// The warehouse's bucket, if the data files of this lake's tables are in one.
    pub(crate) fn data_store(&self) -> Option<&Arc<dyn ObjectStore>> {
        self.data_store.as_ref()
    }

    /// A lake with no catalog, for a process that never touches a table (see
    /// [`crate::no_catalog`]): every call that needs the catalog fails, naming why.
    pub fn without_catalog() -> Lake {
        Lake::from_catalog(
            Arc::new(crate::no_catalog::NoCatalog),
            "(no catalog)".to_string(),
        )
    }

    /// The same lake, its tables guarded by the identity records and ledger kept in `store`
    /// (the bucket's control prefix): see [`crate::identity`].
    pub fn guarded(mut self, store: Arc<dyn ObjectStore>) -> Lake {
        self.guard = Some(IdentityGuard::new(store));
        self
    }

    /// The identity guard, if this lake is guarded.
    pub fn guard(&self) -> Option<&IdentityGuard> {
        self.guard.as_ref()
    }

    /// Where a new table of `table` is created: `<warehouse>/<namespace>/<table>`.
    pub fn location(&self, table: &TableConfig) -> String {
        format!(
            "{}/{}/{}",
            self.warehouse.trim_end_matches('/'),
            table.namespace,
            table.name
        )
    }

    /// The catalog, for callers that need iceberg-rust directly (tests, other engines' checks).
    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    pub fn ident(table: &TableConfig) -> Result<TableIdent> {
        let ns = NamespaceIdent::new(table.namespace.clone());
        Ok(TableIdent::new(ns, table.name.clone()))
    }

    /// Loads the table, or `None` when it does not exist yet. A guarded lake refuses a table
    /// the catalog lost or replaced (an `Internal` error naming the recovery command).
    pub async fn load(&self, table: &TableConfig) -> Result<Option<Table>> {
        let Some(guard) = &self.guard else {
            return self.inspect(table).await;
        };
        // The record first: it is written after each catalog commit, so the catalog read
        // next is at least as new, whatever commits meanwhile.
        let recorded = guard.recorded(table).await?;
        let found = self.inspect(table).await?;
        guard.check_loaded(table, found.as_ref(), recorded).await?;
        Ok(found)
    }

    /// What the catalog answers for the table, unchecked: for `sluice doctor`, which reports
    /// what [`Lake::load`] would refuse.
    pub async fn inspect(&self, table: &TableConfig) -> Result<Option<Table>> {
        let ident = Self::ident(table)?;
        let exists = self
            .catalog
            .table_exists(&ident)
            .await
            .map_err(|e| LakeError::iceberg(format!("looking up table {ident}"), e))?;
        if !exists {
            return Ok(None);
        }
        self.catalog
            .load_table(&ident)
            .await
            .map(Some)
            .map_err(|e| LakeError::iceberg(format!("loading table {ident}"), e))
    }

    /// Loads the table, creating it from the contract's schema on first use. Two processes
    /// creating at once: the loser loads the winner's table. A table with `lineage = true`
    /// has the lineage columns after the contract's; one made before gets them here.
    pub async fn load_or_create(
        &self,
        table: &TableConfig,
        contract: &TableSchema,
    ) -> Result<Table> {
        if let Some(t) = self.load(table).await? {
            return self.with_lineage_columns(table, t).await;
        }
        let with_own;
        let own = own_fields(table);
        let contract = if own.is_empty() {
            contract
        } else {
            with_own = TableSchema {
                fields: contract.fields.iter().cloned().chain(own).collect(),
            };
            &with_own
        };
        let _creating = match &self.guard {
            Some(guard) => {
                let lock = guard.creating().await;
                // Another arrival of this process may have created it while this one waited.
                if let Some(t) = self.load(table).await? {
                    return Ok(t);
                }
                guard.check_creatable(table).await?;
                Some(lock)
            }
            None => None,
        };
        let ident = Self::ident(table)?;
        let ns = ident.namespace().clone();
        let ns_exists = self
            .catalog
            .namespace_exists(&ns)
            .await
            .map_err(|e| LakeError::iceberg(format!("looking up namespace {ns:?}"), e))?;
        if !ns_exists {
            // A racing creator may win; only a still-missing namespace is an error.
            if let Err(e) = self.catalog.create_namespace(&ns, HashMap::new()).await {
                if !self.catalog.namespace_exists(&ns).await.unwrap_or(false) {
                    return Err(LakeError::iceberg(format!("creating namespace {ns:?}"), e));
                }
            }
        }
        let ice_schema = schema::to_iceberg_schema(contract)?;
        let spec = schema::partition_spec(&ice_schema, table.partition.as_ref())?;
        let properties = HashMap::from([
            ("commit.retry.num-retries".to_string(), "0".to_string()),
            ("write.format.default".to_string(), "parquet".to_string()),
            (
                "write.parquet.compression-codec".to_string(),
                "zstd".to_string(),
            ),
            ("sluice.prefix".to_string(), table.prefix.clone()),
        ]);
        // Spelled out because catalogs differ in their default (Glue's is
        // `<warehouse>/<namespace>.db/<table>`), and the deployment grants access by this path;
        // left out where the catalog assigns it (S3 Tables refuses a location of the caller's).
        let location = self.managed_by.is_none().then(|| self.location(table));
        let creation = TableCreation::builder()
            .name(table.name.clone())
            .location_opt(location)
            .schema(ice_schema)
            .partition_spec_opt(spec)
            .properties(properties)
            .build();
        match self.catalog.create_table(&ns, creation).await {
            Ok(t) => {
                tracing::info!(table = %ident, uuid = %t.metadata().uuid(), "table created from contract");
                if let Some(guard) = &self.guard {
                    guard.remember(table, &t).await?;
                }
                self.set_up_optimizers(table).await;
                Ok(t)
            }
            Err(e) => match self.load(table).await? {
                Some(t) => Ok(t),
                None => Err(LakeError::iceberg(format!("creating table {ident}"), e)),
            },
        }
    }

    /// Sets up the new `table`'s optimizers, when the catalog has them and the table asks for
    /// them. A failure does not undo the creation: without optimizers nothing is expired or
    /// deleted, so no row is at risk, and every `maintain` run sets them up again (and fails,
    /// to its alarm, while it cannot).
    async fn set_up_optimizers(&self, table: &TableConfig) {
        let (Some(optimizers), Some(wanted)) = (&self.optimizers, &table.glue_optimizers) else {
            return;
        };
        if !wanted.any() {
            return;
        }
        match optimizers.ensure(table).await {
            Ok(changes) => {
                tracing::info!(table = %table.name, service = optimizers.service(), ?changes, "table optimizers set up")
            }
            Err(e) => tracing::warn!(
                table = %table.name,
                service = optimizers.service(),
                error = %e,
                "the new table's optimizers could not be set up; maintain will try again"
            ),
        }
    }

    /// The table, with the columns sluice writes itself that it lacks added ([`own_fields`]:
    /// the lineage columns with `lineage = true`, `_rescued` with `incompatible = "rescue"`),
    /// in one schema change; a racing writer's identical change is skipped by
    /// [`Lake::add_columns`].
    async fn with_lineage_columns(&self, table_cfg: &TableConfig, table: Table) -> Result<Table> {
        let own = own_fields(table_cfg);
        if own.is_empty() {
            return Ok(table);
        }
        let current = table.metadata().current_schema();
        let missing: Vec<ColumnAddition> = own
            .into_iter()
            .filter(|f| current.field_by_name(&f.name).is_none())
            .map(|field| ColumnAddition {
                parent: None,
                field,
            })
            .collect();
        if missing.is_empty() {
            return Ok(table);
        }
        tracing::info!(table = %table_cfg.name, columns = missing.len(), "lineage or rescue columns added");
        self.add_columns(table_cfg, &missing).await
    }

    /// Adds nullable columns (top level or inside a struct) in one schema change. Columns
    /// that already exist, with the same name at the same place, are skipped, so a re-run
    /// after a crash, or two files evolving the table at once, converge.
    pub async fn add_columns(
        &self,
        table_cfg: &TableConfig,
        additions: &[ColumnAddition],
    ) -> Result<Table> {
        let table = self
            .load(table_cfg)
            .await?
            .ok_or_else(|| LakeError::internal(format!("table {} vanished", table_cfg.name)))?;
        let current = table.metadata().current_schema();
        let mut next_id = 0;
        let tx = Transaction::new(&table);
        let mut action = tx.update_schema();
        let mut added = 0;
        for a in additions {
            let full = match &a.parent {
                Some(p) => format!("{p}.{}", a.field.name),
                None => a.field.name.clone(),
            };
            if current.field_by_name(&full).is_some() || list_element_member_exists(current, a) {
                continue;
            }
            let ty: Type = schema::to_iceberg_type(&a.field.ty, &mut next_id);
            let mut add = AddColumn::optional(&a.field.name, ty);
            if let Some(parent) = &a.parent {
                add = AddColumn::builder()
                    .parent(parent.clone())
                    .name(a.field.name.clone())
                    .field_type(schema::to_iceberg_type(&a.field.ty, &mut next_id))
                    .build();
            }
            action = action.add_column(add);
            added += 1;
        }
        if added == 0 {
            return Ok(table);
        }
        let tx = action
            .apply(tx)
            .map_err(|e| LakeError::iceberg("preparing the schema change", e))?;
        match tx.commit(self.catalog.as_ref()).await {
            Ok(t) => Ok(t),
            Err(e) => Err(self.evolve_error(table_cfg, additions, e).await),
        }
    }

    /// Classifies a failed schema change. When another writer added one of these columns
    /// meanwhile, iceberg's retry of the change refuses the column as existing, which reads
    /// as bad data; it is a lost race, so it becomes `CommitConflict`, and the caller's retry
    /// compares the schemas again and finds nothing (or less) to add.
    async fn evolve_error(
        &self,
        table_cfg: &TableConfig,
        additions: &[ColumnAddition],
        e: iceberg::Error,
    ) -> LakeError {
        let error = LakeError::iceberg(format!("evolving table {}", table_cfg.name), e);
        if error.kind == LakeErrorKind::CommitConflict {
            return error;
        }
        let Ok(Some(now)) = self.load(table_cfg).await else {
            return error;
        };
        let schema = now.metadata().current_schema();
        let raced = additions.iter().any(|a| {
            let full = match &a.parent {
                Some(p) => format!("{p}.{}", a.field.name),
                None => a.field.name.clone(),
            };
            schema.field_by_name(&full).is_some() || list_element_member_exists(schema, a)
        });
        if raced {
            LakeError {
                kind: LakeErrorKind::CommitConflict,
                message: format!(
                    "{}; another writer added the column meanwhile",
                    error.message
                ),
                source: error.source,
            }
        } else {
            error
        }
    }
}

/// For a parent that is a list of structs, iceberg names members `parent.element.name`.
fn list_element_member_exists(schema: &iceberg::spec::Schema, a: &ColumnAddition) -> bool {
    match &a.parent {
        Some(p) => schema
            .field_by_name(&format!("{p}.element.{}", a.field.name))
            .is_some(),
        None => false,
    }
}
