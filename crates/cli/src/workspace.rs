//! Where a local workspace keeps things, and opening the steps' context on it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use sluice_core::config::Config;
use sluice_lake::Lake;
use sluice_local::Local;
use sluice_steps::Context;
use sluice_store::{LocalStore, ObjectStore};

/// Name of the local landing bucket.
pub const BUCKET: &str = "landing";

pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    pub fn new(root: &Path) -> Self {
        Workspace {
            root: root.to_path_buf(),
        }
    }
    pub fn landing(&self) -> PathBuf {
        self.root.join(BUCKET)
    }
    pub fn warehouse(&self) -> PathBuf {
        self.root.join("warehouse")
    }
    pub fn catalog(&self) -> PathBuf {
        self.root.join("catalog.db")
    }
    /// The engine's execution store: every execution, its status and its history.
    pub fn executions(&self) -> PathBuf {
        self.root.join("executions.db")
    }
    /// Task bindings of `run-asl` state machines, kept so `redrive` can bind them again.
    pub fn bindings(&self) -> PathBuf {
        self.root.join("bindings")
    }
}

/// The steps' context and the engine that runs statemachine/ingest.asl.json over them.
pub async fn local(root: &Path, config_path: &Path) -> anyhow::Result<Local> {
    local_on(root, open(root, config_path).await?).await
}

/// The engine over an already opened context.
pub async fn local_on(root: &Path, ctx: Context) -> anyhow::Result<Local> {
    let ws = Workspace::new(root);
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    Local::open(ctx, &ws.executions())
        .await
        .with_context(|| format!("opening the execution store {}", ws.executions().display()))
}

/// `--threads`, set once at start; every context opened afterwards uses it.
static THREADS: OnceLock<Option<usize>> = OnceLock::new();

/// Records `--threads` (`None`: every available core) for the contexts this process opens.
pub fn set_threads(threads: Option<usize>) {
    let _ = THREADS.set(threads);
}

/// Loads the configuration and opens store, ledger and catalog.
pub async fn open(root: &Path, config_path: &Path) -> anyhow::Result<Context> {
    let config = Config::load(config_path)?;
    let ws = Workspace::new(root);
    let store: Arc<dyn ObjectStore> = Arc::new(
        LocalStore::new(ws.landing(), BUCKET)
            .with_context(|| format!("opening the landing bucket {}", ws.landing().display()))?,
    );
    let lake = Lake::open_local(&ws.catalog(), &ws.warehouse())
        .await
        .with_context(|| format!("opening the catalog {}", ws.catalog().display()))?;
    let ctx = Context::new(config, store, lake)?;
    Ok(match THREADS.get().copied().flatten() {
        Some(n) => ctx.with_threads(n),
        None => ctx,
    })
}
