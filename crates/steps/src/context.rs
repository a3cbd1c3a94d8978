//! [`Context`]: what every step needs, built once per process (a Lambda's init, the CLI's
//! start) and shared by every invocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow_schema::SchemaRef;
use sluice_core::config::{Config, TableConfig};
use sluice_core::contract::Contract;
use sluice_core::schema::TableSchema;
use sluice_core::ObjectVersion;
use sluice_lake::decode::Plan;
use sluice_lake::Lake;
use sluice_store::{Ledger, ObjectStore};

use crate::error::StepError;
use crate::flow::Flow;

/// Progress of a long step, for a terminal progress bar.
pub type ProgressFn = Arc<dyn Fn(&ObjectVersion, Progress) + Send + Sync>;

/// One progress report.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Validation started on an object of `size` (compressed) bytes.
    Started {
        size: u64,
    },
    /// `bytes` compressed bytes of the object have been read so far.
    Read {
        bytes: u64,
    },
    Finished,
}

/// Shared, read-only state of the steps.
#[derive(Clone)]
pub struct Context {
    pub config: Arc<Config>,
    pub store: Arc<dyn ObjectStore>,
    pub ledger: Ledger,
    /// The lake, guarded by the identity records kept in `store` (see sluice-lake's
    /// `identity` module).
    pub lake: Lake,
    /// Compiled contracts by table name, loaded at start so a broken contract fails fast.
    contracts: Arc<HashMap<String, Arc<Contract>>>,
    /// Each table's contract compiled for the columns its rows were last decoded to: compiled
    /// once, not per file (it compiles a regex per `pattern`).
    plans: Arc<Mutex<HashMap<String, Arc<Plan>>>>,
    /// The recorded version of each table's contract by (table, fingerprint), once this
    /// process has recorded or found it ([`crate::contracts`]).
    versions: Arc<Mutex<HashMap<(String, String), u32>>>,
    /// Rows converted and written per Arrow batch. Bounds memory with the channel depth.
    pub rows_per_batch: usize,
    /// Threads one validation may keep busy at once: 1 makes the reading and the writing side
    /// take turns on one core; 2 or more lets them run at once. Defaults to the cores
    /// available.
    pub threads: usize,
    pub progress: Option<ProgressFn>,
    /// This process's arrivals in flight, staged batches and commit turns, shared by every
    /// clone of the context.
    pub flow: Arc<Flow>,
}

/// Why a context could not be built: a contract that does not load or fit its table.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("table {table}: {source}")]
    Contract {
        table: String,
        source: sluice_core::contract::ContractError,
    },
    #[error("table {table}: key `partition.field`: {message}")]
    Partition { table: String, message: String },
    /// A `compaction.sort` column the contract does not have at its top level.
    #[error("table {table}: key `compaction.sort`: {column:?} is not a top-level property of the contract")]
    CompactionSort { table: String, column: String },
    /// The contract's schema breaks a `[limits]` rule (nesting deeper than the table's own
    /// metadata could be read back with).
    #[error("table {table}: contract {path}: {message}")]
    ContractLimit {
        table: String,
        path: String,
        message: String,
    },
    /// With `lineage = true`, a contract property named like a lineage column: sluice writes
    /// those columns itself.
    #[error("table {table}: key `lineage`: the contract has a property {column:?}, a lineage column sluice writes itself; rename it or set lineage = false")]
    LineageColumn { table: String, column: String },
}

impl Context {
    pub fn new(
        config: Config,
        store: Arc<dyn ObjectStore>,
        lake: Lake,
    ) -> Result<Self, ContextError> {
        let mut contracts = HashMap::new();
        for t in &config.tables {
            let contract = Contract::load(&config.contract_path(t)).map_err(|source| {
                ContextError::Contract {
                    table: t.name.clone(),
                    source,
                }
            })?;
            sluice_core::evolution::check_depth(&contract.table_schema, &config.limits).map_err(
                |message| ContextError::ContractLimit {
                    table: t.name.clone(),
                    path: config.contract_path(t).display().to_string(),
                    message,
                },
            )?;
            if let Some(p) = &t.partition {
                match contract.table_schema.field(&p.field) {
                    Some(f) if f.required => {}
                    Some(_) => {
                        return Err(ContextError::Partition {
                            table: t.name.clone(),
                            message: format!(
                                "{:?} must be a required property of the contract",
                                p.field
                            ),
                        })
                    }
                    None => {
                        return Err(ContextError::Partition {
                            table: t.name.clone(),
                            message: format!("{:?} is not a property of the contract", p.field),
                        })
                    }
                }
            }
            if let Some(column) = t
                .compaction
                .sort
                .iter()
                .find(|c| contract.table_schema.field(c).is_none())
            {
                return Err(ContextError::CompactionSort {
                    table: t.name.clone(),
                    column: column.clone(),
                });
            }
            if t.lineage {
                if let Some(f) = contract
                    .table_schema
                    .fields
                    .iter()
                    .find(|f| sluice_core::schema::is_lineage_column(&f.name))
                {
                    return Err(ContextError::LineageColumn {
                        table: t.name.clone(),
                        column: f.name.clone(),
                    });
                }
            }
            contracts.insert(t.name.clone(), Arc::new(contract));
        }
        Ok(Context {
            config: Arc::new(config),
            ledger: Ledger::new(store.clone()),
            // Every table the steps touch is checked against its identity record beside this
            // ledger, so a catalog that lost a table is refused, not silently restarted.
            lake: lake.guarded(store.clone()),
            store,
            contracts: Arc::new(contracts),
            plans: Arc::default(),
            versions: Arc::default(),
            rows_per_batch: 8192,
            threads: available_cores(),
            progress: None,
            flow: Arc::new(Flow::default()),
        })
    }

