//! Where a local workspace keeps things, opening the steps' context on it, and telling a full
//! disk from the lock errors it shows up as.

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

/// The configuration at `path`; a missing file says how to name another.
pub fn load_config(path: &Path) -> anyhow::Result<Config> {
    match Config::load(path) {
        Err(sluice_core::config::ConfigError::Read { path, source })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            anyhow::bail!(
                "no configuration at {}: pass --config FILE or set SLUICE_CONFIG \
                 (the example's: --config examples/orders/sluice.toml)",
                path.display()
            )
        }
        other => Ok(other?),
    }
}

/// Loads the configuration and opens store, ledger and catalog.
pub async fn open(root: &Path, config_path: &Path) -> anyhow::Result<Context> {
    let config = load_config(config_path)?;
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

/// Below this many free bytes the workspace's file system counts as full.
const FULL_BELOW_BYTES: u64 = 1 << 20;

/// A sentence for an error that happened while the workspace's file system is full (or the
/// error says it ran out of space). SQLite and the run locks report a full disk as "database is
/// locked" or as a run held elsewhere; this names the real cause.
pub fn out_of_space(root: &Path, error: &anyhow::Error) -> Option<String> {
    let said_so = error.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            || e.to_string().contains("disk is full")
    });
    let free = free_bytes(root);
    if !said_so && free.is_none_or(|f| f >= FULL_BELOW_BYTES) {
        return None;
    }
    let free = free
        .map(|f| format!(", {f} bytes free"))
        .unwrap_or_default();
    Some(format!(
        "out of disk space: the file system of the workspace {} is full{free}; free space, then \
         `sluice executions list --status FAILED` and `sluice redrive NAME` (or run the command \
         again)",
        root.display()
    ))
}

/// Bytes an unprivileged writer may still use on the file system holding `path` (or its
/// nearest existing ancestor), if the platform can tell.
#[cfg(target_os = "linux")]
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let c_path = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` a plain struct that
    // statvfs fills; nothing is kept after the call.
    let stat = unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c_path.as_ptr(), &mut stat) != 0 {
            return None;
        }
        stat
    };
    // fsblkcnt_t and c_ulong are u64 here but narrower on some targets.
    #[allow(clippy::useless_conversion)]
    Some(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

#[cfg(not(target_os = "linux"))]
fn free_bytes(_path: &Path) -> Option<u64> {
    None
}
