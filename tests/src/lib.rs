//! Test harness for sluice's end-to-end scenarios: a fresh workspace in a temp directory
//! (landing bucket, SQLite catalog, warehouse) with the orders example's configuration, and
//! helpers that land files, run each arrival as an execution of statemachine/ingest.asl.json
//! on sluice's engine, and read the table back through an Iceberg scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sluice_core::config::Config;
use sluice_lake::Lake;
use sluice_local::{ArrivalReport, Local};
use sluice_steps::payload::Arrival;
use sluice_steps::Context;
use sluice_store::{LocalStore, ObjectStore};

pub mod chaos;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The orders example's directory.
pub fn orders_example() -> PathBuf {
    repo().join("examples/orders")
}

/// The example data files, in name order.
pub fn orders_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(orders_example().join("data"))
        .expect("examples/orders/data")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
}

/// A sluice.toml text parsed as the harness does: contract paths resolve against
/// examples/orders.
pub fn parse_config(text: &str) -> Config {
    Config::parse(text, Path::new("sluice.toml"), orders_example()).unwrap()
}

/// The steps' context over a workspace laid out as `sluice --workspace` lays it out: the
/// bucket "landing" in `landing/`, the SQLite catalog `catalog.db`, the `warehouse/`.
pub async fn open_context(root: &Path, config: Config) -> Context {
    let store: Arc<dyn ObjectStore> =
        Arc::new(LocalStore::new(root.join("landing"), "landing").unwrap());
    let lake = Lake::open_local(&root.join("catalog.db"), &root.join("warehouse"))
        .await
        .unwrap();
    Context::new(config, store, lake).unwrap()
}

/// A fresh workspace: its directory, the steps' context and the local engine over it.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub ctx: Context,
    pub local: Local,
}

impl Harness {
    /// A fresh workspace with the orders example's configuration.
    pub async fn orders() -> Harness {
        Self::with_config_text(
            &std::fs::read_to_string(orders_example().join("sluice.toml")).unwrap(),
        )
        .await
    }

    /// The orders example's configuration with top-level `settings` (e.g. `[ledger]` or
    /// `[commit]` sections) before its tables.
    pub async fn orders_with(settings: &str) -> Harness {
        let text = std::fs::read_to_string(orders_example().join("sluice.toml")).unwrap();
        Self::with_config_text(&format!("{settings}\n\n{text}")).await
    }

    /// A fresh workspace with this sluice.toml text; contract paths resolve against
    /// examples/orders.
    pub async fn with_config_text(text: &str) -> Harness {
        Self::with_config(parse_config(text)).await
    }

    /// A fresh workspace with this parsed configuration (parse once, open many).
    pub async fn with_config(config: Config) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let ctx = open_context(dir.path(), config).await;
        let local = Local::open(ctx.clone(), &dir.path().join("executions.db"))
            .await
            .unwrap();
        Harness { dir, ctx, local }
    }

    /// The same workspace (bucket, catalog, ledger, executions) under another sluice.toml
    /// text: what an operator does when fixing a contract or a policy before a replay.
    pub async fn reconfigure(&mut self, text: &str) {
        self.ctx = open_context(self.dir.path(), parse_config(text)).await;
        self.local = Local::open(self.ctx.clone(), &self.dir.path().join("executions.db"))
            .await
            .unwrap();
    }

    /// Lands a local file under the first table's prefix and runs the arrival.
    pub async fn ingest(&self, path: &Path) -> ArrivalReport {
        let name = path.file_name().unwrap().to_str().unwrap();
        let key = format!("{}{name}", self.ctx.config.tables[0].prefix);
        let meta = self.ctx.store.put_file(&key, path).await.unwrap();
        self.arrive(&key, &meta.etag).await
    }

    /// Lands bytes under the first table's prefix and runs the arrival.
    pub async fn ingest_bytes(&self, name: &str, bytes: impl Into<Vec<u8>>) -> ArrivalReport {
        let key = format!("{}{name}", self.ctx.config.tables[0].prefix);
        let meta = self.ctx.store.put(&key, bytes.into().into()).await.unwrap();
        self.arrive(&key, &meta.etag).await
    }

    /// Runs an arrival event for an object already in the bucket.
    pub async fn arrive(&self, key: &str, etag: &str) -> ArrivalReport {
        self.local.ingest(&self.arrival(key, etag)).await.unwrap()
    }

    /// The arrival event of an object in the bucket.
    pub fn arrival(&self, key: &str, etag: &str) -> Arrival {
        Arrival {
            bucket: "landing".into(),
            key: key.into(),
            version_id: None,
            etag: Some(etag.into()),
            sequencer: None,
            event: Default::default(),
            time: None,
        }
    }

    /// Every row of the first table, through an Iceberg scan.
    pub async fn rows(&self) -> Vec<Value> {
        self.ctx
            .lake
            .scan_json(&self.ctx.config.tables[0])
            .await
            .unwrap()
    }

    /// Snapshots of the first table.
    pub async fn snapshots(&self) -> usize {
        match self
            .ctx
            .lake
            .describe(&self.ctx.config.tables[0])
            .await
            .unwrap()
        {
            Some(d) => d.snapshots.len(),
            None => 0,
        }
    }

    /// A rejected-rows object, parsed.
    pub async fn rejects(&self, key: &str) -> Vec<Value> {
        let (bytes, _) = self
            .ctx
            .store
            .get_bytes(key)
            .await
            .unwrap()
            .expect("rejects object");
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A valid orders row with `order_id` = `id` on 2026-03-01.
pub fn order(id: u64) -> Value {
    serde_json::json!({
        "order_id": id,
        "ordered_at": "2026-03-01T10:00:00Z",
        "customer_email": format!("c{id}@example.com"),
        "status": "paid",
        "quantity": 2,
        "amount": 19.5
    })
}

/// NDJSON text of rows.
pub fn ndjson(rows: impl IntoIterator<Item = Value>) -> String {
    rows.into_iter().map(|r| format!("{r}\n")).collect()
}