    /// The same context, its steps using at most `threads` cores (at least one).
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// The same context, reading at most `jobs` files at once (drift's sample, validation; at
    /// least one). Arrivals waiting for their commit hold no slot.
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.flow = Arc::new(Flow::new(jobs));
        self
    }

    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn table(&self, name: &str) -> Result<&TableConfig, StepError> {
        self.config.table(name).ok_or_else(|| {
            StepError::internal(format!("table {name:?} is not in the configuration"))
        })
    }

    pub fn contract(&self, table: &str) -> Result<Arc<Contract>, StepError> {
        self.contracts
            .get(table)
            .cloned()
            .ok_or_else(|| StepError::internal(format!("no contract loaded for table {table:?}")))
    }

    /// Refuses `table`'s contract when it contradicts the table's current columns `current`
    /// ([`sluice_core::contract::table_conflicts`]): every file it judged would be quarantined
    /// for the contract's fault, or valid under it and unable to land. `Internal`: the
    /// execution stops before the file is judged, and is redriven once the contract is fixed.
    pub fn check_contract_fits(
        &self,
        table: &TableConfig,
        current: &TableSchema,
    ) -> Result<(), StepError> {
        let contract = self.contract(&table.name)?;
        let conflicts = sluice_core::contract::table_conflicts(&contract.table_schema, current);
        if conflicts.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = conflicts.iter().map(ToString::to_string).collect();
        Err(StepError::internal(format!(
            "the contract {} contradicts table {}.{}, so no file is judged by it: {}. Put the \
             contract back, or change the table first (a new field is an addition the drift \
             policy can evolve; a changed type or requirement is not)",
            table.contract.display(),
            table.namespace,
            table.name,
            listed.join("; ")
        )))
    }

    /// The contract `table` judges files under: the configured one with its approved drift
    /// additions ([`crate::contracts::effective`]).
    pub async fn effective_contract(
        &self,
        table: &TableConfig,
    ) -> Result<crate::contracts::ContractVersion, StepError> {
        let contract = self.contract(&table.name)?;
        let decisions = crate::drift_decisions::load(self.store.as_ref(), table).await?;
        Ok(crate::contracts::effective(table, &contract, &decisions))
    }

    /// The version of `table`'s contract ([`Self::effective_contract`]): recorded as the
    /// newest one when it differs from it, after the compatibility check
    /// ([`crate::contracts::record`]); each contract once per process.
    pub async fn contract_version(&self, table: &TableConfig) -> Result<u32, StepError> {
        let wanted = self.effective_contract(table).await?;
        if let Some(version) = self.known_version(table, &wanted.sha256) {
            return Ok(version);
        }
        let recorded = crate::contracts::record(self.store.as_ref(), table, &wanted).await?;
        Ok(self.know_version(table, &wanted.sha256, recorded.version))
    }

    /// The recorded version the contract `table` judges under is, looked up once per process
    /// and contract and never recorded here (DetectDrift records it before any file is
    /// judged): what the ledger and a quarantine record name. `None` when it is not recorded
    /// or cannot be read (the record is informative; a file is not failed for it).
    pub async fn judged_under(&self, table: &TableConfig) -> Option<u32> {
        let wanted = match self.effective_contract(table).await {
            Ok(wanted) => wanted,
            Err(e) => {
                tracing::warn!(table = %table.name, error = %e, "the contract judged under not known");
                return None;
            }
        };
        if let Some(version) = self.known_version(table, &wanted.sha256) {
            return Some(version);
        }
        let found = match crate::contracts::versions(self.store.as_ref(), table).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(table = %table.name, error = %e, "contract versions not read");
                return None;
            }
        };
        let version = found
            .iter()
            .rev()
            .find(|v| v.sha256 == wanted.sha256)?
            .version;
        Some(self.know_version(table, &wanted.sha256, version))
    }

    fn known_version(&self, table: &TableConfig, sha256: &str) -> Option<u32> {
        let versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        versions
            .get(&(table.name.clone(), sha256.to_string()))
            .copied()
    }

    fn know_version(&self, table: &TableConfig, sha256: &str, version: u32) -> u32 {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        versions.insert((table.name.clone(), sha256.to_string()), version);
        version
    }

    /// The plan that decodes `table`'s rows into columns `schema` (the table's, lineage left
    /// out), compiled from its contract once per schema; `None` when the contract has none.
    pub(crate) fn plan(&self, table: &str, schema: &SchemaRef) -> Option<Arc<Plan>> {
        let mut plans = self.plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(plan) = plans.get(table) {
            if plan.schema() == schema {
                return Some(plan.clone());
            }
        }
        let contract = self.contracts.get(table)?;
        match Plan::compile(&contract.schema_json, schema.clone()) {
            Ok(plan) => {
                let plan = Arc::new(plan);
                plans.insert(table.to_string(), plan.clone());
                Some(plan)
            }
            Err(why) => {
                tracing::debug!(table, why, "rows take the value-based path");
                None
            }
        }
    }

    pub(crate) fn report(&self, object: &ObjectVersion, p: Progress) {
        if let Some(f) = &self.progress {
            f(object, p);
        }
    }
}

/// Cores this process may use (its CPU affinity on Linux); 1 if that cannot be known.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Now, RFC 3339 UTC, as ledger records and quarantine records store it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Control-prefix keys of the objects steps write (the ledger's own are in crates/store).
/// The control keys the steps write, as `sluice_core::layout` builds them (one map of the
/// control prefix for the steps, the stores and the CDK app's IAM).
pub mod keys {
    pub use sluice_core::layout::{
        manifest, quarantine, quarantine_prefix, quarantined_event, rejects, staged_prefix,
        watermark,
    };
}
